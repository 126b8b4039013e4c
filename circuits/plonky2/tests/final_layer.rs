//! The final layer in real proofs, over a stand-in root (tests/common: a circuit that only
//! exposes a summary), so each cheat below carries a root summary consistent with it (the
//! challenges hashed from the cheat's own payout commitment, the accumulator of its own list)
//! and only the one constraint it aims at can reject it. Honest aggregation runs end to end in
//! tests/pipeline.rs.

use plonky2::field::extension::quadratic::QuadraticExtension;
use plonky2::field::types::{Field, Field64, PrimeField64};
use plonky2::hash::poseidon::PoseidonHash;
use plonky2::plonk::config::Hasher;
use std::panic::{catch_unwind, AssertUnwindSafe};
use zkattr_model::commit::{commit_epoch, tag, CommitmentFamily, EpochCommitments};
use zkattr_model::merkle;
use zkattr_model::synth::{generate, SynthConfig};
use zkattr_model::types::PAYOUT_TREE_DEPTH;
use zkattr_model::{Epoch, Settlement};
use zkattr_plonky2::aggregation::final_layer::{FinalCircuit, PayeeWitness};
use zkattr_plonky2::aggregation::native::{
    listed_payees, slot_count_digest, BatchSummary, Challenges, Ext,
};
use zkattr_plonky2::native::F;
use zkattr_plonky2::statement::StatementPublicInputs;
use zkattr_plonky2::GoldilocksFamily;

mod common;
use common::{prove_stand_in, stand_in, Proof, StandIn};

/// The stand-in root covers the whole 16-query epoch: one subtree of height 4.
const HEIGHT: u32 = 4;
const CAPACITY: usize = 8;

struct Setup {
    epoch: Epoch,
    honest: Vec<PayeeWitness>,
    logs: EpochCommitments<zkattr_plonky2::native::Digest>,
    expected: Vec<F>,
    root_circuit: StandIn,
    last: FinalCircuit,
}

impl Setup {
    fn new() -> Self {
        let mut epoch = generate(&SynthConfig::new(16, 6, 3));
        // One large fee, so some payee's amount reaches 2^32 (synthetic fees stay below 10^7).
        epoch.queries[0].fee = 1 << 40;
        let settlement = Settlement::compute(&epoch).unwrap();
        let logs = commit_epoch(&GoldilocksFamily, &epoch, &settlement).unwrap();
        let expected = StatementPublicInputs::new(&epoch, &settlement, &logs).to_fields();
        let honest = listed_payees(&epoch, &settlement)
            .iter()
            .map(PayeeWitness::from)
            .collect::<Vec<_>>();
        assert!(honest.len() < CAPACITY, "room for one more entry");
        let root_circuit = stand_in(3);
        let last = FinalCircuit::build(&root_circuit.0.verifier_data(), HEIGHT, CAPACITY);
        Setup {
            epoch,
            honest,
            logs,
            expected,
            root_circuit,
            last,
        }
    }

    /// The challenges of the epoch's logs with the payout list `entries[..count]` and its slot
    /// counts committed exactly as given (the leaf hashes the limbs, canonical or not).
    fn challenges(&self, entries: &[PayeeWitness], count: usize) -> Challenges {
        let family = GoldilocksFamily;
        let leaves = entries[..count]
            .iter()
            .map(|e| PoseidonHash::hash_no_pad(&[e.adapter, e.amount[0], e.amount[1]]))
            .collect();
        let root = merkle::root(&family, PAYOUT_TREE_DEPTH, leaves).unwrap();
        let commitments = EpochCommitments {
            payout: family.commitment(tag::PAYOUT_COMMITMENT, &root, count as u64),
            ..self.logs
        };
        let counts: Vec<F> = entries[..count].iter().map(|e| e.slots).collect();
        Challenges::derive(
            &self.epoch.params,
            &commitments,
            &slot_count_digest(&counts),
        )
        .unwrap()
    }

    /// The root summary the batches would expose under the challenges of `entries[..count]`.
    fn summary(&self, entries: &[PayeeWitness], count: usize) -> BatchSummary {
        let ch = self.challenges(entries, count);
        BatchSummary::of_batch(self.epoch.params, ch, HEIGHT, 0, &self.epoch.queries).unwrap()
    }

    /// A root summary that agrees with `entries[..count]` on everything the final layer checks
    /// against it: the list's own challenges, its accumulator under them (the field value of
    /// the limbs), and a total paid (and pool, no treasury) of `paid`.
    fn agreeing(&self, entries: &[PayeeWitness], count: usize, paid: u64) -> BatchSummary {
        let mut summary = self.summary(entries, count);
        summary.accumulator = accumulator(&summary.challenges, &entries[..count]);
        summary.total_paid = paid;
        summary.total_pool = paid;
        summary.treasury = 0;
        summary
    }

