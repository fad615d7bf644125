use std::collections::BTreeSet;

use rankdistil_data::{
    BatchPlan, FeatureNormalizer, ListBatch, NormalizationKind, PAD, Padding, RankingDataset,
    SyntheticConfig, generate,
};

fn toy() -> RankingDataset {
    let mut d = RankingDataset::new(2);
    for (q, n) in [(1, 3usize), (2, 5), (3, 1)] {
        let feats: Vec<f32> = (0..n * 2).map(|i| (q * 100 + i) as f32).collect();
        let labels: Vec<f32> = (0..n).map(|i| (i % 3) as f32).collect();
        d.push_query(
            q.to_string(),
            &feats,
            &labels,
            (0..n).map(|i| i.to_string()).collect(),
        )
        .unwrap();
    }
    d
}

#[test]
fn batches_pad_to_the_longest_list_with_a_mask() {
    let d = toy();
    let lists = BatchPlan::evaluation(8).epoch(&d, 0, 0);
    assert_eq!(lists.len(), 1);
    let b = ListBatch::from_rows(&d, &lists[0]);
    assert_eq!((b.batch_size, b.list_len, b.num_features), (3, 5, 2));
    let mask: Vec<u8> = b.mask.iter().map(|&m| m as u8).collect();
    assert_eq!(mask, vec![1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0]);
    assert_eq!(&b.features[0..2], &[100.0, 101.0]);
    assert_eq!(&b.features[3 * 2..4 * 2], &[0.0, 0.0], "padding is zero");
    assert_eq!(b.rows[3], PAD);
    assert_eq!(b.rows[5], 3, "list 2 starts at row 3");
    let per_list: Vec<usize> = b.per_list(&b.labels).map(|l| l.len()).collect();
    assert_eq!(per_list, vec![3, 5, 1]);
}

#[test]
fn training_caps_lists_by_seeded_subsampling_and_evaluation_keeps_them_whole() {
    let d = toy();
    let plan = BatchPlan::training(2, Some(2));
    let a = plan.epoch(&d, 7, 1);
    let b = plan.epoch(&d, 7, 1);
    assert_eq!(a, b, "same seed and epoch, same batches");
    assert_ne!(plan.epoch(&d, 7, 2), a, "a new epoch reshuffles");
    for (q, rows) in a.iter().flatten() {
        assert!(rows.len() <= 2);
        assert!(
            rows.iter()
                .all(|&r| r >= d.offsets[*q] && r < d.offsets[*q + 1])
        );
    }
    let full: usize = BatchPlan::evaluation(2)
        .epoch(&d, 0, 0)
        .iter()
        .flatten()
        .map(|(_, r)| r.len())
        .sum();
    assert_eq!(full, d.num_rows());
}

#[test]
fn normalizer_fits_on_train_and_applies_anywhere() {
    let mut d = toy();
    let n = FeatureNormalizer::fit(&d, NormalizationKind::Zscore);
    n.apply(&mut d);
    for f in 0..2 {
        let col: Vec<f32> = d.features.iter().skip(f).step_by(2).copied().collect();
        let mean = col.iter().sum::<f32>() / col.len() as f32;
        let var = col.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / col.len() as f32;
        assert!(
            mean.abs() < 1e-4 && (var - 1.0).abs() < 1e-3,
            "feature {f}: mean {mean} var {var}"
        );
    }
    let log = FeatureNormalizer::fit(&toy(), NormalizationKind::Log1pZscore);
    let mut row = vec![1e6f32, -5.0];
    log.apply_row(&mut row);
    assert!(row.iter().all(|x| x.is_finite()));
    let json = serde_json::to_string(&log).unwrap();
    assert_eq!(
        serde_json::from_str::<FeatureNormalizer>(&json).unwrap(),
        log
    );
}

#[test]
fn synthetic_data_is_seeded_and_graded() {
    let cfg = SyntheticConfig {
        queries: 30,
        ..SyntheticConfig::default()
    };
    let a = generate(&cfg);
    assert_eq!(a.features, generate(&cfg).features);
    assert_ne!(
        a.features,
        generate(&SyntheticConfig {
            seed: 8,
            ..cfg.clone()
        })
        .features
    );
    assert_eq!(a.num_queries(), 30);
    assert!((0..30).all(|q| (20..=300).contains(&a.list_len(q))));
    let mut counts = [0usize; 5];
    for &y in &a.labels {
        counts[y as usize] += 1;
    }
    assert!(
        counts.iter().all(|&c| c > 0),
        "every grade occurs: {counts:?}"
    );
    assert!(
        counts[0] > counts[4] * 5,
        "most items are irrelevant: {counts:?}"
    );
}

/// The `[B, N]` shapes one training epoch of `data` produces under `padding`.
fn epoch_shapes(data: &RankingDataset, padding: Padding) -> BTreeSet<(usize, usize)> {
    BatchPlan::training(16, None)
        .epoch(data, 1, 1)
        .iter()
        .map(|lists| {
            let batch = ListBatch::from_rows_padded(data, lists, padding);
            (batch.batch_size, batch.list_len)
        })
        .collect()
}

#[test]
fn gpu_padding_bounds_the_shapes_of_an_epoch() {
    // The quickstart's data: 800 queries of 20 to 300 items, 50 batches of 16, the last short.
    let data = generate(&SyntheticConfig {
        queries: 800,
        min_items: 20,
        max_items: 300,
        ..SyntheticConfig::default()
    });
    let exact = epoch_shapes(&data, Padding::NONE);
    let bucketed = epoch_shapes(&data, Padding::buckets(16));
    assert!(exact.len() >= 20, "{} shapes unpadded", exact.len());
    // Lengths 32, 64, 128, 256 and 512 at most, and one batch size.
    assert!(bucketed.len() <= 5, "{bucketed:?}");
    assert!(
        bucketed
            .iter()
            .all(|&(b, n)| b == 16 && n.is_power_of_two() && n >= 32)
    );

    // Padded lists and slots are empty: a loss sees the same lists and items.
    let lists = &BatchPlan::training(16, None).epoch(&data, 1, 1)[0][..3];
    let batch = ListBatch::from_rows_padded(&data, lists, Padding::buckets(16));
    assert_eq!(batch.nonempty_lists(0..16), 3);
    assert_eq!(batch.queries[3..], [PAD; 13]);
    let real: usize = lists.iter().map(|(_, r)| r.len()).sum();
    assert_eq!(batch.mask.iter().filter(|&&m| m).count(), real);
}
