//! The policy loader (YAML, items, append/override, macros, compile) on arbitrary text; a
//! policy that loads is then evaluated against records of every type.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sensor::policy::{LoadOptions, Matches, Mode, PolicyEngine};
use sysflow_model::flat::FlatRecord;
use sysflow_model::record::*;
use sysflow_model::{Flattener, OpFlags, TableConfig};

fn records() -> &'static [FlatRecord] {
    static R: OnceLock<Vec<FlatRecord>> = OnceLock::new();
    R.get_or_init(|| {
        let oid = Oid {
            create_ts: 1,
            hpid: 42,
        };
        let mut f = Flattener::new(TableConfig::default());
        let recs = [
            SysFlow::Process(Process {
                oid,
                exe: "/bin/bash".into(),
                exe_args: "-c id".into(),
                user_name: "root".into(),
                container_id: Some("c1".into()),
                ..Default::default()
            }),
            SysFlow::ProcessEvent(ProcessEvent {
                proc_oid: oid,
                op_flags: OpFlags(OpFlags::EXEC),
                args: vec!["-c".into()],
                ..Default::default()
            }),
            SysFlow::NetworkFlow(NetworkFlow {
                proc_oid: oid,
                op_flags: OpFlags(OpFlags::CONNECT),
                dport: 443,
                proto: 6,
                ..Default::default()
            }),
            SysFlow::FileFlow(FileFlow {
                proc_oid: oid,
                op_flags: OpFlags(OpFlags::OPEN),
                ..Default::default()
            }),
        ];
        recs.into_iter().filter_map(|r| f.push(r)).collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for mode in [Mode::Alert, Mode::Enrich] {
        let opts = LoadOptions {
            mode,
            strict: data.first().is_some_and(|b| b & 1 == 1),
        };
        if let Ok((engine, _warnings)) = PolicyEngine::from_str("fuzz.yaml", text, opts) {
            let mut m = Matches::new();
            for r in records() {
                let _ = engine.process(r, &mut m);
            }
        }
    }
});
