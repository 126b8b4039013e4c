//! `zkattr-verify`: check a proof bundle before settlement.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use zkattr_verifier::bundle::verify_bundle;

#[derive(Parser, Debug)]
#[command(
    name = "zkattr-verify",
    version,
    about = "Verify zkattr proof bundles before settlement"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check a bundle folder: its shape and pinned key, its payout table, then the proof.
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
    /// audit, claim, inclusion.
    #[command(flatten)]
    Audit(zkattr_verifier::cli::AuditCommand),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Verify { dir } => match verify_bundle(&dir) {
            Ok(v) => {
                let s = &v.statement;
                println!(
                    "ok: {} proof ({} circuit) of epoch {}: {} queries, total pool {}, paid {} to {} payees, treasury {}",
                    v.backend, v.shape, s.epoch_id, s.n_queries, s.total_pool, s.total_paid, v.n_payees, s.treasury
                );
                println!("activation commitment  {}", s.activation_commitment);
                println!("influence commitment   {}", s.influence_commitment);
                println!("payout commitment      {}", s.payout_commitment);
                if v.unsafe_params {
                    eprintln!(
                        "WARNING: proved with UNSAFE development KZG parameters (public seed): this proof convinces no one else; never settle on it"
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {}: {e}", dir.display());
                ExitCode::FAILURE
            }
        },
        Command::Evm { dir, adapter } => zkattr_verifier::cli::run_evm(&dir, adapter),
        Command::Audit(command) => zkattr_verifier::cli::run(command),
    }
}
