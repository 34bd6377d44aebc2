//! Trace objects from an S3-compatible object store (`sensor print -i s3`).
//!
//! sysprint downloads every object of a bucket to a temporary directory first; here each
//! object body is streamed straight into the Avro reader, one object at a time, in key
//! order. Requests are path-style (`/bucket/key`, what MinIO and other self-hosted stores
//! expect) and signed with SigV4 ([`sigv4`]) over a blocking HTTP client (ureq, rustls for
//! `--secure`).

pub mod sigv4;
mod xml;

use std::fmt;
use std::io::Read;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sigv4::{Request, Signer};

/// Limit on an error or listing document read into memory.
const MAX_DOC_BYTES: u64 = 16 << 20;
/// Keys per listing page requested (the S3 maximum).
const PAGE_KEYS: &str = "1000";

/// What can go wrong talking to the object store. Every variant names the bucket (and the
/// key when there is one) so that a multi-bucket run says which input failed.
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    /// Missing or contradictory settings (flags and AWS_* environment variables).
    #[error("S3 configuration: {0}")]
    Config(String),
    /// The server could not be reached or the transfer broke.
    #[error("{target}: cannot reach {endpoint}: {source}")]
    Transport {
        target: String,
        endpoint: String,
        #[source]
        source: Box<ureq::Error>,
    },
    /// The credentials were refused (unknown key, bad signature, no permission).
    #[error("{target}: access denied ({code}): {message}; check the access key and secret (-a/-s or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)")]
    Denied {
        target: String,
        code: String,
        message: String,
    },
    /// The bucket does not exist.
    #[error("s3://{bucket}: bucket does not exist")]
    NoSuchBucket { bucket: String },
    /// The object does not exist (deleted between listing and reading).
    #[error("{target}: object does not exist")]
    NoSuchKey { target: String },
    /// Any other error status.
    #[error("{target}: HTTP {status} {code}: {message}")]
    Status {
        target: String,
        status: u16,
        code: String,
        message: String,
    },
    /// The listing response could not be understood.
    #[error("s3://{bucket}: bad listing response: {detail}")]
    BadListing { bucket: String, detail: String },
}

/// Where the object store is and how to authenticate.
#[derive(Debug, Clone)]
pub struct S3Config {
    pub secure: bool,
    pub host: String,
    pub port: u16,
    /// `None`: anonymous (unsigned) requests.
    pub signer: Option<Signer>,
}

/// Settings given on the command line (sysprint's `-e -p -a -s --secure`); each falls back
/// to the standard AWS environment variable.
#[derive(Debug, Clone, Default)]
pub struct S3Options<'a> {
    /// `-e`: host, `host:port` or a URL (`http://host:port`).
    pub endpoint: Option<&'a str>,
    /// `-p`.
    pub port: Option<&'a str>,
    /// `-a`.
    pub access_key: Option<&'a str>,
    /// `-s`.
    pub secret_key: Option<&'a str>,
    /// `--secure [BOOL]`.
    pub secure: Option<bool>,
}

/// sysprint's `str2bool` for `--secure VALUE`.
pub fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "yes" | "true" | "t" | "y" | "1" => Some(true),
        "no" | "false" | "f" | "n" | "0" => Some(false),
        _ => None,
    }
}

