//! Counters and gauges, rendered in the Prometheus text format at `/metrics`.
//!
//! A dozen atomics and a `render` are all this needs; a metrics framework
//! would add registries and label machinery for no gain.

use std::{
    fmt::Write,
    sync::atomic::{AtomicI64, AtomicU64, Ordering},
};

macro_rules! metrics {
    ($( $field:ident : $kind:ident = $help:literal ),* $(,)?) => {
        /// Every metric the server exports.
        #[derive(Debug, Default)]
        pub struct Metrics {
            $( pub $field: metrics!(@type $kind), )*
        }

        impl Metrics {
            /// The Prometheus text exposition of every metric, plus `documents`.
            pub fn render(&self, documents: Option<u64>, healthy: bool) -> String {
                let mut out = String::new();
                $(
                    let name = concat!("raptorflow_sync_", stringify!($field));
                    let _ = writeln!(out, "# HELP {name} {}", $help);
                    let _ = writeln!(out, "# TYPE {name} {}", metrics!(@prom $kind));
                    let _ = writeln!(out, "{name} {}", self.$field.load(Ordering::Relaxed));
                )*
                if let Some(documents) = documents {
                    let _ = writeln!(out, "# HELP raptorflow_sync_documents Documents the server holds.");
                    let _ = writeln!(out, "# TYPE raptorflow_sync_documents gauge");
                    let _ = writeln!(out, "raptorflow_sync_documents {documents}");
                }
                let _ = writeln!(out, "# HELP raptorflow_sync_healthy 1 while storage is working.");
                let _ = writeln!(out, "# TYPE raptorflow_sync_healthy gauge");
                let _ = writeln!(out, "raptorflow_sync_healthy {}", u8::from(healthy));
                out
            }
        }
    };
    (@type counter) => { AtomicU64 };
    (@type gauge) => { AtomicI64 };
    (@prom counter) => { "counter" };
    (@prom gauge) => { "gauge" };
}

metrics! {
    connections: gauge = "Open WebSocket connections.",
    connections_total: counter = "WebSocket connections accepted.",
    messages_in_total: counter = "Protocol messages received from clients.",
    messages_out_total: counter = "Protocol messages sent to clients.",
    bytes_in_total: counter = "Bytes of protocol messages received.",
    bytes_out_total: counter = "Bytes of protocol messages sent.",
    viewer_writes_dropped_total: counter = "Changes sent by viewers, which are not applied.",
    ephemeral_echoes_dropped_total: counter = "Ephemeral messages a client passed back on under another peer's id, not relayed again.",
    refused_connections_total: counter = "TCP connections closed at once: over the per-address limit.",
    accept_errors_total: counter = "Failed accepts (e.g. out of file descriptors), each followed by a back-off.",
    relayed_chunks_total: counter = "Chunks stored by other instances on the shared database and applied here.",
    relay_notifications_total: counter = "Notifications heard from other instances on the shared database (each names many chunks).",
    relay_keys_total: counter = "Chunk keys those notifications named, whether or not this instance had the document live.",
    auth_failures_total: counter = "Requests refused for a missing, wrong or revoked token.",
    protocol_errors_total: counter = "Connections closed for malformed or forbidden frames.",
    limit_closes_total: counter = "Connections closed for exceeding a limit (documents, idle time).",
    rate_limited_total: counter = "Messages delayed by the per-token message rate limit.",
    storage_errors_total: counter = "Storage operations that failed after every retry.",
    storage_retries_total: counter = "Storage operations that failed and were retried.",
    storage_commits_total: counter = "Transactions that stored chunks (group commit: many chunks each).",
    storage_chunk_writes_total: counter = "Chunks stored or deleted.",
    documents_loaded: gauge = "Documents in memory (loaded from the database, not yet unloaded as idle).",
    documents_unloaded_total: counter = "Documents taken out of memory: after `unload_idle_secs` without activity, or at shutdown.",
}

impl Metrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let metrics = Metrics::default();
        Metrics::add(&metrics.auth_failures_total, 2);
        metrics.connections.fetch_add(3, Ordering::Relaxed);
        let text = metrics.render(Some(7), false);
        assert!(text.contains("# TYPE raptorflow_sync_auth_failures_total counter\nraptorflow_sync_auth_failures_total 2\n"), "{text}");
        assert!(text.contains("raptorflow_sync_connections 3\n"));
        assert!(text.contains("raptorflow_sync_documents 7\n"));
        assert!(text.contains("raptorflow_sync_healthy 0\n"));
    }
}
