//! `zkattr-verify evm DIR` on the committed 16x16 halo2 bundle (verifier/evm/fixtures): refused
//! without `--allow-unsafe-setup` (development parameters); with it the whole flow succeeds and
//! prints code size and gas; a flipped proof byte, a tampered payout table or public input, an
//! unknown payee and a plonky2 bundle are refused with a message naming the failure. Needs
//! `--features evm`.
#![cfg(feature = "evm")]

mod common;

use common::{copy_fixture, fixture};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `zkattr-verify evm DIR EXTRA... --allow-unsafe-setup`: the fixture is proved under the
/// development parameters (refused without the flag, tested below).
fn run(dir: &Path, extra: &[&str]) -> Output {
    let mut args = extra.to_vec();
    args.push("--allow-unsafe-setup");
    run_as_given(dir, &args)
}

fn run_as_given(dir: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zkattr-verify"))
        .arg("evm")
        .arg(dir)
        .args(extra)
        .env("ZKATTR_PARAMS_DIR", root().join("params"))
        .output()
        .unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn figure(stdout: &str, label: &str) -> u64 {
    let line = stdout
        .lines()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no {label:?} line in\n{stdout}"));
    // The first number after the label.
    line[label.len()..]
        .split_whitespace()
        .find_map(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no number in {line:?}"))
}

#[test]
fn evm_flow_on_a_real_bundle_and_its_failures() {
    // Without --allow-unsafe-setup the development bundle is refused before anything runs.
    let o = run_as_given(&fixture(), &["--adapter", "2"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        err.contains("UNSAFE setup \"dev-unsafe\"") && err.contains("--allow-unsafe-setup"),
        "{err}"
    );
    assert!(!out.contains("settle"), "{out}");

    let o = run(&fixture(), &["--adapter", "2"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("adapter 2 claimed 2059610"), "stdout:\n{out}");
    let size = figure(&out, "verifier deployed code");
    assert!(size > 10_000 && size <= 24_576, "code size {size}");
    let verify = figure(&out, "verify (direct call)");
    let settle = figure(&out, "settle gas:");
    let claim = figure(&out, "claim gas:");
    let batch = figure(&out, "batch claim gas:");
    // Settle runs the verifier, so it costs more than the direct call.
    assert!(verify > 300_000 && settle > verify, "{out}");
    // A claim hashes 21 times in the contract; several in one transaction share the overhead.
    assert!(claim > 21_000 && claim < settle, "{out}");
    assert!(batch > claim, "{out}");
    assert!(err.contains("UNSAFE"), "stderr:\n{err}");
    eprintln!("{out}");

    // A payee that is not in the table.
    let o = run(&fixture(), &["--adapter", "99"]);
    let (_, err) = text(&o);
    assert!(!o.status.success());
    assert!(err.contains("adapter 99 is not a payee"), "{err}");

    // One flipped proof byte: refused before anything is deployed.
    let bent = copy_fixture("evm-cli", "bent");
    let proof = bent.join("proof.bin");
    let mut bytes = std::fs::read(&proof).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(&proof, bytes).unwrap();
    let o = run(&bent, &[]);
    let (out, err) = text(&o);
    assert!(!o.status.success(), "{out}");
    // The byte lands in a point (now off the curve: the encoding check) or a scalar (the
    // proof check); either way nothing is deployed.
    assert!(
        err.contains("the proof does not verify") || err.contains("the proof file is malformed"),
        "{err}"
    );
    assert!(!out.contains("settle"), "{out}");

    // A bundle of the other backend.
    let other = copy_fixture("evm-cli", "backend");
    let manifest = other.join("bundle.json");
    let json = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        json.replace("\"backend\": \"halo2\"", "\"backend\": \"plonky2\""),
    )
    .unwrap();
    let o = run(&other, &[]);
    let (_, err) = text(&o);
    assert!(!o.status.success());
    assert!(err.contains("a halo2 bundle is needed here"), "{err}");
    // A payout table that no longer opens the proven commitment, and a changed public input.
    let table = copy_fixture("evm-cli", "table");
    let manifest = table.join("bundle.json");
    let json = std::fs::read_to_string(&manifest).unwrap();
    assert!(json.contains("\"amount\": 621602"));
    std::fs::write(
        &manifest,
        json.replace("\"amount\": 621602", "\"amount\": 621603"),
    )
    .unwrap();
    let o = run(&table, &[]);
    let (out, err) = text(&o);
    assert!(!o.status.success(), "{out}");
    assert!(err.contains("payout table"), "{err}");
    let input = copy_fixture("evm-cli", "input");
    let manifest = input.join("bundle.json");
    let json = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        json.replacen("\"treasury\": 12", "\"treasury\": 13", 1),
    )
    .unwrap();
    let o = run(&input, &[]);
    let (out, err) = text(&o);
    assert!(!o.status.success(), "{out}");
    assert!(err.contains("treasury"), "{err}");
    for d in [bent, other, table, input] {
        let _ = std::fs::remove_dir_all(d);
    }
}
