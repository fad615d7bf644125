//! The command line's faces of the library's choices: clap's value names and help text live
//! here, so the library needs no clap.

use clap::ValueEnum;
use rankdistil_train::backend::BackendChoice;
use rankdistil_train::bench::options::Suite;
use rankdistil_train::store::export_files::ExportFormat;

/// `--backend` (and `parity --against`), the command-line face of [`BackendChoice`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendFlag {
    /// A physical GPU through wgpu if there is one, else the CPU (flex).
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

impl From<BackendFlag> for BackendChoice {
    fn from(flag: BackendFlag) -> Self {
        match flag {
            BackendFlag::Auto => BackendChoice::Auto,
            BackendFlag::Ndarray => BackendChoice::Ndarray,
            BackendFlag::Flex => BackendChoice::Flex,
            BackendFlag::Wgpu => BackendChoice::Wgpu,
            BackendFlag::Vulkan => BackendChoice::Vulkan,
        }
    }
}

/// `export --format`, the command-line face of [`ExportFormat`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatFlag {
    Safetensors,
    Burnpack,
    /// An ONNX graph (opset 17) for serving engines: a list scorer with its normalisation, or a
    /// catalog model's query tower with its item table.
    Onnx,
}

impl From<FormatFlag> for ExportFormat {
    fn from(flag: FormatFlag) -> Self {
        match flag {
            FormatFlag::Safetensors => ExportFormat::Safetensors,
            FormatFlag::Burnpack => ExportFormat::Burnpack,
            FormatFlag::Onnx => ExportFormat::Onnx,
        }
    }
}

/// `bench --suite`, the command-line face of [`Suite`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SuiteFlag {
    /// The reference step of `scripts/torch_reference.py`: MLP 136→H→H→1, coupled RankDistil
    /// (k = 10, teacher order), Adam, at the four reference (B, N, H).
    Reference,
    /// One student step per loss at B = 64, N = 1000, k = 10, S = 8.
    Losses,
    /// Sampled RankDistil (p = 100, m = 100) against the full-catalog loss at L = 10³..10⁶.
    Sampled,
    /// LETOR parse throughput of --data, and the reload time from its binary cache.
    Parse,
    /// The reference step's time by phase (forward, loss, backward, Adam), and its matmuls
    /// alone in GFLOP/s: where a slow configuration loses its time.
    Profile,
    /// Kernel launches, read-backs, submits and compiles per step (reference, trainer, catalog,
    /// eval) on a GPU backend, counted after warm-up.
    Launches,
    /// One epoch of `fit` on an MSLR-WEB30K-sized synthetic set (--queries lists of 40–250
    /// items): a teacher 136→512→512→256→1 (softmax CE), then a 32-unit student (coupled
    /// RankDistil, 8 sampled orders); rows/s and seconds per epoch.
    Epoch,
}

impl From<SuiteFlag> for Suite {
    fn from(flag: SuiteFlag) -> Self {
        match flag {
            SuiteFlag::Reference => Suite::Reference,
            SuiteFlag::Losses => Suite::Losses,
            SuiteFlag::Sampled => Suite::Sampled,
            SuiteFlag::Parse => Suite::Parse,
            SuiteFlag::Profile => Suite::Profile,
            SuiteFlag::Launches => Suite::Launches,
            SuiteFlag::Epoch => Suite::Epoch,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_backend_name_parses_to_its_choice() {
        for (name, want) in [
            ("auto", BackendChoice::Auto),
            ("ndarray", BackendChoice::Ndarray),
            ("flex", BackendChoice::Flex),
            ("wgpu", BackendChoice::Wgpu),
            ("vulkan", BackendChoice::Vulkan),
        ] {
            let flag = BackendFlag::from_str(name, false).unwrap();
            assert_eq!(BackendChoice::from(flag), want);
        }
        assert!(BackendFlag::from_str("cuda", false).is_err());
    }

    #[test]
    fn every_format_and_suite_name_parses() {
        let formats = [
            ("safetensors", ExportFormat::Safetensors),
            ("burnpack", ExportFormat::Burnpack),
            ("onnx", ExportFormat::Onnx),
        ];
        for (name, want) in formats {
            assert_eq!(
                ExportFormat::from(FormatFlag::from_str(name, false).unwrap()),
                want
            );
        }
        let suites = [
            "reference",
            "losses",
            "sampled",
            "parse",
            "profile",
            "launches",
        ];
        for name in suites {
            assert!(SuiteFlag::from_str(name, false).is_ok(), "{name}");
        }
    }
}
