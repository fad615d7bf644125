//! `--backend auto|ndarray|flex|wgpu|vulkan`: which device runs the tensors, and what a run
//! needs to know of it (its name and adapter, its buffer budget, the batch padding its kernels
//! want, where its compiled kernels are kept).

mod adapters;
mod decide;
mod kernel_cache;

use std::path::PathBuf;

use burn::prelude::*;
use burn::tensor::DeviceKind;
use burn::tensor::wgpu::WgpuBackend;
use rankdistil_data::Padding;

use crate::progress::notice;

pub use adapters::enumerate_adapters;
pub use decide::{
    AdapterKind, AdapterSeen, BackendChoice, BackendError, Decision, SOFTWARE_GPU_VAR, decide,
    software_gpu_allowed,
};

/// An opened device and how to describe it in logs.
#[derive(Debug, Clone)]
pub struct Backend {
    /// The inference device; `device.clone().autodiff()` is the training device.
    pub device: Device,
    /// `ndarray`, `flex`, `wgpu` or `vulkan`.
    pub name: &'static str,
    /// The adapter, e.g. "NVIDIA H100 80GB HBM3", or "CPU".
    pub adapter: String,
    pub is_gpu: bool,
    /// The largest buffer, in bytes, a step may allocate (see [`crate::memory`]).
    pub buffer_budget: u64,
    /// Where compiled kernels and autotune results persist across runs, on a GPU.
    pub kernel_cache: Option<PathBuf>,
    /// Whether training steps run the MLP scorer on `rankdistil-cpu`'s hand-written kernel
    /// (flex), rather than through Burn's autodiff.
    pub cpu_kernel: bool,
}

impl Backend {
    /// How batches of `lists` lists are padded: on a GPU to a few shapes, since each new shape
    /// costs a kernel compilation and an autotune run; on the CPU not at all.
    pub fn padding(&self, lists: usize) -> Padding {
        if self.is_gpu {
            Padding::buckets(lists)
        } else {
            Padding::NONE
        }
    }

    pub fn training_device(&self) -> Device {
        self.device.clone().autodiff()
    }

    pub fn cpu() -> Self {
        #[allow(deprecated)] // ndarray is the CPU backend the user asked for; flex is offered too
        let device = Device::ndarray();
        Backend {
            device,
            name: "ndarray",
            adapter: "CPU".into(),
            is_gpu: false,
            buffer_budget: u64::MAX,
            kernel_cache: None,
            cpu_kernel: false,
        }
    }
}

/// Opens the backend for `choice`, printing the one-line fallback notice when `auto` lands on
/// the CPU.
pub fn open(choice: BackendChoice) -> Result<Backend, BackendError> {
    let adapters = match choice {
        BackendChoice::Ndarray | BackendChoice::Flex => Vec::new(),
        _ => enumerate_adapters(),
    };
    match decide(choice, &adapters, decide::software_gpu_allowed())? {
        Decision::Cpu {
            flex,
            fallback_reason,
        } => {
            if let Some(reason) = fallback_reason {
                notice!("backend: {reason}");
            }
            if flex {
                Ok(Backend {
                    device: Device::flex(),
                    name: "flex",
                    cpu_kernel: true,
                    ..Backend::cpu()
                })
            } else {
                Ok(Backend::cpu())
            }
        }
        Decision::Gpu { vulkan, adapter } => open_gpu(vulkan, adapter),
    }
}

/// Opens the wgpu device `decide` chose. A software adapter is opened through GL, with
/// autotuning at its minimal level: its timings say nothing of a GPU's.
fn open_gpu(vulkan: bool, adapter: AdapterSeen) -> Result<Backend, BackendError> {
    let software = adapter.kind == AdapterKind::Software;
    let kind = match adapter.kind {
        AdapterKind::IntegratedGpu => DeviceKind::IntegratedGpu(0),
        AdapterKind::Software => DeviceKind::Cpu,
        _ => DeviceKind::DiscreteGpu(0),
    };
    let kernel_cache = kernel_cache::enable(software);
    let mut options = Device::wgpu_options().device_kind(kind);
    if vulkan {
        options = options.graphics_api(WgpuBackend::Vulkan);
    } else if software {
        options = options.graphics_api(WgpuBackend::Gl);
    }
    let device = options
        .init()
        .map_err(|e| BackendError(format!("cannot open {adapter} through wgpu: {e}")))?;
    Ok(Backend {
        device,
        name: if vulkan { "vulkan" } else { "wgpu" },
        buffer_budget: crate::memory::gpu_budget(adapter.max_buffer),
        adapter: adapter.name,
        is_gpu: true,
        kernel_cache,
        cpu_kernel: false,
    })
}
