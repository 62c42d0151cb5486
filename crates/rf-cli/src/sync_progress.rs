//! Progress of `sync join` and `sync now` on stderr, from Core's
//! [`CoreEvent::SyncProgress`] events: a line redrawn in place on a
//! terminal; otherwise (a log, a pipe) a line at each tenth of a sync's
//! documents, its first and its last. stdout keeps only the report.

use std::{
    future::Future,
    io::{IsTerminal as _, Write as _},
};

use rf_core::{Core, CoreEvent};
use tokio::sync::broadcast::error::RecvError;

/// Runs `work`, showing the progress of the syncs it makes.
pub(crate) async fn with_progress<T>(core: &Core, work: impl Future<Output = T>) -> T {
    let mut lines = Lines::new(std::io::stderr().is_terminal());
    let mut events = core.subscribe();
    let mut work = std::pin::pin!(work);
    let result = loop {
        tokio::select! {
            result = &mut work => break result,
            event = events.recv() => match event {
                Ok(event) => lines.show(&event),
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => break (&mut work).await,
            },
        }
    };
    // What was published just before the work ended.
    while let Ok(event) = events.try_recv() {
        lines.show(&event);
    }
    lines.done();
    result
}

struct Lines {
    tty: bool,
    /// The sync being shown (workspace and total) and the last tenth
    /// printed for it (non-terminal only).
    current: Option<(String, u64, u64)>,
    drawn: bool,
}

impl Lines {
    fn new(tty: bool) -> Self {
        Self { tty, current: None, drawn: false }
    }

    fn show(&mut self, event: &CoreEvent) {
        let CoreEvent::SyncProgress { workspace_id, server, done, total } = event else { return };
        let line = format!("syncing with {server}: {done} of {total} documents");
        let mut stderr = std::io::stderr().lock();
        if self.tty {
            let _ = write!(stderr, "\r\x1b[2K{line}");
            self.drawn = true;
        } else {
            let sync = (workspace_id.to_string(), *total);
            let tenth = done * 10 / (*total).max(1);
            let new_sync = self.current.as_ref().is_none_or(|(w, t, _)| (w, t) != (&sync.0, &sync.1));
            if new_sync || self.current.as_ref().is_some_and(|(_, _, shown)| tenth > *shown) {
                let _ = writeln!(stderr, "{line}");
                self.current = Some((sync.0, sync.1, tenth));
            }
        }
        let _ = stderr.flush();
    }

    fn done(&self) {
        if self.tty && self.drawn {
            let _ = writeln!(std::io::stderr());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Lines;

    #[test]
    fn a_log_gets_a_line_per_tenth_and_the_last() {
        let workspace = rf_core::domain::WorkspaceId::new();
        let mut lines = Lines::new(false);
        let mut shown = Vec::new();
        for done in 1..=40 {
            lines.show(&rf_core::CoreEvent::SyncProgress { workspace_id: workspace, server: "s".into(), done, total: 40 });
            shown.push(lines.current.as_ref().map(|(_, _, tenth)| *tenth));
        }
        shown.dedup();
        assert_eq!(shown, (0..=10).map(Some).collect::<Vec<_>>());
    }
}
