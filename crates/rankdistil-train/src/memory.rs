//! Keeping every device buffer under the adapter's largest buffer.
//!
//! Burn's wgpu runtime fails at run time on any buffer (or memory-pool page) past the adapter's
//! limit, and on a 4 GiB one whatever the adapter reports (docs/BENCHMARKS.md). CubeCL sizes a pool page
//! after the largest allocation it serves (plus a megabyte of slack), so the budget for one
//! buffer is a share of the adapter's limit. Training splits a batch into micro-batches whose
//! widest buffer stays under it and accumulates their gradients; scoring splits evaluation
//! batches the same way. A single list too wide for the budget is refused before training
//! starts, with the largest size that fits.

use rankdistil_data::host_memory;
use rankdistil_models::ItemLayout;

/// wgpu's per-buffer ceiling, whatever the adapter reports.
pub const WGPU_BUFFER_LIMIT: u64 = 4 << 30;

/// The budget for one activation on a GPU whose limits are not known.
pub const DEFAULT_GPU_BUDGET: u64 = 384 << 20;
const _: () = assert!(DEFAULT_GPU_BUDGET < WGPU_BUFFER_LIMIT);

/// The budget for one buffer on an adapter whose largest buffer is `max_buffer` bytes: half of
/// it (and of wgpu's ceiling), so the page that holds it, its slack and a neighbour fit.
/// An adapter that states no limit (0) gets [`DEFAULT_GPU_BUDGET`].
pub fn gpu_budget(max_buffer: u64) -> u64 {
    match max_buffer {
        0 => DEFAULT_GPU_BUDGET,
        limit => limit.min(WGPU_BUFFER_LIMIT) / 2,
    }
}

/// The list length whose `[len, width]` activation is as large as the widest buffer one list
/// needs through a layer of `width` units. In the `lists` layout Linear multiplies each list
/// against a broadcast weight, so the backward pass holds a `[width, width]` weight gradient
/// per list before summing them: the wider of the two counts.
pub fn effective_len(list_len: usize, width: usize, layout: ItemLayout) -> usize {
    match layout {
        ItemLayout::Lists => list_len.max(width),
        ItemLayout::Rows => list_len,
    }
}

/// How a step of `lists` lists of `list_len` items runs: its layout and micro-batches. The
/// layout is `preferred`, unless that is `lists` and its per-list `[width, width]` weight
/// gradients would split the batch into more micro-batches than the `rows` layout, whose one
/// weight gradient does not grow with the batch: a card with the memory for the whole batch
/// then runs it whole. Errors when not even one list fits.
pub fn step_plan(
    preferred: ItemLayout,
    lists: usize,
    list_len: usize,
    width: usize,
    budget: u64,
) -> crate::Result<(ItemLayout, Vec<std::ops::Range<usize>>)> {
    let parts = |layout| {
        let len = effective_len(list_len, width, layout);
        lists_per_chunk(lists, len, width, budget).map(|per| chunks(lists, per))
    };
    let preferred_parts = parts(preferred);
    if preferred == ItemLayout::Lists
        && let Ok(rows) = parts(ItemLayout::Rows)
        && preferred_parts
            .as_ref()
            .map_or(true, |p| rows.len() < p.len())
    {
        return Ok((ItemLayout::Rows, rows));
    }
    Ok((preferred, preferred_parts?))
}

/// Host bytes per trained parameter: weights, gradients, Adam's two moments and the best
/// epoch's copy, f32 each.
pub const BYTES_PER_PARAM: u128 = 5 * 4;

/// Host bytes per slot of a sampled order: its index (i64), validity flag, and three f32s
/// (the gathered score, its gradient and the teacher's).
pub const BYTES_PER_ORDER_SLOT: u128 = 8 + 1 + 4 * 3;

/// Refuses a model of `params` parameters, described by the file at `path`, whose weights
/// would not fit in host memory: checked before the model is built from a file that may be
/// damaged or hostile.
pub fn check_described_model(path: &std::path::Path, params: usize) -> crate::Result<()> {
    host_memory::check("the model it describes", params as u128 * 4)
        .map_err(|e| crate::Error::Memory(format!("{}: {e}", path.display())))
}

/// What a run will hold in host memory, by the setting that makes it large: checked before
/// anything starts, so a size the machine cannot hold is refused with its key instead of
/// aborting in an allocation.
#[derive(Debug, Default)]
pub struct Footprint {
    parts: Vec<(String, u128)>,
}

impl Footprint {
    /// Adds `bytes` that `what` (a config key and its value) costs.
    pub fn add(&mut self, what: impl Into<String>, bytes: u128) -> &mut Self {
        self.parts.push((what.into(), bytes));
        self
    }

    /// Refuses a part, or the whole, that does not fit the machine, naming the largest part.
    pub fn check(&self) -> crate::Result<()> {
        let Some((what, largest)) = self.parts.iter().max_by_key(|(_, b)| *b) else {
            return Ok(());
        };
        let total: u128 = self.parts.iter().map(|(_, b)| b).sum();
        host_memory::check(what, *largest)
            .and_then(|()| host_memory::check(&format!("the run (mostly {what})"), total))
            .map_err(crate::Error::Memory)
    }
}

