//! Errors of the AI layer. Each says which model or file it concerns and,
//! where there is one, the command that fixes it.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum AiError {
    #[error("the model manifest {origin} is invalid: {detail}")]
    Manifest { origin: String, detail: String },
    #[error("no model with id {id:?}; `raptorflow models list` shows the known ones")]
    UnknownModel { id: String },
    #[error("model {id} is not installed (missing: {missing}); run `raptorflow models fetch {id}`")]
    NotInstalled { id: String, missing: String },
    #[error(
        "{file} of model {model} from {source_name} has sha256 {actual}, but the manifest pins {expected}; \
         the download was removed and nothing was installed"
    )]
    ChecksumMismatch { model: String, file: String, source_name: String, expected: String, actual: String },
    #[error("{file} of model {model} from {source_name} is {actual} bytes, but the manifest pins {expected}; it was removed")]
    SizeMismatch { model: String, file: String, source_name: String, expected: u64, actual: u64 },
    #[error("could not download {url}: {detail}")]
    Download { url: String, detail: String },
    #[error("{file} of model {model} has no source of the kind asked for ({wanted})")]
    NoSource { model: String, file: String, wanted: String },
    #[error("could not fetch the package {package}: {detail}")]
    Registry { package: String, detail: String },
    #[error("{} is not a model file RaptorFlow can import: {detail}", path.display())]
    BadImport { path: PathBuf, detail: String },
    #[error("{} of model {model} cannot be used: {detail}", path.display())]
    BadModel { model: String, path: PathBuf, detail: String },
    #[error("{what} {}: {source}", path.display())]
    Io { what: &'static str, path: PathBuf, source: std::io::Error },
    #[error("the embedder failed: {0}")]
    Inference(String),
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error(transparent)]
    BadId(#[from] crate::BadId),
    #[error(transparent)]
    Provider(#[from] crate::ProviderError),
    #[error(transparent)]
    Budget(#[from] crate::BudgetExceeded),
    #[error(transparent)]
    NoModel(#[from] crate::selector::SelectError),
    #[error("the cost ledger could not be read or written: {0}")]
    Ledger(String),
}

impl AiError {
    /// A model file that cannot be used, and why.
    pub fn bad_model(model: &str, path: &std::path::Path, detail: impl std::fmt::Display) -> Self {
        Self::BadModel { model: model.to_owned(), path: path.to_owned(), detail: detail.to_string() }
    }

    /// Maps an I/O error to [`AiError::Io`]: `what` failed on `path`.
    pub fn io(what: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { what, path, source }
    }
}
