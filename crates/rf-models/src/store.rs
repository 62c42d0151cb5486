//! The model store: a content-addressed directory of verified files.
//!
//! ```text
//! <root>/blobs/sha256/<hex>     verified files, named by their hash
//! <root>/partial/<hex>.part     downloads in progress (resumed from here)
//! <root>/converted/<hex>-q8_0.gguf  GGUFs requantized for speed (llm.rs)
//! <root>/imported.json          models imported from local files
//! ```
//!
//! A file enters `blobs/` only after its bytes hash to the pinned value, by
//! an atomic rename; a crash leaves at most a partial download behind.

use std::{
    collections::BTreeMap,
    io::Read,
    path::{Path, PathBuf},
};

use rf_ai::{AiError, ModelId};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::manifest::{FileSpec, Manifest, ModelKind, ModelSpec, WeightFormat};

/// Where a model came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// Listed in the manifest.
    Manifest,
    /// Imported from a local file.
    Imported,
}

/// One row of `raptorflow models list`.
#[derive(Debug, Clone, Serialize)]
pub struct ModelStatus {
    pub id: ModelId,
    pub name: String,
    pub kind: ModelKind,
    pub format: WeightFormat,
    pub architecture: String,
    pub size: u64,
    pub installed: bool,
    pub origin: Origin,
    pub default_for: Vec<String>,
    pub license: String,
}

/// An installed model: its spec and where each of its files is.
#[derive(Debug, Clone)]
pub struct InstalledModel {
    pub spec: ModelSpec,
    pub files: BTreeMap<String, PathBuf>,
}

