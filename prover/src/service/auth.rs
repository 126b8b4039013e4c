//! Bearer-token authentication: an interceptor that refuses calls without
//! `authorization: Bearer TOKEN` with UNAUTHENTICATED. The health service is not wrapped.

use tonic::{Request, Status};

/// The server side: checks the token (in constant time) when one is configured.
#[derive(Clone)]
pub struct BearerAuth {
    token: Option<Vec<u8>>,
}

impl std::fmt::Debug for BearerAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BearerAuth")
            .field("enabled", &self.token.is_some())
            .finish()
    }
}

impl BearerAuth {
    /// Checks `token` when it is `Some` and not empty; otherwise lets every call through.
    pub fn new(token: Option<String>) -> Self {
        BearerAuth {
            token: token.filter(|t| !t.is_empty()).map(String::into_bytes),
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The credentials of an `authorization` value whose scheme is `Bearer`, in any case (RFC 7235
/// makes the scheme case-insensitive), followed by one or more spaces.
fn bearer_credentials(value: &[u8]) -> Option<&[u8]> {
    let (scheme, rest) = value.split_at_checked(6)?;
    if !scheme.eq_ignore_ascii_case(b"bearer") || rest.first() != Some(&b' ') {
        return None;
    }
    let start = rest.iter().position(|&b| b != b' ')?;
    Some(&rest[start..])
}

impl tonic::service::Interceptor for BearerAuth {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let Some(expected) = &self.token else {
            return Ok(request);
        };
        let given = request.metadata().get("authorization").ok_or_else(|| {
            Status::unauthenticated("missing bearer token (authorization: Bearer TOKEN)")
        })?;
        let given = bearer_credentials(given.as_bytes()).ok_or_else(|| {
            Status::unauthenticated("the authorization header is not a bearer token")
        })?;
        if constant_time_eq(given, expected) {
            Ok(request)
        } else {
            Err(Status::unauthenticated("wrong bearer token"))
        }
    }
}

/// The client side: adds the token to every call when one is given.
#[derive(Clone, Debug, Default)]
pub struct BearerToken {
    header: Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>,
}

impl BearerToken {
    /// Fails if the token has characters a header cannot carry.
    pub fn new(token: Option<&str>) -> Result<Self, Status> {
        let header = match token.filter(|t| !t.is_empty()) {
            None => None,
            Some(t) => Some(format!("Bearer {t}").parse().map_err(|_| {
                Status::invalid_argument("the token has characters a header cannot carry")
            })?),
        };
        Ok(BearerToken { header })
    }
}

impl tonic::service::Interceptor for BearerToken {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(h) = &self.header {
            request.metadata_mut().insert("authorization", h.clone());
        }
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::service::Interceptor;

    #[test]
    fn refuses_missing_and_wrong_tokens() {
        let mut auth = BearerAuth::new(Some("s3cret".into()));
        assert_eq!(
            auth.call(Request::new(())).map_err(|s| s.code()).err(),
            Some(tonic::Code::Unauthenticated)
        );
        for (token, ok) in [("s3cret", true), ("s3cre", false), ("s3cretx", false)] {
            let mut client = BearerToken::new(Some(token)).unwrap_or_default();
            let request = client.call(Request::new(())).map_err(|s| s.code());
            let checked = request.and_then(|r| auth.call(r).map_err(|s| s.code()));
            assert_eq!(checked.is_ok(), ok, "token {token}");
        }
        let mut open = BearerAuth::new(None);
        assert!(open.call(Request::new(())).is_ok());
    }

    #[test]
    fn the_scheme_is_case_insensitive() {
        let mut auth = BearerAuth::new(Some("s3cret".into()));
        let call = |auth: &mut BearerAuth, value: &str| {
            let mut request = Request::new(());
            let value = value.parse().map_err(|_| tonic::Code::Internal)?;
            request.metadata_mut().insert("authorization", value);
            auth.call(request).map(|_| ()).map_err(|s| s.code())
        };
        for value in [
            "Bearer s3cret",
            "bearer s3cret",
            "BEARER s3cret",
            "bEaReR  s3cret",
        ] {
            assert_eq!(call(&mut auth, value), Ok(()), "{value}");
        }
        for value in [
            "Bearers3cret",
            "Basic s3cret",
            "Bearer",
            "Bearer ",
            "bearer s3cre",
        ] {
            assert_eq!(
                call(&mut auth, value),
                Err(tonic::Code::Unauthenticated),
                "{value}"
            );
        }
    }
}
