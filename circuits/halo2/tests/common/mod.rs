//! Shared support for the halo2 tests: the small test epoch and shape, MockProver's verdict as
//! named checks ([`refusals`]), and tampered witnesses, one or more per item of SPEC's "What a
//! proof must rule out", each with the named checks that must refuse it. Each tamper keeps
//! everything else consistent (the rule's values, the payout list, slot counts, totals and
//! published commitments are recomputed natively from the tampered values), so exactly the
//! named check breaks, not a side effect.

#![allow(dead_code)]

use halo2_base::halo2_proofs::dev::VerifyFailure;
use halo2_base::halo2_proofs::halo2curves::ff::{Field, PrimeField};
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;
use zkattr_halo2::checks::{Check, Refusal};
use zkattr_halo2::poseidon::Fr;
use zkattr_halo2::prover::{mock_prove, verify, Halo2Keys, KzgParams, Layout, MockError};
use zkattr_halo2::statement::{public_inputs, Halo2Shape, StatementWitness};
use zkattr_halo2::Bn254Family;
use zkattr_model::commit::{commit_epoch, log_commitment, payout_commitment, Log};
use zkattr_model::rule::Payout;
use zkattr_model::synth::{generate, SynthConfig};
use zkattr_model::types::{Query, Slot, SLOTS};
use zkattr_model::{Epoch, Settlement};

pub fn shape() -> Halo2Shape {
    Halo2Shape::new(16, 16).unwrap()
}

/// A 12-query synthetic epoch with negative scores and several payees.
pub fn epoch() -> Epoch {
    generate(&SynthConfig::new(12, 6, 3))
}

/// The layout of a `capacity` x `capacity` circuit, built once per test binary.
pub fn layout(capacity: usize) -> &'static Layout {
    static LAYOUTS: OnceLock<Mutex<HashMap<usize, &'static Layout>>> = OnceLock::new();
    let mut layouts = LAYOUTS.get_or_init(Default::default).lock().unwrap();
    layouts.entry(capacity).or_insert_with(|| {
        Box::leak(Box::new(Layout::for_shape(
            Halo2Shape::new(capacity, capacity).unwrap(),
        )))
    })
}

/// The honest witness and public inputs of `epoch` in `shape`.
pub fn honest_in(shape: Halo2Shape, epoch: &Epoch) -> (StatementWitness, Vec<Fr>) {
    let s = Settlement::compute(epoch).unwrap();
    let c = commit_epoch(&Bn254Family, epoch, &s).unwrap();
    (
        StatementWitness::new(shape, epoch, &s).unwrap(),
        public_inputs(epoch, &s, &c),
    )
}

/// The honest witness and public inputs of `epoch` in the test shape.
pub fn honest(epoch: &Epoch) -> (StatementWitness, Vec<Fr>) {
    honest_in(shape(), epoch)
}

/// MockProver's verdict on `w` against `instances` in `layout`: no failures when it accepts,
/// else halo2's failures and the named checks (or custom gates) they belong to. A synthesis
/// error panics: a harness failure must never pass for a refusal.
pub fn verdict(
    layout: &Layout,
    w: &StatementWitness,
    instances: &[Fr],
) -> (Vec<VerifyFailure>, BTreeSet<Refusal>) {
    match mock_prove(layout, w, instances) {
        Ok(()) => (Vec::new(), BTreeSet::new()),
        Err(MockError::Unsatisfied { failures, refused }) => (failures, refused),
        Err(e) => panic!("mock run did not reach the constraints: {e}"),
    }
}

/// The named checks that refuse `w` ([`verdict`]); empty when MockProver accepts.
pub fn refusals(layout: &Layout, w: &StatementWitness, instances: &[Fr]) -> BTreeSet<Refusal> {
    verdict(layout, w, instances).1
}

/// How many of `failures` are of each kind: gate, lookup, copy constraint.
pub fn kinds(failures: &[VerifyFailure]) -> String {
    let count = |f: fn(&VerifyFailure) -> bool| failures.iter().filter(|x| f(x)).count();
    format!(
        "{} gate, {} lookup, {} copy",
        count(|f| matches!(f, VerifyFailure::ConstraintNotSatisfied { .. })),
        count(|f| matches!(f, VerifyFailure::Lookup { .. })),
        count(|f| matches!(f, VerifyFailure::Permutation { .. })),
    )
}

