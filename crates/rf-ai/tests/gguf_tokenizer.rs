//! The tokenizer built from SmolLM2's GGUF metadata against llama.cpp's ids
//! (tests/data/smollm2_tokens.json).

use std::path::PathBuf;

use rf_ai::{Manifest, ModelStore, gguf_tokenizer::tokenizer_from_gguf_file};

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
