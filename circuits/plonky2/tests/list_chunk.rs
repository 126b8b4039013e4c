//! The chunk circuit of a payout list proved in pieces: honest chunks (full, partly filled, all
//! padding) satisfy every constraint and expose exactly the native `ChunkSummary` (one of them
//! in a real proof), and the constraints the chunk adds to the final layer's per-entry ones
//! are each refused alone: the first entry not above the start state's adapter, and a
//! real-looking entry past the count. Refusals are found by evaluating every gate of the built
//! circuit on the generated witness (tests/common/constraints.rs), without proving. (The
//! per-entry constraints themselves are `payee_entry`'s, tampered one by one in
//! tests/final_layer.rs.)

#[path = "common/constraints.rs"]
mod constraints;

use constraints::{assert_accepted, assert_refused_by, Finder, Tamper};
use plonky2::field::types::Field;
use std::sync::OnceLock;
use zkattr_model::commit::commit_epoch;
use zkattr_model::synth::{generate, SynthConfig};
use zkattr_model::Settlement;
use zkattr_plonky2::aggregation::chunks::circuit::ChunkCircuit;
use zkattr_plonky2::aggregation::chunks::native::{chunk_list, ChunkSummary, ListState};
use zkattr_plonky2::aggregation::final_layer::PayeeWitness;
use zkattr_plonky2::aggregation::native::{
    listed_payees, listed_slot_counts, Challenges, ListedPayee,
};
use zkattr_plonky2::native::F;
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

fn circuit() -> &'static ChunkCircuit {
    static CIRCUIT: OnceLock<ChunkCircuit> = OnceLock::new();
    CIRCUIT.get_or_init(|| ChunkCircuit::build(HEIGHT))
}

fn finder() -> &'static Finder<'static> {
    static FINDER: OnceLock<Finder<'static>> = OnceLock::new();
    FINDER.get_or_init(|| Finder::new(&circuit().data))
}

#[test]
fn honest_chunks_expose_the_native_summary() {
    let (ch, payees) = list();
    let circuit = circuit();
    let split = chunk_list(ch, HEIGHT, 8, &payees).unwrap();
    // Full chunks 0-2, chunk 3 with 7 entries, chunk 4 all padding: every constraint holds and
    // the generated public inputs are the native summary.
    for (i, summary) in split.iter().enumerate().take(5) {
        let from = (i * 8).min(payees.len());
        let to = ((i + 1) * 8).min(payees.len());
        let entries: Vec<PayeeWitness> = payees[from..to].iter().map(PayeeWitness::from).collect();
        let pw = circuit.witness(summary, &entries, entries.len()).unwrap();
        let what = format!("chunk {i}");
        assert_accepted(finder(), &pw, &Tamper::new(), &what);
        let trace = finder().generate(&pw, &Tamper::new()).unwrap();
        assert_eq!(trace.public_inputs, summary.to_fields(), "{what}");
    }
    assert_eq!(split[3].n_payees, 7);
    assert_eq!(split[4].n_payees, 0);
    assert!(
        split.iter().any(|c| c.high_sum > 0),
        "an amount of 2^32 or more"
    );
    // The partly filled chunk in a real proof.
    let proof = circuit.prove(&split[3], &payees[24..]).unwrap();
    assert_eq!(proof.public_inputs.len(), ChunkSummary::LEN);
    assert_eq!(proof.public_inputs, split[3].to_fields());
    circuit.data.verify(proof).unwrap();
}

fn chunk_1() -> (Vec<ListedPayee>, ChunkSummary, Vec<PayeeWitness>) {
    let (ch, payees) = list();
    let split = chunk_list(ch, HEIGHT, 4, &payees).unwrap();
    let entries: Vec<PayeeWitness> = payees[8..16].iter().map(PayeeWitness::from).collect();
    (payees, split[1], entries)
}

/// A chunk started from its own first adapter is refused by the first entry's step check
/// (`adapter - previous - 1 < 2^32`); one below it is the boundary that holds.
#[test]
fn a_chunk_must_continue_above_its_start() {
    let (payees, chunk, entries) = chunk_1();
    let circuit = circuit();
    let inputs = |summary: &ChunkSummary| circuit.witness(summary, &entries, 8).unwrap();
    assert_accepted(
        finder(),
        &inputs(&chunk),
        &Tamper::new(),
        "chunk 1 as it is",
    );
    let from = |previous: u32| ChunkSummary {
        start: ListState {
            previous,
            ..chunk.start
        },
        ..chunk
    };
    assert_refused_by(
        finder(),
        &inputs(&from(payees[8].payout.adapter_id)),
        &Tamper::new(),
        "RangeCheckGate",
        &[circuit.payee_labels()[0].step],
        "started from its own first adapter",
    );
    assert_accepted(
        finder(),
        &inputs(&from(payees[8].payout.adapter_id - 1)),
        &Tamper::new(),
        "started from just below its first adapter",
    );
}

/// Seven counted with the eighth entry left in its padding position: refused by the padding
/// checks `value · (1 − real) = 0` of that entry (the zero they are connected to is pinned, so
/// each product's own arithmetic constraint is the one left unsatisfied).
#[test]
fn a_chunk_must_keep_padding_empty() {
    let (_, chunk, entries) = chunk_1();
    let circuit = circuit();
    let padding = circuit.payee_labels()[7].padding;
    let tamper = padding
        .iter()
        .fold(Tamper::new(), |t, stray| t.set(*stray, F::ZERO));
    assert_refused_by(
        finder(),
        &circuit.witness(&chunk, &entries, 7).unwrap(),
        &tamper,
        "ArithmeticGate",
        &padding,
        "an eighth entry past a count of seven",
    );
    assert_accepted(
        finder(),
        &circuit.witness(&chunk, &entries[..7], 7).unwrap(),
        &Tamper::new(),
        "seven entries, padding empty",
    );
}
