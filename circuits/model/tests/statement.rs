//! The reference rule on hand-computed cases, and every canonical-form rule on a failing input.

use zkattr_model::io::{read_csv_pair, read_epoch_json, write_csv_pair, write_epoch_json};
use zkattr_model::synth::{generate, SynthConfig};
use zkattr_model::types::{FEE_BOUND, SLOTS};
use zkattr_model::{
    Epoch, EpochParams, InputError, Payout, Query, QueryRule, QueryShares, Settlement, Slot,
    StatementError,
};

fn slot(adapter_id: u32, gate: u16, score: i32) -> Slot {
    Slot {
        adapter_id,
        gate,
        score,
    }
}

fn query(query_id: u64, fee: u64, used: &[Slot]) -> Query {
    let mut slots = [Slot::UNUSED; SLOTS];
    slots[..used.len()].copy_from_slice(used);
    Query {
        query_id,
        fee,
        slots,
    }
}

fn params(rate_bps: u16) -> EpochParams {
    EpochParams {
        epoch_id: 7,
        rate_bps,
    }
}

#[test]
fn rule_matches_hand_computation() {
    // pool = floor(1_000_003 * 2500 / 10000) = 250_000 (remainder 7500).
    // w = [100*3, 0 (negative), 200*5] = [300, 0, 1000]; W = 1300.
    // shares: floor(250000*300/1300) = 57692, 0, floor(250000*1000/1300) = 192307.
    let q = query(
        1,
        1_000_003,
        &[slot(2, 100, 3), slot(5, 7, -9), slot(8, 200, 5)],
    );
    let s = QueryShares::compute(&q, 2500);
    assert_eq!(s.pool, 250_000);
    assert_eq!(s.pool_remainder, 7_500);
    assert_eq!(&s.weights[..3], &[300, 0, 1000]);
    assert_eq!(s.total_weight, 1300);
    assert_eq!(&s.shares[..3], &[57_692, 0, 192_307]);
    assert_eq!(s.share_remainders[0], 250_000 * 300 - 57_692 * 1300);
    assert_eq!(s.residual, 1);
}

#[test]
fn epoch_totals_sum_per_adapter() {
    let epoch = Epoch::new(
        params(10_000),
        vec![
            query(1, 100, &[slot(4, 1, 1), slot(9, 1, 1)]),
            query(2, 30, &[slot(4, 1, 1), slot(6, 2, 1)]),
            query(3, 50, &[]),
            query(4, 10, &[slot(6, 5, -1)]),
        ],
    )
    .unwrap();
    let s = Settlement::compute(&epoch).unwrap();
    assert_eq!(
        s.payouts,
        vec![
            Payout {
                adapter_id: 4,
                amount: 50 + 10
            },
            Payout {
                adapter_id: 6,
                amount: 20
            },
            Payout {
                adapter_id: 9,
                amount: 50
            },
        ]
    );
    assert_eq!(s.total_pool, 190);
    assert_eq!(s.total_paid, 130);
    // Query 3 has no slot and query 4 only a negative score: their pools go to the treasury.
    assert_eq!(s.treasury, 60);
}

#[test]
fn extreme_values_do_not_overflow() {
    let q = query(
        u64::MAX,
        FEE_BOUND - 1,
        &(1..=8)
            .map(|a| slot(u32::MAX - 8 + a, u16::MAX, i32::MAX))
            .collect::<Vec<_>>(),
    );
    let s = QueryShares::compute(&q, 10_000);
    assert_eq!(s.pool, FEE_BOUND - 1);
    assert_eq!(s.weights[0], 65_535 * (i32::MAX as u64));
    assert!(s.total_weight < 1 << 50);
    assert_eq!(s.shares.iter().sum::<u64>() + s.residual, s.pool);
}

#[test]
fn total_pool_beyond_u64_is_rejected() {
    let queries: Vec<Query> = (0..70_000).map(|i| query(i, FEE_BOUND - 1, &[])).collect();
    let epoch = Epoch::new(params(10_000), queries).unwrap();
    assert!(matches!(
        Settlement::compute(&epoch),
        Err(StatementError::TotalPoolOverflow(_))
    ));
}

fn rule_of(result: Result<Epoch, StatementError>) -> QueryRule {
    match result {
        Err(StatementError::Query { rule, .. }) => rule,
        other => panic!("expected a query rule error, got {other:?}"),
    }
}