impl S3Config {
    /// Resolves flags over environment variables (`env` is `std::env::var` in production).
    ///
    /// Endpoint: `-e`, else `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL`, else AWS itself
    /// (`s3.<region>.amazonaws.com`). TLS: `--secure` if given, else the endpoint's scheme,
    /// else on (sysprint's default). Port: `-p`, else the endpoint's, else 443/80 by TLS.
    /// Region: `AWS_REGION`, `AWS_DEFAULT_REGION`, `us-east-1`.
    pub fn resolve(
        opts: &S3Options<'_>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<S3Config, S3Error> {
        let env = |k: &str| env(k).filter(|v| !v.is_empty());
        let region = env("AWS_REGION")
            .or_else(|| env("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| "us-east-1".to_string());
        let endpoint = match opts.endpoint {
            Some(e) => e.to_string(),
            None => env("AWS_ENDPOINT_URL_S3")
                .or_else(|| env("AWS_ENDPOINT_URL"))
                .unwrap_or_else(|| format!("https://s3.{region}.amazonaws.com")),
        };
        let (scheme, rest) = match endpoint.split_once("://") {
            Some((s, r)) => (Some(s.to_ascii_lowercase()), r),
            None => (None, endpoint.as_str()),
        };
        let scheme_secure = match scheme.as_deref() {
            None => None,
            Some("https") => Some(true),
            Some("http") => Some(false),
            Some(s) => {
                return Err(S3Error::Config(format!(
                    "endpoint {endpoint:?}: scheme {s:?} is not http or https"
                )))
            }
        };
        let authority = rest.trim_end_matches('/');
        if authority.is_empty() || authority.contains('/') {
            return Err(S3Error::Config(format!(
                "endpoint {endpoint:?}: expected HOST, HOST:PORT or http(s)://HOST[:PORT]"
            )));
        }
        let (host, url_port) = split_host_port(authority)
            .map_err(|e| S3Error::Config(format!("endpoint {endpoint:?}: {e}")))?;
        let secure = opts.secure.or(scheme_secure).unwrap_or(true);
        let port = match opts.port {
            Some(p) => p
                .trim()
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| S3Error::Config(format!("port {p:?} is not a TCP port number")))?,
            None => url_port.unwrap_or(if secure { 443 } else { 80 }),
        };
        let access = opts
            .access_key
            .map(str::to_string)
            .or_else(|| env("AWS_ACCESS_KEY_ID"));
        let secret = opts
            .secret_key
            .map(str::to_string)
            .or_else(|| env("AWS_SECRET_ACCESS_KEY"));
        let signer = match (access, secret) {
            (Some(access_key), Some(secret_key)) => Some(Signer {
                access_key,
                secret_key,
                region,
                session_token: env("AWS_SESSION_TOKEN"),
            }),
            (None, None) => None,
            (Some(_), None) => {
                return Err(S3Error::Config(
                    "access key given without a secret key (-s or AWS_SECRET_ACCESS_KEY)".into(),
                ))
            }
            (None, Some(_)) => {
                return Err(S3Error::Config(
                    "secret key given without an access key (-a or AWS_ACCESS_KEY_ID)".into(),
                ))
            }
        };
        Ok(S3Config {
            secure,
            host: host.to_string(),
            port,
            signer,
        })
    }

    /// `http(s)://host:port`.
    pub fn base_url(&self) -> String {
        format!(
            "{}://{}:{}",
            if self.secure { "https" } else { "http" },
            self.host_header(),
            self.port
        )
    }

    /// The host part as it appears in a URL (IPv6 in brackets).
    fn host_header(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }
}

fn split_host_port(a: &str) -> Result<(&str, Option<u16>), String> {
    let (host, port) = if let Some(r) = a.strip_prefix('[') {
        let (h, after) = r.split_once(']').ok_or("unclosed '[' in IPv6 address")?;
        match after.strip_prefix(':') {
            Some(p) => (h, Some(p)),
            None if after.is_empty() => (h, None),
            None => return Err("unexpected text after IPv6 address".into()),
        }
    } else {
        match a.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (a, None),
        }
    };
    if host.is_empty() {
        return Err("empty host".into());
    }
    let port = match port {
        Some(p) => Some(
            p.parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| format!("port {p:?} is not a TCP port number"))?,
        ),
        None => None,
    };
    Ok((host, port))
}

/// One object of a bucket.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ObjectKey {
    pub bucket: String,
    pub key: String,
    /// Size from the listing, in bytes.
    pub size: u64,
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// A body being streamed from the store.
pub type ObjectReader = Box<dyn Read + Send>;

/// A connection to one object store.
pub struct S3Source {
    cfg: S3Config,
    base: String,
    /// `Host` header value as the client sends it (always with the port).
    host: String,
    agent: ureq::Agent,
}

