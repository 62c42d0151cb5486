//! What importing a model checks with candle ([`LocalCheck`], rf-models'
//! [`ImportCheck`]): a GGUF file's header, metadata and tensor extents, and
//! that a BERT model's three files load together.

use std::path::Path;

use candle_core::quantized::gguf_file::Content;
use rf_ai::ModelId;
use rf_models::ImportCheck;

use crate::{BertEmbedder, EmbedderOptions};

/// GGUF architectures the local LLM can run.
pub const LLM_ARCHITECTURES: &[&str] = &["llama", "gemma3", "qwen2"];

/// The architecture of the GGUF whose header is `content`, if the local LLM
/// runs it; otherwise what is wrong.
pub(crate) fn llm_architecture(content: &Content) -> Result<String, String> {
    let architecture = content.metadata.get("general.architecture").and_then(|v| v.to_string().ok()).ok_or("the GGUF metadata has no general.architecture")?;
    if !LLM_ARCHITECTURES.contains(&architecture.as_str()) {
        return Err(format!("architecture {architecture:?} is not supported (supported: {})", LLM_ARCHITECTURES.join(", ")));
    }
    Ok(architecture.clone())
}

/// The checks [`rf_models::import`] needs, done by loading with candle.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalCheck;

impl ImportCheck for LocalCheck {
    fn inspect_gguf(&self, path: &Path) -> Result<(String, Option<String>), String> {
        let file = std::fs::File::open(path).map_err(|err| format!("could not open it: {err}"))?;
        let content = Content::read(&mut std::io::BufReader::new(file)).map_err(|err| format!("not a readable GGUF file (truncated or damaged?): {err}"))?;
        let architecture = llm_architecture(&content)?;
        // Every tensor must lie inside the file.
        let len = std::fs::metadata(path).map_err(|err| format!("could not read it: {err}"))?.len();
        let end = content
            .tensor_infos
            .values()
            .map(|t| {
                let bytes = t.shape.elem_count() / t.ggml_dtype.block_size() * t.ggml_dtype.type_size();
                content.tensor_data_offset + t.offset + bytes as u64
            })
            .max()
            .unwrap_or(0);
        if end > len {
            return Err(format!("the file is truncated: its tensors need {end} bytes but it has {len}"));
        }
        Ok((architecture, content.metadata.get("general.name").and_then(|v| v.to_string().ok()).cloned()))
    }

    fn check_embedder(&self, id: &ModelId, config: &Path, tokenizer: &Path, weights: &Path) -> Result<(), String> {
        // Loading checks everything: config, tokenizer, weights and their fit.
        BertEmbedder::load_files(id, config, tokenizer, weights, EmbedderOptions::default()).map(drop).map_err(|err| err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use rf_models::{Manifest, ModelStore, import};

    use super::*;

    #[test]
    fn garbage_and_truncated_gguf_are_refused_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let store = ModelStore::open(dir.path().join("models"), Manifest::bundled().unwrap()).unwrap();
        let garbage = dir.path().join("garbage.gguf");
        std::fs::write(&garbage, b"this is not a model at all").unwrap();
        let err = import(&store, &garbage, None, &LocalCheck).unwrap_err().to_string();
        assert!(err.contains("garbage.gguf") && err.contains("not a readable GGUF"), "{err}");
        assert!(store.imported_models().unwrap().is_empty(), "nothing was recorded");
    }
}
