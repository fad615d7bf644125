/// Why the kernel refused a call.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KernelError {
    /// Layer widths that do not chain, or weights of the wrong length.
    #[error("MLP layer {layer}: {reason}")]
    Shape { layer: usize, reason: String },
    /// An input whose length is not `rows × d_input`, or gradients of the wrong length.
    #[error("{what}: expected {expected} values, got {got}")]
    Length {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    /// A dropout the kernel cannot run.
    #[error("dropout: {0}")]
    Dropout(String),
    /// A backward pass with no forward of the same rows and network before it.
    #[error("backward over {rows} rows without a forward of the same rows and network")]
    NoForward { rows: usize },
    /// The saved activations would not fit in memory.
    #[error("cannot allocate {bytes} bytes for the MLP's saved activations ({rows} rows)")]
    Memory { bytes: u128, rows: usize },
}
