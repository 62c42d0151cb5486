//! SmolLM2-135M-Instruct through candle (fetched by ./scripts/test.sh).

use std::{path::PathBuf, sync::atomic::AtomicBool};

use rf_ai::{ChatMessage, GenerateParams, LlmOptions, LocalLlm, Manifest, ModelStore, StopReason};

fn store() -> ModelStore {
    let dir = std::env::var_os("RAPTORFLOW_MODELS_DIR").expect("RAPTORFLOW_MODELS_DIR is not set: run the tests through ./scripts/test.sh");
    ModelStore::open(PathBuf::from(dir), Manifest::bundled().unwrap()).unwrap()
}

fn smollm2() -> LocalLlm {
    let store = store();
    let installed = store.installed("smollm2-135m-instruct-q4_1").expect("SmolLM2 is installed");
    LocalLlm::load(&store, &installed, LlmOptions::default()).unwrap()
}

fn ask(llm: &mut LocalLlm, question: &str, params: &GenerateParams) -> (rf_ai::Generation, String) {
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
    let long = "word ".repeat(9000);
    let err = llm.generate(&long, &GenerateParams::default(), &AtomicBool::new(false), &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains("exceeds the model's context of 8192 tokens"), "{err}");
}
