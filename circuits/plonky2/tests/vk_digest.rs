//! The verifying-key digests pinned in `params/plonky2_vk_digests.json` match the circuits.
//! A drift (any change to the statement circuit or plonky2's configuration) fails here; after a
//! deliberate change, `ZKATTR_REGEN_VK=1 cargo test -p zkattr-plonky2 --test vk_digest --release`
//! rebuilds every shape of the ladder and the pinned aggregation layouts and rewrites the file
//! (`ZKATTR_REGEN_VK=aggregation`: the aggregation layouts only; about 50 minutes on the 2-core
//! machine, most of it the 130 default layouts' final circuits, 10-29 s each up to 16,384
//! payees and about 150 s each at 32,768; then the 30 chunked layouts, 15-30 minutes more,
//! peak about 7 GiB);
//! `ZKATTR_REGEN_VK=aggregation-missing`: only default layouts the file lacks, as after raising
//! `PINNED_CHUNKED_CAPACITY`, when the circuits of the pinned ones have not changed).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use zkattr_plonky2::aggregation::{
    default_layout_digests, default_layouts, layout_digests, AggregationCircuits, AggregationShape,
    PINNED_DEFAULT_LEVELS,
};
use zkattr_plonky2::prover::{StatementCircuit, SHAPE_LADDER};
use zkattr_plonky2::statement::StatementShape;

/// Aggregation layouts with a pinned final-circuit digest: the ones tests/pipeline.rs,
/// tests/pipeline_chunked.rs and prover/tests/cli.rs prove (both verify their bundle against the pin, so drift fails there;
/// building these circuits again here would double that cost).
const AGGREGATION: [AggregationShape; 3] = [
    AggregationShape {
        batch_height: 2,
        levels: 2,
        payee_capacity: 8,
        chunk_height: None,
    },
    AggregationShape {
        batch_height: 2,
        levels: 1,
        payee_capacity: 8,
        chunk_height: None,
    },
    // tests/pipeline_chunked.rs: the payout list in eight chunks of four.
    AggregationShape {
        batch_height: 2,
        levels: 2,
        payee_capacity: 32,
        chunk_height: Some(2),
    },
];

/// Both tests rewrite the same file under `ZKATTR_REGEN_VK`.
static FILE: Mutex<()> = Mutex::new(());

fn regenerate() -> Option<String> {
    std::env::var("ZKATTR_REGEN_VK").ok()
}

fn read_pinned() -> BTreeMap<String, String> {
    serde_json::from_str(&std::fs::read_to_string(path()).unwrap()).unwrap()
}

fn update_pinned(entries: Vec<(String, String)>) {
    let _guard = FILE.lock().unwrap();
    let mut pinned = read_pinned();
    pinned.extend(entries);
    std::fs::write(
        path(),
        serde_json::to_string_pretty(&pinned).unwrap() + "\n",
    )
    .unwrap();
}

/// Shapes checked on every test run; the larger ones take minutes to build.
const CHECKED: [usize; 2] = [16, 64];

fn path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../params/plonky2_vk_digests.json")
}

#[test]
fn pinned_digests_match_the_circuits() {
    let regenerate = regenerate().is_some_and(|v| !v.starts_with("aggregation"));
    let shapes: &[usize] = if regenerate { &SHAPE_LADDER } else { &CHECKED };
    let pinned = read_pinned();
    let mut fresh = Vec::new();
    for &capacity in shapes {
        let circuit = StatementCircuit::build(StatementShape::new(capacity, capacity).unwrap());
        let key = format!("{capacity}x{capacity}");
        if regenerate {
            fresh.push((key, circuit.digest_hex().unwrap()));
        } else {
            assert_eq!(
                pinned.get(&key),
                Some(&circuit.digest_hex().unwrap()),
                "verifying key of shape {key} drifted from params/plonky2_vk_digests.json"
            );
        }
    }
    if regenerate {
        update_pinned(fresh);
    }
    let pinned = read_pinned();
    assert!(SHAPE_LADDER
        .iter()
        .all(|c| pinned.contains_key(&format!("{c}x{c}"))));
}

#[test]
fn aggregation_layouts_are_pinned() {
    if regenerate().as_deref() == Some("aggregation-missing") {
        let pinned = read_pinned();
        let missing: Vec<AggregationShape> = default_layouts(PINNED_DEFAULT_LEVELS)
            .into_iter()
            .filter(|shape| !pinned.contains_key(&shape.key()))
            .collect();
        update_pinned(layout_digests(&missing, &|stage| eprintln!("{stage}")).unwrap());
    } else if regenerate().is_some() {
        let mut fresh: Vec<(String, String)> = AGGREGATION
            .iter()
            .map(|shape| {
                let circuits = AggregationCircuits::build(*shape, &|_| {}).unwrap();
                (shape.key(), circuits.digest_hex().unwrap())
            })
            .collect();
        fresh.extend(
            default_layout_digests(PINNED_DEFAULT_LEVELS, &|stage| eprintln!("{stage}")).unwrap(),
        );
        update_pinned(fresh);
    }
    let pinned = read_pinned();
    // Every default layout (batches of 2,048, up to 9 merge levels, every payee capacity), so a
    // bundle of any epoch up to 2^20 queries verifies with `zkattr-verify`. Their circuits take
    // minutes to build, so only regeneration rebuilds them; a change to the batch, merge or
    // final circuit also moves the tests' small layouts above, whose proofs fail against their
    // pins, which calls for regenerating all.
    let layouts: Vec<String> = AGGREGATION
        .into_iter()
        .chain(default_layouts(PINNED_DEFAULT_LEVELS))
        .map(|shape| shape.key())
        .collect();
    for key in &layouts {
        let digest = pinned.get(key);
        assert!(
            digest.is_some_and(|d| d.starts_with("0x") && d.len() == 66),
            "no pinned digest for {key} in params/plonky2_vk_digests.json"
        );
    }
    // A pin of a layout these circuits no longer build (say 64 chunks of 16,384) would have
    // zkattr-verify accept bundles nothing here can reproduce.
    for key in pinned.keys().filter(|key| key.starts_with("agg-")) {
        assert!(
            layouts.contains(key),
            "params/plonky2_vk_digests.json pins {key}, a layout the circuits no longer build"
        );
    }
}
