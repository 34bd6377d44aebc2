//! The S3 source against a real S3-compatible server (moto) with authentication on.

use std::io::Read;

use sysflow_model::avro::Reader;
use sysflow_model::SysFlow;

use super::*;

use testkit::s3::{expected_keys, moto, Creds, Moto, TraceSpec};

fn source(m: &Moto, c: &Creds) -> S3Source {
    let port = m.port.to_string();
    S3Source::new(
        S3Config::resolve(
            &S3Options {
                endpoint: Some("127.0.0.1"),
                port: Some(&port),
                access_key: Some(&c.id),
                secret_key: Some(&c.secret),
                secure: Some(false),
            },
            |_| None,
        )
        .unwrap(),
    )
}

/// Reads one object through the Avro reader; checks it is the fixture trace `spec`.
fn check_trace(body: ObjectReader, spec: &TraceSpec) {
    let mut r = Reader::new(body).unwrap();
    let recs: Vec<SysFlow> = r.by_ref().map(|x| x.unwrap()).collect();
    match &recs[0] {
        SysFlow::Header(h) => assert_eq!(h.exporter, spec.exporter),
        other => panic!("first record is not a header: {other:?}"),
    }
    let pes = recs
        .iter()
        .filter(|r| matches!(r, SysFlow::ProcessEvent(e) if e.proc_oid.hpid == spec.pid))
        .count();
    assert_eq!(pes, spec.events);
    assert_eq!(recs.len(), 3 + spec.events + 1);
}

#[test]
fn lists_in_key_order_and_streams_every_trace() {
    let Some(m) = moto() else { return };
    let s = source(m, &m.analyst);
    let keys = s.list("traces", "").unwrap();
    let want = expected_keys("traces", "");
    assert_eq!(
        keys.iter().map(|k| k.key.as_str()).collect::<Vec<_>>(),
        want.iter().map(|w| w.0).collect::<Vec<_>>()
    );
    // Key order, not the digits order of local directories: "10.sf" < "2.sf".
    assert_eq!(keys[0].key, "node1/10.sf");
    for (k, (_, spec)) in keys.iter().zip(&want) {
        assert!(k.size > 0);
        check_trace(s.open(k).unwrap(), spec.as_ref().unwrap());
    }
    // A prefix restricts the listing.
    let keys = s.list("traces", "node2/").unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0].to_string(), "s3://traces/node2/1.sf");
}

#[test]
fn open_inputs_yields_names_in_order_and_non_traces_fail_in_the_reader() {
    let Some(m) = moto() else { return };
    let s = source(m, &m.analyst);
    let locs = vec!["traces/node1/".to_string(), "mixed".to_string()];
    let mut names = Vec::new();
    for (name, body) in open_inputs(&s, &locs) {
        let body = body.unwrap();
        let (bucket, key) = split_location(name.strip_prefix("s3://").unwrap());
        let spec = expected_keys(bucket, "")
            .into_iter()
            .find(|e| e.0 == key)
            .unwrap()
            .1;
        match spec {
            Some(spec) => check_trace(body, &spec),
            None => {
                let err = Reader::new(body).unwrap_err().to_string();
                assert!(!err.is_empty());
            }
        }
        names.push(name);
    }
    assert_eq!(
        names,
        [
            "s3://traces/node1/10.sf",
            "s3://traces/node1/2.sf",
            "s3://mixed/a.sf",
            "s3://mixed/b.txt",
            "s3://mixed/c.sf"
        ]
    );
}

#[test]
fn wrong_credentials_are_refused_with_the_bucket_named() {
    let Some(m) = moto() else { return };
    let bad_secret = Creds {
        id: m.analyst.id.clone(),
        secret: "not-the-secret".into(),
    };
    let e = source(m, &bad_secret).list("traces", "").unwrap_err();
    assert!(
        matches!(&e, S3Error::Denied { code, .. } if code == "SignatureDoesNotMatch"),
        "{e:?}"
    );
    assert!(
        e.to_string().starts_with("s3://traces/: access denied"),
        "{e}"
    );

    let unknown = Creds {
        id: "AKIAUNKNOWNKEY000000".into(),
        secret: "x".into(),
    };
    let e = source(m, &unknown).list("traces", "").unwrap_err();
    assert!(
        matches!(&e, S3Error::Denied { code, .. } if code == "InvalidAccessKeyId"),
        "{e:?}"
    );

    // A valid key without permission.
    let e = source(m, &m.nobody).list("traces", "").unwrap_err();
    assert!(
        matches!(&e, S3Error::Denied { code, .. } if code == "AccessDenied"),
        "{e:?}"
    );
    // Reading an object with a bad signature fails too, naming the object.
    let k = ObjectKey {
        bucket: "mixed".into(),
        key: "a.sf".into(),
        size: 0,
    };
    let e = source(m, &bad_secret).open(&k).err().unwrap();
    assert!(
        e.to_string().starts_with("s3://mixed/a.sf: access denied"),
        "{e}"
    );
}

#[test]
fn missing_bucket_and_key_are_named() {
    let Some(m) = moto() else { return };
    let s = source(m, &m.analyst);
    let e = s.list("no-such-bucket", "").unwrap_err();
    assert!(matches!(e, S3Error::NoSuchBucket { .. }), "{e:?}");
    assert_eq!(e.to_string(), "s3://no-such-bucket: bucket does not exist");
    let k = ObjectKey {
        bucket: "mixed".into(),
        key: "gone.sf".into(),
        size: 0,
    };
    let e = s.open(&k).err().unwrap();
    assert_eq!(e.to_string(), "s3://mixed/gone.sf: object does not exist");
    // open_inputs reports the unlistable location and goes on with the next one.
    let locs = vec!["no-such-bucket".to_string(), "mixed/c".to_string()];
    let items: Vec<_> = open_inputs(&s, &locs).collect();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].0, "s3://no-such-bucket");
    assert!(items[0].1.is_err());
    assert_eq!(items[1].0, "s3://mixed/c.sf");
}

#[test]
fn environment_credentials_work() {
    let Some(m) = moto() else { return };
    let (ep, id, secret) = (
        m.endpoint.clone(),
        m.analyst.id.clone(),
        m.analyst.secret.clone(),
    );
    let cfg = S3Config::resolve(&S3Options::default(), |k| match k {
        "AWS_ENDPOINT_URL" => Some(ep.clone()),
        "AWS_ACCESS_KEY_ID" => Some(id.clone()),
        "AWS_SECRET_ACCESS_KEY" => Some(secret.clone()),
        _ => None,
    })
    .unwrap();
    let s = S3Source::new(cfg);
    let k = &s.list("mixed", "a").unwrap()[0];
    let mut body = Vec::new();
    s.open(k).unwrap().read_to_end(&mut body).unwrap();
    assert_eq!(body.len() as u64, k.size);
}

#[test]
fn unreachable_endpoint_is_a_transport_error() {
    // A port nobody listens on (bound then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let s = S3Source::new(
        S3Config::resolve(
            &S3Options {
                endpoint: Some("127.0.0.1"),
                port: Some(&port),
                secure: Some(false),
                ..Default::default()
            },
            |_| None,
        )
        .unwrap(),
    );
    let e = s.list("b", "").unwrap_err();
    assert!(matches!(e, S3Error::Transport { .. }), "{e:?}");
    assert!(
        e.to_string()
            .starts_with(&format!("s3://b/: cannot reach http://127.0.0.1:{port}")),
        "{e}"
    );
}
