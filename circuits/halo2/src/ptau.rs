//! A real KZG setup from a snarkjs Powers of Tau file (`.ptau`, the format of the Perpetual
//! Powers of Tau for BN254, e.g. the Hermez `powersOfTau28_hez_final_{P}.ptau` files), converted
//! into halo2's parameter files (`kzg_bn254_{k}.srs`, one per `k`).
//!
//! A `.ptau` file is "ptau", a version (1), a section count, then sections, each a type (u32)
//! and a byte length (u64), all little endian. Section 1 holds the header (`n8` = 32, the base
//! field modulus `q` in `n8` bytes, `power`, `ceremonyPower`); section 2 the `2^(power+1) - 1`
//! powers `tau^i G1`; section 3 the `2^power` powers `tau^i G2`; section 7 the contributions.
//! Points are affine `(x, y)` with each coordinate (an Fq2 as `c0, c1`) in Montgomery form,
//! little endian: halo2curves' raw byte layout for BN254. Only `tau^i G1` for `i < 2^k` and
//! `tau G2` enter halo2's parameters.
//!
//! Before anything is written the powers are checked: every point on the curve (and `tau G2` in
//! the order-`r` subgroup), the generators the ones halo2 uses, `tau` not 1 (a file no one
//! contributed to), and one random linear combination of pairings,
//! `e(sum r_i tau^(i+1) G1, G2) == e(sum r_i tau^i G1, tau G2)`, which holds for random `r_i`
//! only if every power is `tau` times the previous one.

use crate::keys::{params_file_name, Halo2Error, FILE_SOURCE, MANIFEST_FILE};
use halo2_base::halo2_proofs::arithmetic::best_multiexp;
use halo2_base::halo2_proofs::halo2curves::bn256::{
    multi_miller_loop, Bn256, Fq, Fr, G1Affine, G2Affine, G2Prepared, Gt, G2,
};
use halo2_base::halo2_proofs::halo2curves::ff::{Field, PrimeField};
use halo2_base::halo2_proofs::halo2curves::group::cofactor::CofactorGroup;
use halo2_base::halo2_proofs::halo2curves::group::prime::PrimeCurveAffine;
use halo2_base::halo2_proofs::halo2curves::group::Curve;
use halo2_base::halo2_proofs::halo2curves::pairing::MillerLoopResult;
use halo2_base::halo2_proofs::halo2curves::serde::SerdeObject;
use halo2_base::halo2_proofs::poly::commitment::Params;
use halo2_base::halo2_proofs::poly::kzg::commitment::ParamsKZG;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

/// Bytes of an affine G1 point in a `.ptau` file (two Fq coordinates).
const G1_BYTES: usize = 64;
/// Bytes of an affine G2 point (two Fq2 coordinates).
const G2_BYTES: usize = 128;
/// The largest `power` read: BN254's scalar field has 2-adicity 28, and the largest published
/// Hermez file is power 28.
pub const MAX_POWER: u32 = 28;
/// The largest section table accepted (snarkjs writes 7 sections, 11 after `prepare phase2`).
const MAX_SECTIONS: u32 = 64;

