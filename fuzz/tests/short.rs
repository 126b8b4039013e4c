//! Every target for a small fixed budget: no accepted mutant may change meaning and none may
//! panic. The full runs (a million mutants per target) are in docs/fuzzing.md.

use zkattr_fuzz::targets::{build, ALL};
use zkattr_fuzz::{run, run_one, Outcome};

/// Mutants per target: seconds in total, even for the bundle targets that verify proofs.
fn budget(name: &str) -> u64 {
    match name {
        "halo2-bundle" | "plonky2-bundle" => 300,
        _ => 2_000,
    }
}

#[test]
fn every_target_keeps_meaning_and_never_panics() {
    for name in ALL {
        let target = build(name).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        let stats = run(target.as_ref(), 37, budget(name));
        assert_eq!(stats.inputs, budget(name), "{name}");
        assert!(
            stats.clean(),
            "{name}: {} accepted-changed, {} panics; first: {:?}",
            stats.changed,
            stats.panics,
            stats.failures.first()
        );
        // A target that refuses everything or accepts everything tests nothing.
        assert!(stats.refused > 0, "{name} refused no mutant");
        assert!(stats.refused < stats.inputs, "{name} accepted no mutant");
    }
}

/// The oracle and the panic catcher do see failures: the self-check target accepts wrong
/// inputs and panics on empty ones, and a replay reproduces the same outcome.
#[test]
fn oracle_reports_changed_meaning_and_panics() {
    let target = build("self-check").expect("self-check builds");
    let stats = run(target.as_ref(), 1, 2_000);
    assert!(stats.changed > 0, "no accepted-changed mutant counted");
    assert!(stats.panics > 0, "no panic counted");
    assert!(!stats.clean());
    let first = stats.failures.first().expect("failures are kept");
    let replay = run_one(target.as_ref(), 1, first.index);
    match replay {
        Err(message) => assert!(first.panic && message == first.message),
        Ok(Outcome::Changed(message)) => assert!(!first.panic && message == first.message),
        other => panic!("replay of index {} gave {other:?}", first.index),
    }
}
