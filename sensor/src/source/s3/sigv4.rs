//! AWS Signature Version 4 for S3 requests (header form, unsigned-payload-free GETs).
//!
//! Hand-written because the sensor only issues a handful of GET requests; the full AWS SDK
//! would add hundreds of crates. Reference: "Signature Version 4 signing process" (AWS docs).

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::time::Civil;

type HmacSha256 = Hmac<Sha256>;

/// SHA-256 of the empty payload (every request the reader sends has no body).
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Credentials and scope for signing.
#[derive(Clone)]
pub struct Signer {
    pub access_key: String,
    pub secret_key: String,
    pub region: String,
    /// Optional session token (`AWS_SESSION_TOKEN`), sent as `x-amz-security-token`.
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Signer {
    // Never print the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("access_key", &self.access_key)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

/// Percent-encodes `s` as SigV4 requires: everything but `A-Za-z0-9-._~` (and `/` when
/// `keep_slash`, for object key paths).
pub fn uri_encode(s: &str, keep_slash: bool, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        let unreserved = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
        if unreserved || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut m = <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    m.update(data);
    m.finalize().into_bytes().into()
}

/// `YYYYMMDDTHHMMSSZ` for seconds since the Unix epoch (UTC).
pub fn amz_date(unix_secs: u64) -> String {
    let c = Civil::from_unix(i64::try_from(unix_secs).unwrap_or(i64::MAX));
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

/// A request to sign: method, canonical (already encoded) path and query, host header value.
pub struct Request<'a> {
    pub method: &'a str,
    /// Encoded path, e.g. `/bucket/some%20key`.
    pub path: &'a str,
    /// Query parameters, unencoded; they are encoded and sorted here.
    pub query: &'a [(&'a str, &'a str)],
    /// Value of the `Host` header as sent (`host` or `host:port`).
    pub host: &'a str,
}

/// Headers to add to a signed request.
pub struct Signed {
    /// The encoded, sorted query string to put in the URL (same as the signed one).
    pub query: String,
    pub headers: Vec<(&'static str, String)>,
}

/// The query string as SigV4 canonicalises it: names and values encoded, sorted by name.
pub fn canonical_query(query: &[(&str, &str)]) -> String {
    let mut q: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| {
            let (mut ek, mut ev) = (String::new(), String::new());
            uri_encode(k, false, &mut ek);
            uri_encode(v, false, &mut ev);
            (ek, ev)
        })
        .collect();
    q.sort();
    let mut out = String::new();
    for (i, (k, v)) in q.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

impl Signer {
    /// Signs `req` at time `unix_secs`; the payload is empty.
    pub fn sign(&self, req: &Request<'_>, unix_secs: u64) -> Signed {
        let date = amz_date(unix_secs);
        let day = &date[..8];

        let query = canonical_query(req.query);

        // Canonical headers, sorted by lower-case name.
        let mut hdrs: Vec<(&'static str, String)> = vec![
            ("host", req.host.to_string()),
            ("x-amz-content-sha256", EMPTY_SHA256.to_string()),
            ("x-amz-date", date.clone()),
        ];
        if let Some(t) = &self.session_token {
            hdrs.push(("x-amz-security-token", t.clone()));
        }
        hdrs.sort_by(|a, b| a.0.cmp(b.0));
        let mut canon_headers = String::new();
        for (k, v) in &hdrs {
            canon_headers.push_str(k);
            canon_headers.push(':');
            canon_headers.push_str(v.trim());
            canon_headers.push('\n');
        }
        let signed_headers = hdrs.iter().map(|h| h.0).collect::<Vec<_>>().join(";");

        let canonical = format!(
            "{}\n{}\n{}\n{}\n{}\n{}",
            req.method, req.path, query, canon_headers, signed_headers, EMPTY_SHA256
        );
        let scope = format!("{day}/{}/s3/aws4_request", self.region);
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{date}\n{scope}\n{}",
            hex(&Sha256::digest(canonical.as_bytes()))
        );
        let k_date = hmac(
            format!("AWS4{}", self.secret_key).as_bytes(),
            day.as_bytes(),
        );
        let k_region = hmac(&k_date, self.region.as_bytes());
        let k_service = hmac(&k_region, b"s3");
        let k_signing = hmac(&k_service, b"aws4_request");
        let signature = hex(&hmac(&k_signing, to_sign.as_bytes()));

        let auth = format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
            self.access_key
        );
        // `host` is set by the HTTP client from the URL; everything else is added here.
        let mut headers: Vec<(&'static str, String)> =
            hdrs.into_iter().filter(|h| h.0 != "host").collect();
        headers.push(("authorization", auth));
        Signed { query, headers }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_civil_utc() {
        assert_eq!(amz_date(0), "19700101T000000Z");
        // 2013-05-24T00:00:00Z, the date of AWS's published S3 signing examples.
        assert_eq!(amz_date(1_369_353_600), "20130524T000000Z");
        assert_eq!(amz_date(951_782_400 + 86_399), "20000229T235959Z");
    }

    #[test]
    fn encoding_keeps_only_unreserved() {
        let mut s = String::new();
        uri_encode("a b/c~d+é", true, &mut s);
        assert_eq!(s, "a%20b/c~d%2B%C3%A9");
        s.clear();
        uri_encode("a/b", false, &mut s);
        assert_eq!(s, "a%2Fb");
    }

    /// AWS's published example "GET Object" (S3 API reference, "Signature Calculations for
    /// the Authorization Header"), adapted: that example signs a Range header too, so we use
    /// the "GET Bucket Lifecycle"/"List objects" examples, which sign exactly
    /// host, x-amz-content-sha256 and x-amz-date.
    #[test]
    fn aws_list_objects_example_signature() {
        let s = Signer {
            access_key: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            region: "us-east-1".into(),
            session_token: None,
        };
        let signed = s.sign(
            &Request {
                method: "GET",
                path: "/",
                query: &[("max-keys", "2"), ("prefix", "J")],
                host: "examplebucket.s3.amazonaws.com",
            },
            1_369_353_600,
        );
        assert_eq!(signed.query, "max-keys=2&prefix=J");
        let auth = &signed
            .headers
            .iter()
            .find(|h| h.0 == "authorization")
            .unwrap()
            .1;
        assert_eq!(
            auth,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;x-amz-content-sha256;x-amz-date, \
             Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
        );
    }

    #[test]
    fn aws_lifecycle_example_signature() {
        let s = Signer {
            access_key: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            region: "us-east-1".into(),
            session_token: None,
        };
        let signed = s.sign(
            &Request {
                method: "GET",
                path: "/",
                query: &[("lifecycle", "")],
                host: "examplebucket.s3.amazonaws.com",
            },
            1_369_353_600,
        );
        assert_eq!(signed.query, "lifecycle=");
        let auth = &signed
            .headers
            .iter()
            .find(|h| h.0 == "authorization")
            .unwrap()
            .1;
        assert!(
            auth.ends_with(
                "Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"
            ),
            "{auth}"
        );
    }
}
