//! EVM settlement for halo2 bundles.
//!
//! - [`verifier_solidity`]: the Solidity verifier generated from a halo2 verifying key by
//!   snark-verifier (SHPLONK, Keccak transcript: the same proof bytes the bundle holds).
//! - [`compile_solidity`]: compiles Solidity with the pinned npm `solc@0.8.19` (solc-js, run by
//!   `node scripts/compile.js`; optimizer off, see FIELD-NOTES).
//! - [`Chain`]: an in-memory EVM (revm, no C precompile backends) to deploy and call contracts and
//!   report gas.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;

use halo2_base::halo2_proofs::halo2curves::bn256::{Bn256, Fq, Fr, G1Affine};
use halo2_base::halo2_proofs::halo2curves::ff::PrimeField;
use halo2_base::halo2_proofs::plonk::VerifyingKey;
use halo2_base::halo2_proofs::poly::commitment::ParamsProver;
use halo2_base::halo2_proofs::poly::kzg::commitment::ParamsKZG;
use revm::context::result::{ExecutionResult, Output};
use revm::context::TxEnv;
use revm::database::InMemoryDB;
use revm::primitives::TxKind;
pub use revm::primitives::{Address, U256};
use revm::{Context, ExecuteCommitEvm, MainBuilder, MainContext};
use snark_verifier::loader::evm::EvmLoader;
use snark_verifier::pcs::kzg::{Bdfg21, KzgAs, LimbsEncoding};
use snark_verifier::system::halo2::{compile, transcript::evm::EvmTranscript, Config};
use snark_verifier::verifier::{plonk::PlonkVerifier, SnarkVerifier};

/// EIP-170: the largest runtime code a contract may have.
pub const EIP170_LIMIT: usize = 24_576;

/// SHPLONK (BDFG21) over KZG, with the limb encoding snark-verifier-sdk uses (3 x 88 bits).
type Shplonk = KzgAs<Bn256, Bdfg21>;
type Verifier = PlonkVerifier<Shplonk, LimbsEncoding<3, 88>>;

/// What went wrong on the EVM path.
#[derive(Debug, thiserror::Error)]
pub enum EvmError {
    #[error("generating the Solidity verifier failed: {0}")]
    Generate(String),
    #[error("running node ({cmd}) failed: {source}")]
    Node { cmd: String, source: std::io::Error },
    #[error("solc-js failed: {0}")]
    Solc(String),
    #[error("contract {0} missing from the solc output")]
    MissingContract(String),
    #[error("bad hex in solc output for {0}")]
    Hex(String),
    #[error("deployed code of {name} is {size} bytes, over the EIP-170 limit of {EIP170_LIMIT}")]
    CodeTooLarge { name: String, size: usize },
    #[error("deploying {name} failed: {reason}")]
    Deploy { name: String, reason: String },
    #[error("reverted with {} (gas used {gas_used})", revert_reason(output))]
    Revert { gas_used: u64, output: Vec<u8> },
    #[error("call halted (gas used {gas_used}): {reason}")]
    Halt { gas_used: u64, reason: String },
    #[error("EVM error: {0}")]
    Evm(String),
}

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

/// The custom errors of contracts/Settlement.sol, to name a revert.
const SETTLEMENT_ERRORS: &[&str] = &[
    "NotAuthorized()",
    "AlreadyRegistered()",
    "BadCommitment()",
    "NotRegistered()",
    "AlreadySettled()",
    "InstanceMismatch(uint256)",
    "ProofRejected()",
    "PayoutOpeningMismatch()",
    "NotSettled()",
    "AlreadyClaimed()",
    "BadPath()",
    "NoOwner()",
    "TransferFailed()",
];

