//! eBPF probes of sysflow-sensor.
//!
//! Every syscall is observed once, on exit, so the return value is known: one
//! `tp_btf/sys_exit` dispatcher picks the handler by syscall number and re-reads the
//! arguments from the user `pt_regs` (fexit on `__x64_sys_*` is refused on some kernels),
//! plus the `sched_process_{exec,fork,exit}` BTF tracepoints for the process life cycle and
//! `cgroup_attach_task` for processes moved into a container's cgroup.
//! Kernel structs are read at offsets user space resolves from the running kernel's BTF
//! (`OFFSETS`), so one object works across kernel versions without compile-time bindings.
//! Events go to the ring buffer of the current CPU's group with reserve/commit (user space
//! merges the rings back into time order); a full ring is counted per class in
//! `DROPS`, never silent.

#![no_std]
#![no_main]

mod cgroup;
mod dpath;
mod kernel;
mod log;
mod maps;
mod probes;

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
