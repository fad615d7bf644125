//! The library's one error type.
//!
//! Each variant is a kind of fault a caller may treat differently (the CLI gives a backend
//! that cannot run here exit status 2); its message is the one line a user reads, naming the
//! user's file and line, or the config key, and what was expected. [`Context`] adds what the
//! library was doing, so the rendered chain reads outside in: `context: cause: root`.

use std::fmt::Display;
use std::path::PathBuf;

use rankdistil_data::DataError;

use crate::backend::BackendError;
use crate::store::run_lock::RunLockError;

/// Everything the training library can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A config file that does not parse or breaks a rule: the problem names the line or the
    /// key, and what was expected.
    #[error("{}: {problem}", file.display())]
    Config { file: PathBuf, problem: String },
    /// A file or directory of the user's that cannot be read or written.
    #[error("{}: {action}", path.display())]
    Io {
        path: PathBuf,
        action: String,
        #[source]
        source: std::io::Error,
    },
    /// An I/O failure before any path is known (a closed stdout, for one).
    #[error(transparent)]
    Os(#[from] std::io::Error),
    /// Ranking data that does not read: names the file and line.
    #[error(transparent)]
    Data(#[from] DataError),
    /// A size refused before allocating it: what needs it, and how much there is.
    #[error("{0}")]
    Memory(String),
    /// A backend that cannot run on this machine.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// The device failed while running or reading back.
    #[error("{0}")]
    Device(String),
    /// Another process holds the run directory.
    #[error(transparent)]
    RunLock(#[from] RunLockError),
    /// A failure of the CPU kernel (a shape it was not built for).
    #[error(transparent)]
    Kernel(#[from] rankdistil_cpu::KernelError),
    /// JSON that does not read back, or cannot be written.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// TOML the library built or stored that does not read back.
    #[error(transparent)]
    TomlRead(#[from] toml::de::Error),
    /// A config that cannot be written as TOML.
    #[error(transparent)]
    TomlWrite(#[from] toml::ser::Error),
    /// A safetensors file that does not read, or cannot be written.
    #[error(transparent)]
    Safetensors(#[from] safetensors::SafeTensorError),
    /// A file that should be UTF-8 text and is not.
    #[error(transparent)]
    Utf8(#[from] std::string::FromUtf8Error),
    /// Any other refusal; the message says what, and where.
    #[error("{0}")]
    Invalid(String),
    /// `source`, with what the library was doing when it failed.
    #[error("{context}")]
    Context {
        context: String,
        #[source]
        source: Box<Error>,
    },
}

impl From<crate::device_counts::CounterError> for Error {
    fn from(e: crate::device_counts::CounterError) -> Self {
        Error::Device(e.to_string())
    }
}

/// `Result` with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A refusal worded by `message`.
    pub fn msg(message: impl Display) -> Self {
        Error::Invalid(message.to_string())
    }

    /// This error, or the innermost error under its contexts.
    pub fn root(&self) -> &Error {
        match self {
            Error::Context { source, .. } => source.root(),
            other => other,
        }
    }

    /// Whether the fault is a backend that cannot run here.
    pub fn is_backend(&self) -> bool {
        matches!(self.root(), Error::Backend(_))
    }

    /// Whether the fault is a reader that closed its end of a pipe (`score ... | head`).
    pub fn is_broken_pipe(&self) -> bool {
        match self.root() {
            Error::Os(e) | Error::Io { source: e, .. } => {
                e.kind() == std::io::ErrorKind::BrokenPipe
            }
            _ => false,
        }
    }
}

/// What the library was doing, added to an error as it passes up.
pub trait Context<T> {
    /// Wraps the error in `context`.
    fn context(self, context: impl Display) -> Result<T>;
    /// Wraps the error in the context `f` gives, built only on failure.
    fn with_context<C: Display>(self, f: impl FnOnce() -> C) -> Result<T>;
}

impl<T, E: Into<Error>> Context<T> for std::result::Result<T, E> {
    fn context(self, context: impl Display) -> Result<T> {
        self.map_err(|e| wrapped(e.into(), context))
    }

    fn with_context<C: Display>(self, f: impl FnOnce() -> C) -> Result<T> {
        self.map_err(|e| wrapped(e.into(), f()))
    }
}

impl<T> Context<T> for Option<T> {
    fn context(self, context: impl Display) -> Result<T> {
        self.ok_or_else(|| Error::msg(context))
    }

    fn with_context<C: Display>(self, f: impl FnOnce() -> C) -> Result<T> {
        self.ok_or_else(|| Error::msg(f()))
    }
}

fn wrapped(source: Error, context: impl Display) -> Error {
    Error::Context {
        context: context.to_string(),
        source: Box::new(source),
    }
}

/// An [`Error::Invalid`] worded as `format!` words it.
macro_rules! invalid {
    ($fmt:literal $($rest:tt)*) => {
        $crate::error::Error::Invalid(format!($fmt $($rest)*))
    };
    ($message:expr $(,)?) => {
        $crate::error::Error::msg($message)
    };
}

/// Returns an [`Error::Invalid`] worded as `format!` words it.
macro_rules! bail {
    ($($arg:tt)+) => {
        return Err($crate::error::invalid!($($arg)+).into())
    };
}

/// Returns an [`Error::Invalid`] unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            $crate::error::bail!($($arg)+);
        }
    };
}

pub(crate) use {bail, ensure, invalid};

/// `e` and its causes in one line, outside in, joined by ": ", leaving out a cause that its
/// wrapper already ends with (a data error that names the file, and the I/O error both).
pub fn one_line(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = String::new();
    let mut at = Some(e);
    while let Some(cause) = at {
        let part = cause.to_string();
        if !text.ends_with(&part) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&part);
        }
        at = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contexts_render_outside_in_and_keep_the_root() {
        let io = std::io::Error::new(std::io::ErrorKind::BrokenPipe, "pipe closed");
        let e = Err::<(), _>(io)
            .context("writing scores")
            .context("score")
            .unwrap_err();
        assert_eq!(one_line(&e), "score: writing scores: pipe closed");
        assert!(e.is_broken_pipe());
        assert!(!e.is_backend());
    }

    #[test]
    fn macros_word_the_message() {
        let f = |n: usize| -> Result<()> {
            ensure!(n > 1, "--steps = {n}, expected at least 2");
            bail!("never at {}", n)
        };
        assert_eq!(
            f(0).unwrap_err().to_string(),
            "--steps = 0, expected at least 2"
        );
        assert_eq!(f(3).unwrap_err().to_string(), "never at 3");
        assert_eq!(
            None::<u8>.context("no batch").unwrap_err().to_string(),
            "no batch"
        );
    }
}
