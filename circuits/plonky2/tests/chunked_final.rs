//! The final layer over a payout list proved in chunks, in real proofs. Most tests verify
//! stand-in chunk proofs (a circuit with 23 free public inputs, tests/common), so a cheat can
//! carry any chunk summary, including ones the chunk circuit could never prove, and each
//! cross-chunk check of the final layer is shown to refuse its cheat on its own: every cheat
//! comes with a root summary consistent with it (tests/common/chunk_cheats.rs) and is refused
//! by the native twin (`finalize_chunked`) with the error that names that check. The last tests
//! run real chunk-circuit proofs through the final layer.

use plonky2::field::types::Field;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;
use zkattr_model::synth::{generate, SynthConfig};
use zkattr_model::Epoch;
use zkattr_plonky2::aggregation::chunks::circuit::ChunkCircuit;
use zkattr_plonky2::aggregation::chunks::final_layer::ChunkedFinalCircuit;
use zkattr_plonky2::aggregation::chunks::native::{
    chunk_list, finalize_chunked, ChunkError, ChunkSummary, ListState,
};
use zkattr_plonky2::aggregation::native::{
    aggregate_epoch, AggregateError, BatchSummary, Ext, ListedPayee,
};
use zkattr_plonky2::native::F;

mod common;
use common::{free_inputs, prove_free, prove_stand_in, stand_in, Proof, StandIn};
#[path = "common/chunk_cheats.rs"]
mod chunk_cheats;
use chunk_cheats::{
    chunks_of, chunks_restarted, consistent, pieces, setup_epoch, split_across_seam,
};

/// Chunks of 4 entries, 8 of them: 32 payout-list positions.
const HEIGHT: u32 = 2;
const CHUNKS: usize = 8;

/// 12 queries over 20 adapters: 15 payees, so chunks 0-2 are full, chunk 3 holds three and
/// chunks 4-7 are empty. One large fee, so some amounts reach 2^32 and a high-limb column sum is
/// not zero.
fn standard() -> (Epoch, BatchSummary, Vec<ListedPayee>) {
    let mut epoch = generate(&SynthConfig::new(12, 20, 3));
    epoch.queries[5].fee = 1 << 40;
    let (epoch, root, payees) = setup_epoch(epoch);
    assert_eq!(payees.len(), 15);
    (epoch, root, payees)
}

/// The final layer over stand-in root and chunk proofs.
struct StandInFinal {
    root_height: u32,
    root_circuit: StandIn,
    chunk_circuit: StandIn,
    last: ChunkedFinalCircuit,
}

impl StandInFinal {
    /// One circuit for every test here (all roots of the 12-query epoch have one height).
    fn shared(root_height: u32) -> &'static Self {
        static CIRCUIT: OnceLock<StandInFinal> = OnceLock::new();
        let circuit = CIRCUIT.get_or_init(|| StandInFinal::new(root_height));
        assert_eq!(circuit.root_height, root_height);
        circuit
    }

    fn new(root_height: u32) -> Self {
        let root_circuit = stand_in(3);
        let chunk_circuit = free_inputs(ChunkSummary::LEN, 5);
        let last = ChunkedFinalCircuit::build(
            &root_circuit.0.verifier_data(),
            root_height,
            &chunk_circuit.0.verifier_data(),
            HEIGHT,
            CHUNKS,
        );
        StandInFinal {
            root_height,
            root_circuit,
            chunk_circuit,
            last,
        }
    }

    /// The final layer's public inputs over `root` and `chunks`; `None` unless a proof is made
    /// and verifies.
    fn prove(&self, root: &BatchSummary, chunks: &[ChunkSummary]) -> Option<Vec<F>> {
        let root = prove_stand_in(&self.root_circuit, root);
        let chunks: Vec<Proof> = chunks
            .iter()
            .map(|c| prove_free(&self.chunk_circuit, &c.to_fields()))
            .collect();
        let chunks: Vec<&Proof> = chunks.iter().collect();
        match catch_unwind(AssertUnwindSafe(|| self.last.prove(&root, &chunks))) {
            Ok(Ok(proof)) => {
                let inputs = proof.public_inputs.clone();
                self.last.data.verify(proof).is_ok().then_some(inputs)
            }
            Err(_) | Ok(Err(_)) => None,
        }
    }

    /// The twin refuses `chunks` under `root` with `expected`, and so does the circuit.
    fn assert_refused(
        &self,
        root: &BatchSummary,
        chunks: &[ChunkSummary],
        expected: ChunkError,
        what: &str,
    ) {
        assert_eq!(finalize_chunked(root, chunks), Err(expected), "{what}");
        assert!(self.prove(root, chunks).is_none(), "{what} was accepted");
    }
}

