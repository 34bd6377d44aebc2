//! Unit and property tests of the condition compiler.

use super::*;
use crate::eval::test;
use proptest::prelude::*;
use sysflow_model::flat::{Field, Value};

fn field(name: &str) -> FieldRef {
    FieldRef::new(Field::resolve(name).expect("field"))
}

proptest! {
    /// Bit tests mean exactly what the string test on the rendered names means.
    #[test]
    fn opflag_bit_tests_match_names(bits in 0u32..(1 << 21), t in 0usize..12, n in 0usize..23) {
        let names: Vec<&str> = OpFlags::ORDER.iter().map(|x| x.1).chain(["RECV", "SEND"]).collect();
        let name = names[n];
        let v = Value::OpFlags(OpFlags(bits), RecordType::ALL[t]);
        let Some(Cond::Test(_, bt)) = flag_test(&field("sf.opflags"), &[name], &POLICY) else {
            panic!("no bit test for {name}");
        };
        prop_assert_eq!(test(&v, &bt), test(&v, &Test::Eq(Lit::new(name))), "{}", name);
    }

    #[test]
    fn openflag_bit_tests_match_names(bits in 0u32..(1 << 14), a in 0usize..15, b in 0usize..15) {
        let names = ["NONE", "RDONLY", "WRONLY", "RDWR", "CREAT", "EXCL", "TRUNC", "APPEND",
            "NONBLOCK", "DSYNC", "DIRECT", "LARGEFILE", "DIRECTORY", "CLOEXEC", "SYNC"];
        let items = [names[a], names[b]];
        let v = Value::OpenFlags(OpenFlags(bits));
        let Some(Cond::Test(_, bt)) = flag_test(&field("sf.file.openflags"), &items, &POLICY) else {
            panic!("no bit test for {items:?}");
        };
        let strings = Test::InList(items.iter().map(|s| (*s).into()).collect());
        prop_assert_eq!(test(&v, &bt), test(&v, &strings), "{:?}", items);
    }
}

#[test]
fn falco_evt_type_names_become_operations() {
    use sysflow_model::flat::FlatRecord;
    use sysflow_model::tables::{Flattener, TableConfig};
    use sysflow_model::*;
    let mut fl = Flattener::new(TableConfig::default());
    let p = Process {
        oid: Oid {
            create_ts: 1,
            hpid: 1,
        },
        exe: "/bin/cat".into(),
        ..Process::default()
    };
    let oid = p.oid;
    assert!(fl.push(SysFlow::Process(p)).is_none());
    let ff: FlatRecord = fl
        .push(SysFlow::FileFlow(FileFlow {
            proc_oid: oid,
            op_flags: OpFlags(OpFlags::OPEN | OpFlags::READ),
            ..FileFlow::default()
        }))
        .expect("flat");
    let text = |cond: &str| format!("- rule: r\n  desc: d\n  condition: {cond}\n  priority: low\n");
    let matches = |cond: &str| {
        let (e, _) =
            crate::PolicyEngine::from_str("t.yaml", &text(cond), crate::LoadOptions::default())
                .expect("load");
        let mut m = crate::Matches::new();
        e.process(&ff, &mut m);
        !m.is_empty()
    };
    assert!(matches("evt.type in (open, openat)"));
    assert!(matches("evt.type = openat"));
    assert!(matches("evt.type = read"));
    assert!(matches("evt.type = OPEN"));
    assert!(!matches("evt.type = execve"));
    assert!(matches("evt.type != execve"));
    assert!(!matches("evt.type in (execve, connect)"));
    // Only evt.type is rewritten: sf.opflags keeps SysFlow names.
    assert!(!matches("sf.opflags = open"));
}

#[test]
fn unknown_flag_names_keep_the_string_test() {
    assert!(flag_test(&field("sf.opflags"), &["OPEN", "BOGUS"], &POLICY).is_none());
    assert!(flag_test(&field("sf.file.openflags"), &["O_CREAT"], &POLICY).is_none());
    assert!(flag_test(&field("sf.type"), &["PE", "XX"], &POLICY).is_none());
    assert!(matches!(
        flag_test(&field("sf.type"), &["PE", "FF"], &POLICY),
        Some(Cond::Type(_))
    ));
}

/// A process running `exe` and one record of it: an outbound IPv4 flow 10.1.2.3 →
/// 192.168.7.9:443 (SysFlow's source is the client).
fn flow_record(exe: &str) -> sysflow_model::flat::FlatRecord {
    use sysflow_model::tables::{Flattener, TableConfig};
    use sysflow_model::*;
    let mut fl = Flattener::new(TableConfig::default());
    let p = Process {
        oid: Oid {
            create_ts: 1,
            hpid: 7,
        },
        exe: exe.into(),
        ..Process::default()
    };
    let oid = p.oid;
    assert!(fl.push(SysFlow::Process(p)).is_none());
    fl.push(SysFlow::NetworkFlow(NetworkFlow {
        proc_oid: oid,
        op_flags: OpFlags(OpFlags::CONNECT),
        sip: i32::from_le_bytes([10, 1, 2, 3]),
        sport: 40000,
        dip: i32::from_le_bytes([192, 168, 7, 9]),
        dport: 443,
        proto: 6,
        ..NetworkFlow::default()
    }))
    .expect("flat")
}

