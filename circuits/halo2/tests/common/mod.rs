//! Tampered witnesses, one per item of SPEC's "What a proof must rule out". Each tamper keeps
//! everything else consistent (the payout list, slot counts, totals and published commitments are
//! recomputed natively from the tampered values where that is possible), so a rejection comes
//! from the constraint the case names, not from a side effect.

#![allow(dead_code)]

use halo2_base::halo2_proofs::halo2curves::ff::{Field, PrimeField};
use zkattr_halo2::poseidon::Fr;
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

pub fn honest(epoch: &Epoch) -> (StatementWitness, Vec<Fr>) {
    let s = Settlement::compute(epoch).unwrap();
    let c = commit_epoch(&Bn254Family, epoch, &s).unwrap();
    (
        StatementWitness::new(shape(), epoch, &s).unwrap(),
        public_inputs(epoch, &s, &c),
    )
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

/// The first real query with at least two used slots and a non-zero total weight, and `W`.
fn weighted_query(w: &StatementWitness) -> (usize, Fr) {
    for (i, q) in w.queries.iter().enumerate() {
        let total: Fr = (0..SLOTS)
            .map(|j| {
                let clipped = (Fr::ONE - q.negative[j]) * q.magnitude[j];
                q.gate[j] * clipped
            })
            .sum();
        let used = q.adapter.iter().filter(|a| **a != Fr::ZERO).count();
        if used >= 2 && total != Fr::ZERO && q.share[0] != Fr::ZERO {
            return (i, total);
        }
    }
    panic!("the epoch has no weighted query");
}

/// A tamper: changes the witness and, where a cheating prover could, the published values.
pub type Tamper = fn(&mut StatementWitness, &mut Vec<Fr>);

/// SPEC's twelve cases, and two more (the padding and the rate bound).
pub fn cases() -> Vec<(&'static str, Tamper)> {
    vec![
        (
            "1: a share that is not the floor (one more, remainder negative)",
            |w, i| {
                let (q, total) = weighted_query(w);
                w.queries[q].share[0] += Fr::ONE;
                w.queries[q].share_remainder[0] -= total;
                repay(w, i);
            },
        ),
        (
            "2: a remainder not below its divisor (one less share)",
            |w, i| {
                let (q, total) = weighted_query(w);
                w.queries[q].share[0] -= Fr::ONE;
                w.queries[q].share_remainder[0] += total;
                repay(w, i);
            },
        ),
        ("3: a negative score that was paid", |w, i| {
            let (q, j) = w
                .queries
                .iter()
                .enumerate()
                .find_map(|(q, r)| {
                    (0..SLOTS)
                        .find(|&j| r.negative[j] == Fr::ONE && r.gate[j] != Fr::ZERO)
                        .map(|j| (q, j))
                })
                .expect("the epoch has a negative score");
            // Claim the pattern's low bits as a positive magnitude and pay the slot.
            let record = &mut w.queries[q];
            record.negative[j] = Fr::ZERO;
            let weights: Vec<u64> = (0..SLOTS)
                .map(|k| {
                    let clipped = if record.negative[k] == Fr::ONE {
                        0
                    } else {
                        u64_of(record.magnitude[k])
                    };
                    u64_of(record.gate[k]) * clipped
                })
                .collect();
            let total: u64 = weights.iter().sum();
            let pool = u64_of(record.pool) as u128;
            for (k, weight) in weights.iter().enumerate() {
                let product = pool * *weight as u128;
                record.share[k] = Fr::from((product / total as u128) as u64);
                record.share_remainder[k] = Fr::from((product % total as u128) as u64);
            }
            repay(w, i);
        }),
        ("4: a slot duplicated in the per-adapter totals", |w, _| {
            w.payee_slots[0] += Fr::ONE;
        }),
        ("4: a slot dropped from the per-adapter totals", |w, _| {
            let m = w
                .payee_slots
                .iter()
                .position(|c| u64_of(*c) >= 2)
                .expect("a payee in two slots");
            w.payee_slots[m] -= Fr::ONE;
            w.unused_slots += Fr::ONE;
        }),
        ("4: a share moved to another adapter's total", |w, i| {
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
        }),
        ("4: an adapter paid 0 left off the payout list", |w, i| {
            // A new used slot whose negative score clips its weight (and share) to 0: its
            // adapter, named nowhere else, is owed a listed payout of 0. The list stays as it was.
            let fresh = w
                .queries
                .iter()
                .flat_map(|q| q.adapter.iter().map(|a| u64_of(*a)))
                .max()
                .unwrap()
                + 1;
            let q = w.real.iter().position(|_| true).unwrap();
            let record = &mut w.queries[q];
            let j = (0..SLOTS)
                .find(|&j| record.adapter[j] == Fr::ZERO)
                .expect("a query with an unused slot");
            let pattern = u64::from((-5i32) as u32);
            record.adapter[j] = Fr::from(fresh);
            record.gate[j] = Fr::from(7);
            record.score[j] = Fr::from(pattern);
            record.negative[j] = Fr::ONE;
            record.magnitude[j] = Fr::from(pattern & 0x7fff_ffff);
            recommit_logs(w, i);
            let payouts = listed_payouts(w);
            set_payouts(w, i, &payouts);
        }),
        ("5: an adapter that differs between the two logs", |w, i| {
            let mut queries = records(w);
            queries[0].slots[0].adapter_id += 1;
            i[3] = log_commitment(&Bn254Family, &queries, Log::Influence).unwrap();
        }),
        ("6: a query out of order", |w, i| {
            w.queries.swap(0, 1);
            recommit_logs(w, i);
        }),
        ("6: a query repeated", |w, i| {
            w.queries[1] = w.queries[0].clone();
            recommit_logs(w, i);
            repay(w, i);
        }),
        (
            "7: slots not in canonical form (two used slots swapped)",
            |w, i| {
                let (q, _) = weighted_query(w);
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
                recommit_logs(w, i);
            },
        ),
        ("7: an unused slot with a gate", |w, i| {
            let q = w.real.iter().position(|_| true).unwrap();
            let record = &mut w.queries[q];
            let j = (0..SLOTS)
                .find(|&j| record.adapter[j] == Fr::ZERO)
                .expect("a query with an unused slot");
            record.gate[j] = Fr::from(7);
            recommit_logs(w, i);
        }),
        (
            "8: a log that does not open to its published commitment",
            |w, _| {
                w.queries[2].fee += Fr::ONE;
            },
        ),
        ("9: a payout list out of order", |w, i| {
            let mut payouts = listed_payouts(w);
            payouts.swap(0, 1);
            set_payouts(w, i, &payouts);
        }),
        (
            "10: a payout commitment that does not open to the totals",
            |_, i| {
                i[8] += Fr::ONE;
            },
        ),
        (
            "10: a payee that no slot names (listed with amount 0)",
            |w, i| {
                list_phantom_payee(w, i);
            },
        ),
        (
            "10: a payee that no slot names, counted as used once",
            |w, i| {
                let m = list_phantom_payee(w, i);
                w.payee_slots[m] = Fr::ONE;
            },
        ),
        (
            "9: adapter 0 listed as a payee (standing for one unused slot)",
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
        (
            "11: totals that do not add up (an amount raised)",
            |w, i| {
                let mut payouts = listed_payouts(w);
                payouts[0].amount += 1;
                set_payouts(w, i, &payouts);
            },
        ),
        ("11: a treasury that does not add up", |_, i| {
            i[7] += Fr::ONE;
        }),
        (
            "12: a value that wraps the field (pool remainder negative)",
            |w, i| {
                let q = 0;
                w.queries[q].pool += Fr::ONE;
                w.queries[q].pool_remainder -= Fr::from(10_000);
                repay(w, i);
            },
        ),
        ("12: a value that wraps the field (share -1)", |w, _| {
            let (q, total) = weighted_query(w);
            let share = w.queries[q].share[1];
            // share' = -1 and remainder' = r + (share + 1)·W keep pool·w = share·W + r.
            w.queries[q].share_remainder[1] += (share + Fr::ONE) * total;
            w.queries[q].share[1] = -Fr::ONE;
            w.queries[q].share[0] += share + Fr::ONE;
        }),
        (
            "padding: a record past the count that carries a fee and an adapter",
            |w, _| {
                let n = n_real(&w.real);
                w.queries[n] = w.queries[0].clone();
            },
        ),
        ("public inputs: a rate above 10000", |w, i| {
            w.rate = Fr::from(10_001);
            i[1] = w.rate;
        }),
    ]
}
