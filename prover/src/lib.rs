//! The `zkattr` prover crate: the gRPC proving service ([`service`]) and its client
//! ([`client`]); the `zkattr` binary adds the offline commands.

pub mod bench;
pub mod client;
pub mod progress;
pub mod service;

/// The generated `attribution.v1` gRPC types, clients and servers.
pub mod proto {
    #![allow(missing_debug_implementations, clippy::all)]
    tonic::include_proto!("attribution.v1");

    /// The encoded file descriptor set, for the reflection service.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("attribution_v1_descriptor");
}
