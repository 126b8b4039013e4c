//! The verifier's modules import each other without cycles: shared code (errors, file reads,
//! options, statement checks) sits below the backends' checks, which sit below the dispatch.
//! The graph is read from the sources: every `crate::NAME` in a module's files (its
//! `NAME.rs` and `NAME/`), with names the crate root re-exports resolved to their module.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

fn src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The text of a module: `src/NAME.rs` and every `.rs` file under `src/NAME/`.
fn module_text(name: &str) -> String {
    let mut text = std::fs::read_to_string(src().join(format!("{name}.rs"))).unwrap();
    let mut folders = vec![src().join(name)];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                text += &std::fs::read_to_string(&path).unwrap();
            }
        }
    }
    text
}

/// The identifiers that follow `prefix` in `text`.
fn names_after<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.match_indices(prefix)
        .map(|(at, _)| {
            let rest = &text[at + prefix.len()..];
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .filter(|name| !name.is_empty())
        .collect()
}

/// Modules declared in lib.rs, and the names lib.rs re-exports with `pub use MODULE::...`.
fn modules_and_reexports() -> (BTreeSet<String>, BTreeMap<String, String>) {
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    let modules: BTreeSet<String> = names_after(&lib, "pub mod ")
        .into_iter()
        .map(String::from)
        .collect();
    let mut reexports = BTreeMap::new();
    for line in lib.lines().filter(|l| l.starts_with("pub use ")) {
        let path = line.trim_start_matches("pub use ").trim_end_matches(';');
        let Some((module, items)) = path.split_once("::") else {
            continue;
        };
        for item in items.trim_matches(|c| c == '{' || c == '}').split(',') {
            let item = item.trim();
            if !item.is_empty() {
                reexports.insert(item.to_string(), module.to_string());
            }
        }
    }
    (modules, reexports)
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let (modules, reexports) = modules_and_reexports();
    let mut graph = BTreeMap::new();
    for module in &modules {
        let text = module_text(module);
        let mut uses = BTreeSet::new();
        for name in names_after(&text, "crate::") {
            let target = if modules.contains(name) {
                name.to_string()
            } else if let Some(module) = reexports.get(name) {
                module.clone()
            } else {
                panic!("{module} uses crate::{name}, which is neither a module nor a re-export");
            };
            if &target != module {
                uses.insert(target);
            }
        }
        graph.insert(module.clone(), uses);
    }
    graph
}

/// A cycle through `module`, if any, found depth first.
fn cycle_from(
    graph: &BTreeMap<String, BTreeSet<String>>,
    module: &str,
    path: &mut Vec<String>,
    done: &mut BTreeSet<String>,
) -> Option<Vec<String>> {
    if let Some(at) = path.iter().position(|m| m == module) {
        let mut cycle = path[at..].to_vec();
        cycle.push(module.to_string());
        return Some(cycle);
    }
    if done.contains(module) {
        return None;
    }
    path.push(module.to_string());
    for next in graph.get(module).into_iter().flatten() {
        if let Some(cycle) = cycle_from(graph, next, path, done) {
            return Some(cycle);
        }
    }
    path.pop();
    done.insert(module.to_string());
    None
}

#[test]
fn the_verifier_modules_import_each_other_without_cycles() {
    let graph = graph();
    // The graph is really read: the dispatch uses both backends, and they the shared code.
    for (from, to) in [
        ("bundle", "halo2"),
        ("bundle", "plonky2_bundle"),
        ("halo2", "files"),
        ("plonky2_bundle", "statement"),
    ] {
        assert!(
            graph[from].contains(to),
            "{from} -> {to} missing: {graph:?}"
        );
    }
    let mut done = BTreeSet::new();
    for module in graph.keys() {
        if let Some(cycle) = cycle_from(&graph, module, &mut Vec::new(), &mut done) {
            panic!("module cycle: {}", cycle.join(" -> "));
        }
    }
}

#[test]
fn a_cycle_is_found() {
    let graph: BTreeMap<String, BTreeSet<String>> = [("a", "b"), ("b", "c"), ("c", "a")]
        .into_iter()
        .map(|(from, to)| (from.to_string(), BTreeSet::from([to.to_string()])))
        .collect();
    let cycle = cycle_from(&graph, "a", &mut Vec::new(), &mut BTreeSet::new()).unwrap();
    assert_eq!(cycle, ["a", "b", "c", "a"]);
}
