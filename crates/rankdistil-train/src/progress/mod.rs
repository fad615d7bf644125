//! Progress bars on stderr, in one style for every long loop. indicatif hides them when
//! stderr is not a terminal, so logs and CI output stay clean.

mod event;

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

/// A bar of `len` steps counted in `unit` ("batches", "users"), labelled `prefix`.
pub fn bar(len: u64, prefix: String, unit: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{prefix}} [{{bar:30}}] {{pos}}/{{len}} {unit} {{elapsed_precise}} eta {{eta}}"
        ))
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar.set_prefix(prefix);
    bar
}
