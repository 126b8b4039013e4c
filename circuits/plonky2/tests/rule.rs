//! The in-circuit rule equals the reference rule, and every rule-level case of SPEC's "what a
//! proof must rule out" is rejected in a real plonky2 proof. The harness is built without zero
//! knowledge: blinding only adds random no-op rows and cannot change what the constraints accept
//! (`tests/statement.rs` proves the published, blinded configuration).

use plonky2::field::types::Field;
use plonky2::iop::target::Target;
use plonky2::iop::witness::{PartialWitness, WitnessWrite};
use plonky2::plonk::circuit_builder::CircuitBuilder;
use plonky2::plonk::circuit_data::{CircuitConfig, CircuitData};
use plonky2::plonk::config::PoseidonGoldilocksConfig;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;
use zkattr_model::synth::{generate, SynthConfig};
use zkattr_model::types::{Query, Slot, FEE_BOUND, SLOTS};
use zkattr_model::QueryShares;
use zkattr_plonky2::gadgets::QueryTargets;
use zkattr_plonky2::native::F;
use zkattr_plonky2::rule::{check_rate, query_rule, QueryRuleTargets};

const D: usize = 2;
type C = PoseidonGoldilocksConfig;
const QUERIES: usize = 4;

struct RuleCircuit {
    data: CircuitData<F, C, D>,
    rate: Target,
    queries: Vec<(QueryTargets, QueryRuleTargets)>,
}

/// Public inputs: rate, then per query its pool, residual and eight shares.
fn circuit() -> &'static RuleCircuit {
    static CIRCUIT: OnceLock<RuleCircuit> = OnceLock::new();
    CIRCUIT.get_or_init(|| {
        let mut b = CircuitBuilder::<F, D>::new(CircuitConfig::standard_recursion_config());
        let rate = b.add_virtual_target();
        check_rate(&mut b, rate);
        b.register_public_input(rate);
        let queries: Vec<_> = (0..QUERIES)
            .map(|_| {
                let q = QueryTargets::new(&mut b);
                let r = query_rule(&mut b, &q, rate);
                b.register_public_input(r.pool);
                b.register_public_input(r.residual);
                b.register_public_inputs(&r.share);
                (q, r)
            })
            .collect();
        RuleCircuit {
            data: b.build::<C>(),
            rate,
            queries,
        }
    })
}

fn empty() -> Query {
    Query {
        query_id: 0,
        fee: 0,
        slots: [Slot::UNUSED; SLOTS],
    }
}

/// The witness for `queries` (padded with empty ones), each with the reference rule's values.
fn witness(rate: u16, queries: &[Query]) -> PartialWitness<F> {
    let c = circuit();
    let mut pw = PartialWitness::new();
    pw.set_target(c.rate, F::from_canonical_u16(rate)).unwrap();
    for (i, (qt, rt)) in c.queries.iter().enumerate() {
        let q = queries.get(i).copied().unwrap_or_else(empty);
        qt.set(&mut pw, &q).unwrap();
        rt.set(&mut pw, &q, &QueryShares::compute(&q, rate))
            .unwrap();
    }
    pw
}

fn expected(rate: u16, queries: &[Query]) -> Vec<F> {
    let mut out = vec![F::from_canonical_u16(rate)];
    for i in 0..QUERIES {
        let q = queries.get(i).copied().unwrap_or_else(empty);
        let s = QueryShares::compute(&q, rate);
        out.push(F::from_canonical_u64(s.pool));
        out.push(F::from_canonical_u64(s.residual));
        out.extend(s.shares.map(F::from_canonical_u64));
    }
    out
}

/// Proves and verifies; `false` when the prover refuses (error or panic) or the proof fails.
fn accepted(pw: PartialWitness<F>) -> bool {
    let c = circuit();
    catch_unwind(AssertUnwindSafe(|| {
        c.data
            .prove(pw)
            .ok()
            .is_some_and(|proof| c.data.verify(proof).is_ok())
    }))
    .unwrap_or(false)
}

