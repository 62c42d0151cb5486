//! `raptorflow models import PATH`: bring a local model into the store.
//!
//! - a `.gguf` file: its header and metadata must read, and its architecture
//!   must be one the local LLM runs;
//! - a directory with `model.safetensors`, `config.json` and `tokenizer.json`
//!   of a BERT model (an embedder).
//!
//! Files are copied (never moved) into the content-addressed store.

use std::path::{Path, PathBuf};

use crate::{
    AiError,
    manifest::{FileSpec, ModelKind, ModelSpec, WeightFormat},
    store::{ModelStore, sha256_file},
};

/// GGUF architectures the local LLM can run.
pub const LLM_ARCHITECTURES: &[&str] = &["llama", "gemma3"];

/// The architecture of the GGUF whose header is `content`, if the local LLM
/// runs it; otherwise what is wrong.
pub(crate) fn llm_architecture(content: &candle_core::quantized::gguf_file::Content) -> Result<String, String> {
    let architecture = content.metadata.get("general.architecture").and_then(|v| v.to_string().ok()).ok_or("the GGUF metadata has no general.architecture")?;
    if !LLM_ARCHITECTURES.contains(&architecture.as_str()) {
        return Err(format!("architecture {architecture:?} is not supported (supported: {})", LLM_ARCHITECTURES.join(", ")));
    }
    Ok(architecture.clone())
}

fn bad(path: &Path, detail: impl Into<String>) -> AiError {
    AiError::BadImport { path: path.to_owned(), detail: detail.into() }
}

/// An id from a file name: lowercase letters, digits, `-`, `_` and `.`.
fn id_from(name: &str) -> String {
    let id: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-' { c.to_ascii_lowercase() } else { '-' }).collect();
    id.trim_matches(|c| c == '-' || c == '.').to_owned()
}

/// Reads a GGUF header; returns (architecture, name from metadata).
fn inspect_gguf(path: &Path) -> Result<(String, Option<String>), AiError> {
    let file = std::fs::File::open(path).map_err(AiError::io("could not open", path))?;
    let content = candle_core::quantized::gguf_file::Content::read(&mut std::io::BufReader::new(file))
        .map_err(|err| bad(path, format!("not a readable GGUF file (truncated or damaged?): {err}")))?;
    let architecture = llm_architecture(&content).map_err(|detail| bad(path, detail))?;
    // Every tensor must lie inside the file.
    let len = std::fs::metadata(path).map_err(AiError::io("could not read", path))?.len();
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
        return Err(bad(path, format!("the file is truncated: its tensors need {end} bytes but it has {len}")));
    }
    Ok((architecture, content.metadata.get("general.name").and_then(|v| v.to_string().ok()).cloned()))
}

fn copy_in(store: &ModelStore, source: &Path, name: &str) -> Result<FileSpec, AiError> {
    let (sha256, size) = sha256_file(source)?;
    if !store.has_blob(&sha256, size) {
        let blob = store.blob_path(&sha256);
        let partial = store.root().join("partial").join(format!("{sha256}.import"));
        std::fs::copy(source, &partial).map_err(AiError::io("could not copy", source))?;
        let (copied, _) = sha256_file(&partial)?;
        if copied != sha256 {
            let _ = std::fs::remove_file(&partial);
            return Err(bad(source, "the file changed while it was being imported"));
        }
        std::fs::rename(&partial, &blob).map_err(AiError::io("could not store", &blob))?;
    }
    Ok(FileSpec { name: name.to_owned(), sha256, size, hub_path: None, registry: Vec::new() })
}

/// Imports the model at `path` under `id` (default: from the file name).
pub fn import(store: &ModelStore, path: &Path, id: Option<&str>) -> Result<ModelSpec, AiError> {
    let meta = std::fs::metadata(path).map_err(AiError::io("could not read", path))?;
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let spec = if meta.is_file() && file_name.to_ascii_lowercase().ends_with(".gguf") {
        let (architecture, name) = inspect_gguf(path)?;
        let stem = file_name[..file_name.len() - 5].to_owned();
        ModelSpec {
            id: id.map_or_else(|| id_from(&stem), str::to_owned),
            name: name.unwrap_or(stem),
            kind: ModelKind::Llm,
            architecture,
            format: WeightFormat::Gguf,
            license: "unknown (imported)".into(),
            description: format!("Imported from {}", path.display()),
            default_for: Vec::new(),
            hub: None,
            files: vec![copy_in(store, path, &file_name)?],
        }
    } else if meta.is_dir() {
        let part = |name: &str| -> Result<PathBuf, AiError> {
            let file = path.join(name);
            if file.is_file() { Ok(file) } else { Err(bad(path, format!("a safetensors model directory needs {name}"))) }
        };
        let (config, tokenizer, weights) = (part("config.json")?, part("tokenizer.json")?, part("model.safetensors")?);
        // Loading checks everything: config, tokenizer, weights and their fit.
        crate::embed::BertEmbedder::load_files(&file_name, &config, &tokenizer, &weights, crate::embed::EmbedderOptions::default())
            .map_err(|err| bad(path, err.to_string()))?;
        ModelSpec {
            id: id.map_or_else(|| id_from(&file_name), str::to_owned),
            name: file_name.clone(),
            kind: ModelKind::Embedding,
            architecture: "bert".into(),
            format: WeightFormat::Safetensors,
            license: "unknown (imported)".into(),
            description: format!("Imported from {}", path.display()),
            default_for: Vec::new(),
            hub: None,
            files: vec![copy_in(store, &config, "config.json")?, copy_in(store, &tokenizer, "tokenizer.json")?, copy_in(store, &weights, "model.safetensors")?],
        }
    } else {
        return Err(bad(path, "give a .gguf file, or a directory with model.safetensors, config.json and tokenizer.json"));
    };
    if spec.id.is_empty() {
        return Err(bad(path, "no usable id could be made from the file name; pass --id"));
    }
    if store.manifest().model(&spec.id).is_some() {
        return Err(bad(path, format!("{:?} is the id of a model in the manifest; pass another with --id", spec.id)));
    }
    let mut imported = store.imported_models()?;
    imported.retain(|m| m.id != spec.id);
    imported.push(spec.clone());
    store.save_imported(&imported)?;
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_come_from_file_names() {
        assert_eq!(id_from("SmolLM2-135M-Instruct.Q4_1"), "smollm2-135m-instruct.q4_1");
        assert_eq!(id_from("my model (v2)"), "my-model--v2");
    }

    #[test]
    fn garbage_and_truncated_gguf_are_refused_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let store = ModelStore::open(dir.path().join("models"), crate::Manifest::bundled().unwrap()).unwrap();
        let garbage = dir.path().join("garbage.gguf");
        std::fs::write(&garbage, b"this is not a model at all").unwrap();
        let err = import(&store, &garbage, None).unwrap_err().to_string();
        assert!(err.contains("garbage.gguf") && err.contains("not a readable GGUF"), "{err}");
        let not_model = dir.path().join("notes.txt");
        std::fs::write(&not_model, b"hello").unwrap();
        let err = import(&store, &not_model, None).unwrap_err().to_string();
        assert!(err.contains("give a .gguf file"), "{err}");
        assert!(store.imported_models().unwrap().is_empty(), "nothing was recorded");
    }
}
