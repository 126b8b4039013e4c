//! The `audit`, `claim` and `inclusion` subcommands of `zkattr-verify`, kept apart from the
//! binary so that it only dispatches.

use crate::audit::{audit_bundle, read_manifest};
use crate::claims::{check_claim, check_inclusion, FamilyName, Opened};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use zkattr_model::io::{read_csv_pair, read_epoch_json};
use zkattr_model::{Epoch, EpochParams};

#[derive(clap::Subcommand, Debug)]
pub enum AuditCommand {
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
    /// Check a payee's amount against a published payout commitment with a path file
    /// (`zkattr paths EPOCH --adapter A`).
    Claim {
        /// The payout commitment (0x-hex).
        #[arg(long)]
        commitment: String,
        #[arg(long)]
        adapter: u32,
        #[arg(long)]
        amount: u64,
        /// The path file.
        #[arg(long)]
        path: PathBuf,
        #[arg(long, value_enum, default_value_t = FamilyName::Bn254)]
        family: FamilyName,
    },
    /// Check that the query record in a path file (`zkattr paths EPOCH --query Q --log L`) is
    /// in the log a published commitment commits to.
    Inclusion {
        /// The activation or influence commitment (0x-hex).
        #[arg(long)]
        commitment: String,
        /// The path file.
        #[arg(long)]
        path: PathBuf,
        #[arg(long, value_enum, default_value_t = FamilyName::Bn254)]
        family: FamilyName,
    },
}

fn fail(context: &Path, message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {}: {message}", context.display());
    ExitCode::FAILURE
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

fn print_opened(opened: &Opened, commitment: &str) {
    println!(
        "ok: {} opens the {} {} commitment {commitment} at index {} of {}",
        opened.what, opened.family, opened.kind, opened.index, opened.count
    );
}

/// A path file holds one depth-32 path of digests, a few kilobytes.
const MAX_PATH_FILE_BYTES: u64 = 1 << 20;

/// Reads at most [`MAX_PATH_FILE_BYTES`] (a device or a huge file is refused, not read whole).
fn read_path_file(path: &Path) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    crate::bundle::read_at_most(file, MAX_PATH_FILE_BYTES)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("larger than {MAX_PATH_FILE_BYTES} bytes: not a path file"))
}

/// Reads the path file at `path`, runs `check` on its bytes and reports the outcome.
fn open_path_file(
    path: &Path,
    commitment: &str,
    check: impl FnOnce(&[u8]) -> Result<Opened, crate::claims::ClaimError>,
) -> ExitCode {
    let result = read_path_file(path).and_then(|bytes| check(&bytes).map_err(|e| e.to_string()));
    match result {
        Ok(opened) => {
            print_opened(&opened, commitment);
            ExitCode::SUCCESS
        }
        Err(e) => fail(path, e),
    }
}

/// Runs one subcommand; prints the outcome and returns the exit code.
pub fn run(command: AuditCommand) -> ExitCode {
    match command {
        AuditCommand::Audit {
            dir,
            logs,
            activations,
            influence,
        } => {
            let epoch = match load_logs(&dir, logs, activations.zip(influence)) {
                Ok(epoch) => epoch,
                Err(e) => return fail(&dir, format!("cannot read the logs: {e}")),
            };
            match audit_bundle(&dir, epoch.as_ref()) {
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
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&dir, e),
            }
        }
        AuditCommand::Claim {
            commitment,
            adapter,
            amount,
            path,
            family,
        } => open_path_file(&path, &commitment, |bytes| {
            check_claim(family, &commitment, adapter, amount, bytes)
        }),
        AuditCommand::Inclusion {
            commitment,
            path,
            family,
        } => open_path_file(&path, &commitment, |bytes| {
            check_inclusion(family, &commitment, bytes)
        }),
    }
}

/// `zkattr-verify evm DIR`: settles the bundle in revm and prints the gas (feature `evm`).
#[cfg(feature = "evm")]
pub fn run_evm(dir: &Path, adapter: Option<u32>) -> ExitCode {
    match crate::evm::run_evm(dir, &crate::halo2::params_dir(), adapter) {
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
            println!("settle                    {} gas", r.settle_gas);
            println!("claim                     {} gas", r.claim_gas);
            println!("(whole-transaction gas: 21000 intrinsic and calldata included)");
            if r.unsafe_params {
                eprintln!(
                    "WARNING: proved with UNSAFE development KZG parameters (public seed): never settle on it on a real chain"
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(dir, e),
    }
}

/// Without the `evm` feature the subcommand only says how to get it.
#[cfg(not(feature = "evm"))]
pub fn run_evm(dir: &Path, _adapter: Option<u32>) -> ExitCode {
    fail(
        dir,
        "this zkattr-verify was built without the `evm` feature; build it with \
         `cargo build -p zkattr-verifier --features evm` (needs node and npm for solc-js)",
    )
}
