//! What a stretch of GPU work costs the host, counted exactly rather than timed: kernel
//! launches, read-backs, queue submits, first launches of a kernel (each one a compilation, or
//! a load from the persistent kernel cache) and fusion blocks.
//!
//! Counts do not depend on the card, so they are taken on the software adapter (Mesa's
//! llvmpipe through wgpu's GL backend, [`crate::backend::SOFTWARE_GPU_VAR`]) and hold on a real
//! GPU. The hooks are the runtime's own:
//! - launches: CubeCL's `LaunchObserver`, called on the issuing thread before each launch;
//! - new kernels: CubeCL's `LaunchedKernels`, by the kernel's stable hash;
//! - fusion blocks: burn-fusion's `FusionObserver`;
//! - bytes uploaded: the same observer, from each tensor created from host data (an `Init`
//!   operation: every `Tensor::from_data` on a fusion backend registers one);
//! - read-backs and submits: wgpu-core's API trace (`Buffer::map_async`, `Queue::submit`),
//!   read through the `log` crate.
//!
//! Fusion runs lazily, so bracket what is counted with [`Device::sync`](burn::prelude::Device).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use burn::backend::fusion::observer::{BlockOperations, FusionObservation, FusionObserver};
use burn::backend::ir::OperationIr;
use burn::cubecl::launched::LaunchedKernels;
use burn::cubecl::logging::{LaunchObservation, LaunchObserver};

use crate::progress::notice;

/// What one counted stretch of work did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Kernels issued.
    pub launches: usize,
    /// Device-to-host reads (`Buffer::map_async`): each waits for the queue to drain.
    pub read_backs: usize,
    /// `Queue::submit` calls.
    pub submits: usize,
    /// Kernels launched for the first time in this process: each was compiled, or loaded from
    /// the kernel cache.
    pub compiles: usize,
    /// Blocks the fusion server ran, and how many of them fused more than one operation.
    pub fusion_blocks: usize,
    pub fused_blocks: usize,
    /// Bytes of host data made into device tensors: what the host uploaded.
    pub uploaded: usize,
}

impl std::ops::Sub for Counts {
    type Output = Counts;
    fn sub(self, o: Counts) -> Counts {
        Counts {
            launches: self.launches - o.launches,
            read_backs: self.read_backs - o.read_backs,
            submits: self.submits - o.submits,
            compiles: self.compiles - o.compiles,
            fusion_blocks: self.fusion_blocks - o.fusion_blocks,
            fused_blocks: self.fused_blocks - o.fused_blocks,
            uploaded: self.uploaded - o.uploaded,
        }
    }
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, o: Counts) {
        self.launches += o.launches;
        self.read_backs += o.read_backs;
        self.submits += o.submits;
        self.compiles += o.compiles;
        self.fusion_blocks += o.fusion_blocks;
        self.fused_blocks += o.fused_blocks;
        self.uploaded += o.uploaded;
    }
}

/// The process-wide tallies the hooks add to.
#[derive(Default)]
struct Tallies {
    launches: AtomicUsize,
    read_backs: AtomicUsize,
    submits: AtomicUsize,
    fusion_blocks: AtomicUsize,
    fused_blocks: AtomicUsize,
    uploaded: AtomicUsize,
}

static TALLIES: Tallies = Tallies {
    launches: AtomicUsize::new(0),
    read_backs: AtomicUsize::new(0),
    submits: AtomicUsize::new(0),
    fusion_blocks: AtomicUsize::new(0),
    fused_blocks: AtomicUsize::new(0),
    uploaded: AtomicUsize::new(0),
};

struct Launches;

/// The environment variable that prints every counted launch's kernel to stderr, to find
/// which operations a count comes from.
pub const LAUNCH_LOG_VAR: &str = "RANKDISTIL_LAUNCH_LOG";

/// Whether [`LAUNCH_LOG_VAR`] is `1`.
pub fn launch_log() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os(LAUNCH_LOG_VAR).is_some_and(|v| v == "1"))
}