/// Development KZG parameters and keys for the test shape, built once per test binary.
pub struct ProofSetup {
    pub params: KzgParams,
    pub keys: Halo2Keys,
}

/// The [`ProofSetup`] of the test shape.
pub fn proof_setup() -> &'static ProofSetup {
    static SETUP: OnceLock<ProofSetup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let layout = layout(shape().queries);
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../params");
        let params = KzgParams::dev_unsafe(&dir, layout.k).unwrap();
        let start = Instant::now();
        let keys = Halo2Keys::generate(layout, &params.params).unwrap();
        eprintln!(
            "keygen k={}: {:.1} s",
            layout.k,
            start.elapsed().as_secs_f64()
        );
        ProofSetup { params, keys }
    })
}

/// Whether a real proof of `w` against `instances` comes out and verifies. halo2's prover does
/// not check constraints, so refusal is decided at verification; a prover that refuses outright
/// (a value its witness generation cannot place) yields no proof, which counts as refused.
pub fn proof_verifies(w: &StatementWitness, instances: &[Fr]) -> bool {
    let s = proof_setup();
    match s.keys.prove(&s.params.params, w, instances) {
        Ok(proof) => verify(&s.params.params, s.keys.vk(), &proof, instances).is_ok(),
        Err(_) => false,
    }
}

/// `checks` as refusals.
pub fn named(checks: &[Check]) -> BTreeSet<Refusal> {
    checks.iter().map(|c| Refusal::Check(*c)).collect()
}

pub fn u64_of(f: Fr) -> u64 {
    let repr = f.to_repr();
    let bytes = repr.as_ref();
    assert!(bytes[8..].iter().all(|b| *b == 0), "not a u64");
    u64::from_le_bytes(bytes[..8].try_into().unwrap())
}

fn n_real(flags: &[Fr]) -> usize {
    flags.iter().filter(|f| **f == Fr::ONE).count()
}

/// The real query records the witness holds, in its order.
fn records(w: &StatementWitness) -> Vec<Query> {
    w.queries[..n_real(&w.real)]
        .iter()
        .map(|q| Query {
            query_id: u64_of(q.query_id),
            fee: u64_of(q.fee),
            slots: std::array::from_fn(|j| Slot {
                adapter_id: u64_of(q.adapter[j]) as u32,
                gate: u64_of(q.gate[j]) as u16,
                score: u64_of(q.score[j]) as u32 as i32,
            }),
        })
        .collect()
}

/// Publishes the log commitments of the records the witness holds.
pub fn recommit_logs(w: &StatementWitness, instances: &mut [Fr]) {
    let queries = records(w);
    instances[2] = log_commitment(&Bn254Family, &queries, Log::Activation).unwrap();
    instances[3] = log_commitment(&Bn254Family, &queries, Log::Influence).unwrap();
}

/// Every slot's `(adapter, share)` in the per-query view.
fn slot_view(w: &StatementWitness) -> Vec<(u64, u64)> {
    w.queries
        .iter()
        .flat_map(|q| (0..SLOTS).map(move |j| (u64_of(q.adapter[j]), u64_of(q.share[j]))))
        .collect()
}

/// Rebuilds the payout list and slot counts from the per-query view, and the totals and payout
/// commitment from the witness.
pub fn repay(w: &mut StatementWitness, instances: &mut [Fr]) {
    let mut totals = std::collections::BTreeMap::<u64, u64>::new();
    for (a, v) in slot_view(w) {
        if a != 0 {
            *totals.entry(a).or_default() += v;
        }
    }
    let payouts: Vec<Payout> = totals
        .into_iter()
        .map(|(a, amount)| Payout {
            adapter_id: a as u32,
            amount,
        })
        .collect();
    set_payouts(w, instances, &payouts);
    let pool: u64 = w.queries.iter().map(|q| u64_of(q.pool)).sum();
    let paid: u64 = w
        .queries
        .iter()
        .flat_map(|q| q.share.iter().map(|s| u64_of(*s)))
        .sum();
    instances[5] = Fr::from(pool);
    instances[7] = Fr::from(pool - paid);
}