/// Why a `.ptau` file was refused or could not be converted. Each names what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum PtauError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("not a .ptau file: the magic is {found:?}, not \"ptau\"")]
    Magic { found: String },
    #[error("ptau format version {0} (only version 1 is known)")]
    Version(u32),
    #[error(
        "the file is truncated: {what} needs {needed} bytes at offset {offset}, the file has {len}"
    )]
    Truncated {
        what: String,
        offset: u64,
        needed: u64,
        len: u64,
    },
    #[error("section {section}: {reason}")]
    Section { section: u32, reason: String },
    #[error("the file is not for BN254: {0}")]
    Curve(String),
    #[error("the file holds 2^{power} powers, fewer than the 2^{k} requested")]
    PowerTooSmall { power: u32, k: u32 },
    #[error("requested k range {min}..={max} is empty or starts below 1")]
    Range { min: u32, max: u32 },
    #[error("{what} {index} is not a point of BN254: {reason}")]
    Point {
        what: &'static str,
        index: u64,
        reason: &'static str,
    },
    #[error("{0} is not the generator halo2 uses")]
    Generator(&'static str),
    #[error("tau is 1 (tau G1 equals the generator): no one contributed to this file")]
    NoContribution,
    #[error("the pairing check failed: the G1 powers are not successive powers of the tau in tau G2 (a power is corrupted)")]
    Pairing,
    #[error("{path}: {reason}")]
    Manifest { path: PathBuf, reason: String },
    #[error(transparent)]
    Halo2(#[from] Halo2Error),
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> PtauError + '_ {
    move |source| PtauError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Where a section's bytes are.
#[derive(Clone, Copy, Debug)]
struct Section {
    offset: u64,
    size: u64,
}

/// An opened `.ptau` file whose header and section table have been checked.
#[derive(Debug)]
pub struct PtauFile {
    path: PathBuf,
    file: std::fs::File,
    len: u64,
    sections: BTreeMap<u32, Section>,
    /// `tau^i G1` are present for `i < 2^(power+1) - 1`, `tau^i G2` for `i < 2^power`.
    pub power: u32,
    /// The power of the ceremony the file was cut from (0 when not recorded).
    pub ceremony_power: u32,
    /// Contributions recorded in section 7 (a beacon counts as one).
    pub contributions: u32,
    /// Whether the last contribution is a beacon (snarkjs `powersoftau beacon`).
    pub ends_with_beacon: bool,
}

/// BN254's base field modulus, little endian, as section 1 records it.
fn bn254_q_le() -> [u8; 32] {
    let mut q = [0u8; 32];
    let hex = Fq::MODULUS.trim_start_matches("0x");
    for (i, byte) in q.iter_mut().enumerate() {
        let at = hex.len() - 2 * (i + 1);
        *byte = u8::from_str_radix(&hex[at..at + 2], 16).unwrap_or(0);
    }
    q
}

impl PtauFile {
    /// Opens `path` and checks the magic, the version, the section table against the file's
    /// length, the header (BN254, `power` at most [`MAX_POWER`]) and the sizes of the tau
    /// sections; reads the contribution count.
    pub fn open(path: &Path) -> Result<Self, PtauError> {
        let file = std::fs::File::open(path).map_err(io_error(path))?;
        let len = file.metadata().map_err(io_error(path))?.len();
        let mut ptau = PtauFile {
            path: path.to_path_buf(),
            file,
            len,
            sections: BTreeMap::new(),
            power: 0,
            ceremony_power: 0,
            contributions: 0,
            ends_with_beacon: false,
        };
        let head = ptau.read_at(0, 12, "the file header")?;
        if &head[..4] != b"ptau" {
            return Err(PtauError::Magic {
                found: String::from_utf8_lossy(&head[..4]).into_owned(),
            });
        }
        let version = u32_le(&head[4..8]);
        if version != 1 {
            return Err(PtauError::Version(version));
        }
        let count = u32_le(&head[8..12]);
        if count > MAX_SECTIONS {
            return Err(PtauError::Section {
                section: 0,
                reason: format!("{count} sections (at most {MAX_SECTIONS} expected)"),
            });
        }
        let mut offset = 12u64;
        for _ in 0..count {
            let entry = ptau.read_at(offset, 12, "a section header")?;
            let kind = u32_le(&entry[..4]);
            let size = u64::from_le_bytes(entry[4..12].try_into().unwrap_or_default());
            offset += 12;
            let end = offset.checked_add(size).filter(|&end| end <= len);
            if end.is_none() {
                return Err(PtauError::Truncated {
                    what: format!("section {kind}"),
                    offset,
                    needed: size,
                    len,
                });
            }
            if ptau
                .sections
                .insert(kind, Section { offset, size })
                .is_some()
            {
                return Err(PtauError::Section {
                    section: kind,
                    reason: "appears twice".into(),
                });
            }
            offset += size;
        }
        ptau.read_header()?;
        ptau.read_contributions()?;
        let expect = |section: u32, points: u64, bytes: usize| -> Result<(), PtauError> {
            let found = ptau.section(section)?.size;
            if found != points * bytes as u64 {
                return Err(PtauError::Section {
                    section,
                    reason: format!(
                        "{found} bytes, but 2^{} powers need {}",
                        ptau.power,
                        points * bytes as u64
                    ),
                });
            }
            Ok(())
        };
        let n = 1u64 << ptau.power;
        expect(2, 2 * n - 1, G1_BYTES)?;
        expect(3, n, G2_BYTES)?;
        Ok(ptau)
    }

    fn section(&self, kind: u32) -> Result<Section, PtauError> {
        self.sections
            .get(&kind)
            .copied()
            .ok_or_else(|| PtauError::Section {
                section: kind,
                reason: "missing".into(),
            })
    }

    fn read_at(&mut self, offset: u64, count: u64, what: &str) -> Result<Vec<u8>, PtauError> {
        if offset.checked_add(count).is_none_or(|end| end > self.len) {
            return Err(PtauError::Truncated {
                what: what.to_string(),
                offset,
                needed: count,
                len: self.len,
            });
        }
        let mut bytes = vec![0u8; count as usize];
        self.file
            .seek(SeekFrom::Start(offset))
            .map_err(io_error(&self.path))?;
        self.file
            .read_exact(&mut bytes)
            .map_err(io_error(&self.path))?;
        Ok(bytes)
    }

    fn read_header(&mut self) -> Result<(), PtauError> {
        let header = self.section(1)?;
        if header.size != 4 + 32 + 8 {
            return Err(PtauError::Section {
                section: 1,
                reason: format!("{} bytes (a BN254 header has 44)", header.size),
            });
        }
        let bytes = self.read_at(header.offset, header.size, "section 1")?;
        let n8 = u32_le(&bytes[..4]);
        if n8 != 32 {
            return Err(PtauError::Curve(format!(
                "field elements of {n8} bytes (BN254's are 32)"
            )));
        }
        if bytes[4..36] != bn254_q_le() {
            return Err(PtauError::Curve(
                "the base field modulus is not BN254's".into(),
            ));
        }
        self.power = u32_le(&bytes[36..40]);
        self.ceremony_power = u32_le(&bytes[40..44]);
        if self.power == 0 || self.power > MAX_POWER {
            return Err(PtauError::Section {
                section: 1,
                reason: format!("power {} is outside 1..={MAX_POWER}", self.power),
            });
        }
        Ok(())
    }

    /// Counts the contributions and notes whether the last is a beacon. Each is 1,496 fixed
    /// bytes (5 points, the 9-point public key, a 216-byte partial hash, a 64-byte challenge
    /// hash), a type (u32: 1 is a beacon), and parameters of a given length.
    fn read_contributions(&mut self) -> Result<(), PtauError> {
        const FIXED: u64 = 3 * 64 + 2 * 128 + (6 * 64 + 3 * 128) + 216 + 64;
        let section = self.section(7)?;
        let end = section.offset + section.size;
        let count = u32_le(&self.read_at(section.offset, 4, "section 7")?);
        let mut at = section.offset + 4;
        let mut last_type = 0;
        for index in 0..count {
            let tail = self.read_at(at + FIXED, 8, "a contribution")?;
            last_type = u32_le(&tail[..4]);
            let params = u64::from(u32_le(&tail[4..8]));
            at += FIXED + 8 + params;
            if at > end {
                return Err(PtauError::Section {
                    section: 7,
                    reason: format!("contribution {} runs past the section", index + 1),
                });
            }
        }
        if at != end {
            return Err(PtauError::Section {
                section: 7,
                reason: format!("{} bytes left after {count} contributions", end - at),
            });
        }
        self.contributions = count;
        self.ends_with_beacon = count > 0 && last_type == 1;
        Ok(())
    }

    /// The first `count` powers `tau^i G1`, each checked to be a point of BN254 other than the
    /// identity (G1 has cofactor 1: on the curve is in the subgroup).
    pub fn tau_g1(&mut self, count: usize) -> Result<Vec<G1Affine>, PtauError> {
        let section = self.section(2)?;
        let bytes = self.read_at(
            section.offset,
            (count * G1_BYTES) as u64,
            "the tau G1 powers",
        )?;
        bytes
            .chunks_exact(G1_BYTES)
            .enumerate()
            .map(|(index, raw)| {
                let point = G1Affine::from_raw_bytes(raw).ok_or(PtauError::Point {
                    what: "tau G1 power",
                    index: index as u64,
                    reason: "a coordinate is not below q, or the point is not on the curve",
                })?;
                if bool::from(point.is_identity()) {
                    return Err(PtauError::Point {
                        what: "tau G1 power",
                        index: index as u64,
                        reason: "the point at infinity",
                    });
                }
                Ok(point)
            })
            .collect()
    }

    /// `tau^index G2`, checked to be on the curve, in the order-`r` subgroup and not the
    /// identity.
    pub fn tau_g2(&mut self, index: u64) -> Result<G2Affine, PtauError> {
        let section = self.section(3)?;
        let raw = self.read_at(
            section.offset + index * G2_BYTES as u64,
            G2_BYTES as u64,
            "a tau G2 power",
        )?;
        let bad = |reason| PtauError::Point {
            what: "tau G2 power",
            index,
            reason,
        };
        let point = G2Affine::from_raw_bytes(&raw).ok_or(bad(
            "a coordinate is not below q, or the point is not on the curve",
        ))?;
        if bool::from(point.is_identity()) {
            return Err(bad("the point at infinity"));
        }
        if !bool::from(G2::from(point).is_torsion_free()) {
            return Err(bad("not in the order-r subgroup"));
        }
        Ok(point)
    }
}

fn u32_le(bytes: &[u8]) -> u32 {
    u32::from_le_bytes(bytes[..4].try_into().unwrap_or_default())
}

/// Checks that `g` are successive powers `tau^i G1` of the `tau` in `s_g2 = tau G2`: `g[0]` is
/// the G1 generator, `tau` is not 1, and for random `r_i` (from the OS),
/// `e(sum r_i g[i+1], G2) == e(sum r_i g[i], s_g2)`. A wrong power makes the two sides differ
/// except with probability about `1/r`.
pub fn check_powers(g: &[G1Affine], s_g2: &G2Affine) -> Result<(), PtauError> {
    if g.first() != Some(&G1Affine::generator()) {
        return Err(PtauError::Generator("tau^0 G1"));
    }
    if g.len() < 2 {
        return Ok(());
    }
    if g[1] == g[0] {
        return Err(PtauError::NoContribution);
    }
    let mut rng = ChaCha20Rng::from_entropy();
    let r: Vec<Fr> = (1..g.len()).map(|_| Fr::random(&mut rng)).collect();
    let left = best_multiexp(&r, &g[1..]).to_affine();
    let right = best_multiexp(&r, &g[..g.len() - 1]).to_affine();
    let g2 = G2Prepared::from(G2Affine::generator());
    let s_g2 = G2Prepared::from(*s_g2);
    let product = multi_miller_loop(&[(&left, &g2), (&(-right), &s_g2)]).final_exponentiation();
    if product != Gt::identity() {
        return Err(PtauError::Pairing);
    }
    Ok(())
}

/// halo2's parameters for `2^k` rows from the first `2^k` powers: `g` as given, its Lagrange
/// form by halo2's own inverse FFT (`ParamsKZG::from_parts`), the G2 generator and `s_g2`.
pub fn params_for_k(k: u32, g: &[G1Affine], s_g2: G2Affine) -> ParamsKZG<Bn256> {
    // halo2-axiom 0.5 has no free constructor from parts: `from_parts` takes (and ignores) a
    // receiver, so a k = 1 setup from a fixed seed serves as one.
    let template = ParamsKZG::<Bn256>::setup(1, ChaCha20Rng::from_seed([0; 32]));
    template.from_parts(k, g[..1 << k].to_vec(), None, G2Affine::generator(), s_g2)
}

/// One parameter file written by [`import_ptau`].
#[derive(Clone, Debug)]
pub struct WrittenParams {
    pub k: u32,
    pub path: PathBuf,
    pub sha256: String,
}

/// What [`import_ptau`] converted.
#[derive(Clone, Debug)]
pub struct Imported {
    pub ptau_name: String,
    pub ptau_sha256: String,
    pub power: u32,
    pub contributions: u32,
    pub ends_with_beacon: bool,
    pub files: Vec<WrittenParams>,
}

/// SHA-256 of a whole file, streamed (published `.ptau` files reach tens of gigabytes).
pub fn file_sha256(path: &Path) -> Result<String, PtauError> {
    let mut file = std::fs::File::open(path).map_err(io_error(path))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = file.read(&mut buffer).map_err(io_error(path))?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Converts the `.ptau` file at `ptau` into `out/kzg_bn254_{k}.srs` for every `k` in `ks`
/// (which must lie within the file's power), after [`check_powers`] on all `2^max` G1 powers
/// used; records the source and every file's sha256 under `"ceremony"` in `out/manifest.json`
/// (other keys of an existing manifest are kept). Nothing is written if a check fails. Each
/// file is written to a temporary name and renamed into place.
pub fn import_ptau(
    ptau: &Path,
    out: &Path,
    ks: RangeInclusive<u32>,
    mut progress: impl FnMut(&str),
) -> Result<Imported, PtauError> {
    let (min, max) = (*ks.start(), *ks.end());
    if min == 0 || min > max {
        return Err(PtauError::Range { min, max });
    }
    let mut file = PtauFile::open(ptau)?;
    if max > file.power {
        return Err(PtauError::PowerTooSmall {
            power: file.power,
            k: max,
        });
    }
    progress(&format!(
        "{}: 2^{} powers (ceremony power {}), {} contribution(s){}",
        ptau.display(),
        file.power,
        file.ceremony_power,
        file.contributions,
        if file.ends_with_beacon {
            ", the last a beacon"
        } else {
            ""
        }
    ));
    let g = file.tau_g1(1 << max)?;
    if file.tau_g2(0)? != G2Affine::generator() {
        return Err(PtauError::Generator("tau^0 G2"));
    }
    let s_g2 = file.tau_g2(1)?;
    check_powers(&g, &s_g2)?;
    progress(&format!(
        "pairing check passed on 2^{max} G1 powers and tau G2"
    ));
    let ptau_sha256 = file_sha256(ptau)?;
    std::fs::create_dir_all(out).map_err(io_error(out))?;
    let mut files = Vec::new();
    for k in ks {
        let params = params_for_k(k, &g, s_g2);
        let path = out.join(params_file_name(k as usize));
        let mut bytes = Vec::new();
        params.write(&mut bytes).map_err(|e| Halo2Error::Params {
            path: path.clone(),
            reason: format!("cannot serialise: {e}"),
        })?;
        let temporary = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&temporary, &bytes).map_err(io_error(&temporary))?;
        std::fs::rename(&temporary, &path).map_err(io_error(&path))?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        progress(&format!("wrote {} ({sha256})", path.display()));
        files.push(WrittenParams { k, path, sha256 });
    }
    let imported = Imported {
        ptau_name: ptau
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        ptau_sha256,
        power: file.power,
        contributions: file.contributions,
        ends_with_beacon: file.ends_with_beacon,
        files,
    };
    record_in_manifest(&out.join(MANIFEST_FILE), &imported)?;
    Ok(imported)
}

/// Writes the `"ceremony"` entry of the manifest at `path`: the `.ptau` source and the sha256 of
/// every parameter file, replacing an earlier import's (its files were overwritten).
fn record_in_manifest(path: &Path, imported: &Imported) -> Result<(), PtauError> {
    let bad = |reason: String| PtauError::Manifest {
        path: path.to_path_buf(),
        reason,
    };
    let mut manifest = match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str::<serde_json::Value>(&text)
            .map_err(|e| bad(format!("not JSON: {e}")))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => serde_json::json!({
            "format": "halo2-axiom ParamsKZG<Bn256>, RawBytes (ParamsKZG::write), file kzg_bn254_{k}.srs",
        }),
        Err(e) => return Err(io_error(path)(e)),
    };
    let object = manifest
        .as_object_mut()
        .ok_or_else(|| bad("not a JSON object".into()))?;
    let files: serde_json::Map<String, serde_json::Value> = imported
        .files
        .iter()
        .map(|f| {
            (
                params_file_name(f.k as usize),
                serde_json::Value::String(f.sha256.clone()),
            )
        })
        .collect();
    object.insert(
        "ceremony".into(),
        serde_json::json!({
            "source": {
                "kind": "ptau",
                "file": imported.ptau_name,
                "sha256": imported.ptau_sha256,
                "power": imported.power,
                "contributions": imported.contributions,
                "ends_with_beacon": imported.ends_with_beacon,
                "bundles_record": FILE_SOURCE,
            },
            "files": files,
        }),
    );
    let text = serde_json::to_string_pretty(&manifest).map_err(|e| bad(e.to_string()))?;
    std::fs::write(path, text + "\n").map_err(io_error(path))
}

/// Pins the verifying keys of the project's circuits under the parameters in `dir`: for each
/// ladder shape whose `2^k` rows have a parameter file there, generates its keys and writes the
/// key digest into `dir/halo2_vk_digests.json` under [`FILE_SOURCE`] (the section is replaced,
/// other sections are kept). `zkattr-verify` reads this file beside the parameters it loads.
/// Returns the pinned `(shape, k, digest)`s.
pub fn pin_verifying_keys(
    dir: &Path,
    mut progress: impl FnMut(&str),
) -> Result<Vec<(String, usize, String)>, PtauError> {
    use crate::keys::{halo2_key_digest, KzgParams, PINS_FILE};
    use crate::prover::{Halo2Keys, Layout, HALO2_LADDER};
    use crate::statement::Halo2Shape;
    let mut pinned = Vec::new();
    for capacity in HALO2_LADDER {
        let shape = Halo2Shape::new(capacity, capacity).map_err(Halo2Error::Shape)?;
        let layout = Layout::for_shape(shape);
        if !dir.join(params_file_name(layout.k)).exists() {
            progress(&format!(
                "{capacity}x{capacity}: no parameters for its 2^{} rows, not pinned",
                layout.k
            ));
            continue;
        }
        let Some(params) = KzgParams::load(dir, layout.k)? else {
            continue;
        };
        let keys = Halo2Keys::generate(&layout, &params.params)?;
        let digest = halo2_key_digest(keys.vk());
        progress(&format!(
            "{capacity}x{capacity} (2^{} rows): verifying key {digest}",
            layout.k
        ));
        pinned.push((format!("{capacity}x{capacity}"), layout.k, digest));
    }
    let path = dir.join(PINS_FILE);
    let bad = |reason: String| PtauError::Manifest {
        path: path.clone(),
        reason,
    };
    let mut pins: BTreeMap<String, BTreeMap<String, String>> = match std::fs::read_to_string(&path)
    {
        Ok(text) => serde_json::from_str(&text).map_err(|e| {
            bad(format!(
                "not a pins file ({{source: {{shape: digest}}}}): {e}"
            ))
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
        Err(e) => return Err(io_error(&path)(e)),
    };
    pins.insert(
        FILE_SOURCE.into(),
        pinned
            .iter()
            .map(|(shape, _, digest)| (shape.clone(), digest.clone()))
            .collect(),
    );
    let text = serde_json::to_string_pretty(&pins).map_err(|e| bad(e.to_string()))?;
    std::fs::write(&path, text + "\n").map_err(io_error(&path))?;
    Ok(pinned)
}
