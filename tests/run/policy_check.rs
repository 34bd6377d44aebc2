//! `sensor policy check`: the summary on success, positioned errors and the exit status.

#[test]
fn check_subcommand_prints_a_summary_and_exits_by_result() {
    let dir = std::env::temp_dir().join(format!("policy-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.yaml");
    std::fs::write(
        &good,
        "- macro: m\n  condition: sf.type = PE\n- rule: r\n  desc: d\n  condition: m\n",
    )
    .unwrap();
    let out = super::sensor()
        .args(["policy", "check"])
        .arg(&good)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let so = String::from_utf8_lossy(&out.stdout);
    assert!(
        so.contains("1 file(s), 1 rule(s)") && so.contains("1 macro(s)"),
        "{so}"
    );
    let bad = dir.join("bad.yaml");
    std::fs::write(&bad, "- rule: r\n  desc: d\n  condition: (sf.type = PE\n").unwrap();
    let out = super::sensor()
        .args(["policy", "check"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let se = String::from_utf8_lossy(&out.stderr);
    assert!(se.contains("bad.yaml:3:14: unbalanced parentheses"), "{se}");
    std::fs::remove_dir_all(&dir).ok();
}
