//! `zkattr-verify audit`, `claim` and `inclusion` as a payer, auditor or contributor runs them:
//! exit code 0 with "ok" when everything matches, exit code 1 with one line naming the first
//! difference otherwise. Audits read only a bundle's manifest, so the bundles here are written
//! from the reference rule without a proof (the proof itself is `verify`'s job, tested in
//! prover/tests/bundle.rs on real proofs).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use zkattr_model::bundle::{
    BundleManifest, BundleShape, Halo2Section, PublicStatement, BUNDLE_VERSION,
};
use zkattr_model::io::write_epoch_json;
use zkattr_model::paths::PathFile;
use zkattr_model::synth::{generate, SynthConfig};
use zkattr_model::{payout_report, CommitmentFamily, Epoch, Log, Settlement};
use zkattr_verifier::{ArkBn254Family, GoldilocksTwin};

fn verify_cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zkattr-verify"))
        .args(args)
        .output()
        .expect("zkattr-verify runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Exit code 0 and "ok" on stdout.
fn assert_ok(o: &Output) -> String {
    assert!(o.status.success(), "stderr: {}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.starts_with("ok: "), "{out}");
    out
}

/// Exit code 1, one "error:" line that contains `needle`, no panic.
fn assert_refused(o: &Output, needle: &str) {
    let err = text(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(1),
        "stdout {} stderr {err}",
        text(&o.stdout)
    );
    assert!(err.starts_with("error: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains(needle), "expected {needle:?} in {err}");
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("zkattr-verify-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_epoch(path: &Path, epoch: &Epoch) {
    write_epoch_json(epoch, std::fs::File::create(path).unwrap()).unwrap();
}

/// A bundle folder whose manifest says what the reference rule says of `epoch`.
fn manifest_only_bundle<F: CommitmentFamily>(
    family: &F,
    backend: &str,
    dir: &Path,
    epoch: &Epoch,
) -> BundleManifest {
    let report = payout_report(family, epoch).unwrap().2;
    let manifest = BundleManifest {
        version: BUNDLE_VERSION,
        backend: backend.into(),
        shape: BundleShape {
            queries: 64,
            payees: 64,
            aggregation: None,
        },
        verifying_key_digest: "0x00".into(),
        proof_file: "proof.bin".into(),
        verifying_key_file: "vk.bin".into(),
        public_inputs: PublicStatement::from_report(&report),
        payouts: report,
        prove_seconds: 0.0,
        // A halo2 bundle declares its setup; these declare the development one.
        halo2: (backend == "halo2").then(|| Halo2Section {
            circuit_params: serde_json::Value::Null,
            kzg_k: 15,
            kzg_source: "dev-unsafe".into(),
            kzg_sha256: "00".repeat(32),
        }),
    };
    write_manifest(dir, &manifest);
    manifest
}

fn write_manifest(dir: &Path, manifest: &BundleManifest) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("bundle.json"),
        serde_json::to_vec_pretty(manifest).unwrap(),
    )
    .unwrap();
}

fn audit_in<F: CommitmentFamily>(family: &F, backend: &str) {
    let dir = scratch(&format!("audit-{backend}"));
    let epoch = generate(&SynthConfig::new(40, 9, 11));
    let logs = dir.join("epoch.json");
    write_epoch(&logs, &epoch);
    let bundle = dir.join("bundle");
    let manifest = manifest_only_bundle(family, backend, &bundle, &epoch);
    let (b, l) = (bundle.to_str().unwrap(), logs.to_str().unwrap());
    // The halo2 manifests declare the development setup: audited only with the flag.
    let audit = |args: &[&str]| {
        let mut all = vec!["audit"];
        all.extend_from_slice(args);
        if backend == "halo2" {
            all.push("--allow-unsafe-setup");
        }
        verify_cli(&all)
    };
    if backend == "halo2" {
        assert_refused(&verify_cli(&["audit", b, "--logs", l]), "UNSAFE setup");
    }

    // Against the logs: everything re-derived and equal.
    let out = assert_ok(&audit(&[b, "--logs", l]));
    assert!(out.contains("both log commitments re-derived"), "{out}");
    assert!(out.contains("NOT checked: the proof"), "{out}");

    // Without logs: self-consistency only, and it says what it did not check.
    let out = assert_ok(&audit(&[b]));
    assert!(out.contains("NOT checked: the log commitments"), "{out}");

    // The CSV pair of the same logs gives the same verdict.
    let (acts, infl) = (dir.join("activations.csv"), dir.join("influence.csv"));
    zkattr_model::io::write_csv_pair(
        &epoch,
        std::fs::File::create(&acts).unwrap(),
        std::fs::File::create(&infl).unwrap(),
    )
    .unwrap();
    assert_ok(&audit(&[
        b,
        "--activations",
        acts.to_str().unwrap(),
        "--influence",
        infl.to_str().unwrap(),
    ]));

    // One influence score changed in the published logs: the influence commitment differs.
    let mut changed = epoch.clone();
    let q = changed
        .queries
        .iter_mut()
        .find(|q| q.used_slots().count() >= 1)
        .unwrap();
    q.slots[0].score += 1;
    let changed_logs = dir.join("changed.json");
    write_epoch(&changed_logs, &changed);
    assert_refused(
        &audit(&[b, "--logs", changed_logs.to_str().unwrap()]),
        "influence commitment",
    );

    // One gate weight changed: the activation commitment differs.
    let mut changed = epoch.clone();
    let q = changed
        .queries
        .iter_mut()
        .find(|q| q.used_slots().count() >= 2)
        .unwrap();
    let (a, b2) = (q.slots[0].gate, q.slots[1].gate);
    if a != b2 {
        q.slots[0].gate = b2;
        q.slots[1].gate = a;
        write_epoch(&changed_logs, &changed);
        assert_refused(
            &audit(&[b, "--logs", changed_logs.to_str().unwrap()]),
            "activation commitment",
        );
    }

    // A payout table with one unit moved between two payees: the table no longer hashes to
    // the payout commitment, with or without logs.
    let mut moved = manifest.clone();
    moved.payouts.payouts[0].amount += 1;
    moved.payouts.payouts[1].amount -= 1;
    let moved_dir = dir.join("moved");
    write_manifest(&moved_dir, &moved);
    let m = moved_dir.to_str().unwrap();
    assert_refused(&audit(&[m]), "payout");
    assert_refused(&audit(&[m, "--logs", l]), "payout");

    // A manifest that is not JSON, a missing folder, a missing logs file.
    let broken = dir.join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join("bundle.json"), b"{\"version\": 1,").unwrap();
    assert_refused(&audit(&[broken.to_str().unwrap()]), "bundle.json");
    assert_refused(
        &audit(&[dir.join("absent").to_str().unwrap()]),
        "bundle.json",
    );
    assert_refused(
        &audit(&[b, "--logs", dir.join("absent.json").to_str().unwrap()]),
        "cannot read the logs",
    );
}

#[test]
fn audit_halo2_bundle_against_the_logs() {
    audit_in(&ArkBn254Family, "halo2");
}

#[test]
fn audit_plonky2_bundle_against_the_logs() {
    audit_in(&GoldilocksTwin, "plonky2");
}

fn claim_and_inclusion_in<F: CommitmentFamily>(family: &F, name: &str) {
    let dir = scratch(&format!("claim-{name}"));
    let epoch = generate(&SynthConfig::new(33, 7, 4));
    let settlement = Settlement::compute(&epoch).unwrap();
    let report = payout_report(family, &epoch).unwrap().2;
    let payee = settlement.payouts[2];

    let path = dir.join("claim.json");
    let file = PathFile::for_payout(family, &settlement.payouts, payee.adapter_id).unwrap();
    std::fs::write(&path, serde_json::to_vec(&file).unwrap()).unwrap();
    let (p, c) = (path.to_str().unwrap(), report.payout_commitment.as_str());
    let (adapter, amount) = (payee.adapter_id.to_string(), payee.amount.to_string());
    let claim = |adapter: &str, amount: &str, commitment: &str, path: &str| {
        verify_cli(&[
            "claim",
            "--family",
            name,
            "--commitment",
            commitment,
            "--adapter",
            adapter,
            "--amount",
            amount,
            "--path",
            path,
        ])
    };
    let out = assert_ok(&claim(&adapter, &amount, c, p));
    assert!(out.contains(c), "{out}");

    // An amount off by one, another adapter, another commitment: refused with the reason.
    let more = (payee.amount + 1).to_string();
    assert_refused(&claim(&adapter, &more, c, p), "not adapter");
    let other = settlement.payouts[3].adapter_id.to_string();
    assert_refused(&claim(&other, &amount, c, p), "not adapter");
    let log_commitment = report.activation_commitment.as_str();
    assert_refused(
        &claim(&adapter, &amount, log_commitment, p),
        "not the given",
    );
    assert_refused(&claim(&adapter, &amount, "0xzz", p), "not a canonical");

    // A path file whose sibling was changed no longer opens the commitment.
    let mut bent = file.clone();
    bent.siblings[0] = bent.siblings[1].clone();
    let bent_path = dir.join("bent.json");
    std::fs::write(&bent_path, serde_json::to_vec(&bent).unwrap()).unwrap();
    assert_refused(
        &claim(&adapter, &amount, c, bent_path.to_str().unwrap()),
        "does not open",
    );
    // Malformed and missing path files.
    std::fs::write(&bent_path, b"[1, 2").unwrap();
    assert_refused(
        &claim(&adapter, &amount, c, bent_path.to_str().unwrap()),
        "malformed",
    );
    assert_refused(
        &claim(&adapter, &amount, c, dir.join("absent").to_str().unwrap()),
        "absent",
    );

    // Inclusion of one query record in each log, and the cross-checks.
    let query = &epoch.queries[5];
    for (log, commitment, other) in [
        (
            Log::Activation,
            &report.activation_commitment,
            &report.influence_commitment,
        ),
        (
            Log::Influence,
            &report.influence_commitment,
            &report.activation_commitment,
        ),
    ] {
        let file = PathFile::for_query(family, &epoch.queries, log, query.query_id).unwrap();
        let path = dir.join("inclusion.json");
        std::fs::write(&path, serde_json::to_vec(&file).unwrap()).unwrap();
        let p = path.to_str().unwrap();
        let inclusion = |commitment: &str, path: &str| {
            verify_cli(&[
                "inclusion",
                "--family",
                name,
                "--commitment",
                commitment,
                "--path",
                path,
            ])
        };
        assert_ok(&inclusion(commitment, p));
        assert_refused(&inclusion(other, p), "not the given");

        // A field of the record this log commits to changed (the activation log holds the fee
        // and gate weights, the influence log the scores): the leaf no longer opens.
        let mut changed = file.clone();
        let record = changed.query.as_mut().unwrap();
        match log {
            Log::Activation => record.fee += 1,
            Log::Influence => record.slots[0].score += 1,
        }
        std::fs::write(&path, serde_json::to_vec(&changed).unwrap()).unwrap();
        assert_refused(&inclusion(commitment, p), "does not open");

        // A payout path is not an inclusion path.
        let claim_file = dir.join("claim.json");
        assert_refused(
            &inclusion(&report.payout_commitment, claim_file.to_str().unwrap()),
            "path",
        );
    }
}

#[test]
fn claim_and_inclusion_bn254() {
    claim_and_inclusion_in(&ArkBn254Family, "bn254");
}

#[test]
fn claim_and_inclusion_goldilocks() {
    claim_and_inclusion_in(&GoldilocksTwin, "goldilocks");
}

#[test]
fn a_path_file_of_the_other_family_is_refused() {
    let dir = scratch("family");
    let epoch = generate(&SynthConfig::new(10, 4, 2));
    let settlement = Settlement::compute(&epoch).unwrap();
    let payee = settlement.payouts[0];
    let file =
        PathFile::for_payout(&GoldilocksTwin, &settlement.payouts, payee.adapter_id).unwrap();
    let path = dir.join("claim.json");
    std::fs::write(&path, serde_json::to_vec(&file).unwrap()).unwrap();
    let o = verify_cli(&[
        "claim",
        "--commitment",
        &file.commitment,
        "--adapter",
        &payee.adapter_id.to_string(),
        "--amount",
        &payee.amount.to_string(),
        "--path",
        path.to_str().unwrap(),
    ]);
    // The default family is bn254; a Goldilocks commitment is not a canonical BN254 digest or
    // the file's family is named.
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.contains("goldilocks") || err.contains("bn254"), "{err}");
}

/// The committed halo2 bundle (a real proof under the development KZG parameters), its epoch,
/// and the parameter folder the development parameters are cached in.
fn dev_fixture() -> (PathBuf, PathBuf, PathBuf) {
    let verifier = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    (
        verifier.join("evm/fixtures/halo2-16x16"),
        verifier.join("evm/fixtures/halo2-16x16-epoch.json"),
        verifier.join("../params"),
    )
}

fn verify_cli_with_params(args: &[&str], params: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zkattr-verify"))
        .args(args)
        .env("ZKATTR_PARAMS_DIR", params)
        .output()
        .expect("zkattr-verify runs")
}

/// Every subcommand that reads a bundle refuses one proved under the development setup with
/// exit code 1 and the reason, and accepts it with `--allow-unsafe-setup`, warning loudly.
#[test]
fn a_dev_setup_bundle_is_refused_without_the_flag() {
    let (bundle, epoch_file, params) = dev_fixture();
    let dir = scratch("dev-setup");
    let epoch =
        zkattr_model::io::read_epoch_json(std::fs::File::open(&epoch_file).unwrap()).unwrap();
    let settlement = Settlement::compute(&epoch).unwrap();
    let payee = settlement.payouts[0];
    let claim_path = dir.join("claim.json");
    let file =
        PathFile::for_payout(&ArkBn254Family, &settlement.payouts, payee.adapter_id).unwrap();
    std::fs::write(&claim_path, serde_json::to_vec(&file).unwrap()).unwrap();
    let query = epoch.queries[0].query_id;
    let inclusion_path = dir.join("inclusion.json");
    let file = PathFile::for_query(&ArkBn254Family, &epoch.queries, Log::Influence, query).unwrap();
    std::fs::write(&inclusion_path, serde_json::to_vec(&file).unwrap()).unwrap();

    let (b, e) = (bundle.to_str().unwrap(), epoch_file.to_str().unwrap());
    let (adapter, amount) = (payee.adapter_id.to_string(), payee.amount.to_string());
    let commands: [(&str, Vec<&str>); 4] = [
        ("verify", vec!["verify", b]),
        ("audit", vec!["audit", b, "--logs", e]),
        (
            "claim",
            vec![
                "claim",
                "--bundle",
                b,
                "--adapter",
                &adapter,
                "--amount",
                &amount,
                "--path",
                claim_path.to_str().unwrap(),
            ],
        ),
        (
            "inclusion",
            vec![
                "inclusion",
                "--bundle",
                b,
                "--path",
                inclusion_path.to_str().unwrap(),
            ],
        ),
    ];
    for (name, args) in commands {
        let refused = verify_cli_with_params(&args, &params);
        assert_refused(&refused, "UNSAFE setup \"dev-unsafe\"");
        assert!(
            text(&refused.stderr).contains("--allow-unsafe-setup"),
            "{name}: {}",
            text(&refused.stderr)
        );
        let mut allowed_args = args.clone();
        allowed_args.push("--allow-unsafe-setup");
        let allowed = verify_cli_with_params(&allowed_args, &params);
        assert_ok(&allowed);
        let err = text(&allowed.stderr);
        assert!(
            err.contains("WARNING") && err.contains("UNSAFE"),
            "{name}: {err}"
        );
        eprintln!(
            "{name}: exit {:?} without the flag, {:?} with it",
            refused.status.code(),
            allowed.status.code()
        );
    }
}
