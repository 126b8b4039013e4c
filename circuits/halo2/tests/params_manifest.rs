//! params/manifest.json holds the sha256 of every KZG parameter file the project knows. The
//! development parameters are deterministic, so their hashes are fixed: a change to the seed,
//! the generator or halo2's serialisation fails here. k = 15 is generated on every run (about a
//! second); larger files are checked when they are present (`zkattr prove` caches them).
//! Ceremony files placed in params/ must be listed under "ceremony" with their hash.

use sha2::{Digest as _, Sha256};
use std::path::PathBuf;
use zkattr_halo2::keys::KzgParams;

fn params_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../params")
}

fn manifest() -> serde_json::Value {
    let text = std::fs::read_to_string(params_dir().join("manifest.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn file_sha256(path: &std::path::Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

#[test]
fn development_parameters_match_the_manifest() {
    let manifest = manifest();
    let files = manifest["dev-unsafe"]["files"].as_object().unwrap();
    // The smallest circuit's file is always (re)generated and checked.
    let params = KzgParams::dev_unsafe(&params_dir(), 15).unwrap();
    assert_eq!(params.source, "dev-unsafe");
    assert_eq!(
        Some(params.sha256.as_str()),
        files["kzg_bn254_15.srs"].as_str(),
        "regenerated dev parameters differ from params/manifest.json"
    );
    let mut checked = 0;
    for (name, expected) in files {
        let path = params_dir().join("dev-unsafe").join(name);
        if path.exists() {
            assert_eq!(
                file_sha256(&path),
                expected.as_str().unwrap(),
                "{} differs from params/manifest.json",
                path.display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 1);
}

#[test]
fn ceremony_files_present_are_listed_with_their_hash() {
    let manifest = manifest();
    let listed = manifest["ceremony"]["files"].as_object().unwrap();
    for entry in std::fs::read_dir(params_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.ends_with(".srs") {
            let expected = listed.get(&name).and_then(|v| v.as_str());
            assert_eq!(
                expected,
                Some(file_sha256(&path).as_str()),
                "{name} is in params/ but not listed (with its sha256) in params/manifest.json"
            );
        }
    }
}