fn with(mut pw: PartialWitness<F>, overrides: &[(Target, F)]) -> PartialWitness<F> {
    for (t, v) in overrides {
        pw.target_values.insert(*t, *v);
    }
    pw
}

fn slot(adapter_id: u32, gate: u16, score: i32) -> Slot {
    Slot {
        adapter_id,
        gate,
        score,
    }
}

fn query(fee: u64, used: &[Slot]) -> Query {
    let mut q = empty();
    q.query_id = 1;
    q.fee = fee;
    q.slots[..used.len()].copy_from_slice(used);
    q
}

/// A query with a positive and a negative slot and a rounding remainder.
fn sample() -> Query {
    query(
        1_000_003,
        &[slot(2, 100, 3), slot(5, 7, -9), slot(8, 200, 5)],
    )
}

#[test]
fn rule_matches_the_reference() {
    let c = circuit();
    let extreme: Vec<Slot> = (1..=8).map(|a| slot(a, u16::MAX, i32::MAX)).collect();
    let cases: Vec<(u16, Vec<Query>)> = vec![
        (2500, vec![sample()]),
        (10_000, vec![query(FEE_BOUND - 1, &extreme)]),
        (0, vec![query(999, &[slot(1, 1, 1)])]),
        (
            5000,
            vec![query(10, &[slot(1, 500, -1), slot(4, 3, i32::MIN)])],
        ),
        (
            2500,
            generate(&SynthConfig::new(QUERIES as u64, 6, 11)).queries,
        ),
    ];
    for (rate, queries) in cases {
        let proof = c.data.prove(witness(rate, &queries)).unwrap();
        assert_eq!(proof.public_inputs, expected(rate, &queries), "rate {rate}");
        c.data.verify(proof).unwrap();
    }
}

#[test]
fn case_1_share_that_is_not_the_floor() {
    let (_, r) = &circuit().queries[0];
    let q = sample();
    let s = QueryShares::compute(&q, 2500);
    // One unit more: the division gate's remainder would be r - W, below zero.
    for j in [0, 2] {
        let pw = with(
            witness(2500, &[q]),
            &[(r.share[j], F::from_canonical_u64(s.shares[j] + 1))],
        );
        assert!(!accepted(pw), "slot {j}: share + 1 accepted");
    }
}

#[test]
fn case_2_remainder_not_below_its_divisor() {
    let (_, r) = &circuit().queries[0];
    let q = sample();
    let s = QueryShares::compute(&q, 2500);
    // One unit less: the integer identity holds with r + W, which is not below W.
    let pw = with(
        witness(2500, &[q]),
        &[(r.share[0], F::from_canonical_u64(s.shares[0] - 1))],
    );
    assert!(!accepted(pw));
    // The pool division too.
    let pw = with(
        witness(2500, &[q]),
        &[
            (r.pool, F::from_canonical_u64(s.pool - 1)),
            (
                r.pool_remainder,
                F::from_canonical_u64(s.pool_remainder + 10_000),
            ),
        ],
    );
    assert!(!accepted(pw));
}

