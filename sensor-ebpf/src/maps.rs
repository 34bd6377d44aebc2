//! Maps and globals shared with user space.

use aya_ebpf::{
    bindings::{BPF_RB_AVAIL_DATA, BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP},
    helpers::bpf_get_smp_processor_id,
    macros::map,
    maps::{ring_buf::RingBufEntry, HashMap, PerCpuArray, RingBuf},
};
use sensor_ebpf_common::{
    classes, DropClass, KernelOffsets, Op, COMM_LEN, DROP_CLASSES, FILTER_CLASSES,
    MAX_EXCLUDE_COMMS, MAX_RINGS, RING_SIZE,
};

// One ring per group of `CPUS_PER_RING` CPUs (Falco's `cpus_for_each_buffer`): CPUs of a
// group contend for one ring's producer lock, groups do not. Legacy maps cannot be created
// in a loop, so there are `MAX_RINGS` statics; user space sizes the unused ones to one page
// and picks `CPUS_PER_RING` so that every possible CPU maps to a ring it reads.
#[map]
static EVENTS0: RingBuf = RingBuf::with_byte_size(RING_SIZE, 0);
#[map]
static EVENTS1: RingBuf = RingBuf::with_byte_size(RING_SIZE, 0);
#[map]
static EVENTS2: RingBuf = RingBuf::with_byte_size(RING_SIZE, 0);
#[map]
static EVENTS3: RingBuf = RingBuf::with_byte_size(RING_SIZE, 0);
#[map]
static EVENTS4: RingBuf = RingBuf::with_byte_size(RING_SIZE, 0);
#[map]
static EVENTS5: RingBuf = RingBuf::with_byte_size(RING_SIZE, 0);
#[map]
static EVENTS6: RingBuf = RingBuf::with_byte_size(RING_SIZE, 0);
#[map]
static EVENTS7: RingBuf = RingBuf::with_byte_size(RING_SIZE, 0);
#[map]
static EVENTS8: RingBuf = RingBuf::with_byte_size(RING_SIZE, 0);
#[map]
static EVENTS9: RingBuf = RingBuf::with_byte_size(RING_SIZE, 0);
#[map]
static EVENTS10: RingBuf = RingBuf::with_byte_size(RING_SIZE, 0);
#[map]
static EVENTS11: RingBuf = RingBuf::with_byte_size(RING_SIZE, 0);
#[map]
static EVENTS12: RingBuf = RingBuf::with_byte_size(RING_SIZE, 0);
#[map]
static EVENTS13: RingBuf = RingBuf::with_byte_size(RING_SIZE, 0);
#[map]
static EVENTS14: RingBuf = RingBuf::with_byte_size(RING_SIZE, 0);
#[map]
static EVENTS15: RingBuf = RingBuf::with_byte_size(RING_SIZE, 0);

const _: () = assert!(MAX_RINGS == 16, "one EVENTSn static per ring");

/// CPUs sharing one ring (written by user space; at least 1).
#[unsafe(no_mangle)]
pub static CPUS_PER_RING: u32 = 1;

/// The ring of the current CPU. The task cannot migrate while a program runs, so every call
/// within one program run picks the same ring.
#[inline(always)]
fn ring() -> &'static RingBuf {
    let per = unsafe { core::ptr::read_volatile(&raw const CPUS_PER_RING) }.max(1);
    let cpu = unsafe { bpf_get_smp_processor_id() };
    match cpu / per {
        0 => &EVENTS0,
        1 => &EVENTS1,
        2 => &EVENTS2,
        3 => &EVENTS3,
        4 => &EVENTS4,
        5 => &EVENTS5,
        6 => &EVENTS6,
        7 => &EVENTS7,
        8 => &EVENTS8,
        9 => &EVENTS9,
        10 => &EVENTS10,
        11 => &EVENTS11,
        12 => &EVENTS12,
        13 => &EVENTS13,
        14 => &EVENTS14,
        // User space makes this unreachable (CPUS_PER_RING covers every possible CPU).
        _ => &EVENTS15,
    }
}

/// The event rings as one: `EVENTS.reserve` writes to the current CPU's ring.
pub struct Events;

/// All events; each ring holds them in the order its CPUs committed them.
pub static EVENTS: Events = Events;

impl Events {
    /// Reserve a `T` in the current CPU's ring (`None` when that ring is full).
    #[inline(always)]
    pub fn reserve<T: 'static>(&self, flags: u64) -> Option<RingBufEntry<T>> {
        ring().reserve::<T>(flags)
    }
}

/// Events lost because the ring was full, per [`DropClass`].
#[map]
pub static DROPS: PerCpuArray<u64> = PerCpuArray::with_max_entries(DROP_CLASSES, 0);

/// Syscalls the comm filter skipped, per [`DropClass`] of their op (not drops: nothing was
/// lost, the user asked for it).
#[map]
pub static FILTERED: PerCpuArray<u64> = PerCpuArray::with_max_entries(FILTER_CLASSES, 0);

/// Names (`task->comm`, NUL-padded to [`COMM_LEN`]) whose I/O is not reported; filled by user
/// space before the programs are attached. The value is unused.
#[map]
pub static EXCLUDE_COMMS: HashMap<[u8; COMM_LEN], u8> =
    HashMap::with_max_entries(MAX_EXCLUDE_COMMS, 0);

/// 1 when `EXCLUDE_COMMS` holds names (written by user space before loading). Frozen
/// `.rodata`: with 0 the verifier knows the filter branch is dead and removes it.
#[unsafe(no_mangle)]
pub static EXCLUDE_ACTIVE: u32 = 0;

