//! How results are shown: readable text by default, or exactly one JSON
//! document on stdout with `--json`. Errors always go to stderr.
//!
//! Names, titles, paths and passages come from files and from teammates, so
//! text output passes every line through `rf_core::domain::escape_for_display`:
//! escape sequences, other control characters and bidi overrides are shown
//! as `\u{1b}`-style escapes instead of acting on the terminal. JSON output
//! is left exact (JSON escapes control characters itself).

use std::{borrow::Cow, io::Write, path::Path, process::ExitCode};

use rf_core::domain::{Campaign, CampaignId, Move, MoveId, WorkspaceIndex};
use rf_core::{CampaignSummary, JoinReport, SyncReport, SyncStatus, WorkspaceExport, WorkspaceSummary};
use serde::Serialize;
use serde_json::json;

/// Collects what a command prints.
#[derive(Debug)]
pub(crate) struct Output {
    json: bool,
    document: Option<serde_json::Value>,
    text: String,
}

fn format_timestamp(ts: rf_core::domain::Timestamp) -> String {
    // Whole seconds since the epoch are enough for a terminal; --json carries
    // the exact milliseconds.
    let secs = ts.as_millis().div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let (year, month, day) = rf_core::domain::civil_from_days(days);
    let rem = secs.rem_euclid(86_400);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02} UTC", rem / 3600, (rem % 3600) / 60)
}

impl Output {
    pub(crate) fn new(json: bool) -> Self {
        Self { json, document: None, text: String::new() }
    }

    pub(crate) fn is_json(&self) -> bool {
        self.json
    }

    /// Any serialisable result with its text rendering.
    pub(crate) fn document<T: Serialize>(&mut self, value: &T, text: impl FnOnce(&mut String)) {
        self.emit(value, text);
    }

    fn emit<T: Serialize>(&mut self, value: &T, text: impl FnOnce(&mut String)) {
        if self.json {
            self.document = Some(serde_json::to_value(value).expect("output types always serialise"));
        } else {
            text(&mut self.text);
        }
    }

    pub(crate) fn workspace(&mut self, ws: &WorkspaceIndex) {
        self.emit(ws, |out| write_workspace(out, ws));
    }

    pub(crate) fn workspaces(&mut self, list: &[WorkspaceSummary]) {
        self.emit(&list, |out| {
            if list.is_empty() {
                out.push_str("no workspaces yet: create one with `raptorflow workspace create NAME`\n");
            }
            for ws in list {
                out.push_str(&format!(
                    "{}  {}  ({} campaigns, {} members, created {})\n",
                    ws.id,
                    ws.name,
                    ws.n_campaigns,
                    ws.n_members,
                    format_timestamp(ws.created_at)
                ));
            }
        });
    }

    pub(crate) fn stats(&mut self, scores: &[rf_core::gamification::MemberScore]) {
        self.emit(&scores, |out| {
            for score in scores {
                let s = &score.stats;
                out.push_str(&format!("{:<20} {:>6} points  {:>3}-day streak", score.display_name, s.points, s.streak_days));
                if !score.achievement_names.is_empty() {
                    out.push_str(&format!("  {}", score.achievement_names.join(", ")));
                }
                out.push('\n');
            }
        });
    }

    pub(crate) fn campaign(&mut self, campaign: &Campaign) {
        self.emit(campaign, |out| write_campaign(out, campaign));
    }

    pub(crate) fn campaigns(&mut self, list: &[CampaignSummary]) {
        self.emit(&list, |out| {
            if list.is_empty() {
                out.push_str("no campaigns yet: create one with `raptorflow campaign create --workspace ID --goal TEXT NAME`\n");
            }
            for c in list {
                out.push_str(&format!("{}  {:<10} {}\n", c.id, c.status.as_str(), c.name));
            }
        });
    }

    pub(crate) fn move_saved(&mut self, campaign_id: CampaignId, move_id: MoveId, the_move: &Move) {
        let value = json!({ "id": move_id, "campaign_id": campaign_id, "move": the_move });
        self.emit(&value, |out| {
            out.push_str(&format!("{move_id}  {:<11} {:<10} {}\n", the_move.status.as_str(), the_move.channel.as_str(), the_move.title));
        });
    }

    pub(crate) fn exported(&mut self, path: &Path, export: &WorkspaceExport) {
        let value = json!({
            "file": path,
            "workspace_id": export.workspace.id,
            "n_campaigns": export.campaigns.len(),
        });
        self.emit(&value, |out| {
            out.push_str(&format!("exported workspace {} ({} campaigns) to {}\n", export.workspace.id, export.campaigns.len(), path.display()));
        });
    }

