//! Process-wide allocator settings for CPU training.
//!
//! Burn's NdArray backend allocates a fresh buffer for every op's output. Buffers above glibc's
//! mmap threshold (128 KiB at start; a `(32, 64, 128)` f32 activation is 1 MiB) are mapped and
//! unmapped on every op, so each op pays page faults and page clearing for its whole output:
//! measured at ~25 % of a Mamba training step (B 32, L 64) on the CPU. Raising the thresholds
//! keeps freed buffers in the heap for reuse.

/// Raises glibc's mmap threshold to its maximum (32 MiB) and its trim threshold to 1 GiB, so
/// that the per-op buffers of CPU training are recycled instead of mapped and unmapped, or
/// returned to the kernel at the end of every step and faulted in again at the next (with a
/// 32 MiB trim threshold that cost 20 % of a Mamba step at L = 1024, where a step frees several
/// 16 MiB activations at once). The price: up to 1 GiB of freed heap stays with the process.
/// Call once at the start of a program (the CLI, examples and benches do); a no-op on other
/// platforms. Returns whether the settings were applied.
pub fn tune_cpu_allocator() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const MMAP_MAX: libc::c_int = 32 << 20;
        const TRIM: libc::c_int = 1 << 30;
        // SAFETY: mallopt only changes allocator parameters; it is safe to call at any time.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_MAX) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}