impl InstalledModel {
    /// The path of one of its files, or a clear error if the spec has none.
    pub fn path(&self, name: &str) -> Result<&Path, AiError> {
        self.files.get(name).map(PathBuf::as_path).ok_or_else(|| AiError::BadModel {
            model: self.spec.id.to_string(),
            path: PathBuf::from(name),
            detail: format!("the model has no file named {name}"),
        })
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct ImportedList {
    models: Vec<ModelSpec>,
}

#[derive(Debug, Clone)]
pub struct ModelStore {
    root: PathBuf,
    manifest: Manifest,
}

/// Lowercase hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// SHA-256 and length of a file, read in 1 MiB blocks.
pub fn sha256_file(path: &Path) -> Result<(String, u64), AiError> {
    let mut file = std::fs::File::open(path).map_err(AiError::io("could not open", path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(AiError::io("could not read", path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        len += n as u64;
    }
    Ok((hex(&hasher.finalize()), len))
}

impl ModelStore {
    /// Opens (creating) the store at `root`, knowing the models in `manifest`.
    pub fn open(root: impl Into<PathBuf>, manifest: Manifest) -> Result<Self, AiError> {
        let root = root.into();
        for dir in [root.join("blobs").join("sha256"), root.join("partial")] {
            std::fs::create_dir_all(&dir).map_err(AiError::io("could not create the model directory", &dir))?;
        }
        Ok(Self { root, manifest })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub fn blob_path(&self, sha256: &str) -> PathBuf {
        self.root.join("blobs").join("sha256").join(sha256)
    }

    /// Whether the verified file with this hash and size is in the store.
    pub(crate) fn has_blob(&self, sha256: &str, size: u64) -> bool {
        std::fs::metadata(self.blob_path(sha256)).is_ok_and(|m| m.len() == size)
    }

    pub(crate) fn partial_path(&self, sha256: &str) -> PathBuf {
        self.root.join("partial").join(format!("{sha256}.part"))
    }

    fn imported_path(&self) -> PathBuf {
        self.root.join("imported.json")
    }

    /// The models imported from local files.
    pub fn imported_models(&self) -> Result<Vec<ModelSpec>, AiError> {
        let path = self.imported_path();
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice::<ImportedList>(&bytes).map(|list| list.models).map_err(|err| AiError::BadModel {
                model: "(imported)".into(),
                path,
                detail: format!("the list of imported models is damaged: {err}"),
            }),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(err) => Err(AiError::Io { what: "could not read", path, source: err }),
        }
    }

    pub(crate) fn save_imported(&self, models: &[ModelSpec]) -> Result<(), AiError> {
        let path = self.imported_path();
        let json = serde_json::to_vec_pretty(&ImportedList { models: models.to_vec() }).map_err(|err| AiError::Inference(err.to_string()))?;
        rf_store::files::write_atomically(&path, &json).map_err(AiError::io("could not write", &path))
    }

    /// A model by id, from the manifest or the imported list.
    pub fn spec(&self, id: &str) -> Result<(ModelSpec, Origin), AiError> {
        if let Some(spec) = self.manifest.model(id) {
            return Ok((spec.clone(), Origin::Manifest));
        }
        self.imported_models()?.into_iter().find(|m| m.id == id).map(|m| (m, Origin::Imported)).ok_or_else(|| AiError::UnknownModel { id: id.to_owned() })
    }

    fn missing_files<'a>(&self, spec: &'a ModelSpec) -> Vec<&'a FileSpec> {
        spec.files.iter().filter(|f| !self.has_blob(&f.sha256, f.size)).collect()
    }

    /// Every known model and whether it is installed.
    pub fn list(&self) -> Result<Vec<ModelStatus>, AiError> {
        let manifest = self.manifest.models.iter().map(|m| (m.clone(), Origin::Manifest));
        let imported = self.imported_models()?.into_iter().map(|m| (m, Origin::Imported));
        Ok(manifest
            .chain(imported)
            .map(|(spec, origin)| ModelStatus {
                installed: self.missing_files(&spec).is_empty(),
                id: spec.id.clone(),
                name: spec.name.clone(),
                kind: spec.kind,
                format: spec.format,
                architecture: spec.architecture.clone(),
                size: spec.total_size(),
                origin,
                default_for: spec.default_for.clone(),
                license: spec.license.clone(),
            })
            .collect())
    }

    /// An installed model's files, or an error naming the command that
    /// fetches what is missing.
    pub fn installed(&self, id: &str) -> Result<InstalledModel, AiError> {
        let (spec, _) = self.spec(id)?;
        let missing = self.missing_files(&spec);
        if !missing.is_empty() {
            let missing = missing.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", ");
            return Err(AiError::NotInstalled { id: id.to_owned(), missing });
        }
        let files = spec.files.iter().map(|f| (f.name.clone(), self.blob_path(&f.sha256))).collect();
        Ok(InstalledModel { spec, files })
    }

    /// The installed default model for a use: the first the manifest lists
    /// for it that is installed (the standard local LLM, else the small
    /// one); with none installed, the error that says how to fetch the first.
    pub fn default_installed(&self, usage: &str) -> Result<InstalledModel, AiError> {
        let mut first_error = None;
        for spec in self.manifest.defaults_for(usage) {
            match self.installed(spec.id.as_str()) {
                Ok(installed) => return Ok(installed),
                Err(err) => {
                    first_error.get_or_insert(err);
                }
            }
        }
        Err(first_error.unwrap_or_else(|| AiError::UnknownModel { id: format!("(default {usage} model)") }))
    }

    /// Model `id`, or the default one of `kind`, installed and of that kind.
    pub fn installed_of_kind(&self, id: Option<&str>, kind: ModelKind) -> Result<InstalledModel, AiError> {
        let (usage, what) = match kind {
            ModelKind::Embedding => ("embedding", "an embedding model"),
            ModelKind::Llm => ("llm", "a language model"),
        };
        let installed = match id {
            Some(id) => self.installed(id)?,
            None => self.default_installed(usage)?,
        };
        if installed.spec.kind != kind {
            return Err(AiError::InvalidInput(format!("{} is not {what}", installed.spec.id)));
        }
        Ok(installed)
    }

    /// Checks a finished download at `partial` against `file` and moves it
    /// into the store; a file that does not match is deleted.
    pub(crate) fn admit(&self, model: &str, file: &FileSpec, partial: &Path, source_name: &str) -> Result<PathBuf, AiError> {
        let (actual, len) = sha256_file(partial)?;
        if len != file.size {
            let _ = std::fs::remove_file(partial);
            return Err(AiError::SizeMismatch {
                model: model.into(),
                file: file.name.clone(),
                source_name: source_name.into(),
                expected: file.size,
                actual: len,
            });
        }
        if actual != file.sha256 {
            let _ = std::fs::remove_file(partial);
            return Err(AiError::ChecksumMismatch {
                model: model.into(),
                file: file.name.clone(),
                source_name: source_name.into(),
                expected: file.sha256.clone(),
                actual,
            });
        }
        let blob = self.blob_path(&file.sha256);
        std::fs::rename(partial, &blob).map_err(AiError::io("could not move the verified file into", &blob))?;
        Ok(blob)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A manifest with one embedding model of one small file.
    fn store_with_tiny(dir: &Path, body: &[u8]) -> ModelStore {
        let text = format!(
            "schema = 1\n[[model]]\nid = \"tiny\"\nname = \"Tiny\"\nkind = \"embedding\"\narchitecture = \"bert\"\n\
             format = \"safetensors\"\nlicense = \"MIT\"\ndescription = \"test\"\ndefault_for = [\"embedding\"]\n\
             hub = {{ repo = \"acme/tiny\", revision = \"r1\" }}\n\
             [[model.file]]\nname = \"tiny.bin\"\nsha256 = \"{}\"\nsize = {}\nhub_path = \"tiny.bin\"\n",
            crate::fetch::sha256_hex(body),
            body.len()
        );
        ModelStore::open(dir, Manifest::parse(&text, "test manifest").unwrap()).unwrap()
    }

    fn write_partial(store: &ModelStore, sha256: &str, bytes: &[u8]) -> PathBuf {
        let partial = store.partial_path(sha256);
        std::fs::create_dir_all(partial.parent().unwrap()).unwrap();
        std::fs::write(&partial, bytes).unwrap();
        partial
    }

    #[test]
    fn only_a_file_of_the_pinned_size_and_hash_is_admitted() {
        let dir = tempfile::tempdir().unwrap();
        let body = b"the weights".to_vec();
        let store = store_with_tiny(dir.path(), &body);
        let file = store.manifest().models[0].files[0].clone();

        let short = write_partial(&store, &file.sha256, b"the weigh");
        let err = store.admit("tiny", &file, &short, "hub").unwrap_err();
        assert!(matches!(err, AiError::SizeMismatch { expected: 11, actual: 9, .. }), "{err}");
        assert_eq!(err.to_string(), "tiny.bin of model tiny from hub is 9 bytes, but the manifest pins 11; it was removed");
        assert!(!short.exists());
        assert!(!store.list().unwrap()[0].installed);

        let good = write_partial(&store, &file.sha256, &body);
        let blob = store.admit("tiny", &file, &good, "hub").unwrap();
        assert_eq!(blob, store.blob_path(&file.sha256));
        assert!(!good.exists(), "moved, not copied");
        assert!(store.list().unwrap()[0].installed);
        assert_eq!(store.default_installed("embedding").unwrap().path("tiny.bin").unwrap(), blob);
    }

    #[test]
    fn the_default_is_the_first_installed_of_those_listed_for_the_use() {
        let dir = tempfile::tempdir().unwrap();
        let (big, small) = (b"the big weights".to_vec(), b"small".to_vec());
        let model = |id: &str, body: &[u8]| {
            format!(
                "[[model]]\nid = \"{id}\"\nname = \"{id}\"\nkind = \"llm\"\narchitecture = \"llama\"\nformat = \"gguf\"\nlicense = \"MIT\"\n\
                 description = \"test\"\ndefault_for = [\"llm\"]\nhub = {{ repo = \"acme/{id}\", revision = \"r1\" }}\n\
                 [[model.file]]\nname = \"{id}.gguf\"\nsha256 = \"{}\"\nsize = {}\nhub_path = \"{id}.gguf\"\n",
                crate::fetch::sha256_hex(body),
                body.len()
            )
        };
        let text = format!("schema = 1\n{}{}", model("standard", &big), model("small", &small));
        let store = ModelStore::open(dir.path(), Manifest::parse(&text, "test manifest").unwrap()).unwrap();
        let err = store.default_installed("llm").unwrap_err().to_string();
        assert!(err.contains("standard"), "with none installed, the error names the preferred one: {err}");

        let file = store.manifest().models[1].files[0].clone();
        store.admit("small", &file, &write_partial(&store, &file.sha256, &small), "registry").unwrap();
        assert_eq!(store.default_installed("llm").unwrap().spec.id, "small", "the small one stands in");
        let file = store.manifest().models[0].files[0].clone();
        store.admit("standard", &file, &write_partial(&store, &file.sha256, &big), "registry").unwrap();
        assert_eq!(store.default_installed("llm").unwrap().spec.id, "standard", "once installed, the standard one is used");
        assert_eq!(store.installed_of_kind(Some("small"), ModelKind::Llm).unwrap().spec.id, "small", "a named model is still used");
    }

    #[test]
    fn a_model_of_the_wrong_kind_or_without_a_default_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let body = b"the weights".to_vec();
        let store = store_with_tiny(dir.path(), &body);
        let file = store.manifest().models[0].files[0].clone();
        store.admit("tiny", &file, &write_partial(&store, &file.sha256, &body), "hub").unwrap();

        assert_eq!(store.installed_of_kind(Some("tiny"), ModelKind::Embedding).unwrap().spec.id, "tiny");
        let err = store.installed_of_kind(Some("tiny"), ModelKind::Llm).unwrap_err().to_string();
        assert_eq!(err, "invalid input: tiny is not a language model");
        let err = store.installed_of_kind(None, ModelKind::Llm).unwrap_err().to_string();
        assert_eq!(err, "no model with id \"(default llm model)\"; `raptorflow models list` shows the known ones");
        let missing = store.installed("tiny").unwrap().path("other.bin").unwrap_err().to_string();
        assert!(missing.contains("other.bin"), "{missing}");
    }

    #[test]
    fn imported_models_are_listed_and_a_damaged_list_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_tiny(dir.path(), b"the weights");
        assert!(store.imported_models().unwrap().is_empty(), "no list yet is an empty list");

        let mut mine = store.manifest().models[0].clone();
        mine.id = "mine".parse().unwrap();
        mine.default_for.clear();
        store.save_imported(std::slice::from_ref(&mine)).unwrap();
        let listed = store.list().unwrap();
        assert_eq!(listed.iter().map(|m| (m.id.as_str(), m.origin)).collect::<Vec<_>>(), [("tiny", Origin::Manifest), ("mine", Origin::Imported)]);
        assert_eq!(store.spec("mine").unwrap(), (mine, Origin::Imported));

        std::fs::write(dir.path().join("imported.json"), b"{\"models\": [").unwrap();
        let err = store.list().unwrap_err().to_string();
        assert!(err.contains("imported.json") && err.contains("the list of imported models is damaged"), "{err}");
        // The manifest's models are still there to use.
        assert_eq!(store.spec("tiny").unwrap().1, Origin::Manifest);
        let err = store.spec("nothing").unwrap_err().to_string();
        assert!(err.contains("damaged"), "an unknown id is looked up in the damaged list and says so: {err}");
    }
}
