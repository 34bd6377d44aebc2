//! The path of the file an exec ran, walked in the kernel: `bpf_d_path` is not allowed in
//! `tp_btf` programs, so the probe follows `dentry->d_parent` and, at a mount's root, the
//! mount to its mountpoint in the parent mount, up to the process's root (`task->fs->root`),
//! as `d_path` does. The result is the path as the process sees it in its own mount
//! namespace (a container's `/bin/busybox`, not the host's overlay directory), whatever name
//! the caller used: `/proc/self/exe` (busybox applets, runc), `/dev/fd/N` (fexecve), a
//! relative path.
//!
//! Names are copied leaf first, one fixed-size slot per step of the walk (empty for a mount
//! crossing): writing right to left, as `d_path` does, or at a running offset would need a
//! variable offset, which multiplies the verifier's states. User space reverses the list.

use aya_ebpf::helpers::generated::bpf_probe_read_kernel_str;
use sensor_ebpf_common::{EXE_PATH_LEN, EXE_PATH_STEPS, NAME_SLOT};

const _: () = assert!(EXE_PATH_LEN == EXE_PATH_STEPS * NAME_SLOT);

use crate::{
    kernel::{current_task, kread},
    maps::offsets,
};

/// Walk the path of the file `bprm` executes into `out`; returns (steps used, complete).
#[inline(always)]
pub unsafe fn exe_path(bprm: u64, out: *mut [u8; EXE_PATH_LEN]) -> (u32, bool) {
    let r = unsafe { walk(bprm, out) };
    ((r >> 1) as u32, r & 1 != 0)
}

/// [`exe_path`] as one BPF-to-BPF call: the verifier follows the loop's many ways out only
/// up to the return, and its caller once per distinct returned state. Returns
/// `steps << 1 | complete`.
#[inline(never)]
unsafe fn walk(bprm: u64, out: *mut [u8; EXE_PATH_LEN]) -> u64 {
    let (n, complete) = unsafe { walk_inner(bprm, out) };
    (n as u64) << 1 | complete as u64
}

#[inline(always)]
unsafe fn walk_inner(bprm: u64, out: *mut [u8; EXE_PATH_LEN]) -> (u32, bool) {
    let o = offsets();
    if o.valid == 0 || o.exe_walk_valid == 0 {
        return (0, false);
    }
    unsafe {
        // A script: the script itself, not its interpreter (which is what `bprm->file` is by
        // now, and what `/proc/<pid>/exe` shows).
        let mut file = 0u64;
        if o.bprm_executable != 0 {
            file = kread::<u64>(bprm + o.bprm_executable as u64).unwrap_or(0);
        }
        if file == 0 {
            file = kread::<u64>(bprm + o.bprm_file as u64).unwrap_or(0);
        }
        if file == 0 {
            return (0, false);
        }
        let fpath = file + o.file_f_path as u64;
        let Some(mut mnt) = kread::<u64>(fpath + o.path_mnt as u64) else {
            return (0, false);
        };
        let Some(mut dentry) = kread::<u64>(fpath + o.path_dentry as u64) else {
            return (0, false);
        };
        let Some(fs) = kread::<u64>(current_task() + o.task_fs as u64) else {
            return (0, false);
        };
        let root = fs + o.fs_root as u64;
        let root_mnt = kread::<u64>(root + o.path_mnt as u64).unwrap_or(0);
        let root_dentry = kread::<u64>(root + o.path_dentry as u64).unwrap_or(0);
        // Step `i` writes its name (empty for a mount crossing) into slot `i`: the output
        // offset is the step's, a constant per iteration, so the verifier keeps one state
        // per step. (A running offset made the states multiply with the steps and the
        // offsets: over a million instructions.)
        // A file bind-mounted and then detached (runc's copy of itself, executed through a
        // descriptor) is the root of a mount with no parent: its path is then its dentries'
        // within their filesystem.
        let mut detached = false;
        for i in 0..EXE_PATH_STEPS {
            let slot = out.cast::<u8>().add(i * NAME_SLOT);
            if dentry == root_dentry && mnt == root_mnt {
                return (i as u32, true);
            }
            *slot = 0;
            let mnt_root = kread::<u64>(mnt + o.vfsmount_root as u64).unwrap_or(0);
            let parent = kread::<u64>(dentry + o.dentry_parent as u64).unwrap_or(0);
            if parent == 0 {
                return (i as u32, false);
            }
            if detached && dentry == parent {
                return (i as u32, true);
            }
            if dentry == mnt_root && !detached {
                // The root of a mount: continue at its mountpoint in the parent mount, or
                // stop at the root of the mount tree (a mount that is its own parent).
                let mount = mnt - o.mount_mnt as u64;
                let mparent = kread::<u64>(mount + o.mount_parent as u64).unwrap_or(0);
                if mparent != mount && mparent != 0 {
                    dentry = kread::<u64>(mount + o.mount_mountpoint as u64).unwrap_or(0);
                    mnt = mparent + o.mount_mnt as u64;
                    continue;
                }
                if i != 0 || dentry == parent {
                    return (i as u32, true);
                }
                detached = true;
            }
            // A dentry that is its own parent without being its mount's root is a pseudo
            // file's (a memfd, as runc may execute a copy of itself): its name is the path,
            // as `d_path` shows it.
            let pseudo = dentry == parent;
            let name = kread::<u64>(dentry + o.dentry_name as u64).unwrap_or(0);
            let n = bpf_probe_read_kernel_str(slot.cast(), NAME_SLOT as u32, name as *const _);
            // A name that fills its slot may have been cut: the path is not the file's.
            if n <= 0 || n as usize >= NAME_SLOT {
                return (i as u32 + 1, false);
            }
            if pseudo {
                return (i as u32 + 1, true);
            }
            dentry = parent;
        }
        (EXE_PATH_STEPS as u32, false)
    }
}
