//! Whether shrink layers over inner circuits of different degrees share one
//! `CommonCircuitData` (the condition for one outer circuit over every layout):
//! `cargo run --release -p zkattr-plonky2 --example wrap_shapes -- 14 15 16 17` builds, for each
//! degree, a stand-in for a final layer (the final layer's zero-knowledge recursion
//! configuration, 22 public inputs, `2^(bits-1) + 64` no-op rows, which blinding can push one
//! degree higher) and the shrink layer over it, and prints each shrink layer's degree, its FRI
//! arities over the inner proof and its gates, and which of them share one `CommonCircuitData`
//! with the first.

use plonky2::gates::noop::NoopGate;
use plonky2::plonk::circuit_builder::CircuitBuilder;
use plonky2::plonk::circuit_data::CircuitConfig;
use zkattr_plonky2::aggregation::shrink::ShrinkCircuit;
use zkattr_plonky2::native::F;
use zkattr_plonky2::prover::Config;
use zkattr_plonky2::statement::D;

fn main() {
    let degrees: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("degree bits"))
        .collect();
    let mut first = None;
    for bits in degrees {
        let mut b = CircuitBuilder::<F, D>::new(CircuitConfig::standard_recursion_zk_config());
        let inputs = b.add_virtual_targets(22);
        b.register_public_inputs(&inputs);
        for _ in 0..(1usize << (bits - 1)) + 64 {
            b.add_gate(NoopGate, vec![]);
        }
        let inner = b.build::<Config>();
        let shrink = ShrinkCircuit::build(&inner.verifier_data());
        let common = shrink.data.common.clone();
        println!(
            "inner 2^{} (FRI arities {:?}): shrink 2^{}, {} gates types: {:?}",
            inner.common.degree_bits(),
            inner.common.fri_params.reduction_arity_bits,
            common.degree_bits(),
            common.gates.len(),
            common.gates.iter().map(|g| g.0.id()).collect::<Vec<_>>()
        );
        match &first {
            None => first = Some(common),
            Some(f) => println!("  same CommonCircuitData as the first: {}", *f == common),
        }
    }
}
