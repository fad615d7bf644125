//! The spec's test vectors, computed with TF-Ranking 0.5.5 (docs/LOSSES.md, "Coupled RankDistil" and "Label losses").

mod common;

use common::*;
use rankdistil_loss::{
    CoupledRankDistilConfig, ListMleConfig, ListOrders, OrderedLoss, RankNet, SoftmaxCe,
};
use serde_json::Value;

fn load(name: &str) -> Value {
    // The manifest dir as cargo gives it at run time: a test binary built in another
    // checkout of the same target dir would carry that checkout's path.
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR");
    let path = format!("{dir}/tests/vectors/{name}");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn matrix(v: &Value) -> (Vec<f32>, usize, usize) {
    let rows: Vec<Vec<f32>> = v.as_array().unwrap().iter().map(floats).collect();
    let (b, n) = (rows.len(), rows[0].len());
    (rows.concat(), b, n)
}

#[test]
fn coupled_rankdistil_matches_tf_ranking() {
    let d = device();
    let cases = load("coupled_rankdistil.json");
    let cases = cases["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 10);
    for (c, case) in cases.iter().enumerate() {
        let (s, b, n) = matrix(&case["student"]);
        let (t, _, _) = matrix(&case["teacher"]);
        let (m, _, _) = matrix(&case["mask"]);
        let mask: Vec<bool> = m.iter().map(|&x| x > 0.5).collect();
        let loss = CoupledRankDistilConfig::new()
            .with_k(case["k"].as_u64().unwrap() as usize)
            .with_samples(0)
            .with_temperature(case["temperature"].as_f64().unwrap())
            .init();
        let orders = loss.orders(&t, &mask, b, n);
        let per_list = vec2(loss.per_sample(t2(&s, b, n, &d), &orders));
        for (i, expected) in floats(&case["coupled_per_list"]).iter().enumerate() {
            assert_rel(
                per_list[i],
                *expected as f64,
                1e-5,
                &format!("case {c} list {i}"),
            );
        }
        let mean = scalar(loss.forward(t2(&s, b, n, &d), t2(&t, b, n, &d), m2(&mask, b, n, &d)));
        assert_rel(
            mean,
            case["coupled_mean"].as_f64().unwrap(),
            1e-5,
            &format!("case {c} mean"),
        );
    }
}

#[test]
fn label_losses_match_tf_ranking() {
    let d = device();
    let lists = load("label_losses_and_metrics.json");
    let lists = lists["lists"].as_array().unwrap();
    assert!(lists.len() >= 20);
    for (i, list) in lists.iter().enumerate() {
        let labels = floats(&list["labels"]);
        let scores = floats(&list["scores"]);
        let n = labels.len();
        let mask: Vec<bool> = labels.iter().map(|&y| y >= 0.0).collect();
        let y: Vec<f32> = labels.iter().map(|&y| y.max(0.0)).collect();

        let (ce, counts) =
            SoftmaxCe::new().per_list(t2(&scores, 1, n, &d), t2(&y, 1, n, &d), m2(&mask, 1, n, &d));
        let counted = counts.into_data().try_into_vec::<bool>().unwrap()[0];
        assert_eq!(
            counted,
            y.iter().sum::<f32>() > 0.0,
            "list {i}: softmax_ce counts only lists with labels"
        );
        if counted {
            assert_rel(
                vec1(ce)[0],
                list["softmax_ce"].as_f64().unwrap(),
                1e-5,
                &format!("list {i} softmax_ce"),
            );
        }

        let (sum, _) = RankNet::new().per_list_sum(
            t2(&scores, 1, n, &d),
            t2(&y, 1, n, &d),
            m2(&mask, 1, n, &d),
        );
        assert_rel(
            vec1(sum)[0],
            list["pairwise_logistic_sum"].as_f64().unwrap(),
            1e-5,
            &format!("list {i} pairwise_logistic_sum"),
        );

        let distinct = floats(&list["distinct_labels"]);
        let listmle = ListMleConfig::new().init();
        let orders: ListOrders = listmle.orders(&distinct, &mask, 1, n);
        let value = vec1(listmle.per_list(t2(&scores, 1, n, &d), &orders))[0];
        assert_rel(
            value,
            list["listmle_distinct"].as_f64().unwrap(),
            1e-5,
            &format!("list {i} listmle"),
        );
    }
}
