//! Prints the halo2 layout of each query capacity given (default: the ladder): rows, Poseidon
//! permutations, chip rows, halo2-base cells, lookup cells and columns, per query as well.
//!
//! `cargo run --release -p zkattr-halo2 --example layout -- 16 64 256 1024 2048`

use zkattr_halo2::chip::ROWS_PER_PERMUTATION;
use zkattr_halo2::prover::{Layout, HALO2_LADDER};
use zkattr_halo2::statement::Halo2Shape;

fn main() {
    let capacities: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("a query capacity"))
        .collect();
    let capacities = if capacities.is_empty() {
        HALO2_LADDER.to_vec()
    } else {
        capacities
    };
    println!("shape | k | permutations | chip rows | base cells | lookup cells | base advice | lookup advice | cells/query | permutations/query");
    for capacity in capacities {
        let shape = match Halo2Shape::new(capacity, capacity) {
            Ok(shape) => shape,
            Err(e) => {
                eprintln!("{capacity}: {e}");
                continue;
            }
        };
        let layout = Layout::for_shape(shape);
        let p = &layout.params;
        println!(
            "{capacity}x{capacity} | {} | {} | {} | {} | {} | {} | {} | {} | {:.2}",
            layout.k,
            layout.permutations,
            layout.permutations * ROWS_PER_PERMUTATION,
            layout.base_cells,
            layout.lookup_cells,
            p.num_advice_per_phase.iter().sum::<usize>(),
            p.num_lookup_advice_per_phase.iter().sum::<usize>(),
            layout.base_cells / capacity,
            layout.permutations as f64 / capacity as f64,
        );
    }
}