#[test]
fn honest_chunks_give_the_whole_list_statement() {
    let (epoch, root, payees) = standard();
    let circuit = StandInFinal::shared(root.height);
    let split = chunk_list(root.challenges, HEIGHT, CHUNKS, &payees).unwrap();
    let expected = aggregate_epoch(&epoch, 8).unwrap();
    assert_eq!(finalize_chunked(&root, &split).unwrap(), expected);
    let inputs = circuit.prove(&root, &split).expect("the honest chunks");
    assert_eq!(inputs, expected.to_fields());

    // Reordered, dropped and foreign-looking chunks.
    let mut swapped = split.clone();
    swapped.swap(1, 2);
    circuit.assert_refused(
        &root,
        &swapped,
        ChunkError::Seam { position: 1 },
        "swapped chunks",
    );
    let mut dropped = split.clone();
    dropped.remove(1);
    dropped.push(split[CHUNKS - 1]);
    circuit.assert_refused(
        &root,
        &dropped,
        ChunkError::Seam { position: 1 },
        "a dropped chunk",
    );
    let not_root = BatchSummary { index: 1, ..root };
    circuit.assert_refused(
        &not_root,
        &split,
        AggregateError::NotTheRoot { index: 1 }.into(),
        "a root summary that is not the root",
    );
}

#[test]
fn seams_hold_order_and_the_count_digest() {
    let (epoch, root, payees) = standard();
    let circuit = StandInFinal::shared(root.height);

    // One adapter's entry split across a seam, the second half proved from just below it.
    let (cheat, seam, below_split) = split_across_seam(&payees, 4);
    let (root_c, chunks) = consistent(&epoch, root.challenges, |ch| {
        chunks_restarted(ch, HEIGHT, &pieces(&cheat, 4, CHUNKS), seam, |state| {
            ListState {
                previous: below_split,
                ..state
            }
        })
    });
    circuit.assert_refused(
        &root_c,
        &chunks,
        ChunkError::Seam { position: seam },
        "an adapter on both sides of a seam",
    );

    // Chunk 2 restarts the slot-count chain.
    let (root_c, chunks) = consistent(&epoch, root.challenges, |ch| {
        chunks_restarted(ch, HEIGHT, &pieces(&payees, 4, CHUNKS), 2, |state| {
            ListState {
                slot_counts: ListState::start().slot_counts,
                ..state
            }
        })
    });
    circuit.assert_refused(
        &root_c,
        &chunks,
        ChunkError::Seam { position: 2 },
        "a chunk restarting the count digest",
    );

    // Chunk 0 from another digest than zero, and from another adapter than zero.
    let (root_c, chunks) = consistent(&epoch, root.challenges, |ch| {
        chunks_restarted(ch, HEIGHT, &pieces(&payees, 4, CHUNKS), 0, |mut state| {
            state.slot_counts.elements[0] = F::ONE;
            state
        })
    });
    circuit.assert_refused(
        &root_c,
        &chunks,
        ChunkError::Seam { position: 0 },
        "chunk 0 from a non-zero digest",
    );
    // (Only a stand-in proves this one: the first entry, adapter 1, is not above it.)
    let (root_c, mut chunks) = consistent(&epoch, root.challenges, |ch| {
        chunk_list(ch, HEIGHT, CHUNKS, &payees).unwrap()
    });
    chunks[0].start.previous = 1;
    circuit.assert_refused(
        &root_c,
        &chunks,
        ChunkError::Seam { position: 0 },
        "chunk 0 from a non-zero adapter",
    );
}

