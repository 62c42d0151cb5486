//! [`LocalChatModel`]: a [`LocalLlm`] behind rf-ai's [`LanguageModel`], so
//! that the local model is called exactly like a cloud one.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicBool, Ordering},
};

use futures::future::BoxFuture;
use rf_ai::{AiError, ChatRequest, Completion, GenerateParams, LanguageModel, ModelId, ModelRef, ProviderName, Usage};
use tokio_util::sync::CancellationToken;

use crate::LocalLlm;

/// A [`LocalLlm`] behind [`LanguageModel`]: generation runs on a blocking
/// thread, one call at a time, and its text is streamed back.
#[derive(Debug, Clone)]
pub struct LocalChatModel {
    llm: Arc<Mutex<LocalLlm>>,
    model: ModelId,
}

impl LocalChatModel {
    pub fn new(llm: LocalLlm) -> Self {
        let model = llm.model_id().clone();
        Self { llm: Arc::new(Mutex::new(llm)), model }
    }
}

impl LanguageModel for LocalChatModel {
    fn model_ref(&self) -> ModelRef {
        ModelRef { provider: ProviderName::local(), model: self.model.clone(), local: true }
    }

    fn complete<'a>(
        &'a self,
        request: &'a ChatRequest,
        on_text: &'a mut (dyn FnMut(&str) + Send),
        cancel: &'a CancellationToken,
    ) -> BoxFuture<'a, Result<Completion, AiError>> {
        Box::pin(async move {
            let (pieces_tx, mut pieces) = tokio::sync::mpsc::unbounded_channel::<String>();
            let stop_flag = Arc::new(AtomicBool::new(false));
            let llm = self.llm.clone();
            let request = request.clone();
            let flag = stop_flag.clone();
            let mut job = tokio::task::spawn_blocking(move || {
                let mut llm = llm.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                let prompt = if request.raw {
                    request.messages.iter().map(|m| m.content.as_str()).collect::<Vec<_>>().join("\n\n")
                } else {
                    llm.chat_prompt(&request.messages)?
                };
                let params = GenerateParams {
                    max_tokens: request.max_tokens,
                    temperature: request.temperature,
                    top_p: request.top_p,
                    seed: request.seed,
                    stop: request.stop.clone(),
                };
                let mut send = |piece: &str| {
                    let _ = pieces_tx.send(piece.to_owned());
                };
                match &request.schema {
                    Some(schema) => llm.generate_json(&prompt, schema, &params, &flag, &mut send).map(|(generation, _)| generation),
                    None => llm.generate(&prompt, &params, &flag, &mut send),
                }
            });
            let generation = loop {
                tokio::select! {
                    Some(piece) = pieces.recv() => on_text(&piece),
                    () = cancel.cancelled(), if !stop_flag.load(Ordering::Relaxed) => stop_flag.store(true, Ordering::Relaxed),
                    finished = &mut job => {
                        while let Ok(piece) = pieces.try_recv() {
                            on_text(&piece);
                        }
                        break finished.map_err(|err| AiError::Inference(format!("the local model's thread failed: {err}")))??;
                    }
                }
            };
            Ok(Completion {
                text: generation.text,
                stop_reason: generation.stop_reason,
                usage: Usage { input_tokens: generation.prompt_tokens as u64, output_tokens: generation.generated_tokens as u64, ..Usage::default() },
                model: self.model.to_string(),
            })
        })
    }
}
