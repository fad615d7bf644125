//! Where a command writes its result: standard output, or a file that appears only when it is
//! complete (see [`atomic`](crate::store::atomic)), so a failed or killed run never leaves part
//! of a file under the name asked for.

use std::io::{BufWriter, Write};
use std::path::Path;

use crate::store::atomic::AtomicFile;

pub enum Output {
    Stdout(BufWriter<std::io::StdoutLock<'static>>),
    File(AtomicFile),
}

impl Output {
    /// A file at `path`, or standard output for `None`.
    pub fn open(path: Option<&Path>) -> std::io::Result<Self> {
        Ok(match path {
            Some(path) => Output::File(AtomicFile::create(path)?),
            None => Output::Stdout(BufWriter::new(std::io::stdout().lock())),
        })
    }

    /// Flushes standard output, or puts the file in place.
    pub fn finish(self) -> std::io::Result<()> {
        match self {
            Output::Stdout(mut out) => out.flush(),
            Output::File(file) => file.commit(),
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Output::Stdout(out) => out.write(buf),
            Output::File(file) => file.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Output::Stdout(out) => out.flush(),
            Output::File(file) => file.flush(),
        }
    }
}
