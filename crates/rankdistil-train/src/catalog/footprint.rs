//! What a catalog run holds in host memory, from its settings and its data's shape.

use crate::catalog::config::{CatalogMethod, CatalogRunConfig, CatalogStage};
use crate::memory::{BYTES_PER_ORDER_SLOT, BYTES_PER_PARAM, Footprint};

/// The most host memory softmax KD's whole-catalog teacher scores may take.
const MAX_FULL_SCORES_BYTES: u128 = 4 << 30;

/// Softmax KD keeps the teacher's scores over all `items` for all `users` in memory: refused,
/// with what it would take, past 4 GiB.
pub fn check_full_scores(users: usize, items: usize) -> Result<(), String> {
    let bytes = users as u128 * items as u128 * 4;
    if bytes <= MAX_FULL_SCORES_BYTES {
        return Ok(());
    }
    Err(format!(
        "softmax_kd needs the teacher's scores over all {items} items for all {users} users, {:.1} GiB (at most {} GiB)",
        bytes as f64 / (1u64 << 30) as f64,
        MAX_FULL_SCORES_BYTES >> 30
    ))
}

/// Refuses a run whose models, cache, batches or orders do not fit the machine, for `users`
/// users over `items` items.
pub fn check(config: &CatalogRunConfig, users: usize, items: usize) -> crate::Result<()> {
    let (users, l) = (users as u128, items as u128);
    let sampled = &config.distill.sampled;
    let mut footprint = Footprint::default();
    add_stage(&mut footprint, "teacher", &config.teacher, items);
    add_stage(&mut footprint, "student", &config.student, items);
    footprint
        .add(
            format!("[distill] p = {}", sampled.p),
            users * (sampled.p as u128).min(l) * 8,
        )
        .add(
            format!("[distill] samples = {}", sampled.samples),
            config.student.train.batch_size as u128
                * sampled.samples.max(1) as u128
                * (sampled.p as u128 + sampled.m as u128).min(l)
                * BYTES_PER_ORDER_SLOT,
        );
    if config.methods.contains(&CatalogMethod::SoftmaxKd) {
        footprint.add("methods = [\"softmax_kd\"]", users * l * 4);
    }
    footprint.check()
}

/// A model's tables and tower, and a full-softmax step's `[B, L]` scores, labels and
/// gradients.
fn add_stage(footprint: &mut Footprint, name: &str, stage: &CatalogStage, items: usize) {
    let params = stage.model.scorer(items).num_params() as u128;
    footprint.add(
        format!("[{name}.model] dim = {}", stage.model.dim),
        params * BYTES_PER_PARAM,
    );
    if stage.train.negatives == 0 {
        footprint.add(
            format!("[{name}.train] batch_size = {}", stage.train.batch_size),
            stage.train.batch_size as u128 * items as u128 * 4 * 3,
        );
    }
}
