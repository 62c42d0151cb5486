//! SmolLM2-135M-Instruct through candle (fetched by ./scripts/test.sh).

use std::{path::PathBuf, sync::atomic::AtomicBool};

use rf_ai::{ChatMessage, GenerateParams, StopReason};
use rf_local::{LlmOptions, LocalLlm};
use rf_models::{Manifest, ModelStore};

fn store() -> ModelStore {
    let dir = std::env::var_os("RAPTORFLOW_MODELS_DIR").expect("RAPTORFLOW_MODELS_DIR is not set: run the tests through ./scripts/test.sh");
    ModelStore::open(PathBuf::from(dir), Manifest::bundled().unwrap()).unwrap()
}

fn smollm2() -> LocalLlm {
    let store = store();
    let installed = store.installed("smollm2-135m-instruct-q4_1").expect("SmolLM2 is installed");
    LocalLlm::load(&store, &installed, LlmOptions::default()).unwrap()
}

fn ask(llm: &mut LocalLlm, question: &str, params: &GenerateParams) -> (rf_local::Generation, String) {
    let prompt = llm.chat_prompt(&[ChatMessage::new("user", question)]).unwrap();
    let mut streamed = String::new();
    let generation = llm.generate(&prompt, params, &AtomicBool::new(false), &mut |piece| streamed.push_str(piece)).unwrap();
    (generation, streamed)
}

#[test]
fn it_answers_an_instruction_and_stops_at_the_end_of_its_turn() {
    let mut llm = smollm2();
    let prompt = llm.chat_prompt(&[ChatMessage::new("user", "Say hello.")]).unwrap();
    assert!(prompt.contains("<|im_start|>user\nSay hello.<|im_end|>") && prompt.ends_with("<|im_start|>assistant\n"), "{prompt:?}");
    let params = GenerateParams { max_tokens: 120, ..GenerateParams::default() };
    let (generation, streamed) = ask(&mut llm, "Write a one-sentence tagline for a flower shop.", &params);
    assert!(!generation.text.trim().is_empty());
    assert_eq!(generation.stop_reason, StopReason::EndOfTurn, "{generation:?}");
    assert!(generation.generated_tokens < 120);
    assert_eq!(streamed, generation.text, "the streamed pieces add up to the answer");
    assert!(!generation.text.contains("<|im_end|>"));
    // Greedy decoding is deterministic.
    let (again, _) = ask(&mut llm, "Write a one-sentence tagline for a flower shop.", &params);
    assert_eq!(again.text, generation.text);
}

#[test]
fn max_tokens_stop_sequences_seeds_and_cancellation() {
    let mut llm = smollm2();
    let question = "List ten colours of roses, one per line.";
    let params = GenerateParams { max_tokens: 5, temperature: 0.8, seed: 7, ..GenerateParams::default() };
    let (generation, _) = ask(&mut llm, question, &params);
    assert_eq!((generation.stop_reason, generation.generated_tokens), (StopReason::MaxTokens, 5));
    let (same_seed, _) = ask(&mut llm, question, &params);
    assert_eq!(same_seed.text, generation.text, "the same seed samples the same tokens");

    let params = GenerateParams { max_tokens: 100, stop: vec!["\n".into()], ..GenerateParams::default() };
    let (generation, streamed) = ask(&mut llm, question, &params);
    assert_eq!(generation.stop_reason, StopReason::StopSequence, "{generation:?}");
    assert!(!generation.text.contains('\n'));
    assert_eq!(streamed, generation.text, "nothing past the stop sequence was streamed");

    let prompt = llm.chat_prompt(&[ChatMessage::new("user", question)]).unwrap();
    let cancelled = llm.generate(&prompt, &GenerateParams::default(), &AtomicBool::new(true), &mut |_| {}).unwrap();
    assert_eq!((cancelled.stop_reason, cancelled.generated_tokens), (StopReason::Cancelled, 1));
}