/// Puts `payouts` in the witness with the per-query view's slot counts, and publishes their
/// commitment and total.
pub fn set_payouts(w: &mut StatementWitness, instances: &mut [Fr], payouts: &[Payout]) {
    let view = slot_view(w);
    let count = |a: u64| view.iter().filter(|s| s.0 == a).count() as u64;
    let capacity = w.payees.len();
    w.payee_slots = payouts
        .iter()
        .map(|p| Fr::from(count(u64::from(p.adapter_id))))
        .chain(std::iter::repeat(Fr::ZERO))
        .take(capacity)
        .collect();
    w.unused_slots = Fr::from(count(0));
    w.payees = payouts
        .iter()
        .map(|p| (Fr::from(u64::from(p.adapter_id)), Fr::from(p.amount)))
        .chain(std::iter::repeat((Fr::ZERO, Fr::ZERO)))
        .take(capacity)
        .collect();
    w.payee_real = (0..capacity)
        .map(|i| Fr::from(u64::from(i < payouts.len())))
        .collect();
    instances[6] = Fr::from(payouts.iter().map(|p| p.amount).sum::<u64>());
    instances[8] = payout_commitment(&Bn254Family, payouts).unwrap();
}

/// The real payees the witness lists.
fn listed_payouts(w: &StatementWitness) -> Vec<Payout> {
    w.payees[..n_real(&w.payee_real)]
        .iter()
        .map(|&(a, v)| Payout {
            adapter_id: u64_of(a) as u32,
            amount: u64_of(v),
        })
        .collect()
}

/// Lists, with amount 0 and the slot count 0, the smallest adapter no slot names; publishes the
/// list. Returns its position in the list.
fn list_phantom_payee(w: &mut StatementWitness, instances: &mut [Fr]) -> usize {
    let mut payouts = listed_payouts(w);
    let phantom = (1..)
        .find(|a| payouts.iter().all(|p| p.adapter_id != *a))
        .unwrap();
    payouts.push(Payout {
        adapter_id: phantom,
        amount: 0,
    });
    payouts.sort_by_key(|p| p.adapter_id);
    set_payouts(w, instances, &payouts);
    payouts
        .iter()
        .position(|p| p.adapter_id == phantom)
        .unwrap()
}

/// Sets record `q`'s shares and share remainders by the floor rule from its pool and its weights
/// (gate times magnitude, 0 where the sign bit is set, as the witness holds them).
pub fn reshare(w: &mut StatementWitness, q: usize) {
    let record = &mut w.queries[q];
    let weights: [u128; SLOTS] = std::array::from_fn(|j| {
        if record.negative[j] == Fr::ONE {
            0
        } else {
            u128::from(u64_of(record.gate[j])) * u128::from(u64_of(record.magnitude[j]))
        }
    });
    let total: u128 = weights.iter().sum();
    let pool = u128::from(u64_of(record.pool));
    for (j, weight) in weights.iter().enumerate() {
        // W = 0 leaves every share and remainder 0.
        let product = pool * weight;
        let share = product.checked_div(total).unwrap_or(0);
        let remainder = product.checked_rem(total).unwrap_or(0);
        record.share[j] = Fr::from(share as u64);
        record.share_remainder[j] = Fr::from(remainder as u64);
    }
}

/// Sets record `q`'s pool and pool remainder from its fee and the witness's rate, then its
/// shares ([`reshare`]).
pub fn rerule(w: &mut StatementWitness, q: usize) {
    let paid_in = u128::from(u64_of(w.queries[q].fee)) * u128::from(u64_of(w.rate));
    w.queries[q].pool = Fr::from((paid_in / 10_000) as u64);
    w.queries[q].pool_remainder = Fr::from((paid_in % 10_000) as u64);
    reshare(w, q);
}

/// The pool left to the treasury by record `q`.
fn residual(w: &StatementWitness, q: usize) -> u64 {
    let r = &w.queries[q];
    u64_of(r.pool) - r.share.iter().map(|s| u64_of(*s)).sum::<u64>()
}

/// The first real query with at least two used slots, a non-zero total weight and share 0, and
/// that `also` accepts; and its `W`.
fn weighted_query(w: &StatementWitness, also: impl Fn(usize) -> bool) -> (usize, Fr) {
    for (i, q) in w.queries[..n_real(&w.real)].iter().enumerate() {
        let total: Fr = (0..SLOTS)
            .map(|j| {
                let clipped = (Fr::ONE - q.negative[j]) * q.magnitude[j];
                q.gate[j] * clipped
            })
            .sum();
        let used = q.adapter.iter().filter(|a| **a != Fr::ZERO).count();
        if used >= 2 && total != Fr::ZERO && q.share[0] != Fr::ZERO && also(i) {
            return (i, total);
        }
    }
    panic!("the epoch has no such weighted query");
}

