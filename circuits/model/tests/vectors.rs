//! The shared reader of the committed vectors: reads every epoch vector of `testvectors/`, skips
//! the hash vectors, and names the file of a vector that does not read.

use std::path::{Path, PathBuf};
use zkattr_model::vectors::{read_epoch_vectors, VectorError};

fn committed() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testvectors")
}

/// A fresh folder in the system's temporary directory holding one vector file.
fn folder_with(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("zkattr-vectors-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.json")), text).unwrap();
    dir
}

#[test]
fn the_committed_vectors_read_sorted_with_both_families() {
    let vectors = read_epoch_vectors(&committed()).unwrap();
    let names: Vec<&str> = vectors.iter().map(|v| v.name.as_str()).collect();
    assert!(names.contains(&"spec_example"), "{names:?}");
    assert!(
        !names.contains(&"poseidon_bn254"),
        "hash vectors are not epochs: {names:?}"
    );
    assert!(names.windows(2).all(|w| w[0] < w[1]), "{names:?}");
    for v in &vectors {
        assert_eq!(v.bn254.family, "bn254", "{}", v.name);
        assert_eq!(v.goldilocks.family, "goldilocks", "{}", v.name);
        assert_eq!(
            v.bn254.n_queries,
            v.epoch.queries.len() as u64,
            "{}",
            v.name
        );
    }
}

#[test]
fn a_vector_with_an_unknown_field_is_refused_naming_its_file() {
    let text = std::fs::read_to_string(committed().join("spec_example.json")).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    value["extra"] = serde_json::json!(1);
    let dir = folder_with("extra", &value.to_string());
    let err = read_epoch_vectors(&dir).unwrap_err();
    assert!(
        matches!(&err, VectorError::Json { path, .. } if path.ends_with("extra.json")),
        "{err}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_vector_whose_epoch_breaks_a_rule_is_refused() {
    let text = std::fs::read_to_string(committed().join("spec_example.json")).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    value["epoch"]["rate_bps"] = serde_json::json!(10_001);
    let dir = folder_with("rate", &value.to_string());
    let err = read_epoch_vectors(&dir).unwrap_err();
    assert!(matches!(&err, VectorError::Epoch { .. }), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}
