//! Export, `rankdistil score`, the numpy round trip, and the errors around them.

use std::path::Path;

use crate::util::*;

/// A trained run in `dir/run` on 6-feature synthetic data in `dir/data.txt`.
fn trained(dir: &Path) {
    trained_with(dir, "")
}

/// The same with extra `[model]` keys.
fn trained_with(dir: &Path, model_keys: &str) {
    ok(rankdistil(
        dir,
        &[
            "gen-synthetic",
            "--out",
            "data.txt",
            "--queries",
            "12",
            "--features",
            "6",
            "--max-items",
            "30",
        ],
    ));
    std::fs::write(
        dir.join("t.toml"),
        format!("[data]\ntrain = \"data.txt\"\nvalid_fraction = 0.25\nnormalization = \"log1p_zscore\"\n[model]\nhidden = [8, 4]\nactivation = \"tanh\"\n{model_keys}\n[train]\nepochs = 2\nbatch_size = 4\n"),
    )
    .unwrap();
    ok(rankdistil(
        dir,
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
}

/// Exports `dir/run` as safetensors into `dir/st` and as burnpack into `dir/bp`.
fn export_both(dir: &Path) {
    for (format, out) in [("safetensors", "st"), ("burnpack", "bp")] {
        ok(rankdistil(
            dir,
            &["export", "--run", "run", "--format", format, "--out", out],
        ));
    }
}

fn scores(trec: &str) -> Vec<(String, String, f64)> {
    trec.lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f.len(), 6, "TREC has 6 columns: {l}");
            assert_eq!(f[1], "Q0");
            (f[0].to_string(), f[2].to_string(), f[4].parse().unwrap())
        })
        .collect()
}

#[test]
fn safetensors_and_burnpack_exports_score_alike_and_numpy_reproduces_them() {
    round_trip("");
}

#[test]
fn layer_norm_scorers_export_and_numpy_reproduces_them() {
    round_trip("layer_norm = true");
}

/// Exports a run trained with `model_keys` both ways, scores with each on two backends, and has
/// numpy score the safetensors export from its config.json alone.
fn round_trip(model_keys: &str) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    trained_with(d, model_keys);
    export_both(d);
    check_export_config(d, !model_keys.is_empty());
    score_both_formats_alike(d);
    numpy_reproduces_the_scores(d);
}

/// The safetensors export's `config.json` says what a server needs.
fn check_export_config(d: &Path, layer_norm: bool) {
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("st/config.json")).unwrap()).unwrap();
    assert_eq!(config["input_dim"], 6);
    assert_eq!(config["architecture"]["hidden"], serde_json::json!([8, 4]));
    assert_eq!(config["normalization"]["kind"], "log1p_zscore");
    assert!(config["catalog_size"].is_null());
    assert!(config["metrics"]["valid"]["values"]["ndcg@10"].is_number());
    assert_eq!(config["architecture"]["layer_norm"], layer_norm);
    if layer_norm {
        assert_eq!(config["layer_norm_epsilon"], 1e-5);
        assert!(
            config["forward"]
                .as_str()
                .unwrap()
                .contains("norms.{i}.gamma")
        );
    } else {
        assert!(config.get("layer_norm_epsilon").is_none());
    }
}

/// `score` gives the same run from both export formats, on two backends.
fn score_both_formats_alike(d: &Path) {
    ok(rankdistil(
        d,
        &[
            "score",
            "--model",
            "st",
            "--data",
            "data.txt",
            "--out",
            "st.trec",
            "--backend",
            TEST_BACKEND,
        ],
    ));
    let bp = ok(rankdistil(
        d,
        &[
            "score",
            "--model",
            "bp",
            "--data",
            "data.txt",
            "--backend",
            "flex",
        ],
    ));
    let st = scores(&std::fs::read_to_string(d.join("st.trec")).unwrap());
    let bp = scores(&String::from_utf8_lossy(&bp.stdout));
    assert_eq!(st.len(), bp.len());
    assert!(
        st.iter().any(|(_, doc, _)| doc.starts_with('q')),
        "doc ids come from the LETOR comments"
    );
    for (a, b) in st.iter().zip(&bp) {
        assert_eq!((&a.0, &a.1), (&b.0, &b.1));
        assert!(
            (a.2 - b.2).abs() <= 1e-5 * a.2.abs().max(1.0),
            "{a:?} vs {b:?}"
        );
    }
}

