//! The buffers a training step reuses, and the split of a batch's rows across threads.

use std::ops::Range;

use rayon::prelude::*;

use crate::dense::DenseMlp;
use crate::dropout::{self, MaskKey};
use crate::error::KernelError;
use crate::tile::{self, TILE};

/// Saved activations and per-thread scratch, kept from one step to the next so that a step
/// allocates nothing once the largest batch has been seen.
///
/// The rows split into one part per thread of the rayon pool, and the parts' gradient sums add
/// up in part order: the same on every run of one machine, different in the last digits where
/// the number of cores differs.
#[derive(Debug, Default)]
pub struct Workspace {
    /// Per hidden layer, `[rows, h_l]` (at least).
    saved: Vec<Vec<f32>>,
    /// The rows and layer shapes of the last forward, which a backward must match.
    last_forward: Option<(usize, Vec<(usize, usize)>)>,
    parts: Vec<PartScratch>,
    /// Dropout masks: the seed of [`Self::reseed`] and the forward passes since.
    seed: u64,
    forwards: u64,
}

/// One thread's tile scratch and gradient sums.
#[derive(Debug, Default)]
struct PartScratch {
    a: Vec<f32>,
    b: Vec<f32>,
    grads: Option<DenseMlp>,
}

impl Workspace {
    pub fn new() -> Self {
        Self::default()
    }

    /// Restarts the dropout masks at `seed`: the forward passes after it draw the same masks
    /// whenever they follow the same seed (a step's, so a resumed run replays).
    pub fn reseed(&mut self, seed: u64) {
        self.seed = seed;
        self.forwards = 0;
    }

    /// Scores `x` (`[rows, F]`, row-major) into `scores` (`[rows]`) and saves every hidden
    /// layer's activations for [`Self::backward`].
    pub fn forward(
        &mut self,
        mlp: &DenseMlp,
        x: &[f32],
        scores: &mut [f32],
    ) -> Result<(), KernelError> {
        let rows = scores.len();
        check_len("features", rows * mlp.d_input(), x.len())?;
        self.reserve(mlp, rows)?;
        let ranges = split(rows);
        let mut saved = per_part(&mut self.saved, mlp, &ranges);
        let mut score_parts = Vec::with_capacity(ranges.len());
        let mut rest = scores;
        for r in &ranges {
            let (head, tail) = rest.split_at_mut(r.len());
            score_parts.push(head);
            rest = tail;
        }
        let f = mlp.d_input();
        let stream = dropout::stream(self.seed, self.forwards);
        self.forwards += 1;
        (saved.par_iter_mut().zip(score_parts).zip(&ranges)).for_each(|((saved, scores), r)| {
            for tile in tiles(r.len()) {
                let x = &x[(r.start + tile.start) * f..(r.start + tile.end) * f];
                let mut layers: Vec<&mut [f32]> = (mlp.hidden().iter().zip(saved.iter_mut()))
                    .map(|(l, s)| &mut s[tile.start * l.d_out..tile.end * l.d_out])
                    .collect();
                let key = MaskKey {
                    stream,
                    first_row: (r.start + tile.start) as u64,
                };
                tile::forward(mlp, x, &mut layers, &mut scores[tile], key);
            }
        });
        self.last_forward = Some((rows, mlp.shapes().collect()));
        Ok(())
    }