/// Names a revert from its return data: a Settlement error (with its argument), a
/// `require` message, empty data (the generated verifier reverts without data), or raw hex.
pub fn revert_reason(output: &[u8]) -> String {
    if output.is_empty() {
        return "no data (the generated verifier rejects a proof this way)".into();
    }
    if output.len() >= 4 {
        let (sel, args) = output.split_at(4);
        for sig in SETTLEMENT_ERRORS {
            if sel == abi::selector(sig) {
                return match sig.strip_suffix("(uint256)") {
                    Some(name) if args.len() == 32 => {
                        format!("{name}({})", U256::from_be_slice(args))
                    }
                    _ => (*sig).to_string(),
                };
            }
        }
        // Error(string): offset word, length word, bytes.
        if sel == abi::selector("Error(string)") && args.len() >= 64 {
            let len = U256::from_be_slice(&args[32..64]);
            if let Some(end) = usize::try_from(len).ok().and_then(|l| l.checked_add(64)) {
                if let Some(text) = args.get(64..end) {
                    return format!("\"{}\"", String::from_utf8_lossy(text));
                }
            }
        }
    }
    format!("0x{}", hex::encode(output))
}

/// The calldata part of a transaction's intrinsic gas (EIP-2028: 4 per zero byte, 16 per other).
pub fn calldata_gas(data: &[u8]) -> u64 {
    data.iter().map(|&b| if b == 0 { 4 } else { 16 }).sum()
}

/// The calldata of `Settlement.settle(epoch, instances, proof, payoutRoot, nPayees)`.
pub fn settle_calldata(
    epoch: u64,
    instances: &[Fr],
    proof: &[u8],
    payout_root: &Fr,
    n_payees: u64,
) -> Vec<u8> {
    let mut data = abi::selector("settle(uint64,uint256[9],bytes,uint256,uint256)").to_vec();
    data.extend(abi::word_u64(epoch));
    for x in instances {
        data.extend(abi::word_fr(x));
    }
    // Head: epoch, 9 words, offset of proof, root, n; the proof tail follows.
    data.extend(abi::word_u64(32 * 13));
    data.extend(abi::word_fr(payout_root));
    data.extend(abi::word_u64(n_payees));
    data.extend(abi::bytes_tail(proof));
    data
}

/// The result of a successful call.
#[derive(Debug, Clone)]
pub struct CallResult {
    /// Whole-transaction gas (21k intrinsic and calldata included).
    pub gas_used: u64,
    pub output: Vec<u8>,
}

type Evm = revm::MainnetEvm<revm::handler::MainnetContext<InMemoryDB>>;

/// An in-memory chain: transactions commit in order; nonces are tracked per sender.
pub struct Chain {
    evm: Evm,
    nonces: std::collections::HashMap<Address, u64>,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain")
            .field("nonces", &self.nonces)
            .finish()
    }
}

impl Default for Chain {
    fn default() -> Self {
        Self::new()
    }
}

impl Chain {
    pub fn new() -> Self {
        Chain {
            evm: Context::mainnet()
                .with_db(InMemoryDB::default())
                .build_mainnet(),
            nonces: Default::default(),
        }
    }

    fn transact(
        &mut self,
        from: Address,
        kind: TxKind,
        data: Vec<u8>,
    ) -> Result<ExecutionResult, EvmError> {
        let nonce = self.nonces.entry(from).or_default();
        let tx = TxEnv {
            caller: from,
            gas_limit: 30_000_000,
            gas_price: 0,
            kind,
            data: data.into(),
            nonce: *nonce,
            ..Default::default()
        };
        let result = self
            .evm
            .transact_commit(tx)
            .map_err(|e| EvmError::Evm(format!("{e:?}")))?;
        *nonce += 1;
        Ok(result)
    }

    /// Deploys `creation || args` from `from`; checks the EIP-170 limit on the deployed code.
    pub fn deploy(
        &mut self,
        from: Address,
        name: &str,
        creation: &[u8],
        args: &[u8],
    ) -> Result<(Address, u64), EvmError> {
        let mut data = creation.to_vec();
        data.extend_from_slice(args);
        match self.transact(from, TxKind::Create, data)? {
            ExecutionResult::Success {
                output: Output::Create(_, Some(address)),
                gas_used,
                ..
            } => {
                let size = self.code_size(address);
                if size > EIP170_LIMIT {
                    return Err(EvmError::CodeTooLarge {
                        name: name.into(),
                        size,
                    });
                }
                Ok((address, gas_used))
            }
            other => Err(EvmError::Deploy {
                name: name.into(),
                reason: format!("{other:?}"),
            }),
        }
    }

