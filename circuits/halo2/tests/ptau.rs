//! The `.ptau` conversion on files written here in snarkjs's layout (small powers, a known
//! tau): the parameters equal halo2's own setup for the same secret, and each malformed or
//! inconsistent file is refused with the error that names it, before anything is written.
//! The end-to-end test with files made by snarkjs itself is `prover/tests/params_import.rs`.

use halo2_base::halo2_proofs::halo2curves::bn256::{Bn256, Fq2, Fr, G2Affine, G1, G2};
use halo2_base::halo2_proofs::halo2curves::ff::Field;
use halo2_base::halo2_proofs::halo2curves::group::cofactor::CofactorGroup;
use halo2_base::halo2_proofs::halo2curves::group::Curve;
use halo2_base::halo2_proofs::halo2curves::serde::SerdeObject;
use halo2_base::halo2_proofs::halo2curves::CurveAffine;
use halo2_base::halo2_proofs::poly::commitment::{Params, ParamsProver};
use halo2_base::halo2_proofs::poly::kzg::commitment::ParamsKZG;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use std::path::{Path, PathBuf};
use zkattr_halo2::ptau::{check_powers, import_ptau, params_for_k, PtauError, PtauFile};

/// BN254's base field modulus, little endian.
fn q_le() -> Vec<u8> {
    let hex = "30644e72e131a029b85045b68181585d97816a916871ca8d3c208c16d87cfd47";
    (0..32)
        .map(|i| u8::from_str_radix(&hex[62 - 2 * i..64 - 2 * i], 16).unwrap())
        .collect()
}

fn section(kind: u32, body: &[u8]) -> Vec<u8> {
    let mut out = kind.to_le_bytes().to_vec();
    out.extend((body.len() as u64).to_le_bytes());
    out.extend(body);
    out
}

/// A contribution record as snarkjs writes one: 1,496 fixed bytes, the type, no parameters.
fn contribution(kind: u32) -> Vec<u8> {
    let mut out = vec![0u8; 1496];
    out.extend(kind.to_le_bytes());
    out.extend(0u32.to_le_bytes());
    out
}

/// A `.ptau` file of `power` in snarkjs's layout (sections 1, 2, 3, 7) for secret `tau`, with
/// one contribution and a beacon recorded.
fn ptau_bytes(power: u32, tau: Fr) -> Vec<u8> {
    let n = 1usize << power;
    let mut header = 32u32.to_le_bytes().to_vec();
    header.extend(q_le());
    header.extend(power.to_le_bytes());
    header.extend(power.to_le_bytes());
    let mut g1 = Vec::new();
    let mut g2 = Vec::new();
    let mut t = Fr::ONE;
    for i in 0..2 * n - 1 {
        g1.extend((G1::generator() * t).to_affine().to_raw_bytes());
        if i < n {
            g2.extend((G2::generator() * t).to_affine().to_raw_bytes());
        }
        t *= tau;
    }
    let mut contributions = 2u32.to_le_bytes().to_vec();
    contributions.extend(contribution(0));
    contributions.extend(contribution(1));
    let mut out = b"ptau".to_vec();
    out.extend(1u32.to_le_bytes());
    out.extend(4u32.to_le_bytes());
    out.extend(section(1, &header));
    out.extend(section(2, &g1));
    out.extend(section(3, &g2));
    out.extend(section(7, &contributions));
    out
}

