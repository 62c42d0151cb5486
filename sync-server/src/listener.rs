//! The TCP side of the server: accepting connections within limits that a
//! client without a token cannot exhaust (slowloris and friends).
//!
//! axum's own `serve` has no header-read timeout and retries a failed accept
//! at once, so 1,100 clients that open a request and never finish it held
//! every file descriptor and `/healthz` stopped answering. Here every
//! request's headers must arrive within `header_timeout`, one IP address may
//! hold at most `max_per_address` connections that have not yet become
//! WebSockets (authenticated WebSockets are limited per token instead), and
//! a failed accept (out of file descriptors) backs off instead of spinning.

use std::{
    collections::HashMap,
    future::Future,
    net::IpAddr,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use axum::Router;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use tokio::{net::TcpListener, sync::watch};
use tokio_util::task::TaskTracker;

use crate::metrics::Metrics;

/// Limits on connections that have not authenticated yet.
#[derive(Debug, Clone, Copy)]
pub struct ListenLimits {
    /// Time allowed for a request's headers.
    pub header_timeout: Duration,
    /// Open connections per IP address; 0 for no limit.
    pub max_per_address: usize,
}

/// The number of open connections from each address.
#[derive(Debug, Default)]
struct AddressCounts(Mutex<HashMap<IpAddr, usize>>);

/// One connection's place in [`AddressCounts`], given back on drop.
#[derive(Debug)]
struct AddressSlot {
    counts: Arc<AddressCounts>,
    address: IpAddr,
}

impl AddressCounts {
    fn take(self: &Arc<Self>, address: IpAddr, limit: usize) -> Option<AddressSlot> {
        let mut counts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let count = counts.entry(address).or_insert(0);
        if limit != 0 && *count >= limit {
            return None;
        }
        *count += 1;
        Some(AddressSlot { counts: self.clone(), address })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut counts = self.counts.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = counts.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.address);
            }
        }
    }
}

/// Errors of one connection that say nothing about the listener.
fn is_connection_error(err: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(err.kind(), ConnectionRefused | ConnectionAborted | ConnectionReset)
}

/// Raises the soft limit on open files to the hard limit, so that a server
/// started from a shell with the default 1,024 can hold its connections.
pub fn raise_open_file_limit() {
    #[cfg(unix)]
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open file limit"),
        Err(err) => tracing::warn!(error = %err, "could not raise the open file limit"),
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then stops
/// accepting, lets requests in flight finish, and returns.
pub async fn serve(listener: TcpListener, router: Router, limits: ListenLimits, metrics: Arc<Metrics>, shutdown: impl Future<Output = ()> + Send) {
    let counts = Arc::new(AddressCounts::default());
    let tracker = TaskTracker::new();
    let (closing_tx, closing_rx) = watch::channel(false);
    let mut backoff = Duration::ZERO;
    let mut last_accept_warning: Option<Instant> = None;
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, address) = match accepted {
            Ok(pair) => {
                backoff = Duration::ZERO;
                pair
            }
            Err(err) if is_connection_error(&err) => continue,
            Err(err) => {
                // Most likely out of file descriptors: retrying at once would
                // spin a core while the descriptors stay taken.
                Metrics::add(&metrics.accept_errors_total, 1);
                backoff = (backoff * 2).clamp(Duration::from_millis(10), Duration::from_secs(1));
                if last_accept_warning.is_none_or(|at| at.elapsed() >= Duration::from_secs(10)) {
                    last_accept_warning = Some(Instant::now());
                    tracing::warn!(error = %err, backoff_ms = backoff.as_millis() as u64, "could not accept a connection; backing off");
                }
                tokio::select! {
                    () = tokio::time::sleep(backoff) => continue,
                    () = &mut shutdown => break,
                }
            }
        };
        let Some(slot) = counts.take(address.ip(), limits.max_per_address) else {
            Metrics::add(&metrics.refused_connections_total, 1);
            tracing::debug!(address = %address.ip(), "refused a connection: too many from one address");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let mut closing = closing_rx.clone();
        tracker.spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            tokio::pin!(connection);
            let finished = tokio::select! {
                result = connection.as_mut() => Some(result),
                () = async { drop(closing.wait_for(|closing| *closing).await) } => None,
            };
            let result = match finished {
                Some(result) => result,
                None => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            // An upgraded connection's future ends at the upgrade: from then
            // on it is a WebSocket, limited per token, not per address.
            drop(slot);
            if let Err(err) = result {
                tracing::debug!(error = %err, "connection ended with an error");
            }
        });
    }
    let _ = closing_tx.send(true);
    tracker.close();
    if tokio::time::timeout(Duration::from_secs(10), tracker.wait()).await.is_err() {
        tracing::warn!("requests still running 10 seconds after shutdown began; stopping anyway");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_over_its_limit_is_refused_until_a_slot_comes_back() {
        let counts = Arc::new(AddressCounts::default());
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.3".parse().unwrap();
        let first = counts.take(a, 2).unwrap();
        let _second = counts.take(a, 2).unwrap();
        assert!(counts.take(a, 2).is_none());
        assert!(counts.take(b, 2).is_some(), "other addresses have their own count");
        drop(first);
        assert!(counts.take(a, 2).is_some());
        assert!(counts.take(a, 0).is_some(), "0 means no limit");
    }
}
