//! NDCG, precision and MRR against the spec's TF-Ranking vectors, plus the conventions.

use rankdistil_metrics::*;
use serde_json::Value;

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= 1e-5 * b.abs().max(1.0),
        "{what}: got {a}, expected {b}"
    );
}

#[test]
fn metrics_match_tf_ranking() {
    // The manifest dir as cargo gives it at run time: a test binary built in another
    // checkout of the same target dir would carry that checkout's path.
    let path = format!(
        "{}/tests/vectors/label_losses_and_metrics.json",
        std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR")
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let lists = v["lists"].as_array().unwrap();
    for (i, list) in lists.iter().enumerate() {
        let labels = floats(&list["labels"]);
        let scores = floats(&list["scores"]);
        // -1 marks padding: keep the valid slots, in order.
        let (s, y): (Vec<f32>, Vec<f32>) = scores
            .iter()
            .zip(&labels)
            .filter(|(_, y)| **y >= 0.0)
            .map(|(s, y)| (*s, *y))
            .unzip();
        for k in [1, 3, 5, 10] {
            close(
                ndcg_at(&s, &y, k, IdcgZero::Zero).unwrap(),
                list[format!("ndcg@{k}")].as_f64().unwrap(),
                &format!("list {i} ndcg@{k}"),
            );
            close(
                precision_at(&s, &y, k).unwrap(),
                list[format!("precision@{k}")].as_f64().unwrap(),
                &format!("list {i} precision@{k}"),
            );
        }
        close(
            mrr(&s, &y).unwrap(),
            list["mrr"].as_f64().unwrap(),
            &format!("list {i} mrr"),
        );
    }
}

#[test]
fn idcg_zero_conventions() {
    let s = [0.3, 0.9, 0.1];
    let y = [0.0, 0.0, 0.0];
    assert_eq!(ndcg_at(&s, &y, 10, IdcgZero::Zero), Some(0.0));
    assert_eq!(ndcg_at(&s, &y, 10, IdcgZero::One), Some(1.0));
    assert_eq!(ndcg_at(&s, &y, 10, IdcgZero::Skip), None);
    assert_eq!(
        recall_at(&s, &y, 10),
        None,
        "recall skips lists with no relevant item"
    );
    assert_eq!(mrr(&s, &y), Some(0.0));
}

#[test]
fn ties_go_to_the_lower_index() {
    assert_eq!(rank_order(&[1.0, 2.0, 1.0, 2.0]), vec![1, 3, 0, 2]);
    // Tied scores: the relevant item at index 0 ranks first.
    assert_eq!(mrr(&[0.5, 0.5], &[1.0, 0.0]), Some(1.0));
    assert_eq!(mrr(&[0.5, 0.5], &[0.0, 1.0]), Some(0.5));
}

#[test]
fn recall_and_precision_use_k_prime() {
    let s = [3.0, 2.0, 1.0];
    let y = [1.0, 0.0, 2.0];
    assert_eq!(precision_at(&s, &y, 10), Some(2.0 / 3.0));
    assert_eq!(recall_at(&s, &y, 1), Some(0.5));
    assert_eq!(recall_at(&s, &y, 20), Some(1.0));
}

#[test]
fn teacher_agreement() {
    let t = [5.0, 4.0, 3.0, 2.0, 1.0];
    assert_eq!(overlap_at(&t, &t, 3), Some(1.0));
    assert_eq!(kendall_tau_at(&t, &t, 5), Some(1.0));
    let reversed = [1.0, 2.0, 3.0, 4.0, 5.0];
    assert_eq!(kendall_tau_at(&reversed, &t, 5), Some(-1.0));
    assert_eq!(overlap_at(&reversed, &t, 2), Some(0.0));
    // One swap among the teacher's top 3: 2 concordant, 1 discordant pair.
    let s = [4.0, 5.0, 3.0, 0.0, 0.0];
    assert!((kendall_tau_at(&s, &t, 3).unwrap() - 1.0 / 3.0).abs() < 1e-12);
    assert_eq!(kendall_tau_at(&[1.0], &[1.0], 10), None);
}

#[test]
fn accumulator_averages_each_metric_over_the_lists_it_counts() {
    let mut acc = MetricAccumulator::new(IdcgZero::Zero);
    acc.add_list(&[2.0, 1.0], &[1.0, 0.0]); // ndcg 1, recall defined
    acc.add_list(&[2.0, 1.0], &[0.0, 0.0]); // ndcg 0 (counts), recall skipped
    let m = acc.summary();
    assert_eq!(m.get("ndcg@10"), Some(0.5));
    assert_eq!(m.counts["ndcg@10"], 2);
    assert_eq!(m.get("recall@10"), Some(1.0));
    assert_eq!(m.counts["recall@10"], 1);
}

#[test]
fn top_n_is_the_head_of_rank_order() {
    // Ties, infinities and a NaN, over many lengths and cut-offs.
    let mut state = 7u64;
    // Lists of 200 and 5,000 take the one-pass heap for small n, the selection otherwise.
    for len in [0usize, 1, 2, 5, 33, 200, 5000] {
        let scores: Vec<f32> = (0..len)
            .map(|i| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                match i % 11 {
                    3 => f32::NEG_INFINITY,
                    7 => f32::INFINITY,
                    9 if len > 100 => f32::NAN,
                    _ => ((state >> 40) % 7) as f32 * 0.5,
                }
            })
            .collect();
        let full = rank_order(&scores);
        for n in [0usize, 1, 2, 3, 10, 20, 156, 157, 199, 200, 500] {
            assert_eq!(top_n(&scores, n), full[..n.min(len)], "len {len}, n {n}");
            // The same head from the list offered in blocks.
            for block in [1usize, 7, 1000] {
                let mut best = TopN::new(n);
                for (b, chunk) in scores.chunks(block).enumerate() {
                    best.extend(b * block, chunk);
                }
                let got: Vec<usize> = best.into_sorted().into_iter().map(|(i, _)| i).collect();
                assert_eq!(
                    got,
                    full[..n.min(len)],
                    "len {len}, n {n}, blocks of {block}"
                );
            }
        }
    }
}

#[test]
fn binary_ndcg_recall_equals_ndcg_and_recall_on_labels() {
    let mut state = 3u64;
    let mut next = move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
        state >> 33
    };
    for len in [1usize, 7, 40, 3000] {
        for trial in 0..20 {
            // Coarse scores, so ties are common, and a few excluded items at −∞.
            let scores: Vec<f32> = (0..len)
                .map(|_| match next() % 13 {
                    0 => f32::NEG_INFINITY,
                    v => (v % 5) as f32,
                })
                .collect();
            let relevant: Vec<u32> = (0..len as u32).filter(|_| next() % 9 == 0).collect();
            let labels: Vec<f32> = (0..len as u32)
                .map(|i| if relevant.contains(&i) { 1.0 } else { 0.0 })
                .collect();
            let got = binary_ndcg_recall(&scores, &relevant, 10, 20);
            if relevant.is_empty() {
                assert_eq!(got, None);
                continue;
            }
            let (ndcg, recall) = got.expect("relevant items");
            let want_ndcg = ndcg_at(&scores, &labels, 10, IdcgZero::Zero).unwrap();
            let want_recall = recall_at(&scores, &labels, 20).unwrap();
            assert!(
                (ndcg - want_ndcg).abs() < 1e-12,
                "len {len} trial {trial}: {ndcg} vs {want_ndcg}"
            );
            assert!(
                (recall - want_recall).abs() < 1e-12,
                "len {len} trial {trial}: {recall} vs {want_recall}"
            );
        }
    }
}