/// Chunk 0 stops one entry short and the rest shift by one: a list with an empty leaf inside.
#[test]
fn a_hole_in_the_prefix_across_chunks_is_refused() {
    let (epoch, root, payees) = standard();
    let circuit = StandInFinal::shared(root.height);
    let mut holed = vec![
        payees[..3].to_vec(),
        payees[3..7].to_vec(),
        payees[7..11].to_vec(),
        payees[11..].to_vec(),
    ];
    holed.resize(CHUNKS, Vec::new());
    let (root_c, chunks) = consistent(&epoch, root.challenges, |ch| chunks_of(ch, HEIGHT, &holed));
    circuit.assert_refused(
        &root_c,
        &chunks,
        ChunkError::HoleInPrefix { position: 1 },
        "a hole across a seam",
    );
}

/// A change to an honest list of chunk summaries.
type Cheat<'a> = dyn Fn(&mut [ChunkSummary]) + 'a;

/// Chunk 5 has no payees; each part of "the empty chunk" is moved in turn (where a sum moves,
/// a full chunk gives up as much, so the totals hold), and only the empty-chunk check can
/// refuse it.
#[test]
fn a_chunk_without_payees_must_be_the_empty_chunk() {
    let (epoch, root, payees) = standard();
    let circuit = StandInFinal::shared(root.height);
    let honest = chunk_list(root.challenges, HEIGHT, CHUNKS, &payees).unwrap();
    // A full chunk with both columns non-zero, to give up a unit of each.
    let donor = (0..3)
        .find(|&i| honest[i].low_sum > 0 && honest[i].high_sum > 0)
        .expect("a full chunk paying 2^32 or more");
    let cheats: [(&str, &Cheat<'_>); 6] = [
        ("an empty chunk moving the adapter", &|c| {
            c[5].end.previous += 7
        }),
        ("an empty chunk moving the count digest", &|c| {
            c[5].end.slot_counts.elements[0] += F::ONE
        }),
        ("an empty chunk with a non-empty root", &|c| {
            c[5].root = c[0].root
        }),
        ("an empty chunk with an accumulator", &|c| {
            c[5].accumulator += Ext::ONE;
            c[donor].accumulator -= Ext::ONE;
        }),
        ("an empty chunk with a low-limb sum", &|c| {
            c[5].low_sum += 1;
            c[donor].low_sum -= 1;
        }),
        ("an empty chunk with a high-limb sum", &|c| {
            c[5].high_sum += 1;
            c[donor].high_sum -= 1;
        }),
    ];
    for (what, cheat) in cheats {
        let (root_c, chunks) = consistent(&epoch, root.challenges, |ch| {
            let mut c = chunk_list(ch, HEIGHT, CHUNKS, &payees).unwrap();
            cheat(&mut c);
            // The chunks after the moved one follow its end state.
            let moved = c[5].end;
            for later in &mut c[6..] {
                later.start = moved;
                later.end = moved;
            }
            c
        });
        circuit.assert_refused(
            &root_c,
            &chunks,
            ChunkError::PaddingChunk { position: 5 },
            what,
        );
    }
}

#[test]
fn altered_chunk_values_are_refused() {
    let (_, root, payees) = standard();
    let circuit = StandInFinal::shared(root.height);
    let split = chunk_list(root.challenges, HEIGHT, CHUNKS, &payees).unwrap();
    let refuse_at =
        |position: usize, change: &dyn Fn(&mut ChunkSummary), expected: ChunkError, what: &str| {
            let mut cheat = split.clone();
            change(&mut cheat[position]);
            circuit.assert_refused(&root, &cheat, expected, what);
        };
    let refuse = |change: &dyn Fn(&mut ChunkSummary), expected: ChunkError, what: &str| {
        refuse_at(1, change, expected, what)
    };
    refuse(
        &|c| c.accumulator += Ext::ONE,
        AggregateError::AccumulatorMismatch.into(),
        "an altered accumulator",
    );
    refuse(
        &|c| c.low_sum += 1,
        AggregateError::TotalPaidMismatch {
            listed: root.total_paid + 1,
            accumulated: root.total_paid,
        }
        .into(),
        "an altered low-limb sum",
    );
    refuse(
        &|c| c.high_sum += 1,
        AggregateError::TotalPaidMismatch {
            listed: root.total_paid + (1 << 32),
            accumulated: root.total_paid,
        }
        .into(),
        "an altered high-limb sum",
    );
    refuse(
        &|c| c.root = split[2].root,
        AggregateError::ChallengeMismatch.into(),
        "another chunk's root",
    );
    // The last real chunk claiming one payee fewer: the commitment's count moves.
    refuse_at(
        3,
        &|c| c.n_payees -= 1,
        AggregateError::ChallengeMismatch.into(),
        "a count one short",
    );
    let mut foreign = root.challenges;
    foreign.beta += Ext::ONE;
    refuse(
        &|c| c.challenges = foreign,
        ChunkError::Challenges { position: 1 },
        "a chunk under foreign challenges",
    );
}

/// Real chunk-circuit proofs: the honest list proves the epoch's statement with one proof of
/// the empty chunk serving every chunk past the list; swapped chunks and a chunk proof of
/// another chunk circuit are refused.
#[test]
fn real_chunk_proofs_prove_the_epoch() {
    let (epoch, root, payees) = standard();
    let chunk_circuit = ChunkCircuit::build(HEIGHT);
    let root_circuit = stand_in(3);
    let last = ChunkedFinalCircuit::build(
        &root_circuit.0.verifier_data(),
        root.height,
        &chunk_circuit.data.verifier_data(),
        HEIGHT,
        CHUNKS,
    );
    assert_eq!(last.chunk_count(), CHUNKS);
    let split = chunk_list(root.challenges, HEIGHT, CHUNKS, &payees).unwrap();
    let pieces = pieces(&payees, 4, 5);
    let proofs: Vec<Proof> = split[..5]
        .iter()
        .zip(&pieces)
        .map(|(summary, piece)| chunk_circuit.prove(summary, piece).unwrap())
        .collect();
    assert_eq!(split[4].n_payees, 0);
    let mut in_order: Vec<&Proof> = proofs.iter().collect();
    in_order.resize(CHUNKS, &proofs[4]);
    let root_proof = prove_stand_in(&root_circuit, &root);
    let proof = last.prove(&root_proof, &in_order).unwrap();
    assert_eq!(
        proof.public_inputs,
        aggregate_epoch(&epoch, 8).unwrap().to_fields()
    );
    last.data.verify(proof).unwrap();

    let refused = |chunks: &[&Proof]| match catch_unwind(AssertUnwindSafe(|| {
        last.prove(&root_proof, chunks)
    })) {
        Ok(Ok(proof)) => last.data.verify(proof).is_err(),
        Err(_) | Ok(Err(_)) => true,
    };
    let mut swapped = in_order.clone();
    swapped.swap(1, 2);
    assert!(refused(&swapped), "swapped chunk proofs were accepted");
    assert!(refused(&in_order[..CHUNKS - 1]), "one chunk proof short");

    // The same entries proved by a chunk circuit of another height (8 entries, the rest of
    // chunk 0 as padding) in chunk 0's place.
    let other = ChunkCircuit::build(HEIGHT + 1);
    let other_summary = ChunkSummary::of_chunk(
        root.challenges,
        HEIGHT + 1,
        0,
        ListState::start(),
        &pieces[0],
    )
    .unwrap();
    let foreign = other.prove(&other_summary, &pieces[0]).unwrap();
    let mut mixed = in_order.clone();
    mixed[0] = &foreign;
    assert!(
        refused(&mixed),
        "a proof of another chunk circuit was accepted"
    );
}
