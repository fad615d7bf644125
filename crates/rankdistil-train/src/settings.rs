//! Reading TOML run configs into checked settings.
//!
//! A config is parsed (unknown keys are errors that list the valid ones; each loss's table is
//! checked as it is read) and then checked as a whole, once, here. The rest of the library
//! sees only configs that passed.

use std::path::Path;

use serde::de::DeserializeOwned;

/// A config with rules beyond its types.
pub trait Checked: DeserializeOwned {
    /// The first broken rule, naming the key (`[train] learning_rate = -1, expected ...`).
    fn check(&self) -> Result<(), String>;

    /// What changed, when `table` is an old form of this config that no longer parses.
    fn old_form(_table: &toml::Table) -> Option<String> {
        None
    }
}

/// Reads and checks a TOML config, naming the file in any error.
pub fn load<T: Checked>(path: &Path) -> crate::Result<T> {
    let text = std::fs::read_to_string(path).map_err(|source| crate::Error::Io {
        path: path.to_path_buf(),
        action: "cannot read the config".into(),
        source,
    })?;
    parse(&text).map_err(|problem| crate::Error::Config {
        file: path.to_path_buf(),
        problem,
    })
}

/// Parses and checks a TOML config's text. A parse error is one line: where, and what.
pub fn parse<T: Checked>(text: &str) -> Result<T, String> {
    let config: T = toml::from_str(text).map_err(|e| {
        let old = toml::from_str::<toml::Table>(text)
            .ok()
            .and_then(|t| T::old_form(&t));
        match (old, e.span()) {
            (Some(hint), _) => hint,
            (None, Some(span)) => {
                let line = key_line(text, span, e.message());
                format!("line {line}: {}", one_line(e.message()))
            }
            (None, None) => one_line(e.message()),
        }
    })?;
    config.check()?;
    Ok(config)
}

/// The line an error is at: the line of the key it names in backticks, when that key is set in
/// the table the span starts in (a table read as a whole, such as `[loss]`), else where the
/// span starts.
fn key_line(text: &str, span: std::ops::Range<usize>, message: &str) -> usize {
    let line_of = |at: usize| text[..at.min(text.len())].matches('\n').count() + 1;
    let key = message.split('`').nth(1).filter(|k| !k.is_empty());
    // The span may cover only the table's header: read on to the next header.
    let inside = text.get(span.start..).unwrap_or("");
    let mut at = span.start;
    for (i, l) in inside.split_inclusive('\n').enumerate() {
        if i > 0 && l.trim_start().starts_with('[') {
            break;
        }
        let named = key.is_some_and(|k| {
            l.trim_start()
                .strip_prefix(k)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        });
        if named {
            return line_of(at);
        }
        at += l.len();
    }
    line_of(span.start)
}

/// `text` with its line breaks as spaces.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `Ok` for a finite number above 0, else the error naming `key`.
pub fn positive(key: &str, value: f64) -> Result<(), String> {
    if value > 0.0 && value.is_finite() {
        Ok(())
    } else {
        Err(format!("{key} = {value}, expected a finite number > 0"))
    }
}

/// `Ok` for a share in `[0, 1)`, else the error naming `key`.
pub fn share(key: &str, value: f64) -> Result<(), String> {
    if (0.0..1.0).contains(&value) {
        Ok(())
    } else {
        Err(format!(
            "{key} = {value}, expected 0 <= {} < 1",
            key_name(key)
        ))
    }
}

/// The bare key of `[table] key`.
fn key_name(key: &str) -> &str {
    key.rsplit(' ').next().unwrap_or(key)
}

#[cfg(test)]
mod tests {
    use super::parse;
    use crate::list::config::DistillRunConfig;

    #[test]
    fn a_loss_tables_type_error_names_the_key_and_its_line() {
        let text = "[model]\nhidden = [4]\n\n[loss]\nmethod = \"coupled\"\n\nk = \"ten\"\n";
        let err = parse::<DistillRunConfig>(text).unwrap_err();
        assert_eq!(
            err,
            "line 7: `k`: invalid type: string \"ten\", expected usize"
        );
        let err = parse::<DistillRunConfig>("[loss]\nmethod = \"coupled\"\nkk = 3\n").unwrap_err();
        assert!(err.starts_with("line 3: unknown field `kk`"), "{err}");
    }
}