/// Event classes reported (`sensor_ebpf_common::classes` bits, written by user space before
/// loading). Frozen `.rodata`: the verifier removes the branches of classes left out.
#[unsafe(no_mangle)]
pub static EVENT_CLASSES: u32 = classes::ALL;

/// True when `class` (a `classes` bit or several) is reported.
#[inline(always)]
pub fn reports(class: u32) -> bool {
    let reported = unsafe { core::ptr::read_volatile(&raw const EVENT_CLASSES) };
    reported & class != 0
}

/// Kernel struct offsets, written by user space before loading.
#[unsafe(no_mangle)]
pub static OFFSETS: KernelOffsets = KernelOffsets {
    valid: 0,
    task_pid: 0,
    task_tgid: 0,
    task_start_time: 0,
    task_files: 0,
    task_signal: 0,
    task_exit_code: 0,
    task_mm: 0,
    signal_tty: 0,
    signal_live: 0,
    files_fdt: 0,
    fdtable_max_fds: 0,
    fdtable_fd: 0,
    file_private_data: 0,
    file_inode: 0,
    inode_mode: 0,
    socket_sk: 0,
    sk_daddr: 0,
    sk_rcv_saddr: 0,
    sk_dport: 0,
    sk_num: 0,
    sk_family: 0,
    sk_v6_daddr: 0,
    sk_v6_rcv_saddr: 0,
    sk_protocol: 0,
    mm_arg_start: 0,
    mm_arg_end: 0,
    bprm_filename: 0,
    task_ti_status: 0,
    task_cred: 0,
    cred_uid: 0,
    cred_gid: 0,
    task_comm: 0,
    cgroup_valid: 0,
    task_cgroups: 0,
    cgroup_css: 0,
    cgroup_via_css: 0,
    css_cgroup: 0,
    cgroup_kn: 0,
    kn_name: 0,
    kn_parent: 0,
    kn_id: 0,
    exe_walk_valid: 0,
    bprm_file: 0,
    bprm_executable: 0,
    file_f_path: 0,
    path_mnt: 0,
    path_dentry: 0,
    dentry_parent: 0,
    dentry_name: 0,
    vfsmount_root: 0,
    mount_mnt: 0,
    mount_parent: 0,
    mount_mountpoint: 0,
    task_fs: 0,
    fs_root: 0,
};

/// Thread group id of the sensor itself: its own syscalls are not reported (no feedback loop).
#[unsafe(no_mangle)]
pub static SELF_TGID: u32 = 0;

/// Unread bytes in the ring above which a commit wakes the reader (written by user space;
/// 0 = wake on every event). Below it commits do not wake: user space polls with a short
/// timeout, so a busy producer pays for one wakeup per batch instead of one per event.
#[unsafe(no_mangle)]
pub static WAKEUP_BYTES: u64 = 0;

/// Width of the band above `WAKEUP_BYTES` in which a commit wakes the reader: several events
/// wide (the largest is ~1 KiB), so concurrent producers cannot all step over it.
const WAKEUP_BAND: u64 = 8192;

/// Flags for `submit`: wake the reader only as the unread data crosses `WAKEUP_BYTES`
/// (adaptive batching). Not on every commit above it: the reader sleeps only after it found
/// the ring empty, so one wakeup per crossing is enough, and a forced wakeup costs an
/// irq_work self-IPI (an APIC write, i.e. a VM exit under a hypervisor), which made every
/// event several microseconds dearer whenever the reader lagged. A crossing missed by a race
/// costs at most the reader's poll period.
#[inline(always)]
pub fn wakeup_flags() -> u64 {
    let limit = unsafe { core::ptr::read_volatile(&raw const WAKEUP_BYTES) };
    if limit == 0 {
        return BPF_RB_FORCE_WAKEUP as u64;
    }
    let avail = ring().query(BPF_RB_AVAIL_DATA as u64);
    if avail >= limit && avail - limit < WAKEUP_BAND {
        BPF_RB_FORCE_WAKEUP as u64
    } else {
        BPF_RB_NO_WAKEUP as u64
    }
}

/// Count one lost event of `op` (in its class) of thread `pid_tgid`; logged at debug.
#[inline(always)]
pub fn count_drop(op: Op, pid_tgid: u64) {
    crate::log::ring_full(op, pid_tgid);
    if let Some(p) = DROPS.get_ptr_mut(op.class() as u32) {
        // Per-CPU slot: no other writer, a plain add is enough.
        unsafe { *p += 1 };
    }
}

/// Count one syscall of `class` skipped by the comm filter.
#[inline(always)]
pub fn count_filtered(class: DropClass) {
    if let Some(p) = FILTERED.get_ptr_mut(class as u32) {
        // Per-CPU slot: no other writer, a plain add is enough.
        unsafe { *p += 1 };
    }
}

/// True when comm exclusion is configured (one load of a frozen global).
#[inline(always)]
pub fn exclude_active() -> bool {
    unsafe { core::ptr::read_volatile(&raw const EXCLUDE_ACTIVE) != 0 }
}

/// True when `comm` is in `EXCLUDE_COMMS`.
#[inline(always)]
pub fn comm_excluded(comm: &[u8; COMM_LEN]) -> bool {
    unsafe { EXCLUDE_COMMS.get(comm) }.is_some()
}

/// Offsets global, read so the compiler cannot constant-fold the zero initialiser.
#[inline(always)]
pub fn offsets() -> &'static KernelOffsets {
    unsafe { &*core::ptr::read_volatile(&&raw const OFFSETS) }
}

/// True when the current task belongs to the sensor.
#[inline(always)]
pub fn is_self(pid_tgid: u64) -> bool {
    let me = unsafe { core::ptr::read_volatile(&raw const SELF_TGID) };
    (pid_tgid >> 32) as u32 == me
}
