//! Process CPU time for the length-scaling bench groups (shared by the zoo benches; a module,
//! not a bench target). On a shared machine the time spent waiting for a core swamps wall-time
//! ratios; CPU time of all threads is the work done (run with `RAYON_NUM_THREADS=1`, idle rayon
//! workers spin).

use std::time::Duration;

use criterion::Bencher;

/// CPU time of this process (all threads), nanosecond resolution.
pub fn process_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `clock_gettime` writes one `timespec` through the valid pointer; the process
    // CPU-time clock always exists on Linux and macOS.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID) failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Times `f` in process CPU time.
pub fn iter_cpu<F: FnMut()>(b: &mut Bencher, mut f: F) {
    b.iter_custom(|iters| {
        let start = process_cpu_time();
        for _ in 0..iters {
            f();
        }
        process_cpu_time() - start
    });
}
