//! The `zkattr` binary end to end: outputs agree with the library, bad input gets one clear
//! line on stderr and a non-zero exit, never a panic.

use std::path::Path;
use std::process::{Command, Output};
use zkattr_model::PayoutReport;

fn zkattr(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zkattr"))
        .args(args)
        .output()
        .expect("zkattr runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("zkattr-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `zkattr gen ARGS --out DIR/epoch.json`, which must succeed; the epoch's path.
fn gen_epoch(dir: &Path, args: &[&str]) -> std::path::PathBuf {
    let epoch = dir.join("epoch.json");
    let mut all = vec!["gen"];
    all.extend_from_slice(args);
    all.extend(["--out", epoch.to_str().unwrap()]);
    let o = zkattr(&all);
    assert!(o.status.success(), "{}", stderr(&o));
    epoch
}

fn assert_clean_failure(o: &Output, needle: &str) {
    assert!(!o.status.success(), "expected failure, got {}", stdout(o));
    let err = stderr(o);
    assert!(err.starts_with("error: "), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains(needle), "{needle:?} not in {err}");
}

#[test]
fn gen_then_payouts_in_both_families_and_formats() {
    let dir = tempdir("gen");
    let epoch = dir.join("epoch.json");
    let csv = dir.join("csv");
    let o = zkattr(&[
        "gen",
        "--queries",
        "200",
        "--adapters",
        "30",
        "--seed",
        "4",
        "--out",
        epoch.to_str().unwrap(),
        "--csv-dir",
        csv.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Uniform popularity (--zipf-exponent 0) pays more distinct adapters than the default
    // Zipf law on the same catalogue and seed.
    let payees = |extra: &[&str]| {
        let mut args = vec![
            "gen",
            "--queries",
            "200",
            "--adapters",
            "3000",
            "--seed",
            "4",
        ];
        args.extend_from_slice(extra);
        let generated = zkattr(&args);
        assert!(generated.status.success(), "{}", stderr(&generated));
        let one = dir.join("one.json");
        std::fs::write(&one, &generated.stdout).unwrap();
        let report = zkattr(&["payouts", one.to_str().unwrap(), "--json"]);
        assert!(report.status.success(), "{}", stderr(&report));
        serde_json::from_slice::<PayoutReport>(&report.stdout)
            .unwrap()
            .payouts
            .len()
    };
    let (skewed, uniform) = (payees(&[]), payees(&["--zipf-exponent", "0"]));
    assert!(uniform > skewed + 100, "{uniform} vs {skewed}");
    for family in ["bn254", "goldilocks"] {
        let from_json = zkattr(&[
            "payouts",
            epoch.to_str().unwrap(),
            "--json",
            "--family",
            family,
        ]);
        assert!(from_json.status.success(), "{}", stderr(&from_json));
        let report: PayoutReport = serde_json::from_slice(&from_json.stdout).unwrap();
        assert_eq!(report.family, family);
        assert_eq!(report.n_queries, 200);
        assert_eq!(report.total_paid + report.treasury, report.total_pool);
        let from_csv = zkattr(&[
            "payouts",
            "--activations",
            csv.join("activations.csv").to_str().unwrap(),
            "--influence",
            csv.join("influence.csv").to_str().unwrap(),
            "--epoch-id",
            "1",
            "--rate-bps",
            "2500",
            "--json",
            "--family",
            family,
        ]);
        assert!(from_csv.status.success(), "{}", stderr(&from_csv));
        assert_eq!(
            from_csv.stdout, from_json.stdout,
            "CSV and JSON give one table"
        );
    }
    let table = zkattr(&["payouts", epoch.to_str().unwrap()]);
    assert!(stdout(&table).contains("payout commitment      0x"));
}

#[test]
fn payouts_match_the_committed_vector() {
    let vector: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../testvectors/spec_example.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let dir = tempdir("vector");
    let epoch = dir.join("epoch.json");
    std::fs::write(&epoch, vector["epoch"].to_string()).unwrap();
    let o = zkattr(&["payouts", epoch.to_str().unwrap(), "--json"]);
    let got: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(got, vector["bn254"]);
}

#[test]
fn bad_input_is_one_clear_line() {
    let dir = tempdir("bad");
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let missing = dir.join("missing.json");
    assert_clean_failure(
        &zkattr(&["payouts", missing.to_str().unwrap()]),
        "cannot open",
    );
    assert_clean_failure(
        &zkattr(&["payouts", &write("trunc.json", "{\"epoch_id\": 1, \"rate")]),
        "malformed epoch JSON",
    );
    assert_clean_failure(
        &zkattr(&[
            "payouts",
            &write(
                "rate.json",
                r#"{"epoch_id": 1, "rate_bps": 10001, "queries": []}"#,
            ),
        ]),
        "rate_bps 10001",
    );
    assert_clean_failure(
        &zkattr(&[
            "payouts",
            &write(
                "order.json",
                r#"{"epoch_id": 1, "rate_bps": 1, "queries": [{"query_id": 5, "fee": 1}, {"query_id": 5, "fee": 1}]}"#,
            ),
        ]),
        "query 5 (record 1)",
    );
    assert_clean_failure(
        &zkattr(&[
            "payouts",
            &write(
                "gate.json",
                r#"{"epoch_id": 1, "rate_bps": 1, "queries": [{"query_id": 5, "fee": 1, "slots": [{"adapter_id": 1, "gate": -1, "score": 0}]}]}"#,
            ),
        ]),
        "queries[0].slots[0].gate",
    );
    assert_clean_failure(
        &zkattr(&[
            "payouts",
            "--activations",
            &write("a.csv", "query_id,fee,adapter_id,gate\n1,10,3,5\n"),
            "--influence",
            &write("i.csv", "query_id,adapter_id,score\n1,4,1\n"),
            "--epoch-id",
            "1",
            "--rate-bps",
            "1",
        ]),
        "adapter ids differ",
    );
    assert_clean_failure(
        &zkattr(&["gen", "--queries", "3", "--adapters", "0"]),
        "--adapters",
    );
    for exponent in ["-1", "11", "NaN"] {
        let option = format!("--zipf-exponent={exponent}");
        assert_clean_failure(
            &zkattr(&["gen", "--queries", "3", &option]),
            "--zipf-exponent must be between 0 and 10",
        );
    }
    // Aggregation options, refused before any circuit is built.
    let epoch = write(
        "small.json",
        r#"{"epoch_id": 1, "rate_bps": 1, "queries": [{"query_id": 5, "fee": 1}]}"#,
    );
    let out = dir.join("bundle");
    let out = out.to_str().unwrap();
    assert_clean_failure(
        &zkattr(&["prove", &epoch, "--out", out, "--batch-size", "3"]),
        "batch size 3 is not a power of two",
    );
    assert_clean_failure(
        &zkattr(&[
            "prove",
            &epoch,
            "--out",
            out,
            "--backend",
            "halo2",
            "--batch-size",
            "4",
        ]),
        "plonky2 backend only",
    );
}

/// `zkattr prove --batch-size 4` on 5 queries: two batches, one merge, the final layer;
/// progress per batch on stderr; the bundle verifies against the pinned layout. (Three batches
/// with padding: circuits/plonky2/tests/pipeline.rs.)
#[test]
fn prove_aggregates_batches_and_the_bundle_verifies() {
    let dir = tempdir("aggregate");
    let epoch = gen_epoch(&dir, &["--queries", "5", "--adapters", "5"]);
    let bundle = dir.join("bundle");
    // A checkpoint folder left by another epoch's run: its proofs are not used.
    let checkpoints = dir.join("checkpoints");
    std::fs::create_dir_all(&checkpoints).unwrap();
    std::fs::write(checkpoints.join("identity"), "another run").unwrap();
    std::fs::write(checkpoints.join("L0-0.proof"), "not this epoch's proof").unwrap();
    let o = zkattr(&[
        "prove",
        epoch.to_str().unwrap(),
        "--out",
        bundle.to_str().unwrap(),
        "--batch-size",
        "4",
        "--checkpoint-dir",
        checkpoints.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    for needle in [
        "5 queries in 2 batches of up to 4 (agg-b4-t1-p8)",
        "batch 0 proved",
        "batch 1 proved",
        "(2/2 batches)",
        "merge 0 at level 1 proved",
        "(1/1 merges)",
        "final layer proved",
    ] {
        assert!(err.contains(needle), "{needle:?} not in {err}");
    }
    assert!(!err.contains("warning"), "{err}");
    assert!(!err.contains("restored"), "{err}");
    assert!(
        !checkpoints.exists(),
        "checkpoints kept after the bundle was written"
    );
    assert!(stdout(&o).contains("agg-b4-t1-p8 aggregated proof"));
    let verified =
        zkattr_verifier::bundle::verify_bundle(&bundle, &zkattr_verifier::VerifyOptions::strict())
            .unwrap();
    assert_eq!(verified.shape, "agg-b4-t1-p8");
    assert_eq!(verified.statement.n_queries, 5);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A layout without a pinned digest (batches of 8 are no default) is announced before any
/// circuit is built, so nobody proves for hours a bundle `zkattr-verify` will refuse. The run
/// is stopped once the warning is read.
#[test]
fn prove_warns_before_proving_an_unpinned_layout() {
    use std::io::{BufRead, BufReader};
    let dir = tempdir("unpinned");
    let epoch = gen_epoch(&dir, &["--queries", "9", "--adapters", "5"]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_zkattr"))
        .args([
            "prove",
            epoch.to_str().unwrap(),
            "--out",
            dir.join("bundle").to_str().unwrap(),
            "--batch-size",
            "8",
        ])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("zkattr runs");
    let mut before = Vec::new();
    let mut warning = None;
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        if line.contains("warning") {
            warning = Some(line);
            break;
        }
        before.push(line);
    }
    let _ = child.kill();
    let _ = child.wait();
    let warning = warning.unwrap_or_else(|| panic!("no warning in {before:?}"));
    assert!(warning.contains("agg-b8-t1-p8 is not pinned"), "{warning}");
    assert!(
        before
            .iter()
            .all(|l| !l.contains("circuit ready") && !l.contains("proved")),
        "warned only after proving began: {before:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn demo_prints_both_families() {
    let o = zkattr(&["demo", "--queries", "50", "--adapters", "8", "--no-prove"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("family bn254") && out.contains("family goldilocks"),
        "{out}"
    );
}

/// `zkattr paths` writes path files that the verifier's own hashes (ark-bn254, plonky2's
/// Poseidon twin) accept against the commitments `zkattr payouts` prints; unknown payees and
/// queries are one clear line.
#[test]
fn path_files_open_with_the_verifier() {
    use zkattr_verifier::claims::{check_claim, check_inclusion, FamilyName};
    let dir = tempdir("paths");
    let epoch = gen_epoch(&dir, &["--queries", "30", "--adapters", "8", "--seed", "6"]);
    let e = epoch.to_str().unwrap();
    for (family, name) in [
        (FamilyName::Bn254, "bn254"),
        (FamilyName::Goldilocks, "goldilocks"),
    ] {
        let report = zkattr(&["payouts", e, "--json", "--family", name]);
        let report: PayoutReport = serde_json::from_slice(&report.stdout).unwrap();
        let payee = &report.payouts[report.payouts.len() / 2];

        let claim = dir.join(format!("claim-{name}.json"));
        let o = zkattr(&[
            "paths",
            e,
            "--adapter",
            &payee.adapter_id.to_string(),
            "--family",
            name,
            "--out",
            claim.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let bytes = std::fs::read(&claim).unwrap();
        let opened = check_claim(
            family,
            &report.payout_commitment,
            payee.adapter_id,
            payee.amount,
            &bytes,
        )
        .unwrap();
        assert_eq!(opened.count, report.payouts.len() as u64);
        assert!(check_claim(
            family,
            &report.payout_commitment,
            payee.adapter_id,
            payee.amount + 1,
            &bytes
        )
        .is_err());

        let inclusion = dir.join(format!("inclusion-{name}.json"));
        let query_id = zkattr_model::io::read_epoch_json(std::fs::File::open(&epoch).unwrap())
            .unwrap()
            .queries[7]
            .query_id;
        for (log, commitment) in [
            ("activation", &report.activation_commitment),
            ("influence", &report.influence_commitment),
        ] {
            let o = zkattr(&[
                "paths",
                e,
                "--query",
                &query_id.to_string(),
                "--log",
                log,
                "--family",
                name,
                "--out",
                inclusion.to_str().unwrap(),
            ]);
            assert!(o.status.success(), "{}", stderr(&o));
            let bytes = std::fs::read(&inclusion).unwrap();
            let opened = check_inclusion(family, commitment, &bytes).unwrap();
            assert_eq!(opened.index, 7);
        }
    }
    assert_clean_failure(
        &zkattr(&["paths", e, "--adapter", "4000000000"]),
        "adapter 4000000000 is not a payee",
    );
    assert_clean_failure(
        &zkattr(&["paths", e, "--query", "1", "--log", "activation"]),
        "query 1 is not in this epoch",
    );
}
