//! The model store through Core: what is installed, fetching (the shell's
//! progress plus [`CoreEvent::ModelDownload`] events) and importing local
//! model files. Works without a workspace: models live in their own
//! directory.

use std::{
    path::Path,
    sync::Mutex,
    time::{Duration, Instant},
};

use rf_ai::ModelId;
use rf_models::{FetchProgress, Fetcher, ModelSpec, ModelStatus, Source};
use serde::Serialize;

use crate::{Core, CoreEvent, Result};

/// The longest a subscriber waits between two download events of a file.
const EVENT_EVERY: Duration = Duration::from_millis(250);

/// What fetching one model did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FetchedModel {
    pub id: ModelId,
    /// Files downloaded (or taken from a registry package) now.
    pub fetched: Vec<String>,
    /// Files that were already installed.
    pub already_installed: Vec<String>,
}

/// Passes progress to the shell and publishes it as events, at most one
/// per [`EVENT_EVERY`] per file besides its first and last.
struct Publishing<'a> {
    core: &'a Core,
    shell: &'a dyn FetchProgress,
    /// (model, file, total, when the last event went out)
    current: Mutex<(Option<ModelId>, String, u64, Instant)>,
}

impl Publishing<'_> {
    fn publish(&self, done: u64, force: bool) {
        let mut current = self.current.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !force && current.3.elapsed() < EVENT_EVERY {
            return;
        }
        current.3 = Instant::now();
        let (Some(model), file, total) = (current.0.clone(), current.1.clone(), current.2) else { return };
        drop(current);
        self.core.publish(CoreEvent::ModelDownload { model, file, done, total });
    }
}

impl FetchProgress for Publishing<'_> {
    fn file_started(&self, model: &ModelId, file: &str, source: &str, total: u64, done: u64) {
        self.shell.file_started(model, file, source, total, done);
        *self.current.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = (Some(model.clone()), file.to_owned(), total, Instant::now());
        self.publish(done, true);
    }

    fn advanced(&self, done: u64) {
        self.shell.advanced(done);
        self.publish(done, false);
    }

    fn file_finished(&self, file: &str) {
        self.shell.file_finished(file);
        let total = self.current.lock().unwrap_or_else(std::sync::PoisonError::into_inner).2;
        self.publish(total, true);
    }

    fn note(&self, message: &str) {
        self.shell.note(message);
    }
}

impl Core {
    /// Where model files live.
    pub fn models_dir(&self) -> &Path {
        &self.inner.engine.models_dir
    }

    /// Every model the manifest knows or that was imported, installed or not.
    pub async fn models(&self) -> Result<Vec<ModelStatus>> {
        Ok(self.inner.engine.store().await?.list()?)
    }

    /// Fetches model `id`, or the default models (the embedder and the
    /// local LLM) without one; files already installed are kept. Every
    /// file is verified against its sha256 before it is used. Progress goes
    /// to `progress` and, as [`CoreEvent::ModelDownload`] and
    /// [`CoreEvent::ModelInstalled`], to subscribers.
    pub async fn fetch_models(&self, id: Option<&ModelId>, source: Source, progress: &dyn FetchProgress) -> Result<Vec<FetchedModel>> {
        let engine = &self.inner.engine;
        let store = engine.store().await?;
        let ids: Vec<ModelId> = match id {
            Some(id) => vec![id.clone()],
            None => store.manifest().models.iter().filter(|m| !m.default_for.is_empty()).map(|m| m.id.clone()).collect(),
        };
        let fetcher = match &engine.model_hub {
            Some(hub) => Fetcher::with_hub(store.clone(), hub)?,
            None => Fetcher::new(store.clone())?,
        };
        let publishing = Publishing { core: self, shell: progress, current: Mutex::new((None, String::new(), 0, Instant::now())) };
        let mut fetched = Vec::new();
        for id in ids {
            let report = fetcher.fetch(id.as_str(), source, &publishing).await?;
            self.publish(CoreEvent::ModelInstalled { model: id.clone() });
            fetched.push(FetchedModel { id, fetched: report.fetched, already_installed: report.already_installed });
        }
        Ok(fetched)
    }

    /// Imports a local GGUF file or BERT safetensors directory as model
    /// `id` (default: from the file name), after loading it to check it.
    pub async fn import_model(&self, path: &Path, id: Option<&str>) -> Result<ModelSpec> {
        let store = self.inner.engine.store().await?.clone();
        let (path, id) = (path.to_owned(), id.map(str::to_owned));
        let spec = tokio::task::spawn_blocking(move || rf_models::import(&store, &path, id.as_deref(), &rf_local::LocalCheck))
            .await
            .map_err(|err| rf_ai::AiError::Inference(format!("the import task failed: {err}")))??;
        self.publish(CoreEvent::ModelInstalled { model: spec.id.clone() });
        Ok(spec)
    }
}
