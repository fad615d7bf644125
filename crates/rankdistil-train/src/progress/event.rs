//! The milestones of a run as typed events: each prints its line to stderr, as every notice
//! does, and, once [`record_to`] names a file, is also appended to it as one JSON line. Scripts
//! and tests read that file instead of parsing the human text, which may change.

use std::fmt;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// A milestone of a training run or study. `run` names the run as its progress lines do
/// (`catalog: sampled seed 1`, `teacher`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// An epoch ended; `valid` is the selection metric when the run validates.
    Epoch {
        run: String,
        epoch: usize,
        epochs: usize,
        loss: f64,
        valid: Option<Valid>,
        seconds: f64,
    },
    /// A run finished training.
    Trained { run: String, seconds: f64 },
    /// A run picked up its checkpoint and goes on after `epoch`.
    Resumed {
        run: String,
        epoch: usize,
        step: u64,
        best_epoch: Option<usize>,
    },
    /// A finished model was loaded from `from` instead of trained.
    Reused {
        run: String,
        from: PathBuf,
        metrics: Option<Reached>,
    },
    /// The teacher's top-p cache was read from `path`, or written to it in `seconds`.
    TopPCache {
        p: usize,
        path: PathBuf,
        written_in: Option<f64>,
    },
    /// A study trained and measured one run.
    StudyRun {
        phase: String,
        method: String,
        seed: u64,
        knobs: String,
        size: Option<String>,
        valid_ndcg10: Option<f64>,
        test_ndcg10: Option<f64>,
        seconds: f64,
    },
}

/// An epoch's validation: the selection metric, and whether it is the best so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Valid {
    pub metric: String,
    pub value: f64,
    pub improved: bool,
}

/// A reused catalog model's recorded metrics.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Reached {
    pub ndcg_at_10: f64,
    pub recall_at_20: f64,
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Epoch {
                run,
                epoch,
                epochs,
                loss,
                valid,
                seconds,
            } => {
                write!(f, "{run} epoch {epoch}/{epochs}: loss {loss:.4}")?;
                if let Some(v) = valid {
                    let star = if v.improved { " *" } else { "" };
                    write!(f, ", valid {} {:.4}{star}", v.metric, v.value)?;
                }
                write!(f, " ({seconds:.1}s)")
            }
            Event::Trained { run, seconds } => write!(f, "{run} trained in {seconds:.1}s"),
            Event::Resumed {
                run,
                epoch,
                step,
                best_epoch,
            } => {
                write!(f, "{run}: resuming after epoch {epoch} (step {step}")?;
                if let Some(b) = best_epoch {
                    write!(f, ", best epoch {b}")?;
                }
                write!(f, ")")
            }
            Event::Reused { run, from, metrics } => {
                write!(f, "{run} reused from {}", from.display())?;
                match metrics {
                    Some(m) => write!(
                        f,
                        ": NDCG@10 {:.4}, Recall@20 {:.4}",
                        m.ndcg_at_10, m.recall_at_20
                    ),
                    None => Ok(()),
                }
            }
            Event::TopPCache {
                p,
                path,
                written_in: None,
            } => write!(
                f,
                "catalog: teacher top-{p} cache reused from {}",
                path.display()
            ),
            Event::TopPCache {
                p,
                path,
                written_in: Some(s),
            } => write!(
                f,
                "catalog: teacher top-{p} cache written to {} ({s:.2}s)",
                path.display()
            ),
            Event::StudyRun { .. } => self.fmt_study_run(f),
        }
    }
}

impl Event {
    fn fmt_study_run(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Event::StudyRun {
            phase,
            method,
            seed,
            knobs,
            size,
            valid_ndcg10,
            test_ndcg10,
            seconds,
        } = self
        else {
            unreachable!("called on a study run")
        };
        write!(f, "study: {phase} {method} seed {seed} {knobs}")?;
        if let Some(s) = size {
            write!(f, " {s}")?;
        }
        let measured = [("valid", valid_ndcg10), ("test", test_ndcg10)]
            .into_iter()
            .filter_map(|(split, v)| v.map(|v| format!("{split} ndcg@10 {v:.4}")))
            .collect::<Vec<_>>();
        write!(f, ": {} ({seconds:.1}s)", measured.join(", "))
    }
}