#[test]
fn every_canonical_rule_is_enforced() {
    let p = params(100);
    assert_eq!(
        Epoch::new(params(10_001), vec![]),
        Err(StatementError::RateOutOfRange(10_001))
    );
    assert_eq!(
        rule_of(Epoch::new(p, vec![query(1, FEE_BOUND, &[])])),
        QueryRule::FeeTooLarge { fee: FEE_BOUND }
    );
    assert_eq!(
        rule_of(Epoch::new(p, vec![query(2, 1, &[]), query(2, 1, &[])])),
        QueryRule::NotIncreasing { previous: 2 }
    );
    assert_eq!(
        rule_of(Epoch::new(p, vec![query(3, 1, &[]), query(2, 1, &[])])),
        QueryRule::NotIncreasing { previous: 3 }
    );
    assert_eq!(
        rule_of(Epoch::new(
            p,
            vec![query(1, 1, &[slot(5, 1, 1), slot(5, 1, 1)])]
        )),
        QueryRule::SlotsNotIncreasing {
            slot: 1,
            previous: 5,
            adapter: 5
        }
    );
    assert_eq!(
        rule_of(Epoch::new(
            p,
            vec![query(1, 1, &[slot(6, 1, 1), slot(5, 1, 1)])]
        )),
        QueryRule::SlotsNotIncreasing {
            slot: 1,
            previous: 6,
            adapter: 5
        }
    );
    let mut gap = query(1, 1, &[slot(6, 1, 1)]);
    gap.slots.swap(0, 1);
    assert_eq!(
        rule_of(Epoch::new(p, vec![gap])),
        QueryRule::UsedAfterUnused {
            slot: 1,
            adapter: 6
        }
    );
    let mut dirty = query(1, 1, &[]);
    dirty.slots[3].gate = 9;
    assert_eq!(
        rule_of(Epoch::new(p, vec![dirty])),
        QueryRule::UnusedSlotNotZero {
            slot: 3,
            gate: 9,
            score: 0
        }
    );
    dirty.slots[3] = slot(0, 0, -1);
    assert_eq!(
        rule_of(Epoch::new(p, vec![dirty])),
        QueryRule::UnusedSlotNotZero {
            slot: 3,
            gate: 0,
            score: -1
        }
    );
}

#[test]
fn errors_name_the_query_and_the_rule() {
    let err = Epoch::new(
        params(100),
        vec![
            query(10, 1, &[]),
            query(11, 1, &[slot(9, 1, 1), slot(3, 1, 1)]),
        ],
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("query 11 (record 1): "), "{text}");
    assert!(text.contains("canonical form"), "{text}");
}

fn json_error(text: &str) -> String {
    match read_epoch_json(text.as_bytes()) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("accepted {text}"),
    }
}

