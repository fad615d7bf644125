//! What a list run holds in host memory, from its settings and its data's shape.

use crate::loss_config::{DistillConfig, ObjectiveConfig};

use crate::list::config::{ModelConfig, TrainConfig};
use crate::memory::{BYTES_PER_ORDER_SLOT, BYTES_PER_PARAM, Footprint};

/// Refuses a run whose model, batches or sampled orders do not fit the machine.
/// `longest` is the longest list of the data.
pub fn check(
    model: &ModelConfig,
    train: &TrainConfig,
    objective: &ObjectiveConfig,
    d_input: usize,
    longest: usize,
) -> crate::Result<()> {
    let scorer = model.scorer(d_input);
    let list = train.max_list_len.unwrap_or(longest).min(longest) as u128;
    // The larger of the two batches sizes the activations, and the message names its key.
    let (batch_key, batch) = match train.eval_batch_size > train.batch_size {
        true => ("eval_batch_size", train.eval_batch_size),
        false => ("batch_size", train.batch_size),
    };
    let batch = batch as u128;
    let widest = model
        .hidden
        .iter()
        .copied()
        .chain([d_input])
        .max()
        .unwrap_or(1) as u128;
    // Every layer's activation and its gradient, for each list of a batch.
    let layers = model.hidden.len() as u128 + 1;
    let mut footprint = Footprint::default();
    footprint
        .add(
            format!("[model] hidden = {:?}", model.hidden),
            scorer.num_params() as u128 * BYTES_PER_PARAM,
        )
        .add(
            format!(
                "[train] {batch_key} = {batch} with [model] hidden = {:?}",
                model.hidden
            ),
            batch * list * widest * layers * 2 * 4,
        );
    if let DistillConfig::Coupled(coupled) = &objective.distill {
        let orders = batch * coupled.samples.max(1) as u128 * list * BYTES_PER_ORDER_SLOT;
        footprint.add(format!("[loss] samples = {}", coupled.samples), orders);
    }
    footprint.check()
}
