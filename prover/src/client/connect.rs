//! Reaching a service: the channel, TLS and the bearer token.

use super::{io_err, Client, ClientError};
use crate::proto::attribution_service_client::AttributionServiceClient;
use crate::service::auth::BearerToken;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};

/// Connects to `server` (`http://HOST:PORT`, or `https://...` for TLS, trusting `ca_pem` if
/// given, else the system's roots).
pub async fn connect(
    server: &str,
    token: Option<&str>,
    ca_pem: Option<Vec<u8>>,
) -> Result<Client, ClientError> {
    let connect_err = |source| ClientError::Connect {
        server: server.to_string(),
        source,
    };
    let mut endpoint = Endpoint::from_shared(server.to_string())
        .map_err(connect_err)?
        .connect_timeout(Duration::from_secs(10));
    if server.starts_with("https://") {
        let mut tls = ClientTlsConfig::new();
        tls = match ca_pem {
            Some(pem) => tls.ca_certificate(Certificate::from_pem(pem)),
            None => tls.with_native_roots(),
        };
        endpoint = endpoint.tls_config(tls).map_err(connect_err)?;
    }
    let channel = endpoint.connect().await.map_err(connect_err)?;
    let token = BearerToken::new(token)?;
    Ok(AttributionServiceClient::with_interceptor(channel, token)
        .max_decoding_message_size(crate::service::MAX_MESSAGE_BYTES))
}

/// Where the service is and how to reach it.
#[derive(clap::Args, Debug, Clone)]
pub struct ServerArgs {
    /// The service's URL (https:// for TLS).
    #[arg(long, env = "ZKATTR_SERVER", default_value = "http://127.0.0.1:50051")]
    pub server: String,
    #[command(flatten)]
    pub token: TokenArgs,
    /// PEM certificate to trust for https:// (default: the system's roots).
    #[arg(long, env = "ZKATTR_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
}

impl ServerArgs {
    pub(super) async fn connect(&self) -> anyhow::Result<Client> {
        let ca = match &self.ca_cert {
            Some(p) => Some(std::fs::read(p).map_err(io_err(p))?),
            None => None,
        };
        let token = self
            .token
            .clone()
            .resolve(|warning| eprintln!("warning: {warning}"))?;
        Ok(connect(&self.server, token.as_deref(), ca).await?)
    }
}

/// The bearer token, given directly or in a file: the client sends it, the server requires it
/// on every call but health.
#[derive(Debug, Clone, clap::Args)]
pub struct TokenArgs {
    /// Bearer token (the service requires it on every call but health).
    #[arg(
        long,
        env = "ZKATTR_TOKEN",
        hide_env_values = true,
        conflicts_with = "token_file"
    )]
    pub token: Option<String>,
    /// File holding the bearer token (one trailing newline is ignored).
    #[arg(long, env = "ZKATTR_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
}

impl TokenArgs {
    /// The token: read from `--token-file` (handing `warn` the warning about a world-readable
    /// file) or given by `--token`.
    pub fn resolve(self, warn: impl FnOnce(String)) -> Result<Option<String>, ClientError> {
        match self.token_file {
            Some(path) => {
                let file = read_token_file(&path)?;
                if file.world_readable {
                    warn(file.warning(&path));
                }
                Ok(Some(file.token))
            }
            None => Ok(self.token),
        }
    }
}

/// A bearer token read from a file.
#[derive(Debug)]
pub struct TokenFile {
    /// The file's text without its trailing line ending.
    pub token: String,
    /// Whether every user may read the file (Unix mode `o+r`).
    pub world_readable: bool,
}

impl TokenFile {
    /// The warning to give about a world-readable token file.
    pub fn warning(&self, path: &Path) -> String {
        format!(
            "the token file {} is readable by every user; make it private: chmod 600 {}",
            path.display(),
            path.display()
        )
    }
}

/// Reads a token file (`--token-file`): one trailing `\n` or `\r\n` is dropped; an empty token
/// is an error.
pub fn read_token_file(path: &Path) -> Result<TokenFile, ClientError> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    let text = String::from_utf8(bytes).map_err(|_| {
        ClientError::Protocol(format!("{}: the token is not UTF-8", path.display()))
    })?;
    let token = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(&text)
        .to_string();
    if token.is_empty() {
        return Err(ClientError::Protocol(format!(
            "{}: the token file is empty",
            path.display()
        )));
    }
    #[cfg(unix)]
    let world_readable = {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).map_err(io_err(path))?;
        meta.permissions().mode() & 0o004 != 0
    };
    #[cfg(not(unix))]
    let world_readable = false;
    Ok(TokenFile {
        token,
        world_readable,
    })
}
