//! One writer per run directory: an advisory lock on `<dir>/.lock`, held for the life of the
//! command that writes the directory (`train`, `distill`, `compare`, `catalog`, `study`,
//! `teacher-cache`). Readers (`eval`, `export`, `plot`) never take it, so they never block.
//!
//! The lock is the operating system's (`flock` on Unix, through `std::fs::File::try_lock`):
//! it is released when the process ends, however it ends, so a killed run never leaves a stale
//! lock behind. The holder's pid is written into the file only to name it in the refusal.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The lock file's name inside a run directory.
pub const LOCK_FILE: &str = ".lock";

/// Why a run directory could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum RunLockError {
    #[error(
        "{dir}: another rankdistil process (pid {holder}) is writing this directory; wait for it to finish or choose another --out"
    )]
    Held { dir: PathBuf, holder: String },
    #[error("{dir}: cannot lock the directory: {source}")]
    Io {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The held lock; dropping it releases the directory. When nothing was written there, it also
/// removes what it made: the lock file, the directory and any parents it created (a refused
/// run leaves nothing behind, not even an empty `runs/`).
#[derive(Debug)]
pub struct RunLock {
    file: Option<File>,
    dir: PathBuf,
    /// The directories `acquire` created, deepest first.
    created: Vec<PathBuf>,
    /// Whether `acquire` created the lock file.
    created_lock: bool,
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let only_the_lock = || {
            std::fs::read_dir(&self.dir)
                .map(|entries| entries.flatten().all(|e| e.file_name() == LOCK_FILE))
                .unwrap_or(false)
        };
        if self.created_lock && only_the_lock() {
            let _ = std::fs::remove_file(self.dir.join(LOCK_FILE));
            // Each only if empty: remove_dir refuses a directory with anything in it.
            for dir in &self.created {
                let _ = std::fs::remove_dir(dir);
            }
        }
        drop(self.file.take());
    }
}

impl RunLock {
    /// Creates `dir` if needed and locks it, or says which process holds it.
    pub fn acquire(dir: &Path) -> Result<Self, RunLockError> {
        let io = |source| RunLockError::Io {
            dir: dir.to_path_buf(),
            source,
        };
        let created: Vec<PathBuf> = dir
            .ancestors()
            .filter(|a| !a.as_os_str().is_empty())
            .take_while(|a| !a.exists())
            .map(Path::to_path_buf)
            .collect();
        let created_lock = !dir.join(LOCK_FILE).exists();
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join(LOCK_FILE))
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = match holder.trim() {
                    "" => "unknown".to_string(),
                    pid => pid.to_string(),
                };
                return Err(RunLockError::Held {
                    dir: dir.to_path_buf(),
                    holder,
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        write!(file, "{}", std::process::id()).map_err(io)?;
        file.flush().map_err(io)?;
        Ok(Self {
            file: Some(file),
            dir: dir.to_path_buf(),
            created,
            created_lock,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_is_refused_with_the_holders_pid_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let first = RunLock::acquire(&run).unwrap();
        let err = RunLock::acquire(&run).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "{}: another rankdistil process (pid {}) is writing this directory; wait for it to finish or choose another --out",
                run.display(),
                std::process::id()
            )
        );
        drop(first);
        assert!(
            !run.exists(),
            "a directory it created and nothing wrote is removed"
        );
        let again = RunLock::acquire(&run).unwrap();
        std::fs::write(run.join("metrics.jsonl"), "").unwrap();
        drop(again);
        assert!(run.join("metrics.jsonl").exists(), "a written one is kept");
    }

    #[test]
    fn a_lock_that_wrote_nothing_leaves_nothing_it_made() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("runs/deep/run");
        drop(RunLock::acquire(&run).unwrap());
        assert!(
            !dir.path().join("runs").exists(),
            "the parents it created go too"
        );
        let kept = dir.path().join("kept");
        std::fs::create_dir(&kept).unwrap();
        drop(RunLock::acquire(&kept).unwrap());
        assert!(kept.exists(), "a directory it found stays");
        assert!(!kept.join(LOCK_FILE).exists(), "its lock file goes");
    }
}
