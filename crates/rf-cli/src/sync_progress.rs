//! Progress of `sync join` and `sync now` on stderr, from Core's
//! [`CoreEvent::SyncProgress`] events: a line redrawn in place on a
//! terminal; otherwise (a log, a pipe) a line at each tenth of a sync's
//! documents, its first and its last. stdout keeps only the report.

use std::{future::Future, io::IsTerminal as _};

use rf_core::{Core, CoreEvent};
use tokio::sync::broadcast::error::RecvError;

/// Runs `work`, showing the progress of the syncs it makes.
pub(crate) async fn with_progress<T>(core: &Core, work: impl Future<Output = T>) -> T {
    let mut lines = Lines::new(std::io::stderr().is_terminal(), std::io::stderr());
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

struct Lines<W: std::io::Write> {
    out: W,
    tty: bool,
    /// The sync being shown (workspace and total) and the last tenth
    /// printed for it (non-terminal only).
    current: Option<(String, u64, u64)>,
    drawn: bool,
}

impl<W: std::io::Write> Lines<W> {
    fn new(tty: bool, out: W) -> Self {
        Self { out, tty, current: None, drawn: false }
    }

    fn show(&mut self, event: &CoreEvent) {
        let CoreEvent::SyncProgress { workspace_id, server, done, total } = event else { return };
        let line = format!("syncing with {server}: {done} of {total} documents");
        if self.tty {
            let _ = write!(self.out, "\r\x1b[2K{line}");
            self.drawn = true;
        } else {
            let sync = (workspace_id.to_string(), *total);
            let tenth = done * 10 / (*total).max(1);
            let new_sync = self.current.as_ref().is_none_or(|(w, t, _)| (w, t) != (&sync.0, &sync.1));
            if new_sync || self.current.as_ref().is_some_and(|(_, _, shown)| tenth > *shown) {
                let _ = writeln!(self.out, "{line}");
                self.current = Some((sync.0, sync.1, tenth));
            }
        }
        let _ = self.out.flush();
    }

    fn done(&mut self) {
        if self.tty && self.drawn {
            let _ = writeln!(self.out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Lines;

    #[test]
    fn a_log_gets_a_line_per_tenth_and_the_last() {
        let workspace = rf_core::domain::WorkspaceId::new();
        let mut lines = Lines::new(false, Vec::new());
        for done in 1..=40 {
            lines.show(&rf_core::CoreEvent::SyncProgress { workspace_id: workspace, server: "s".into(), done, total: 40 });
        }
        let printed = String::from_utf8(lines.out).unwrap();
        let counts: Vec<&str> = printed.lines().map(|line| line.trim_start_matches("syncing with s: ").trim_end_matches(" documents")).collect();
        // The first, then the first count of each tenth, ending with the last.
        assert_eq!(counts, ["1 of 40", "4 of 40", "8 of 40", "12 of 40", "16 of 40", "20 of 40", "24 of 40", "28 of 40", "32 of 40", "36 of 40", "40 of 40"]);
    }
}
