//! Reading TOML run configs into checked settings.
//!
//! A config is parsed (unknown keys are errors that list the valid ones; each loss's table is
//! checked as it is read) and then checked as a whole, once, here. The rest of the library
//! sees only configs that passed.

use std::path::Path;

use serde::de::DeserializeOwned;

/// What a config file is for: each command reads one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigKind {
    Teacher,
    Student,
    Compare,
    Quickstart,
    Catalog,
    Study,
}

impl ConfigKind {
    /// The kind's name, the command that reads it, and a config of it that ships.
    fn describe(self) -> (&'static str, &'static str, &'static str) {
        match self {
            ConfigKind::Teacher => ("teacher", "train", "configs/teacher.toml"),
            ConfigKind::Student => ("student", "distill", "configs/distill-coupled.toml"),
            ConfigKind::Compare => ("compare", "compare", "configs/compare.toml"),
            ConfigKind::Quickstart => ("quickstart", "quickstart", "configs/quickstart.toml"),
            ConfigKind::Catalog => ("catalog", "catalog", "configs/catalog-ml100k.toml"),
            ConfigKind::Study => ("study", "study", "configs/study/ml1m.toml"),
        }
    }

    /// The kind `table` says it is, by the keys only that kind has; `None` when it says
    /// nothing for sure.
    pub fn detect(table: &toml::Table) -> Option<Self> {
        let loss = table.get("loss");
        let study = ["subject", "tuning", "sweep", "method"];
        if study.iter().any(|k| table.contains_key(*k)) {
            Some(ConfigKind::Study)
        } else if table.contains_key("methods") {
            Some(ConfigKind::Catalog)
        } else if table.get("student").is_some_and(toml::Value::is_table) {
            Some(ConfigKind::Quickstart)
        } else if loss.is_some_and(toml::Value::is_array) {
            Some(ConfigKind::Compare)
        } else if loss.is_some_and(toml::Value::is_str) {
            Some(ConfigKind::Teacher)
        } else if loss.is_some_and(toml::Value::is_table) {
            Some(ConfigKind::Student)
        } else {
            None
        }
    }

    /// The refusal of a config of kind `found` where one of `self` is read.
    fn refusal(self, found: ConfigKind) -> String {
        let (name, _, example) = self.describe();
        let (found_name, found_command, _) = found.describe();
        let (_, command, _) = self.describe();
        format!(
            "this is a {found_name} config (for `{found_command}`); `{command}` takes a {name} config such as {example}"
        )
    }
}

/// A config with rules beyond its types.
pub trait Checked: DeserializeOwned {
    /// The kind of config this is.
    const KIND: ConfigKind;

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
    let found = toml::from_str::<toml::Table>(&text)
        .ok()
        .and_then(|t| ConfigKind::detect(&t));
    let problem = match found {
        Some(kind) if kind != T::KIND => Err(T::KIND.refusal(kind)),
        _ => parse(&text),
    };
    problem.map_err(|problem| crate::Error::Config {
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

/// The one rule for a learning rate, wherever a config or a study knob sets one: `key` names
/// it in the error (`[train] learning_rate`, `search.learning_rate`).
pub fn learning_rate(key: &str, value: f64) -> Result<(), String> {
    positive(key, value)
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
    use super::{ConfigKind, parse};
    use crate::list::config::DistillRunConfig;

    /// The kind a shipped config's name says it is.
    fn named_kind(name: &str) -> ConfigKind {
        let base = name.trim_start_matches("gl-");
        match base {
            _ if base.ends_with("teacher.toml") || base.starts_with("teacher") => {
                ConfigKind::Teacher
            }
            _ if base.starts_with("distill") => ConfigKind::Student,
            _ if base.starts_with("compare") => ConfigKind::Compare,
            _ if base.starts_with("quickstart") => ConfigKind::Quickstart,
            _ if base.starts_with("catalog") => ConfigKind::Catalog,
            _ => ConfigKind::Study,
        }
    }

    /// Every shipped config is detected as the kind its command reads, so none is refused as
    /// another kind.
    #[test]
    fn every_shipped_config_is_detected_as_its_kind() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
        let mut seen = 0;
        for dir in ["", "ci", "study"] {
            for entry in std::fs::read_dir(root.join(dir)).expect("configs/") {
                let path = entry.expect("a directory entry").path();
                if path.extension().is_none_or(|e| e != "toml") {
                    continue;
                }
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                let table: toml::Table = toml::from_str(&std::fs::read_to_string(&path).unwrap())
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let expected = match dir {
                    "study" if !name.ends_with("teacher.toml") => ConfigKind::Study,
                    _ => named_kind(&name),
                };
                assert_eq!(
                    ConfigKind::detect(&table),
                    Some(expected),
                    "{}",
                    path.display()
                );
                seen += 1;
            }
        }
        assert!(seen >= 30, "only {seen} configs");
    }

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
