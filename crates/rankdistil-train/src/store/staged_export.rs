//! An export replaced as a whole. It is built in a hidden sibling directory; its `config.json`
//! then records the SHA-256 of every other file in it, and the directory is swapped into place
//! in one rename. A reader sees the old export or the new one, and one that reads the config
//! of one and the weights of the other is refused by the digests (see [`crate::store::digests::verify`]).

use std::path::{Path, PathBuf};

use crate::error::{Context, bail};

use crate::store::digests::{DIGESTS_KEY, sha256_hex};
use crate::store::export_files::EXPORT_CONFIG;

/// An export being built; nothing at `out` changes until [`Self::commit`].
pub struct StagedExport {
    staging: tempfile::TempDir,
    out: PathBuf,
}

impl StagedExport {
    /// Starts an export to `out`, which must be new, empty or an earlier export.
    pub fn begin(out: &Path) -> crate::Result<Self> {
        if out.exists() {
            let is_export = out.join(EXPORT_CONFIG).is_file();
            let empty = std::fs::read_dir(out)
                .with_context(|| format!("{}: cannot read", out.display()))?
                .next()
                .is_none();
            if !out.is_dir() || !(is_export || empty) {
                bail!(
                    "{}: exists and is not a rankdistil export (no {EXPORT_CONFIG}); choose a new or empty directory for --out",
                    out.display()
                );
            }
        }
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        std::fs::create_dir_all(parent)
            .with_context(|| format!("{}: cannot create", parent.display()))?;
        let name = out.file_name().unwrap_or_default().to_string_lossy();
        remove_abandoned(parent, &name);
        let staging = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".tmp")
            .tempdir_in(parent)
            .with_context(|| format!("{}: cannot create the export beside it", out.display()))?;
        Ok(Self {
            staging,
            out: out.to_path_buf(),
        })
    }

    /// Builds an export at `out` with `write`, which fills the directory it is given; errors
    /// name `out`, never the staging directory.
    pub fn build<T>(out: &Path, write: impl FnOnce(&Path) -> crate::Result<T>) -> crate::Result<T> {
        let staged = Self::begin(out)?;
        let staging = staged.dir().to_path_buf();
        let value = write(&staging).map_err(|e| renamed(&e, &staging, out))?;
        staged.commit()?;
        Ok(value)
    }

    /// Where the export's files are written until [`Self::commit`].
    pub fn dir(&self) -> &Path {
        self.staging.path()
    }

    /// Records the digests in `config.json` and puts the export in place of any old one.
    pub fn commit(self) -> crate::Result<()> {
        let out = &self.out;
        record_digests(self.staging.path(), out)?;
        let staged = self.staging.keep();
        let replaced = swap_into_place(&staged, out).inspect_err(|_| {
            let _ = std::fs::remove_dir_all(&staged);
        })?;
        crate::store::atomic::wrote(out);
        // `staged` now holds the old export, if there was one.
        if replaced {
            std::fs::remove_dir_all(&staged).with_context(|| {
                format!("{}: cannot remove the replaced export", staged.display())
            })?;
        }
        let parent = out.parent().filter(|p| !p.as_os_str().is_empty());
        if let Ok(d) = std::fs::File::open(parent.unwrap_or(Path::new("."))) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

/// Removes the staging directories of exports to `parent/name` that were killed before their
/// commit.
fn remove_abandoned(parent: &Path, name: &str) {
    let prefix = format!(".{name}.");
    for e in std::fs::read_dir(parent).into_iter().flatten().flatten() {
        let file = e.file_name().to_string_lossy().into_owned();
        if file.starts_with(&prefix) && file.ends_with(".tmp") && e.path().is_dir() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Adds [`DIGESTS_KEY`] to the staged `config.json`: every other file's SHA-256.
fn record_digests(staged: &Path, out: &Path) -> crate::Result<()> {
    let config_path = staged.join(EXPORT_CONFIG);
    let text = std::fs::read_to_string(&config_path)
        .with_context(|| format!("{}: cannot read", out.join(EXPORT_CONFIG).display()))?;
    let mut config: serde_json::Value = serde_json::from_str(&text)?;
    let mut digests = serde_json::Map::new();
    let mut names: Vec<String> = std::fs::read_dir(staged)?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != EXPORT_CONFIG)
        .collect();
    names.sort();
    for name in names {
        let bytes = std::fs::read(staged.join(&name))
            .with_context(|| format!("{}: cannot read", out.join(&name).display()))?;
        digests.insert(name, sha256_hex(&bytes).into());
    }
    config[DIGESTS_KEY] = digests.into();
    let text = serde_json::to_string_pretty(&config)?;
    crate::store::atomic::write_atomic(&config_path, text.as_bytes())
        .map_err(|e| renamed(&e.into(), staged, out))?;
    Ok(())
}

/// An I/O error about a staged file, named by the file the user asked for.
fn renamed(e: &crate::Error, staged: &Path, out: &Path) -> crate::Error {
    let text =
        crate::error::one_line(e).replace(&*staged.to_string_lossy(), &out.to_string_lossy());
    crate::error::invalid!(text)
}

/// Puts `staged` at `out`. With an old export there, the two are exchanged in one rename
/// (`renameat2(RENAME_EXCHANGE)` on Linux), so `out` always holds a whole export; returns
/// whether there was one (now at `staged`).
fn swap_into_place(staged: &Path, out: &Path) -> crate::Result<bool> {
    let cannot = |e: std::io::Error| {
        crate::error::invalid!("{}: cannot put the export in place: {e}", out.display())
    };
    if !out.exists() {
        std::fs::rename(staged, out).map_err(cannot)?;
        return Ok(false);
    }
    exchange(staged, out).map_err(cannot)?;
    Ok(true)
}

#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).map_err(std::io::Error::other);
    let (a, b) = (c(a)?, c(b)?);
    // SAFETY: both are valid NUL-terminated paths that outlive the call.
    let r = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    match r {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}

/// Elsewhere: the old export moves aside, then the new one takes its name. A kill between the
/// two renames leaves no export at `out` (refused by name), never a mixed one.
#[cfg(not(target_os = "linux"))]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    let aside = a.with_extension("old");
    std::fs::rename(b, &aside)?;
    std::fs::rename(a, b)?;
    std::fs::rename(&aside, a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::digests::verify;

    fn export(out: &Path, weights: &str) {
        let staged = StagedExport::begin(out).unwrap();
        std::fs::write(staged.dir().join("model.bin"), weights).unwrap();
        std::fs::write(
            staged.dir().join(EXPORT_CONFIG),
            "{\"weights\": \"model.bin\"}",
        )
        .unwrap();
        staged.commit().unwrap();
    }

    fn config(out: &Path) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(out.join(EXPORT_CONFIG)).unwrap()).unwrap()
    }

    #[test]
    fn an_export_replaces_the_old_one_whole_and_pairs_by_digest() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("e");
        export(&out, "old");
        let old = config(&out);
        export(&out, "new");
        let new = config(&out);
        assert_eq!(
            std::fs::read_to_string(out.join("model.bin")).unwrap(),
            "new"
        );
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, ["e"], "nothing staged is left beside it");
        let path = out.join(EXPORT_CONFIG);
        verify(&new, &path, "model.bin", b"new").unwrap();
        let err = verify(&old, &path, "model.bin", b"new")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!(
                "{}: model.bin does not match the digest this config records; the weights and the config come from different exports (replaced while being read?); read it again, or export again",
                path.display()
            )
        );
        assert_eq!(new[DIGESTS_KEY]["model.bin"], sha256_hex(b"new"));
    }

    #[test]
    fn a_directory_that_is_not_an_export_is_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("notes.txt"), "mine").unwrap();
        let err = StagedExport::begin(dir.path()).err().unwrap().to_string();
        assert!(err.ends_with("exists and is not a rankdistil export (no config.json); choose a new or empty directory for --out"), "{err}");
    }
}
