//! Rows of the plonky2 circuits, by part: `cargo run --release -p zkattr-plonky2 --example rows --
//! 4 6 8` prints the gates one query's record, rule and leaves take, the gates of one entry of
//! the final layer's payout list, each ladder statement's degree, then each listed batch
//! height's degree; an argument `chunkH` prints the degree of the payout-list chunk circuit of
//! height `H` instead, with the gates one recursive verification of it takes (`-- chunk14` and
//! `-- chunk15` for the design's 16,384 and 32,768 entries).

use plonky2::plonk::circuit_builder::CircuitBuilder;
use plonky2::plonk::circuit_data::CircuitConfig;
use zkattr_plonky2::aggregation::batch::BatchCircuit;
use zkattr_plonky2::aggregation::chunks::circuit::ChunkCircuit;
use zkattr_plonky2::aggregation::final_layer::payout_list_gates;
use zkattr_plonky2::gadgets::{CommitmentInstructions, QueryTargets};
use zkattr_plonky2::native::F;
use zkattr_plonky2::prover::{Config, StatementCircuit, SHAPE_LADDER};
use zkattr_plonky2::statement::rule::{check_rate, query_rule};
use zkattr_plonky2::statement::{StatementShape, D};

fn main() {
    let mut b = CircuitBuilder::<F, D>::new(CircuitConfig::standard_recursion_zk_config());
    let rate = b.add_virtual_target();
    check_rate(&mut b, rate);
    let start = b.num_gates();
    let q = QueryTargets::new(&mut b);
    let record = b.num_gates() - start;
    let start = b.num_gates();
    query_rule(&mut b, &q, rate);
    let rule = b.num_gates() - start;
    let start = b.num_gates();
    b.activation_leaf(&q);
    b.influence_leaf(&q);
    let leaves = b.num_gates() - start;
    println!("per query: record {record} gates, rule {rule}, leaves {leaves}");
    let list = 4096;
    println!(
        "final layer's payout list: {:.2} gates an entry ({list} entries, leaves, tree and slot-count digest)",
        payout_list_gates(list) as f64 / list as f64
    );
    for queries in SHAPE_LADDER {
        let circuit = StatementCircuit::build(StatementShape {
            queries,
            payees: queries,
        });
        println!(
            "statement {queries}: degree 2^{}",
            circuit.data.common.degree_bits()
        );
    }
    for arg in std::env::args().skip(1) {
        if let Some(height) = arg.strip_prefix("chunk") {
            let height: u32 = height.parse().expect("a chunk height");
            let circuit = ChunkCircuit::build(height);
            // What verifying one chunk proof costs the layer above it (the final layer over K
            // chunks verifies K of them).
            let common = &circuit.data.common;
            let mut above =
                CircuitBuilder::<F, D>::new(CircuitConfig::standard_recursion_zk_config());
            let proof = above.add_virtual_proof_with_pis(common);
            let vd = above.constant_verifier_data(&circuit.data.verifier_only);
            let before = above.num_gates();
            above.verify_proof::<Config>(&proof, &vd, common);
            println!(
                "payout-list chunk height {height}: {} entries, degree 2^{}; verifying one proof \
                 of it takes {} gates",
                1u32 << height,
                common.degree_bits(),
                above.num_gates() - before
            );
            continue;
        }
        let height: u32 = arg.parse().expect("a batch height");
        let circuit = BatchCircuit::build(height);
        let common = &circuit.data.common;
        println!(
            "batch height {height}: {} queries, degree 2^{}, gate types {}",
            1u32 << height,
            common.degree_bits(),
            common.gates.len()
        );
    }
}