/// Offset of `tau^index G1` in [`ptau_bytes`]: magic, version, count, section 1 (12 + 44),
/// section 2's header.
fn g1_offset(index: usize) -> usize {
    12 + (12 + 44) + 12 + index * 64
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("zkattr-ptau-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_ptau(dir: &Path, bytes: &[u8]) -> PathBuf {
    let path = dir.join("test.ptau");
    std::fs::write(&path, bytes).unwrap();
    path
}

fn import(path: &Path, out: &Path, ks: std::ops::RangeInclusive<u32>) -> Result<(), PtauError> {
    import_ptau(path, out, ks, |_| {}).map(|_| ())
}

fn srs_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter(|e| {
                    e.as_ref()
                        .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "srs"))
                })
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn parameters_equal_halo2_setup_for_the_same_secret() {
    // halo2's setup draws its secret first from the rng: the same seed gives the same tau at
    // every k, so setup(3) is setup(5) cut down, Lagrange form included.
    let seed = [7u8; 32];
    let big = ParamsKZG::<Bn256>::setup(5, ChaCha20Rng::from_seed(seed));
    check_powers(big.get_g(), &big.s_g2()).unwrap();
    for k in [3, 5] {
        let ours = params_for_k(k, big.get_g(), big.s_g2());
        let theirs = ParamsKZG::<Bn256>::setup(k, ChaCha20Rng::from_seed(seed));
        let (mut a, mut b) = (Vec::new(), Vec::new());
        ours.write(&mut a).unwrap();
        theirs.write(&mut b).unwrap();
        assert_eq!(
            a, b,
            "k = {k}: converted parameters differ from halo2's setup"
        );
    }
}

