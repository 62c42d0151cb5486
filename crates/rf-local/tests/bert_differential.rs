//! Our own BERT encoder (rf-ai's `bert` and `kernels`, kept because it is
//! faster than ONNX Runtime) against candle's `BertModel` on the same
//! all-MiniLM-L6-v2 weights: on a few hundred varied texts — short copy,
//! long passages cut at 256 tokens, punctuation, digits, other scripts,
//! emoji, a single character — every vector must agree to cosine ≥ 0.99999.
//! Any change to the kernels that breaks the arithmetic fails here.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use rf_ai::{Embedder, cosine};
use rf_local::{BertEmbedder, EmbedderOptions};
use rf_models::{Manifest, ModelStore};
use tokenizers::{Tokenizer, TruncationParams};

fn models_dir() -> PathBuf {
    std::env::var_os("RAPTORFLOW_MODELS_DIR")
        .expect("RAPTORFLOW_MODELS_DIR is not set: run the tests through ./scripts/test.sh, which fetches the models")
        .into()
}

/// Short copy, long passages and texts that stress the tokenizer.
fn texts() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/corpus.json");
    let corpus: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let mut texts: Vec<String> = Vec::new();
    for key in ["short", "chunks"] {
        texts.extend(corpus[key].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_owned()));
    }
    texts.truncate(280);
    texts.extend(
        [
            "a",
            "?",
            "2026-12-04: 40% off, $19.99/mo — T&Cs apply*",
            "Ça coûte 12 € ; naïve façade, déjà vu.",
            "Größere Räder für Straßen und Wälder.",
            "東京で自転車を借りる",
            "Велосипеды для города",
            "🚲🚲 spring rides 🌸 start here!!!",
            "URL: https://example.com/spring?utm_source=x&utm_medium=post",
            "   leading and trailing spaces   ",
            "ALL CAPS HEADLINE FOR A SALE",
            "word ".repeat(400).as_str(),
        ]
        .map(str::to_owned),
    );
    texts
}

/// Mean of the token vectors, as sentence-transformers pools MiniLM.
fn reference_vectors(model: &BertModel, tokenizer: &Tokenizer, texts: &[String]) -> Vec<Vec<f32>> {
    texts
        .iter()
        .map(|text| {
            let encoding = tokenizer.encode(text.as_str(), true).unwrap();
            let ids = Tensor::new(encoding.get_ids(), &Device::Cpu).unwrap().unsqueeze(0).unwrap();
            let types = ids.zeros_like().unwrap();
            let hidden = model.forward(&ids, &types, None).unwrap();
            hidden.mean(1).unwrap().squeeze(0).unwrap().to_vec1::<f32>().unwrap()
        })
        .collect()
}

#[test]
#[allow(clippy::print_stderr)]
fn our_encoder_matches_candles_bert_model_on_varied_texts() {
    let store = ModelStore::open(models_dir(), Manifest::bundled().unwrap()).unwrap();
    let installed = store.installed("all-minilm-l6-v2").expect("the embedding model is installed");
    let config: Config = serde_json::from_slice(&std::fs::read(installed.path("config.json").unwrap()).unwrap()).unwrap();
    let vb = candle_weights(installed.path("model.safetensors").unwrap());
    let model = BertModel::load(vb, &config).unwrap();
    let mut tokenizer = Tokenizer::from_file(installed.path("tokenizer.json").unwrap()).unwrap();
    tokenizer.with_padding(None);
    tokenizer.with_truncation(Some(TruncationParams { max_length: BertEmbedder::MAX_TOKENS, ..TruncationParams::default() })).unwrap();

    let texts = texts();
    assert!(texts.len() >= 250, "only {} texts", texts.len());
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let ours = BertEmbedder::load(&installed, EmbedderOptions { threads: 2 }).unwrap().embed(&refs).unwrap();
    let theirs = reference_vectors(&model, &tokenizer, &texts);
    let mut worst = (1.0_f32, "");
    for ((text, a), b) in texts.iter().zip(&ours).zip(&theirs) {
        let similarity = cosine(a, b);
        if similarity < worst.0 {
            worst = (similarity, text);
        }
    }
    eprintln!("{} texts; lowest cosine {:.7} on {:?}", texts.len(), worst.0, worst.1.chars().take(60).collect::<String>());
    assert!(worst.0 >= 0.99999, "cosine {} on {:?}", worst.0, worst.1);
}

/// The weights through candle's own loader (read into memory, no mmap).
fn candle_weights(path: &Path) -> VarBuilder<'static> {
    let bytes = std::fs::read(path).unwrap();
    VarBuilder::from_buffered_safetensors(bytes, DType::F32, &Device::Cpu).unwrap()
}
