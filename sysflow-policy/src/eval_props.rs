//! Property tests of every operator on single, multi-valued and missing values.

use std::sync::Arc;

use aho_corasick::AhoCorasick;
use proptest::prelude::*;
use sysflow_model::flat::{Ancestor, Value};
use sysflow_model::{OpFlags, Process, RecordType};

use crate::eval::{pair, test, Lit, NumOp, PairOp, Test};

fn procs(exes: &[String]) -> Vec<Arc<Process>> {
    exes.iter()
        .map(|e| {
            Arc::new(Process {
                exe: e.clone(),
                ..Process::default()
            })
        })
        .collect()
}

fn word() -> impl Strategy<Value = String> {
    "[a-cA-C/.]{0,6}"
}

/// Every string-shaped test, as an oracle over one part.
fn oracle(t: &Test, p: &str) -> bool {
    match t {
        Test::Eq(l) => p == &*l.s,
        Test::Contains(l) => p.contains(&**l),
        Test::IContains(l) => p.to_lowercase().contains(&**l),
        Test::StartsWith(l) => p.starts_with(&**l),
        Test::EndsWith(l) => p.ends_with(&**l),
        Test::InList(v) => v.iter().any(|x| &**x == p),
        Test::InSet(s) => s.contains(p),
        Test::Pmatch(_) => unreachable!(),
        _ => unreachable!(),
    }
}

fn string_tests(l: &str, items: &[String]) -> Vec<Test> {
    vec![
        Test::Eq(Lit::new(l)),
        Test::Contains(l.into()),
        Test::IContains(l.to_ascii_lowercase().into()),
        Test::StartsWith(l.into()),
        Test::EndsWith(l.into()),
        Test::InList(items.iter().map(|s| s.as_str().into()).collect()),
        Test::InSet(
            items
                .iter()
                .map(|s| s.as_str().into())
                .collect::<super::eval::StrSet>(),
        ),
    ]
}

