//! `zkattr prove` writes bundles (plonky2 and halo2) that the verifier accepts; any change to
//! their public inputs, payout table, proof bytes or key is refused with the reason named; an
//! audit against the published logs (the verifier's own hashes) agrees with the prover's; and
//! no mutation of a bundle's bytes makes the verifier panic. Files a forged manifest names
//! (outside the folder, huge, not regular), non-canonical proof bytes and forged halo2 circuit
//! parameters or key headers are refused with their own errors before any cryptography.

use proptest::prelude::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use zkattr_model::bundle::{BundleManifest, MANIFEST};
use zkattr_model::io::{read_epoch_json, write_epoch_json};
use zkattr_model::Epoch;
use zkattr_verifier::audit::{audit_bundle, AuditError};
use zkattr_verifier::bundle::{
    verify_bundle, verify_bundle_with_params, BundleError, MAX_PROOF_FILE_BYTES,
};
use zkattr_verifier::VerifyOptions;

/// The options of these tests: halo2 bundles here are proved under development parameters,
/// which the verifier refuses unless told otherwise (that refusal is tested below).
fn dev() -> VerifyOptions {
    VerifyOptions::strict().allow_unsafe_setup(true)
}

fn zkattr(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_zkattr"))
        .args(args)
        .output()
        .expect("zkattr runs")
}

/// Generates the 12-query epoch (seed 3) into a fresh folder and proves it with `backend`
/// (halo2 with the workspace's KZG parameters); returns the bundle and zkattr's stderr.
fn fresh_bundle(name: &str, backend: &str) -> (PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("zkattr-bundle-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let epoch = dir.join("epoch.json");
    let gen = zkattr(&[
        "gen",
        "--queries",
        "12",
        "--adapters",
        "7",
        "--seed",
        "3",
        "--out",
        epoch.to_str().unwrap(),
    ]);
    assert!(gen.status.success());
    let out = dir.join("bundle");
    let prove = Command::new(env!("CARGO_BIN_EXE_zkattr"))
        .args([
            "prove",
            epoch.to_str().unwrap(),
            "--backend",
            backend,
            "--out",
        ])
        .arg(&out)
        .env("ZKATTR_PARAMS_DIR", workspace_params())
        .output()
        .expect("zkattr runs");
    let stderr = String::from_utf8_lossy(&prove.stderr).into_owned();
    assert!(prove.status.success(), "{stderr}");
    (out, stderr)
}

fn edit_manifest(dir: &Path, change: impl FnOnce(&mut BundleManifest)) {
    let path = dir.join(MANIFEST);
    let mut manifest: BundleManifest =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    change(&mut manifest);
    std::fs::write(&path, serde_json::to_vec(&manifest).unwrap()).unwrap();
}

fn copy(dir: &Path, name: &str) -> PathBuf {
    let to = dir.with_file_name(format!(
        "{}-{name}",
        dir.file_name().unwrap().to_str().unwrap()
    ));
    let _ = std::fs::remove_dir_all(&to);
    std::fs::create_dir_all(&to).unwrap();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
    to
}

/// One plonky2 bundle (12 queries) shared by the tests of this file.
fn plonky2_bundle() -> &'static Path {
    static BUNDLE: OnceLock<PathBuf> = OnceLock::new();
    BUNDLE.get_or_init(|| fresh_bundle("e2e", "plonky2").0)
}

/// The logs a bundle of `fresh_bundle` was proved from.
fn logs_of(bundle: &Path) -> Epoch {
    let file = std::fs::File::open(bundle.parent().unwrap().join("epoch.json")).unwrap();
    read_epoch_json(file).unwrap()
}

/// Audits `bundle` against its logs (must pass) and against logs with one influence score
/// changed (must name the influence commitment).
fn audit_against_logs(bundle: &Path) {
    let epoch = logs_of(bundle);
    let report = audit_bundle(bundle, Some(&epoch), &dev()).unwrap();
    assert!(report
        .checked
        .iter()
        .any(|c| c.contains("both log commitments re-derived")));

    let mut changed = epoch.clone();
    changed.queries[0].slots[0].score += 1;
    match audit_bundle(bundle, Some(&changed), &dev()) {
        Err(AuditError::Mismatch { what, .. }) => assert_eq!(what, "influence commitment"),
        other => panic!("expected an influence commitment mismatch, got {other:?}"),
    }
    // The logs re-read from a file the auditor wrote give the same verdict.
    let mut bytes = Vec::new();
    write_epoch_json(&epoch, &mut bytes).unwrap();
    let reread = read_epoch_json(bytes.as_slice()).unwrap();
    assert!(audit_bundle(bundle, Some(&reread), &dev()).is_ok());
}

