//! `raptorflow models import PATH`: bring a local model into the store.
//!
//! - a `.gguf` file: its header and metadata must read, and its architecture
//!   must be one the local LLM runs;
//! - a directory with `model.safetensors`, `config.json` and `tokenizer.json`
//!   of a BERT model (an embedder).
//!
//! Files are copied (never moved) into the content-addressed store.

use std::path::{Path, PathBuf};

use rf_ai::{AiError, ModelId};

use crate::{
    manifest::{FileSpec, ModelKind, ModelSpec, WeightFormat},
    store::{ModelStore, sha256_file},
};

/// What only the runtime that will run a model can check: rf-local reads
/// GGUF headers and loads BERT weights with candle, which this crate does not
/// use. [`import`] asks it before anything is copied.
pub trait ImportCheck {
    /// A GGUF file's architecture (one the local LLM runs) and the name in
    /// its metadata; otherwise what is wrong with it, for the user.
    fn inspect_gguf(&self, path: &Path) -> Result<(String, Option<String>), String>;

    /// Loads a BERT embedding model from its three files, to be imported as
    /// `id`; what is wrong with them otherwise.
    fn check_embedder(&self, id: &ModelId, config: &Path, tokenizer: &Path, weights: &Path) -> Result<(), String>;
}

fn bad(path: &Path, detail: impl Into<String>) -> AiError {
    AiError::BadImport { path: path.to_owned(), detail: detail.into() }
}

/// An id from a file name: lowercase letters, digits, `-`, `_` and `.`.
fn id_from(name: &str) -> String {
    let id: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-' { c.to_ascii_lowercase() } else { '-' }).collect();
    id.trim_matches(|c| c == '-' || c == '.').to_owned()
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
/// Nothing is copied or recorded unless `check` accepts the files.
pub fn import(store: &ModelStore, path: &Path, id: Option<&str>, check: &dyn ImportCheck) -> Result<ModelSpec, AiError> {
    let meta = std::fs::metadata(path).map_err(AiError::io("could not read", path))?;
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // The id is settled before anything is copied.
    let model_id = |default: &str| -> Result<ModelId, AiError> {
        let text = id.map_or_else(|| id_from(default), str::to_owned);
        if text.is_empty() {
            return Err(bad(path, "no usable id could be made from the file name; pass --id"));
        }
        let model_id: ModelId = text.parse().map_err(|err: rf_ai::BadId| bad(path, format!("{err}; pass another with --id")))?;
        if store.manifest().model(model_id.as_str()).is_some() {
            return Err(bad(path, format!("{model_id:?} is the id of a model in the manifest; pass another with --id")));
        }
        Ok(model_id)
    };
    let spec = if meta.is_file() && file_name.to_ascii_lowercase().ends_with(".gguf") {
        let (architecture, name) = check.inspect_gguf(path).map_err(|detail| bad(path, detail))?;
        let stem = file_name[..file_name.len() - 5].to_owned();
        ModelSpec {
            id: model_id(&stem)?,
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
        let id = model_id(&file_name)?;
        // Loading checks everything: config, tokenizer, weights and their fit.
        check.check_embedder(&id, &config, &tokenizer, &weights).map_err(|detail| bad(path, detail))?;
        ModelSpec {
            id,
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

    /// Refuses every file, as rf-local does a damaged one.
    struct Refuse;

    impl ImportCheck for Refuse {
        fn inspect_gguf(&self, _: &Path) -> Result<(String, Option<String>), String> {
            Err("not a readable GGUF file".into())
        }

        fn check_embedder(&self, _: &ModelId, _: &Path, _: &Path, _: &Path) -> Result<(), String> {
            Err("the weights do not fit the config".into())
        }
    }

    #[test]
    fn a_refused_or_unknown_file_is_named_and_nothing_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let store = ModelStore::open(dir.path().join("models"), crate::Manifest::bundled().unwrap()).unwrap();
        let garbage = dir.path().join("garbage.gguf");
        std::fs::write(&garbage, b"this is not a model at all").unwrap();
        let err = import(&store, &garbage, None, &Refuse).unwrap_err().to_string();
        assert!(err.contains("garbage.gguf") && err.contains("not a readable GGUF"), "{err}");
        let bert = dir.path().join("bert");
        std::fs::create_dir(&bert).unwrap();
        let err = import(&store, &bert, None, &Refuse).unwrap_err().to_string();
        assert!(err.contains("needs config.json"), "{err}");
        for name in ["config.json", "tokenizer.json", "model.safetensors"] {
            std::fs::write(bert.join(name), b"{}").unwrap();
        }
        let err = import(&store, &bert, None, &Refuse).unwrap_err().to_string();
        assert!(err.contains("do not fit"), "{err}");
        let not_model = dir.path().join("notes.txt");
        std::fs::write(&not_model, b"hello").unwrap();
        let err = import(&store, &not_model, None, &Refuse).unwrap_err().to_string();
        assert!(err.contains("give a .gguf file"), "{err}");
        assert!(store.imported_models().unwrap().is_empty(), "nothing was recorded");
        let blobs = std::fs::read_dir(store.root().join("blobs").join("sha256")).map_or(0, Iterator::count);
        assert_eq!(blobs, 0, "nothing was copied");
    }
}
