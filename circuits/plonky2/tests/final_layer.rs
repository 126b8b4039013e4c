//! The final layer in real proofs, over a stand-in root (tests/common: a circuit that only
//! exposes a summary), so each cheat below carries a root summary consistent with it (the
//! challenges hashed from the cheat's own payout commitment, the accumulator of its own list)
//! and only the one constraint it aims at can reject it. Honest aggregation runs end to end in
//! tests/pipeline.rs.

use plonky2::field::types::{Field, PrimeField64};
use plonky2::hash::poseidon::PoseidonHash;
use plonky2::plonk::config::Hasher;
use std::panic::{catch_unwind, AssertUnwindSafe};
use zkattr_model::commit::{commit_epoch, tag, CommitmentFamily, EpochCommitments};
use zkattr_model::merkle;
use zkattr_model::synth::{generate, SynthConfig};
use zkattr_model::types::PAYOUT_TREE_DEPTH;
use zkattr_model::{Epoch, Settlement};
use zkattr_plonky2::aggregate::{listed_payees, BatchSummary, Challenges};
use zkattr_plonky2::final_layer::{FinalCircuit, PayeeWitness};
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

    /// The challenges of the epoch's logs with the payout list `entries[..count]` committed
    /// exactly as given (the leaf hashes the limbs, canonical or not).
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
        Challenges::derive(&self.epoch.params, &commitments).unwrap()
    }

    /// The root summary the batches would expose under the challenges of `entries[..count]`.
    fn summary(&self, entries: &[PayeeWitness], count: usize) -> BatchSummary {
        let ch = self.challenges(entries, count);
        BatchSummary::of_batch(self.epoch.params, ch, HEIGHT, 0, &self.epoch.queries).unwrap()
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
