//! Where a command writes its result: standard output, or a file that appears only when it is
//! complete (written beside it as `<name>.tmp`, fsynced, then renamed into place), so a killed
//! run never leaves half a file under the name asked for.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

pub struct Output {
    sink: BufWriter<Box<dyn Write>>,
    /// (temporary, final) paths when writing to a file.
    file: Option<(PathBuf, PathBuf)>,
}

impl Output {
    /// A file at `path`, or standard output for `None`.
    pub fn open(path: Option<&Path>) -> anyhow::Result<Self> {
        let (sink, file): (Box<dyn Write>, _) = match path {
            Some(path) => {
                let mut name = path.file_name().unwrap_or_default().to_os_string();
                name.push(".tmp");
                let tmp = path.with_file_name(name);
                let f = std::fs::File::create(&tmp)
                    .with_context(|| format!("{}: cannot create", tmp.display()))?;
                (Box::new(f), Some((tmp, path.to_path_buf())))
            }
            None => (Box::new(std::io::stdout().lock()), None),
        };
        Ok(Self {
            sink: BufWriter::new(sink),
            file,
        })
    }

    /// Flushes, and puts a file in place.
    pub fn finish(mut self) -> anyhow::Result<()> {
        self.sink.flush()?;
        drop(self.sink);
        if let Some((tmp, path)) = self.file {
            std::fs::File::open(&tmp)?.sync_all()?;
            std::fs::rename(&tmp, &path)
                .with_context(|| format!("{}: cannot rename into place", path.display()))?;
        }
        Ok(())
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.sink.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.sink.flush()
    }
}
