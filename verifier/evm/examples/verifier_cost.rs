//! What a halo2 circuit of each query capacity costs on the EVM: keys under development
//! parameters, a proof of a synthetic epoch that fills three quarters of it, the generated
//! verifier's runtime code size (EIP-170 allows 24,576 bytes) and, when it fits, the gas of one
//! verify transaction in revm.
//!
//! `cargo run --release -p zkattr-evm --example verifier_cost -- 16 64`; with `--no-proof` first,
//! only the keys and the verifier's code size (no proof, no gas).

use std::path::PathBuf;
use std::time::Instant;
use zkattr_evm::{
    address, compile_source, verifier_calldata, verifier_solidity, Chain, EIP170_LIMIT,
};
use zkattr_halo2::prover::{shape_for, witness_for, Halo2Keys, KzgParams, Layout, FAMILY};
use zkattr_model::payout_report;
use zkattr_model::synth::{generate, SynthConfig};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let prove = args.first().map(String::as_str) != Some("--no-proof");
    let capacities: Vec<usize> = args
        .iter()
        .skip(usize::from(!prove))
        .map(|a| a.parse().expect("a query capacity"))
        .collect();
    let params_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../params");
    let scratch = std::env::temp_dir().join("zkattr-verifier-cost");
    std::fs::create_dir_all(&scratch).expect("scratch folder");
    println!("shape | k | advice columns | fixed columns | proof bytes | runtime code bytes | verify gas");
    for capacity in capacities {
        let queries = (capacity * 3 / 4).max(1) as u64;
        let epoch = generate(&SynthConfig::new(queries, (queries / 4 + 4) as u32, 11));
        let (settlement, commitments, _) = payout_report(&FAMILY, &epoch).expect("valid epoch");
        let shape = shape_for(capacity, 1).expect("a ladder capacity");
        let layout = Layout::for_shape(shape);
        let params = KzgParams::dev_unsafe(&params_dir, layout.k).expect("parameters");
        let started = Instant::now();
        let keys = Halo2Keys::generate(&layout, &params.params).expect("keys");
        let (witness, instances) =
            witness_for(shape, &epoch, &settlement, &commitments).expect("witness");
        let proof = prove.then(|| {
            keys.prove(&params.params, &witness, &instances)
                .expect("proof")
        });
        eprintln!(
            "{capacity}: keys{} in {:.1} s",
            if prove { " and proof" } else { "" },
            started.elapsed().as_secs_f64()
        );
        let cs = keys.vk().cs();
        let source =
            verifier_solidity(&params.params, keys.vk(), instances.len()).expect("solidity");
        let compiled =
            compile_source(&scratch, "Halo2Verifier", &source).expect("solc-js compiles it");
        let gas = if compiled.runtime.len() > EIP170_LIMIT {
            "over the code-size limit".into()
        } else if let Some(proof) = &proof {
            let mut chain = Chain::new();
            let (verifier, _) = chain
                .deploy(address(1), "Halo2Verifier", &compiled.creation, &[])
                .expect("deploys");
            let result = chain
                .call(address(1), verifier, verifier_calldata(&instances, proof))
                .expect("the proof verifies on chain");
            result.gas_used.to_string()
        } else {
            "not measured (--no-proof)".into()
        };
        println!(
            "{capacity}x{capacity} | {} | {} | {} | {} | {} | {gas}",
            layout.k,
            cs.num_advice_columns(),
            cs.num_fixed_columns(),
            proof.as_ref().map_or("-".into(), |p| p.len().to_string()),
            compiled.runtime.len(),
        );
    }
}
