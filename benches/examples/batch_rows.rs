//! Where a plonky2 batch circuit's rows go, per query.
//!
//! ```sh
//! cargo run --release -p zkattr-benches --example batch_rows -- 256
//! ```
//!
//! Builds the per-query parts of the batch circuit (`aggregation/batch.rs`) for `N` queries in the batch
//! circuits' configuration and prints the rows each part adds, divided by `N`: the query record
//! and its range checks, SPEC's rule, the two leaf hashes, the two subtree roots (with the
//! prefix flags that pad them), the payout accumulator terms. Range-check rows are counted
//! where the part opens a new row of a `RangeCheckGate`, so the split between parts is
//! approximate; the total is exact. The batch circuit adds the rest of its glue (query order,
//! totals, public inputs) and pads to a power of two.

use plonky2::plonk::circuit_builder::CircuitBuilder;
use plonky2::plonk::circuit_data::CircuitConfig;
use zkattr_plonky2::aggregation::batch::accumulate_payout_terms;
use zkattr_plonky2::gadgets::{CommitmentInstructions, QueryTargets};
use zkattr_plonky2::native::F;
use zkattr_plonky2::statement::rule::{check_rate, query_rule};
use zkattr_plonky2::statement::D;

fn main() {
    let queries: usize = match std::env::args().nth(1).map(|a| a.parse()) {
        None => 256,
        Some(Ok(n)) if n > 0 && usize::is_power_of_two(n) => n,
        Some(_) => {
            eprintln!("usage: rows [QUERIES, a power of two; default 256]");
            std::process::exit(2);
        }
    };
    let mut b = CircuitBuilder::<F, D>::new(CircuitConfig::standard_recursion_config());
    let rate = b.add_virtual_target();
    check_rate(&mut b, rate);
    let mut parts: Vec<(&str, usize)> = Vec::new();
    let mut mark = b.num_gates();
    let mut part = |b: &CircuitBuilder<F, D>, name: &'static str| {
        parts.push((name, b.num_gates() - mark));
        mark = b.num_gates();
    };

    let records: Vec<QueryTargets> = (0..queries).map(|_| QueryTargets::new(&mut b)).collect();
    part(&b, "query record (range checks)");
    let rules: Vec<_> = records
        .iter()
        .map(|q| query_rule(&mut b, q, rate))
        .collect();
    part(
        &b,
        "rule (pool, weights, shares: arithmetic and range checks)",
    );
    let activation: Vec<_> = records.iter().map(|q| b.activation_leaf(q)).collect();
    let influence: Vec<_> = records.iter().map(|q| b.influence_leaf(q)).collect();
    part(&b, "activation and influence leaves (Poseidon)");
    // As the batch circuit does: padding flags, then both subtree roots at the batch height.
    let prefix = b.prefix_flags(queries);
    let height = queries.trailing_zeros() as usize;
    b.padded_root(&activation, &prefix.real, height);
    b.padded_root(&influence, &prefix.real, height);
    part(
        &b,
        "prefix flags, padding selects, subtree inner nodes (Poseidon)",
    );
    let challenges = (
        b.add_virtual_extension_target(),
        b.add_virtual_extension_target(),
    );
    let mut accumulator = b.zero_extension();
    for (record, rule) in records.iter().zip(&rules) {
        accumulator = accumulate_payout_terms(&mut b, challenges, record, rule, accumulator).0;
    }
    part(
        &b,
        "payout accumulator (PayoutTermsGate, two queries a row)",
    );

    println!("{queries} queries, rows per query:");
    let mut total = 0;
    for (name, rows) in &parts {
        total += rows;
        println!("  {:>6.1}  {name}", *rows as f64 / queries as f64);
    }
    println!(
        "  {:>6.1}  total ({total} rows before the query order, totals and padding)",
        total as f64 / queries as f64
    );
}
