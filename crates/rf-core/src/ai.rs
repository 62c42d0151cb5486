//! Local AI for the shells: the model store and fetcher, and embeddings.
//! Works without a workspace: models live in their own directory.

use std::path::{Path, PathBuf};

pub use rf_ai::{
    AiError, BertEmbedder, Embedder, EmbedderOptions, FetchProgress, FetchReport, Fetcher, Manifest, ModelKind, ModelStatus, ModelStore, Origin, Quiet,
    Source, cosine, import::LLM_ARCHITECTURES,
};

use crate::Result;

/// The model directory inside a data directory, unless `RAPTORFLOW_MODELS_DIR`
/// (or the shell's `--models-dir`) says otherwise.
pub fn default_models_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("models")
}

/// The store at `dir`, knowing the models of the bundled manifest.
pub fn open_models(dir: &Path) -> Result<ModelStore> {
    Ok(ModelStore::open(dir, Manifest::bundled()?)?)
}

/// Imports a local GGUF file or safetensors model directory.
pub fn import_model(store: &ModelStore, path: &Path, id: Option<&str>) -> Result<rf_ai::ModelSpec> {
    Ok(rf_ai::import::import(store, path, id)?)
}

/// Loads an embedder: `model` (an id) or the default embedding model.
pub fn load_embedder(store: &ModelStore, model: Option<&str>, options: EmbedderOptions) -> Result<BertEmbedder> {
    let installed = store.installed_of_kind(model, ModelKind::Embedding)?;
    Ok(BertEmbedder::load(&installed, options)?)
}

pub use rf_ai::{ChatMessage, GenerateParams, Generation, LlmOptions, LocalLlm, StopReason};

/// Loads a local LLM: `model` (an id) or the default local LLM.
pub fn load_llm(store: &ModelStore, model: Option<&str>, options: LlmOptions) -> Result<LocalLlm> {
    let installed = store.installed_of_kind(model, ModelKind::Llm)?;
    Ok(LocalLlm::load(store, &installed, options)?)
}
