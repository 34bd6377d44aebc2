//! Records of every type, flattened once, for the fuzz targets that evaluate what they
//! compile (`policy_load`, `sfql`).

use std::sync::OnceLock;

use sysflow_model::flat::FlatRecord;
use sysflow_model::record::*;
use sysflow_model::{Flattener, OpFlags, TableConfig};

/// A process, an exec event, a connect and an open, all of the same process.
pub fn records() -> &'static [FlatRecord] {
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
