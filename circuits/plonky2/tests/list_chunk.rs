//! The chunk circuit of a payout list proved in pieces, in real proofs: honest chunks (full,
//! partly filled, all padding) expose exactly the native `ChunkSummary`, and the constraints the
//! chunk adds to the final layer's per-entry ones are each refused alone: the first entry not
//! above the start state's adapter, and a real-looking entry past the count. (The per-entry
//! constraints themselves are `payee_entry`'s, tampered one by one in tests/final_layer.rs.)

use std::panic::{catch_unwind, AssertUnwindSafe};
use zkattr_model::commit::commit_epoch;
use zkattr_model::synth::{generate, SynthConfig};
use zkattr_model::Settlement;
use zkattr_plonky2::aggregation::chunks::circuit::ChunkCircuit;
use zkattr_plonky2::aggregation::chunks::native::{chunk_list, ChunkSummary, ListState};
use zkattr_plonky2::aggregation::final_layer::PayeeWitness;
use zkattr_plonky2::aggregation::native::{
    listed_payees, listed_slot_counts, Challenges, ListedPayee,
};
use zkattr_plonky2::GoldilocksFamily;

/// Chunks of 8 entries.
const HEIGHT: u32 = 3;

/// 31 payees (40 queries over 60 adapters, seed 3) and their challenges; one large fee so that
/// some amounts reach 2^32 and the high-limb column is not all zero.
fn list() -> (Challenges, Vec<ListedPayee>) {
    let mut epoch = generate(&SynthConfig::new(40, 60, 3));
    epoch.queries[9].fee = 1 << 40;
    let settlement = Settlement::compute(&epoch).unwrap();
    let c = commit_epoch(&GoldilocksFamily, &epoch, &settlement).unwrap();
    let payees = listed_payees(&epoch, &settlement);
    assert_eq!(payees.len(), 31);
    let ch = Challenges::derive(&epoch.params, &c, &listed_slot_counts(&payees)).unwrap();
    (ch, payees)
}

/// Whether the chunk circuit proves `entries[..count]` (further entries fill padding
/// positions) from `summary`'s challenges and start state, with a proof that verifies.
fn accepted(
    circuit: &ChunkCircuit,
    summary: &ChunkSummary,
    entries: &[PayeeWitness],
    count: usize,
) -> bool {
    match catch_unwind(AssertUnwindSafe(|| {
        circuit.prove_entries(summary, entries, count)
    })) {
        Ok(Ok(proof)) => circuit.data.verify(proof).is_ok(),
        Err(_) | Ok(Err(_)) => false,
    }
}

#[test]
fn honest_chunks_expose_the_native_summary() {
    let (ch, payees) = list();
    let circuit = ChunkCircuit::build(HEIGHT);
    let split = chunk_list(ch, HEIGHT, 8, &payees).unwrap();
    // Full chunks 0-2, chunk 3 with 7 entries, chunk 4 all padding.
    for (i, summary) in split.iter().enumerate().take(5) {
        let from = (i * 8).min(payees.len());
        let to = ((i + 1) * 8).min(payees.len());
        let proof = circuit.prove(summary, &payees[from..to]).unwrap();
        assert_eq!(proof.public_inputs.len(), ChunkSummary::LEN);
        assert_eq!(proof.public_inputs, summary.to_fields(), "chunk {i}");
        circuit.data.verify(proof).unwrap();
    }
    assert_eq!(split[3].n_payees, 7);
    assert_eq!(split[4].n_payees, 0);
    assert!(
        split.iter().any(|c| c.high_sum > 0),
        "an amount of 2^32 or more"
    );
}

#[test]
fn a_chunk_must_continue_above_its_start_and_keep_padding_empty() {
    let (ch, payees) = list();
    let circuit = ChunkCircuit::build(HEIGHT);
    let split = chunk_list(ch, HEIGHT, 4, &payees).unwrap();
    let entries: Vec<PayeeWitness> = payees[8..16].iter().map(PayeeWitness::from).collect();
    // The control: chunk 1 as it is.
    assert!(accepted(&circuit, &split[1], &entries, 8));

    // Started from its own first adapter: the first entry is not above it.
    let from_own_first = ChunkSummary {
        start: ListState {
            previous: payees[8].payout.adapter_id,
            ..split[1].start
        },
        ..split[1]
    };
    assert!(!accepted(&circuit, &from_own_first, &entries, 8));
    // One below it is the boundary that holds.
    let from_just_below = ChunkSummary {
        start: ListState {
            previous: payees[8].payout.adapter_id - 1,
            ..split[1].start
        },
        ..split[1]
    };
    assert!(accepted(&circuit, &from_just_below, &entries, 8));

    // Seven counted, the eighth entry left in its padding position.
    assert!(!accepted(&circuit, &split[1], &entries, 7));
    assert!(accepted(&circuit, &split[1], &entries[..7], 7));
}
