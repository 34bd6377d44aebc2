//! `sensor print -i s3` against a real S3-compatible server (moto, authentication on):
//! the records of every object in key order, the same output as for the local copies and
//! as the real sysprint, credentials from flags or AWS_* variables, and clear errors.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use testkit::s3::{expected_keys, moto, Creds, Moto};
use testkit::sysprint_or_skip;

use super::sensor;

const AWS_VARS: &[&str] = &[
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
];

fn cmd(prog: PathBuf) -> Command {
    let mut c = Command::new(prog);
    c.env("TZ", "UTC").stdin(Stdio::null());
    for v in AWS_VARS {
        c.env_remove(v);
    }
    c
}

/// `sensor print -i s3` with sysprint's flags for `creds`, then `extra`.
fn print_s3(m: &Moto, creds: &Creds, extra: &[&str]) -> Output {
    let port = m.port.to_string();
    let mut c = cmd(sensor());
    c.args(["print", "-i", "s3", "-e", "127.0.0.1", "-p", &port])
        .args(["-a", &creds.id, "-s", &creds.secret, "--secure", "false"])
        .args(extra);
    c.output().expect("run sensor")
}

/// `sensor print` of the local fixture copies of `bucket/prefix`, in key order.
fn print_local(m: &Moto, bucket: &str, prefix: &str, extra: &[&str]) -> Output {
    let files: Vec<PathBuf> = expected_keys(bucket, prefix)
        .iter()
        .map(|(k, _)| m.fixtures.join(bucket).join(k))
        .collect();
    let mut c = cmd(sensor());
    c.arg("print")
        .args(extra)
        .args(files.iter().map(|p| p.as_os_str()));
    c.output().expect("run sensor")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn bucket_prints_like_its_local_copies_in_key_order() {
    let Some(m) = moto() else { return };
    for fmt in ["json", "str"] {
        let s3 = print_s3(m, &m.analyst, &["-o", fmt, "traces"]);
        assert!(s3.status.success(), "{}", text(&s3.stderr));
        let local = print_local(m, "traces", "", &["-o", fmt]);
        assert!(local.status.success(), "{}", text(&local.stderr));
        assert!(!s3.stdout.is_empty());
        assert_eq!(text(&s3.stdout), text(&local.stdout), "-o {fmt}");
    }
    // Records come in key order: node1/10.sf (pid 110) before node1/2.sf (pid 12).
    let out = text(&print_s3(m, &m.analyst, &["-o", "json", "traces/node1/"]).stdout);
    let pids: Vec<i64> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["proc"]["pid"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(pids.len(), 5 + 1 + 3 + 1);
    assert_eq!(pids.first(), Some(&110));
    assert_eq!(pids.last(), Some(&12));
}

#[test]
fn same_output_as_the_real_sysprint_on_s3() {
    let Some(m) = moto() else { return };
    let Some(sysprint) = sysprint_or_skip() else {
        return;
    };
    let port = m.port.to_string();
    let mut c = cmd(sysprint);
    c.args(["-i", "s3", "-e", "127.0.0.1", "-p", &port])
        .args([
            "-a",
            &m.analyst.id,
            "-s",
            &m.analyst.secret,
            "--secure",
            "false",
        ])
        .args(["-o", "json", "flat"]);
    let theirs = c.output().expect("run sysprint");
    assert!(theirs.status.success(), "{}", text(&theirs.stderr));
    let ours = print_s3(m, &m.analyst, &["-o", "json", "flat"]);
    assert!(ours.status.success(), "{}", text(&ours.stderr));
    assert!(!ours.stdout.is_empty());
    assert_eq!(text(&ours.stdout), text(&theirs.stdout));
}

#[test]
fn credentials_and_endpoint_from_aws_environment() {
    let Some(m) = moto() else { return };
    let mut c = cmd(sensor());
    c.args(["print", "-i", "s3", "-o", "json", "flat"])
        .env("AWS_ENDPOINT_URL", &m.endpoint)
        .env("AWS_ACCESS_KEY_ID", &m.analyst.id)
        .env("AWS_SECRET_ACCESS_KEY", &m.analyst.secret)
        .env("AWS_REGION", "us-east-1");
    let env_out = c.output().expect("run sensor");
    assert!(env_out.status.success(), "{}", text(&env_out.stderr));
    let flags_out = print_s3(m, &m.analyst, &["-o", "json", "flat"]);
    assert_eq!(text(&env_out.stdout), text(&flags_out.stdout));
    assert!(!env_out.stdout.is_empty());
}

#[test]
fn wrong_credentials_fail_naming_the_bucket() {
    let Some(m) = moto() else { return };
    let bad = Creds {
        id: m.analyst.id.clone(),
        secret: "wrong".into(),
    };
    let out = print_s3(m, &bad, &["-o", "json", "flat"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = text(&out.stderr);
    assert!(
        err.contains("s3://flat/: access denied (SignatureDoesNotMatch)"),
        "{err}"
    );
    let out = print_s3(m, &m.nobody, &["-o", "json", "flat"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("s3://flat/: access denied (AccessDenied)"));
}

#[test]
fn missing_bucket_is_reported_and_the_others_printed() {
    let Some(m) = moto() else { return };
    let out = print_s3(m, &m.analyst, &["-o", "json", "no-such-bucket", "flat"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("s3://no-such-bucket: bucket does not exist"),
        "{}",
        text(&out.stderr)
    );
    let good = print_s3(m, &m.analyst, &["-o", "json", "flat"]);
    assert_eq!(text(&out.stdout), text(&good.stdout));
}

#[test]
fn object_that_is_not_a_trace_is_named() {
    let Some(m) = moto() else { return };
    let out = print_s3(m, &m.analyst, &["-o", "json", "mixed"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("s3://mixed/b.txt: "), "{err}");
    // a.sf was printed, c.sf not (stop at the first bad input, as for local files).
    let a = print_local(m, "mixed", "a", &["-o", "json"]);
    assert_eq!(text(&out.stdout), text(&a.stdout));
    // --keep-going goes on to c.sf.
    let out = print_s3(m, &m.analyst, &["-o", "json", "--keep-going", "mixed"]);
    assert_eq!(out.status.code(), Some(1));
    let mut want = text(&a.stdout);
    want.push_str(&text(&print_local(m, "mixed", "c", &["-o", "json"]).stdout));
    assert_eq!(text(&out.stdout), want);
}

#[test]
fn bad_secure_value_is_rejected() {
    let mut c = cmd(sensor());
    c.args([
        "print",
        "-i",
        "s3",
        "-e",
        "127.0.0.1",
        "--secure",
        "maybe",
        "flat",
    ]);
    let out = c.output().expect("run sensor");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("--secure \"maybe\": Boolean value expected"),
        "{}",
        text(&out.stderr)
    );
}
