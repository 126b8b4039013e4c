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
    pub fn new(token: Option<String>) -> Self {
        BearerAuth {
            token: token.filter(|t| !t.is_empty()).map(String::into_bytes),
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl tonic::service::Interceptor for BearerAuth {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let Some(expected) = &self.token else {
            return Ok(request);
        };
        let given = request.metadata().get("authorization").ok_or_else(|| {
            Status::unauthenticated("missing bearer token (authorization: Bearer TOKEN)")
        })?;
        let given = given.as_bytes().strip_prefix(b"Bearer ").ok_or_else(|| {
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
}
