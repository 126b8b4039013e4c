//! The plonky2 negative tests' shared parts: the rule and statement harnesses, the epoch and
//! vector loader, the one real-proof helper, and each SPEC case's tampered witnesses
//! ([`CaseTamper`]), which `tests/rule.rs` and `tests/statement.rs` assert are refused by the
//! named check alone and `tests/mutation.rs` asserts are accepted once that check is removed.
//!
//! A tamper starts from the honest witness and recomputes everything its change leaves stale,
//! so exactly one check can refuse it. Harnesses are built without zero knowledge: blinding
//! only adds random no-op rows and cannot change what the constraints accept.
#![allow(dead_code)]

use crate::constraints::{assert_refused_by, Finder, Tamper, Violation, C, D};
use anyhow::Result;
use plonky2::field::types::Field;
use plonky2::iop::target::Target;
use plonky2::iop::witness::{PartialWitness, WitnessWrite};
use plonky2::plonk::circuit_builder::CircuitBuilder;
use plonky2::plonk::circuit_data::{CircuitConfig, CircuitData};
use plonky2::plonk::proof::ProofWithPublicInputs;
use std::path::PathBuf;
use zkattr_model::commit::commit_epoch;
use zkattr_model::synth::{generate, SynthConfig};
use zkattr_model::types::{Query, Slot, FEE_BOUND, SLOTS};
use zkattr_model::vectors::{read_epoch_vectors, EpochVector};
use zkattr_model::{Epoch, QueryShares, Settlement};
use zkattr_plonky2::gadgets::QueryTargets;
use zkattr_plonky2::native::{limbs, F};
use zkattr_plonky2::statement::rule::{check_rate, query_rule, QueryRuleTargets};
use zkattr_plonky2::statement::{
    build_statement, StatementPublicInputs, StatementShape, StatementTargets,
};
use zkattr_plonky2::GoldilocksFamily;
use zkattr_plonky2_gates::cases::Case;
use zkattr_plonky2_gates::ShareDivisionGate;

pub type Proof = ProofWithPublicInputs<F, C, D>;

/// Proves and verifies: the one accept helper of the real-proof tests (errors, not panics,
/// are the prover's refusals; the negative tests use the constraint finder instead).
pub fn prove_and_verify(data: &CircuitData<F, C, D>, pw: PartialWitness<F>) -> Result<Proof> {
    let proof = data.prove(pw)?;
    data.verify(proof.clone())?;
    Ok(proof)
}

/// The committed test vectors with at most `max_queries` queries, sorted by name.
pub fn vectors(max_queries: usize) -> Vec<EpochVector> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testvectors");
    let mut all = read_epoch_vectors(&dir).unwrap();
    all.retain(|v| v.epoch.queries.len() <= max_queries);
    all
}

/// One tampered witness of a SPEC case and the check that must refuse it.
pub struct CaseTamper {
    pub case: Case,
    pub what: String,
    pub inputs: PartialWitness<F>,
    pub tamper: Tamper,
    /// The gate type of the named check's constraints.
    pub gate: &'static str,
    /// The named check's targets (see `Finder::belongs`).
    pub labels: Vec<Target>,
    /// For a gate that serves several checks in one row, the constraint indices of this one.
    pub constraints: Option<Vec<usize>>,
}

impl CaseTamper {
    /// Asserts the witness is refused by the named check and nothing else.
    pub fn assert_refused(&self, finder: &Finder<'_>) -> Vec<Violation> {
        let what = format!("case {} ({})", self.case.number(), self.what);
        let violations = assert_refused_by(
            finder,
            &self.inputs,
            &self.tamper,
            self.gate,
            &self.labels,
            &what,
        );
        if let Some(allowed) = &self.constraints {
            for v in &violations {
                if let Violation::Gate { constraint, .. } = v {
                    assert!(
                        allowed.contains(constraint),
                        "{what}: constraint {constraint} of {} is not the named check's",
                        v.gate()
                    );
                }
            }
        }
        violations
    }
}

