//! The probe object, embedded in the binary when `cargo xtask build-ebpf` was run before
//! the sensor was built (see `sensor/build.rs`).

/// How to get a sensor with probes, for the error message when there are none.
pub const HOW_TO_BUILD: &str = "this sensor binary was built without the eBPF probes: run \
`cargo xtask build-ebpf --release` (needs nightly rust-src and bpf-linker, see docs/ebpf.md), \
then rebuild the sensor";

/// The probe object bytes, if they were built.
#[cfg(sensor_probes)]
pub fn probes() -> Option<&'static [u8]> {
    // Aligned copy: the ELF parser wants 8-byte alignment for section headers.
    #[repr(C, align(8))]
    struct Aligned<T: ?Sized>(T);
    static OBJ: &Aligned<[u8]> = &Aligned(*include_bytes!(env!("SENSOR_PROBES_OBJ")));
    Some(&OBJ.0)
}

/// The probe object bytes, if they were built.
#[cfg(not(sensor_probes))]
pub fn probes() -> Option<&'static [u8]> {
    None
}