/// The first real record's slot whose sign bit is `negative` and whose gate is non-zero (and,
/// for a positive score, whose magnitude is too).
fn slot_with_sign(w: &StatementWitness, negative: bool) -> (usize, usize) {
    let bit = Fr::from(u64::from(negative));
    w.queries[..n_real(&w.real)]
        .iter()
        .enumerate()
        .find_map(|(q, r)| {
            (0..SLOTS)
                .find(|&j| {
                    r.adapter[j] != Fr::ZERO
                        && r.negative[j] == bit
                        && r.gate[j] != Fr::ZERO
                        && (negative || r.magnitude[j] != Fr::ZERO)
                })
                .map(|j| (q, j))
        })
        .expect("the epoch has such a slot")
}

/// A tamper: changes the witness and, where a cheating prover could, the published values.
pub type Tamper = fn(&mut StatementWitness, &mut Vec<Fr>);

/// One tampered witness and the named checks that must refuse it.
pub struct Case {
    /// SPEC's case number ("What a proof must rule out"), or 0 for the statement's other rules.
    pub spec: u8,
    pub name: &'static str,
    /// The named checks that refuse the tampered witness; no other check may.
    pub refused_by: &'static [Check],
    /// What a mutated build leaves out to show the refusal depends on it: `refused_by`, except
    /// where the case holds by construction.
    pub switch: &'static [Check],
    pub tamper: Tamper,
}

impl Case {
    /// The honest witness of `epoch` with this case's tamper applied.
    pub fn tampered(&self, epoch: &Epoch) -> (StatementWitness, Vec<Fr>) {
        let (mut w, mut instances) = honest(epoch);
        let before = (w.clone(), instances.clone());
        (self.tamper)(&mut w, &mut instances);
        assert!(
            before != (w.clone(), instances.clone()),
            "{}: the tamper changed nothing",
            self.name
        );
        (w, instances)
    }
}

fn case(spec: u8, name: &'static str, refused_by: &'static [Check], tamper: Tamper) -> Case {
    Case {
        spec,
        name,
        refused_by,
        switch: refused_by,
        tamper,
    }
}