/// `scripts/score_with_numpy.py` scores the export as `score` did.
fn numpy_reproduces_the_scores(d: &Path) {
    if !python_has("numpy, safetensors", "RANKDISTIL_REQUIRE_NUMPY") {
        return;
    }
    let args = ["st", "data.txt", "--compare", "st.trec"];
    let out = python_script(d, "score_with_numpy.py", &args);
    assert!(out.contains("worst difference"), "{out}");
}

#[test]
fn a_model_with_another_input_dimension_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    trained(d);
    ok(rankdistil(d, &["export", "--run", "run", "--out", "st"]));
    std::fs::write(d.join("wide.txt"), "1 qid:1 1:0.5 7:1\n0 qid:1 2:1\n").unwrap();
    let o = score(d, "st", "wide.txt");
    let err = refusal(&o);
    assert!(
        err.contains("wide.txt:1: feature index 7 exceeds the configured 6 features"),
        "{err}"
    );
    assert!(err.contains("takes 6 features"), "{err}");
}

/// `rankdistil score --model <model> --data <data>` in `d`, on the test backend.
fn score(d: &Path, model: &str, data: &str) -> std::process::Output {
    let args = [
        "score",
        "--model",
        model,
        "--data",
        data,
        "--backend",
        TEST_BACKEND,
    ];
    rankdistil(d, &args)
}

#[test]
fn truncated_and_foreign_checkpoints_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    trained(d);
    export_both(d);

    let st = d.join("st/model.safetensors");
    let bytes = std::fs::read(&st).unwrap();
    std::fs::write(&st, &bytes[..bytes.len() / 2]).unwrap();
    crate::util::reseal(&d.join("st"), "model.safetensors");
    let o = score(d, "st", "data.txt");
    let err = refusal(&o);
    assert!(
        err.contains("model.safetensors") && err.contains("not a readable safetensors"),
        "{err}"
    );

    std::fs::write(d.join("bp/model.bpk"), b"this is not a checkpoint at all").unwrap();
    crate::util::reseal(&d.join("bp"), "model.bpk");
    let o = score(d, "bp", "data.txt");
    let err = refusal(&o);
    assert!(
        err.contains("model.bpk") && err.contains("not a readable burnpack checkpoint"),
        "{err}"
    );
}

#[test]
fn an_export_config_that_does_not_fit_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    trained(d);
    // Weights of another architecture than config.json records.
    ok(rankdistil(
        d,
        &[
            "export", "--run", "run", "--format", "burnpack", "--out", "bp2",
        ],
    ));
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("bp2/config.json")).unwrap()).unwrap();
    cfg["architecture"]["hidden"] = serde_json::json!([16]);
    std::fs::write(d.join("bp2/config.json"), cfg.to_string()).unwrap();
    let o = score(d, "bp2", "data.txt");
    let err = refusal(&o);
    assert!(
        err.contains("do not fit the recorded architecture"),
        "{err}"
    );

    // Found by scripts/fuzz.sh: Burn's dropout panics on a probability of 1.
    cfg["architecture"]["dropout"] = serde_json::json!(1.0);
    std::fs::write(d.join("bp2/config.json"), cfg.to_string()).unwrap();
    let o = score(d, "bp2", "data.txt");
    let err = refusal(&o);
    assert!(
        err.contains(
            "config.json: [architecture] hidden widths must be >= 1 and dropout in [0, 1)"
        ),
        "{err}"
    );
}

#[test]
fn a_diverging_run_stops_with_the_epoch_and_step() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(rankdistil(
        d,
        &[
            "gen-synthetic",
            "--out",
            "data.txt",
            "--queries",
            "12",
            "--features",
            "6",
        ],
    ));
    std::fs::write(
        d.join("t.toml"),
        "loss = \"mse\"\n[data]\ntrain = \"data.txt\"\n[model]\nhidden = [8]\n[train]\nepochs = 3\nbatch_size = 2\nlearning_rate = 1e30\n",
    )
    .unwrap();
    let o = rankdistil(
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
    );
    let err = refusal(&o);
    assert!(
        err.contains("the loss became") && err.contains("at epoch 1, step"),
        "{err}"
    );
    assert!(err.contains("last good checkpoint"), "{err}");
}
