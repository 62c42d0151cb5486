//! `POST /v1/embeddings`: texts embedded by Core, as floats or base64.

use base64::Engine as _;
use hyper::{Response, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{API_CALLER, AUTO_MODEL, ApiError, Body, MAX_EMBEDDING_INPUTS, State, full, unknown_model};
use crate::{
    CoreError,
    ai::{CallContext, ModelKind},
};

/// An embeddings request's input: one text or many.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum EmbeddingInput {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
pub(super) struct EmbeddingsBody {
    #[serde(default)]
    model: Option<String>,
    input: Value,
    #[serde(default)]
    encoding_format: Option<String>,
    #[serde(default)]
    dimensions: Option<usize>,
}

pub(super) async fn embeddings(state: &State, body: EmbeddingsBody) -> Result<Response<Body>, ApiError> {
    let texts = match serde_json::from_value::<EmbeddingInput>(body.input) {
        Ok(EmbeddingInput::One(text)) => vec![text],
        Ok(EmbeddingInput::Many(texts)) => texts,
        Err(_) => return Err(ApiError::invalid(Some("input"), "input must be a text or a list of texts (token arrays are not supported)")),
    };
    if texts.is_empty() || texts.len() > MAX_EMBEDDING_INPUTS {
        return Err(ApiError::invalid(Some("input"), format!("input has {} texts: give 1 to {MAX_EMBEDDING_INPUTS}", texts.len())));
    }
    if let Some(i) = texts.iter().position(String::is_empty) {
        return Err(ApiError::invalid(Some("input"), format!("input[{i}] is empty")));
    }
    let base64 = match body.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => return Err(ApiError::invalid(Some("encoding_format"), format!("encoding_format {other:?}: use float or base64"))),
    };
    let store = state.core.model_store().await?;
    let model = match body.model.as_deref() {
        None | Some(AUTO_MODEL) => None,
        Some(id) => match store.list().map_err(CoreError::from)?.into_iter().find(|m| m.id.as_str() == id) {
            Some(m) if m.installed && m.kind == ModelKind::Embedding => Some(id.to_owned()),
            _ => return Err(unknown_model(id)),
        },
    };
    let mut context = CallContext::user(state.core.user().id.clone());
    context.caller = Some(API_CALLER.to_owned());
    let embedded = state.core.embed_counted(&texts, model.as_deref(), &context).await?;
    if let Some(dimensions) = body.dimensions
        && embedded.vectors.first().is_some_and(|v| v.len() != dimensions)
    {
        return Err(ApiError::invalid(
            Some("dimensions"),
            format!("{} gives {} dimensions; it cannot give {dimensions}", embedded.model, embedded.vectors[0].len()),
        ));
    }
    let data: Vec<Value> = embedded
        .vectors
        .iter()
        .enumerate()
        .map(|(index, vector)| {
            let embedding = if base64 {
                let bytes: Vec<u8> = vector.iter().flat_map(|v| v.to_le_bytes()).collect();
                Value::from(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(vector)
            };
            json!({ "object": "embedding", "index": index, "embedding": embedding })
        })
        .collect();
    Ok(full(
        StatusCode::OK,
        &json!({
            "object": "list",
            "data": data,
            "model": embedded.model,
            "usage": { "prompt_tokens": embedded.tokens, "total_tokens": embedded.tokens },
        }),
    ))
}
