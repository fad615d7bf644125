//! The train/valid/test splits a config names, normalised with statistics fitted on train.

use crate::error::{Context, bail};
use rankdistil_data::{
    CacheStatus, FeatureNormalizer, LetorOptions, LetorReader, RankingDataset, generate, read_all,
    read_letor_cached,
};

use crate::list::config::DataConfig;
use crate::progress::notice;

/// Normalised splits and the statistics that normalised them.
pub struct Splits {
    pub train: RankingDataset,
    pub valid: RankingDataset,
    pub test: Option<RankingDataset>,
    pub normalizer: FeatureNormalizer,
    pub source: String,
}

/// Reads a LETOR file through its binary cache (`<file>.rdcache`), saying which it used.
fn read(path: &std::path::Path, num_features: Option<usize>) -> crate::Result<RankingDataset> {
    crate::data_files::require(path)?;
    let started = std::time::Instant::now();
    let (data, status) = read_letor_cached(path, LetorOptions { num_features })?;
    let how = match status {
        CacheStatus::Hit => "from its binary cache",
        CacheStatus::Built => "parsed; binary cache written",
        CacheStatus::Uncached => "parsed; cache not writable",
    };
    notice!(
        "{}: {} queries, {} rows ({how}, {:.2}s)",
        path.display(),
        data.num_queries(),
        data.num_rows(),
        started.elapsed().as_secs_f64()
    );
    Ok(data)
}

/// Reads or generates the data, splits it, and normalises every split with statistics fitted
/// on the training split. `normalizer` reuses stored statistics (a teacher's) instead.
pub fn load_splits(
    cfg: &DataConfig,
    seed: u64,
    normalizer: Option<&FeatureNormalizer>,
) -> crate::Result<Splits> {
    let (mut train, mut valid, mut test, source) = read_splits(cfg, seed, normalizer)?;
    // Splits read separately may have seen different largest indices.
    let width = [Some(&train), Some(&valid), test.as_ref()]
        .into_iter()
        .flatten()
        .map(|d| d.num_features)
        .chain(normalizer.map(|n| n.num_features()))
        .max()
        .unwrap_or(0);
    for d in [Some(&mut train), Some(&mut valid), test.as_mut()]
        .into_iter()
        .flatten()
    {
        d.widen(width);
    }
    if width == 0 {
        bail!("{source}: no row has a feature; expected LETOR lines \"rel qid:Q index:value ...\"");
    }
    if train.num_queries() == 0 || valid.num_queries() == 0 {
        // A held-out split that came out empty is the key's doing: name it.
        let hint = match (&cfg.valid, valid.num_queries()) {
            (None, 0) => format!(
                "; [data] valid_fraction = {} holds out no query, expected a fraction that \
                 keeps at least one (or give [data] valid = \"<LETOR file>\")",
                cfg.valid_fraction
            ),
            _ => String::new(),
        };
        bail!(
            "{source}: need at least one training and one validation query, got {} and {}{hint}",
            train.num_queries(),
            valid.num_queries()
        );
    }
    let normalizer = match normalizer {
        Some(n) => n.clone(),
        None => FeatureNormalizer::fit(&train, cfg.normalization),
    };
    for d in [Some(&mut train), Some(&mut valid), test.as_mut()]
        .into_iter()
        .flatten()
    {
        normalizer.apply(d);
    }
    Ok(Splits {
        train,
        valid,
        test,
        normalizer,
        source,
    })
}

type RawSplits = (
    RankingDataset,
    RankingDataset,
    Option<RankingDataset>,
    String,
);

/// The splits as read or generated, before widening and normalisation, and their source.
fn read_splits(
    cfg: &DataConfig,
    seed: u64,
    normalizer: Option<&FeatureNormalizer>,
) -> crate::Result<RawSplits> {
    Ok(match (&cfg.synthetic, &cfg.train) {
        (Some(syn), _) => {
            let all = generate(syn);
            let (rest, test) = all.split(cfg.test_fraction, syn.seed ^ 0x7e57);
            let (train, valid) = rest.split(cfg.valid_fraction, syn.seed ^ 0xa11d);
            (
                train,
                valid,
                Some(test),
                format!(
                    "synthetic (seed {}, {} queries, {} features)",
                    syn.seed, syn.queries, syn.features
                ),
            )
        }
        (None, Some(path)) => {
            let width = normalizer.map(|n| n.num_features()).or(cfg.num_features);
            let all = read(path, width)?;
            let (train, valid) = match &cfg.valid {
                Some(v) => (all, read(v, width)?),
                None => all.split(cfg.valid_fraction, seed ^ 0xa11d),
            };
            let test = cfg.test.as_ref().map(|t| read(t, width)).transpose()?;
            (train, valid, test, path.display().to_string())
        }
        (None, None) => {
            bail!("[data] needs `train = \"<LETOR file>\"` or a `[data.synthetic]` table")
        }
    })
}

/// Reads one LETOR file for a stored model: its width must not exceed the model's input, and
/// the model's normalisation is applied.
pub fn load_for_model(
    path: &std::path::Path,
    normalizer: &FeatureNormalizer,
) -> crate::Result<RankingDataset> {
    let width = normalizer.num_features();
    let options = LetorOptions {
        num_features: Some(width),
    };
    let what = format!("reading data for a model with {width} input features");
    let mut reader = LetorReader::open(path, options).with_context(|| what.clone())?;
    let mut data = read_all(&mut reader).with_context(|| what.clone())?;
    reader
        .check_feature_count(width, "the model")
        .with_context(|| what)?;
    data.widen(width);
    normalizer.apply(&mut data);
    Ok(data)
}
