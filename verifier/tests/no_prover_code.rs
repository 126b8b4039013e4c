//! The verifier links no prover code: `cargo tree` of zkattr-verifier (normal and build
//! dependencies) holds neither the prover crate nor the halo2 crate's `prover` feature. Payers
//! run this crate to decide whether to pay; it must not need, or trust, the prover's code.

use std::process::Command;

#[test]
fn cargo_tree_of_the_verifier_has_no_prover_code() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let workspace = concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml");
    let out = Command::new(cargo)
        .args([
            "tree",
            "--offline",
            "--locked",
            "--manifest-path",
            workspace,
        ])
        .args([
            "-p",
            "zkattr-verifier",
            "-e",
            "normal,build",
            "--prefix",
            "none",
        ])
        .args(["--format", "{p} [{f}]"])
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8(out.stdout).unwrap();
    assert!(tree.contains("zkattr-model"), "unexpected tree:\n{tree}");
    for line in tree.lines() {
        assert!(
            !line.starts_with("zkattr-prover "),
            "prover code linked: {line}"
        );
        if line.starts_with("zkattr-halo2 ") {
            let features = line.rsplit('[').next().unwrap_or("");
            assert!(
                !features.split([',', ']']).any(|f| f == "prover"),
                "zkattr-halo2 linked with its prover feature: {line}"
            );
        }
    }
}