#[test]
fn a_consistent_file_is_converted_for_every_k() {
    let dir = scratch("good");
    let tau = Fr::from(0x1234_5678_9abc_u64);
    let path = write_ptau(&dir, &ptau_bytes(4, tau));
    let file = PtauFile::open(&path).unwrap();
    assert_eq!((file.power, file.contributions), (4, 2));
    assert!(file.ends_with_beacon);
    let out = dir.join("params");
    let imported = import_ptau(&path, &out, 1..=4, |_| {}).unwrap();
    assert_eq!(imported.files.len(), 4);
    for written in &imported.files {
        let params =
            ParamsKZG::<Bn256>::read(&mut std::fs::File::open(&written.path).unwrap()).unwrap();
        assert_eq!(params.k(), written.k);
        assert_eq!(params.get_g()[1], (G1::generator() * tau).to_affine());
        assert_eq!(params.s_g2(), (G2::generator() * tau).to_affine());
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    let ceremony = &manifest["ceremony"];
    assert_eq!(ceremony["source"]["kind"], "ptau");
    assert_eq!(ceremony["source"]["file"], "test.ptau");
    assert_eq!(ceremony["source"]["sha256"], imported.ptau_sha256.as_str());
    assert_eq!(
        ceremony["files"]["kzg_bn254_3.srs"],
        imported.files[2].sha256.as_str()
    );
}

#[test]
fn a_corrupted_power_fails_the_pairing_check_and_nothing_is_written() {
    let dir = scratch("corrupt");
    let mut bytes = ptau_bytes(4, Fr::from(99));
    // tau^5 G1 replaced by tau^6 G1: still a point of the curve, no longer the next power.
    let (five, six) = (g1_offset(5), g1_offset(6));
    let next = bytes[six..six + 64].to_vec();
    bytes[five..five + 64].copy_from_slice(&next);
    let path = write_ptau(&dir, &bytes);
    let out = dir.join("params");
    let err = import(&path, &out, 1..=4).unwrap_err();
    assert!(matches!(err, PtauError::Pairing), "{err}");
    assert_eq!(srs_files(&out), 0);
    assert!(!out.join("manifest.json").exists());
    // The same file cut to the powers before the corruption is consistent.
    import(&path, &out, 1..=2).unwrap();
}

#[test]
fn malformed_files_are_refused_with_what_is_wrong() {
    let dir = scratch("malformed");
    let good = ptau_bytes(3, Fr::from(5));
    let out = dir.join("params");
    let refuse = |bytes: &[u8], ks: std::ops::RangeInclusive<u32>| {
        let path = write_ptau(&dir, bytes);
        let err = import(&path, &out, ks).unwrap_err();
        assert_eq!(srs_files(&out), 0, "{err}");
        err
    };

    let mut magic = good.clone();
    magic[..4].copy_from_slice(b"zkey");
    assert!(matches!(refuse(&magic, 1..=3), PtauError::Magic { found } if found == "zkey"));

    let mut version = good.clone();
    version[4] = 2;
    assert!(matches!(refuse(&version, 1..=3), PtauError::Version(2)));

    let truncated = &good[..good.len() - 100];
    assert!(matches!(
        refuse(truncated, 1..=3),
        PtauError::Truncated { what, .. } if what == "section 7"
    ));

    let mut curve = good.clone();
    curve[12 + 12 + 4] ^= 1; // the modulus q in the header
    assert!(matches!(refuse(&curve, 1..=3), PtauError::Curve(_)));

    // y of tau^2 G1 changed: the point leaves the curve.
    let mut off_curve = good.clone();
    off_curve[g1_offset(2) + 32] ^= 1;
    assert!(matches!(
        refuse(&off_curve, 1..=3),
        PtauError::Point {
            what: "tau G1 power",
            index: 2,
            ..
        }
    ));

    assert!(matches!(
        refuse(&good, 1..=4),
        PtauError::PowerTooSmall { power: 3, k: 4 }
    ));
    assert!(matches!(refuse(&good, 0..=3), PtauError::Range { .. }));

    // tau = 1: what `snarkjs powersoftau new` writes before any contribution.
    assert!(matches!(
        refuse(&ptau_bytes(3, Fr::ONE), 1..=3),
        PtauError::NoContribution
    ));

    // The first power must be the generator halo2 uses.
    let mut generator = good.clone();
    let two = (G1::generator() + G1::generator())
        .to_affine()
        .to_raw_bytes();
    generator[g1_offset(0)..g1_offset(0) + 64].copy_from_slice(&two);
    assert!(matches!(
        refuse(&generator, 1..=3),
        PtauError::Generator("tau^0 G1")
    ));

    // A G2 point outside the order-r subgroup: on the twist, not in G2.
    let mut x = Fq2::ONE;
    let outside = loop {
        if let Some(p) = twist_point(x) {
            if !bool::from(G2::from(p).is_torsion_free()) {
                break p;
            }
        }
        x += Fq2::ONE;
    };
    let mut subgroup = good.clone();
    let g2_section = g1_offset(2 * 8 - 1) + 12;
    subgroup[g2_section + 128..g2_section + 256].copy_from_slice(&outside.to_raw_bytes());
    assert!(matches!(
        refuse(&subgroup, 1..=3),
        PtauError::Point {
            what: "tau G2 power",
            index: 1,
            reason: "not in the order-r subgroup"
        }
    ));
}

/// A point of the twist `y^2 = x^3 + b'` with this `x`, if `x^3 + b'` is a square.
fn twist_point(x: Fq2) -> Option<G2Affine> {
    let y = Option::<Fq2>::from((x.square() * x + G2Affine::b()).sqrt())?;
    Option::from(G2Affine::from_xy(x, y))
}

#[test]
fn a_short_parameter_file_is_refused_without_a_panic() {
    let dir = scratch("short");
    let path = write_ptau(&dir, &ptau_bytes(3, Fr::from(11)));
    let out = dir.join("params");
    import(&path, &out, 3..=3).unwrap();
    let loaded = zkattr_halo2::keys::KzgParams::load(&out, 3)
        .unwrap()
        .unwrap();
    assert_eq!(loaded.source, "file");
    let srs = out.join("kzg_bn254_3.srs");
    let bytes = std::fs::read(&srs).unwrap();
    std::fs::write(&srs, &bytes[..bytes.len() - 1]).unwrap();
    let err = zkattr_halo2::keys::KzgParams::load(&out, 3).unwrap_err();
    assert!(
        matches!(err, zkattr_halo2::keys::Halo2Error::Params { ref reason, .. }
            if reason.contains("is not a halo2 parameter file for the 2^3 rows")),
        "{err}"
    );
}
