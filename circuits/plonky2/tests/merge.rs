//! The merge circuit in real recursive proofs. Level-0 children here are proofs of a stand-in
//! circuit that only exposes a native summary as public inputs (cheap, and free to carry any
//! summary a cheat needs), so these tests check the merge constraints, not a batch; real batch
//! proofs merge in tests/pipeline.rs.

use std::panic::{catch_unwind, AssertUnwindSafe};
use zkattr_model::commit::commit_epoch;
use zkattr_model::synth::{generate, SynthConfig};
use zkattr_model::Settlement;
use zkattr_plonky2::aggregation::merge::MergeCircuit;
use zkattr_plonky2::aggregation::native::{
    listed_payees, listed_slot_counts, BatchSummary, Challenges,
};
use zkattr_plonky2::GoldilocksFamily;

mod common;
use common::{prove_stand_in, stand_in, Proof};

fn rejected(circuit: &MergeCircuit, left: &Proof, right: &Proof) -> bool {
    match catch_unwind(AssertUnwindSafe(|| circuit.prove(left, right))) {
        Err(_) | Ok(Err(_)) => true,
        Ok(Ok(proof)) => circuit.data.verify(proof).is_err(),
    }
}

#[test]
fn merges_prove_adjacent_batches_and_reject_cheats() {
    let epoch = generate(&SynthConfig::new(16, 6, 3));
    let settlement = Settlement::compute(&epoch).unwrap();
    let c = commit_epoch(&GoldilocksFamily, &epoch, &settlement).unwrap();
    let ch = Challenges::derive(
        &epoch.params,
        &c,
        &listed_slot_counts(&listed_payees(&epoch, &settlement)),
    )
    .unwrap();
    let summary = |index: u64, range: std::ops::Range<usize>| {
        BatchSummary::of_batch(epoch.params, ch, 2, index, &epoch.queries[range]).unwrap()
    };
    let s: Vec<BatchSummary> = (0..4)
        .map(|b| summary(b as u64, 4 * b..4 * b + 4))
        .collect();

    let leaf = stand_in(3);
    let proofs: Vec<Proof> = s.iter().map(|x| prove_stand_in(&leaf, x)).collect();
    let merge1 = MergeCircuit::build(&leaf.0.verifier_data(), 2);

    // Honest: the parent's public inputs are the native merge's.
    let p01 = merge1.prove(&proofs[0], &proofs[1]).unwrap();
    merge1.data.verify(p01.clone()).unwrap();
    let s01 = BatchSummary::merge(&s[0], &s[1]).unwrap();
    assert_eq!(p01.public_inputs, s01.to_fields());
    let p23 = merge1.prove(&proofs[2], &proofs[3]).unwrap();
    let s23 = BatchSummary::merge(&s[2], &s[3]).unwrap();
    assert_eq!(p23.public_inputs, s23.to_fields());

    // Swapped children, non-siblings (a dropped batch between them).
    assert!(rejected(&merge1, &proofs[1], &proofs[0]));
    assert!(rejected(&merge1, &proofs[0], &proofs[2]));
    // Order across the seam: batch 1's contents proved at index 0 and batch 0's at index 1.
    let a = prove_stand_in(&leaf, &summary(0, 4..8));
    let b = prove_stand_in(&leaf, &summary(1, 0..4));
    assert!(rejected(&merge1, &a, &b));
    // A hole: three queries on the left, a non-empty right.
    let short = prove_stand_in(&leaf, &summary(0, 0..3));
    assert!(rejected(&merge1, &short, &proofs[1]));
    // A proof of another circuit of the same shape (another constant) and the same inputs.
    let other = stand_in(7);
    assert!(other.0.common == leaf.0.common);
    assert_ne!(
        other.0.verifier_only.circuit_digest,
        leaf.0.verifier_only.circuit_digest
    );
    let foreign = prove_stand_in(&other, &s[1]);
    other.0.verify(foreign.clone()).unwrap();
    assert!(rejected(&merge1, &proofs[0], &foreign));

    // Padding: the empty subtree right of batch 2 is a constant, not a proof; the parent is
    // the native merge with `BatchSummary::empty`. A left child at an odd index has no
    // padding sibling.
    let padded = merge1.prove_with_empty_right(&proofs[2]).unwrap();
    merge1.data.verify(padded.clone()).unwrap();
    let empty = BatchSummary::empty(epoch.params, ch, 2, 3);
    assert_eq!(
        padded.public_inputs,
        BatchSummary::merge(&s[2], &empty).unwrap().to_fields()
    );
    assert!(match catch_unwind(AssertUnwindSafe(
        || merge1.prove_with_empty_right(&proofs[1])
    )) {
        Err(_) | Ok(Err(_)) => true,
        Ok(Ok(proof)) => merge1.data.verify(proof).is_err(),
    });

    // Children that disagree on the epoch, the rate or a challenge; a child of another height.
    let mut other_epoch = s[1];
    other_epoch.params.epoch_id += 1;
    let mut other_rate = s[1];
    other_rate.params.rate_bps += 1;
    let mut other_beta = s[1];
    other_beta.challenges.beta += other_beta.challenges.beta;
    let mut lower = s[1];
    lower.height = 1;
    for (cheat, what) in [
        (other_epoch, "epoch id"),
        (other_rate, "rate"),
        (other_beta, "beta"),
        (lower, "height"),
    ] {
        assert!(BatchSummary::merge(&s[0], &cheat).is_err(), "native {what}");
        let cheat = prove_stand_in(&leaf, &cheat);
        assert!(
            rejected(&merge1, &proofs[0], &cheat),
            "a child of another {what}"
        );
    }

    // The seam: a right child starting at the left's last id is refused; one starting right
    // after it across the 32-bit limb boundary (a borrow of 1) is accepted.
    let mut repeat = s[1];
    repeat.first_query = s[0].last_query;
    assert!(rejected(
        &merge1,
        &proofs[0],
        &prove_stand_in(&leaf, &repeat)
    ));
    let (mut below, mut above) = (s[0], s[1]);
    below.last_query = Some((1 << 32) - 1);
    above.first_query = Some(1 << 32);
    above.last_query = Some((1 << 32) + 3);
    let seam = merge1
        .prove(
            &prove_stand_in(&leaf, &below),
            &prove_stand_in(&leaf, &above),
        )
        .expect("ids across the limb boundary merge");
    assert_eq!(
        seam.public_inputs,
        BatchSummary::merge(&below, &above).unwrap().to_fields()
    );

    // Totals: low limbs that carry into the high limb add as the native merge does; a sum of
    // 2^64 or more is refused (natively an overflow).
    let (mut low, mut high) = (s[0], s[1]);
    low.total_pool = (1 << 32) - 1;
    high.total_pool = (3 << 32) + 5;
    let carried = merge1
        .prove(&prove_stand_in(&leaf, &low), &prove_stand_in(&leaf, &high))
        .expect("a carry merges");
    assert_eq!(
        carried.public_inputs,
        BatchSummary::merge(&low, &high).unwrap().to_fields()
    );
    low.total_paid = 1 << 63;
    high.total_paid = 1 << 63;
    assert!(BatchSummary::merge(&low, &high).is_err(), "native overflow");
    assert!(rejected(
        &merge1,
        &prove_stand_in(&leaf, &low),
        &prove_stand_in(&leaf, &high)
    ));

    // Level 2 over level-1 proofs: the whole 16-query subtree.
    let merge2 = MergeCircuit::build(&merge1.data.verifier_data(), 3);
    let top = merge2.prove(&p01, &p23).unwrap();
    merge2.data.verify(top.clone()).unwrap();
    let native = BatchSummary::merge(&s01, &s23).unwrap();
    assert_eq!(top.public_inputs, native.to_fields());
    // A level-0 proof is not accepted where a level-1 proof is expected.
    assert!(rejected(&merge2, &p01, &proofs[2]));
}
