//! `zkattr bench`: end-to-end measurements on synthetic epochs, written as a JSON report, a
//! markdown table and an SVG plot of proving time against epoch size.
//!
//! Each (backend, size) runs in a child process (`zkattr bench-one`), so its peak memory
//! (`VmHWM`) is its own and not the high-water mark of an earlier, larger run.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;
use zkattr_model::synth::{generate, SynthConfig};

/// One measured proof.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct BenchRow {
    pub backend: String,
    pub queries: u64,
    /// The circuit that held the epoch, e.g. `256x256`.
    pub shape: String,
    /// The rule and the commitments in the backend's hash family, no proof.
    pub native_seconds: f64,
    /// Key generation or circuit building, outside the proving time.
    pub setup_seconds: f64,
    pub prove_seconds: f64,
    pub verify_seconds: f64,
    pub proof_bytes: u64,
    /// Peak resident memory of the process that proved and verified.
    pub peak_rss_bytes: u64,
    pub queries_per_second: f64,
    /// Proving time over native time for the same epoch.
    pub prove_to_native: f64,
}

/// A report: the machine and the rows.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BenchReport {
    pub machine: String,
    pub cores: usize,
    pub command: String,
    pub rows: Vec<BenchRow>,
}

/// Adapters for a synthetic epoch of `queries` queries (as the README's figures use).
pub fn adapters_for(queries: u64) -> u32 {
    u32::try_from(queries / 4 + 4).unwrap_or(u32::MAX)
}

/// Peak resident memory of this process (Linux `VmHWM`), 0 where unknown.
pub fn peak_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kib| kib * 1024)
}

fn cpu_model() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    info.lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown CPU".into())
}

/// Measures one proof of a synthetic epoch of `queries` queries with `backend`, in this
/// process. `scratch` receives the bundle.
pub fn bench_one(
    backend: &str,
    queries: u64,
    seed: u64,
    params_dir: &Path,
    scratch: &Path,
) -> Result<BenchRow> {
    let epoch = generate(&SynthConfig::new(queries, adapters_for(queries), seed));
    let started = Instant::now();
    let manifest = match backend {
        "halo2" => {
            let native = Instant::now();
            zkattr_model::payout_report(&zkattr_halo2::Bn254Family, &epoch)?;
            let native_seconds = native.elapsed().as_secs_f64();
            let manifest = zkattr_halo2::prover::prove_epoch(&epoch, scratch, params_dir, |_| {})?;
            (native_seconds, manifest)
        }
        "plonky2" => {
            let native = Instant::now();
            zkattr_model::payout_report(&zkattr_plonky2::GoldilocksFamily, &epoch)?;
            let native_seconds = native.elapsed().as_secs_f64();
            let manifest = zkattr_plonky2::prover::prove_epoch(&epoch, scratch, |_| {})?;
            (native_seconds, manifest)
        }
        other => bail!("unknown backend {other:?}: halo2 or plonky2"),
    };
    let (native_seconds, manifest) = manifest;
    let total_seconds = started.elapsed().as_secs_f64() - native_seconds;
    let verify = Instant::now();
    // Measurements run under development parameters when no ceremony file is given.
    let options = zkattr_verifier::VerifyOptions::strict().allow_unsafe_setup(true);
    zkattr_verifier::bundle::verify_bundle_with_params(scratch, params_dir, &options)
        .with_context(|| format!("the {backend} bundle of {queries} queries does not verify"))?;
    let verify_seconds = verify.elapsed().as_secs_f64();
    let proof_bytes = std::fs::metadata(scratch.join(&manifest.proof_file))?.len();
    let prove_seconds = manifest.prove_seconds;
    Ok(BenchRow {
        backend: backend.to_string(),
        queries,
        shape: manifest.shape.key(),
        native_seconds,
        setup_seconds: (total_seconds - prove_seconds).max(0.0),
        prove_seconds,
        verify_seconds,
        proof_bytes,
        peak_rss_bytes: peak_rss_bytes(),
        queries_per_second: queries as f64 / prove_seconds.max(1e-9),
        prove_to_native: prove_seconds / native_seconds.max(1e-9),
    })
}

impl BenchReport {
    pub fn new(command: String, rows: Vec<BenchRow>) -> Self {
        BenchReport {
            machine: cpu_model(),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            command,
            rows,
        }
    }

