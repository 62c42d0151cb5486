//! How much of each connection's input waits unprocessed in document actors'
//! mailboxes (PATCHES.md, 10).
//!
//! A connection's messages are read, decoded by the hub and queued for their
//! document actors. A peer that sends faster than the actors apply its
//! messages would grow those queues without bound. Each queued message
//! carries a [`Charge`] against its connection's [`Backlog`], released when
//! the actor has handled it (or the message is dropped); the connection
//! stops reading while its backlog is over the limit, so the peer is slowed
//! by TCP instead of growing the server's memory.
//!
//! Storage writes are bounded the same way, across the repo: while
//! [`STORAGE_BACKLOG`] bytes of puts are waiting for the storage, no
//! connection is read. Every peer's writes queue behind the same disk, so
//! all of them are slowed.

use std::{
    future::Future,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Poll, Waker},
};

/// The most one connection may have queued, in bytes of message payload
/// plus [`MESSAGE_OVERHEAD`] per message.
pub(crate) const CONNECTION_BACKLOG: usize = 8 * 1024 * 1024;

/// The most storage writes may hold, in bytes of their values, before
/// connections stop being read.
pub(crate) const STORAGE_BACKLOG: usize = 64 * 1024 * 1024;

/// Counted per message on top of its payload, for the bookkeeping a queued
/// message costs: many tiny messages are bounded too.
const MESSAGE_OVERHEAD: usize = 512;

pub(crate) struct Backlog {
    bytes: AtomicUsize,
    limit: usize,
    /// Readers waiting for room.
    readers: Mutex<Vec<Waker>>,
}

impl Backlog {
    pub(crate) fn new(limit: usize) -> Arc<Self> {
        Arc::new(Backlog {
            bytes: AtomicUsize::new(0),
            limit,
            readers: Mutex::default(),
        })
    }

    fn readers(&self) -> std::sync::MutexGuard<'_, Vec<Waker>> {
        self.readers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts a message of `bytes` until the returned charge is dropped.
    pub(crate) fn charge(self: &Arc<Self>, bytes: usize) -> Charge {
        let bytes = bytes + MESSAGE_OVERHEAD;
        self.bytes.fetch_add(bytes, Ordering::SeqCst);
        Charge {
            backlog: self.clone(),
            bytes,
        }
    }

    /// Bytes queued now.
    pub(crate) fn queued(&self) -> usize {
        self.bytes.load(Ordering::SeqCst)
    }

    /// Resolves once the backlog is under its limit.
    pub(crate) fn room(&self) -> impl Future<Output = ()> + '_ {
        futures::future::poll_fn(move |cx| {
            if self.queued() < self.limit {
                return Poll::Ready(());
            }
            {
                let mut readers = self.readers();
                if !readers.iter().any(|w| w.will_wake(cx.waker())) {
                    readers.push(cx.waker().clone());
                }
            }
            // A charge released between the check and the registration.
            if self.queued() < self.limit {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
    }
}

/// One queued message's share of its connection's backlog.
pub(crate) struct Charge {
    backlog: Arc<Backlog>,
    bytes: usize,
}

impl Drop for Charge {
    fn drop(&mut self) {
        let backlog = &self.backlog;
        let before = backlog.bytes.fetch_sub(self.bytes, Ordering::SeqCst);
        if before >= backlog.limit && before - self.bytes < backlog.limit {
            for reader in std::mem::take(&mut *backlog.readers()) {
                reader.wake();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::task::{Context, Poll};

    use futures::task::noop_waker_ref;

    use super::*;

    #[test]
    fn a_full_backlog_blocks_its_reader_until_a_charge_is_released() {
        let backlog = Backlog::new(CONNECTION_BACKLOG);
        let mut cx = Context::from_waker(noop_waker_ref());
        let small = backlog.charge(100);
        assert!(std::pin::pin!(backlog.room()).poll(&mut cx).is_ready());
        let big = backlog.charge(CONNECTION_BACKLOG);
        assert!(std::pin::pin!(backlog.room()).poll(&mut cx).is_pending());
        drop(small);
        assert!(std::pin::pin!(backlog.room()).poll(&mut cx).is_pending());
        drop(big);
        assert_eq!(backlog.queued(), 0);
        assert!(matches!(
            std::pin::pin!(backlog.room()).poll(&mut cx),
            Poll::Ready(())
        ));
    }

    #[test]
    fn many_tiny_messages_fill_a_backlog_too() {
        let backlog = Backlog::new(CONNECTION_BACKLOG);
        let charges: Vec<_> = (0..CONNECTION_BACKLOG / MESSAGE_OVERHEAD)
            .map(|_| backlog.charge(0))
            .collect();
        let mut cx = Context::from_waker(noop_waker_ref());
        assert!(std::pin::pin!(backlog.room()).poll(&mut cx).is_pending());
        drop(charges);
        assert!(std::pin::pin!(backlog.room()).poll(&mut cx).is_ready());
    }

    #[test]
    fn every_waiting_reader_is_woken_when_a_shared_backlog_has_room() {
        use std::sync::atomic::AtomicUsize;

        struct Count(AtomicUsize);
        impl futures::task::ArcWake for Count {
            fn wake_by_ref(arc_self: &Arc<Self>) {
                arc_self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let storage = Backlog::new(STORAGE_BACKLOG);
        let write = storage.charge(STORAGE_BACKLOG);
        let counts: Vec<_> = (0..3)
            .map(|_| Arc::new(Count(AtomicUsize::new(0))))
            .collect();
        for count in &counts {
            let waker = futures::task::waker(count.clone());
            let mut cx = Context::from_waker(&waker);
            // Polled twice, registered once.
            assert!(std::pin::pin!(storage.room()).poll(&mut cx).is_pending());
            assert!(std::pin::pin!(storage.room()).poll(&mut cx).is_pending());
        }
        drop(write);
        for count in &counts {
            assert_eq!(count.0.load(Ordering::SeqCst), 1);
        }
    }
}
