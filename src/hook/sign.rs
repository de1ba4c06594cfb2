//! The `X-Scriptd-Signature: t=UNIX,v1=HEX` header: HEX is HMAC-SHA256
//! with the hook's secret over `t`, a dot and the exact body bytes. The
//! timestamp is signed too, so a receiver that refuses old `t` values
//! cannot be fed a recorded delivery again.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Why a signature header does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The header is not `t=UNIX,v1=HEX`.
    #[error("malformed signature header")]
    Malformed,
    /// `t` is further from now than the tolerance.
    #[error("signature timestamp outside the tolerance")]
    Stale,
    /// No `v1` value matches the body and the secret.
    #[error("signature does not match")]
    Mismatch,
    /// The MAC refused the key (HMAC takes keys of any length, so this
    /// is the `hmac` crate's error type, never seen in practice).
    #[error("the signing key was refused")]
    Key,
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> Result<HmacSha256, SignatureError> {
    let mut mac = HmacSha256::new_from_slice(secret).map_err(|_| SignatureError::Key)?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(mac)
}

/// The header value for `body` sent at `timestamp` (UNIX seconds).
pub fn header(secret: &[u8], timestamp: i64, body: &[u8]) -> Result<String, SignatureError> {
    let tag = mac(secret, timestamp, body)?.finalize().into_bytes();
    Ok(format!("t={timestamp},v1={}", hex::encode(tag)))
}

/// Checks a header as a receiver should: every `v1` value is tried (in
/// constant time each), and `t` must be within `tolerance_secs` of `now`.
pub fn verify(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut tags = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", tag)) => {
                tags.push(hex::decode(tag).map_err(|_| SignatureError::Malformed)?)
            }
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if tags.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if now.abs_diff(timestamp) > tolerance_secs.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    let expected = mac(secret, timestamp, body)?;
    if tags
        .iter()
        .any(|tag| expected.clone().verify_slice(tag).is_ok())
    {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_hmac_sha256_over_t_dot_body() {
        // Computed independently: printf '1700000000.{"a":1}' |
        //   openssl dgst -sha256 -hmac whsec_test
        let got = header(b"whsec_test", 1_700_000_000, br#"{"a":1}"#);
        assert_eq!(
            got.as_deref(),
            Ok("t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789")
        );
    }

    #[test]
    fn a_signed_body_verifies_and_a_changed_one_does_not() {
        let (secret, body, t) = (b"s3cret".as_slice(), b"{\"run\":1}".as_slice(), 1_000);
        let h = header(secret, t, body).expect("signed");
        assert_eq!(verify(secret, &h, body, t + 10, 300), Ok(()));
        type Case<'a> = (&'a str, &'a [u8], &'a [u8], i64, SignatureError);
        let cases: [Case; 4] = [
            (
                "other body",
                secret,
                b"{\"run\":2}",
                t,
                SignatureError::Mismatch,
            ),
            ("other secret", b"s3cres", body, t, SignatureError::Mismatch),
            ("too old", secret, body, t + 301, SignatureError::Stale),
            (
                "from the future",
                secret,
                body,
                t - 301,
                SignatureError::Stale,
            ),
        ];
        for (what, secret, body, now, want) in cases {
            assert_eq!(verify(secret, &h, body, now, 300), Err(want), "{what}");
        }
    }

    #[test]
    fn malformed_headers_are_refused() {
        for bad in ["", "t=1", "v1=00", "t=x,v1=00", "t=1,v1=zz"] {
            assert_eq!(
                verify(b"k", bad, b"", 1, 300),
                Err(SignatureError::Malformed),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn any_of_several_v1_values_may_match() {
        let h = header(b"new", 5, b"x").expect("signed");
        let rotated = format!("{h},v1={}", "00".repeat(32));
        assert_eq!(verify(b"new", &rotated, b"x", 5, 0), Ok(()));
    }
}