    /// The rows as a markdown table, with the machine and the command above it.
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "Measured on {} ({} cores) with `{}`.\n\n",
            self.machine, self.cores, self.command
        );
        out.push_str("| Backend | Queries | Circuit | Native | Setup | Prove | Queries/s | Prove / native | Verify | Proof | Peak memory |\n");
        out.push_str("|---|---|---|---|---|---|---|---|---|---|---|\n");
        for r in &self.rows {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.3} s | {:.1} s | {:.1} s | {:.1} | {:.0}x | {:.3} s | {} B | {:.2} GB |",
                r.backend,
                r.queries,
                r.shape,
                r.native_seconds,
                r.setup_seconds,
                r.prove_seconds,
                r.queries_per_second,
                r.prove_to_native,
                r.verify_seconds,
                r.proof_bytes,
                r.peak_rss_bytes as f64 / 1e9
            );
        }
        out
    }

    /// Proving time against queries, one line per backend, log2 x axis, as SVG.
    pub fn svg(&self) -> String {
        let (width, height, margin) = (640.0_f64, 400.0_f64, 60.0_f64);
        let rows = &self.rows;
        let x_of = |q: u64| (q.max(1) as f64).log2();
        let (x_min, x_max) = rows.iter().fold((f64::MAX, f64::MIN), |(lo, hi), r| {
            (lo.min(x_of(r.queries)), hi.max(x_of(r.queries)))
        });
        let y_max = rows.iter().map(|r| r.prove_seconds).fold(0.0_f64, f64::max);
        let x_span = if x_max > x_min { x_max - x_min } else { 1.0 };
        let y_span = if y_max > 0.0 { y_max * 1.1 } else { 1.0 };
        let px = |q: u64| margin + (x_of(q) - x_min.min(x_of(q))) / x_span * (width - 2.0 * margin);
        let py = |s: f64| height - margin - s / y_span * (height - 2.0 * margin);
        let mut svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{}\" y=\"20\" text-anchor=\"middle\">Proving time against epoch size ({} cores)</text>\n<line x1=\"{margin}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/>\n<line x1=\"{margin}\" y1=\"{margin}\" x2=\"{margin}\" y2=\"{}\" stroke=\"black\"/>\n<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">queries (log scale)</text>\n<text x=\"15\" y=\"{}\" transform=\"rotate(-90 15 {})\" text-anchor=\"middle\">prove seconds</text>\n",
            width / 2.0,
            self.cores,
            height - margin,
            width - margin,
            height - margin,
            height - margin,
            width / 2.0,
            height - 15.0,
            height / 2.0,
            height / 2.0
        );
        // Ticks at 0, half and the slowest proof.
        for tick in [0.0, y_max / 2.0, y_max] {
            let _ = writeln!(
                svg,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{tick:.1} s</text>",
                margin - 4.0,
                py(tick) + 4.0
            );
        }
        let mut backends: Vec<&str> = rows.iter().map(|r| r.backend.as_str()).collect();
        backends.sort_unstable();
        backends.dedup();
        backends.dedup();
        for (i, backend) in backends.iter().enumerate() {
            let color = ["#1f77b4", "#d62728", "#2ca02c"][i % 3];
            let mut points: Vec<&BenchRow> =
                rows.iter().filter(|r| r.backend == *backend).collect();
            points.sort_by_key(|r| r.queries);
            let path: Vec<String> = points
                .iter()
                .map(|r| format!("{:.1},{:.1}", px(r.queries), py(r.prove_seconds)))
                .collect();
            let _ = writeln!(
                svg,
                "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>",
                path.join(" ")
            );
            for r in &points {
                let _ = writeln!(
                    svg,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{color}\"/>\n<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                    px(r.queries),
                    py(r.prove_seconds),
                    px(r.queries),
                    height - margin + 15.0,
                    r.queries
                );
            }
            let _ = writeln!(
                svg,
                "<text x=\"{}\" y=\"{}\" fill=\"{color}\">{backend}</text>",
                width - margin - 80.0,
                margin + 15.0 * i as f64
            );
        }
        svg.push_str("</svg>\n");
        svg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(backend: &str, queries: u64, prove_seconds: f64) -> BenchRow {
        BenchRow {
            backend: backend.into(),
            queries,
            shape: "16x16".into(),
            native_seconds: 0.01,
            setup_seconds: 1.0,
            prove_seconds,
            verify_seconds: 0.1,
            proof_bytes: 2464,
            peak_rss_bytes: 1 << 30,
            queries_per_second: queries as f64 / prove_seconds,
            prove_to_native: prove_seconds / 0.01,
        }
    }

    #[test]
    fn markdown_and_svg_carry_every_row() {
        let report = BenchReport::new(
            "zkattr bench --queries 16,256".into(),
            vec![
                row("halo2", 16, 3.6),
                row("halo2", 256, 40.0),
                row("plonky2", 16, 5.1),
                row("plonky2", 256, 24.2),
            ],
        );
        let md = report.markdown();
        assert_eq!(md.matches("\n| halo2 |").count(), 2, "{md}");
        assert!(md.contains("| plonky2 | 256 | 16x16 |"), "{md}");
        assert!(md.contains("zkattr bench --queries 16,256"));
        let svg = report.svg();
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches("<circle").count(), 4);
        assert!(
            svg.contains(">40.0 s<"),
            "the y axis is labelled with the maximum"
        );
        // The largest proof is drawn at the top margin, the smallest size at the left margin.
        assert!(svg.contains("cx=\"60.0\""));
    }

    #[test]
    fn peak_memory_is_read_on_linux() {
        assert!(peak_rss_bytes() > 1 << 20);
    }
}