fn labels_of(checks: &[(Case, Target)], case: Case) -> Vec<Target> {
    checks
        .iter()
        .filter(|(c, _)| *c == case)
        .map(|(_, t)| *t)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The rule harness: SPEC's rule for four queries.

pub const RULE_QUERIES: usize = 4;

/// Public inputs: rate, then per query its pool, residual and eight shares.
pub struct RuleCircuit {
    pub data: CircuitData<F, C, D>,
    pub rate: Target,
    pub rate_slack: Target,
    pub queries: Vec<(QueryTargets, QueryRuleTargets)>,
    /// The constant zero.
    pub zero: Target,
}

impl RuleCircuit {
    pub fn build() -> Self {
        let mut b = CircuitBuilder::<F, D>::new(CircuitConfig::standard_recursion_config());
        let rate = b.add_virtual_target();
        let rate_slack = check_rate(&mut b, rate);
        b.register_public_input(rate);
        let queries: Vec<_> = (0..RULE_QUERIES)
            .map(|_| {
                let q = QueryTargets::new(&mut b);
                let r = query_rule(&mut b, &q, rate);
                b.register_public_input(r.pool);
                b.register_public_input(r.residual);
                b.register_public_inputs(&r.share);
                (q, r)
            })
            .collect();
        let zero = b.zero();
        RuleCircuit {
            data: b.build::<C>(),
            rate,
            rate_slack,
            queries,
            zero,
        }
    }

    /// The witness for `queries` (padded with empty ones), each with the reference rule's
    /// values.
    pub fn witness(&self, rate: u16, queries: &[Query]) -> PartialWitness<F> {
        let mut pw = PartialWitness::new();
        pw.set_target(self.rate, F::from_canonical_u16(rate))
            .unwrap();
        for (i, (qt, rt)) in self.queries.iter().enumerate() {
            let q = queries.get(i).copied().unwrap_or_else(empty);
            qt.set(&mut pw, &q).unwrap();
            rt.set(&mut pw, &q, &QueryShares::compute(&q, rate))
                .unwrap();
        }
        pw
    }

    /// The targets query 0's rule labels with `case`.
    fn labels(&self, case: Case) -> Vec<Target> {
        labels_of(&self.queries[0].1.checks, case)
    }
}

pub fn empty() -> Query {
    Query {
        query_id: 0,
        fee: 0,
        slots: [Slot::UNUSED; SLOTS],
    }
}

pub fn slot(adapter_id: u32, gate: u16, score: i32) -> Slot {
    Slot {
        adapter_id,
        gate,
        score,
    }
}

pub fn query(fee: u64, used: &[Slot]) -> Query {
    let mut q = empty();
    q.query_id = 1;
    q.fee = fee;
    q.slots[..used.len()].copy_from_slice(used);
    q
}

fn query_with_id(query_id: u64, fee: u64, used: &[Slot]) -> Query {
    Query {
        query_id,
        ..query(fee, used)
    }
}

/// A query with a positive and a negative slot and a rounding remainder: pool 250,000,
/// weights 300, 0, 1,000 (W = 1,300), shares 57,692, 0, 192,307, residual 1.
pub fn sample() -> Query {
    query(
        1_000_003,
        &[slot(2, 100, 3), slot(5, 7, -9), slot(8, 200, 5)],
    )
}

/// Case 1: a share one above the floor makes its remainder negative.
pub fn case_1(h: &RuleCircuit) -> Vec<CaseTamper> {
    let (_, r) = &h.queries[0];
    let q = sample();
    let s = QueryShares::compute(&q, 2500);
    [0, 2]
        .map(|j| CaseTamper {
            constraints: Some(ShareDivisionGate::remainder_constraints()),
            ..tampered(
                Case::ShareFloor,
                &format!("slot {j}'s share + 1"),
                h.witness(2500, &[q]),
                Tamper::new().set(r.share[j], F::from_canonical_u64(s.shares[j] + 1)),
                "ShareDivisionGate",
                vec![r.share[j]],
            )
        })
        .into()
}

/// Case 2: a share one below the floor leaves a remainder of `r + W`; a pool one below its
/// floor leaves a pool remainder of 10,000 or more.
pub fn case_2(h: &RuleCircuit) -> Vec<CaseTamper> {
    let (_, r) = &h.queries[0];
    let q = sample();
    let s = QueryShares::compute(&q, 2500);
    let share = CaseTamper {
        constraints: Some(ShareDivisionGate::room_constraints()),
        ..tampered(
            Case::RemainderBound,
            "slot 0's share - 1",
            h.witness(2500, &[q]),
            Tamper::new().set(r.share[0], F::from_canonical_u64(s.shares[0] - 1)),
            "ShareDivisionGate",
            vec![r.share[0]],
        )
    };
    // The pool one lower, with the shares of that pool (so every division row still holds).
    let pool = s.pool - 1;
    let mut tamper = Tamper::new().set(r.pool, F::from_canonical_u64(pool)).set(
        r.pool_remainder,
        F::from_canonical_u64(s.pool_remainder + 10_000),
    );
    for j in 0..SLOTS {
        let share = u128::from(pool) * u128::from(s.weights[j]) / u128::from(s.total_weight);
        tamper = tamper.set(r.share[j], F::from_canonical_u64(share as u64));
    }
    let pool = tampered(
        Case::RemainderBound,
        "pool - 1 with a pool remainder + 10,000",
        h.witness(2500, &[q]),
        tamper,
        "RangeCheckGate",
        h.labels(Case::RemainderBound),
    );
    vec![share, pool]
}

/// Case 3: a negative score claimed positive, and a positive one claimed negative; only the
/// magnitude's range can refuse either.
pub fn case_3(h: &RuleCircuit) -> Vec<CaseTamper> {
    let (qt, r) = &h.queries[0];
    let q = sample();
    let s = QueryShares::compute(&q, 2500);
    let doubled = |j: usize| -> Vec<Target> {
        let all = h.labels(Case::NegativeScore);
        vec![all[j]]
    };
    // Slot 1's score -9 (pattern 2^32 - 9) claimed positive with magnitude 2^32 - 9, with the
    // weights, shares and 1/W of that claim.
    let magnitude = (1u64 << 32) - 9;
    let weights = [100 * 3, 7 * magnitude, 200 * 5];
    let total: u64 = weights.iter().sum();
    let mut tamper = Tamper::new()
        .set(r.negative[1].target, F::ZERO)
        .set(r.magnitude[1], F::from_canonical_u64(magnitude))
        .set(
            r.total_weight_inverse,
            F::from_canonical_u64(total).inverse(),
        );
    for (j, w) in weights.iter().enumerate() {
        let share = u128::from(s.pool) * u128::from(*w) / u128::from(total);
        tamper = tamper.set(r.share[j], F::from_canonical_u64(share as u64));
    }
    let paid = tampered(
        Case::NegativeScore,
        "score -9 claimed positive",
        h.witness(2500, &[q]),
        tamper,
        "RangeCheckGate",
        doubled(1),
    );
    // Slot 0's score 3 claimed negative (weight 0): the witness of the same query with that
    // score at 0, the record's score put back to 3 = magnitude + 2^31 for a magnitude of
    // 3 - 2^31 (a field element near p).
    let mut clipped = q;
    clipped.slots[0].score = 0;
    let below_zero = F::from_canonical_u64(3) - F::from_canonical_u64(1 << 31);
    let clipped = tampered(
        Case::NegativeScore,
        "score 3 claimed negative",
        h.witness(2500, &[clipped]),
        Tamper::new()
            .set(qt.score()[0], F::from_canonical_u64(3))
            .set(r.negative[0].target, F::ONE)
            .set(r.magnitude[0], below_zero),
        "RangeCheckGate",
        doubled(0),
    );
    vec![paid, clipped]
}

/// Case 7: unsorted, repeated, a hole, an unused slot with a gate or a score, a used slot
/// claimed unused. The class of the constant zero keeps zero, so a `connect(x, zero)` check
/// shows as its own row instead of a witness conflict.
pub fn case_7(h: &RuleCircuit) -> Vec<CaseTamper> {
    let q = sample();
    let zero = Tamper::new().set(h.zero, F::ZERO);
    let mut records: Vec<(&str, Query, &'static str)> = Vec::new();
    let mut unsorted = q;
    unsorted.slots.swap(0, 2);
    records.push(("unsorted adapters", unsorted, "RangeCheckGate"));
    let mut repeated = q;
    repeated.slots[1].adapter_id = 2;
    records.push(("a repeated adapter", repeated, "RangeCheckGate"));
    let mut hole = q;
    hole.slots.swap(2, 3);
    records.push(("a hole before a used slot", hole, "ArithmeticGate"));
    let mut dirty = q;
    dirty.slots[5].gate = 1;
    records.push(("an unused slot with a gate", dirty, "ArithmeticGate"));
    let mut dirty = q;
    dirty.slots[5].score = -1;
    records.push(("an unused slot with a score", dirty, "ArithmeticGate"));
    let mut out: Vec<CaseTamper> = records
        .into_iter()
        .map(|(what, record, gate)| {
            tampered(
                Case::CanonicalSlots,
                what,
                h.witness(2500, &[record]),
                zero.clone(),
                gate,
                h.labels(Case::CanonicalSlots),
            )
        })
        .collect();
    let (_, r) = &h.queries[0];
    out.push(tampered(
        Case::CanonicalSlots,
        "a used slot claimed unused",
        h.witness(2500, &[q]),
        zero.set(r.used[0].target, F::ZERO),
        "ArithmeticGate",
        h.labels(Case::CanonicalSlots),
    ));
    out
}

/// Case 12: a rate above 10,000 (its slack `10000 - rate` wraps) and a fee of 2^48, each with
/// the rule's values for it, so only the bound refuses.
pub fn case_12(h: &RuleCircuit) -> Vec<CaseTamper> {
    let q = sample();
    let mut rich = q;
    rich.fee = FEE_BOUND;
    vec![
        tampered(
            Case::FieldWrap,
            "rate 10,001",
            h.witness(10_001, &[q]),
            Tamper::new(),
            "RangeCheckGate",
            vec![h.rate_slack],
        ),
        tampered(
            Case::FieldWrap,
            "fee 2^48",
            h.witness(2500, &[rich]),
            Tamper::new(),
            "RangeCheckGate",
            vec![h.queries[0].0.fee()],
        ),
    ]
}

// ---------------------------------------------------------------------------------------------
// The statement harness: the whole statement for 16 queries and 16 payees.

pub struct Statement {
    pub data: CircuitData<F, C, D>,
    pub targets: StatementTargets,
    /// The constant zero.
    pub zero: Target,
}

impl Statement {
    /// The statement for 16 queries and 16 payees, without blinding.
    pub fn build() -> Self {
        Self::build_with(CircuitConfig::standard_recursion_config())
    }

    pub fn build_with(config: CircuitConfig) -> Self {
        let mut b = CircuitBuilder::<F, D>::new(config);
        let targets = build_statement(&mut b, StatementShape::new(16, 16).unwrap());
        let zero = b.zero();
        Statement {
            data: b.build::<C>(),
            targets,
            zero,
        }
    }

    /// The witness for `epoch` with the reference settlement (which need not be valid).
    pub fn witness(&self, epoch: &Epoch) -> PartialWitness<F> {
        let s = Settlement::compute(epoch).unwrap();
        self.witness_with(epoch, &s)
    }

    pub fn witness_with(&self, epoch: &Epoch, s: &Settlement) -> PartialWitness<F> {
        let mut pw = PartialWitness::new();
        self.targets.set(&mut pw, epoch, s).unwrap();
        pw
    }

    /// The targets the statement labels with `case` (the rule's of every query too).
    pub fn labels(&self, case: Case) -> Vec<Target> {
        let rule = self.targets.queries.iter().flat_map(|(_, r)| &r.checks);
        let all: Vec<(Case, Target)> = self.targets.checks.iter().chain(rule).copied().collect();
        labels_of(&all, case)
    }

    /// The public-input targets, in SPEC's order.
    pub fn public_inputs(&self) -> &[Target] {
        &self.data.prover_only.public_inputs
    }
}

/// SPEC's public inputs of `epoch`.
pub fn published(epoch: &Epoch) -> StatementPublicInputs {
    let s = Settlement::compute(epoch).unwrap();
    let c = commit_epoch(&GoldilocksFamily, epoch, &s).unwrap();
    StatementPublicInputs::new(epoch, &s, &c)
}

/// A 12-query synthetic epoch whose id needs both limbs.
pub fn small() -> Epoch {
    let mut config = SynthConfig::new(12, 6, 21);
    config.epoch_id = (1 << 40) + 5;
    generate(&config)
}

/// A [`CaseTamper`] whose check may fail at any of its gate's constraint indices.
fn tampered(
    case: Case,
    what: &str,
    inputs: PartialWitness<F>,
    tamper: Tamper,
    gate: &'static str,
    labels: Vec<Target>,
) -> CaseTamper {
    CaseTamper {
        case,
        what: what.into(),
        inputs,
        tamper,
        gate,
        labels,
        constraints: None,
    }
}

/// Every slot's `(adapter, share)` of `epoch` as the circuit holds it (16 records, padding
/// included), sorted.
fn sorted_slots(epoch: &Epoch, s: &Settlement) -> Vec<(u32, u64)> {
    let mut pairs: Vec<(u32, u64)> = (0..16)
        .flat_map(|i| {
            let q = epoch.queries.get(i).copied().unwrap_or_else(empty);
            let shares = s.per_query.get(i).map_or([0; SLOTS], |x| x.shares);
            (0..SLOTS).map(move |j| (q.slots[j].adapter_id, shares[j]))
        })
        .collect();
    pairs.sort_unstable();
    pairs
}

/// Case 4: the sorted copy drops a slot `(a, 0)` (an adapter with other slots, so its total,
/// the run ends and the payout list are unchanged) and duplicates an unused slot `(0, 0)`, or
/// the other way round. Only the first grand product can refuse it.
pub fn case_4(h: &Statement) -> Vec<CaseTamper> {
    let epoch = small();
    let s = Settlement::compute(&epoch).unwrap();
    let honest = sorted_slots(&epoch, &s);
    let dropped = *honest
        .iter()
        .find(|&&(a, v)| a != 0 && v == 0 && honest.iter().filter(|p| p.0 == a).count() > 1)
        .expect("an unpaid slot of an adapter with other slots");
    let t = &h.targets;
    let products = h.labels(Case::SlotMultiset);
    let variant = |what: &str, remove: (u32, u64), add: (u32, u64)| {
        let mut pairs = honest.clone();
        let at = pairs.iter().position(|p| *p == remove).unwrap();
        pairs.remove(at);
        pairs.push(add);
        pairs.sort_unstable();
        let mut tamper = Tamper::new()
            .first_write_wins(products[0])
            .first_write_wins(products[1]);
        for (&(a, v), &(at, vt)) in pairs.iter().zip(&t.sorted) {
            tamper = tamper
                .set(at, F::from_canonical_u32(a))
                .set(vt, F::from_canonical_u64(v));
        }
        tampered(
            Case::SlotMultiset,
            what,
            h.witness(&epoch),
            tamper,
            "MulExtensionGate",
            products.clone(),
        )
    };
    vec![
        variant("a slot dropped for an unused one", dropped, (0, 0)),
        variant(
            "an unused slot dropped for a copy of a slot",
            (0, 0),
            dropped,
        ),
    ]
}

/// Case 5: the attribution engine's log names another adapter for one activated slot. One
/// adapter target feeds both leaves, so the witness cannot carry the engine's adapter into the
/// influence leaf alone; it carries the engine's published influence commitment, and the
/// commitment's hash refuses it. (Where the circuit has influence adapters of their own, only
/// under the `mutation` switch, the witness sets them to the engine's.)
pub fn case_5(h: &Statement) -> Vec<CaseTamper> {
    let epoch = small();
    let mut engine_log = epoch.clone();
    let i = engine_log
        .queries
        .iter()
        .position(|q| q.used_count() > 0)
        .unwrap();
    let j = engine_log.queries[i].used_count() - 1;
    engine_log.queries[i].slots[j].adapter_id += 1000;
    let t = &h.targets;
    let published = published(&engine_log).influence_commitment;
    let influence: Vec<Target> = h.public_inputs()[7..11].to_vec();
    let mut tamper = Tamper::new().set_all(influence.iter().copied().zip(published.elements));
    let own = t.influence_adapters[i][j];
    if own != t.queries[i].0.adapter()[j] {
        let engine = engine_log.queries[i].slots[j].adapter_id;
        tamper = tamper.set(own, F::from_canonical_u32(engine));
    }
    vec![tampered(
        Case::AdapterAcrossLogs,
        "the engine's influence commitment with the operator's adapters",
        h.witness(&epoch),
        tamper,
        "PoseidonGate",
        h.labels(Case::AdapterAcrossLogs),
    )]
}

/// Case 6: a repeated id, two records swapped, and ids across the limb boundary
/// (2^32 then 2^32 - 1).
pub fn case_6(h: &Statement) -> Vec<CaseTamper> {
    let epoch = small();
    let mut repeated = epoch.clone();
    repeated.queries[5].query_id = repeated.queries[4].query_id;
    let mut swapped = epoch.clone();
    swapped.queries.swap(2, 3);
    let mut limbs = epoch;
    limbs.queries[0].query_id = 1 << 32;
    limbs.queries[1].query_id = (1 << 32) - 1;
    [
        ("a repeated query id", repeated),
        ("two queries swapped", swapped),
        ("2^32 before 2^32 - 1", limbs),
    ]
    .into_iter()
    .map(|(what, e)| {
        tampered(
            Case::QueryOrder,
            what,
            h.witness(&e),
            Tamper::new(),
            "RangeCheckGate",
            h.labels(Case::QueryOrder),
        )
    })
    .collect()
}

/// Case 8: a changed fee (activation log) or score (influence log), with the witness carrying
/// the published commitments of the unchanged logs.
pub fn case_8(h: &Statement) -> Vec<CaseTamper> {
    let epoch = small();
    let expected = published(&epoch);
    let commitments: Vec<(Target, F)> = h.public_inputs()[3..11]
        .iter()
        .copied()
        .zip(
            expected
                .activation_commitment
                .elements
                .into_iter()
                .chain(expected.influence_commitment.elements),
        )
        .collect();
    let mut fee = epoch.clone();
    fee.queries[7].fee += 1;
    let mut rescored = epoch.clone();
    let q = rescored
        .queries
        .iter_mut()
        .find(|q| q.used_count() > 0)
        .unwrap();
    q.slots[0].score = q.slots[0].score.wrapping_add(1);
    [("a changed fee", fee), ("a changed score", rescored)]
        .into_iter()
        .map(|(what, e)| {
            tampered(
                Case::LogOpening,
                what,
                h.witness(&e),
                Tamper::new().set_all(commitments.iter().copied()),
                "PoseidonGate",
                h.labels(Case::LogOpening),
            )
        })
        .collect()
}

/// Case 9: the first two payees swapped (the same multiset and total).
pub fn case_9(h: &Statement) -> Vec<CaseTamper> {
    let epoch = small();
    let s = Settlement::compute(&epoch).unwrap();
    let t = &h.targets;
    let (a0, v0) = t.payees[0];
    let (a1, v1) = t.payees[1];
    let [p0, p1] = [0, 1].map(|m| &s.payouts[m]);
    let tamper = Tamper::new()
        .set(a0, F::from_canonical_u32(p1.adapter_id))
        .set(v0, F::from_canonical_u64(p1.amount))
        .set(a1, F::from_canonical_u32(p0.adapter_id))
        .set(v1, F::from_canonical_u64(p0.amount));
    vec![tampered(
        Case::PayoutOrder,
        "the first two payees swapped",
        h.witness(&epoch),
        tamper,
        "RangeCheckGate",
        h.labels(Case::PayoutOrder),
    )]
}

/// Case 10: one unit moved between two payees (the total unchanged), and an unpaid payee
/// dropped from the list (the total unchanged); only the second grand product can refuse.
pub fn case_10(h: &Statement) -> Vec<CaseTamper> {
    // `small()` and one more query whose only slot is an adapter of its own, scored negative:
    // a payee of 0.
    let mut epoch = small();
    let last = epoch.queries.last().unwrap().query_id;
    epoch
        .queries
        .push(query_with_id(last + 1, 5_000, &[slot(4_000_000, 9, -3)]));
    let s = Settlement::compute(&epoch).unwrap();
    let t = &h.targets;
    let products = h.labels(Case::PayoutTotals);
    let first_wins = || {
        Tamper::new()
            .first_write_wins(products[0])
            .first_write_wins(products[1])
    };
    let from = s.payouts.iter().position(|p| p.amount > 0).unwrap();
    let to = (from + 1) % s.payouts.len();
    let moved = first_wins()
        .set(
            t.payees[from].1,
            F::from_canonical_u64(s.payouts[from].amount - 1),
        )
        .set(
            t.payees[to].1,
            F::from_canonical_u64(s.payouts[to].amount + 1),
        );
    let mut short = s.clone();
    let unpaid = short
        .payouts
        .iter()
        .position(|p| p.amount == 0)
        .expect("an unpaid payee");
    short.payouts.remove(unpaid);
    vec![
        tampered(
            Case::PayoutTotals,
            "one unit moved between payees",
            h.witness(&epoch),
            moved,
            "MulExtensionGate",
            products.clone(),
        ),
        tampered(
            Case::PayoutTotals,
            "an unpaid payee dropped",
            h.witness_with(&epoch, &short),
            first_wins(),
            "MulExtensionGate",
            products.clone(),
        ),
    ]
}

/// Case 11: the witness carries published totals one off (treasury + 1; total pool + 1), in
/// their public limbs, with the proven sums; the limbs' recomposition refuses it. (A witness in
/// which only `total_paid + treasury = total_pool` fails does not exist: both grand products
/// already imply it.)
pub fn case_11(h: &Statement) -> Vec<CaseTamper> {
    let epoch = small();
    let s = Settlement::compute(&epoch).unwrap();
    let sums = h.labels(Case::Totals);
    let (total_pool, treasury) = (sums[0], sums[2]);
    let limb_targets = &h.public_inputs()[12..18];
    let variant = |what: &str, published: [u64; 3], pinned: (Target, u64)| {
        let values = published.into_iter().flat_map(limbs);
        tampered(
            Case::Totals,
            what,
            h.witness(&epoch),
            Tamper::new()
                .set_all(limb_targets.iter().copied().zip(values))
                .set(pinned.0, F::from_canonical_u64(pinned.1)),
            "ArithmeticGate",
            sums.clone(),
        )
    };
    vec![
        variant(
            "a published treasury one above the residuals",
            [s.total_pool, s.total_paid, s.treasury + 1],
            (treasury, s.treasury),
        ),
        variant(
            "a published total pool one above the pools",
            [s.total_pool + 1, s.total_paid, s.treasury],
            (total_pool, s.total_pool),
        ),
    ]
}