fn rule_matches(rec: &sysflow_model::flat::FlatRecord, cond: &str) -> Result<bool, String> {
    let text = format!("- rule: r\n  desc: d\n  condition: {cond}\n  priority: low\n");
    let (e, _) = crate::PolicyEngine::from_str("t.yaml", &text, crate::LoadOptions::default())
        .map_err(|e| e.to_string())?;
    let mut m = crate::Matches::new();
    e.process(rec, &mut m);
    Ok(!m.is_empty())
}

#[test]
fn regex_is_a_full_match_of_any_part() {
    let r = flow_record("/usr/bin/curl");
    let ok = |c: &str| rule_matches(&r, c).expect(c);
    assert!(ok("proc.name regex 'c[a-z]+l'"));
    assert!(ok("proc.exe regex '/usr/bin/.*'"));
    // Full match: a pattern matching only inside the value does not match.
    assert!(!ok("proc.name regex 'ur'"));
    assert!(ok("proc.name regex '.*ur.*'"));
    assert!(!ok("proc.name regex 'CURL'"));
    assert!(ok("proc.name regex '(?i)CURL'"));
    // Any part of a multi-valued attribute (ports 40000 and 443).
    assert!(ok("sf.net.port regex '4[0-9]{2}'"));
    // Missing values never match.
    assert!(!ok("fd.name regex '.*'"));
    let e = rule_matches(&r, "proc.name regex 'a(b'").unwrap_err();
    assert!(e.contains("regular expression"), "{e}");
}

#[test]
fn cidr_literals_match_networks_on_address_fields() {
    let r = flow_record("/usr/bin/curl");
    let ok = |c: &str| rule_matches(&r, c).expect(c);
    assert!(ok("fd.net = 10.0.0.0/8"));
    assert!(ok("fd.net = 192.168.0.0/16"));
    assert!(!ok("fd.net = 172.16.0.0/12"));
    assert!(ok("fd.net != 172.16.0.0/12"));
    assert!(ok("fd.cnet = 10.1.2.0/24"));
    assert!(!ok("fd.cnet = 192.168.0.0/16"));
    assert!(ok("fd.snet in (172.16.0.0/12, 192.168.7.0/24)"));
    assert!(!ok("fd.snet in (172.16.0.0/12, 10.0.0.0/8)"));
    // A bare address among networks is a /32.
    assert!(ok("fd.snet in (172.16.0.0/12, 192.168.7.9)"));
    assert!(ok("sf.net.dip = 192.168.7.9/32"));
    assert!(!ok("sf.net.dip = 192.168.7.8/32"));
    assert!(ok("sf.net.ip = 0.0.0.0/0"));
    // Plain addresses keep their string meaning.
    assert!(ok("fd.ip = 10.1.2.3"));
}

#[test]
fn falco_operators_and_transformers() {
    let r = flow_record("/usr/bin/Curl");
    let ok = |c: &str| rule_matches(&r, c).expect(c);
    assert!(ok("tolower(proc.name) = curl"));
    assert!(!ok("proc.name = curl"));
    assert!(ok("toupper(proc.exe) startswith /USR/BIN"));
    assert!(ok("basename(proc.exe) = Curl"));
    assert!(ok("len(proc.name) = 4"));
    assert!(ok("tolower(basename(proc.exe)) in (wget, curl)"));
    assert!(ok("proc.exe iglob '/USR/*/curl'"));
    assert!(!ok("proc.exe glob '/USR/*/curl'"));
    // bcontains/bstartswith: hex bytes ("Cu" = 4375, "/usr" = 2f757372).
    assert!(ok("proc.name bcontains 7572"));
    assert!(ok("proc.exe bstartswith 2f757372"));
    assert!(!ok("proc.exe bstartswith 7572"));
    assert!(!ok("proc.name bcontains ff00"));
    let e = rule_matches(&r, "proc.name bcontains xyz").unwrap_err();
    assert!(e.contains("hex"), "{e}");
    // A transformer of a missing value is missing.
    assert!(!ok("tolower(fd.name) exists"));
    // An escaped quote inside a string (Falco's own rule files have them).
    assert!(ok(
        r#"proc.cmdline startswith "/usr/bin/Curl" or proc.name = "a\"b""#
    ));
}
