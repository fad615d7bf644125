//! `--backend auto|ndarray|flex|wgpu|vulkan`: which device runs the tensors.
//!
//! `auto` takes a physical GPU when wgpu finds one and otherwise the CPU, saying why in one
//! line. It never lands on a software adapter such as llvmpipe. An explicit GPU backend on a
//! machine without one is an error (exit status 2), never a panic.

use std::fmt;

use burn::prelude::*;
use burn::tensor::DeviceKind;
use clap::ValueEnum;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum BackendChoice {
    /// A physical GPU through wgpu if there is one, else the CPU (ndarray).
    #[default]
    Auto,
    /// burn-ndarray on the CPU.
    Ndarray,
    /// burn-flex, the pure-Rust CPU backend that succeeds ndarray.
    Flex,
    /// wgpu on a physical GPU, graphics API chosen by wgpu.
    Wgpu,
    /// wgpu pinned to Vulkan (SPIR-V kernels).
    Vulkan,
}

/// What kind of adapter wgpu reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdapterKind {
    DiscreteGpu,
    IntegratedGpu,
    VirtualGpu,
    /// A software rasterizer (llvmpipe, lavapipe, SwiftShader).
    Software,
    Other,
}

/// One adapter wgpu enumerated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterSeen {
    pub name: String,
    pub kind: AdapterKind,
    pub api: String,
}

impl AdapterSeen {
    pub fn is_physical_gpu(&self) -> bool {
        matches!(
            self.kind,
            AdapterKind::DiscreteGpu | AdapterKind::IntegratedGpu
        )
    }
}

impl fmt::Display for AdapterSeen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            AdapterKind::DiscreteGpu => "discrete GPU",
            AdapterKind::IntegratedGpu => "integrated GPU",
            AdapterKind::VirtualGpu => "virtual GPU",
            AdapterKind::Software => "software",
            AdapterKind::Other => "other",
        };
        write!(f, "{} ({kind}, {})", self.name, self.api)
    }
}

/// Where the run will go, before any device is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Gpu {
        vulkan: bool,
        adapter: AdapterSeen,
        integrated: bool,
    },
    Cpu {
        flex: bool,
        /// Why `auto` fell back to the CPU, for the one-line notice.
        fallback_reason: Option<String>,
    },
}

/// A backend that cannot be used here; the CLI exits with status 2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BackendError(pub String);

fn describe(adapters: &[AdapterSeen]) -> String {
    if adapters.is_empty() {
        "wgpu found no adapter at all (no Vulkan/GL driver or loader)".into()
    } else {
        let names: Vec<String> = adapters.iter().map(ToString::to_string).collect();
        format!("wgpu found only {}", names.join(", "))
    }
}

/// Chooses the backend from the request and the adapters wgpu enumerated.
pub fn decide(choice: BackendChoice, adapters: &[AdapterSeen]) -> Result<Decision, BackendError> {
    let gpu = adapters
        .iter()
        .find(|a| a.kind == AdapterKind::DiscreteGpu)
        .or_else(|| {
            adapters
                .iter()
                .find(|a| a.kind == AdapterKind::IntegratedGpu)
        });
    let want_vulkan = choice == BackendChoice::Vulkan;
    let gpu_for = |vulkan: bool| {
        let pool: Vec<&AdapterSeen> = adapters
            .iter()
            .filter(|a| a.is_physical_gpu() && (!vulkan || a.api.eq_ignore_ascii_case("vulkan")))
            .collect();
        pool.iter()
            .find(|a| a.kind == AdapterKind::DiscreteGpu)
            .or_else(|| pool.first())
            .map(|a| (*a).clone())
    };
    match choice {
        BackendChoice::Ndarray => Ok(Decision::Cpu {
            flex: false,
            fallback_reason: None,
        }),
        BackendChoice::Flex => Ok(Decision::Cpu {
            flex: true,
            fallback_reason: None,
        }),
        BackendChoice::Auto => Ok(match gpu {
            Some(a) => Decision::Gpu {
                vulkan: false,
                integrated: a.kind == AdapterKind::IntegratedGpu,
                adapter: a.clone(),
            },
            None => Decision::Cpu {
                flex: false,
                fallback_reason: Some(format!(
                    "no physical GPU: {}; using the CPU backend (ndarray)",
                    describe(adapters)
                )),
            },
        }),
        BackendChoice::Wgpu | BackendChoice::Vulkan => match gpu_for(want_vulkan) {
            Some(a) => Ok(Decision::Gpu {
                vulkan: want_vulkan,
                integrated: a.kind == AdapterKind::IntegratedGpu,
                adapter: a,
            }),
            None => Err(BackendError(format!(
                "--backend {} needs a physical GPU{}, but {}. Use --backend auto or ndarray to run on the CPU",
                if want_vulkan { "vulkan" } else { "wgpu" },
                if want_vulkan {
                    " with a Vulkan driver"
                } else {
                    ""
                },
                describe(adapters)
            ))),
        },
    }
}

/// Lists the adapters wgpu can see, without opening any.
pub fn enumerate_adapters() -> Vec<AdapterSeen> {
    use burn::tensor::wgpu::wgpu;
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapters = block_on(instance.enumerate_adapters(wgpu::Backends::all()));
    adapters
        .iter()
        .map(|a| {
            let info = a.get_info();
            let kind = match info.device_type {
                wgpu::DeviceType::DiscreteGpu => AdapterKind::DiscreteGpu,
                wgpu::DeviceType::IntegratedGpu => AdapterKind::IntegratedGpu,
                wgpu::DeviceType::VirtualGpu => AdapterKind::VirtualGpu,
                wgpu::DeviceType::Cpu => AdapterKind::Software,
                wgpu::DeviceType::Other => AdapterKind::Other,
            };
            AdapterSeen {
                name: info.name,
                kind,
                api: format!("{:?}", info.backend),
            }
        })
        .collect()
}

