//! Batch proofs expose exactly the native twin's summary and refuse records out of order.
//! Batch proofs merging into their parent in real recursion: `tests/pipeline.rs`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use zkattr_model::commit::commit_epoch;
use zkattr_model::synth::{generate, SynthConfig};
use zkattr_model::Settlement;
use zkattr_plonky2::aggregate::Challenges;
use zkattr_plonky2::batch::{expected_summary, BatchCircuit};
use zkattr_plonky2::GoldilocksFamily;

#[test]
fn batch_proofs_match_the_native_summary() {
    let epoch = generate(&SynthConfig::new(8, 5, 21));
    let settlement = Settlement::compute(&epoch).unwrap();
    let c = commit_epoch(&GoldilocksFamily, &epoch, &settlement).unwrap();
    let ch = Challenges::derive(&epoch.params, &c).unwrap();
    let (p, q) = (epoch.params, &epoch.queries);

    let batch = BatchCircuit::build(2);
    let start = std::time::Instant::now();
    let left = batch.prove(p, ch, 0, &q[0..4]).unwrap();
    let batch_seconds = start.elapsed().as_secs_f64();
    let right = batch.prove(p, ch, 1, &q[4..8]).unwrap();
    batch.data.verify(left.clone()).unwrap();
    batch.data.verify(right.clone()).unwrap();
    assert_eq!(
        left.public_inputs,
        expected_summary(p, ch, 2, 0, &q[0..4]).unwrap()
    );
    assert_eq!(
        right.public_inputs,
        expected_summary(p, ch, 2, 1, &q[4..8]).unwrap()
    );

    // A partial batch: padding records contribute nothing, first/last are the real ones.
    let partial = batch.prove(p, ch, 1, &q[4..7]).unwrap();
    assert_eq!(
        partial.public_inputs,
        expected_summary(p, ch, 2, 1, &q[4..7]).unwrap()
    );

    // Records out of order cannot be proved (or do not verify).
    let swapped = [q[1], q[0], q[2], q[3]];
    let bad = catch_unwind(AssertUnwindSafe(|| batch.prove(p, ch, 0, &swapped)));
    let accepted = matches!(bad, Ok(Ok(proof)) if batch.data.verify(proof.clone()).is_ok());
    assert!(!accepted, "a batch out of order was accepted");

    eprintln!(
        "batch of 4: 2^{} rows, proved in {batch_seconds:.1} s",
        batch.data.common.degree_bits(),
    );
}
