//! samod's storage over a [`Backend`]. samod's storage calls cannot return
//! errors, so each one is retried; a call that still fails is counted, logged
//! and marks the server unhealthy until a later storage call succeeds.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use samod::storage::Storage;
use samod_core::StorageKey;

use crate::{
    metrics::Metrics,
    store::{Backend, StoreError},
};

const ATTEMPTS: u32 = 5;

/// Whether storage is working, for `/healthz`.
#[derive(Debug, Default)]
pub struct Health {
    failing: AtomicBool,
}

impl Health {
    pub fn is_healthy(&self) -> bool {
        !self.failing.load(Ordering::Relaxed)
    }
}

#[derive(Debug, Clone)]
pub struct ServerStorage<B> {
    backend: B,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
}

impl<B: Backend> ServerStorage<B> {
    pub fn new(backend: B, metrics: Arc<Metrics>, health: Arc<Health>) -> Self {
        Self { backend, metrics, health }
    }

    async fn retry<T, F, Fut>(&self, what: &'static str, key: &str, mut attempt: F) -> Option<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let mut delay = Duration::from_millis(20);
        for n_attempt in 1..=ATTEMPTS {
            match attempt().await {
                Ok(value) => {
                    self.health.failing.store(false, Ordering::Relaxed);
                    return Some(value);
                }
                Err(err) if n_attempt < ATTEMPTS => {
                    Metrics::add(&self.metrics.storage_retries_total, 1);
                    tracing::warn!(key, attempt = n_attempt, error = %err, "storage {what} failed, retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 3;
                }
                Err(err) => {
                    Metrics::add(&self.metrics.storage_errors_total, 1);
                    self.health.failing.store(true, Ordering::Relaxed);
                    tracing::error!(key, error = %err, "storage {what} failed after {ATTEMPTS} attempts");
                }
            }
        }
        None
    }
}

fn parse_rows(rows: Vec<(String, Vec<u8>)>) -> HashMap<StorageKey, Vec<u8>> {
    rows.into_iter()
        .filter_map(|(key, data)| match StorageKey::from_parts(key.split('/')) {
            Ok(parsed) => Some((parsed, data)),
            Err(_) => {
                tracing::warn!(key, "ignoring a chunk with a malformed key");
                None
            }
        })
        .collect()
}

impl<B: Backend> Storage for ServerStorage<B> {
    async fn load(&self, key: StorageKey) -> Option<Vec<u8>> {
        let key = key.to_string();
        self.retry("load", &key, || self.backend.chunk_load(&key)).await.flatten()
    }

    async fn load_range(&self, prefix: StorageKey) -> HashMap<StorageKey, Vec<u8>> {
        let prefix = prefix.to_string();
        let rows = if prefix.is_empty() {
            self.retry("range load", "", || self.backend.chunk_load_all()).await
        } else {
            // Every key under `prefix/`: '0' is the character after '/'.
            let (lower, upper) = (format!("{prefix}/"), format!("{prefix}0"));
            self.retry("range load", &prefix, || self.backend.chunk_load_range(&prefix, &lower, &upper)).await
        };
        rows.map(parse_rows).unwrap_or_default()
    }

    async fn put(&self, key: StorageKey, data: Vec<u8>) {
        let key = key.to_string();
        self.retry("put", &key, || self.backend.chunk_put(&key, &data)).await;
    }

    async fn delete(&self, key: StorageKey) {
        let key = key.to_string();
        self.retry("delete", &key, || self.backend.chunk_delete(&key)).await;
    }
}