#[test]
fn plonky2_bundle_audits_against_its_logs() {
    audit_against_logs(plonky2_bundle());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Any byte of the manifest, the proof or the key changed: the verifier returns an error
    /// (a changed proof, key or manifest never verifies) and does not panic.
    #[test]
    fn mutated_plonky2_bundles_are_refused_without_panic(
        file in 0usize..3,
        position in any::<prop::sample::Index>(),
        mask in 1u8..=255,
    ) {
        let name = ["bundle.json", "proof.bin", "verifier.bin"][file];
        let d = copy(plonky2_bundle(), &format!("fuzz-{}", std::thread::current().name().unwrap_or("t").replace("::", "-")));
        let path = d.join(name);
        let mut bytes = std::fs::read(&path).unwrap();
        let i = position.index(bytes.len());
        bytes[i] ^= mask;
        std::fs::write(&path, &bytes).unwrap();
        let result = verify_bundle(&d, &VerifyOptions::strict());
        // A manifest byte may land in a field no proof binds (prove_seconds), so only the
        // absence of a panic is asserted there.
        if name != "bundle.json" {
            prop_assert!(result.is_err(), "{name} byte {i} ^ {mask} verified");
        }
    }
}

#[test]
fn plonky2_bundle_verifies_and_tampering_is_named() {
    let dir = plonky2_bundle();
    let verified = verify_bundle(dir, &VerifyOptions::strict()).unwrap();
    assert_eq!(verified.statement.n_queries, 12);
    assert_eq!(verified.shape, "16x16");

    let d = copy(dir, "pi");
    edit_manifest(&d, |m| m.public_inputs.total_paid += 1);
    assert!(matches!(
        verify_bundle(&d, &VerifyOptions::strict()),
        Err(BundleError::PublicInput {
            name: "total_paid",
            ..
        })
    ));

    let d = copy(dir, "table");
    edit_manifest(&d, |m| {
        m.payouts.payouts[0].amount += 1;
        m.payouts.payouts[1].amount -= 1;
    });
    let err = verify_bundle(&d, &VerifyOptions::strict()).unwrap_err();
    assert!(matches!(err, BundleError::PayoutTable(_)), "{err}");

    let d = copy(dir, "proofbyte");
    let proof_path = d.join("proof.bin");
    let mut proof = std::fs::read(&proof_path).unwrap();
    let middle = proof.len() / 2;
    proof[middle] ^= 1;
    std::fs::write(&proof_path, proof).unwrap();
    let err = verify_bundle(&d, &VerifyOptions::strict()).unwrap_err();
    assert!(
        matches!(err, BundleError::Proof(_) | BundleError::ProofFile(_)),
        "{err}"
    );

    let d = copy(dir, "truncated");
    let proof = std::fs::read(d.join("proof.bin")).unwrap();
    std::fs::write(d.join("proof.bin"), &proof[..proof.len() / 3]).unwrap();
    assert!(matches!(
        verify_bundle(&d, &VerifyOptions::strict()),
        Err(BundleError::ProofFile(_))
    ));

    let d = copy(dir, "key");
    edit_manifest(&d, |m| {
        m.verifying_key_digest = format!("0x{}", "0".repeat(64))
    });
    assert!(matches!(
        verify_bundle(&d, &VerifyOptions::strict()),
        Err(BundleError::KeyDigest { .. })
    ));

    // Any change to the key file (a gate, the FRI configuration) breaks the pinned digest.
    let d = copy(dir, "keyfile");
    let key_path = d.join("verifier.bin");
    let mut key = std::fs::read(&key_path).unwrap();
    let last = key.len() - 1;
    key[last] ^= 1;
    std::fs::write(&key_path, key).unwrap();
    assert!(matches!(
        verify_bundle(&d, &VerifyOptions::strict()),
        Err(BundleError::KeyDigest { .. })
    ));

    let d = copy(dir, "shape");
    edit_manifest(&d, |m| m.shape.queries = 32);
    assert!(matches!(
        verify_bundle(&d, &VerifyOptions::strict()),
        Err(BundleError::UnknownShape { .. })
    ));

    let d = copy(dir, "garbage");
    std::fs::write(d.join(MANIFEST), b"{not json").unwrap();
    assert!(matches!(
        verify_bundle(&d, &VerifyOptions::strict()),
        Err(BundleError::Manifest(_))
    ));

    assert!(matches!(
        verify_bundle(&dir.join("missing"), &VerifyOptions::strict()),
        Err(BundleError::Read { .. })
    ));
}

