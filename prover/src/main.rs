//! `zkattr`: generate epochs, compute payout tables and commitments, and (as the backends land)
//! prove them.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;
use zkattr_halo2::Bn254Family;
use zkattr_model::io::{read_csv_pair, read_epoch_json, write_csv_pair, write_epoch_json};
use zkattr_model::paths::PathFile;
use zkattr_model::synth::{generate, SynthConfig};
use zkattr_model::{payout_report, Epoch, EpochParams, Log, PayoutReport};
use zkattr_plonky2::GoldilocksFamily;
use zkattr_prover::progress::StageProgress;

/// jemalloc rather than glibc's malloc: a staged proof frees gigabytes between stages, on
/// rayon threads, and glibc keeps what those threads' arenas freed (measured after the chunk
/// proofs of a 2^20-payee layout: 6.7 GB resident with glibc, 1.8 GB with jemalloc), so a
/// long-running service would hold it after the job. It hardly moved the peak (16.8 to 16.6
/// GiB with chunks of 16,384, the 2^19-row final's stage; chunks of 32,768, whose final is
/// 2^18 rows, brought it to 13.3 GiB). Measured as fast as glibc for these proofs; mimalloc
/// returned memory too but proved batches about 10% slower.
#[cfg(unix)]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser, Debug)]
#[command(
    name = "zkattr",
    version,
    about = "Zero-knowledge attribution prover: royalty shares from committed activation and influence logs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Generate a deterministic synthetic epoch (Zipf adapter popularity, signed scores).
    Gen {
        #[arg(long)]
        queries: u64,
        #[arg(long, default_value_t = 1000)]
        adapters: u32,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, default_value_t = 1)]
        epoch_id: u64,
        #[arg(long, default_value_t = 2500)]
        rate_bps: u16,
        /// Zipf exponent of adapter popularity: 1.1 (the default) gives a few popular adapters
        /// and a long tail; 0 draws adapters uniformly, so an epoch pays many distinct payees.
        #[arg(long, default_value_t = 1.1)]
        zipf_exponent: f64,
        /// Epoch JSON file to write ("-" for standard output).
        #[arg(long, short, default_value = "-")]
        out: PathBuf,
        /// Also write activations.csv and influence.csv into this folder.
        #[arg(long)]
        csv_dir: Option<PathBuf>,
    },
    /// Apply the royalty rule and print the payout table with the three commitments.
    Payouts {
        #[command(flatten)]
        input: EpochInput,
        /// Print SPEC's JSON payout table instead of a text table.
        #[arg(long)]
        json: bool,
        /// Hash family of the commitments.
        #[arg(long, value_enum, default_value_t = Family::Bn254)]
        family: Family,
    },
    /// Prove an epoch and write a proof bundle (checked by `zkattr-verify verify DIR`).
    Prove {
        #[command(flatten)]
        input: EpochInput,
        #[arg(long, value_enum, default_value_t = Backend::Plonky2)]
        backend: Backend,
        /// Bundle folder to write.
        #[arg(long)]
        out: PathBuf,
        /// halo2: folder of KZG parameters (`kzg_bn254_{k}.srs`, halo2 format). Without a file
        /// for the circuit's size, UNSAFE development parameters are generated and cached there.
        #[arg(long, env = "ZKATTR_PARAMS_DIR", default_value = "params")]
        params: PathBuf,
        /// plonky2: prove in aggregated batches of at most this many queries (a power of two
        /// up to 32768), even if one circuit would hold the epoch. Without it, epochs above the
        /// largest single circuit (1,024 queries) are aggregated in batches of up to 2,048.
        #[arg(long)]
        batch_size: Option<usize>,
        /// plonky2, aggregated epochs: keep each finished batch, merge and payout-list chunk
        /// proof in this folder; rerun the same command after an interruption and it resumes
        /// from them. Emptied
        /// once the bundle is written. These proofs are not zero-knowledge (only the bundle's
        /// is hiding): keep the folder as private as the epoch.
        #[arg(long)]
        checkpoint_dir: Option<PathBuf>,
    },
    /// Generate an epoch, print its payouts and commitments in both families, then prove it
    /// with plonky2 and verify the bundle.
    Demo {
        #[arg(long, default_value_t = 200)]
        queries: u64,
        #[arg(long, default_value_t = 40)]
        adapters: u32,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Where to write the proof bundle (default: a folder under the system temp dir).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Skip proving (payouts and commitments only).
        #[arg(long)]
        no_prove: bool,
    },
    /// Measure proofs of synthetic epochs end to end: writes report.json, report.md and
    /// prove_time.svg into --out and prints the table.
    Bench {
        /// Epoch sizes, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "16,64,250")]
        queries: Vec<u64>,
        /// Backends, comma-separated.
        #[arg(
            long,
            value_enum,
            value_delimiter = ',',
            default_value = "plonky2,halo2"
        )]
        backend: Vec<Backend>,
        #[arg(long, default_value_t = 5)]
        seed: u64,
        /// Folder for the report files.
        #[arg(long, default_value = "bench-report")]
        out: PathBuf,
        #[arg(long, env = "ZKATTR_PARAMS_DIR", default_value = "params")]
        params: PathBuf,
    },
    /// One measurement of `zkattr bench`, run in its own process (peak memory is per process).
    #[command(hide = true)]
    BenchOne {
        #[arg(long, value_enum)]
        backend: Backend,
        #[arg(long)]
        queries: u64,
        #[arg(long)]
        seed: u64,
        #[arg(long)]
        params: PathBuf,
        /// Where to write the row as JSON.
        #[arg(long)]
        row: PathBuf,
    },
    /// Write a path file for `zkattr-verify claim` (a payee's payout, --adapter) or
    /// `zkattr-verify inclusion` (a query record in one log, --query and --log).
    Paths {
        #[command(flatten)]
        input: EpochInput,
        /// The payee whose claim path to write.
        #[arg(long, conflicts_with_all = ["query", "log"], required_unless_present = "query")]
        adapter: Option<u32>,
        /// The query whose inclusion path to write (needs --log).
        #[arg(long, requires = "log")]
        query: Option<u64>,
        /// Which log the query path opens.
        #[arg(long, value_enum)]
        log: Option<LogArg>,
        /// Hash family (bn254 for halo2 bundles and the EVM, goldilocks for plonky2 bundles).
        #[arg(long, value_enum, default_value_t = Family::Bn254)]
        family: Family,
        /// Path file to write ("-" for standard output).
        #[arg(long, short, default_value = "-")]
        out: PathBuf,
    },
    /// KZG parameters for the halo2 backend.
    Params {
        #[command(subcommand)]
        command: ParamsCommand,
    },
    /// The gRPC service and its client: serve, submit, status, fetch, cancel, retry, jobs.
    #[command(flatten)]
    Service(zkattr_prover::client::ServiceCommand),
}