/// Polls a future that native wgpu resolves without waiting.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::yield_now();
    }
}

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
    /// The largest activation buffer, in bytes, a step may allocate (see `memory`).
    pub buffer_budget: u64,
}

impl Backend {
    /// Lists are padded to a multiple of this many items: 32 on a GPU, to bound the distinct
    /// shapes that need kernel compilation and autotuning; 1 on the CPU.
    pub fn list_multiple(&self) -> usize {
        if self.is_gpu { 32 } else { 1 }
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
    match decide(choice, &adapters)? {
        Decision::Cpu {
            flex,
            fallback_reason,
        } => {
            if let Some(reason) = fallback_reason {
                eprintln!("backend: {reason}");
            }
            if flex {
                Ok(Backend {
                    device: Device::flex(),
                    name: "flex",
                    adapter: "CPU".into(),
                    is_gpu: false,
                    buffer_budget: u64::MAX,
                })
            } else {
                Ok(Backend::cpu())
            }
        }
        Decision::Gpu {
            vulkan,
            adapter,
            integrated,
        } => {
            let kind = if integrated {
                DeviceKind::IntegratedGpu(0)
            } else {
                DeviceKind::DiscreteGpu(0)
            };
            let mut options = Device::wgpu_options().device_kind(kind);
            if vulkan {
                options = options.graphics_api(burn::tensor::wgpu::WgpuBackend::Vulkan);
            }
            let device = options
                .init()
                .map_err(|e| BackendError(format!("cannot open {adapter} through wgpu: {e}")))?;
            Ok(Backend {
                device,
                name: if vulkan { "vulkan" } else { "wgpu" },
                adapter: adapter.name,
                is_gpu: true,
                buffer_budget: crate::memory::DEFAULT_GPU_BUDGET,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adapter(name: &str, kind: AdapterKind, api: &str) -> AdapterSeen {
        AdapterSeen {
            name: name.into(),
            kind,
            api: api.into(),
        }
    }

    #[test]
    fn parses_every_backend_name() {
        for (name, want) in [
            ("auto", BackendChoice::Auto),
            ("ndarray", BackendChoice::Ndarray),
            ("flex", BackendChoice::Flex),
            ("wgpu", BackendChoice::Wgpu),
            ("vulkan", BackendChoice::Vulkan),
        ] {
            assert_eq!(BackendChoice::from_str(name, false), Ok(want));
        }
        assert!(BackendChoice::from_str("cuda", false).is_err());
    }

    #[test]
    fn auto_takes_a_physical_gpu_over_software() {
        let seen = [
            adapter(
                "llvmpipe (LLVM 15.0.6, 256 bits)",
                AdapterKind::Software,
                "Vulkan",
            ),
            adapter("NVIDIA H100 80GB HBM3", AdapterKind::DiscreteGpu, "Vulkan"),
        ];
        match decide(BackendChoice::Auto, &seen).unwrap() {
            Decision::Gpu {
                adapter, vulkan, ..
            } => {
                assert_eq!(adapter.name, "NVIDIA H100 80GB HBM3");
                assert!(!vulkan);
            }
            other => panic!("expected the GPU, got {other:?}"),
        }
    }

    #[test]
    fn auto_never_lands_on_llvmpipe_and_says_why() {
        let seen = [adapter(
            "llvmpipe (LLVM 15.0.6, 256 bits)",
            AdapterKind::Software,
            "Vulkan",
        )];
        match decide(BackendChoice::Auto, &seen).unwrap() {
            Decision::Cpu {
                flex: false,
                fallback_reason: Some(reason),
            } => {
                assert!(reason.contains("no physical GPU"), "{reason}");
                assert!(
                    reason.contains("llvmpipe (LLVM 15.0.6, 256 bits) (software, Vulkan)"),
                    "{reason}"
                );
                assert!(reason.contains("ndarray"), "{reason}");
                assert!(!reason.contains('\n'), "one line");
            }
            other => panic!("expected the CPU fallback, got {other:?}"),
        }
        match decide(BackendChoice::Auto, &[]).unwrap() {
            Decision::Cpu {
                fallback_reason: Some(reason),
                ..
            } => assert!(reason.contains("no adapter at all"), "{reason}"),
            other => panic!("expected the CPU fallback, got {other:?}"),
        }
    }

    #[test]
    fn explicit_gpu_without_one_is_an_error_naming_the_adapters() {
        let seen = [adapter("llvmpipe", AdapterKind::Software, "Gl")];
        let err = decide(BackendChoice::Wgpu, &seen).unwrap_err().0;
        assert!(
            err.starts_with("--backend wgpu needs a physical GPU"),
            "{err}"
        );
        assert!(err.contains("llvmpipe (software, Gl)"), "{err}");
        // A GPU reachable only through GL does not satisfy --backend vulkan.
        let gl_only = [adapter("AMD Radeon", AdapterKind::DiscreteGpu, "Gl")];
        assert!(decide(BackendChoice::Wgpu, &gl_only).is_ok());
        let err = decide(BackendChoice::Vulkan, &gl_only).unwrap_err().0;
        assert!(err.contains("with a Vulkan driver"), "{err}");
    }

    #[test]
    fn cpu_backends_need_no_adapter() {
        assert_eq!(
            decide(BackendChoice::Flex, &[]).unwrap(),
            Decision::Cpu {
                flex: true,
                fallback_reason: None
            }
        );
        assert_eq!(
            decide(BackendChoice::Ndarray, &[]).unwrap(),
            Decision::Cpu {
                flex: false,
                fallback_reason: None
            }
        );
    }
}
