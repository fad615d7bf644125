//! A binary, memory-mapped cache of a parsed LETOR file: `<file>.rdcache` beside it.
//!
//! Layout (little-endian): the magic `RDCACHE1`, then u64 source size, u64 source mtime
//! (nanoseconds), u64 feature count, u64 rows, u64 queries, then `labels: f32[rows]`,
//! `offsets: u64[queries + 1]`, `features: f32[rows × F]`, and two string tables (qids, doc ids),
//! each a `u64[count + 1]` offset array and its UTF-8 bytes. The cache is used only while the
//! source's size and mtime match the header; otherwise the source is parsed again and the cache
//! rewritten (atomically: temporary file, fsync, rename).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use memmap2::Mmap;

use crate::atomic::AtomicFile;
use crate::dataset::RankingDataset;
use crate::error::DataError;
use crate::letor::{LetorOptions, read_letor};

const MAGIC: &[u8; 8] = b"RDCACHE1";
const HEADER: usize = 8 + 5 * 8;

/// Where a data set came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    /// Read from a valid cache.
    Hit,
    /// Parsed from the text, and the cache (re)written.
    Built,
    /// Parsed from the text; the cache could not be written (a read-only folder, say).
    Uncached,
}

/// The cache path for a LETOR file.
pub fn cache_path(source: &Path) -> PathBuf {
    let mut name = source.file_name().unwrap_or_default().to_os_string();
    name.push(".rdcache");
    source.with_file_name(name)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DataError + '_ {
    move |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn stamp(source: &Path) -> Result<(u64, u64), DataError> {
    let meta = std::fs::metadata(source).map_err(io(source))?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as u64);
    Ok((meta.len(), mtime))
}

/// Reads `source` through its cache: a valid cache is memory-mapped and copied out; otherwise
/// the text is parsed and the cache written for next time. A configured feature count must
/// match the cached one.
pub fn read_letor_cached(
    source: &Path,
    options: LetorOptions,
) -> Result<(RankingDataset, CacheStatus), DataError> {
    let cache = cache_path(source);
    let (size, mtime) = stamp(source)?;
    if let Some(data) = load(&cache, size, mtime)?
        && options.num_features.is_none_or(|f| f >= data.num_features)
    {
        let mut data = data;
        if let Some(f) = options.num_features {
            data.widen(f);
        }
        return Ok((data, CacheStatus::Hit));
    }
    let data = read_letor(source, options)?;
    match save(&cache, &data, size, mtime) {
        Ok(()) => Ok((data, CacheStatus::Built)),
        Err(_) => Ok((data, CacheStatus::Uncached)),
    }
}

fn load(cache: &Path, size: u64, mtime: u64) -> Result<Option<RankingDataset>, DataError> {
    let Ok(file) = File::open(cache) else {
        return Ok(None);
    };
    // SAFETY: the cache is only ever replaced by rename, never written in place, so the mapped
    // bytes cannot change under us.
    let map = unsafe { Mmap::map(&file) }.map_err(io(cache))?;
    Ok(parse(&map, size, mtime))
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let out = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(out)
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn f32s(&mut self, n: usize) -> Option<Vec<f32>> {
        let raw = self.take(n.checked_mul(4)?)?;
        Some(
            raw.chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .collect(),
        )
    }

    fn u64s(&mut self, n: usize) -> Option<Vec<u64>> {
        let raw = self.take(n.checked_mul(8)?)?;
        Some(
            raw.chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
                .collect(),
        )
    }

    fn strings(&mut self, n: usize) -> Option<Vec<String>> {
        let ends = self.u64s(n + 1)?;
        let blob = self.take(*ends.last()? as usize)?;
        ends.windows(2)
            .map(|w| {
                let s = blob.get(w[0] as usize..w[1] as usize)?;
                std::str::from_utf8(s).ok().map(str::to_owned)
            })
            .collect()
    }
}

/// `None` for a stale, truncated or foreign cache: it is rebuilt, never trusted.
fn parse(bytes: &[u8], size: u64, mtime: u64) -> Option<RankingDataset> {
    let mut c = Cursor { bytes, at: 0 };
    if c.take(8)? != MAGIC || bytes.len() < HEADER {
        return None;
    }
    if c.u64()? != size || c.u64()? != mtime {
        return None;
    }
    let f = c.u64()? as usize;
    let rows = c.u64()? as usize;
    let queries = c.u64()? as usize;
    let labels = c.f32s(rows)?;
    let offsets: Vec<usize> = c
        .u64s(queries + 1)?
        .into_iter()
        .map(|o| o as usize)
        .collect();
    let features = c.f32s(rows.checked_mul(f)?)?;
    let qids = c.strings(queries)?;
    let doc_ids = c.strings(rows)?;
    if c.at != bytes.len()
        || offsets.last() != Some(&rows)
        || offsets.windows(2).any(|w| w[0] > w[1])
    {
        return None;
    }
    Some(RankingDataset {
        num_features: f,
        features,
        labels,
        qids,
        offsets,
        doc_ids,
    })
}

fn save(cache: &Path, data: &RankingDataset, size: u64, mtime: u64) -> Result<(), DataError> {
    let mut w = AtomicFile::create(cache).map_err(io(cache))?;
    let header = [
        size,
        mtime,
        data.num_features as u64,
        data.num_rows() as u64,
        data.num_queries() as u64,
    ];
    let write = |w: &mut AtomicFile| -> std::io::Result<()> {
        w.write_all(MAGIC)?;
        for v in header {
            w.write_all(&v.to_le_bytes())?;
        }
        for v in &data.labels {
            w.write_all(&v.to_le_bytes())?;
        }
        for &o in &data.offsets {
            w.write_all(&(o as u64).to_le_bytes())?;
        }
        for v in &data.features {
            w.write_all(&v.to_le_bytes())?;
        }
        for table in [&data.qids, &data.doc_ids] {
            let mut end = 0u64;
            w.write_all(&end.to_le_bytes())?;
            for s in table.iter() {
                end += s.len() as u64;
                w.write_all(&end.to_le_bytes())?;
            }
            for s in table.iter() {
                w.write_all(s.as_bytes())?;
            }
        }
        Ok(())
    };
    write(&mut w).map_err(io(cache))?;
    w.commit().map_err(io(cache))
}
