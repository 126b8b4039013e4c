//! The committed halo2 bundle the verifier's tests run against, and fresh copies of it to
//! tamper with.

use std::path::PathBuf;

/// `verifier/evm/fixtures/halo2-16x16`: a 16-query halo2 bundle under the development setup.
pub fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("evm/fixtures/halo2-16x16")
}

/// A fresh copy of [`fixture`] in the temporary directory, named after the test binary
/// (`test`), the process and `name`, so parallel tests never share one.
pub fn copy_fixture(test: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("zkattr-{test}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(fixture()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    dir
}