/// Files a forged manifest could point at, and proof bytes that parse but are not the proof's
/// one encoding: each refused with its own error before any cryptography, none read whole.
#[test]
fn plonky2_bundle_files_are_checked_before_the_proof() {
    let dir = plonky2_bundle();
    for (name, escaping) in [
        ("up", "../epoch.json"),
        ("absolute", "/dev/zero"),
        ("nested", "sub/proof.bin"),
        ("empty", ""),
    ] {
        let d = copy(dir, name);
        edit_manifest(&d, |m| m.proof_file = escaping.into());
        let err = verify_bundle(&d, &VerifyOptions::strict()).unwrap_err();
        assert!(
            matches!(&err, BundleError::Manifest(m) if m.contains("not the name of a file")),
            "{escaping}: {err}"
        );
    }

    let d = copy(dir, "folder");
    std::fs::remove_file(d.join("proof.bin")).unwrap();
    std::fs::create_dir(d.join("proof.bin")).unwrap();
    let err = verify_bundle(&d, &VerifyOptions::strict()).unwrap_err();
    assert!(
        matches!(&err, BundleError::Read { source, .. } if source.to_string() == "not a regular file"),
        "{err}"
    );

    // A link to a file outside the folder, and a FIFO (opening one would block).
    let d = copy(dir, "link");
    std::fs::remove_file(d.join("proof.bin")).unwrap();
    std::os::unix::fs::symlink(dir.join("proof.bin"), d.join("proof.bin")).unwrap();
    let err = verify_bundle(&d, &VerifyOptions::strict())
        .unwrap_err()
        .to_string();
    assert!(err.contains("a symbolic link"), "{err}");
    let d = copy(dir, "fifo");
    std::fs::remove_file(d.join("proof.bin")).unwrap();
    let made = Command::new("mkfifo")
        .arg(d.join("proof.bin"))
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let err = verify_bundle(&d, &VerifyOptions::strict())
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a regular file"), "{err}");

    // A sparse file past the limit is refused from its size, without reading it.
    let d = copy(dir, "huge");
    let huge = std::fs::File::options()
        .write(true)
        .open(d.join("proof.bin"))
        .unwrap();
    huge.set_len(MAX_PROOF_FILE_BYTES + 1).unwrap();
    let err = verify_bundle(&d, &VerifyOptions::strict()).unwrap_err();
    assert!(matches!(err, BundleError::FileTooLarge { .. }), "{err}");

    // The proof ends with its 22 public inputs, 8 bytes each, epoch_id's low limb first.
    let original = std::fs::read(dir.join("proof.bin")).unwrap();
    let first_input = original.len() - 22 * 8;
    let with_first_input = |value: u64| {
        let mut bytes = original.clone();
        bytes[first_input..first_input + 8].copy_from_slice(&value.to_le_bytes());
        bytes
    };
    let low_limb = u64::from_le_bytes(original[first_input..first_input + 8].try_into().unwrap());
    assert!(low_limb < 1 << 32);
    const P: u64 = 0xffff_ffff_0000_0001;
    // The same field element spelled low_limb + p: a second encoding of the same proof. With
    // debug assertions plonky2's reader asserts on it (caught); without, the re-encoding check
    // refuses it.
    let noncanonical = if cfg!(debug_assertions) {
        "failed on malformed input"
    } else {
        "canonical encoding"
    };
    for (name, bytes, wanted) in [
        ("noncanonical", with_first_input(low_limb + P), noncanonical),
        (
            "trailing",
            [original.clone(), vec![0]].concat(),
            "canonical encoding",
        ),
        // A limb of 2^32 is no u64 half: named as the public input it is.
        ("limb", with_first_input(1 << 32), "public input 0"),
    ] {
        let d = copy(dir, name);
        std::fs::write(d.join("proof.bin"), bytes).unwrap();
        let err = verify_bundle(&d, &VerifyOptions::strict())
            .unwrap_err()
            .to_string();
        assert!(err.contains(wanted), "{name}: {err}");
    }
    // A key with a zero byte appended is not the pinned key: its digest covers the length.
    let d = copy(dir, "key-trailing");
    let mut key = std::fs::read(d.join("verifier.bin")).unwrap();
    key.push(0);
    std::fs::write(d.join("verifier.bin"), key).unwrap();
    let err = verify_bundle(&d, &VerifyOptions::strict()).unwrap_err();
    assert!(matches!(err, BundleError::KeyDigest { .. }), "{err}");
}

