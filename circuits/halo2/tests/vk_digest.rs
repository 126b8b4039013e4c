//! The halo2 verifying-key digests pinned in `params/halo2_vk_digests.json` (under development
//! parameters) match the circuits. A drift (any change to the statement, the chip or the layout)
//! fails here; after a deliberate change,
//! `ZKATTR_REGEN_VK=1 cargo test -p zkattr-halo2 --test vk_digest --release` rebuilds every
//! shape of the ladder and rewrites the file. The digest covers the whole constraint system, so
//! it also depends on the KZG parameters (fixed commitments): ceremony parameters get their own
//! entries.

use std::collections::BTreeMap;
use std::path::PathBuf;
use zkattr_halo2::prover::{halo2_key_digest, Halo2Keys, KzgParams, Layout, HALO2_LADDER};
use zkattr_halo2::statement::Halo2Shape;

/// Shapes checked on every test run; the larger ones take minutes (parameters and keys).
const CHECKED: [usize; 1] = [16];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn pinned_digests_match_the_circuits() {
    let path = root().join("params/halo2_vk_digests.json");
    let regenerate = std::env::var_os("ZKATTR_REGEN_VK").is_some();
    let shapes: &[usize] = if regenerate { &HALO2_LADDER } else { &CHECKED };
    let mut pinned: BTreeMap<String, BTreeMap<String, String>> =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for &capacity in shapes {
        let layout = Layout::for_shape(Halo2Shape::new(capacity, capacity).unwrap());
        let params = KzgParams::dev_unsafe(&root().join("params"), layout.k).unwrap();
        let keys = Halo2Keys::generate(&layout, &params.params).unwrap();
        let digest = halo2_key_digest(keys.vk());
        let key = format!("{capacity}x{capacity}");
        eprintln!("{key}: k = {}, {digest}", layout.k);
        let entries = pinned.entry("dev-unsafe".into()).or_default();
        if regenerate {
            entries.insert(key, digest);
        } else {
            assert_eq!(
                entries.get(&key),
                Some(&digest),
                "verifying key of shape {key} drifted from params/halo2_vk_digests.json"
            );
        }
    }
    if regenerate {
        std::fs::write(&path, serde_json::to_string_pretty(&pinned).unwrap() + "\n").unwrap();
    }
}
