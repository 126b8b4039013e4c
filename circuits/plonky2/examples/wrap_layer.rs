//! The outer (wrap) layer measured: `cargo run --release -p zkattr-plonky2 --example wrap_layer
//! [-- RATE_BITS QUERIES POW_BITS [ARITY_BITS FINAL_BITS [ROUTED_WIRES]]]` builds two small
//! aggregated layouts (agg-b4-t2-p8 and agg-b4-t1-p8), says whether their shrink layers share
//! one `CommonCircuitData`, builds the outer layer over the pinned set of both, proves a
//! 10-query epoch through the shrink layer and wraps it, and prints the outer layer's degree,
//! gates, columns, build and proving times and proof size. Without arguments it uses
//! `outer_config()`.

use plonky2::fri::reduction_strategies::FriReductionStrategy;
use std::time::Instant;
use zkattr_model::synth::{generate, SynthConfig};
use zkattr_plonky2::aggregation::{AggregationCircuits, AggregationShape, Resume};
use zkattr_plonky2::wrap::{outer_config, read_outer_proof, OuterCircuit};

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("numeric arguments"))
        .collect();
    let mut config = outer_config();
    if args.len() >= 3 {
        config.fri_config.rate_bits = args[0];
        config.fri_config.num_query_rounds = args[1];
        config.fri_config.proof_of_work_bits = args[2] as u32;
    }
    if args.len() >= 5 {
        config.fri_config.reduction_strategy =
            FriReductionStrategy::ConstantArityBits(args[3], args[4]);
    }
    if args.len() >= 6 {
        config.num_routed_wires = args[5];
    }
    println!("outer FRI config: {:?}", config.fri_config);

    let epoch = generate(&SynthConfig::new(10, 5, 21));
    let shape = |levels| AggregationShape {
        batch_height: 2,
        levels,
        payee_capacity: 8,
        chunk_height: None,
    };
    let start = Instant::now();
    let a = AggregationCircuits::build(shape(2), &|_| {}).unwrap();
    let b = AggregationCircuits::build(shape(1), &|_| {}).unwrap();
    println!(
        "built agg-b4-t2-p8 and agg-b4-t1-p8 in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    let (ca, cb) = (&a.shrink.data.common, &b.shrink.data.common);
    println!(
        "shrink layers: degree 2^{} and 2^{}, final layers 2^{} and 2^{}; same CommonCircuitData: {}",
        ca.degree_bits(),
        cb.degree_bits(),
        a.last.data().common.degree_bits(),
        b.last.data().common.degree_bits(),
        ca == cb
    );
    if ca != cb {
        println!("  gates: {:?}\n  vs     {:?}", ca.gates, cb.gates);
    }
    let pinned = if ca == cb {
        vec![
            a.shrink.data.verifier_only.clone(),
            b.shrink.data.verifier_only.clone(),
        ]
    } else {
        vec![a.shrink.data.verifier_only.clone()]
    };

    let start = Instant::now();
    let outer = OuterCircuit::build_with_config(config, ca, &pinned).unwrap();
    let build = start.elapsed().as_secs_f64();
    let common = &outer.data.common;
    println!(
        "outer layer: 2^{} rows, {} wires ({} routed), {} constants, quotient degree factor {}, built in {build:.1} s",
        common.degree_bits(),
        common.config.num_wires,
        common.config.num_routed_wires,
        common.num_constants,
        common.quotient_degree_factor,
    );
    println!(
        "  FRI reduction arities: {:?}",
        common.fri_params.reduction_arity_bits
    );
    println!("  gates:");
    for gate in &common.gates {
        println!("    {}", gate.0.id());
    }

    let prepared = a.prepare(&epoch).unwrap();
    let start = Instant::now();
    let root = a
        .tree
        .prove_root(&epoch, prepared.challenges, Resume::none(), &|_| {})
        .unwrap();
    let last = a
        .prove_final(&root, &prepared.payees, Resume::none(), &|_| {})
        .unwrap();
    let shrunk = a.shrink.prove(&last).unwrap();
    println!(
        "epoch proved to the shrink layer in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    let start = Instant::now();
    let wrapped = outer.prove(&shrunk, &a.shrink.data.verifier_only).unwrap();
    let prove = start.elapsed().as_secs_f64();
    let bytes = wrapped.to_bytes();
    let start = Instant::now();
    outer.verify(&wrapped).unwrap();
    let verify = start.elapsed().as_secs_f64();
    let back = read_outer_proof(&bytes, common).unwrap();
    assert_eq!(back, wrapped);
    assert_eq!(wrapped.public_inputs, shrunk.public_inputs);
    println!(
        "outer proof: proved in {prove:.1} s, {} bytes, verified natively in {:.0} ms",
        bytes.len(),
        verify * 1e3
    );
}
