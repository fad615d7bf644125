//! Progress on stderr, in one style for every long loop: a bar on a terminal, and elsewhere (a
//! log, CI) a plain line now and then, so a long step is never silent.

mod event;

use std::cell::Cell;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

pub use event::{Event, Reached, Valid, emit, read as read_events, record_to as record_events_to};

/// Prints one line of progress, or a notice, to stderr: the one place the library writes to the
/// terminal, so there is one thing to redirect.
macro_rules! notice {
    ($($arg:tt)*) => {
        $crate::progress::line(::std::format_args!($($arg)*))
    };
}
pub(crate) use notice;

/// The line [`notice!`] prints.
pub(crate) fn line(text: std::fmt::Arguments<'_>) {
    eprintln!("{text}");
}

/// Says what a long step is starting when stderr is not a terminal (a log, CI), where nothing
/// else would show it; on a terminal the bars and tables already do.
macro_rules! logged {
    ($($arg:tt)*) => {
        if !::std::io::IsTerminal::is_terminal(&::std::io::stderr()) {
            $crate::progress::line(::std::format_args!($($arg)*));
        }
    };
}
pub(crate) use logged;

/// How often a loop's plain progress line repeats when stderr is not a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(10);

/// Progress through `len` steps of one loop: an indicatif bar on a terminal, plain lines
/// every 10 s elsewhere.
pub(crate) struct Progress {
    bar: ProgressBar,
    plain: Option<Plain>,
}

impl Progress {
    /// `len` steps counted in `unit` ("batches", "users"), labelled `prefix`.
    pub(crate) fn new(len: u64, prefix: String, unit: &str) -> Self {
        if !std::io::stderr().is_terminal() {
            return Self {
                bar: ProgressBar::hidden(),
                plain: Some(Plain::new(len, prefix, unit, Instant::now())),
            };
        }
        let bar = ProgressBar::new(len);
        bar.set_style(
            ProgressStyle::with_template(&format!(
                "{{prefix}} [{{bar:30}}] {{pos}}/{{len}} {unit} {{elapsed_precise}} eta {{eta}}"
            ))
            .expect("a valid template")
            .progress_chars("=> "),
        );
        bar.set_prefix(prefix);
        Self { bar, plain: None }
    }

    /// Shows nothing.
    pub(crate) fn hidden() -> Self {
        Self {
            bar: ProgressBar::hidden(),
            plain: None,
        }
    }

    pub(crate) fn inc(&self, steps: u64) {
        self.bar.inc(steps);
        if let Some(line) = self
            .plain
            .as_ref()
            .and_then(|p| p.advance(steps, Instant::now()))
        {
            notice!("{line}");
        }
    }

    /// Clears the bar; a plain loop prints nothing more.
    pub(crate) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// The plain lines' state: where the loop is, and when it last said so.
struct Plain {
    len: u64,
    prefix: String,
    unit: String,
    pos: Cell<u64>,
    started: Instant,
    said: Cell<Instant>,
}

impl Plain {
    fn new(len: u64, prefix: String, unit: &str, now: Instant) -> Self {
        Self {
            len,
            prefix,
            unit: unit.into(),
            pos: Cell::new(0),
            started: now,
            said: Cell::new(now),
        }
    }

    /// Counts `steps` done at `now`; the line to print, once [`PLAIN_EVERY`] has passed since
    /// the last (a loop shorter than that prints none).
    fn advance(&self, steps: u64, now: Instant) -> Option<String> {
        self.pos.set(self.pos.get() + steps);
        if now.duration_since(self.said.get()) < PLAIN_EVERY {
            return None;
        }
        self.said.set(now);
        Some(format!(
            "{}: {}/{} {} after {:.0}s",
            self.prefix,
            self.pos.get(),
            self.len,
            self.unit,
            now.duration_since(self.started).as_secs_f64()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines_come_every_ten_seconds_with_the_position() {
        let t0 = Instant::now();
        let plain = Plain::new(100, "evaluation".into(), "users", t0);
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert_eq!(plain.advance(10, at(3)), None);
        assert_eq!(
            plain.advance(10, at(10)).as_deref(),
            Some("evaluation: 20/100 users after 10s")
        );
        assert_eq!(plain.advance(30, at(19)), None);
        assert_eq!(
            plain.advance(5, at(21)).as_deref(),
            Some("evaluation: 55/100 users after 21s")
        );
    }
}
