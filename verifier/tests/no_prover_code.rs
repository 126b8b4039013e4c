//! The verifier links no prover code and stays small: `cargo tree` of zkattr-verifier (normal
//! and build dependencies), without and with the `evm` feature, holds only the crates listed
//! here, and zkattr-halo2 without its `prover` feature. Payers run this crate to decide whether
//! to pay; it must not need, or trust, the prover's code (zkattr-prover and zkattr-plonky2 are
//! not listed). A new dependency fails this test until it is added here on purpose.

use std::process::Command;

/// Crates the verifier may link (names; any version).
const ALLOWED: &[&str] = &[
    "ahash",
    "allocator-api2",
    "anstream",
    "anstyle",
    "anstyle-parse",
    "anstyle-query",
    "anyhow",
    "ark-bn254",
    "ark-ec",
    "ark-ff",
    "ark-ff-asm",
    "ark-ff-macros",
    "ark-poly",
    "ark-serialize",
    "ark-serialize-derive",
    "ark-std",
    "arrayvec",
    "autocfg",
    "bitvec",
    "blake2b_simd",
    "block-buffer",
    "byteorder",
    "cfg-if",
    "clap",
    "clap_builder",
    "clap_derive",
    "clap_lex",
    "colorchoice",
    "const-random",
    "const-random-macro",
    "constant_time_eq",
    "cpufeatures",
    "crossbeam",
    "crossbeam-channel",
    "crossbeam-deque",
    "crossbeam-epoch",
    "crossbeam-queue",
    "crossbeam-utils",
    "crunchy",
    "crypto-common",
    "csv",
    "csv-core",
    "digest",
    "educe",
    "either",
    "enum-ordinalize",
    "enum-ordinalize-derive",
    "ff",
    "fixed-hash",
    "funty",
    "generic-array",
    "getrandom",
    "getset",
    "group",
    "halo2-axiom",
    "halo2-base",
    "halo2curves-axiom",
    "hashbrown",
    "heck",
    "hex",
    "is_terminal_polyfill",
    "itertools",
    "itoa",
    "keccak",
    "keccak-hash",
    "lazy_static",
    "libc",
    "log",
    "maybe-rayon",
    "memchr",
    "num",
    "num-bigint",
    "num-complex",
    "num-integer",
    "num-iter",
    "num-rational",
    "num-traits",
    "once_cell",
    "pairing",
    "pasta_curves",
    "paste",
    "pin-project-lite",
    "plonky2",
    "plonky2_field",
    "plonky2_maybe_rayon",
    "plonky2_util",
    "poseidon-primitives",
    "ppv-lite86",
    "primitive-types",
    "proc-macro2",
    "quote",
    "radium",
    "rand",
    "rand_chacha",
    "rand_core",
    "rand_xorshift",
    "rayon",
    "rayon-core",
    "ruint",
    "ruint-macro",
    "rustc-hash",
    "ryu",
    "serde",
    "serde_arrays",
    "serde_core",
    "serde_derive",
    "serde_json",
    "serde_path_to_error",
    "sha2",
    "sha3",
    "snark-verifier",
    "spin",
    "static_assertions",
    "strsim",
    "subtle",
    "syn",
    "tap",
    "thiserror",
    "thiserror-impl",
    "tiny-keccak",
    "tracing",
    "tracing-attributes",
    "tracing-core",
    "typenum",
    "uint",
    "unicode-ident",
    "unroll",
    "utf8parse",
    "version_check",
    "web-time",
    "wyz",
    "zerocopy",
    "zeroize",
    "zeroize_derive",
    "zkattr-halo2",
    "zkattr-model",
    "zkattr-plonky2-gates",
    "zkattr-verifier",
    "zmij",
];

/// Crates the `evm` feature adds: revm, its precompiles, the Solidity verifier generator.
const ALLOWED_WITH_EVM: &[&str] = &[
    "alloy-eip2930",
    "alloy-eip7702",
    "alloy-primitives",
    "alloy-rlp",
    "alloy-rlp-derive",
    "ark-bls12-381",
    "arrayref",
    "aurora-engine-modexp",
    "auto_impl",
    "base16ct",
    "bitflags",
    "bytes",
    "const-hex",
    "const-oid",
    "convert_case",
    "crypto-bigint",
    "der",
    "derive-where",
    "derive_more",
    "derive_more-impl",
    "ecdsa",
    "elliptic-curve",
    "equivalent",
    "foldhash",
    "hmac",
    "hybrid-array",
    "indexmap",
    "k256",
    "num_enum",
    "num_enum_derive",
    "p256",
    "primeorder",
    "proc-macro-crate",
    "revm",
    "revm-bytecode",
    "revm-context",
    "revm-context-interface",
    "revm-database",
    "revm-database-interface",
    "revm-handler",
    "revm-inspector",
    "revm-interpreter",
    "revm-precompile",
    "revm-primitives",
    "revm-state",
    "rfc6979",
    "ripemd",
    "rustc_version",
    "rustversion",
    "sec1",
    "semver",
    "signature",
    "spki",
    "toml_datetime",
    "toml_edit",
    "toml_parser",
    "unicode-segmentation",
    "unicode-xid",
    "winnow",
    "zkattr-evm",
];

/// `cargo tree` of zkattr-verifier with `features`, one `name version [features]` per line.
fn tree(features: &[&str]) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let workspace = concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml");
    let out = Command::new(cargo)
        .args([
            "tree",
            "--offline",
            "--locked",
            "--manifest-path",
            workspace,
        ])
        .args([
            "-p",
            "zkattr-verifier",
            "-e",
            "normal,build",
            "--prefix",
            "none",
        ])
        .args(["--format", "{p} [{f}]"])
        .args(features)
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Every crate in `tree` is in `allowed`, and zkattr-halo2 comes without `prover`.
fn check(tree: &str, allowed: &[&str]) {
    assert!(tree.contains("zkattr-model"), "unexpected tree:\n{tree}");
    for line in tree.lines().filter(|l| !l.trim().is_empty()) {
        let name = line.split_whitespace().next().unwrap_or("");
        assert!(
            allowed.contains(&name),
            "the verifier links {name}, which is not on its allow-list: {line}"
        );
        if name == "zkattr-halo2" {
            let features = line.rsplit('[').next().unwrap_or("");
            assert!(
                !features.split([',', ']']).any(|f| f == "prover"),
                "zkattr-halo2 linked with its prover feature: {line}"
            );
        }
    }
}

#[test]
fn the_verifier_links_only_allowed_crates() {
    check(&tree(&[]), ALLOWED);
}

#[test]
fn with_the_evm_feature_the_verifier_links_only_allowed_crates() {
    // ALLOWED_WITH_EVM and ALLOWED are disjoint, so the test without the feature also shows
    // that none of these crates is linked then.
    let with_evm = tree(&["--features", "evm"]);
    assert!(
        with_evm.contains("revm "),
        "the evm feature adds revm:\n{with_evm}"
    );
    let allowed: Vec<&str> = ALLOWED.iter().chain(ALLOWED_WITH_EVM).copied().collect();
    check(&with_evm, &allowed);
}
