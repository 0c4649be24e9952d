//! SIGINT / SIGTERM during training: finish the step, checkpoint, stop with a message.
//!
//! Ctrl-C used to end a run at once, losing up to `checkpoint_every` steps, and Slurm sends
//! SIGTERM some time before its kill. After [`install`], the first SIGINT or SIGTERM only
//! raises a flag; the training loop checks it after every step ([`requested`]), writes a
//! checkpoint and returns [`crate::TrainError::Interrupted`], which the CLI reports with exit
//! code 128 + the signal number.
//!
//! A second SIGINT has its default effect (the handler is installed with `SA_RESETHAND`): a
//! second Ctrl-C ends a run that will not stop at once (e.g. in a long evaluation). A second
//! SIGTERM is only noted again: schedulers deliver SIGTERM more than once (Slurm signals every
//! process of a job step, and kleene's sbatch wrapper forwards the signal it gets to kleene as
//! well; see [`crate::slurm`]), and they follow with SIGKILL anyway if the process does not end.
//!
//! Only where the `libc` dependency is (Linux, glibc); elsewhere signals keep their defaults.
//! Library users who do not call [`install`] keep their own signal handling.

use std::sync::atomic::{AtomicI32, Ordering};

/// The signal received (0 = none).
static SIGNAL: AtomicI32 = AtomicI32::new(0);

#[cfg(all(target_os = "linux", target_env = "gnu"))]
extern "C" fn on_signal(signal: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    SIGNAL.store(signal, Ordering::SeqCst);
}

/// Makes SIGINT and SIGTERM request a checkpointed stop instead of ending the process.
/// Returns whether the handlers were installed.
pub fn install() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let mut ok = true;
        for (signal, reset) in [(libc::SIGINT, libc::SA_RESETHAND), (libc::SIGTERM, 0)] {
            // SAFETY: a zeroed sigaction with a handler that only stores to an atomic.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
                action.sa_flags = reset | libc::SA_RESTART;
                libc::sigemptyset(&mut action.sa_mask);
                ok &= libc::sigaction(signal, &action, std::ptr::null_mut()) == 0;
            }
        }
        ok
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

/// The signal that asked the run to stop, if one did.
pub fn requested() -> Option<i32> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// `SIGINT`, `SIGTERM`, or `signal N`.
pub fn signal_name(signal: i32) -> String {
    match signal {
        2 => "SIGINT".into(),
        15 => "SIGTERM".into(),
        n => format!("signal {n}"),
    }
}