#[derive(Subcommand, Debug)]
enum ParamsCommand {
    /// Convert a snarkjs Powers of Tau file (e.g. the Hermez powersOfTau28_hez_final_{P}.ptau)
    /// into halo2 parameter files `kzg_bn254_{k}.srs` in --out, after checking its powers with
    /// pairings; record the source and each file's sha256 in `OUT/manifest.json` and pin the
    /// project's verifying keys under them in `OUT/halo2_vk_digests.json` (see params/README.md).
    Import {
        /// The .ptau file.
        #[arg(long)]
        ptau: PathBuf,
        /// Folder to write the parameter files into (`zkattr prove --params`, and
        /// `ZKATTR_PARAMS_DIR` for zkattr-verify).
        #[arg(long)]
        out: PathBuf,
        /// Smallest k written.
        #[arg(long, default_value_t = 1)]
        min_k: u32,
        /// Largest k written (default: every k the file covers, up to its power).
        #[arg(long)]
        max_k: Option<u32>,
        /// Skip generating the verifying keys of the project's circuits and pinning their digests.
        #[arg(long)]
        no_pins: bool,
    },
}

/// Where an epoch comes from: SPEC's JSON file, or the CSV pair the two parties publish.
#[derive(clap::Args, Debug)]
struct EpochInput {
    /// Epoch JSON file ("-" for standard input).
    #[arg(required_unless_present = "activations")]
    epoch: Option<PathBuf>,
    /// activations.csv (query_id,fee,adapter_id,gate); needs --influence, --epoch-id, --rate-bps.
    #[arg(long, requires_all = ["influence", "epoch_id", "rate_bps"], conflicts_with = "epoch")]
    activations: Option<PathBuf>,
    /// influence.csv (query_id,adapter_id,score).
    #[arg(long, requires = "activations")]
    influence: Option<PathBuf>,
    #[arg(long, requires = "activations")]
    epoch_id: Option<u64>,
    #[arg(long, requires = "activations")]
    rate_bps: Option<u16>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Backend {
    Plonky2,
    Halo2,
}

/// Whether one plonky2 ladder circuit holds `epoch` (its queries and its payees).
fn fits_one_plonky2_circuit(epoch: &Epoch) -> Result<bool> {
    let settlement = zkattr_model::Settlement::compute(epoch)?;
    Ok(zkattr_plonky2::prover::shape_for(epoch.queries.len(), settlement.payouts.len()).is_ok())
}

/// `zkattr prove --backend plonky2` beyond one circuit: batches, merges, payout-list chunks,
/// final layer, with a progress line per circuit, batch, merge and chunk proof.
fn prove_aggregated(
    epoch: &Epoch,
    out: &Path,
    batch_size: Option<usize>,
    checkpoint_dir: Option<&Path>,
) -> Result<zkattr_model::bundle::BundleManifest> {
    use zkattr_plonky2::aggregation::{
        prove_epoch, shape_for_epoch, AggregationStage, Circuits, ProveOptions, DEFAULT_BATCH_CAP,
        PINNED_CHUNKED_CAPACITY,
    };
    let shape = shape_for_epoch(epoch, batch_size.unwrap_or(DEFAULT_BATCH_CAP))?;
    let batches = shape.batch_count(epoch.queries.len());
    // Circuits built (batch, merges, final, shrink; the later ones when their stage
    // begins), batches, merges and two layers; with a chunked payout list, its circuit and at
    // most one proof per chunk.
    let chunk_stages = shape.chunk_count().map_or(0, |chunks| chunks + 1);
    let stages = (shape.levels as usize + 3)
        + batches
        + shape.merge_count(epoch.queries.len())
        + 2
        + chunk_stages;
    let progress = std::sync::Mutex::new(StageProgress::new(stages as u64));
    let report = |stage: &AggregationStage| {
        // A restored subtree is every batch and merge in it.
        let count = match stage {
            AggregationStage::Restored {
                batches, merges, ..
            } => batches + merges,
            _ => 1,
        };
        if let Ok(mut progress) = progress.lock() {
            progress.stages(&stage.to_string(), count as u64);
        }
    };
    report_line(
        &progress,
        &format!(
            "{} queries in {batches} batches of up to {} ({})",
            epoch.queries.len(),
            shape.batch_size(),
            shape.key()
        ),
    );
    if zkattr_verifier::bundle::pinned_plonky2_digest(&shape.key()).is_none() {
        // Said before hours of proving, not only after.
        report_line(
            &progress,
            &format!(
                "warning: the layout {} is not pinned in params/plonky2_vk_digests.json, so zkattr-verify will refuse its bundle until its digest is reviewed and pinned",
                shape.key()
            ),
        );
    }
    // One epoch, so no circuit is kept past its stage (at 2^20 payees they would hold 12 GB).
    let options = ProveOptions {
        checkpoints: checkpoint_dir,
        ..ProveOptions::new(&report)
    };
    let manifest = prove_epoch(Circuits::Staged(shape), epoch, out, &options)?;
    if let Some(dir) = checkpoint_dir {
        if let Err(e) = zkattr_plonky2::aggregation::CheckpointDir::clear(dir) {
            eprintln!(
                "warning: the bundle is written but the checkpoints in {} could not be removed: {e}",
                dir.display()
            );
        }
    }
    drop(progress);
    let key = manifest.shape.key();
    if zkattr_verifier::bundle::pinned_plonky2_digest(&key).as_ref()
        != Some(&manifest.verifying_key_digest)
    {
        eprintln!(
            "warning: the aggregation layout {key} is not pinned in params/plonky2_vk_digests.json (only the default layouts are: batches of 2048, payout lists up to {PINNED_CHUNKED_CAPACITY}), so zkattr-verify refuses this bundle until its digest ({}) is reviewed and pinned",
            manifest.verifying_key_digest
        );
    }
    Ok(manifest)
}

fn report_line(progress: &std::sync::Mutex<StageProgress>, line: &str) {
    if let Ok(mut progress) = progress.lock() {
        progress.stage(line);
    }
}

fn backend_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Plonky2 => "plonky2",
        Backend::Halo2 => "halo2",
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum LogArg {
    Activation,
    Influence,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Family {
    Bn254,
    Goldilocks,
}

fn open(path: &Path) -> Result<Box<dyn io::Read>> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(io::stdin().lock()));
    }
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    Ok(Box::new(file))
}

