//! Solidity: the verifier generated from a halo2 key (snark-verifier) and the pinned solc-js
//! 0.8.19 compiler (`node scripts/compile.js`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;

use halo2_base::halo2_proofs::halo2curves::bn256::{Bn256, Fq, Fr, G1Affine};
use halo2_base::halo2_proofs::halo2curves::ff::PrimeField;
use halo2_base::halo2_proofs::plonk::VerifyingKey;
use halo2_base::halo2_proofs::poly::commitment::ParamsProver;
use halo2_base::halo2_proofs::poly::kzg::commitment::ParamsKZG;
use snark_verifier::loader::evm::EvmLoader;
use snark_verifier::pcs::kzg::{Bdfg21, KzgAs, LimbsEncoding};
use snark_verifier::system::halo2::{compile, transcript::evm::EvmTranscript, Config};
use snark_verifier::verifier::{plonk::PlonkVerifier, SnarkVerifier};

use crate::EvmError;

/// SHPLONK (BDFG21) over KZG, with the limb encoding snark-verifier-sdk uses (3 x 88 bits).
type Shplonk = KzgAs<Bn256, Bdfg21>;
type Verifier = PlonkVerifier<Shplonk, LimbsEncoding<3, 88>>;

/// The Solidity source of a verifier for proofs under `vk` with `num_instance` public inputs in
/// one instance column.
pub fn verifier_solidity(
    params: &ParamsKZG<Bn256>,
    vk: &VerifyingKey<G1Affine>,
    num_instance: usize,
) -> Result<String, EvmError> {
    let protocol = compile(
        params,
        vk,
        Config::kzg()
            .with_num_instance(vec![num_instance])
            .with_accumulator_indices(None),
    );
    let dk = (params.get_g()[0], params.g2(), params.s_g2()).into();
    let loader = EvmLoader::new::<Fq, Fr>();
    let protocol = protocol.loaded(&loader);
    let mut transcript = EvmTranscript::<_, Rc<EvmLoader>, _, _>::new(&loader);
    let instances = transcript.load_instances(vec![num_instance]);
    let proof = Verifier::read_proof(&dk, &protocol, &instances, &mut transcript)
        .map_err(|e| EvmError::Generate(format!("{e:?}")))?;
    Verifier::verify(&dk, &protocol, &instances, &proof)
        .map_err(|e| EvmError::Generate(format!("{e:?}")))?;
    Ok(loader.solidity_code())
}

/// Calldata the generated verifier expects: each public input as a 32-byte big-endian word,
/// then the proof bytes (no function selector).
pub fn verifier_calldata(instances: &[Fr], proof: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 * instances.len() + proof.len());
    for x in instances {
        out.extend(x.to_repr().as_ref().iter().rev());
    }
    out.extend_from_slice(proof);
    out
}

/// A compiled contract.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub creation: Vec<u8>,
    pub runtime: Vec<u8>,
}

/// The directory holding package.json, scripts/ and contracts/: `ZKATTR_EVM_DIR` if set (for a
/// binary run away from its source tree), else this crate's source folder.
pub fn tools_dir() -> PathBuf {
    std::env::var_os("ZKATTR_EVM_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}

/// Installs the pinned npm tools if missing (`npm ci` from package-lock.json). Runs the setup
/// script once per process, so tests compiling in parallel do not race two `npm ci`s.
pub fn ensure_tools() -> Result<(), EvmError> {
    static DONE: std::sync::Mutex<bool> = std::sync::Mutex::new(false);
    let mut done = DONE.lock().unwrap_or_else(|e| e.into_inner());
    if *done {
        return Ok(());
    }
    let script = tools_dir().join("scripts/setup.sh");
    let status = Command::new("bash")
        .arg(&script)
        .status()
        .map_err(|source| EvmError::Node {
            cmd: format!("bash {}", script.display()),
            source,
        })?;
    if !status.success() {
        return Err(EvmError::Solc(format!(
            "{} failed: {status}",
            script.display()
        )));
    }
    *done = true;
    Ok(())
}

/// Compiles Solidity `files` with solc-js 0.8.19 (optimizer off) and returns contract `name`.
pub fn compile_solidity(files: &[&Path], name: &str) -> Result<Compiled, EvmError> {
    compile_solidity_with(files, name, false)
}

/// Runs `scripts/<script>` of the tools folder with node (installing the tools first) and
/// returns its standard output; a failing script's standard error is the error.
fn run_node_script(script: &str, args: &[&std::ffi::OsStr]) -> Result<Vec<u8>, EvmError> {
    ensure_tools()?;
    let script = tools_dir().join("scripts").join(script);
    let out = Command::new("node")
        .arg(&script)
        .args(args)
        .output()
        .map_err(|source| EvmError::Node {
            cmd: format!("node {}", script.display()),
            source,
        })?;
    if !out.status.success() {
        return Err(EvmError::Solc(String::from_utf8_lossy(&out.stderr).into()));
    }
    Ok(out.stdout)
}

/// Compiles Solidity `files` with solc-js 0.8.19, with the optimizer (200 runs) if `optimize`,
/// and returns contract `name`. The generated verifier must be compiled without it.
pub fn compile_solidity_with(
    files: &[&Path],
    name: &str,
    optimize: bool,
) -> Result<Compiled, EvmError> {
    let mut args: Vec<&std::ffi::OsStr> = Vec::new();
    if optimize {
        args.push("--optimize".as_ref());
    }
    args.extend(files.iter().map(|f| f.as_os_str()));
    let stdout = run_node_script("compile.js", &args)?;
    let json: serde_json::Value =
        serde_json::from_slice(&stdout).map_err(|e| EvmError::Solc(e.to_string()))?;
    let c = json
        .get(name)
        .ok_or_else(|| EvmError::MissingContract(name.into()))?;
    let field = |key: &str| -> Result<Vec<u8>, EvmError> {
        let s = c[key].as_str().ok_or_else(|| EvmError::Hex(name.into()))?;
        hex::decode(s.trim_start_matches("0x")).map_err(|_| EvmError::Hex(name.into()))
    };
    Ok(Compiled {
        creation: field("bytecode")?,
        runtime: field("deployed")?,
    })
}

/// Writes `source` to `dir/name.sol` and compiles contract `name` from it.
pub fn compile_source(dir: &Path, name: &str, source: &str) -> Result<Compiled, EvmError> {
    let path = dir.join(format!("{name}.sol"));
    std::fs::write(&path, source).map_err(|source| EvmError::Node {
        cmd: format!("write {}", path.display()),
        source,
    })?;
    compile_solidity(&[&path], name)
}

/// circomlib's Poseidon(2) contract creation code, from circomlibjs 0.1.7.
pub fn circomlib_poseidon2_code() -> Result<Vec<u8>, EvmError> {
    let stdout = run_node_script("poseidon.js", &[])?;
    let text = String::from_utf8_lossy(&stdout);
    hex::decode(text.trim().trim_start_matches("0x"))
        .map_err(|_| EvmError::Hex("circomlib Poseidon".into()))
}
