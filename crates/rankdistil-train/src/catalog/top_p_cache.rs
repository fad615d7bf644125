//! The teacher's top-p unseen items per user: scored once over the whole catalog and written
//! to disk (`RDTOPP01`), so any number of students can be distilled without the teacher.

use std::path::Path;

use crate::error::{Context, bail};

use rankdistil_data::ImplicitSplit;
use rankdistil_models::CatalogScorer;

use crate::backend::Backend;
use crate::catalog::scoring::top_items;
use crate::progress::Progress;
use crate::store::atomic::write_atomic;

/// Scores every user's whole catalog, chunk by chunk, keeping the top-p unseen items.
pub fn build_cache(
    teacher: &CatalogScorer,
    split: &ImplicitSplit,
    p: usize,
    backend: &Backend,
) -> TopPCache {
    let users: Vec<usize> = (0..split.train.len()).collect();
    let bar = Progress::new(users.len() as u64, "teacher top-p cache".into(), "users");
    let top = top_items(
        teacher,
        &split.train,
        &split.train,
        &users,
        backend,
        p,
        &bar,
    );
    bar.finish();
    let users = top
        .into_iter()
        .map(|best| {
            // Training items score −∞; a user with fewer than p others keeps what there is.
            let (items, scores) = best.into_iter().filter(|(_, s)| s.is_finite()).unzip();
            TopP { items, scores }
        })
        .collect();
    TopPCache { p, users }
}

/// The teacher's top-p unseen items per user, as written to and read from disk.
#[derive(Debug, Clone, PartialEq)]
pub struct TopPCache {
    pub p: usize,
    pub users: Vec<TopP>,
}

/// One user's entry of a [`TopPCache`]: at most p items, best first, and their scores.
#[derive(Debug, Clone, PartialEq)]
pub struct TopP {
    pub items: Vec<u32>,
    pub scores: Vec<f32>,
}

impl TopPCache {
    const MAGIC: &'static [u8; 8] = b"RDTOPP01";

    pub fn write(&self, path: &Path, num_items: usize) -> crate::Result<()> {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(Self::MAGIC);
        for v in [self.users.len() as u64, self.p as u64, num_items as u64] {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        for TopP { items: ids, scores } in &self.users {
            bytes.extend_from_slice(&(ids.len() as u32).to_le_bytes());
            ids.iter()
                .for_each(|i| bytes.extend_from_slice(&i.to_le_bytes()));
            scores
                .iter()
                .for_each(|s| bytes.extend_from_slice(&s.to_le_bytes()));
        }
        Ok(write_atomic(path, &bytes)?)
    }

    pub fn read(path: &Path, num_items: usize) -> crate::Result<Self> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("{}: cannot read the teacher cache", path.display()))?;
        Self::from_bytes(&bytes, path, num_items)
    }

    /// Parses a cache file's `bytes`; `path` names it in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path, num_items: usize) -> crate::Result<Self> {
        let bad = || {
            crate::error::invalid!(
                "{}: not a rankdistil teacher top-p cache (truncated or foreign)",
                path.display()
            )
        };
        if bytes.len() < 32 || &bytes[..8] != Self::MAGIC {
            return Err(bad());
        }
        let u64_at = |i: usize| u64::from_le_bytes(bytes[i..i + 8].try_into().unwrap()) as usize;
        let (users, p, items) = (u64_at(8), u64_at(16), u64_at(24));
        if items != num_items {
            bail!(
                "{}: cache is for {items} items, the catalog has {num_items}",
                path.display()
            );
        }
        let mut at = 32;
        // Each user takes at least its 4-byte count: a header that promises more is damage.
        if users > (bytes.len() - at) / 4 {
            return Err(bad());
        }
        let mut out = Vec::with_capacity(users);
        for _ in 0..users {
            let n = u32::from_le_bytes(bytes.get(at..at + 4).ok_or_else(bad)?.try_into().unwrap())
                as usize;
            at += 4;
            let ids_raw = bytes.get(at..at + 4 * n).ok_or_else(bad)?;
            let scores_raw = bytes.get(at + 4 * n..at + 8 * n).ok_or_else(bad)?;
            at += 8 * n;
            let ids: Vec<u32> = ids_raw
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
                .collect();
            let scores: Vec<f32> = scores_raw
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .collect();
            // Items of the catalog, at most p of them, with the finite scores the cache keeps.
            let fits = n <= p && ids.iter().all(|&i| (i as usize) < num_items);
            if !fits || scores.iter().any(|s| !s.is_finite()) {
                return Err(bad());
            }
            out.push(TopP { items: ids, scores });
        }
        if at != bytes.len() {
            return Err(bad());
        }
        Ok(Self { p, users: out })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_top_p_cache_round_trips_and_refuses_damage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.bin");
        let cache = TopPCache {
            p: 3,
            users: vec![
                TopP {
                    items: vec![4, 1, 9],
                    scores: vec![2.5, 1.0, -0.5],
                },
                TopP {
                    items: vec![0, 2, 3],
                    scores: vec![0.1, 0.0, -1.0],
                },
            ],
        };
        cache.write(&path, 10).unwrap();
        let back = TopPCache::read(&path, 10).unwrap();
        assert_eq!(back.p, 3);
        assert_eq!(back.users, cache.users);
        let err = TopPCache::read(&path, 11).unwrap_err().to_string();
        assert!(
            err.contains("cache is for 10 items, the catalog has 11"),
            "{err}"
        );
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 2]).unwrap();
        let err = TopPCache::read(&path, 10).unwrap_err().to_string();
        assert!(
            err.contains("not a rankdistil teacher top-p cache"),
            "{err}"
        );
    }
}