/// SPEC's twelve cases (some in several forms), and the padding and rate rules.
pub fn cases() -> Vec<Case> {
    vec![
        case(
            1,
            "a share that is not the floor (one more, remainder negative)",
            &[Check::ShareRemainderBits],
            |w, i| {
                // A query with a residual to take the extra unit from.
                let (q, total) = weighted_query(w, |q| residual(w, q) >= 1);
                w.queries[q].share[0] += Fr::ONE;
                w.queries[q].share_remainder[0] -= total;
                repay(w, i);
            },
        ),
        case(
            2,
            "a remainder not below its divisor (one less share)",
            &[Check::ShareRemainderBelowWeight],
            |w, i| {
                let (q, total) = weighted_query(w, |_| true);
                w.queries[q].share[0] -= Fr::ONE;
                w.queries[q].share_remainder[0] += total;
                repay(w, i);
            },
        ),
        case(
            3,
            "a negative score that was paid",
            &[Check::ScoreSplit],
            |w, i| {
                // Claim the pattern's low bits as a positive magnitude and pay the slot.
                let (q, j) = slot_with_sign(w, true);
                w.queries[q].negative[j] = Fr::ZERO;
                reshare(w, q);
                repay(w, i);
            },
        ),
        case(
            4,
            "a slot duplicated in the per-adapter totals",
            &[Check::SlotCounts],
            |w, _| {
                w.payee_slots[0] += Fr::ONE;
            },
        ),
        case(
            4,
            "a slot dropped from the per-adapter totals",
            &[Check::SlotCounts],
            |w, _| {
                let m = w
                    .payee_slots
                    .iter()
                    .position(|c| u64_of(*c) >= 2)
                    .expect("a payee in two slots");
                w.payee_slots[m] -= Fr::ONE;
                w.unused_slots += Fr::ONE;
            },
        ),
        case(
            4,
            "a share moved to another adapter's total",
            &[Check::SlotShares],
            |w, i| {
                let mut payouts = listed_payouts(w);
                let from = payouts
                    .iter()
                    .position(|p| p.amount > 0)
                    .expect("a paid adapter");
                payouts[from].amount -= 1;
                let to = (from + 1) % payouts.len();
                assert_ne!(from, to, "the epoch has two payees");
                payouts[to].amount += 1;
                set_payouts(w, i, &payouts);
            },
        ),
        case(
            4,
            "an adapter paid 0 left off the payout list",
            &[Check::SlotCounts],
            |w, i| {
                // A new used slot whose negative score clips its weight (and share) to 0: its
                // adapter, named nowhere else, is owed a listed payout of 0. The list stays.
                let fresh = w
                    .queries
                    .iter()
                    .flat_map(|q| q.adapter.iter().map(|a| u64_of(*a)))
                    .max()
                    .unwrap()
                    + 1;
                let record = &mut w.queries[0];
                let j = (0..SLOTS)
                    .find(|&j| record.adapter[j] == Fr::ZERO)
                    .expect("a query with an unused slot");
                let pattern = u64::from((-5i32) as u32);
                record.adapter[j] = Fr::from(fresh);
                record.gate[j] = Fr::from(7);
                record.score[j] = Fr::from(pattern);
                record.negative[j] = Fr::ONE;
                record.magnitude[j] = Fr::from(pattern & 0x7fff_ffff);
                #[cfg(feature = "mutation")]
                {
                    record.influence_adapter[j] = Fr::from(fresh);
                }
                recommit_logs(w, i);
                let payouts = listed_payouts(w);
                set_payouts(w, i, &payouts);
            },
        ),
        Case {
            spec: 5,
            name: "an adapter that differs between the two logs (holds by construction)",
            // One adapter cell feeds both leaves, so the witness cannot hold two adapters: a
            // prover can only publish an influence commitment of other records, which its
            // binding refuses. `negative.rs` checks the construction itself.
            refused_by: &[Check::PublicInput(3)],
            switch: &[Check::LeavesShareAdapter],
            tamper: |w, i| {
                let mut queries = records(w);
                queries[0].slots[0].adapter_id += 1;
                i[3] = log_commitment(&Bn254Family, &queries, Log::Influence).unwrap();
                // What a mutated build with a separate influence adapter cell reads.
                #[cfg(feature = "mutation")]
                {
                    w.queries[0].influence_adapter[0] += Fr::ONE;
                }
            },
        },
        case(
            6,
            "a query out of order",
            &[Check::QueryIdsIncrease],
            |w, i| {
                w.queries.swap(0, 1);
                recommit_logs(w, i);
            },
        ),
        case(6, "a query repeated", &[Check::QueryIdsIncrease], |w, i| {
            w.queries[1] = w.queries[0].clone();
            recommit_logs(w, i);
            repay(w, i);
        }),
        case(
            7,
            "slots not in canonical form (two used slots swapped)",
            &[Check::SlotAdaptersIncrease],
            |w, i| {
                let (q, _) = weighted_query(w, |_| true);
                let record = &mut w.queries[q];
                for field in [
                    &mut record.adapter,
                    &mut record.gate,
                    &mut record.score,
                    &mut record.negative,
                    &mut record.magnitude,
                    &mut record.share,
                    &mut record.share_remainder,
                ] {
                    field.swap(0, 1);
                }
                #[cfg(feature = "mutation")]
                record.influence_adapter.swap(0, 1);
                recommit_logs(w, i);
            },
        ),
        case(
            7,
            "an unused slot with a gate",
            &[Check::UnusedSlotGateZero],
            |w, i| {
                let record = &mut w.queries[0];
                let j = (0..SLOTS)
                    .find(|&j| record.adapter[j] == Fr::ZERO)
                    .expect("a query with an unused slot");
                record.gate[j] = Fr::from(7);
                recommit_logs(w, i);
            },
        ),
        case(
            8,
            "a log that does not open to its published commitment (a fee changed)",
            &[Check::PublicInput(2)],
            |w, i| {
                // The rule and totals follow the new fee; the published commitment does not.
                w.queries[2].fee += Fr::ONE;
                rerule(w, 2);
                repay(w, i);
            },
        ),
        case(
            9,
            "a payout list out of order",
            &[Check::PayeeAdaptersIncrease],
            |w, i| {
                let mut payouts = listed_payouts(w);
                payouts.swap(0, 1);
                set_payouts(w, i, &payouts);
            },
        ),
        case(
            9,
            "adapter 0 listed as a payee (standing for one unused slot)",
            &[Check::PayeeAdaptersIncrease],
            |w, i| {
                let mut payouts = listed_payouts(w);
                payouts.insert(
                    0,
                    Payout {
                        adapter_id: 0,
                        amount: 0,
                    },
                );
                set_payouts(w, i, &payouts);
                // Both sums still balance: the count at adapter 0 is split between the payee
                // and the unused slots.
                let unused = w.unused_slots;
                w.payee_slots[0] = Fr::ONE;
                w.unused_slots = unused - Fr::ONE;
            },
        ),
        case(
            10,
            "a payout commitment that does not open to the totals",
            &[Check::PublicInput(8)],
            |_, i| {
                i[8] += Fr::ONE;
            },
        ),
        case(
            10,
            "a payee that no slot names (listed with amount 0)",
            &[Check::PayeeCountAtLeastFlag],
            |w, i| {
                list_phantom_payee(w, i);
            },
        ),
        case(
            10,
            "a payee that no slot names, counted as used once",
            &[Check::SlotCounts],
            |w, i| {
                let m = list_phantom_payee(w, i);
                w.payee_slots[m] = Fr::ONE;
            },
        ),
        case(
            11,
            "a treasury that does not add up",
            &[Check::PublicInput(7)],
            |_, i| {
                i[7] += Fr::ONE;
            },
        ),
        case(
            11,
            "a total paid that does not add up",
            &[Check::PublicInput(6)],
            |_, i| {
                i[6] += Fr::ONE;
            },
        ),
        case(
            11,
            "a total pool that does not add up",
            &[Check::PublicInput(5)],
            |_, i| {
                i[5] += Fr::ONE;
            },
        ),
        case(
            11,
            "totals that do not add up (an amount raised, published total paid raised)",
            // Conservation follows from the share sums (amounts = shares, treasury = pool -
            // shares), so no tamper breaks it alone.
            &[Check::SlotShares, Check::Conservation],
            |w, i| {
                let mut payouts = listed_payouts(w);
                payouts[0].amount += 1;
                set_payouts(w, i, &payouts);
            },
        ),
        case(
            12,
            "a value that wraps the field (pool remainder negative)",
            &[Check::PoolRemainderBits],
            |w, i| {
                w.queries[0].pool += Fr::ONE;
                w.queries[0].pool_remainder -= Fr::from(10_000);
                reshare(w, 0);
                repay(w, i);
            },
        ),
        case(
            12,
            "a value that wraps the field (magnitude negative: a positive score left unpaid)",
            &[Check::MagnitudeBits],
            |w, i| {
                // magnitude - 2^31 with the sign bit set still splits the same pattern.
                let (q, j) = slot_with_sign(w, false);
                w.queries[q].negative[j] = Fr::ONE;
                w.queries[q].magnitude[j] -= Fr::from(1u64 << 31);
                reshare(w, q);
                repay(w, i);
            },
        ),
        case(
            0,
            "padding: a record past the count that carries a pool",
            &[Check::PaddingRecordNoPool],
            |w, i| {
                let n = n_real(&w.real);
                w.queries[n].fee = Fr::from(1_000_000_000);
                rerule(w, n);
                // Its pool goes into the published total pool and treasury.
                repay(w, i);
            },
        ),
        case(
            0,
            "padding: a record past the count that names an adapter",
            &[Check::PaddingRecordNoSlot],
            |w, i| {
                let n = n_real(&w.real);
                let adapter = w.payees[0].0;
                let record = &mut w.queries[n];
                record.adapter[0] = adapter;
                record.gate[0] = Fr::from(7);
                record.score[0] = Fr::from(5);
                record.magnitude[0] = Fr::from(5);
                #[cfg(feature = "mutation")]
                {
                    record.influence_adapter[0] = adapter;
                }
                reshare(w, n);
                // Its slot is counted for its adapter.
                repay(w, i);
            },
        ),
        case(
            0,
            "public inputs: a rate above 10000",
            &[Check::RateAtMost10000],
            |w, i| {
                w.rate = Fr::from(10_001);
                i[1] = w.rate;
                for q in 0..n_real(&w.real) {
                    rerule(w, q);
                }
                repay(w, i);
            },
        ),
    ]
}
