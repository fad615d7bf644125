use std::path::PathBuf;

/// Every way reading ranking data can fail. Messages name the file and line,
/// what was found and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Parse {
        path: PathBuf,
        line: u64,
        message: String,
    },
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
}

impl DataError {
    pub(crate) fn parse(path: &std::path::Path, line: u64, message: impl Into<String>) -> Self {
        DataError::Parse {
            path: path.to_path_buf(),
            line,
            message: message.into(),
        }
    }
}

/// `text` as an error message quotes it: at most [`QUOTE_CHARS`] characters, then how much was
/// cut, with control characters escaped so a NUL or an escape sequence never reaches the
/// terminal.
pub fn quoted(text: &str) -> String {
    let mut out = String::new();
    for (n, c) in text.chars().enumerate() {
        if n == QUOTE_CHARS {
            let rest = text.chars().count() - n;
            out.push_str(&format!("… ({rest} more characters)"));
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// How much of an input an error message quotes.
pub const QUOTE_CHARS: usize = 80;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_short_and_escape_control_bytes() {
        assert_eq!(quoted("abc"), "abc");
        assert_eq!(quoted("a\0b\x1b[2J"), "a\\u{0}b\\u{1b}[2J");
        let long = "x".repeat(10_000);
        let q = quoted(&long);
        assert!(q.starts_with(&"x".repeat(80)), "{q}");
        assert!(q.ends_with("… (9920 more characters)"), "{q}");
    }
}