/// Where events are appended as JSON lines, once [`record_to`] names a file.
/// Where events go: nowhere, a file not opened until the first event (so a run refused before
/// any leaves no file behind), or the open file.
enum Sink {
    Off,
    Pending(std::path::PathBuf),
    Open(File),
}

static SINK: Mutex<Sink> = Mutex::new(Sink::Off);

/// Appends every later event to `path` as one JSON line each. The file (and its directory) is
/// created at the first event.
pub fn record_to(path: &Path) -> crate::Result<()> {
    if path.is_dir() {
        let source = std::io::Error::new(std::io::ErrorKind::IsADirectory, "is a directory");
        return Err(io_error(path, "cannot record events", source));
    }
    *SINK.lock().unwrap_or_else(|p| p.into_inner()) = Sink::Pending(path.to_path_buf());
    Ok(())
}

/// Opens a pending events file, creating its directory.
fn open(path: &Path) -> std::io::Result<File> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    File::options().create(true).append(true).open(path)
}

fn io_error(path: &Path, action: &str, source: std::io::Error) -> crate::Error {
    crate::Error::Io {
        path: path.to_path_buf(),
        action: action.into(),
        source,
    }
}

/// Prints `event`'s line and records it. A failed record write ends the recording with one
/// notice, rather than the run: the events are a view of the run, not part of its result.
pub fn emit(event: Event) {
    super::line(format_args!("{event}"));
    let mut sink = SINK.lock().unwrap_or_else(|p| p.into_inner());
    if let Sink::Pending(path) = &*sink {
        *sink = match open(path) {
            Ok(file) => Sink::Open(file),
            Err(e) => {
                super::line(format_args!(
                    "{}: cannot open the events file ({e}); no events recorded",
                    path.display()
                ));
                Sink::Off
            }
        };
    }
    if let Sink::Open(file) = &mut *sink {
        let mut line = serde_json::to_string(&event).expect("events serialise");
        line.push('\n');
        // One write per line, so a killed run leaves whole lines behind.
        if let Err(e) = file.write_all(line.as_bytes()) {
            super::line(format_args!(
                "events file: write failed ({e}); no more events recorded"
            ));
            *sink = Sink::Off;
        }
    }
}

/// Reads the events recorded in `path`; a last line the run was killed while writing is left
/// out.
pub fn read(path: &Path) -> crate::Result<Vec<Event>> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| io_error(path, "cannot read the events file", source))?;
    let whole = text.rfind('\n').map_or("", |end| &text[..end]);
    whole
        .lines()
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|e| crate::Error::Config {
                file: path.to_path_buf(),
                problem: format!("line {}: not an event ({e})", i + 1),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_prints_the_progress_line_and_round_trips_as_json() {
        let event = Event::Epoch {
            run: "catalog: sampled seed 1".into(),
            epoch: 2,
            epochs: 60,
            loss: 1.23456,
            valid: Some(Valid {
                metric: "ndcg@10".into(),
                value: 0.5,
                improved: true,
            }),
            seconds: 0.25,
        };
        assert_eq!(
            event.to_string(),
            "catalog: sampled seed 1 epoch 2/60: loss 1.2346, valid ndcg@10 0.5000 * (0.2s)"
        );
        let json = serde_json::to_string(&event).unwrap();
        assert!(json.starts_with(r#"{"event":"epoch","run":"catalog: sampled seed 1""#));
        assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), event);
    }

    #[test]
    fn a_study_run_prints_what_it_measured() {
        let event = Event::StudyRun {
            phase: "Tune".into(),
            method: "coupled".into(),
            seed: 3,
            knobs: "lr=0.01".into(),
            size: Some("dim 8".into()),
            valid_ndcg10: Some(0.41234),
            test_ndcg10: None,
            seconds: 1.04,
        };
        assert_eq!(
            event.to_string(),
            "study: Tune coupled seed 3 lr=0.01 dim 8: valid ndcg@10 0.4123 (1.0s)"
        );
    }
}
