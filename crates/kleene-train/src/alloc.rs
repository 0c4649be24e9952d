//! Process-wide allocator settings for CPU training.
//!
//! Burn's NdArray backend allocates a fresh buffer for every op's output. Buffers above glibc's
//! mmap threshold (128 KiB at start; a `(32, 64, 128)` f32 activation is 1 MiB) are mapped and
//! unmapped on every op, so each op pays page faults and page clearing for its whole output:
//! measured at ~25 % of a Mamba training step (B 32, L 64) on the CPU. Raising the thresholds
//! keeps freed buffers in the heap for reuse.

/// Raises glibc's mmap and trim thresholds to their maximum (32 MiB), so that the per-op
/// buffers of CPU training are recycled instead of mapped and unmapped. Call once at the start
/// of a program (the CLI, examples and benches do); a no-op on other platforms. Returns whether
/// the settings were applied.
pub fn tune_cpu_allocator() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const MAX: libc::c_int = 32 << 20;
        // SAFETY: mallopt only changes allocator parameters; it is safe to call at any time.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MAX) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, MAX) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}