    /// The size of the code at `address`.
    pub fn code_size(&mut self, address: Address) -> usize {
        use revm::database_interface::Database;
        self.evm
            .ctx
            .journaled_state
            .database
            .basic(address)
            .ok()
            .flatten()
            .and_then(|a| a.code)
            .map(|c| c.original_byte_slice().len())
            .unwrap_or(0)
    }

    /// Calls `to` with `data` from `from`; a revert or halt is an error.
    pub fn call(
        &mut self,
        from: Address,
        to: Address,
        data: Vec<u8>,
    ) -> Result<CallResult, EvmError> {
        match self.transact(from, TxKind::Call(to), data)? {
            ExecutionResult::Success {
                gas_used, output, ..
            } => Ok(CallResult {
                gas_used,
                output: output.into_data().to_vec(),
            }),
            ExecutionResult::Revert { gas_used, output } => Err(EvmError::Revert {
                gas_used,
                output: output.to_vec(),
            }),
            ExecutionResult::Halt { reason, gas_used } => Err(EvmError::Halt {
                gas_used,
                reason: format!("{reason:?}"),
            }),
        }
    }
}

/// A test address from a small number.
pub fn address(n: u64) -> Address {
    Address::left_padding_from(&n.to_be_bytes())
}

/// ABI helpers: 4-byte selectors and 32-byte words.
pub mod abi {
    use super::*;

    pub fn selector(signature: &str) -> [u8; 4] {
        let h = revm::primitives::keccak256(signature.as_bytes());
        [h[0], h[1], h[2], h[3]]
    }

    pub fn word_u256(x: U256) -> [u8; 32] {
        x.to_be_bytes()
    }

    pub fn word_u64(x: u64) -> [u8; 32] {
        word_u256(U256::from(x))
    }

    pub fn word_address(a: Address) -> [u8; 32] {
        let mut w = [0u8; 32];
        w[12..].copy_from_slice(a.as_slice());
        w
    }

    pub fn word_fr(x: &Fr) -> [u8; 32] {
        let mut w = [0u8; 32];
        for (i, b) in x.to_repr().as_ref().iter().rev().enumerate() {
            w[i] = *b;
        }
        w
    }

    /// Pads dynamic `bytes` to a length word plus whole words.
    pub fn bytes_tail(data: &[u8]) -> Vec<u8> {
        let mut out = word_u64(data.len() as u64).to_vec();
        out.extend_from_slice(data);
        out.resize(32 + data.len().div_ceil(32) * 32, 0);
        out
    }
}

/// Hex of a field element as a 32-byte big-endian word, without 0x.
fn fr_hex(x: &Fr) -> String {
    hex::encode(abi::word_fr(x))
}

