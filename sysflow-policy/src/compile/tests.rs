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