    pub(crate) fn demo(&mut self, data_dir: &Path, ws: &WorkspaceIndex, campaign: &Campaign) {
        let value = json!({ "data_dir": data_dir, "workspace": ws, "campaign": campaign });
        self.emit(&value, |out| {
            out.push_str(&format!("Created a sample workspace in {}\n\n", data_dir.display()));
            write_workspace(out, ws);
            out.push('\n');
            write_campaign(out, campaign);
            out.push_str(&format!("\nTry: raptorflow --data-dir {} campaign show {}\n", data_dir.display(), campaign.id));
        });
    }

    /// Prints one line at once, for commands that report progress as they go.
    pub(crate) fn line(&mut self, line: &str) {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{}", escape_lines(line));
        let _ = stdout.flush();
    }

    /// Prints what was collected. A closed stdout (`| head`) is not an error.
    pub(crate) fn sync_joined(&mut self, report: &JoinReport) {
        self.emit(report, |out| {
            let how = if report.shared_local_workspace { "shared" } else { "joined" };
            out.push_str(&format!(
                "{how} workspace {} ({}) on {} as {} ({})\n",
                report.workspace_name, report.workspace_id, report.server, report.user, report.role
            ));
            write_sync_report(out, &report.sync);
        });
    }

    pub(crate) fn sync_reports(&mut self, reports: &[SyncReport]) {
        self.emit(&reports, |out| {
            if reports.is_empty() {
                out.push_str("no workspace is shared yet: see `raptorflow sync join --help`\n");
            }
            for report in reports {
                write_sync_report(out, report);
            }
        });
    }

    pub(crate) fn sync_status(&mut self, statuses: &[SyncStatus]) {
        self.emit(&statuses, |out| {
            if statuses.is_empty() {
                out.push_str("no workspace is shared yet: see `raptorflow sync join --help`\n");
            }
            for status in statuses {
                let last = status.last_sync_at.map_or_else(|| "never".to_owned(), format_timestamp);
                out.push_str(&format!(
                    "{}  on {} (workspace {:?}) as {} ({}); last sync {last}; {} documents\n",
                    status.workspace_id,
                    status.server,
                    status.server_workspace,
                    status.user,
                    status.role,
                    status.documents.len()
                ));
                if let Some(error) = &status.last_error {
                    out.push_str(&format!("  last error: {error}\n"));
                }
                if !status.token_in_keyring {
                    out.push_str("  the sync token is missing from the OS keyring: join again\n");
                }
            }
        });
    }

    /// A line printed at once, for long-running commands.
    pub(crate) fn progress(&mut self, line: &str) {
        let mut stdout = std::io::stdout().lock();
        if self.json {
            let _ = writeln!(stdout, "{}", json!({ "progress": line }));
        } else {
            let _ = writeln!(stdout, "{}", escape_lines(line));
        }
        let _ = stdout.flush();
    }

    pub(crate) fn finish(self) {
        let mut stdout = std::io::stdout().lock();
        if let Some(document) = self.document {
            let _ = serde_json::to_writer_pretty(&mut stdout, &document);
            let _ = writeln!(stdout);
        } else {
            let _ = stdout.write_all(escape_lines(&self.text).as_bytes());
        }
        let _ = stdout.flush();
    }

    /// Reports an error on stderr and returns the exit code to use.
    pub(crate) fn fail(self, kind: &str, message: &str, code: ExitCode) -> ExitCode {
        let mut stderr = std::io::stderr().lock();
        if self.json {
            let _ = writeln!(stderr, "{}", json!({ "error": { "kind": kind, "message": message } }));
        } else {
            let _ = writeln!(stderr, "error: {}", escape_lines(message));
        }
        code
    }
}

/// Text for a terminal: each line escaped by `escape_for_display`, the line
/// breaks between them kept.
pub(crate) fn escape_lines(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c != '\n' && c != '\t' && rf_core::domain::is_unsafe_char(c)) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(text.split('\n').map(rf_core::domain::escape_for_display).collect::<Vec<_>>().join("\n"))
}

fn write_sync_report(out: &mut String, report: &SyncReport) {
    out.push_str(&format!("{}: {} of {} documents in sync with {}\n", report.workspace_id, report.n_synced, report.n_documents, report.server));
    if !report.unavailable.is_empty() {
        out.push_str(&format!("  not on the server or not shared with you: {}\n", report.unavailable.join(", ")));
    }
    if report.read_only {
        out.push_str("  you are a viewer: edits made on this device are not sent\n");
    }
}

