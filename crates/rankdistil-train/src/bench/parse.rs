//! LETOR parse throughput, and the reload time from the binary cache.

use std::time::Instant;

use crate::error::Context;

/// Text parse throughput, cache write and cache reload for one LETOR file.
pub fn parse(path: &std::path::Path) -> crate::Result<()> {
    use rankdistil_data::{CacheStatus, LetorOptions, cache_path, read_letor, read_letor_cached};
    let mb = std::fs::metadata(path)
        .with_context(|| format!("{}: cannot stat", path.display()))?
        .len() as f64
        / 1e6;
    let _ = std::fs::remove_file(cache_path(path));
    let t = Instant::now();
    let data = read_letor(path, LetorOptions::default())?;
    let parse_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let (_, built) = read_letor_cached(path, LetorOptions::default())?;
    let build_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let (again, hit) = read_letor_cached(path, LetorOptions::default())?;
    let reload_s = t.elapsed().as_secs_f64();
    crate::error::ensure!(
        built == CacheStatus::Built && hit == CacheStatus::Hit,
        "cache did not behave: {built:?}, {hit:?}"
    );
    crate::error::ensure!(
        again.features == data.features,
        "the cache does not reproduce the text"
    );
    println!(
        "{}: {mb:.1} MB, {} rows, {} queries, {} features\n\n| step | seconds | MB/s |\n|---|---|---|\n\
         | parse text | {parse_s:.2} | {:.1} |\n| parse + write cache | {build_s:.2} | – |\n| reload from cache | {reload_s:.2} | {:.1} |",
        path.display(),
        data.num_rows(),
        data.num_queries(),
        data.num_features,
        mb / parse_s,
        mb / reload_s
    );
    Ok(())
}
