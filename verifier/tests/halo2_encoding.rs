//! One accepted encoding for a halo2 bundle's `proof.bin` and `vk.bin` (the committed 16x16
//! bundle, verifier/evm/fixtures): the proof's length follows from the verifying key and any
//! other length is refused, as are scalars and coordinates at or above their moduli, points off
//! the curve, and a key with bytes appended, cut or written otherwise. Each is refused before
//! any cryptography, so no KZG parameters are read here.

mod common;

use common::{copy_fixture, fixture};

use std::path::Path;
use zkattr_halo2::keys::read_verifying_key;
use zkattr_verifier::bundle::{verify_bundle_with_params, BundleError};
use zkattr_verifier::halo2::ProofLayout;
use zkattr_verifier::VerifyOptions;

/// BN254's base field modulus q and scalar field modulus r, big-endian.
const Q: &str = "30644e72e131a029b85045b68181585d97816a916871ca8d3c208c16d87cfd47";
const R: &str = "30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001";

/// The fixture with `file` changed by `change`, verified with unsafe setups allowed (the
/// fixture is a development bundle) and a file in place of the KZG parameter folder: an error
/// about the parameters would mean the encoding passed.
fn refusal(name: &str, file: &str, change: impl FnOnce(&mut Vec<u8>)) -> BundleError {
    let dir = copy_fixture("halo2-encoding", name);
    let mut bytes = std::fs::read(dir.join(file)).unwrap();
    change(&mut bytes);
    std::fs::write(dir.join(file), bytes).unwrap();
    let options = VerifyOptions::strict().allow_unsafe_setup(true);
    let err = verify_bundle_with_params(&dir, &dir.join("bundle.json"), &options).unwrap_err();
    let _ = std::fs::remove_dir_all(&dir);
    err
}

fn layout() -> ProofLayout {
    let manifest: zkattr_model::bundle::BundleManifest =
        serde_json::from_slice(&std::fs::read(fixture().join("bundle.json")).unwrap()).unwrap();
    let params = serde_json::from_value(manifest.halo2.unwrap().circuit_params).unwrap();
    let vk = read_verifying_key(&std::fs::read(fixture().join("vk.bin")).unwrap(), params).unwrap();
    ProofLayout::of(&vk)
}

/// `bytes` (a 32-byte integer, big-endian when `big_endian`, else little-endian) plus the
/// 32-byte big-endian hex `modulus`: the same value mod the modulus, written otherwise.
fn add_modulus(bytes: &mut [u8], modulus: &str, big_endian: bool) {
    let mut m = hex::decode(modulus).unwrap();
    if !big_endian {
        m.reverse();
    }
    let order: Vec<usize> = if big_endian {
        (0..32).rev().collect()
    } else {
        (0..32).collect()
    };
    let mut carry = 0u16;
    for i in order {
        let sum = u16::from(bytes[i]) + u16::from(m[i]) + carry;
        bytes[i] = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0, "the sum stays below 2^256");
}

#[test]
fn the_proof_length_follows_from_the_key() {
    let proof = std::fs::read(fixture().join("proof.bin")).unwrap();
    let layout = layout();
    assert_eq!(layout.byte_len(), proof.len(), "{layout:?}");
    layout.check(&proof).unwrap();
    // The layout is not a constant: a key with another lookup would give another length.
    assert!(
        layout.commitments > 2 && layout.evaluations > 2,
        "{layout:?}"
    );
}

#[test]
fn a_proof_of_another_length_is_refused() {
    let n = std::fs::read(fixture().join("proof.bin")).unwrap().len();
    for (name, change) in [
        (
            "append1",
            Box::new(|p: &mut Vec<u8>| p.push(0)) as Box<dyn FnOnce(&mut Vec<u8>)>,
        ),
        ("append32", Box::new(|p: &mut Vec<u8>| p.extend([0u8; 32]))),
        (
            "truncate1",
            Box::new(|p: &mut Vec<u8>| p.truncate(p.len() - 1)),
        ),
        (
            "truncate64",
            Box::new(|p: &mut Vec<u8>| p.truncate(p.len() - 64)),
        ),
        ("empty", Box::new(|p: &mut Vec<u8>| p.clear())),
    ] {
        let err = refusal(name, "proof.bin", change);
        assert!(
            matches!(err, BundleError::ProofLength { expected, .. } if expected == n),
            "{name}: {err}"
        );
    }
}

#[test]
fn a_scalar_at_or_above_the_modulus_is_refused() {
    let at = layout().commitments * 64;
    let err = refusal("scalar", "proof.bin", |p| {
        add_modulus(&mut p[at..at + 32], R, true)
    });
    assert!(
        matches!(&err, BundleError::ProofFile(m) if m.contains("scalar 0") && m.contains("modulus")),
        "{err}"
    );
    let err = refusal("scalar-ff", "proof.bin", |p| p[at..at + 32].fill(0xff));
    assert!(
        matches!(&err, BundleError::ProofFile(m) if m.contains("scalar 0")),
        "{err}"
    );
}

#[test]
fn a_point_written_otherwise_is_refused() {
    // x + q and y + q: the same point, coordinates not below the modulus.
    for (name, at, wanted) in [("x", 0, "x not below"), ("y", 32, "y not below")] {
        let err = refusal(name, "proof.bin", |p| {
            add_modulus(&mut p[at..at + 32], Q, true)
        });
        assert!(
            matches!(&err, BundleError::ProofFile(m) if m.contains("point 0") && m.contains(wanted)),
            "{name}: {err}"
        );
    }
    // The last point (SHPLONK's) moved off the curve.
    let err = refusal("offcurve", "proof.bin", |p| {
        let last = p.len() - 1;
        p[last] ^= 1;
    });
    assert!(
        matches!(&err, BundleError::ProofFile(m) if m.contains("not on the curve")),
        "{err}"
    );
}

#[test]
fn a_key_written_otherwise_is_refused() {
    let err = refusal("key-append", "vk.bin", |k| k.push(0));
    assert!(
        matches!(&err, BundleError::KeyFile(m) if m.contains("canonical")),
        "{err}"
    );
    let err = refusal("key-truncate", "vk.bin", |k| k.truncate(k.len() - 1));
    assert!(matches!(err, BundleError::KeyFile(_)), "{err}");
    // The first fixed commitment's x (Montgomery form, little-endian, after the 6-byte header
    // and the 4-byte count) plus q: not the pinned key's bytes.
    let err = refusal("key-point", "vk.bin", |k| {
        add_modulus(&mut k[10..42], Q, false)
    });
    assert!(
        matches!(err, BundleError::KeyFile(_) | BundleError::KeyDigest { .. }),
        "{err}"
    );
}

#[test]
fn the_untouched_fixture_passes_the_encoding_checks() {
    // Only the parameters cannot be had (their folder is a file, so development parameters
    // are neither read nor generated): everything before them, encodings included, passed.
    let dir = copy_fixture("halo2-encoding", "untouched");
    let options = VerifyOptions::strict().allow_unsafe_setup(true);
    let not_a_folder: &Path = &dir.join("bundle.json");
    let err = verify_bundle_with_params(&dir, not_a_folder, &options).unwrap_err();
    assert!(matches!(err, BundleError::Params(_)), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