    /// Proves the final layer over `summary`; `Some` only if the proof also verifies.
    fn prove(
        &self,
        summary: &BatchSummary,
        entries: &[PayeeWitness],
        count: usize,
    ) -> Option<Proof> {
        let root = prove_stand_in(&self.root_circuit, summary);
        match catch_unwind(AssertUnwindSafe(|| {
            self.last.prove_entries(&root, entries, count)
        })) {
            Ok(Ok(proof)) => self
                .last
                .data
                .verify(proof.clone())
                .is_ok()
                .then_some(proof),
            Err(_) | Ok(Err(_)) => None,
        }
    }

    /// `entries[..count]` with a consistent root summary (its own challenges and
    /// accumulator) must be rejected.
    fn assert_rejected(&self, entries: &[PayeeWitness], count: usize, what: &str) {
        let summary = self.summary(entries, count);
        assert!(
            self.prove(&summary, entries, count).is_none(),
            "{what} was accepted"
        );
    }
}

fn small(x: u64) -> F {
    F::from_canonical_u64(x)
}

fn ext(x: F) -> Ext {
    QuadraticExtension([x, F::ZERO])
}

/// `Σ (lo + 2^32·hi + β·slots) / (α − adapter)` over `entries`, as the final layer sums them.
fn accumulator(ch: &Challenges, entries: &[PayeeWitness]) -> Ext {
    entries
        .iter()
        .map(|e| {
            let amount = e.amount[0] + e.amount[1] * small(1 << 32);
            (ext(amount) + ch.beta * ext(e.slots)) * (ch.alpha - ext(e.adapter)).inverse()
        })
        .fold(Ext::ZERO, |sum, term| sum + term)
}

/// A list of `adapters` whose amounts sum to `total`: all of it on the first entry, given in
/// two 32-bit limbs (canonical when `total < 2^64`).
fn list_paying(adapters: &[PayeeWitness], total: u64) -> Vec<PayeeWitness> {
    let mut list = adapters.to_vec();
    for e in &mut list {
        e.amount = [F::ZERO; 2];
    }
    list[0].amount = [small(total & 0xffff_ffff), small(total >> 32)];
    list
}