impl fmt::Debug for S3Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Source")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl S3Source {
    /// A client for `cfg` (no request is made yet).
    pub fn new(cfg: S3Config) -> S3Source {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            // Error statuses carry an S3 error document we want to read.
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            // A stalled body fails instead of hanging; the whole body may take as long as it
            // needs.
            .timeout_per_read(Some(Duration::from_secs(120)))
            .max_redirects(0)
            .build()
            .into();
        S3Source {
            base: cfg.base_url(),
            host: format!("{}:{}", cfg.host_header(), cfg.port),
            cfg,
            agent,
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &S3Config {
        &self.cfg
    }

    /// Sends a signed GET of `path` (already encoded) with `query`; `target` names the
    /// resource in errors. Returns the response of a 2xx status.
    fn get(
        &self,
        bucket: &str,
        target: &str,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<ureq::http::Response<ureq::Body>, S3Error> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let req_desc = Request {
            method: "GET",
            path,
            query,
            host: &self.host,
        };
        let (query_str, headers) = match &self.cfg.signer {
            Some(s) => {
                let signed = s.sign(&req_desc, now);
                (signed.query, signed.headers)
            }
            None => (sigv4::canonical_query(query), Vec::new()),
        };
        let mut url = String::with_capacity(self.base.len() + path.len() + query_str.len() + 1);
        url.push_str(&self.base);
        url.push_str(path);
        if !query_str.is_empty() {
            url.push('?');
            url.push_str(&query_str);
        }
        let mut req = self.agent.get(&url).header("host", &self.host);
        for (k, v) in &headers {
            req = req.header(*k, v);
        }
        let resp = req.call().map_err(|e| S3Error::Transport {
            target: target.to_string(),
            endpoint: self.base.clone(),
            source: Box::new(e),
        })?;
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(resp);
        }
        let doc = resp
            .into_body()
            .into_with_config()
            .limit(MAX_DOC_BYTES)
            .read_to_string()
            .unwrap_or_default();
        let code = xml::first(&doc, "Code").unwrap_or_default();
        let message = xml::first(&doc, "Message").unwrap_or_default();
        Err(match (status, code.as_str()) {
            (404, "NoSuchBucket") => S3Error::NoSuchBucket {
                bucket: bucket.to_string(),
            },
            (404, "NoSuchKey") => S3Error::NoSuchKey {
                target: target.to_string(),
            },
            (
                400 | 401 | 403,
                "InvalidAccessKeyId"
                | "SignatureDoesNotMatch"
                | "AccessDenied"
                | "AuthorizationHeaderMalformed"
                | "InvalidToken"
                | "ExpiredToken"
                | "RequestTimeTooSkewed"
                | "",
            ) if status != 400 || !code.is_empty() => S3Error::Denied {
                target: target.to_string(),
                code: if code.is_empty() {
                    format!("HTTP {status}")
                } else {
                    code
                },
                message,
            },
            _ => S3Error::Status {
                target: target.to_string(),
                status,
                code,
                message,
            },
        })
    }

    /// Every object under `prefix` in `bucket`, in key order (S3 lists in UTF-8 binary
    /// order; sorted again here so any store gives the same order). "Folder" placeholder
    /// objects (keys ending in `/`) are skipped.
    pub fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<ObjectKey>, S3Error> {
        let mut path = String::from("/");
        sigv4::uri_encode(bucket, false, &mut path);
        let target = format!("s3://{bucket}/{prefix}");
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut q: Vec<(&str, &str)> = vec![("list-type", "2"), ("max-keys", PAGE_KEYS)];
            if !prefix.is_empty() {
                q.push(("prefix", prefix));
            }
            if let Some(t) = &token {
                q.push(("continuation-token", t));
            }
            let doc = self
                .get(bucket, &target, &path, &q)?
                .into_body()
                .into_with_config()
                .limit(MAX_DOC_BYTES)
                .read_to_string()
                .map_err(|e| S3Error::Transport {
                    target: target.clone(),
                    endpoint: self.base.clone(),
                    source: Box::new(e),
                })?;
            if !doc.contains("<ListBucketResult") {
                return Err(S3Error::BadListing {
                    bucket: bucket.to_string(),
                    detail: "no <ListBucketResult> element".into(),
                });
            }
            for contents in xml::all(&doc, "Contents") {
                let Some(key) = xml::first(contents, "Key") else {
                    return Err(S3Error::BadListing {
                        bucket: bucket.to_string(),
                        detail: "<Contents> without <Key>".into(),
                    });
                };
                let size = xml::first(contents, "Size")
                    .and_then(|s| s.trim().parse().ok())
                    .unwrap_or(0);
                if key.ends_with('/') && size == 0 {
                    continue;
                }
                keys.push(ObjectKey {
                    bucket: bucket.to_string(),
                    key,
                    size,
                });
            }
            let truncated = xml::first(&doc, "IsTruncated").is_some_and(|t| t.trim() == "true");
            if !truncated {
                break;
            }
            let next = xml::first(&doc, "NextContinuationToken");
            if next.is_none() || next == token {
                return Err(S3Error::BadListing {
                    bucket: bucket.to_string(),
                    detail: "truncated listing without a new continuation token".into(),
                });
            }
            token = next;
        }
        keys.sort();
        Ok(keys)
    }

    /// Streams the body of one object.
    pub fn open(&self, obj: &ObjectKey) -> Result<ObjectReader, S3Error> {
        let mut path = String::from("/");
        sigv4::uri_encode(&obj.bucket, false, &mut path);
        path.push('/');
        sigv4::uri_encode(&obj.key, true, &mut path);
        let resp = self.get(&obj.bucket, &obj.to_string(), &path, &[])?;
        Ok(Box::new(resp.into_body().into_reader()))
    }
}

/// `bucket` or `bucket/prefix` (an `s3://` scheme is accepted and ignored).
pub fn split_location(loc: &str) -> (&str, &str) {
    let loc = loc.strip_prefix("s3://").unwrap_or(loc);
    loc.split_once('/').unwrap_or((loc, ""))
}