/// Solidity for SPEC's BN254 sponge `H` of three elements (`hash3`), on the width-3 Poseidon
/// permutation with circomlib's constants taken from `zkattr_halo2::poseidon`. circomlib's
/// contract only returns `P([0, a, b])[0]` (that is `H2`); `H(3, root, n)` needs the whole
/// state after the first permutation, hence this library. contracts/PoseidonSponge.sol is this
/// output, checked in and tested equal to it.
pub fn poseidon_sponge_solidity() -> String {
    use zkattr_halo2::poseidon::{constants, FULL_ROUNDS, PARTIAL_ROUNDS, WIDTH};
    let k = constants();
    let rc: String = k
        .round_constants
        .iter()
        .flat_map(|row| row.iter().map(fr_hex))
        .collect();
    // Unreduced sums are safe: 5q < 2^256, each mulmod reduces, and every state word is below
    // 4q when it is next multiplied (mix output < 3q, plus a constant < q).
    let mut mix = String::new();
    for (i, row) in k.mds.iter().enumerate() {
        let term = |j: usize| format!("mulmod(0x{}, s{j}, q)", fr_hex(&row[j]));
        mix.push_str(&format!(
            "                let t{i} := add(add({}, {}), {})\n",
            term(0),
            term(1),
            term(2)
        ));
    }
    mix.push_str("                s0 := t0\n                s1 := t1\n                s2 := t2\n                p := add(p, 96)\n");
    let add_constants = "                s0 := add(s0, mload(p))\n                s1 := add(s1, mload(add(p, 32)))\n                s2 := add(s2, mload(add(p, 64)))\n";
    let pow5 = |v: &str| {
        format!("                {{\n                    let x2 := mulmod({v}, {v}, q)\n                    {v} := mulmod(mulmod(x2, x2, q), {v}, q)\n                }}\n")
    };
    let full_round = format!(
        "{add_constants}{}{}{}{mix}",
        pow5("s0"),
        pow5("s1"),
        pow5("s2")
    );
    let partial_round = format!("{add_constants}{}{mix}", pow5("s0"));
    let half = FULL_ROUNDS / 2;
    assert_eq!(WIDTH, 3);
    assert_eq!(k.round_constants.len(), FULL_ROUNDS + PARTIAL_ROUNDS);
    format!(
        r#"// SPDX-License-Identifier: MIT
// GENERATED by zkattr_evm::poseidon_sponge_solidity(); do not edit.
pragma solidity 0.8.19;

/// SPEC's BN254 hash H over three inputs: width-3 Poseidon (x^5, {FULL_ROUNDS} full and
/// {PARTIAL_ROUNDS} partial rounds, circomlib's constants), absorbing pairs into state elements 1
/// and 2, the last pair padded with 0.
library PoseidonSponge {{
    uint256 internal constant Q = 0x30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001;
    /// The round constants, three words per round.
    bytes internal constant RC = hex"{rc}";

    /// One permutation, all in assembly with the rounds' bodies inline (a Solidity loop with
    /// function calls costs several times the gas). `rc` points at RC's words in memory.
    function permute(uint256 rc, uint256 s0, uint256 s1, uint256 s2) private pure returns (uint256, uint256, uint256) {{
        assembly {{
            let q := 0x30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001
            let p := rc
            for {{ let r := 0 }} lt(r, {half}) {{ r := add(r, 1) }} {{
{full_round}            }}
            for {{ let r := 0 }} lt(r, {PARTIAL_ROUNDS}) {{ r := add(r, 1) }} {{
{partial_round}            }}
            for {{ let r := 0 }} lt(r, {half}) {{ r := add(r, 1) }} {{
{full_round}            }}
            s0 := mod(s0, q)
            s1 := mod(s1, q)
            s2 := mod(s2, q)
        }}
        return (s0, s1, s2);
    }}

    /// H(a, b, c). Inputs must be field elements (below Q).
    function hash3(uint256 a, uint256 b, uint256 c) internal pure returns (uint256) {{
        require(a < Q && b < Q && c < Q, "PoseidonSponge: input not in the field");
        bytes memory constants = RC;
        uint256 rc;
        assembly {{
            rc := add(constants, 32)
        }}
        (uint256 s0, uint256 s1, uint256 s2) = permute(rc, 0, a, b);
        (s0,,) = permute(rc, s0, addmod(s1, c, Q), s2);
        return s0;
    }}
}}
"#
    )
}

/// circomlib's Poseidon(2) contract creation code, from circomlibjs 0.1.7.
pub fn circomlib_poseidon2_code() -> Result<Vec<u8>, EvmError> {
    let stdout = run_node_script("poseidon.js", &[])?;
    let text = String::from_utf8_lossy(&stdout);
    hex::decode(text.trim().trim_start_matches("0x"))
        .map_err(|_| EvmError::Hex("circomlib Poseidon".into()))
}