    /// Adds to `grads` the parameter gradients of `Σ_i d_scores[i] · s_i`, where `s` are the
    /// scores of the last [`Self::forward`], which must have run `mlp` on the same `x`.
    pub fn backward(
        &mut self,
        mlp: &DenseMlp,
        x: &[f32],
        d_scores: &[f32],
        grads: &mut DenseMlp,
    ) -> Result<(), KernelError> {
        let rows = d_scores.len();
        let matches = (self.last_forward.as_ref())
            .is_some_and(|(r, shapes)| *r == rows && shapes.iter().copied().eq(mlp.shapes()));
        if !matches {
            return Err(KernelError::NoForward { rows });
        }
        check_len("features", rows * mlp.d_input(), x.len())?;
        if !grads.same_shape(mlp) {
            return Err(KernelError::Shape {
                layer: 0,
                reason: "the gradient sums have other shapes than the network".into(),
            });
        }
        let ranges = split(rows);
        let scratch_len = TILE * mlp.widest();
        self.parts.resize_with(ranges.len(), PartScratch::default);
        let f = mlp.d_input();
        let saved = &self.saved;
        (self.parts.par_iter_mut().zip(&ranges)).for_each(|(part, r)| {
            part.a.resize(scratch_len, 0.0);
            part.b.resize(scratch_len, 0.0);
            let sums = match &mut part.grads {
                Some(g) if g.same_shape(mlp) => g,
                slot => slot.insert(mlp.zeros_like()),
            };
            sums.fill_zero();
            for tile in tiles(r.len()) {
                let rows = r.start + tile.start..r.start + tile.end;
                let layers: Vec<&[f32]> = (mlp.hidden().iter().zip(saved))
                    .map(|(l, s)| &s[rows.start * l.d_out..rows.end * l.d_out])
                    .collect();
                tile::backward(
                    mlp,
                    &x[rows.start * f..rows.end * f],
                    &layers,
                    &d_scores[rows],
                    sums,
                    [&mut part.a, &mut part.b],
                );
            }
        });
        for part in &self.parts[..ranges.len()] {
            if let Some(g) = &part.grads {
                grads.add_assign(g);
            }
        }
        Ok(())
    }

    /// Grows the saved activations to `rows` rows of every hidden layer.
    fn reserve(&mut self, mlp: &DenseMlp, rows: usize) -> Result<(), KernelError> {
        let per_row: usize = mlp.hidden().iter().map(|l| l.d_out).sum();
        let refused = || KernelError::Memory {
            bytes: rows as u128 * per_row as u128 * 4,
            rows,
        };
        self.saved.resize_with(mlp.hidden().len(), Vec::new);
        for (buffer, layer) in self.saved.iter_mut().zip(mlp.hidden()) {
            let need = rows.checked_mul(layer.d_out).ok_or_else(refused)?;
            if buffer.len() < need {
                buffer
                    .try_reserve_exact(need - buffer.len())
                    .map_err(|_| refused())?;
                buffer.resize(need, 0.0);
            }
        }
        Ok(())
    }
}

fn check_len(what: &'static str, expected: usize, got: usize) -> Result<(), KernelError> {
    match expected == got {
        true => Ok(()),
        false => Err(KernelError::Length {
            what,
            expected,
            got,
        }),
    }
}

/// Contiguous row ranges, one per thread, each a whole number of tiles but the last.
fn split(rows: usize) -> Vec<Range<usize>> {
    let tiles = rows.div_ceil(TILE);
    let parts = rayon::current_num_threads().clamp(1, tiles.max(1));
    let per = tiles.div_ceil(parts) * TILE;
    (0..parts)
        .map(|p| (p * per).min(rows)..((p + 1) * per).min(rows))
        .filter(|r| !r.is_empty() || rows == 0)
        .collect()
}

/// The tiles of `len` rows, relative to the start of its range.
fn tiles(len: usize) -> impl Iterator<Item = Range<usize>> {
    (0..len).step_by(TILE).map(move |s| s..(s + TILE).min(len))
}

/// Each part's rows of every saved layer: `[part][layer]`.
fn per_part<'a>(
    saved: &'a mut [Vec<f32>],
    mlp: &DenseMlp,
    ranges: &[Range<usize>],
) -> Vec<Vec<&'a mut [f32]>> {
    let mut parts: Vec<Vec<&mut [f32]>> = ranges.iter().map(|_| Vec::new()).collect();
    for (buffer, layer) in saved.iter_mut().zip(mlp.hidden()) {
        let mut rest = &mut buffer[..];
        for (part, r) in parts.iter_mut().zip(ranges) {
            let (head, tail) = rest.split_at_mut(r.len() * layer.d_out);
            part.push(head);
            rest = tail;
        }
    }
    parts
}
