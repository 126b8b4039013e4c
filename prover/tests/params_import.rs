//! A real setup a user brings: snarkjs (npm, `scripts/ptau`) makes a Powers of Tau file at
//! power 15 (the smallest statement circuit, 16x16, has 2^15 rows) with a contribution and a
//! beacon; `zkattr params import` converts it, records it in the folder's manifest and pins the
//! verifying key; a halo2 proof made under it verifies natively and in the generated Solidity
//! verifier (revm), and the verifier reports a ceremony setup under its strict options. The same
//! file with one G1 power replaced by the next is refused by the pairing check, with nothing
//! written. The snarkjs steps take about a minute each on 2 cores; the whole test several
//! minutes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use zkattr_model::bundle::{BundleManifest, MANIFEST};
use zkattr_verifier::bundle::{verify_bundle_with_params, BundleError, Setup};
use zkattr_verifier::VerifyOptions;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn check(what: &str, output: &Output) {
    assert!(
        output.status.success(),
        "{what} failed\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn snarkjs(args: &[&str]) {
    let cli = root().join("scripts/ptau/node_modules/snarkjs/build/cli.cjs");
    let output = Command::new("node")
        .arg(cli)
        .args(args)
        .output()
        .expect("node runs");
    check(&format!("snarkjs {}", args.join(" ")), &output);
}

fn zkattr(args: &[&str], params: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zkattr"))
        .args(args)
        .env("ZKATTR_PARAMS_DIR", params)
        .output()
        .expect("zkattr runs")
}

/// new, a contribution with given entropy, a beacon: all non-interactive.
fn make_ptau(dir: &Path) -> PathBuf {
    let setup = root().join("scripts/ptau/setup.sh");
    check(
        "scripts/ptau/setup.sh",
        &Command::new("bash").arg(setup).output().unwrap(),
    );
    let file = |name: &str| dir.join(name).to_str().unwrap().to_string();
    snarkjs(&["powersoftau", "new", "bn128", "15", &file("p0.ptau")]);
    snarkjs(&[
        "powersoftau",
        "contribute",
        &file("p0.ptau"),
        &file("p1.ptau"),
        "--name=first",
        "-e=zkattr test entropy one",
    ]);
    snarkjs(&[
        "powersoftau",
        "beacon",
        &file("p1.ptau"),
        &file("final.ptau"),
        "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20",
        "10",
        "-n=beacon",
    ]);
    PathBuf::from(file("final.ptau"))
}

fn srs_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.ends_with(".srs"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn imported_ptau_setup_proves_and_verifies_natively_and_on_the_evm() {
    let dir = std::env::temp_dir().join(format!("zkattr-params-import-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let ptau = make_ptau(&dir);
    let params = dir.join("params");

    // Import k = 15 only (every k from 1 costs the smaller inverse FFTs as well; the
    // conversion of every k is covered by circuits/halo2/tests/ptau.rs).
    let import = zkattr(
        &[
            "params",
            "import",
            "--ptau",
            ptau.to_str().unwrap(),
            "--out",
            params.to_str().unwrap(),
            "--min-k",
            "15",
        ],
        &params,
    );
    check("zkattr params import", &import);
    let stderr = String::from_utf8_lossy(&import.stderr);
    assert!(
        stderr.contains("2 contribution(s), the last a beacon"),
        "{stderr}"
    );
    assert!(stderr.contains("pairing check passed"), "{stderr}");
    assert_eq!(srs_files(&params), ["kzg_bn254_15.srs"]);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(params.join("manifest.json")).unwrap()).unwrap();
    let source = &manifest["ceremony"]["source"];
    assert_eq!(source["kind"], "ptau");
    assert_eq!(source["file"], "final.ptau");
    assert_eq!(
        source["sha256"].as_str().unwrap(),
        zkattr_halo2::ptau::file_sha256(&ptau).unwrap()
    );
    let srs_sha = zkattr_halo2::ptau::file_sha256(&params.join("kzg_bn254_15.srs")).unwrap();
    assert_eq!(
        manifest["ceremony"]["files"]["kzg_bn254_15.srs"].as_str(),
        Some(srs_sha.as_str())
    );
    let pins: serde_json::Value =
        serde_json::from_slice(&std::fs::read(params.join("halo2_vk_digests.json")).unwrap())
            .unwrap();
    let pinned = pins["file"]["16x16"].as_str().unwrap().to_string();

    // A bundle proved under the imported parameters.
    let epoch = dir.join("epoch.json");
    let gen = zkattr(
        &[
            "gen",
            "--queries",
            "12",
            "--adapters",
            "7",
            "--seed",
            "3",
            "--out",
            epoch.to_str().unwrap(),
        ],
        &params,
    );
    check("zkattr gen", &gen);
    let bundle = dir.join("bundle");
    let prove = zkattr(
        &[
            "prove",
            epoch.to_str().unwrap(),
            "--backend",
            "halo2",
            "--out",
            bundle.to_str().unwrap(),
        ],
        &params,
    );
    check("zkattr prove --backend halo2", &prove);
    assert!(
        !String::from_utf8_lossy(&prove.stderr).contains("UNSAFE"),
        "{}",
        String::from_utf8_lossy(&prove.stderr)
    );
    let written: BundleManifest =
        serde_json::from_slice(&std::fs::read(bundle.join(MANIFEST)).unwrap()).unwrap();
    let section = written.halo2.as_ref().unwrap();
    assert_eq!((section.kzg_source.as_str(), section.kzg_k), ("file", 15));
    assert_eq!(section.kzg_sha256, srs_sha);
    assert_eq!(written.verifying_key_digest, pinned);

    // Natively, under the strict options: a ceremony setup.
    let strict = VerifyOptions::strict();
    let verified = verify_bundle_with_params(&bundle, &params, &strict).unwrap();
    assert_eq!(
        verified.setup,
        Setup::Ceremony {
            source: "file".into()
        }
    );
    assert_eq!(verified.shape, "16x16");
    // The project's own params folder neither holds these parameters nor pins this key.
    let elsewhere = verify_bundle_with_params(&bundle, &root().join("params"), &strict);
    assert!(
        matches!(
            elsewhere,
            Err(BundleError::UnknownShape { .. } | BundleError::Params(_))
        ),
        "{elsewhere:?}"
    );

    // The pins file beside the parameters is read, not skipped: garbled, it is an error.
    let garbled = dir.join("garbled-params");
    std::fs::create_dir_all(&garbled).unwrap();
    for name in ["kzg_bn254_15.srs", "manifest.json"] {
        std::fs::copy(params.join(name), garbled.join(name)).unwrap();
    }
    std::fs::write(garbled.join("halo2_vk_digests.json"), "{\"file\": 1}").unwrap();
    let err = verify_bundle_with_params(&bundle, &garbled, &strict).unwrap_err();
    assert!(err.to_string().contains("not a pins file"), "{err}");

    // On the EVM: the Solidity verifier generated from the bundle's key accepts the proof,
    // and the settlement contract settles the epoch and pays a claim.
    let run = zkattr_verifier::evm::run_evm(&bundle, &params, None, &strict).unwrap();
    assert!(!run.setup.is_unsafe());
    assert!(run.verify_gas > 21_000 && run.settle_gas > run.verify_gas);
    assert!(run.amount > 0);
    eprintln!(
        "EVM: verifier code {} bytes, verify {} gas, settle {} gas",
        run.verifier_code_size, run.verify_gas, run.settle_gas
    );

    // One G1 power replaced by the next (a valid point, the wrong power): refused by the
    // pairing check before anything is written.
    let mut bytes = std::fs::read(&ptau).unwrap();
    let tau_g1 = section_offset(&bytes, 2);
    let at = |i: usize| tau_g1 + 64 * i;
    let next = bytes[at(1001)..at(1002)].to_vec();
    bytes[at(1000)..at(1001)].copy_from_slice(&next);
    let corrupted = dir.join("corrupted.ptau");
    std::fs::write(&corrupted, bytes).unwrap();
    let out = dir.join("corrupted-params");
    let refused = zkattr(
        &[
            "params",
            "import",
            "--ptau",
            corrupted.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--min-k",
            "15",
        ],
        &out,
    );
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("the pairing check failed"), "{stderr}");
    assert!(srs_files(&out).is_empty());
    assert!(!out.join("manifest.json").exists());
    // Kept when an assertion above fails, for a look at the files.
    let _ = std::fs::remove_dir_all(&dir);
}

/// Where section `kind`'s bytes start in a `.ptau` file (magic, version, section count, then
/// a type u32 and a length u64 before each section).
fn section_offset(bytes: &[u8], kind: u32) -> usize {
    let word = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    let mut at = 12;
    for _ in 0..word(8) {
        let size = u64::from_le_bytes(bytes[at + 4..at + 12].try_into().unwrap()) as usize;
        if word(at) == kind {
            return at + 12;
        }
        at += 12 + size;
    }
    panic!("no section {kind}");
}