#[test]
fn case_3_negative_score_that_was_paid() {
    let (_, r) = &circuit().queries[0];
    let q = sample();
    // Slot 1 has score -9: pattern 2^32 - 9. Claim it is positive.
    let pattern = (-9i32) as u32;
    let pw = with(
        witness(2500, &[q]),
        &[
            (r.negative[1].target, F::ZERO),
            (r.magnitude[1], F::from_canonical_u32(pattern)),
        ],
    );
    assert!(!accepted(pw));
    // Or keep the sign but pay it anyway: its share must follow the zero weight.
    let pw = with(witness(2500, &[q]), &[(r.share[1], F::ONE)]);
    assert!(!accepted(pw));
    // A positive score claimed negative, to clip a contributor's weight to zero: the witness
    // of the same query with slot 0's score at 0 (weight 0, shares to match), with the record's
    // score put back to 3 = magnitude + 2^31 for a magnitude of 3 - 2^31, below zero (a field
    // element near p). Only the magnitude's range refuses it.
    let (qt, _) = &circuit().queries[0];
    let mut clipped = q;
    clipped.slots[0].score = 0;
    let below_zero = F::from_canonical_u64(3) - F::from_canonical_u64(1 << 31);
    let cheat = |magnitude: F| {
        with(
            witness(2500, &[clipped]),
            &[
                (qt.score()[0], F::from_canonical_u64(3)),
                (r.negative[0].target, F::ONE),
                (r.magnitude[0], magnitude),
            ],
        )
    };
    assert!(!accepted(cheat(below_zero)));
    assert!(accepted(witness(2500, &[clipped])), "the control");

    // Slot 1's score -9 (pattern 2^32 - 9) claimed positive with magnitude 2^32 - 9, with the
    // weights, shares and 1/W of that claim, so only the magnitude's range can refuse it.
    let s = QueryShares::compute(&q, 2500);
    let magnitude = (1u64 << 32) - 9;
    let weights = [100 * 3, 7 * magnitude, 200 * 5];
    let total: u64 = weights.iter().sum();
    let mut overrides = vec![
        (r.negative[1].target, F::ZERO),
        (r.magnitude[1], F::from_canonical_u64(magnitude)),
        (
            r.total_weight_inverse,
            F::from_canonical_u64(total).inverse(),
        ),
    ];
    for (j, w) in weights.iter().enumerate() {
        let share = u128::from(s.pool) * u128::from(*w) / u128::from(total);
        overrides.push((r.share[j], F::from_canonical_u64(share as u64)));
    }
    assert!(!accepted(with(witness(2500, &[q]), &overrides)));
}

#[test]
fn case_7_slots_not_in_canonical_form() {
    let q = sample();
    // Unsorted adapters (a consistent witness for the unsorted record).
    let mut unsorted = q;
    unsorted.slots.swap(0, 2);
    assert!(!accepted(witness(2500, &[unsorted])));
    // A repeated adapter.
    let mut repeated = q;
    repeated.slots[1].adapter_id = 2;
    assert!(!accepted(witness(2500, &[repeated])));
    // A hole before a used slot.
    let mut hole = q;
    hole.slots.swap(1, 3);
    assert!(!accepted(witness(2500, &[hole])));
    // An unused slot with a gate or a score.
    let mut dirty = q;
    dirty.slots[5].gate = 1;
    assert!(!accepted(witness(2500, &[dirty])));
    let mut dirty = q;
    dirty.slots[5].score = -1;
    assert!(!accepted(witness(2500, &[dirty])));
    // A used slot claimed unused.
    let (_, r) = &circuit().queries[0];
    let pw = with(witness(2500, &[q]), &[(r.used[0].target, F::ZERO)]);
    assert!(!accepted(pw));
}

#[test]
fn case_12_values_that_wrap_the_field() {
    let (qt, r) = &circuit().queries[0];
    let q = sample();
    let s = QueryShares::compute(&q, 2500);
    // A pool that satisfies fee * rate = pool * 10000 + rem in the field only: rem = actual + 1
    // and pool = (fee * rate - rem) / 10000 computed mod p, a huge element.
    let rem = F::from_canonical_u64(s.pool_remainder + 1);
    let wrapped =
        (F::from_canonical_u64(q.fee * 2500) - rem) * F::from_canonical_u64(10_000).inverse();
    let pw = with(
        witness(2500, &[q]),
        &[(r.pool, wrapped), (r.pool_remainder, rem)],
    );
    assert!(!accepted(pw));
    // A rate above 10000, and a fee at 2^48.
    let c = circuit();
    let pw = with(
        witness(2500, &[q]),
        &[(c.rate, F::from_canonical_u64(10_001))],
    );
    assert!(!accepted(pw));
    let pw = with(
        witness(2500, &[q]),
        &[(qt.fee(), F::from_canonical_u64(FEE_BOUND))],
    );
    assert!(!accepted(pw));
    // The honest witness is accepted, so the failures above are the tampering's.
    assert!(accepted(witness(2500, &[q])));
}
