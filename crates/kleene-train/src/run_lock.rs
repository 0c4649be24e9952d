//! The lock of a run directory: one process writes a run at a time.
//!
//! `RUN_DIR/.lock` holds the owner's pid and host and an exclusive `flock` for as long as the
//! owner trains. A second process finds the lock held and gets an error naming the owner. The
//! kernel drops a `flock` when its process dies, however it dies, so a lock file left by a dead
//! process is never held: the next run takes it over and says whose it was. A clean exit
//! removes the file (while still holding the lock; the acquire loop below re-checks that the
//! file it locked is still the one at the path, so no two processes can both win).
//!
//! Only on Unix (`flock`); elsewhere runs are not locked.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use crate::TrainError;

/// A held run-directory lock; released (and its file removed) on drop.
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
    /// Holds the flock; `None` where runs are not locked.
    file: Option<File>,
}

/// `pid host` of this process, as written into the lock file.
fn owner() -> String {
    let host = fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown-host".into());
    format!("pid {} on host {host}", std::process::id())
}

impl RunLock {
    /// Takes the lock of `run_dir` (which must exist), or fails naming the owner that holds
    /// it. A lock file left by a dead process is taken over with a message on stderr.
    pub fn acquire(run_dir: &Path) -> Result<Self, TrainError> {
        let path = run_dir.join(".lock");
        #[cfg(unix)]
        {
            use std::fs::OpenOptions;
            use std::io::{Read, Seek, Write};
            use std::os::unix::fs::MetadataExt;
            use std::os::unix::io::AsRawFd;
            loop {
                let mut file = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .open(&path)
                    .map_err(|e| TrainError::io(&path, e))?;
                // A probe ([`RunLock::holder`], e.g. `kleene sweep status`) holds a shared lock
                // for a moment: try a few times before calling the run taken.
                let mut failure = None;
                for attempt in 0..PROBE_RETRIES {
                    // SAFETY: flock on a file descriptor this function owns.
                    let rc =
                        unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
                    failure = (rc != 0).then(std::io::Error::last_os_error);
                    let busy =
                        failure.as_ref().and_then(|e| e.raw_os_error()) == Some(libc::EWOULDBLOCK);
                    if !busy || attempt + 1 == PROBE_RETRIES {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                let mut previous = String::new();
                let _ = file.read_to_string(&mut previous);
                if let Some(err) = failure {
                    if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
                        return Err(TrainError::RunLocked {
                            path: run_dir.to_path_buf(),
                            owner: previous.trim().to_string(),
                        });
                    }
                    return Err(TrainError::io(&path, err));
                }
                // The holder we waited on may have removed the file before we locked it: then
                // our lock is on an unlinked file; start again on the path's current file.
                let same = match fs::metadata(&path) {
                    Ok(m) => {
                        m.ino() == file.metadata().map_err(|e| TrainError::io(&path, e))?.ino()
                    }
                    Err(_) => false,
                };
                if !same {
                    continue;
                }
                if !previous.trim().is_empty() {
                    eprintln!(
                        "note: {} was left by a process that is gone ({}); taking it over",
                        path.display(),
                        previous.trim()
                    );
                }
                file.set_len(0).map_err(|e| TrainError::io(&path, e))?;
                file.rewind().map_err(|e| TrainError::io(&path, e))?;
                writeln!(file, "{}", owner()).map_err(|e| TrainError::io(&path, e))?;
                file.sync_all().map_err(|e| TrainError::io(&path, e))?;
                return Ok(Self {
                    path,
                    file: Some(file),
                });
            }
        }
        #[cfg(not(unix))]
        Ok(Self { path, file: None })
    }

    /// Who holds the lock of `run_dir` right now (the lock file's `pid .. on host ..` line),
    /// or `None` when nobody does: no lock file, or one left by a process that is gone.
    /// Probes with a shared lock released at once; [`RunLock::acquire`] retries past it.
    pub fn holder(run_dir: &Path) -> Option<String> {
        #[cfg(unix)]
        {
            use std::io::Read;
            use std::os::unix::io::AsRawFd;
            let mut file = File::open(run_dir.join(".lock")).ok()?;
            // SAFETY: flock on a file descriptor this function owns.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) };
            if rc == 0 {
                // SAFETY: as above; dropping the file would release it too.
                unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_UN) };
                return None;
            }
            let mut owner = String::new();
            let _ = file.read_to_string(&mut owner);
            Some(owner.trim().to_string())
        }
        #[cfg(not(unix))]
        {
            let _ = run_dir;
            None
        }
    }
}

/// How often [`RunLock::acquire`] tries a lock that is held before giving up (20 ms apart).
const PROBE_RETRIES: usize = 10;

impl Drop for RunLock {
    fn drop(&mut self) {
        if self.file.is_some() {
            // Removed while still locked, so a process waiting on this file re-checks the path.
            let _ = fs::remove_file(&self.path);
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_refuses_a_second_writer_naming_the_owner() {
        let tmp = tempfile::tempdir().unwrap();
        let first = RunLock::acquire(tmp.path()).unwrap();
        let err = RunLock::acquire(tmp.path()).unwrap_err().to_string();
        assert!(err.contains("another kleene process"), "{err}");
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(first);
        assert!(
            !tmp.path().join(".lock").exists(),
            "a clean release removes the file"
        );
        let _again = RunLock::acquire(tmp.path()).unwrap();
    }

    #[test]
    fn holder_names_a_live_owner_only() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(RunLock::holder(tmp.path()), None, "no lock file");
        let lock = RunLock::acquire(tmp.path()).unwrap();
        assert_eq!(RunLock::holder(tmp.path()), Some(owner()));
        drop(lock);
        std::fs::write(tmp.path().join(".lock"), "pid 999999 on host elsewhere\n").unwrap();
        assert_eq!(RunLock::holder(tmp.path()), None, "a dead owner's file");
        // A probe does not keep the lock: acquire right after it succeeds.
        let _again = RunLock::acquire(tmp.path()).unwrap();
    }

    #[test]
    fn a_lock_file_of_a_dead_process_is_taken_over() {
        let tmp = tempfile::tempdir().unwrap();
        // What a killed run leaves: the file, with nobody holding its flock.
        std::fs::write(tmp.path().join(".lock"), "pid 999999 on host elsewhere\n").unwrap();
        let lock = RunLock::acquire(tmp.path()).unwrap();
        let text = std::fs::read_to_string(tmp.path().join(".lock")).unwrap();
        assert_eq!(text.trim(), owner());
        drop(lock);
    }
}
