//! The committed 16x16 halo2 fixture (fixtures/halo2-16x16) and small helpers, shared by the
//! EVM tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

use zkattr_evm::{reverted_with, EvmError};
use zkattr_halo2::keys::KzgParams;
use zkattr_halo2::poseidon::Fr;
use zkattr_model::rule::Payout;

pub fn u64_of(f: &Fr) -> u64 {
    use halo2_base::halo2_proofs::halo2curves::ff::PrimeField;
    let repr = f.to_repr();
    u64::from_le_bytes(repr.as_ref()[..8].try_into().unwrap())
}

/// The revert reason of `r`; panics (the test fails) if it did not revert.
pub fn reason<T: std::fmt::Debug>(r: Result<T, EvmError>) -> String {
    reverted_with(&r).unwrap_or_else(|| panic!("expected a revert, got {r:?}"))
}

/// The committed 16x16 bundle (fixtures/halo2-16x16), read with nothing but the halo2 crate.
pub struct Fixture {
    pub params: KzgParams,
    pub vk: halo2_base::halo2_proofs::plonk::VerifyingKey<
        halo2_base::halo2_proofs::halo2curves::bn256::G1Affine,
    >,
    pub kzg_sha256: String,
    pub vk_digest: String,
    pub proof: Vec<u8>,
    pub instances: Vec<Fr>,
    pub payouts: Vec<Payout>,
}

pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        use halo2_base::gates::circuit::BaseCircuitParams;
        use halo2_base::halo2_proofs::halo2curves::ff::PrimeField;
        use zkattr_halo2::keys::{halo2_key_digest, read_verifying_key};
        use zkattr_model::bundle::BundleManifest;

        let dir = fixtures_dir().join("halo2-16x16");
        let manifest: BundleManifest =
            serde_json::from_slice(&std::fs::read(dir.join("bundle.json")).unwrap()).unwrap();
        let section = manifest.halo2.clone().unwrap();
        assert_eq!(section.kzg_source, "dev-unsafe");
        let circuit_params: BaseCircuitParams =
            serde_json::from_value(section.circuit_params.clone()).unwrap();
        let vk = read_verifying_key(
            &std::fs::read(dir.join(&manifest.verifying_key_file)).unwrap(),
            circuit_params,
        )
        .unwrap();
        let p = &manifest.public_inputs;
        let digest = |h: &str| {
            let mut repr = [0u8; 32];
            let bytes = hex::decode(h.trim_start_matches("0x")).unwrap();
            for (i, b) in bytes.iter().rev().enumerate() {
                repr[i] = *b;
            }
            Option::<Fr>::from(Fr::from_repr(repr)).unwrap()
        };
        let instances = vec![
            Fr::from(p.epoch_id),
            Fr::from(u64::from(p.rate_bps)),
            digest(&p.activation_commitment),
            digest(&p.influence_commitment),
            Fr::from(p.n_queries),
            Fr::from(p.total_pool),
            Fr::from(p.total_paid),
            Fr::from(p.treasury),
            digest(&p.payout_commitment),
        ];
        let params = KzgParams::dev_unsafe(
            &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../params"),
            section.kzg_k as usize,
        )
        .unwrap();
        Fixture {
            vk_digest: halo2_key_digest(&vk),
            vk,
            params,
            kzg_sha256: section.kzg_sha256,
            proof: std::fs::read(dir.join(&manifest.proof_file)).unwrap(),
            instances,
            payouts: manifest
                .payouts
                .payouts
                .iter()
                .map(|e| Payout {
                    adapter_id: e.adapter_id,
                    amount: e.amount,
                })
                .collect(),
        }
    })
}