#[test]
fn a_prompt_past_the_context_is_refused() {
    let mut llm = smollm2();
    let long = "word ".repeat(5000);
    // SmolLM2 declares 8192; candle's llama has position tables for 4096.
    let err = llm.generate(&long, &GenerateParams::default(), &AtomicBool::new(false), &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains("exceeds the model's context of 4096 tokens"), "{err}");

    let store = store();
    let installed = store.installed("smollm2-135m-instruct-q4_1").unwrap();
    let err = LocalLlm::load(&store, &installed, LlmOptions { context: Some(100_000), ..LlmOptions::default() }).unwrap_err().to_string();
    assert!(err.contains("a context of 100000 tokens is outside what smollm2-135m-instruct-q4_1 supports (1 to 8192)"), "{err}");
}

/// The ad schema of the issue: both fields required, nothing else allowed.
fn ad_schema() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "properties": {
            "headline": { "type": "string", "maxLength": 30 },
            "description": { "type": "string", "maxLength": 90 }
        },
        "required": ["headline", "description"],
        "additionalProperties": false
    })
}

/// What the schema demands, checked independently of the grammar.
fn valid_ad(value: &serde_json::Value) -> Result<(), String> {
    let object = value.as_object().ok_or("not an object")?;
    let mut keys: Vec<&String> = object.keys().collect();
    keys.sort();
    if keys != ["description", "headline"] {
        return Err(format!("keys {keys:?}"));
    }
    for (key, limit) in [("headline", 30), ("description", 90)] {
        let text = object[key].as_str().ok_or(format!("{key} is not a string"))?;
        if text.chars().count() > limit {
            return Err(format!("{key} has {} characters", text.chars().count()));
        }
    }
    Ok(())
}

#[test]
fn fifty_sampled_answers_all_parse_and_match_the_schema() {
    let mut llm = smollm2();
    let prompt = llm
        .chat_prompt(&[ChatMessage::new(
            "user",
            "Write an ad for a flower shop as JSON with a headline (at most 30 characters) and a description (at most 90 characters).",
        )])
        .unwrap();
    let schema = ad_schema();
    let mut failures = Vec::new();
    let mut texts = std::collections::HashSet::new();
    for seed in 0..50 {
        // Room for the worst case the schema allows: 120 characters that are
        // each a multi-token emoji (seen at this temperature).
        let params = GenerateParams { max_tokens: 600, temperature: 0.8, top_p: 0.95, seed, stop: Vec::new() };
        let mut streamed = String::new();
        match llm.generate_json(&prompt, &schema, &params, &AtomicBool::new(false), &mut |piece| streamed.push_str(piece)) {
            Ok((generation, value)) => {
                assert_eq!(serde_json::from_str::<serde_json::Value>(&streamed).unwrap(), value, "the stream is the answer");
                if let Err(why) = valid_ad(&value) {
                    failures.push(format!("seed {seed}: {why}: {}", generation.text));
                }
                texts.insert(generation.text);
            }
            Err(err) => failures.push(format!("seed {seed}: {err}")),
        }
    }
    assert!(failures.is_empty(), "{} of 50 failed:\n{}", failures.len(), failures.join("\n"));
    assert!(texts.len() > 10, "different seeds sample different answers ({} distinct)", texts.len());
}

#[test]
fn a_schema_answer_cut_short_is_an_error_not_half_a_value() {
    let mut llm = smollm2();
    let prompt = llm.chat_prompt(&[ChatMessage::new("user", "Write an ad for a flower shop as JSON.")]).unwrap();
    let params = GenerateParams { max_tokens: 3, ..GenerateParams::default() };
    let err = llm.generate_json(&prompt, &ad_schema(), &params, &AtomicBool::new(false), &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains("cut at 3 tokens before its JSON was complete"), "{err}");
    let err = llm.generate_json(&prompt, &serde_json::json!("not a schema"), &params, &AtomicBool::new(false), &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains("must be an object"), "{err}");
}

