//! Temporary files a killed writer left behind. Every file goes through
//! [`atomic`](crate::store::atomic), whose temporary names are `.<name>.<random>.tmp`; once the
//! directory is locked for this process (see [`run_lock`](crate::store::run_lock)), any such
//! file belongs to a writer that is gone.

use std::path::Path;

/// Whether `name` is one of [`atomic`](crate::store::atomic)'s temporary names.
pub fn is_temporary(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(".tmp") && name.len() > ".x..tmp".len()
}

/// Removes the temporary files directly inside `dir` and its `subdirs`; returns how many.
pub fn remove_temporaries(dir: &Path, subdirs: &[&str]) -> usize {
    std::iter::once(dir.to_path_buf())
        .chain(subdirs.iter().map(|s| dir.join(s)))
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flat_map(|entries| entries.flatten())
        .filter(|e| is_temporary(&e.file_name().to_string_lossy()))
        .filter(|e| std::fs::remove_file(e.path()).is_ok())
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_atomic_temporaries_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("checkpoint")).unwrap();
        let files = [
            ".metrics.jsonl.cdDJF4.tmp",
            "checkpoint/.state.json.Ab12Cd.tmp",
            "metrics.jsonl",
            ".lock",
            "notes.tmp",
        ];
        for f in files {
            std::fs::write(dir.path().join(f), "x").unwrap();
        }
        assert_eq!(remove_temporaries(dir.path(), &["checkpoint"]), 2);
        for (f, kept) in files.iter().zip([false, false, true, true, true]) {
            assert_eq!(dir.path().join(f).exists(), kept, "{f}");
        }
    }
}
