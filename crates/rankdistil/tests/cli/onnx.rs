//! ONNX exports scored by onnxruntime alone match `rankdistil score` to 1e-5, for a plain
//! model, a layer-norm GELU model and a `log1p_zscore` model.

use std::path::Path;

use crate::util::*;

/// Trains a run with `normalization` and `model` keys on synthetic data, exports it as ONNX and
/// safetensors, and checks onnxruntime's scores of the data against `score`'s.
fn onnx_matches_score(normalization: &str, model: &str) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = [
        "gen-synthetic",
        "--out",
        "data.txt",
        "--queries",
        "12",
        "--features",
        "6",
        "--max-items",
        "30",
    ];
    ok(rankdistil(d, &data));
    let config = format!(
        "[data]\ntrain = \"data.txt\"\nnormalization = \"{normalization}\"\n[model]\nhidden = [8, 4]\n{model}\n[train]\nepochs = 2\nbatch_size = 4\n"
    );
    std::fs::write(d.join("t.toml"), config).unwrap();
    ok(rankdistil(
        d,
        &[
            "train",
            "--config",
            "t.toml",
            "--backend",
            TEST_BACKEND,
            "--out",
            "run",
        ],
    ));
    for (format, out) in [("onnx", "onnx"), ("safetensors", "st")] {
        ok(rankdistil(
            d,
            &["export", "--run", "run", "--format", format, "--out", out],
        ));
    }
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("onnx/config.json")).unwrap())
            .unwrap();
    assert_eq!(config["format"], "onnx");
    assert_eq!(config["weights"], "model.onnx");
    let score = [
        "score",
        "--model",
        "st",
        "--data",
        "data.txt",
        "--out",
        "st.trec",
        "--backend",
        TEST_BACKEND,
    ];
    ok(rankdistil(d, &score));
    // `score` serves safetensors and burnpack; an ONNX export goes to onnxruntime.
    let refused = [
        "score",
        "--model",
        "onnx",
        "--data",
        "data.txt",
        "--backend",
        TEST_BACKEND,
    ];
    fails(
        &rankdistil(d, &refused),
        "an ONNX export, which onnxruntime serves",
    );
    onnxruntime_matches(d);
}

/// `scripts/score_with_onnxruntime.py` scores `d/onnx` as `d/st.trec` says, when it can run.
fn onnxruntime_matches(d: &Path) {
    if !python_has("numpy, onnxruntime", "RANKDISTIL_REQUIRE_ONNXRUNTIME") {
        return;
    }
    let args = ["onnx", "data.txt", "--compare", "st.trec"];
    let out = python_script(d, "score_with_onnxruntime.py", &args);
    assert!(out.contains("worst difference"), "{out}");
}

#[test]
fn a_plain_model_in_onnx_scores_as_rankdistil_does() {
    onnx_matches_score("zscore", "activation = \"relu\"");
}

#[test]
fn a_layer_norm_gelu_model_in_onnx_scores_as_rankdistil_does() {
    onnx_matches_score("zscore", "activation = \"gelu\"\nlayer_norm = true");
}

#[test]
fn a_log1p_zscore_model_in_onnx_scores_as_rankdistil_does() {
    onnx_matches_score("log1p_zscore", "activation = \"tanh\"");
}