#[test]
fn final_layer_accepts_the_list_and_rejects_each_cheat() {
    let s = Setup::new();
    let n = s.honest.len();

    // Honest: SPEC's public inputs, exactly those of the single-proof statement.
    let summary = s.summary(&s.honest, n);
    let proof = s
        .prove(&summary, &s.honest, n)
        .expect("the honest list proves");
    assert_eq!(proof.public_inputs, s.expected);

    // An amount in non-canonical limbs: low limb + 2^32, high limb - 1. Same field value, same
    // limb sums once carried, same accumulator; only the low limb's 32-bit check refuses it.
    let mut limbs = s.honest.clone();
    let large = limbs
        .iter()
        .position(|e| e.amount[1] != F::ZERO)
        .expect("the large fee pays someone at least 2^32");
    limbs[large].amount[0] += small(1 << 32);
    limbs[large].amount[1] -= F::ONE;
    s.assert_rejected(&limbs, n, "a low amount limb of 2^32 or more");
    // The same with a high limb of 0, which wraps to p - 1: both limb checks refuse it.
    let mut wrapped = s.honest.clone();
    let below = wrapped
        .iter()
        .position(|e| e.amount[1] == F::ZERO)
        .expect("a payee paid below 2^32");
    wrapped[below].amount[0] += small(1 << 32);
    wrapped[below].amount[1] -= F::ONE;
    s.assert_rejected(&wrapped, n, "a high amount limb of p - 1");

    // Two payees out of order (the accumulator is a sum, so order matters to nothing else).
    let mut swapped = s.honest.clone();
    swapped.swap(0, 1);
    s.assert_rejected(&swapped, n, "a payout list out of order");

    // An adapter that appears in no slot, listed with amount 0 and slot count 0: its
    // accumulator term is zero, so only `slots >= 1` refuses it.
    let mut extra = s.honest.clone();
    let unused = extra[n - 1].adapter + small(1000);
    extra.push(PayeeWitness {
        adapter: unused,
        amount: [F::ZERO; 2],
        slots: F::ZERO,
    });
    s.assert_rejected(&extra, n + 1, "a payee in no slot");

    // A listed adapter of 2^32 or more (2^32 - 1 after the last one, so the step check passes),
    // with a root summary that agrees with the list: only the adapter's 32-bit check refuses it.
    let mut wide = s.honest.clone();
    wide.push(PayeeWitness {
        adapter: s.honest[n - 1].adapter + small(u32::MAX.into()),
        amount: [F::ZERO; 2],
        slots: F::ONE,
    });
    let paid = summary.total_paid;
    assert!(
        s.prove(&s.agreeing(&s.honest, n, paid), &s.honest, n)
            .is_some(),
        "the agreeing summary of the honest list is accepted (the control for the cheats below)"
    );
    assert!(
        s.prove(&s.agreeing(&wide, n + 1, paid), &wide, n + 1)
            .is_none(),
        "an adapter id of 2^32 or more was accepted"
    );

    // The counts must be fixed before the challenges: a list whose counts were chosen after
    // them (here to match an accumulator the batches never gave, as a prover solving for
    // counts would) under the challenges of the honest counts. Only the counts' digest in the
    // challenges refuses it.
    let mut recounted = s.honest.clone();
    recounted[0].slots += F::ONE;
    let mut late = summary;
    late.accumulator = accumulator(&summary.challenges, &recounted[..n]);
    assert!(
        s.prove(&late, &recounted, n).is_none(),
        "slot counts chosen after the challenges were accepted"
    );

    // Total paid below the modulus: a list paying p - 1 in all is accepted, one paying p is
    // not (above p an amount listed as its value plus p beside another listed p lower would
    // keep the accumulator and the totals). Summaries agree with each list otherwise.
    let max = F::ORDER - 1;
    let at_max = list_paying(&s.honest, max);
    assert!(
        s.prove(&s.agreeing(&at_max, n, max), &at_max, n).is_some(),
        "a total paid of p - 1 is refused"
    );
    let at_p = list_paying(&s.honest, F::ORDER);
    assert!(
        s.prove(&s.agreeing(&at_p, n, F::ORDER), &at_p, n).is_none(),
        "a total paid of p was accepted"
    );

    // A padding amount: the limb columns sum every entry, so a padding amount of 1 beside a
    // total paid (and pool) one higher keeps the totals; the list, its challenges and the
    // accumulator do not see padding. Only the padding check refuses it.
    let mut padded_amount = s.honest.clone();
    padded_amount.push(PayeeWitness {
        adapter: F::ZERO,
        amount: [F::ONE, F::ZERO],
        slots: F::ZERO,
    });
    let mut one_more = summary;
    one_more.total_paid += 1;
    one_more.total_pool += 1;
    assert!(
        s.prove(&one_more, &padded_amount, n).is_none(),
        "a non-zero padding amount was accepted"
    );

    // A high limb out of range with the same field value and column sums: one unit moved from
    // one low limb to another, and 2^-32 moved the other way between the high limbs. The
    // low limbs stay below 2^32; only the high limb's 32-bit check refuses it.
    let mut high = s.honest.clone();
    let up = high
        .iter()
        .position(|e| e.amount[0].to_canonical_u64() < u32::MAX as u64)
        .expect("a low limb below 2^32 - 1");
    let down = (0..n)
        .find(|&i| i != up && high[i].amount[0] != F::ZERO)
        .expect("another payee with a non-zero low limb");
    let shift = small(1 << 32).inverse();
    high[up].amount[0] += F::ONE;
    high[up].amount[1] -= shift;
    high[down].amount[0] -= F::ONE;
    high[down].amount[1] += shift;
    s.assert_rejected(&high, n, "a high amount limb of 2^32 or more");

    // A padding entry that is not zero: outside the list (count n), so neither the tree, the
    // accumulator nor the total sees its adapter; only the padding check refuses it.
    let mut padded = s.honest.clone();
    padded.push(PayeeWitness {
        adapter: unused,
        amount: [F::ZERO; 2],
        slots: F::ZERO,
    });
    s.assert_rejected(&padded, n, "a non-zero padding entry");

    // A root whose total paid is one more than the list's (the pool with it, so conservation
    // holds): the listed-total check refuses it.
    let mut more_paid = summary;
    more_paid.total_paid += 1;
    more_paid.total_pool += 1;
    assert!(
        s.prove(&more_paid, &s.honest, n).is_none(),
        "a total paid above the list's was accepted"
    );

    // Challenges that are not the hash of the commitments (those of another list), with the
    // accumulator the batches would have under them: only their derivation refuses it.
    let foreign = s.summary(&swapped, n);
    assert!(
        s.prove(&foreign, &s.honest, n).is_none(),
        "challenges of another payout list were accepted"
    );

    // The same at 2^32 more: the low limbs agree, the high ones do not.
    let mut more_paid_high = summary;
    more_paid_high.total_paid += 1 << 32;
    more_paid_high.total_pool += 1 << 32;
    assert!(
        s.prove(&more_paid_high, &s.honest, n).is_none(),
        "a total paid 2^32 above the list's was accepted"
    );

    // Conservation: pool one above paid + treasury.
    let mut leaky = summary;
    leaky.total_pool += 1;
    assert!(
        s.prove(&leaky, &s.honest, n).is_none(),
        "a pool above paid plus treasury was accepted"
    );

    // The accumulator: one unit moved between two payees keeps every total, not the
    // accumulator of the batches (the root summary keeps the slots' shares).
    let mut moved = s.honest.clone();
    let from = moved
        .iter()
        .position(|e| e.amount[0] != F::ZERO)
        .expect("a payee paid something");
    let to = (from + 1) % n;
    moved[from].amount[0] -= F::ONE;
    moved[to].amount[0] += F::ONE;
    assert!(moved[to].amount[0].to_canonical_u64() < 1 << 32);
    s.assert_rejected(&moved, n, "a payout list that moves one unit");
}
