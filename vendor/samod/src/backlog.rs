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

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    task::Poll,
};

use futures::task::AtomicWaker;

/// The most one connection may have queued, in bytes of message payload
/// plus [`MESSAGE_OVERHEAD`] per message.
pub(crate) const CONNECTION_BACKLOG: usize = 8 * 1024 * 1024;

/// Counted per message on top of its payload, for the bookkeeping a queued
/// message costs: many tiny messages are bounded too.
const MESSAGE_OVERHEAD: usize = 512;

#[derive(Default)]
pub(crate) struct Backlog {
    bytes: AtomicUsize,
    /// The connection's reader, waiting for room.
    reader: AtomicWaker,
}

impl Backlog {
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

    /// Resolves once the backlog is under [`CONNECTION_BACKLOG`].
    pub(crate) fn room(&self) -> impl Future<Output = ()> + '_ {
        futures::future::poll_fn(move |cx| {
            if self.queued() < CONNECTION_BACKLOG {
                return Poll::Ready(());
            }
            self.reader.register(cx.waker());
            // A charge released between the check and the registration.
            if self.queued() < CONNECTION_BACKLOG {
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
        let before = self.backlog.bytes.fetch_sub(self.bytes, Ordering::SeqCst);
        if before >= CONNECTION_BACKLOG && before - self.bytes < CONNECTION_BACKLOG {
            self.backlog.reader.wake();
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
        let backlog = Arc::new(Backlog::default());
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
        let backlog = Arc::new(Backlog::default());
        let charges: Vec<_> = (0..CONNECTION_BACKLOG / MESSAGE_OVERHEAD)
            .map(|_| backlog.charge(0))
            .collect();
        let mut cx = Context::from_waker(noop_waker_ref());
        assert!(std::pin::pin!(backlog.room()).poll(&mut cx).is_pending());
        drop(charges);
        assert!(std::pin::pin!(backlog.room()).poll(&mut cx).is_ready());
    }
}
