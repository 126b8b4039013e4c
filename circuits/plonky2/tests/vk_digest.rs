//! The verifying-key digests pinned in `params/plonky2_vk_digests.json` match the circuits.
//! A drift (any change to the statement circuit or plonky2's configuration) fails here; after a
//! deliberate change, `ZKATTR_REGEN_VK=1 cargo test -p zkattr-plonky2 --test vk_digest --release`
//! rebuilds every shape of the ladder and rewrites the file.

use std::collections::BTreeMap;
use std::path::PathBuf;
use zkattr_plonky2::prover::{StatementCircuit, SHAPE_LADDER};
use zkattr_plonky2::statement::StatementShape;

/// Shapes checked on every test run; the larger ones take minutes to build.
const CHECKED: [usize; 2] = [16, 64];

fn path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../params/plonky2_vk_digests.json")
}

#[test]
fn pinned_digests_match_the_circuits() {
    let regenerate = std::env::var_os("ZKATTR_REGEN_VK").is_some();
    let shapes: &[usize] = if regenerate { &SHAPE_LADDER } else { &CHECKED };
    let mut pinned: BTreeMap<String, String> =
        serde_json::from_str(&std::fs::read_to_string(path()).unwrap()).unwrap();
    for &capacity in shapes {
        let circuit = StatementCircuit::build(StatementShape::new(capacity, capacity).unwrap());
        let key = format!("{capacity}x{capacity}");
        if regenerate {
            pinned.insert(key, circuit.digest_hex().unwrap());
        } else {
            assert_eq!(
                pinned.get(&key),
                Some(&circuit.digest_hex().unwrap()),
                "verifying key of shape {key} drifted from params/plonky2_vk_digests.json"
            );
        }
    }
    if regenerate {
        std::fs::write(
            path(),
            serde_json::to_string_pretty(&pinned).unwrap() + "\n",
        )
        .unwrap();
    }
    assert!(SHAPE_LADDER
        .iter()
        .all(|c| pinned.contains_key(&format!("{c}x{c}"))));
}