impl LaunchObserver for Launches {
    fn launched(&self, kernel: &'static str) {
        TALLIES.launches.fetch_add(1, Ordering::Relaxed);
        if launch_log() {
            notice!("launch: {kernel}");
        }
    }
}

struct Blocks;

impl FusionObserver for Blocks {
    fn registered(&self, operation: &OperationIr) {
        if let OperationIr::Init(init) = operation {
            let bytes = init.out.shape.num_elements() * init.out.dtype.size();
            TALLIES.uploaded.fetch_add(bytes, Ordering::Relaxed);
        }
    }

    fn block_starts(&self, block: BlockOperations<'_>) {
        TALLIES.fusion_blocks.fetch_add(1, Ordering::Relaxed);
        if block.iter().len() > 1 {
            TALLIES.fused_blocks.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn block_ran(&self) {}
}

/// Reads wgpu-core's API trace. It is the process's `log` logger, so it is installed once.
struct ApiTrace;

impl log::Log for ApiTrace {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.target().starts_with("wgpu_core")
    }

    fn log(&self, record: &log::Record) {
        if !record.target().starts_with("wgpu_core") {
            return;
        }
        let text = record.args().to_string();
        if text.starts_with("Buffer::map_async") {
            TALLIES.read_backs.fetch_add(1, Ordering::Relaxed);
        } else if text == "Queue::submit" {
            TALLIES.submits.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn flush(&self) {}
}

static TRACE_INSTALLED: AtomicBool = AtomicBool::new(false);

/// `work`'s result and how many distinct kernels it launched, on any thread and device: each
/// was compiled (autotune candidates included) or loaded from the kernel cache. Cheap enough
/// to wrap a whole run.
pub fn distinct_kernels<T>(work: impl FnOnce() -> T) -> (T, usize) {
    let collecting = LaunchedKernels::new();
    let out = work();
    (out, collecting.finish().len())
}

/// The error when another `log` logger already owns the process.
#[derive(Debug, thiserror::Error)]
#[error("cannot count read-backs: another logger is installed in this process")]
pub struct CounterError;

/// Counts from [`Counter::new`] until it drops. One at a time: the hooks are process-wide.
pub struct Counter {
    _launches: LaunchObservation,
    _blocks: FusionObservation,
    /// Every kernel launched since the counter started, by stable hash.
    seen: Mutex<HashSet<u128>>,
}

impl Counter {
    /// Installs the hooks. Work done before this is not counted, and kernels it launched count
    /// as new the first time they launch under the counter: start it before the first step.
    pub fn new() -> Result<Self, CounterError> {
        if !TRACE_INSTALLED.swap(true, Ordering::SeqCst) {
            log::set_logger(&ApiTrace).map_err(|_| CounterError)?;
        }
        log::set_max_level(log::LevelFilter::Trace);
        Ok(Self {
            _launches: LaunchObservation::new(Arc::new(Launches)),
            _blocks: FusionObservation::new(Arc::new(Blocks)),
            seen: Mutex::new(HashSet::new()),
        })
    }

    /// Counts `work`, which should end with a device sync so that its lazily fused kernels
    /// run inside the count.
    pub fn count<T>(&self, work: impl FnOnce() -> T) -> (T, Counts) {
        let before = snapshot();
        let collecting = LaunchedKernels::new();
        let out = work();
        let launched = collecting.finish();
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let compiles = launched.into_iter().filter(|k| seen.insert(*k)).count();
        let counts = Counts {
            compiles,
            ..snapshot() - before
        };
        (out, counts)
    }
}

impl Drop for Counter {
    fn drop(&mut self) {
        log::set_max_level(log::LevelFilter::Off);
    }
}

fn snapshot() -> Counts {
    let r = |a: &AtomicUsize| a.load(Ordering::Relaxed);
    Counts {
        launches: r(&TALLIES.launches),
        read_backs: r(&TALLIES.read_backs),
        submits: r(&TALLIES.submits),
        compiles: 0,
        fusion_blocks: r(&TALLIES.fusion_blocks),
        fused_blocks: r(&TALLIES.fused_blocks),
        uploaded: r(&TALLIES.uploaded),
    }
}
