//! The final layer over chunk proofs at the design's sizes, in real proofs:
//! `cargo run --release -p zkattr-plonky2 --example chunked_final -- 4 16 32` builds the chunk
//! circuit of 32,768 entries and, for each listed chunk count `K`, the final layer over `K`
//! chunks and its shrink layer; proves a small epoch through them (its payees in chunk 0,
//! one proof of the empty chunk in every other place) and prints each circuit's rows, build and
//! proving seconds, proof size and verify time. Run it under `/usr/bin/time -v` for the peak
//! memory. The root is a merge over merges of batches of 4 (2^13 rows); the pinned layouts'
//! roots, over batches of 2,048, cost the final layer more to verify (2^16 rows over 4 chunks
//! where this prints 2^15; the pin run prints theirs), so the chunk proofs' times are the
//! design's and the final layer's a lower bound.

use std::time::Instant;
use zkattr_model::synth::{generate, SynthConfig};
use zkattr_plonky2::aggregation::chunks::circuit::ChunkCircuit;
use zkattr_plonky2::aggregation::chunks::final_layer::ChunkedFinalCircuit;
use zkattr_plonky2::aggregation::chunks::native::{chunk_list, MAX_CHUNK_HEIGHT};
use zkattr_plonky2::aggregation::shrink::ShrinkCircuit;
use zkattr_plonky2::aggregation::{AggregationCircuits, AggregationShape, Resume};

fn main() -> anyhow::Result<()> {
    let counts: Vec<usize> = std::env::args()
        .skip(1)
        .map(|k| k.parse().expect("a chunk count"))
        .collect();
    let epoch = generate(&SynthConfig::new(16, 6, 3));
    let shape = AggregationShape::for_epoch(16, 6, 4)?;
    anyhow::ensure!(shape.levels == 2, "a root over merges");
    let circuits = AggregationCircuits::build(shape, &|_| {})?;
    let prepared = circuits.prepare(&epoch)?;
    let root = circuits
        .tree
        .prove_root(&epoch, prepared.challenges, Resume::none(), &|_| {})?;
    let root_data = circuits.tree.merges[1].data.verifier_data();

    let start = Instant::now();
    let chunk = ChunkCircuit::build(MAX_CHUNK_HEIGHT);
    println!(
        "chunk circuit ({} entries): 2^{} rows, built in {:.1} s",
        chunk.capacity(),
        chunk.data.common.degree_bits(),
        start.elapsed().as_secs_f64()
    );
    let split = chunk_list(prepared.challenges, MAX_CHUNK_HEIGHT, 2, &prepared.payees)?;
    let start = Instant::now();
    let first = chunk.prove(&split[0], &prepared.payees)?;
    println!(
        "chunk proof ({} payees): {:.1} s, {} bytes",
        split[0].n_payees,
        start.elapsed().as_secs_f64(),
        first.to_bytes().len()
    );
    let start = Instant::now();
    let empty = chunk.prove(&split[1], &[])?;
    println!("empty chunk proof: {:.1} s", start.elapsed().as_secs_f64());
    let chunk_data = chunk.data.verifier_data();
    drop(chunk);

    for k in counts {
        let start = Instant::now();
        let last = ChunkedFinalCircuit::build(
            &root_data,
            shape.batch_height + shape.levels,
            &chunk_data,
            MAX_CHUNK_HEIGHT,
            k,
        );
        let built = start.elapsed().as_secs_f64();
        let mut chunks = vec![&empty; k];
        chunks[0] = &first;
        let start = Instant::now();
        let proof = last.prove(&root, &chunks)?;
        let proved = start.elapsed().as_secs_f64();
        anyhow::ensure!(
            proof.public_inputs == prepared.expected,
            "the final proof's public inputs differ from the reference model's"
        );
        let final_bytes = proof.to_bytes().len();
        last.data.verify(proof.clone())?;
        println!(
            "final over {k} chunks ({} payees): 2^{} rows, built in {built:.1} s, \
             proved in {proved:.1} s, {final_bytes} bytes",
            k * (1 << MAX_CHUNK_HEIGHT),
            last.data.common.degree_bits(),
        );
        let start = Instant::now();
        let shrink = ShrinkCircuit::build(&last.data.verifier_data());
        let built = start.elapsed().as_secs_f64();
        drop(last);
        let start = Instant::now();
        let shrunk = shrink.prove(&proof)?;
        let proved = start.elapsed().as_secs_f64();
        let bytes = shrunk.to_bytes().len();
        let start = Instant::now();
        shrink.data.verify(shrunk)?;
        println!(
            "  shrink layer: 2^{} rows, built in {built:.1} s, proved in {proved:.1} s, \
             {bytes} bytes, verified in {:.1} ms",
            shrink.data.common.degree_bits(),
            start.elapsed().as_secs_f64() * 1e3
        );
    }
    Ok(())
}
