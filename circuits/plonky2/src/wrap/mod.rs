//! The outer plonky2 layer for the EVM wrapper (docs/wrapper.md): [`hash`] is the plonky2
//! configuration whose Merkle trees and transcript use circomlib's BN254 Poseidon, [`layer`]
//! the circuit that verifies a shrink-layer proof under it, and [`read_outer_proof`] decodes an
//! untrusted outer proof with typed errors.

pub mod hash;
pub mod layer;

pub use hash::{
    Bn254HashOut, Bn254PoseidonGoldilocksConfig, Bn254PoseidonHash, Bn254PoseidonPermutation,
    HashOutError,
};
pub use layer::{outer_config, pinned_leaf, OuterCircuit, OuterProof, WrapError};

use crate::native::F;
use crate::statement::D;
use plonky2::field::extension::Extendable;
use plonky2::gates::gate::GateRef;
use plonky2::hash::hash_types::RichField;
use plonky2::iop::generator::WitnessGeneratorRef;
use plonky2::plonk::circuit_data::CommonCircuitData;
use plonky2::util::serialization::{
    Buffer, GateSerializer, IoError, IoResult, Read, Remaining, WitnessGeneratorSerializer,
};

/// Reads an outer proof, refusing trailing bytes and any hash whose 32 bytes are not a canonical
/// BN254 element (plonky2's own reader would reach [`Bn254HashOut`]'s panicking `from_bytes`).
pub fn read_outer_proof(
    bytes: &[u8],
    common: &CommonCircuitData<F, D>,
) -> Result<OuterProof, WrapError> {
    let mut reader = CanonicalHashes {
        buffer: Buffer::new(bytes),
        refused: None,
    };
    let proof = reader.read_proof_with_public_inputs::<F, Bn254PoseidonGoldilocksConfig, D>(common);
    if let Some(e) = reader.refused {
        return Err(WrapError::Decode(e.to_string()));
    }
    let proof = proof.map_err(|_| WrapError::Decode("truncated or malformed".into()))?;
    if reader.buffer.remaining() != 0 {
        return Err(WrapError::Decode(format!(
            "{} bytes after the proof",
            reader.buffer.remaining()
        )));
    }
    Ok(proof)
}

/// plonky2's reader over a buffer of which every hash is an outer-layer hash out.
struct CanonicalHashes<'a> {
    buffer: Buffer<'a>,
    refused: Option<HashOutError>,
}

impl Read for CanonicalHashes<'_> {
    fn read_exact(&mut self, bytes: &mut [u8]) -> IoResult<()> {
        self.buffer.read_exact(bytes)
    }

    fn read_hash<G, H>(&mut self) -> IoResult<H::Hash>
    where
        G: RichField,
        H: plonky2::plonk::config::Hasher<G>,
    {
        let mut buf = vec![0; H::HASH_SIZE];
        self.read_exact(&mut buf)?;
        if let Err(e) = Bn254HashOut::try_from_bytes(&buf) {
            self.refused = Some(e);
            return Err(IoError);
        }
        Ok(<H::Hash as plonky2::plonk::config::GenericHashOut<G>>::from_bytes(&buf))
    }

    fn read_gate<G: RichField + Extendable<E>, const E: usize>(
        &mut self,
        gate_serializer: &dyn GateSerializer<G, E>,
        common_data: &CommonCircuitData<G, E>,
    ) -> IoResult<GateRef<G, E>> {
        self.buffer.read_gate(gate_serializer, common_data)
    }

    fn read_generator<G: RichField + Extendable<E>, const E: usize>(
        &mut self,
        generator_serializer: &dyn WitnessGeneratorSerializer<G, E>,
        common_data: &CommonCircuitData<G, E>,
    ) -> IoResult<WitnessGeneratorRef<G, E>> {
        self.buffer
            .read_generator(generator_serializer, common_data)
    }
}

impl Remaining for CanonicalHashes<'_> {
    fn remaining(&self) -> usize {
        self.buffer.remaining()
    }
}
