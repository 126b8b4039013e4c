//! The halo2 circuit: halo2-base's gate, range and lookup columns plus the Poseidon chip's, and the
//! synthesis that joins them.
//!
//! The statement is built as halo2-base virtual cells ([`crate::statement`]); every permutation
//! it asks for is laid out by the chip after halo2-base has placed its cells, and the chip's
//! first and last rows are copy-constrained to the statement's cells. [`KeyLayout`] is the same
//! configuration without any witness: what a verifier needs to read a verifying key.

use crate::chip::PoseidonChipConfig;
use crate::poseidon::Fr;
use halo2_base::gates::circuit::{BaseCircuitParams, BaseConfig};
use halo2_base::halo2_proofs::circuit::{Layouter, SimpleFloorPlanner};
use halo2_base::halo2_proofs::plonk::{Circuit, ConstraintSystem, Error};

/// Rows at the bottom of the table kept free for halo2's blinding factors. At least
/// `ConstraintSystem::minimum_rows()` of this configuration (checked at configure time).
pub const UNUSABLE_ROWS: usize = 20;

/// Rows the statement may use in a circuit of `2^k` rows.
pub fn usable_rows(k: usize) -> usize {
    (1 << k) - UNUSABLE_ROWS
}

/// Both halves of the configuration.
#[derive(Clone, Debug)]
pub struct AttributionConfig {
    pub base: BaseConfig<Fr>,
    pub poseidon: PoseidonChipConfig,
}

impl AttributionConfig {
    /// halo2-base's columns as `params` sizes them, then the chip's.
    pub fn configure(meta: &mut ConstraintSystem<Fr>, params: BaseCircuitParams) -> Self {
        let k = params.k;
        let mut base = BaseConfig::configure(meta, params);
        let poseidon = PoseidonChipConfig::configure(meta);
        assert!(
            meta.minimum_rows() <= UNUSABLE_ROWS,
            "the configuration needs {} unusable rows",
            meta.minimum_rows()
        );
        // The chip's columns change the blinding rows halo2 reserves; halo2-base must lay out
        // with the same bound the statement was sized for.
        base.set_usable_rows(usable_rows(k));
        AttributionConfig { base, poseidon }
    }
}

/// The configuration alone, for reading a verifying key (`VerifyingKey::read` only configures).
/// It cannot be synthesized: it has no witness and no layout.
#[derive(Clone, Debug)]
pub struct KeyLayout(pub BaseCircuitParams);

impl Circuit<Fr> for KeyLayout {
    type Config = AttributionConfig;
    type FloorPlanner = SimpleFloorPlanner;
    type Params = BaseCircuitParams;

    fn params(&self) -> Self::Params {
        self.0.clone()
    }

    fn without_witnesses(&self) -> Self {
        self.clone()
    }

    fn configure_with_params(
        meta: &mut ConstraintSystem<Fr>,
        params: Self::Params,
    ) -> Self::Config {
        AttributionConfig::configure(meta, params)
    }

    fn configure(_: &mut ConstraintSystem<Fr>) -> Self::Config {
        unreachable!("the circuit is configured with its parameters")
    }

    fn synthesize(&self, _: Self::Config, _: impl Layouter<Fr>) -> Result<(), Error> {
        Err(Error::Synthesis)
    }
}

#[cfg(feature = "prover")]
pub use synthesis::AttributionCircuit;

#[cfg(feature = "prover")]
mod synthesis {
    use super::{usable_rows, AttributionConfig};
    use crate::chip::{PermutationCells, PermutationRequest, PermutationRows};
    use crate::poseidon::Fr;
    use halo2_base::gates::circuit::builder::BaseCircuitBuilder;
    use halo2_base::gates::circuit::BaseCircuitParams;
    use halo2_base::halo2_proofs::circuit::{Cell, Layouter, SimpleFloorPlanner};
    use halo2_base::halo2_proofs::plonk::{Circuit, ConstraintSystem, Error};
    use rayon::prelude::*;

    /// A statement ready to synthesize: halo2-base's virtual cells (with the public inputs) and the
    /// permutations the chip must lay out.
    #[derive(Clone, Debug)]
    pub struct AttributionCircuit {
        pub builder: BaseCircuitBuilder<Fr>,
        pub permutations: Vec<PermutationRequest>,
    }

    impl Circuit<Fr> for AttributionCircuit {
        type Config = AttributionConfig;
        type FloorPlanner = SimpleFloorPlanner;
        type Params = BaseCircuitParams;

        fn params(&self) -> Self::Params {
            self.builder.config_params.clone()
        }

        fn without_witnesses(&self) -> Self {
            // halo2's key generation here runs on a keygen-stage builder, never on this.
            self.clone()
        }

        fn configure_with_params(
            meta: &mut ConstraintSystem<Fr>,
            params: Self::Params,
        ) -> Self::Config {
            AttributionConfig::configure(meta, params)
        }

        fn configure(_: &mut ConstraintSystem<Fr>) -> Self::Config {
            unreachable!("the circuit is configured with its parameters")
        }

        fn synthesize(
            &self,
            config: Self::Config,
            mut layouter: impl Layouter<Fr>,
        ) -> Result<(), Error> {
            // halo2-base first: it records where each virtual cell landed, which the wiring needs.
            self.builder
                .synthesize(config.base.clone(), layouter.namespace(|| "halo2-base"))?;
            let rows: Vec<PermutationRows> = self
                .permutations
                .par_iter()
                .map(|p| PermutationRows::compute(p.input.map(|v| *v.value())))
                .collect();
            let wiring = if self.builder.witness_gen_only() {
                None
            } else {
                let manager = self
                    .builder
                    .core()
                    .copy_manager
                    .lock()
                    .map_err(|_| Error::Synthesis)?;
                let physical = |v: &halo2_base::AssignedValue<Fr>| -> Result<Cell, Error> {
                    let virtual_cell = v.cell.ok_or(Error::Synthesis)?;
                    manager
                        .assigned_advices
                        .get(&virtual_cell)
                        .copied()
                        .ok_or(Error::Synthesis)
                };
                let mut wiring = Vec::with_capacity(self.permutations.len());
                for p in &self.permutations {
                    let mut cells = PermutationCells {
                        input: [physical(&p.input[0])?; 3],
                        output: [physical(&p.output[0])?; 3],
                    };
                    for i in 1..3 {
                        cells.input[i] = physical(&p.input[i])?;
                        cells.output[i] = physical(&p.output[i])?;
                    }
                    wiring.push(cells);
                }
                Some(wiring)
            };
            config.poseidon.assign(
                &mut layouter,
                &rows,
                wiring.as_deref(),
                usable_rows(self.builder.config_params.k),
            )
        }
    }
}
