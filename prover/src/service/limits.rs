//! Bounds on the strings a request carries, checked before any lookup: a value of the wrong
//! length or alphabet is refused with INVALID_ARGUMENT quoting at most [`QUOTED_CHARS`]
//! characters of it, so a 10 KB id never travels back in an error.

use tonic::Status;

/// Longest job id accepted (the service's own ids are `job-` and 32 hex digits).
pub const MAX_JOB_ID: usize = 64;
/// Longest circuit shape name accepted.
pub const MAX_SHAPE: usize = 64;
/// Longest part id accepted: `sha256:` and 64 hex digits.
pub const MAX_PART_ID: usize = 7 + 64;
/// Longest page token accepted: an i64 in decimal.
pub const MAX_PAGE_TOKEN: usize = 19;
/// Characters of a refused value quoted in the error.
pub const QUOTED_CHARS: usize = 16;

/// A short, escaped prefix of `value` for an error message.
pub fn quote(value: &str) -> String {
    let mut chars = value.chars();
    let head: String = chars.by_ref().take(QUOTED_CHARS).collect();
    if chars.next().is_some() {
        format!("{head:?}...")
    } else {
        format!("{head:?}")
    }
}

/// Checks `value` of request field `field`: not empty, at most `max` bytes, every byte
/// accepted by `allowed`.
fn check(field: &str, value: &str, max: usize, allowed: impl Fn(u8) -> bool) -> Result<(), Status> {
    if value.is_empty() {
        return Err(Status::invalid_argument(format!("{field} is empty")));
    }
    if value.len() > max {
        return Err(Status::invalid_argument(format!(
            "{field} {} is {} bytes long; at most {max} are accepted",
            quote(value),
            value.len()
        )));
    }
    if !value.bytes().all(allowed) {
        return Err(Status::invalid_argument(format!(
            "{field} {} has characters outside the accepted set",
            quote(value)
        )));
    }
    Ok(())
}

fn id_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// A job id: 1 to [`MAX_JOB_ID`] ASCII letters, digits, `-` or `_`.
pub fn job_id(value: &str) -> Result<(), Status> {
    check("job_id", value, MAX_JOB_ID, id_byte)
}

/// A shape name: 1 to [`MAX_SHAPE`] ASCII letters, digits, `-` or `_` (empty is checked by
/// the caller, where it means "from the query count").
pub fn shape(value: &str) -> Result<(), Status> {
    check("shape", value, MAX_SHAPE, id_byte)
}

/// A part id: `sha256:` (optional) and hex digits, at most [`MAX_PART_ID`] bytes.
pub fn part_id(value: &str) -> Result<(), Status> {
    check("part_id", value, MAX_PART_ID, |b| {
        b.is_ascii_alphanumeric() || b == b':'
    })
}

/// A page token: the decimal sequence number a previous page gave.
pub fn page_token(value: &str) -> Result<i64, Status> {
    check("page_token", value, MAX_PAGE_TOKEN, |b| b.is_ascii_digit())?;
    value.parse::<i64>().map_err(|_| {
        Status::invalid_argument(format!("page_token {} is out of range", quote(value)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;

    #[test]
    fn long_and_foreign_values_are_refused_with_a_short_quote() {
        let long = "a".repeat(10_000);
        for result in [
            job_id(&long),
            shape(&long),
            part_id(&long),
            page_token(&"1".repeat(10_000)).map(|_| ()),
        ] {
            let status = result.expect_err("refused");
            assert_eq!(status.code(), Code::InvalidArgument);
            assert!(status.message().len() < 120, "{}", status.message());
        }
        for bad in ["jöb", "job/../x", "job id", ""] {
            assert_eq!(
                job_id(bad).expect_err(bad).code(),
                Code::InvalidArgument,
                "{bad}"
            );
        }
        assert!(job_id("job-0123456789abcdef0123456789abcdef").is_ok());
        assert!(shape("agg-b4-t2-p8").is_ok());
        assert_eq!(page_token("42").ok(), Some(42));
        assert!(page_token("99999999999999999999").is_err());
        assert_eq!(quote(&"x".repeat(40)), format!("{:?}...", "x".repeat(16)));
    }
}
