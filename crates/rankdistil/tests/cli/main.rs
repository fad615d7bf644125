//! The `rankdistil` binary end to end, one module per area, in one test binary (so that Burn is
//! linked once). `util` runs the binary and reads what it printed.

mod bad_input;
mod catalog;
mod export;
mod faults;
mod misc;
mod mistakes;
mod onnx;
mod resume;
mod study;
mod teacher_scores;
mod util;