/// Settlement (with PoseidonSponge) is compiled with the optimizer (200 runs): it saves about
/// 3k gas per settle. The generated verifier is not: the Yul optimizer fails on it ("Stack too
/// deep") and the legacy one makes verify cost ~2.5k more gas.
pub const SETTLEMENT_OPTIMIZED: bool = true;

/// The settlement contracts deployed on a [`Chain`], with the roles' addresses.
#[derive(Debug)]
pub struct Deployment {
    pub chain: Chain,
    pub verifier: Address,
    pub verifier_code_size: usize,
    pub poseidon: Address,
    pub token: Address,
    pub settlement: Address,
    pub operator: Address,
    pub engine: Address,
    pub registrar: Address,
    pub payer: Address,
}

/// A payee's claim: the leaf index and its depth-20 sibling path (leaf level first).
#[derive(Debug, Clone)]
pub struct Claim {
    pub adapter: u32,
    pub amount: u64,
    pub index: u32,
    pub siblings: Vec<Fr>,
}

/// A file of contracts/.
pub fn contract_file(name: &str) -> PathBuf {
    tools_dir().join("contracts").join(name)
}

impl Deployment {
    /// Deploys the generated verifier (from `verifier_sol`), circomlib's Poseidon, a test token
    /// (minting `funds` to the payer) and the settlement contract for `rate_bps`.
    pub fn new(verifier_sol: &str, rate_bps: u16, funds: u64) -> Result<Self, EvmError> {
        Self::new_with(verifier_sol, rate_bps, funds, SETTLEMENT_OPTIMIZED)
    }

    /// [`Deployment::new`], choosing whether Settlement is compiled with the optimizer (for gas
    /// comparisons; the verifier never is).
    pub fn new_with(
        verifier_sol: &str,
        rate_bps: u16,
        funds: u64,
        optimize_settlement: bool,
    ) -> Result<Self, EvmError> {
        let tmp = std::env::temp_dir().join(format!(
            "zkattr-evm-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&tmp).map_err(|source| EvmError::Node {
            cmd: format!("mkdir {}", tmp.display()),
            source,
        })?;
        let verifier_code = compile_source(&tmp, "Halo2Verifier", verifier_sol)?;
        let settlement_code = compile_solidity_with(
            &[
                &contract_file("Settlement.sol"),
                &contract_file("PoseidonSponge.sol"),
            ],
            "Settlement",
            optimize_settlement,
        )?;
        let token_code = compile_solidity(&[&contract_file("MiniToken.sol")], "MiniToken")?;
        let poseidon_code = circomlib_poseidon2_code()?;

        let (deployer, operator, engine, registrar, payer) =
            (address(1), address(2), address(3), address(4), address(5));
        let mut chain = Chain::new();
        let (verifier, _) =
            chain.deploy(deployer, "Halo2Verifier", &verifier_code.creation, &[])?;
        let verifier_code_size = chain.code_size(verifier);
        let (poseidon, _) = chain.deploy(deployer, "PoseidonT3", &poseidon_code, &[])?;
        let (token, _) = chain.deploy(deployer, "MiniToken", &token_code.creation, &[])?;
        let mut args = Vec::new();
        for a in [verifier, poseidon, token, operator, engine, registrar] {
            args.extend(abi::word_address(a));
        }
        args.extend(abi::word_u64(rate_bps.into()));
        let (settlement, _) =
            chain.deploy(deployer, "Settlement", &settlement_code.creation, &args)?;

        let mut mint = abi::selector("mint(address,uint256)").to_vec();
        mint.extend(abi::word_address(payer));
        mint.extend(abi::word_u64(funds));
        chain.call(deployer, token, mint)?;
        let mut approve = abi::selector("approve(address,uint256)").to_vec();
        approve.extend(abi::word_address(settlement));
        approve.extend(abi::word_u64(funds));
        chain.call(payer, token, approve)?;
        Ok(Deployment {
            chain,
            verifier,
            verifier_code_size,
            poseidon,
            token,
            settlement,
            operator,
            engine,
            registrar,
            payer,
        })
    }

