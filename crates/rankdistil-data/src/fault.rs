//! Fault injection for the fault tests (`crates/rankdistil/tests/cli/faults.rs`), compiled only
//! with the `fault-injection` feature, which the CLI's tests turn on: a release build reads no
//! such variable and cannot be made to abort. Under the feature one environment variable drives
//! it: `RANKDISTIL_FAULT=abort-after:<file>[#n]` aborts the process (as a kill would) right after
//! the n-th commit (default 1st) of a path ending in `<file>`, `RANKDISTIL_FAULT=full-at:<file>[#n]`
//! fails that commit as a full disk does, and `RANKDISTIL_FAULT=trace:<log>` appends every
//! commit's path to `<log>`, so the tests find each write point of a command without listing
//! them by hand.

#[cfg(not(feature = "fault-injection"))]
use std::path::Path;

/// What a commit does instead of succeeding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    AbortAfter,
    Full,
}

/// The fault due at this commit of `path`: never, without the feature.
#[cfg(not(feature = "fault-injection"))]
pub(crate) fn at_commit(_path: &Path) -> Option<Fault> {
    None
}

#[cfg(feature = "fault-injection")]
pub(crate) use injected::at_commit;

#[cfg(feature = "fault-injection")]
mod injected {
    use std::path::Path;
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::Fault;

    const VAR: &str = "RANKDISTIL_FAULT";

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Kind {
        At(Fault),
        /// Only the trace: the commit goes ahead.
        Trace,
    }

    struct Spec {
        kind: Kind,
        file: String,
        nth: usize,
    }

    fn parse(text: &str) -> Option<Spec> {
        let (name, target) = text.split_once(':')?;
        let kind = match name {
            "abort-after" => Kind::At(Fault::AbortAfter),
            "full-at" => Kind::At(Fault::Full),
            "trace" => Kind::Trace,
            _ => return None,
        };
        if kind == Kind::Trace {
            let (file, nth) = (target.to_string(), 0);
            return Some(Spec { kind, file, nth });
        }
        let (file, nth) = match target.rsplit_once('#') {
            Some((file, n)) => (file, n.parse().ok()?),
            None => (target, 1),
        };
        Some(Spec {
            kind,
            file: file.to_string(),
            nth,
        })
    }

    /// The fault due at this commit of `path`, if any.
    pub(crate) fn at_commit(path: &Path) -> Option<Fault> {
        static SPEC: OnceLock<Option<Spec>> = OnceLock::new();
        static SEEN: AtomicUsize = AtomicUsize::new(0);
        let spec = SPEC
            .get_or_init(|| std::env::var(VAR).ok().and_then(|v| parse(&v)))
            .as_ref()?;
        let Kind::At(fault) = spec.kind else {
            trace(&spec.file, path);
            return None;
        };
        if !path.ends_with(&spec.file) {
            return None;
        }
        let seen = SEEN.fetch_add(1, Ordering::SeqCst) + 1;
        (seen == spec.nth).then_some(fault)
    }

    /// Appends `path` to the trace `log`; a trace that cannot be written fails the test that
    /// reads it, so the error is not the writer's to report.
    fn trace(log: &str, path: &Path) {
        use std::io::Write;
        let line = format!("{}\n", path.display());
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log);
        if let Ok(mut f) = file {
            let _ = f.write_all(line.as_bytes());
        }
    }
}