fn create(path: &Path) -> Result<Box<dyn io::Write>> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(io::stdout().lock()));
    }
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    Ok(Box::new(file))
}

impl EpochInput {
    fn load(&self) -> Result<Epoch> {
        match (&self.epoch, &self.activations, &self.influence) {
            (Some(path), _, _) => read_epoch_json(open(path)?)
                .with_context(|| format!("{} is not a valid epoch", path.display())),
            (None, Some(act), Some(inf)) => {
                let params = EpochParams {
                    epoch_id: self.epoch_id.unwrap_or_default(),
                    rate_bps: self.rate_bps.unwrap_or_default(),
                };
                read_csv_pair(params, open(act)?, open(inf)?).with_context(|| {
                    format!(
                        "{} and {} are not a valid epoch",
                        act.display(),
                        inf.display()
                    )
                })
            }
            _ => bail!("give an epoch JSON file, or --activations and --influence"),
        }
    }
}

/// The path file of one payee (`adapter`) or one query record (`query`, `log`).
fn path_file_for<F: zkattr_model::CommitmentFamily>(
    family: &F,
    epoch: &Epoch,
    adapter: Option<u32>,
    query: Option<(u64, LogArg)>,
) -> Result<PathFile> {
    Ok(match (adapter, query) {
        (Some(adapter), None) => {
            let settlement = zkattr_model::Settlement::compute(epoch)?;
            PathFile::for_payout(family, &settlement.payouts, adapter)?
        }
        (None, Some((query_id, log))) => {
            let log = match log {
                LogArg::Activation => Log::Activation,
                LogArg::Influence => Log::Influence,
            };
            PathFile::for_query(family, &epoch.queries, log, query_id)?
        }
        _ => bail!("give --adapter A, or --query Q with --log activation|influence"),
    })
}

