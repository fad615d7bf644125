//! The one way rankdistil writes a file.
//!
//! The bytes go to a temporary file in the target's directory; on [`AtomicFile::commit`] it is
//! fsynced, renamed over the target, and the directory is fsynced so the rename itself survives
//! a crash. A kill at any moment leaves the old file or the new one, never half of one, and a
//! writer dropped before `commit` (an error, a panic) removes its temporary file.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::fault;

/// A file that appears under its name only when complete.
pub struct AtomicFile {
    sink: BufWriter<NamedTempFile>,
    path: PathBuf,
}

/// `"<path>: <what>: <cause>"`, so an I/O error names the file it concerns, never the
/// temporary one (tempfile's own errors add `at path "…/.name.XXXX.tmp"`).
fn at(path: &Path, what: &str) -> impl FnOnce(io::Error) -> io::Error {
    let text = format!("{}: {what}", path.display());
    move |e| {
        let cause = e.raw_os_error().map_or(e, io::Error::from_raw_os_error);
        io::Error::new(cause.kind(), format!("{text}: {cause}"))
    }
}

fn directory_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

impl AtomicFile {
    /// Starts writing `path`: a hidden temporary file beside it, until [`Self::commit`].
    pub fn create(path: &Path) -> io::Result<Self> {
        if path.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                format!("{}: is a directory, expected a file path", path.display()),
            ));
        }
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let prefix = format!(".{name}.");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".tmp");
        // A temporary file is private (0600), and its mode survives the rename: give it the
        // mode any created file gets, 0666 less the umask, so others can read what is served.
        #[cfg(unix)]
        builder.permissions(
            <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o666),
        );
        let tmp = builder
            .tempfile_in(directory_of(path))
            .map_err(at(path, "cannot create a temporary file beside it"))?;
        Ok(Self {
            sink: BufWriter::new(tmp),
            path: path.to_path_buf(),
        })
    }

    /// The temporary file's path, for writers that insist on opening a path themselves.
    pub fn temporary_path(&self) -> &Path {
        self.sink.get_ref().path()
    }

    /// Flushes and fsyncs the file, renames it over the target, and fsyncs the directory.
    pub fn commit(self) -> io::Result<()> {
        let path = self.path;
        let fault = fault::at_commit(&path);
        if fault == Some(fault::Fault::Full) {
            return Err(at(&path, "cannot write")(io::Error::from_raw_os_error(28)));
        }
        let tmp = self
            .sink
            .into_inner()
            .map_err(|e| e.into_error())
            .map_err(at(&path, "cannot write"))?;
        tmp.as_file().sync_all().map_err(at(&path, "cannot sync"))?;
        tmp.persist(&path)
            .map_err(|e| e.error)
            .map_err(at(&path, "cannot rename into place"))?;
        sync_directory(directory_of(&path))?;
        if fault == Some(fault::Fault::AbortAfter) {
            std::process::abort();
        }
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.sink.write(buf).map_err(at(&self.path, "cannot write"))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.sink.flush().map_err(at(&self.path, "cannot write"))
    }
}

/// A write that is not a file's commit (an export's directory swap) has happened at `path`:
/// the fault tests can kill the process here too, or trace it, as after a commit.
pub fn wrote(path: &Path) {
    if fault::at_commit(path) == Some(fault::Fault::AbortAfter) {
        std::process::abort();
    }
}

/// Makes a rename in `dir` durable. Some file systems cannot fsync a directory; the rename has
/// still happened there, so only a real I/O failure is an error.
fn sync_directory(dir: &Path) -> io::Result<()> {
    match File::open(dir).and_then(|d| d.sync_all()) {
        Err(e) if e.kind() == io::ErrorKind::InvalidInput => Ok(()),
        other => other.map_err(at(dir, "cannot sync the directory")),
    }
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = AtomicFile::create(path)?;
    file.write_all(bytes)?;
    file.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_appears_only_on_commit_and_an_abandoned_one_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        std::fs::write(&path, "old").unwrap();
        let mut file = AtomicFile::create(&path).unwrap();
        file.write_all(b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        file.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");

        let mut abandoned = AtomicFile::create(&dir.path().join("never.txt")).unwrap();
        abandoned.write_all(b"half").unwrap();
        drop(abandoned);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["out.txt"]);
    }

    #[cfg(unix)]
    #[test]
    fn files_get_the_mode_a_plain_create_gives() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        File::create(dir.path().join("plain")).unwrap();
        write_atomic(&dir.path().join("atomic"), b"x").unwrap();
        assert_eq!(
            mode(&dir.path().join("atomic")),
            mode(&dir.path().join("plain"))
        );
    }

    #[test]
    fn a_directory_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_atomic(dir.path(), b"x").unwrap_err().to_string();
        assert!(
            err.ends_with("is a directory, expected a file path"),
            "{err}"
        );
        assert!(err.starts_with(&dir.path().display().to_string()), "{err}");
    }
}
