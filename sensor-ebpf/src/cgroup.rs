//! The cgroup of a task, by name: what tells the container a process runs in.
//!
//! A container runtime names the cgroup it creates for a container after the container's id
//! (`docker-<id>.scope`, `/docker/<id>`, `cri-containerd-<id>.scope`, `crio-<id>.scope`,
//! `libpod-<id>.scope`, `/kubepods/.../pod<uid>/<id>`), so the kernfs names of the task's
//! cgroup and a few of its ancestors are enough for user space to find the id, however
//! short-lived the process: read here, at the event, rather than from `/proc/<pid>/cgroup`
//! afterwards. Which hierarchy is read is user space's choice (`OFFSETS.cgroup_css`): cgroup
//! v2 on a pure v2 host, one v1 controller on a v1 or hybrid host.

use sensor_ebpf_common::{CgroupNames, CGROUP_LEVELS};

use crate::{
    kernel::{kernel_str, tload, Task},
    maps::offsets,
};

/// The cgroup of `task` in the tracked hierarchy: kernfs node, or 0.
#[inline(always)]
pub unsafe fn task_cgroup_kn(task: Task) -> u64 {
    let o = offsets();
    if o.valid == 0 || o.cgroup_valid == 0 {
        return 0;
    }
    // Typed loads all the way: the task pointer is BTF-typed, and so is every struct pointer
    // loaded through it (css_set, cgroup_subsys_state, cgroup, kernfs_node).
    let cset: u64 = unsafe { tload(task.ptr(), o.task_cgroups as u64) };
    if cset == 0 {
        return 0;
    }
    let mut cgrp: u64 = unsafe { tload(cset, o.cgroup_css as u64) };
    if cgrp == 0 {
        return 0;
    }
    if o.cgroup_via_css != 0 {
        cgrp = unsafe { tload(cgrp, o.css_cgroup as u64) };
        if cgrp == 0 {
            return 0;
        }
    }
    unsafe { tload(cgrp, o.cgroup_kn as u64) }
}

/// No cgroup: id 0, every name empty.
#[inline(always)]
pub unsafe fn clear_cgroup(out: *mut CgroupNames) {
    unsafe {
        (*out).id = 0;
        for i in 0..CGROUP_LEVELS {
            (*out).names[i][0] = 0;
        }
    }
}

/// Fill `out` with the cgroup of `task`: its kernfs id and the names of it and up to
/// `CGROUP_LEVELS - 1` ancestors, leaf first. Unread names are left empty.
#[inline(always)]
pub unsafe fn task_cgroup(task: Task, out: *mut CgroupNames) {
    unsafe {
        clear_cgroup(out);
        kn_names(task_cgroup_kn(task), out);
    }
}

/// Fill `out` from the kernfs node `kn` of a cgroup (see [`task_cgroup`]).
#[inline(always)]
pub unsafe fn kn_names(mut kn: u64, out: *mut CgroupNames) {
    if kn == 0 {
        return;
    }
    let o = offsets();
    unsafe {
        (*out).id = tload(kn, o.kn_id as u64);
        for i in 0..CGROUP_LEVELS {
            let name: u64 = tload(kn, o.kn_name as u64);
            if name == 0 {
                break;
            }
            kernel_str(name, &raw mut (*out).names[i]);
            kn = tload(kn, o.kn_parent as u64);
            if kn == 0 {
                break;
            }
        }
    }
}