/// Bytes of the widest `[B, N, width]` f32 activation of a batch.
pub fn activation_bytes(lists: usize, list_len: usize, width: usize) -> u64 {
    lists as u64 * list_len as u64 * width as u64 * 4
}

/// What sizes a step's micro-batches: the widest activation per item, and the byte budget of
/// one buffer.
#[derive(Debug, Clone, Copy)]
pub struct Sizing {
    pub widest: usize,
    pub budget: u64,
}

/// How many lists of `list_len` items fit in one micro-batch when the widest layer has
/// `width` units and one activation may take `budget` bytes. Errors when not even one list fits.
pub fn lists_per_chunk(
    lists: usize,
    list_len: usize,
    width: usize,
    budget: u64,
) -> crate::Result<usize> {
    let one = activation_bytes(1, list_len, width);
    if one > budget {
        let max_items = budget / (width as u64 * 4);
        return Err(crate::Error::Memory(format!(
            "one list of {list_len} items through a layer of {width} units needs {:.0} MiB, over the {:.0} MiB buffer budget; \
             cap lists with [train] max_list_len = {max_items} or less, or use a narrower model",
            one as f64 / (1 << 20) as f64,
            budget as f64 / (1 << 20) as f64
        )));
    }
    Ok(((budget / one) as usize).clamp(1, lists.max(1)))
}

/// Splits `0..lists` into consecutive ranges of at most `per_chunk`.
pub fn chunks(lists: usize, per_chunk: usize) -> Vec<std::ops::Range<usize>> {
    (0..lists)
        .step_by(per_chunk.max(1))
        .map(|a| a..(a + per_chunk).min(lists))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_the_lists_layout_would_split_runs_whole_in_rows() {
        // 1024 lists × 200 items × 1024 units under a 2 GiB budget (wgpu's ceiling halved): in
        // `lists` each list holds a 4 MiB weight gradient, 4 GiB in all, so the batch splits;
        // in `rows` the widest buffer is 800 MiB.
        let budget = gpu_budget(WGPU_BUFFER_LIMIT);
        assert_eq!(budget, 2 << 30);
        let plan = |layout, lists, len, width| {
            let (layout, parts) = step_plan(layout, lists, len, width, budget).unwrap();
            (layout, parts.len())
        };
        let lists = effective_len(200, 1024, ItemLayout::Lists);
        assert_eq!(
            chunks(1024, lists_per_chunk(1024, lists, 1024, budget).unwrap()).len(),
            2
        );
        assert_eq!(
            plan(ItemLayout::Lists, 1024, 200, 1024),
            (ItemLayout::Rows, 1)
        );
        // Where `lists` runs whole (or splits no more), it stays.
        assert_eq!(
            plan(ItemLayout::Lists, 64, 2000, 256),
            (ItemLayout::Lists, 1)
        );
        assert_eq!(
            plan(ItemLayout::Rows, 1024, 200, 1024),
            (ItemLayout::Rows, 1)
        );
    }

    #[test]
    fn the_failing_configuration_is_split_under_the_limit() {
        // A shape that failed on a card in one piece (docs/BENCHMARKS.md).
        let per = lists_per_chunk(512, 200, 1024, DEFAULT_GPU_BUDGET).unwrap();
        assert!(per < 512);
        assert!(activation_bytes(per, 200, 1024) <= DEFAULT_GPU_BUDGET);
        let parts = chunks(512, per);
        assert_eq!(parts.iter().map(|r| r.len()).sum::<usize>(), 512);
        assert!(
            parts
                .iter()
                .all(|r| activation_bytes(r.len(), 200, 1024) < WGPU_BUFFER_LIMIT)
        );
    }

    #[test]
    fn small_batches_stay_whole() {
        assert_eq!(
            lists_per_chunk(32, 128, 256, DEFAULT_GPU_BUDGET).unwrap(),
            32
        );
        assert_eq!(chunks(32, 32), vec![0..32]);
        assert_eq!(chunks(10, 4), vec![0..4, 4..8, 8..10]);
    }

    #[test]
    fn the_budget_follows_the_adapter_and_counts_per_list_weight_gradients() {
        assert_eq!(gpu_budget(u64::MAX), 2 << 30);
        assert_eq!(gpu_budget(1 << 30), 512 << 20);
        assert_eq!(gpu_budget(0), DEFAULT_GPU_BUDGET);
        // 1024 lists × 200 items × 1024 units: one pass in the rows layout under a 4 GiB
        // limit; in the lists layout each list's [1024, 1024] weight gradient counts.
        let budget = gpu_budget(WGPU_BUFFER_LIMIT);
        let rows = effective_len(200, 1024, ItemLayout::Rows);
        assert_eq!(lists_per_chunk(1024, rows, 1024, budget).unwrap(), 1024);
        let lists = effective_len(200, 1024, ItemLayout::Lists);
        assert_eq!(lists, 1024);
        assert_eq!(lists_per_chunk(1024, lists, 1024, budget).unwrap(), 512);
    }

    #[test]
    fn a_list_too_wide_for_the_budget_is_refused_with_the_size_that_fits() {
        let err = lists_per_chunk(1, 2_000_000, 1024, DEFAULT_GPU_BUDGET)
            .unwrap_err()
            .to_string();
        assert!(err.contains("max_list_len = 98304"), "{err}");
    }
}