fn workspace_params() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../params")
}

#[test]
fn halo2_bundle_verifies_and_tampering_is_named() {
    let (bundle, stderr) = fresh_bundle("halo2", "halo2");
    assert!(stderr.contains("UNSAFE development parameters"));

    let params = workspace_params();
    // Refused without the option, and named: the development setup's secret is public.
    let err = verify_bundle_with_params(&bundle, &params, &VerifyOptions::strict()).unwrap_err();
    assert!(
        matches!(&err, BundleError::UnsafeSetup { setup } if setup == "dev-unsafe"),
        "{err}"
    );
    assert!(matches!(
        audit_bundle(&bundle, None, &VerifyOptions::strict()),
        Err(AuditError::Bundle(BundleError::UnsafeSetup { .. }))
    ));
    let verified = verify_bundle_with_params(&bundle, &params, &dev()).unwrap();
    // The auditor's ark-bn254 commitments equal the prover's halo2-native ones.
    audit_against_logs(&bundle);
    assert_eq!(verified.backend, "halo2");
    assert_eq!(verified.shape, "16x16");
    assert_eq!(verified.statement.n_queries, 12);
    assert!(verified.setup.is_unsafe());

    let d = copy(&bundle, "pi");
    edit_manifest(&d, |m| m.public_inputs.treasury += 1);
    assert!(matches!(
        verify_bundle_with_params(&d, &params, &dev()),
        Err(BundleError::PublicInput { .. })
    ));

    let d = copy(&bundle, "table");
    edit_manifest(&d, |m| {
        m.payouts.payouts[0].amount += 1;
        m.payouts.payouts[1].amount -= 1;
    });
    let err = verify_bundle_with_params(&d, &params, &dev()).unwrap_err();
    assert!(matches!(err, BundleError::PayoutTable(_)), "{err}");

    // Claimed public inputs that agree with a changed table still fail at the proof.
    let d = copy(&bundle, "consistent-lie");
    edit_manifest(&d, |m| {
        m.public_inputs.total_pool += 1;
        m.public_inputs.treasury += 1;
        m.payouts.total_pool += 1;
        m.payouts.treasury += 1;
    });
    let err = verify_bundle_with_params(&d, &params, &dev()).unwrap_err();
    assert!(matches!(err, BundleError::Proof(_)), "{err}");

    let d = copy(&bundle, "proofbyte");
    let mut proof = std::fs::read(d.join("proof.bin")).unwrap();
    let middle = proof.len() / 2;
    proof[middle] ^= 1;
    std::fs::write(d.join("proof.bin"), proof).unwrap();
    let err = verify_bundle_with_params(&d, &params, &dev()).unwrap_err();
    // In a point the flip leaves the curve (the encoding check); in a scalar it fails the proof.
    assert!(
        matches!(err, BundleError::Proof(_) | BundleError::ProofFile(_)),
        "{err}"
    );

    // Bytes across the whole proof, each changed alone: refused, never a panic (a point off
    // the curve, a non-canonical scalar or a wrong value all end in an error).
    let d = copy(&bundle, "proofbytes");
    let original = std::fs::read(bundle.join("proof.bin")).unwrap();
    for step in 0..12 {
        let mut proof = original.clone();
        let i = (step * 7919 + 13) % proof.len();
        proof[i] ^= 1 << (step % 8);
        std::fs::write(d.join("proof.bin"), &proof).unwrap();
        assert!(
            verify_bundle_with_params(&d, &params, &dev()).is_err(),
            "proof byte {i} changed and still verified"
        );
    }

    // The bundle with its key file changed by `change`: why it is refused.
    let with_changed_key = |name: &str, change: &mut dyn FnMut(&mut Vec<u8>)| {
        let d = copy(&bundle, name);
        let mut key = std::fs::read(d.join("vk.bin")).unwrap();
        change(&mut key);
        std::fs::write(d.join("vk.bin"), key).unwrap();
        verify_bundle_with_params(&d, &params, &dev()).unwrap_err()
    };
    let err = with_changed_key("keyfile", &mut |key| {
        let last = key.len() - 1;
        key[last] ^= 1;
    });
    assert!(
        matches!(err, BundleError::KeyDigest { .. } | BundleError::KeyFile(_)),
        "{err}"
    );

    let d = copy(&bundle, "params");
    edit_manifest(&d, |m| {
        if let Some(h) = m.halo2.as_mut() {
            h.kzg_sha256 = "00".repeat(32);
        }
    });
    let err = verify_bundle_with_params(&d, &params, &dev()).unwrap_err();
    assert!(matches!(err, BundleError::Params(_)), "{err}");

    // A forged halo2 section or key header is refused before halo2 configures a circuit from
    // it or sizes a domain by it (halo2-base asserts on more than 3 phases or a lookup table of
    // more than 2^28 rows; the key's own k sizes the domain).
    let params_of = |m: &BundleManifest| m.halo2.as_ref().unwrap().circuit_params.clone();
    let honest: BundleManifest =
        serde_json::from_slice(&std::fs::read(bundle.join(MANIFEST)).unwrap()).unwrap();
    let k = params_of(&honest)["k"].as_u64().unwrap();
    for (name, field, value) in [
        (
            "phases",
            "num_advice_per_phase",
            serde_json::json!([1, 1, 1, 1]),
        ),
        ("lookup29", "lookup_bits", serde_json::json!(29)),
        ("lookupk", "lookup_bits", serde_json::json!(k)),
        (
            "columns",
            "num_advice_per_phase",
            serde_json::json!([1_000_000_000u64]),
        ),
        ("fixed", "num_fixed", serde_json::json!(1_000_000_000u64)),
    ] {
        let d = copy(&bundle, name);
        edit_manifest(&d, |m| {
            m.halo2.as_mut().unwrap().circuit_params[field] = value.clone();
        });
        let err = verify_bundle_with_params(&d, &params, &dev()).unwrap_err();
        assert!(
            matches!(&err, BundleError::Manifest(m) if m.contains("do not describe this statement's circuit")),
            "{name}: {err}"
        );
    }
    let d = copy(&bundle, "smallk");
    edit_manifest(&d, |m| {
        let h = m.halo2.as_mut().unwrap();
        h.kzg_k = 4;
        h.circuit_params["k"] = serde_json::json!(4);
    });
    let err = verify_bundle_with_params(&d, &params, &dev()).unwrap_err();
    assert!(
        matches!(&err, BundleError::Manifest(m) if m.contains("k = 4")),
        "{err}"
    );
    let header = &std::fs::read(bundle.join("vk.bin")).unwrap()[..6];
    assert_eq!(
        header[5], 0,
        "the prover writes keys without selector compression"
    );
    for (name, at, value, wanted) in [
        ("keyk", 1, &60u32.to_le_bytes()[..], "2^60 rows"),
        ("compressed", 5, &[1u8][..], "selector compression flag 1"),
    ] {
        let err = with_changed_key(name, &mut |key| {
            key[at..at + value.len()].copy_from_slice(value)
        });
        assert!(
            matches!(&err, BundleError::KeyFile(m) if m.contains(wanted)),
            "{name}: {err}"
        );
    }

    let d = copy(&bundle, "nosection");
    edit_manifest(&d, |m| m.halo2 = None);
    let err = verify_bundle_with_params(&d, &params, &dev()).unwrap_err();
    assert!(matches!(err, BundleError::Manifest(_)), "{err}");
}