/// One line summing up a round of `sync run`.
pub(crate) fn sync_round_line(reports: &[SyncReport]) -> String {
    let n_documents: usize = reports.iter().map(|r| r.n_documents).sum();
    let n_synced: usize = reports.iter().map(|r| r.n_synced).sum();
    format!("synced {n_synced} of {n_documents} documents in {} workspaces", reports.len())
}

fn write_workspace(out: &mut String, ws: &WorkspaceIndex) {
    out.push_str(&format!("Workspace {}  {}\n", ws.id, ws.name));
    out.push_str(&format!("  created   {}\n", format_timestamp(ws.created_at)));
    for (user, member) in &ws.members {
        out.push_str(&format!("  member    {user} ({}) {}\n", member.display_name, member.role));
    }
    let brand = &ws.brand;
    if !brand.company.is_empty() {
        out.push_str(&format!("  company   {}\n", brand.company));
    }
    if !brand.website.is_empty() {
        out.push_str(&format!("  website   {}\n", brand.website));
    }
    if !brand.offer.is_empty() {
        out.push_str(&format!("  offer     {}\n", brand.offer));
    }
    for audience in &brand.audiences {
        out.push_str(&format!("  audience  {audience}\n"));
    }
    if !brand.voice.tone.is_empty() {
        out.push_str(&format!("  voice     {}\n", brand.voice.tone));
    }
    if !brand.banned_terms.is_empty() {
        out.push_str(&format!("  banned    {}\n", brand.banned_terms.join("; ")));
    }
    for disclaimer in &brand.required_disclaimers {
        out.push_str(&format!("  must say  {disclaimer}\n"));
    }
    out.push_str(&format!("  campaigns {}\n", ws.campaigns.len()));
    for (id, entry) in &ws.campaigns {
        out.push_str(&format!("    {id}  {:<10} {}\n", entry.status.as_str(), entry.name));
    }
    // The latest digest, in full: what the team should read first.
    if let Some(digest) = ws.digests.values().max_by_key(|d| d.created_at) {
        out.push_str(&format!("  digest    {}: {}\n", digest.period, digest.headline));
        for change in &digest.what_changed {
            out.push_str(&format!("    {:<5} {}\n", change.signal, change.change));
        }
        if !digest.what_it_means.is_empty() {
            out.push_str(&format!("    means {}\n", digest.what_it_means));
        }
        for step in &digest.next_steps {
            out.push_str(&format!("    next  {} ({}, by {})\n", step.action, step.owner, step.by));
        }
    }
}

fn write_campaign(out: &mut String, c: &Campaign) {
    out.push_str(&format!("Campaign {}  {}\n", c.id, c.name));
    out.push_str(&format!("  status    {}\n", c.status));
    out.push_str(&format!("  goal      {}\n", c.goal));
    if !c.channels.is_empty() {
        let channels: Vec<&str> = c.channels.iter().map(|ch| ch.as_str()).collect();
        out.push_str(&format!("  channels  {}\n", channels.join(", ")));
    }
    if let Some(budget) = &c.budget {
        out.push_str(&format!("  budget    {}.{:02} {}\n", budget.amount_minor / 100, budget.amount_minor % 100, budget.currency));
    }
    out.push_str(&format!("  moves     {}\n", c.moves.len()));
    for (id, m) in &c.moves {
        let due = m.due_date.as_ref().map(|d| format!(" (due {d})")).unwrap_or_default();
        out.push_str(&format!("    {id}  {:<11} {:<10} {}{due}\n", m.status.as_str(), m.channel.as_str(), m.title));
    }
    if !c.assets.is_empty() {
        out.push_str(&format!("  assets    {}\n", c.assets.len()));
        for (id, asset) in &c.assets {
            out.push_str(&format!("    {id}  {:<13} {}\n", asset.content.kind().as_str(), asset.status));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::escape_lines;

    #[test]
    fn text_output_keeps_line_breaks_and_escapes_the_rest() {
        assert_eq!(escape_lines("a\n\tb\n"), "a\n\tb\n");
        assert_eq!(escape_lines("x \u{1b}[2J\r\ny\u{202E}z\n"), "x \\u{1b}[2J\\u{d}\ny\\u{202e}z\n");
    }
}