    /// Calls the generated verifier directly; returns whole-transaction gas.
    pub fn verify(&mut self, instances: &[Fr], proof: &[u8]) -> Result<u64, EvmError> {
        let calldata = verifier_calldata(instances, proof);
        Ok(self
            .chain
            .call(self.payer, self.verifier, calldata)?
            .gas_used)
    }

    fn register(
        &mut self,
        from: Address,
        which: &str,
        epoch: u64,
        c: &Fr,
    ) -> Result<u64, EvmError> {
        let mut data = abi::selector(&format!("{which}(uint64,uint256)")).to_vec();
        data.extend(abi::word_u64(epoch));
        data.extend(abi::word_fr(c));
        Ok(self.chain.call(from, self.settlement, data)?.gas_used)
    }

    /// The operator registers the activation commitment.
    pub fn register_activation(&mut self, epoch: u64, c: &Fr) -> Result<u64, EvmError> {
        self.register(self.operator, "registerActivation", epoch, c)
    }

    /// The attribution engine registers the influence commitment.
    pub fn register_influence(&mut self, epoch: u64, c: &Fr) -> Result<u64, EvmError> {
        self.register(self.engine, "registerInfluence", epoch, c)
    }

    /// Calls `register*` from an arbitrary address (for tests of the access rule).
    pub fn register_from(
        &mut self,
        from: Address,
        activation: bool,
        epoch: u64,
        c: &Fr,
    ) -> Result<u64, EvmError> {
        let which = if activation {
            "registerActivation"
        } else {
            "registerInfluence"
        };
        self.register(from, which, epoch, c)
    }

    /// The registrar records who is paid for `adapter`.
    pub fn set_owner(&mut self, adapter: u32, owner: Address) -> Result<u64, EvmError> {
        let mut data = abi::selector("setAdapterOwner(uint32,address)").to_vec();
        data.extend(abi::word_u64(adapter.into()));
        data.extend(abi::word_address(owner));
        Ok(self
            .chain
            .call(self.registrar, self.settlement, data)?
            .gas_used)
    }

    /// The payer settles `epoch`; returns whole-transaction gas.
    pub fn settle(
        &mut self,
        epoch: u64,
        instances: &[Fr],
        proof: &[u8],
        payout_root: &Fr,
        n_payees: u64,
    ) -> Result<u64, EvmError> {
        if instances.len() != 9 {
            return Err(EvmError::Evm(format!(
                "{} public inputs, want 9",
                instances.len()
            )));
        }
        let data = settle_calldata(epoch, instances, proof, payout_root, n_payees);
        Ok(self.chain.call(self.payer, self.settlement, data)?.gas_used)
    }

    /// Anyone (here the payer's account) submits `claim`; returns whole-transaction gas.
    pub fn claim(&mut self, epoch: u64, claim: &Claim) -> Result<u64, EvmError> {
        if claim.siblings.len() != 20 {
            return Err(EvmError::Evm(format!(
                "{} siblings, want 20",
                claim.siblings.len()
            )));
        }
        let mut data = abi::selector("claim(uint64,uint32,uint64,uint32,uint256[20])").to_vec();
        data.extend(abi::word_u64(epoch));
        data.extend(abi::word_u64(claim.adapter.into()));
        data.extend(abi::word_u64(claim.amount));
        data.extend(abi::word_u64(claim.index.into()));
        for s in &claim.siblings {
            data.extend(abi::word_fr(s));
        }
        Ok(self.chain.call(address(9), self.settlement, data)?.gas_used)
    }

    /// The token balance of `who`.
    pub fn balance(&mut self, who: Address) -> Result<U256, EvmError> {
        let mut data = abi::selector("balanceOf(address)").to_vec();
        data.extend(abi::word_address(who));
        let out = self.chain.call(address(9), self.token, data)?.output;
        Ok(U256::from_be_slice(&out))
    }
}

#[cfg(test)]
mod tests;
