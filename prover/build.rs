//! Generates the gRPC code of `proto/attribution/v1/attribution.proto`.
//!
//! protoc comes from the `protoc-bin-vendored` crate, so building needs nothing installed by
//! hand (no system protoc in CI or on a fresh machine).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Read at run time, not with `env!`: a build script compiled once can be reused for a
    // checkout at another path sharing the target folder, and must look at its own.
    let manifest_dir = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let proto_root = manifest_dir.join("../proto");
    let proto = proto_root.join("attribution/v1/attribution.proto");
    println!("cargo:rerun-if-changed={}", proto.display());
    let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    tonic_prost_build::configure()
        .file_descriptor_set_path(out_dir.join("attribution_v1_descriptor.bin"))
        .compile_with_config(config, &[proto], &[proto_root])?;
    Ok(())
}
