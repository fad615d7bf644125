//! Which backend a `--backend` choice lands on, from the adapters wgpu enumerated, before any
//! device is opened.
//!
//! `auto` takes a physical GPU when wgpu finds one and otherwise the CPU, saying why in one
//! line. It never lands on a software adapter such as llvmpipe. An explicit GPU backend on a
//! machine without one is an error (exit status 2), never a panic, unless
//! [`SOFTWARE_GPU_VAR`] is set: then `--backend wgpu` opens a software GL adapter (Mesa's
//! llvmpipe), so CI can run the GPU path's kernels and count them without a GPU.

use std::fmt;

/// Which backend runs the tensors (the CLI's `--backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendChoice {
    /// A physical GPU through wgpu if there is one, else the CPU (flex).
    #[default]
    Auto,
    /// burn-ndarray on the CPU (deprecated in Burn 0.22, gone in 0.23; flex is faster).
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
    /// The largest buffer it can bind to a kernel: the lesser of wgpu's `max_buffer_size` and
    /// `max_storage_buffer_binding_size`.
    pub max_buffer: u64,
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

/// The environment variable that lets `--backend wgpu` open a software GL adapter. It is for
/// CI and for counting kernels, not a user flag: llvmpipe is far slower than the CPU backends.
pub const SOFTWARE_GPU_VAR: &str = "RANKDISTIL_SOFTWARE_GPU";

/// Whether [`SOFTWARE_GPU_VAR`] is set to `1`.
pub fn software_gpu_allowed() -> bool {
    std::env::var_os(SOFTWARE_GPU_VAR).is_some_and(|v| v == "1")
}

/// Where the run will go, before any device is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Gpu {
        vulkan: bool,
        /// Its kind says which device to open: discrete, integrated, or (only through
        /// [`SOFTWARE_GPU_VAR`]) a software GL adapter.
        adapter: AdapterSeen,
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

/// A software adapter `--backend wgpu` may open under [`SOFTWARE_GPU_VAR`]: one reached
/// through GL (wgpu's Vulkan backend on lavapipe crashes in pipeline creation).
fn software_gl(adapters: &[AdapterSeen]) -> Option<AdapterSeen> {
    adapters
        .iter()
        .find(|a| a.kind == AdapterKind::Software && a.api.eq_ignore_ascii_case("gl"))
        .cloned()
}

/// Chooses the backend from the request and the adapters wgpu enumerated; `software_gpu` is
/// [`software_gpu_allowed`].
pub fn decide(
    choice: BackendChoice,
    adapters: &[AdapterSeen],
    software_gpu: bool,
) -> Result<Decision, BackendError> {
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
                adapter: a.clone(),
            },
            None => Decision::Cpu {
                flex: true,
                fallback_reason: Some(format!(
                    "no physical GPU: {}; using the CPU backend (flex)",
                    describe(adapters)
                )),
            },
        }),
        BackendChoice::Wgpu | BackendChoice::Vulkan => {
            let software = (software_gpu && !want_vulkan)
                .then(|| software_gl(adapters))
                .flatten();
            match gpu_for(want_vulkan).or(software) {
                Some(a) => Ok(Decision::Gpu {
                    vulkan: want_vulkan,
                    adapter: a,
                }),
                None => Err(BackendError(format!(
                    "--backend {} needs a physical GPU{}, but {}. Use --backend auto or flex to run on the CPU",
                    if want_vulkan { "vulkan" } else { "wgpu" },
                    if want_vulkan {
                        " with a Vulkan driver"
                    } else {
                        ""
                    },
                    describe(adapters)
                ))),
            }
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
            max_buffer: 1 << 30,
        }
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
        match decide(BackendChoice::Auto, &seen, false).unwrap() {
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
        match decide(BackendChoice::Auto, &seen, false).unwrap() {
            Decision::Cpu {
                flex: true,
                fallback_reason: Some(reason),
            } => {
                assert!(reason.contains("no physical GPU"), "{reason}");
                assert!(
                    reason.contains("llvmpipe (LLVM 15.0.6, 256 bits) (software, Vulkan)"),
                    "{reason}"
                );
                assert!(reason.contains("(flex)"), "{reason}");
                assert!(!reason.contains('\n'), "one line");
            }
            other => panic!("expected the CPU fallback, got {other:?}"),
        }
        match decide(BackendChoice::Auto, &[], false).unwrap() {
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
        let err = decide(BackendChoice::Wgpu, &seen, false).unwrap_err().0;
        assert!(
            err.starts_with("--backend wgpu needs a physical GPU"),
            "{err}"
        );
        assert!(err.contains("llvmpipe (software, Gl)"), "{err}");
        // A GPU reachable only through GL does not satisfy --backend vulkan.
        let gl_only = [adapter("AMD Radeon", AdapterKind::DiscreteGpu, "Gl")];
        assert!(decide(BackendChoice::Wgpu, &gl_only, false).is_ok());
        let err = decide(BackendChoice::Vulkan, &gl_only, false)
            .unwrap_err()
            .0;
        assert!(err.contains("with a Vulkan driver"), "{err}");
    }

    #[test]
    fn cpu_backends_need_no_adapter() {
        assert_eq!(
            decide(BackendChoice::Flex, &[], false).unwrap(),
            Decision::Cpu {
                flex: true,
                fallback_reason: None
            }
        );
        assert_eq!(
            decide(BackendChoice::Ndarray, &[], false).unwrap(),
            Decision::Cpu {
                flex: false,
                fallback_reason: None
            }
        );
    }

    #[test]
    fn the_software_adapter_opens_only_under_the_variable_and_never_for_auto() {
        let seen = [
            adapter(
                "llvmpipe (LLVM 15.0.6, 256 bits)",
                AdapterKind::Software,
                "Vulkan",
            ),
            adapter(
                "llvmpipe (LLVM 15.0.6, 256 bits)",
                AdapterKind::Software,
                "Gl",
            ),
        ];
        assert!(decide(BackendChoice::Wgpu, &seen, false).is_err());
        match decide(BackendChoice::Wgpu, &seen, true).unwrap() {
            Decision::Gpu { adapter, vulkan } => {
                assert_eq!(
                    (adapter.kind, adapter.api.as_str()),
                    (AdapterKind::Software, "Gl")
                );
                assert!(!vulkan);
            }
            other => panic!("expected the software adapter, got {other:?}"),
        }
        assert!(matches!(
            decide(BackendChoice::Auto, &seen, true).unwrap(),
            Decision::Cpu { flex: true, .. }
        ));
        // lavapipe (software Vulkan) crashes in pipeline creation: never opened.
        assert!(decide(BackendChoice::Vulkan, &seen, true).is_err());
        // A physical GPU still wins.
        let with_gpu = [
            seen[1].clone(),
            adapter("NVIDIA H200", AdapterKind::DiscreteGpu, "Vulkan"),
        ];
        match decide(BackendChoice::Wgpu, &with_gpu, true).unwrap() {
            Decision::Gpu { adapter, .. } => assert_eq!(adapter.name, "NVIDIA H200"),
            other => panic!("expected the GPU, got {other:?}"),
        }
    }
}
