//! `zkattr-verify`: check a proof bundle before settlement. The command line lives here alone;
//! every check is a library function of `zkattr_verifier`.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use zkattr_model::io::{read_csv_pair, read_epoch_json};
use zkattr_model::{Epoch, EpochParams};
use zkattr_verifier::audit::{audit_bundle, read_manifest};
use zkattr_verifier::bundle::{verify_bundle, Verified};
use zkattr_verifier::claims::{
    check_claim, check_claim_in_bundle, check_inclusion, check_inclusion_in_bundle, ClaimError,
    FamilyName, Opened,
};
use zkattr_verifier::files::read_path_file;
use zkattr_verifier::{Setup, VerifyOptions};

#[derive(Parser, Debug)]
#[command(
    name = "zkattr-verify",
    version,
    about = "Verify zkattr proof bundles before settlement"
)]
struct Cli {
    /// Accept a bundle proved under an UNSAFE setup (today: development KZG parameters from a
    /// public seed, with which anyone can forge a proof). For development only; without it such
    /// a bundle is refused with a non-zero exit.
    #[arg(long, global = true)]
    allow_unsafe_setup: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check a bundle folder: its setup, shape and pinned key, its payout table, then the proof.
    Verify {
        /// The folder `zkattr prove --out` wrote. halo2 bundles read KZG parameters from
        /// `ZKATTR_PARAMS_DIR` (default `./params`).
        dir: PathBuf,
    },
    /// Run the on-chain flow for a halo2 bundle in an in-memory EVM (revm): check the bundle,
    /// generate and compile its Solidity verifier, deploy it with the settlement contracts,
    /// register both commitments, settle, claim for one payee; print code size and gas. Needs
    /// the `evm` cargo feature (off by default) and node/npm.
    Evm {
        /// The halo2 bundle folder (`zkattr prove EPOCH --backend halo2 --out DIR`).
        dir: PathBuf,
        /// The payee who claims (default: the first in the payout table).
        #[arg(long)]
        adapter: Option<u32>,
    },
    /// Hold a bundle's public inputs and payout table to the published logs: re-derive both
    /// log commitments and every payout, and report the first difference. Without logs, check
    /// what the bundle says about itself and list what was not checked.
    Audit {
        /// The bundle folder.
        dir: PathBuf,
        /// The epoch JSON file the operator and the attribution engine published.
        #[arg(long, conflicts_with = "activations")]
        logs: Option<PathBuf>,
        /// Or the CSV pair: activations.csv (epoch id and rate are the bundle's).
        #[arg(long, requires = "influence")]
        activations: Option<PathBuf>,
        /// influence.csv, with --activations.
        #[arg(long, requires = "activations")]
        influence: Option<PathBuf>,
    },
    /// Check a payee's amount against a payout commitment with a path file
    /// (`zkattr paths EPOCH --adapter A`): the commitment given, or that of a bundle verified
    /// first.
    Claim {
        #[command(flatten)]
        against: Against,
        #[arg(long)]
        adapter: u32,
        #[arg(long)]
        amount: u64,
        /// The path file.
        #[arg(long)]
        path: PathBuf,
    },
    /// Check that the query record in a path file (`zkattr paths EPOCH --query Q --log L`) is
    /// in the log a commitment commits to: the commitment given, or that of a bundle verified
    /// first.
    Inclusion {
        #[command(flatten)]
        against: Against,
        /// The path file.
        #[arg(long)]
        path: PathBuf,
    },
}