proptest! {
    #[test]
    fn string_operators_on_a_single_value(v in word(), l in word(), items in prop::collection::vec(word(), 0..5)) {
        for t in string_tests(&l, &items) {
            prop_assert_eq!(test(&Value::Str(&v), &t), oracle(&t, &v), "{:?} on {:?}", t, v);
        }
    }

    #[test]
    fn multi_valued_attributes_match_if_any_part_matches(vs in prop::collection::vec("/[a-c]{1,4}", 0..4), l in word(), items in prop::collection::vec(word(), 0..5)) {
        let ps = procs(&vs);
        let v = Value::Ancestors(Ancestor::Exe, &ps);
        for t in string_tests(&l, &items) {
            let expect = vs.iter().any(|p| oracle(&t, p));
            prop_assert_eq!(test(&v, &t), expect, "{:?} on {:?}", t, vs);
        }
        // pmatch: any part contains any item (substring semantics).
        let nonempty: Vec<&String> = items.iter().filter(|s| !s.is_empty()).collect();
        if !nonempty.is_empty() {
            let ac = AhoCorasick::new(&nonempty).unwrap();
            let expect = vs.iter().any(|p| nonempty.iter().any(|i| p.contains(i.as_str())));
            prop_assert_eq!(test(&v, &Test::Pmatch(ac)), expect);
        }
        prop_assert_eq!(test(&v, &Test::Exists), !vs.is_empty());
    }

    #[test]
    fn ordering_operators_are_numeric(a in any::<i64>(), b in any::<i64>()) {
        for (op, f) in [(NumOp::Lt, a < b), (NumOp::Le, a <= b), (NumOp::Gt, a > b), (NumOp::Ge, a >= b)] {
            prop_assert_eq!(test(&Value::Int(a), &Test::Num(op, b)), f);
            // Numbers in strings compare numerically too ("10" > "9").
            prop_assert_eq!(test(&Value::Str(&a.to_string()), &Test::Num(op, b)), f);
            prop_assert_eq!(pair(&Value::Int(a), PairOp::Num(op), &Value::Int(b)), f);
        }
        prop_assert_eq!(test(&Value::Int(a), &Test::Eq(Lit::new(&b.to_string()))), a == b);
    }

    #[test]
    fn missing_values_fail_every_test(l in word(), n in any::<i64>()) {
        let m = Value::Missing;
        for t in string_tests(&l, std::slice::from_ref(&l)) {
            prop_assert!(!test(&m, &t));
        }
        prop_assert!(!test(&m, &Test::Num(NumOp::Le, n)));
        prop_assert!(!test(&m, &Test::Exists));
        prop_assert!(!test(&m, &Test::Glob("*".into())));
        prop_assert!(!pair(&m, PairOp::Eq, &Value::Str(&l)));
    }

    #[test]
    fn contains_on_command_lines_as_if_rendered(a in "[ab ]{0,12}", b in "[ab ]{0,12}", l in "[ab ]{1,5}") {
        let whole = format!("{a} {b}");
        let v = Value::Concat(&a, " ", &b);
        prop_assert_eq!(test(&v, &Test::Contains(l.as_str().into())), whole.contains(&l));
    }

    #[test]
    fn opflags_equal_any_of_their_names(bits in 0u32..(1 << 21)) {
        let v = Value::OpFlags(OpFlags(bits), RecordType::FileFlow);
        for (b, name) in OpFlags::ORDER {
            prop_assert_eq!(test(&v, &Test::Eq(Lit::new(name))), bits & b != 0, "{}", name);
            prop_assert_eq!(test(&v, &Test::OpMask { any: b, net: 0, other: 0 }), bits & b != 0);
        }
        // On network flows READ/WRITE are spelt RECV/SEND.
        let nv = Value::OpFlags(OpFlags(bits), RecordType::NetworkFlow);
        prop_assert_eq!(test(&nv, &Test::Eq(Lit::new("RECV"))), bits & OpFlags::READ != 0);
        prop_assert!(!test(&nv, &Test::Eq(Lit::new("READ"))));
    }

    #[test]
    fn field_pairs_compare_any_part(a in prop::collection::vec("[ab]{1,2}", 1..3), b in prop::collection::vec("[ab]{1,2}", 1..3)) {
        let (pa, pb) = (procs(&a), procs(&b));
        let (va, vb) = (Value::Ancestors(Ancestor::Exe, &pa), Value::Ancestors(Ancestor::Exe, &pb));
        let expect = a.iter().any(|x| b.contains(x));
        prop_assert_eq!(pair(&va, PairOp::Eq, &vb), expect);
        let expect = a.iter().any(|x| b.iter().any(|y| x.starts_with(y.as_str())));
        prop_assert_eq!(pair(&va, PairOp::StartsWith, &vb), expect);
    }
}

proptest! {
    #[test]
    fn concatenated_values_compare_like_their_rendering(a in word(), b in word(), l in "[a-c/. ]{0,8}") {
        let v = Value::Concat(&a, " ", &b);
        let whole = format!("{a} {b}");
        prop_assert_eq!(test(&v, &Test::StartsWith(l.as_str().into())), whole.starts_with(&l));
        prop_assert_eq!(test(&v, &Test::Eq(Lit::new(&l))), whole == l);
        prop_assert_eq!(test(&v, &Test::Contains(l.as_str().into())), whole.contains(&l));
    }
}

#[test]
fn ancestor_names_match_like_the_original() {
    let ps = procs(&["/usr/bin/python".into(), "/bin/bash".into()]);
    let v = Value::Ancestors(Ancestor::Name, &ps);
    assert!(test(&v, &Test::Eq(Lit::new("bash"))));
    assert!(test(&v, &Test::Eq(Lit::new("python"))));
    assert!(!test(&v, &Test::Eq(Lit::new("/bin/bash"))));
    assert!(test(&v, &Test::Glob("py*".into())));
}