/// Every trace object of every location (`bucket` or `bucket/prefix`), in order: locations
/// as given, objects in key order. Items are `(name, body)`; bodies are opened lazily, one
/// at a time, when the iterator reaches them. A location that cannot be listed yields one
/// item with its error.
pub fn open_inputs<'a>(
    src: &'a S3Source,
    locations: &'a [String],
) -> impl Iterator<Item = (String, Result<ObjectReader, S3Error>)> + 'a {
    locations.iter().flat_map(move |loc| {
        let (bucket, prefix) = split_location(loc);
        let items: Box<dyn Iterator<Item = (String, Result<ObjectReader, S3Error>)> + 'a> =
            match src.list(bucket, prefix) {
                Ok(keys) => Box::new(keys.into_iter().map(move |k| (k.to_string(), src.open(&k)))),
                Err(e) => Box::new(std::iter::once((format!("s3://{loc}"), Err(e)))),
            };
        items
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| pairs.iter().find(|p| p.0 == k).map(|p| p.1.to_string())
    }

    #[test]
    fn flags_win_over_environment() {
        let c = S3Config::resolve(
            &S3Options {
                endpoint: Some("127.0.0.1"),
                port: Some("9000"),
                access_key: Some("ak"),
                secret_key: Some("sk"),
                secure: Some(false),
            },
            env_of(&[
                ("AWS_ENDPOINT_URL", "https://other:1"),
                ("AWS_ACCESS_KEY_ID", "envak"),
                ("AWS_SECRET_ACCESS_KEY", "envsk"),
                ("AWS_REGION", "eu-west-1"),
            ]),
        )
        .unwrap();
        assert_eq!(c.base_url(), "http://127.0.0.1:9000");
        let s = c.signer.unwrap();
        assert_eq!(
            (s.access_key.as_str(), s.region.as_str()),
            ("ak", "eu-west-1")
        );
    }

    #[test]
    fn environment_alone_is_enough() {
        let c = S3Config::resolve(
            &S3Options::default(),
            env_of(&[
                ("AWS_ENDPOINT_URL", "http://localhost:5000/"),
                ("AWS_ACCESS_KEY_ID", "a"),
                ("AWS_SECRET_ACCESS_KEY", "b"),
            ]),
        )
        .unwrap();
        assert_eq!(c.base_url(), "http://localhost:5000");
        assert_eq!(c.signer.unwrap().region, "us-east-1");
        // sysprint's defaults: TLS on, port 443.
        let c = S3Config::resolve(
            &S3Options {
                endpoint: Some("minio.local"),
                ..Default::default()
            },
            env_of(&[]),
        )
        .unwrap();
        assert_eq!(c.base_url(), "https://minio.local:443");
        assert!(c.signer.is_none());
        let c = S3Config::resolve(
            &S3Options::default(),
            env_of(&[("AWS_REGION", "ap-south-1")]),
        )
        .unwrap();
        assert_eq!(c.base_url(), "https://s3.ap-south-1.amazonaws.com:443");
        let c = S3Config::resolve(
            &S3Options {
                endpoint: Some("[::1]:9000"),
                secure: Some(false),
                ..Default::default()
            },
            env_of(&[]),
        )
        .unwrap();
        assert_eq!(c.base_url(), "http://[::1]:9000");
    }

    #[test]
    fn bad_settings_are_named() {
        let err =
            |o: S3Options<'static>| S3Config::resolve(&o, env_of(&[])).unwrap_err().to_string();
        assert!(err(S3Options {
            endpoint: Some("ftp://x"),
            ..Default::default()
        })
        .contains("scheme \"ftp\""));
        assert!(err(S3Options {
            endpoint: Some("x"),
            port: Some("http"),
            ..Default::default()
        })
        .contains("port \"http\""));
        assert!(err(S3Options {
            endpoint: Some("x"),
            access_key: Some("a"),
            ..Default::default()
        })
        .contains("without a secret key"));
        assert!(err(S3Options {
            endpoint: Some("http://x/y"),
            ..Default::default()
        })
        .contains("expected HOST"));
    }

    #[test]
    fn locations_split_bucket_and_prefix() {
        assert_eq!(split_location("b"), ("b", ""));
        assert_eq!(split_location("b/p/q"), ("b", "p/q"));
        assert_eq!(split_location("s3://b/p"), ("b", "p"));
    }

    #[test]
    fn secure_values_follow_str2bool() {
        assert_eq!(parse_bool("False"), Some(false));
        assert_eq!(parse_bool("y"), Some(true));
        assert_eq!(parse_bool("maybe"), None);
    }
}

#[cfg(test)]
mod moto_tests;