/// What a path file is checked against.
#[derive(Args, Debug)]
struct Against {
    /// The published commitment (0x-hex): a payout commitment for `claim`, an activation or
    /// influence commitment for `inclusion`.
    #[arg(long, required_unless_present = "bundle", conflicts_with = "bundle")]
    commitment: Option<String>,
    /// Or a bundle folder: verified first (setup, key, table, proof), then its commitment is
    /// used, in its backend's family.
    #[arg(long)]
    bundle: Option<PathBuf>,
    /// The hash family of --commitment.
    #[arg(long, value_enum, default_value_t = Family::Bn254, conflicts_with = "bundle")]
    family: Family,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Family {
    Bn254,
    Goldilocks,
}

impl From<Family> for FamilyName {
    fn from(family: Family) -> Self {
        match family {
            Family::Bn254 => FamilyName::Bn254,
            Family::Goldilocks => FamilyName::Goldilocks,
        }
    }
}

fn fail(context: &Path, message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {}: {message}", context.display());
    ExitCode::FAILURE
}

/// The loud warning printed whenever an unsafe setup was accepted.
fn warn_if_unsafe(setup: &Setup) {
    if let Setup::Unsafe { source } = setup {
        eprintln!(
            "WARNING: proved under the UNSAFE setup {source:?} (its secret is public: anyone can \
             forge such a proof); accepted only because of --allow-unsafe-setup. This proof \
             convinces no one else: never settle on it."
        );
    }
}

fn open(path: &Path) -> Result<File, String> {
    File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))
}

fn load_logs(
    dir: &Path,
    logs: Option<PathBuf>,
    csv: Option<(PathBuf, PathBuf)>,
) -> Result<Option<Epoch>, String> {
    if let Some(path) = logs {
        return read_epoch_json(open(&path)?)
            .map(Some)
            .map_err(|e| format!("{}: {e}", path.display()));
    }
    let Some((activations, influence)) = csv else {
        return Ok(None);
    };
    // The CSV pair carries no epoch parameters: take the bundle's, which the audit then
    // checks like every other value.
    let manifest = read_manifest(dir).map_err(|e| e.to_string())?;
    let params = EpochParams {
        epoch_id: manifest.public_inputs.epoch_id,
        rate_bps: manifest.public_inputs.rate_bps,
    };
    read_csv_pair(params, open(&activations)?, open(&influence)?)
        .map(Some)
        .map_err(|e| e.to_string())
}

fn verify(dir: &Path, options: &VerifyOptions) -> ExitCode {
    match verify_bundle(dir, options) {
        Ok(v) => {
            let s = &v.statement;
            println!(
                "ok: {} proof ({} circuit) of epoch {}: {} queries, total pool {}, paid {} to {} payees, treasury {}",
                v.backend, v.shape, s.epoch_id, s.n_queries, s.total_pool, s.total_paid, v.n_payees, s.treasury
            );
            println!("activation commitment  {}", s.activation_commitment);
            println!("influence commitment   {}", s.influence_commitment);
            println!("payout commitment      {}", s.payout_commitment);
            warn_if_unsafe(&v.setup);
            ExitCode::SUCCESS
        }
        Err(e) => fail(dir, e),
    }
}

fn audit(
    dir: &Path,
    logs: Option<PathBuf>,
    csv: Option<(PathBuf, PathBuf)>,
    options: &VerifyOptions,
) -> ExitCode {
    let epoch = match load_logs(dir, logs, csv) {
        Ok(epoch) => epoch,
        Err(e) => return fail(dir, format!("cannot read the logs: {e}")),
    };
    match audit_bundle(dir, epoch.as_ref(), options) {
        Ok(report) => {
            println!(
                "ok: {} bundle of epoch {} ({} family, {} payees)",
                report.backend, report.epoch_id, report.family, report.n_payees
            );
            for line in &report.checked {
                println!("  checked:     {line}");
            }
            for line in &report.not_checked {
                println!("  NOT checked: {line}");
            }
            warn_if_unsafe(&report.setup);
            ExitCode::SUCCESS
        }
        Err(e) => fail(dir, e),
    }
}