#[test]
fn json_errors_point_at_the_field() {
    let base = r#"{"epoch_id": 7, "rate_bps": 2500, "queries": [{"query_id": 1, "fee": 5, "slots": [{"adapter_id": 3, "gate": GATE, "score": 1}]}]}"#;
    let e = json_error(&base.replace("GATE", "70000"));
    assert!(e.contains("queries[0].slots[0].gate"), "{e}");
    assert!(json_error("{").contains("malformed epoch JSON"));
    let e = json_error(r#"{"epoch_id": 7, "rate_bps": 2500, "queries": [], "extra": 1}"#);
    assert!(e.contains("unknown field"), "{e}");
    let e = json_error(r#"{"epoch_id": 7, "rate_bps": 2500, "queries": []} trailing"#);
    assert!(e.contains("malformed"), "{e}");
    let nine: Vec<String> = (1..=9)
        .map(|a| format!(r#"{{"adapter_id": {a}, "gate": 1, "score": 1}}"#))
        .collect();
    let e = json_error(&format!(
        r#"{{"epoch_id": 7, "rate_bps": 2500, "queries": [{{"query_id": 4, "fee": 5, "slots": [{}]}}]}}"#,
        nine.join(",")
    ));
    assert!(e.contains("query 4") && e.contains("9 slots"), "{e}");
    let e = json_error(
        r#"{"epoch_id": 7, "rate_bps": 2500, "queries": [{"query_id": 4, "fee": 5, "slots": [{"adapter_id": 0, "gate": 1, "score": 1}]}]}"#,
    );
    assert!(e.contains("adapter_id 0"), "{e}");
}

#[test]
fn json_and_csv_round_trip() {
    let epoch = generate(&SynthConfig::new(300, 40, 3));
    let mut json = Vec::new();
    write_epoch_json(&epoch, &mut json).unwrap();
    assert_eq!(read_epoch_json(json.as_slice()).unwrap(), epoch);
    let (mut act, mut inf) = (Vec::new(), Vec::new());
    write_csv_pair(&epoch, &mut act, &mut inf).unwrap();
    assert_eq!(
        read_csv_pair(epoch.params, act.as_slice(), inf.as_slice()).unwrap(),
        epoch
    );
}

fn csv_error(act: &str, inf: &str) -> String {
    match read_csv_pair(params(100), act.as_bytes(), inf.as_bytes()) {
        Err(e) => e.to_string(),
        Ok(e) => panic!("accepted {e:?}"),
    }
}

const ACT: &str = "query_id,fee,adapter_id,gate\n";
const INF: &str = "query_id,adapter_id,score\n";

#[test]
fn csv_errors_name_file_line_and_rule() {
    // The influence log names another adapter for the query (SPEC case 5).
    let e = csv_error(&format!("{ACT}1,10,3,5\n"), &format!("{INF}1,4,7\n"));
    assert!(e.contains("query 1") && e.contains("differ"), "{e}");
    // A score row for a query the activation log lacks.
    let e = csv_error(&format!("{ACT}2,10,3,5\n"), &format!("{INF}1,3,7\n2,3,7\n"));
    assert!(e.starts_with("influence.csv line 2"), "{e}");
    let e = csv_error(&format!("{ACT}1,10,3,5\n"), &format!("{INF}1,3,7\n5,3,7\n"));
    assert!(
        e.contains("influence.csv line 3") && e.contains("query 5"),
        "{e}"
    );
    // Out-of-range gate, with line and column.
    let e = csv_error(&format!("{ACT}1,10,3,5\n1,10,4,65536\n"), INF);
    assert!(
        e.starts_with("activations.csv line 3") && e.contains("gate"),
        "{e}"
    );
    // Fee differs between rows of one query.
    let e = csv_error(
        &format!("{ACT}1,10,3,5\n1,11,4,5\n"),
        &format!("{INF}1,3,1\n1,4,1\n"),
    );
    assert!(e.contains("line 3") && e.contains("fee 11"), "{e}");
    // Unsorted adapters within a query.
    let e = csv_error(
        &format!("{ACT}1,10,4,5\n1,10,3,5\n"),
        &format!("{INF}1,4,1\n1,3,1\n"),
    );
    assert!(e.contains("canonical form"), "{e}");
    // Unsorted queries.
    let e = csv_error(&format!("{ACT}2,10,,\n1,10,,\n"), INF);
    assert!(
        e.contains("query 1") && e.contains("strictly increasing"),
        "{e}"
    );
    // Wrong header.
    let e = csv_error("query,fee,adapter,gate\n", INF);
    assert!(e.starts_with("activations.csv: header"), "{e}");
    // No-slot marker mixed with used slots.
    let e = csv_error(
        &format!("{ACT}1,10,,\n1,10,3,5\n"),
        &format!("{INF}1,3,1\n"),
    );
    assert!(e.contains("line 2") || e.contains("line 3"), "{e}");
}

#[test]
fn csv_query_without_slots_reads_back() {
    let epoch = read_csv_pair(
        params(100),
        format!("{ACT}1,10,,\n2,20,0,0\n3,30,9,1\n").as_bytes(),
        format!("{INF}3,9,-4\n").as_bytes(),
    )
    .unwrap();
    assert_eq!(epoch.queries.len(), 3);
    assert_eq!(epoch.queries[0].used_count(), 0);
    assert_eq!(epoch.queries[1].used_count(), 0);
    assert_eq!(epoch.queries[2].slots[0], slot(9, 1, -4));
}

#[test]
fn synthetic_epochs_are_deterministic_and_valid() {
    let a = generate(&SynthConfig::new(2000, 500, 42));
    let b = generate(&SynthConfig::new(2000, 500, 42));
    let c = generate(&SynthConfig::new(2000, 500, 43));
    assert_eq!(a, b);
    assert_ne!(a, c);
    a.validate().unwrap();
    let used: usize = a.queries.iter().map(Query::used_count).sum();
    let mean = used as f64 / a.queries.len() as f64;
    assert!((1.5..4.0).contains(&mean), "mean activated adapters {mean}");
    let negatives = a
        .queries
        .iter()
        .flat_map(|q| q.used_slots())
        .filter(|s| s.score < 0)
        .count();
    assert!(negatives > used / 10 && negatives < used / 3);
    // Zipf: adapter 1 is activated far more often than adapter 100.
    let count = |id| {
        a.queries
            .iter()
            .flat_map(|q| q.used_slots())
            .filter(|s| s.adapter_id == id)
            .count()
    };
    assert!(
        count(1) > 10 * count(100).max(1),
        "{} vs {}",
        count(1),
        count(100)
    );
    // Few adapters: never more distinct slots than adapters.
    generate(&SynthConfig::new(500, 2, 1)).validate().unwrap();
}

#[test]
fn input_error_is_typed() {
    let err = read_epoch_json(&b"{\"epoch_id\": 1, \"rate_bps\": 70000, \"queries\": []}"[..]);
    assert!(matches!(err, Err(InputError::Json { .. })), "{err:?}");
    let err = read_epoch_json(&b"{\"epoch_id\": 1, \"rate_bps\": 10001, \"queries\": []}"[..]);
    assert!(matches!(
        err,
        Err(InputError::Statement(StatementError::RateOutOfRange(10001)))
    ));
}
