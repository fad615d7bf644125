use clap::Args;
use rankdistil_train::backend;

use crate::commands::choices::BackendFlag;
use rankdistil_train::parity::check;

/// Check that two backends agree: the same batch and initial weights must give the same loss
/// (to 1e-4 relative) and the same parameter gradients (to 1e-3).
#[derive(Debug, Args)]
pub struct ParityArgs {
    /// The backend under test.
    #[arg(long, value_enum, default_value_t = BackendFlag::Wgpu)]
    pub backend: BackendFlag,
    /// The reference backend.
    #[arg(long, value_enum, default_value_t = BackendFlag::Ndarray)]
    pub against: BackendFlag,
}

pub fn run(args: ParityArgs) -> anyhow::Result<()> {
    // Through the library's error, so that a backend that cannot run here exits 2.
    let open =
        |flag: BackendFlag| backend::open(flag.into()).map_err(rankdistil_train::Error::from);
    let test = open(args.backend)?;
    let reference = open(args.against)?;
    let checks = check(&test, &reference)?;
    for c in &checks {
        println!(
            "{}: {} ({}) vs {} ({}): loss {:.6} vs {:.6} (relative {:.2e}, limit 1e-4); \
             {} gradients, worst relative difference {:.2e} (limit 1e-3): {}",
            c.what,
            test.name,
            test.adapter,
            reference.name,
            reference.adapter,
            c.loss,
            c.reference_loss,
            c.loss_relative,
            c.gradients,
            c.worst_gradient,
            if c.passed { "PASS" } else { "FAIL" }
        );
    }
    anyhow::ensure!(
        checks.iter().all(|c| c.passed),
        "backends disagree beyond tolerance"
    );
    Ok(())
}