/// Checks the path file at `path` against `against`: `given` runs with a commitment (and its
/// family), `in_bundle` with a bundle verified first under `options`.
fn open_path_file(
    path: &Path,
    against: Against,
    options: &VerifyOptions,
    given: impl FnOnce(FamilyName, &str, &[u8]) -> Result<Opened, ClaimError>,
    in_bundle: impl FnOnce(&Verified, &[u8]) -> Result<Opened, ClaimError>,
) -> ExitCode {
    let bytes = match read_path_file(path) {
        Ok(bytes) => bytes,
        Err(e) => return fail(path, e),
    };
    let (result, commitment, setup) = match (against.bundle, against.commitment) {
        (Some(dir), _) => {
            let verified = match verify_bundle(&dir, options) {
                Ok(verified) => verified,
                Err(e) => return fail(&dir, e),
            };
            let result = in_bundle(&verified, &bytes);
            let commitment = format!("of the bundle {}", dir.display());
            (result, commitment, verified.setup)
        }
        (None, Some(commitment)) => (
            given(against.family.into(), &commitment, &bytes),
            commitment,
            Setup::Transparent,
        ),
        (None, None) => return fail(path, "give --commitment or --bundle"),
    };
    match result {
        Ok(opened) => {
            println!(
                "ok: {} opens the {} {} commitment {commitment} at index {} of {}",
                opened.what, opened.family, opened.kind, opened.index, opened.count
            );
            warn_if_unsafe(&setup);
            ExitCode::SUCCESS
        }
        Err(e) => fail(path, e),
    }
}

/// `zkattr-verify evm DIR`: settles the bundle in revm and prints the gas (feature `evm`).
#[cfg(feature = "evm")]
fn evm(dir: &Path, adapter: Option<u32>, options: &VerifyOptions) -> ExitCode {
    use zkattr_verifier::evm::run_evm;
    match run_evm(dir, &zkattr_verifier::halo2::params_dir(), adapter, options) {
        Ok(r) => {
            println!(
                "ok: epoch {} settled and adapter {} claimed {} in revm",
                r.epoch_id, r.adapter, r.amount
            );
            println!(
                "verifier deployed code    {} bytes (EIP-170 limit {})",
                r.verifier_code_size,
                zkattr_evm::EIP170_LIMIT
            );
            println!("verify (direct call)      {} gas", r.verify_gas);
            println!(
                "register activation       {} gas",
                r.register_activation_gas
            );
            println!("register influence        {} gas", r.register_influence_gas);
            println!("settle gas: {}", r.settle_gas);
            println!(
                "claim gas: {} (the most expensive single claim)",
                r.claim_gas
            );
            if let Some(gas) = r.batch_claim_gas {
                println!(
                    "batch claim gas: {gas} ({} payouts in one transaction)",
                    r.batch_claims
                );
            }
            println!("(whole-transaction gas: 21000 intrinsic and calldata included)");
            warn_if_unsafe(&r.setup);
            ExitCode::SUCCESS
        }
        Err(e) => fail(dir, e),
    }
}

/// Without the `evm` feature the subcommand only says how to get it.
#[cfg(not(feature = "evm"))]
fn evm(dir: &Path, _adapter: Option<u32>, _options: &VerifyOptions) -> ExitCode {
    fail(
        dir,
        "this zkattr-verify was built without the `evm` feature; build it with \
         `cargo build -p zkattr-verifier --features evm` (needs node and npm for solc-js)",
    )
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let options = VerifyOptions::strict().allow_unsafe_setup(cli.allow_unsafe_setup);
    match cli.command {
        Command::Verify { dir } => verify(&dir, &options),
        Command::Evm { dir, adapter } => evm(&dir, adapter, &options),
        Command::Audit {
            dir,
            logs,
            activations,
            influence,
        } => audit(&dir, logs, activations.zip(influence), &options),
        Command::Claim {
            against,
            adapter,
            amount,
            path,
        } => open_path_file(
            &path,
            against,
            &options,
            |family, commitment, bytes| check_claim(family, commitment, adapter, amount, bytes),
            |verified, bytes| check_claim_in_bundle(verified, adapter, amount, bytes),
        ),
        Command::Inclusion { against, path } => open_path_file(
            &path,
            against,
            &options,
            check_inclusion,
            check_inclusion_in_bundle,
        ),
    }
}