fn report_for(family: Family, epoch: &Epoch) -> Result<PayoutReport> {
    let report = match family {
        Family::Bn254 => payout_report(&Bn254Family, epoch)?.2,
        Family::Goldilocks => payout_report(&GoldilocksFamily, epoch)?.2,
    };
    Ok(report)
}

fn print_table(out: &mut impl Write, report: &PayoutReport, limit: usize) -> io::Result<()> {
    writeln!(
        out,
        "epoch {}  queries {}  rate {} bps  family {}",
        report.epoch_id, report.n_queries, report.rate_bps, report.family
    )?;
    writeln!(
        out,
        "total pool {}  paid {}  treasury {}  payees {}",
        report.total_pool, report.total_paid, report.treasury, report.n_payees
    )?;
    writeln!(out, "{:>12}  {:>20}", "adapter_id", "amount")?;
    for p in report.payouts.iter().take(limit) {
        writeln!(out, "{:>12}  {:>20}", p.adapter_id, p.amount)?;
    }
    if report.payouts.len() > limit {
        writeln!(
            out,
            "{:>12}  ({} more; --json prints all)",
            "...",
            report.payouts.len() - limit
        )?;
    }
    writeln!(
        out,
        "activation commitment  {}",
        report.activation_commitment
    )?;
    writeln!(
        out,
        "influence commitment   {}",
        report.influence_commitment
    )?;
    writeln!(out, "payout commitment      {}", report.payout_commitment)?;
    Ok(())
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Gen {
            queries,
            adapters,
            seed,
            epoch_id,
            rate_bps,
            zipf_exponent,
            out,
            csv_dir,
        } => {
            if adapters == 0 {
                bail!("--adapters must be at least 1");
            }
            if !(0.0..=10.0).contains(&zipf_exponent) {
                bail!("--zipf-exponent must be between 0 and 10, not {zipf_exponent}");
            }
            let mut config = SynthConfig::new(queries, adapters, seed);
            config.epoch_id = epoch_id;
            config.rate_bps = rate_bps;
            config.zipf_exponent = zipf_exponent;
            let epoch = generate(&config);
            epoch.validate()?;
            write_epoch_json(&epoch, create(&out)?)
                .with_context(|| format!("writing {}", out.display()))?;
            if let Some(dir) = csv_dir {
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                write_csv_pair(
                    &epoch,
                    create(&dir.join("activations.csv"))?,
                    create(&dir.join("influence.csv"))?,
                )?;
            }
        }
        Command::Payouts {
            input,
            json,
            family,
        } => {
            let epoch = input.load()?;
            let report = report_for(family, &epoch)?;
            let mut out = io::stdout().lock();
            if json {
                serde_json::to_writer_pretty(&mut out, &report)?;
                writeln!(out)?;
            } else {
                print_table(&mut out, &report, usize::MAX)?;
            }
        }
        Command::Prove {
            input,
            backend,
            out,
            params,
            batch_size,
            checkpoint_dir,
        } => {
            let epoch = input.load()?;
            // The progress bars end with their blocks, before the summary line.
            let (manifest, proof_kind) = match backend {
                Backend::Halo2 if batch_size.is_some() || checkpoint_dir.is_some() => {
                    bail!("--batch-size and --checkpoint-dir apply to the plonky2 backend only (halo2 aggregation is not built)")
                }
                Backend::Plonky2 if batch_size.is_some() || !fits_one_plonky2_circuit(&epoch)? => (
                    prove_aggregated(&epoch, &out, batch_size, checkpoint_dir.as_deref())?,
                    "aggregated proof",
                ),
                Backend::Halo2 => {
                    let mut progress = StageProgress::new(4);
                    let manifest =
                        zkattr_halo2::prover::prove_epoch(&epoch, &out, &params, |stage| {
                            progress.stage(stage)
                        })?;
                    (manifest, "circuit")
                }
                Backend::Plonky2 => {
                    if let Some(dir) = &checkpoint_dir {
                        eprintln!(
                            "note: --checkpoint-dir {} unused: one circuit holds this epoch (--batch-size forces aggregation)",
                            dir.display()
                        );
                    }
                    let mut progress = StageProgress::new(6);
                    let manifest = zkattr_plonky2::prover::prove_epoch(&epoch, &out, |stage| {
                        progress.stage(stage)
                    })?;
                    (manifest, "circuit")
                }
            };
            // zkattr-verify refuses a proof under development parameters without the flag.
            let unsafe_setup = manifest
                .halo2
                .as_ref()
                .is_some_and(|h| h.kzg_source == zkattr_verifier::options::DEV_UNSAFE_KZG);
            println!(
                "wrote {} ({} {proof_kind}, proved in {:.1} s); check it with: zkattr-verify verify {}{}",
                out.display(),
                manifest.shape.key(),
                manifest.prove_seconds,
                out.display(),
                if unsafe_setup {
                    " --allow-unsafe-setup (UNSAFE development KZG parameters: never settle on it)"
                } else {
                    ""
                }
            );
        }
        Command::Demo {
            queries,
            adapters,
            seed,
            out: bundle_dir,
            no_prove,
        } => {
            if adapters == 0 {
                bail!("--adapters must be at least 1");
            }
            let mut out = io::stdout().lock();
            let epoch = generate(&SynthConfig::new(queries, adapters, seed));
            writeln!(
                out,
                "generated a synthetic epoch: {queries} queries over {adapters} adapters (seed {seed})\n"
            )?;
            for family in [Family::Bn254, Family::Goldilocks] {
                let start = Instant::now();
                let report = report_for(family, &epoch)?;
                print_table(&mut out, &report, 10)?;
                writeln!(
                    out,
                    "computed natively in {:.1} ms\n",
                    start.elapsed().as_secs_f64() * 1e3
                )?;
            }
            if no_prove {
                return Ok(());
            }
            let dir = bundle_dir.unwrap_or_else(|| {
                std::env::temp_dir().join(format!("zkattr-demo-{}", std::process::id()))
            });
            writeln!(
                out,
                "proving with plonky2 (zero-knowledge on) into {}",
                dir.display()
            )?;
            out.flush()?;
            let mut progress = StageProgress::new(6);
            zkattr_plonky2::prover::prove_epoch(&epoch, &dir, |stage| progress.stage(stage))?;
            drop(progress);
            // Passed explicitly, as every development path does: the demo's plonky2 bundle
            // has no setup, so nothing unsafe is accepted here today.
            let options = zkattr_verifier::VerifyOptions::strict().allow_unsafe_setup(true);
            let verified = zkattr_verifier::bundle::verify_bundle(&dir, &options)
                .with_context(|| format!("verifying {}", dir.display()))?;
            writeln!(
                out,
                "verified: {} proof ({} circuit) of epoch {}: total pool {}, paid {}, treasury {}",
                verified.backend,
                verified.shape,
                verified.statement.epoch_id,
                verified.statement.total_pool,
                verified.statement.total_paid,
                verified.statement.treasury
            )?;
            writeln!(
                out,
                "check it yourself: zkattr-verify verify {}",
                dir.display()
            )?;
            writeln!(
                out,
                "for a proof the EVM can check: zkattr prove EPOCH --backend halo2 --out DIR"
            )?;
        }
        Command::Bench {
            queries,
            backend,
            seed,
            out,
            params,
        } => {
            if queries.is_empty() || backend.is_empty() {
                bail!("give at least one --queries size and one --backend");
            }
            let exe = std::env::current_exe().context("locating the zkattr binary")?;
            let scratch = tempfile::tempdir()?;
            let mut rows = Vec::new();
            for &b in &backend {
                for &n in &queries {
                    let name = backend_name(b);
                    eprintln!("bench: {name}, {n} queries ...");
                    let row_path = scratch.path().join(format!("{name}-{n}.json"));
                    let status = std::process::Command::new(&exe)
                        .args(["bench-one", "--backend", name])
                        .args(["--queries", &n.to_string(), "--seed", &seed.to_string()])
                        .arg("--params")
                        .arg(&params)
                        .arg("--row")
                        .arg(&row_path)
                        .status()
                        .context("running zkattr bench-one")?;
                    if !status.success() {
                        bail!("the {name} measurement of {n} queries failed ({status})");
                    }
                    let row: zkattr_prover::bench::BenchRow =
                        serde_json::from_slice(&std::fs::read(&row_path)?)?;
                    eprintln!(
                        "bench: {name}, {n} queries: prove {:.1} s, verify {:.3} s, {} B",
                        row.prove_seconds, row.verify_seconds, row.proof_bytes
                    );
                    rows.push(row);
                }
            }
            let command: Vec<String> = std::env::args().collect();
            let report = zkattr_prover::bench::BenchReport::new(command.join(" "), rows);
            std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            std::fs::write(
                out.join("report.json"),
                serde_json::to_string_pretty(&report)? + "\n",
            )?;
            std::fs::write(out.join("report.md"), report.markdown())?;
            std::fs::write(out.join("prove_time.svg"), report.svg())?;
            print!("{}", report.markdown());
            println!(
                "\nwrote {0}/report.json, {0}/report.md, {0}/prove_time.svg",
                out.display()
            );
        }
        Command::BenchOne {
            backend,
            queries,
            seed,
            params,
            row,
        } => {
            let scratch = tempfile::tempdir()?;
            let measured = zkattr_prover::bench::bench_one(
                backend_name(backend),
                queries,
                seed,
                &params,
                scratch.path(),
            )?;
            std::fs::write(row, serde_json::to_vec(&measured)?)?;
        }
        Command::Paths {
            input,
            adapter,
            query,
            log,
            family,
            out,
        } => {
            let epoch = input.load()?;
            let query = match (query, log) {
                (Some(q), Some(log)) => Some((q, log)),
                (None, None) => None,
                _ => bail!("--query and --log go together"),
            };
            let file = match family {
                Family::Bn254 => path_file_for(&Bn254Family, &epoch, adapter, query)?,
                Family::Goldilocks => path_file_for(&GoldilocksFamily, &epoch, adapter, query)?,
            };
            let mut writer = create(&out)?;
            serde_json::to_writer_pretty(&mut writer, &file)?;
            writeln!(writer)?;
        }
        Command::Params {
            command:
                ParamsCommand::Import {
                    ptau,
                    out,
                    min_k,
                    max_k,
                    no_pins,
                },
        } => {
            let power = zkattr_halo2::ptau::PtauFile::open(&ptau)
                .with_context(|| format!("{} is refused", ptau.display()))?
                .power;
            let imported = zkattr_halo2::ptau::import_ptau(
                &ptau,
                &out,
                min_k..=max_k.unwrap_or(power),
                |line| eprintln!("{line}"),
            )
            .with_context(|| format!("{} is refused", ptau.display()))?;
            println!(
                "imported {} (sha256 {}): {} parameter files in {}, recorded in {}",
                imported.ptau_name,
                imported.ptau_sha256,
                imported.files.len(),
                out.display(),
                out.join(zkattr_halo2::keys::MANIFEST_FILE).display()
            );
            if !no_pins {
                let pinned =
                    zkattr_halo2::ptau::pin_verifying_keys(&out, |line| eprintln!("{line}"))?;
                println!(
                    "pinned {} verifying keys in {}",
                    pinned.len(),
                    out.join(zkattr_halo2::keys::PINS_FILE).display()
                );
            }
        }
        Command::Service(command) => zkattr_prover::client::run(command)?,
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A closed pipe (`zkattr payouts ... | head`) is not an error worth a message.
            if let Some(io) = e.downcast_ref::<io::Error>() {
                if io.kind() == io::ErrorKind::BrokenPipe {
                    return ExitCode::SUCCESS;
                }
            }
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
