//! End to end in real proofs: two batch proofs, one merge, the final layer; its public inputs
//! are exactly the single-proof statement's; an altered payout list is rejected.

use std::panic::{catch_unwind, AssertUnwindSafe};
use zkattr_model::commit::commit_epoch;
use zkattr_model::synth::{generate, SynthConfig};
use zkattr_model::Settlement;
use zkattr_plonky2::aggregate::{listed_payees, Challenges};
use zkattr_plonky2::batch::BatchCircuit;
use zkattr_plonky2::final_layer::FinalCircuit;
use zkattr_plonky2::merge::MergeCircuit;
use zkattr_plonky2::statement::StatementPublicInputs;
use zkattr_plonky2::GoldilocksFamily;

#[test]
fn an_aggregated_epoch_proves_the_single_proof_statement() {
    let epoch = generate(&SynthConfig::new(8, 5, 21));
    let settlement = Settlement::compute(&epoch).unwrap();
    let c = commit_epoch(&GoldilocksFamily, &epoch, &settlement).unwrap();
    let ch = Challenges::derive(&epoch.params, &c).unwrap();
    let (p, q) = (epoch.params, &epoch.queries);

    let batch = BatchCircuit::build(2);
    let left = batch.prove(p, ch, 0, &q[0..4]).unwrap();
    let right = batch.prove(p, ch, 1, &q[4..8]).unwrap();
    let merge = MergeCircuit::build(&batch.data.verifier_data());
    let root = merge.prove(&left, &right).unwrap();
    let last = FinalCircuit::build(&merge.data.verifier_data(), 3, 8);

    let payees = listed_payees(&epoch, &settlement);
    let proof = last.prove(&root, &payees).unwrap();
    last.data.verify(proof.clone()).unwrap();
    let expected = StatementPublicInputs::new(&epoch, &settlement, &c).to_fields();
    assert_eq!(proof.public_inputs, expected);
    eprintln!(
        "final layer: 2^{} rows, proof {} bytes",
        last.data.common.degree_bits(),
        proof.to_bytes().len()
    );

    // One unit moved between two payees: totals still add, the accumulator does not.
    let mut moved = payees.clone();
    let from = moved.iter().position(|x| x.payout.amount > 0).unwrap();
    let to = (from + 1) % moved.len();
    moved[from].payout.amount -= 1;
    moved[to].payout.amount += 1;
    let forged = catch_unwind(AssertUnwindSafe(|| last.prove(&root, &moved)));
    let accepted = matches!(forged, Ok(Ok(proof)) if last.data.verify(proof.clone()).is_ok());
    assert!(!accepted, "an altered payout list was accepted");
}