#[test]
fn a_constrained_string_cannot_hold_a_control_character() {
    let llm = smollm2();
    let tokenizer = llm.tokenizer();
    let guidance = rf_local::constrained::Guidance::new(tokenizer, tokenizer.get_vocab_size(true), llm.end_ids()[0], None).unwrap();
    let schema = serde_json::json!({"type": "object", "properties": {"subject": {"type": "string"}}, "required": ["subject"], "additionalProperties": false});
    // How many tokens of `text` the grammar takes, of how many.
    let accepted = |text: &str| {
        let ids = tokenizer.encode(text, false).unwrap().get_ids().to_vec();
        let mut matcher = guidance.matcher(&schema).unwrap();
        (matcher.validate_tokens(&ids).unwrap(), ids.len())
    };
    for fine in [r#"{"subject":"Café \"beans\"\n\tline"}"#, r#"{"subject":"Café and 😀"}"#] {
        let (taken, all) = accepted(fine);
        assert_eq!(taken, all, "{fine}");
    }
    for control in [r#"{"subject":"bell\u0007"}"#, r#"{"subject":"back\bspace"}"#, r#"{"subject":"form\ffeed"}"#, r#"{"subject":"Caf\u00e9"}"#] {
        let (taken, all) = accepted(control);
        assert!(taken < all, "{control}: the grammar took all {all} tokens");
    }
}

fn gemma(requantize: bool) -> LocalLlm {
    let store = store();
    let installed = store.installed("gemma-3-270m-q4_k_m").expect("Gemma 3 270M is installed (./scripts/test.sh fetches it)");
    LocalLlm::load(&store, &installed, LlmOptions { context: Some(2048), requantize, ..LlmOptions::default() }).unwrap()
}

/// Teacher-forced against llama.cpp's greedy continuations of the same file
/// (tests/data/gemma3_greedy.json, made by anchor-scripts/gemma_greedy.mjs):
/// at every step llama.cpp's token must be ours too, or within a hair of it
/// (quantized kernels round activations differently, so near-ties may
/// flip). The third prompt is 675 tokens: past the 512-position sliding
/// window and more than one prefill chunk. Run on the file as shipped and
/// on its Q8_0 conversion.
#[test]
fn gemma3_agrees_with_llama_cpp_token_by_token() {
    let reference: serde_json::Value =
        serde_json::from_slice(&std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/gemma3_greedy.json")).unwrap()).unwrap();
    for requantize in [false, true] {
        let mut llm = gemma(requantize);
        assert!(!llm.has_chat_template(), "the 270M GGUF is a base model");
        let (mut steps, mut same) = (0, 0);
        for case in reference["cases"].as_array().unwrap() {
            let text = case["text"].as_str().unwrap();
            let expected: Vec<u32> = serde_json::from_value(case["ids"].clone()).unwrap();
            let prompt = llm.prompt_ids(text).unwrap();
            assert_eq!(prompt.len(), case["prompt_tokens"].as_u64().unwrap() as usize, "BOS plus the same prompt tokens");
            let mut logits = llm.next_logits(&prompt, 0).unwrap();
            for (n, &want) in expected.iter().enumerate() {
                let (best, top) = logits.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, v)| (i as u32, *v)).unwrap();
                let gap = top - logits[want as usize];
                assert!(gap < GAP, "step {n} of {text:?}: llama.cpp's token {want} is {gap:.3} below our best {best}");
                steps += 1;
                same += usize::from(best == want);
                logits = llm.next_logits(&[want], prompt.len() + n).unwrap();
            }
        }
        assert!(same * 10 >= steps * 9, "requantize={requantize}: only {same} of {steps} greedy tokens agree with llama.cpp");
    }
}

/// How far below our best logit llama.cpp's pick may be.
const GAP: f32 = 0.5;

#[test]
fn gemma3_continues_text() {
    let mut llm = gemma(true);
    let mut streamed = String::new();
    let params = GenerateParams { max_tokens: 8, temperature: 0.0, ..GenerateParams::default() };
    let generation = llm.generate("The capital of France is", &params, &AtomicBool::new(false), &mut |piece| streamed.push_str(piece)).unwrap();
    assert_eq!(generation.stop_reason, StopReason::MaxTokens);
    assert_eq!(generation.generated_tokens, 8);
    assert_eq!(streamed, generation.text);
    assert!(generation.text.contains("France"), "{:?}", generation.text);
    let err = llm.chat_prompt(&[ChatMessage::new("user", "hi")]).unwrap_err().to_string();
    assert!(err.contains("base model"), "{err}");
}
