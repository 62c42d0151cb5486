//! Tools of the MCP servers a user added (`raptorflow mcp-servers add`), as
//! an agent's file allows them: `tools = ["mcp:SERVER/TOOL"]`, with the
//! tool's arguments as templates of the agent's input in
//! `mcp_arguments = { "SERVER/TOOL" = { topic = "{{ input.offer }}" } }`.
//!
//! Like the built-in tools, the runtime calls them before the model sees
//! anything, with exactly the arguments the file renders: no text a model
//! reads can start a call, or reach a tool the file does not name. What a
//! tool answers goes into the prompt as data, never as instructions.

use std::{collections::BTreeMap, path::Path};

use serde::Serialize;

use crate::spec::SpecError;

/// How an allow-list entry for an MCP tool starts.
pub(crate) const PREFIX: &str = "mcp:";
/// The most characters of a tool's answer a prompt holds.
pub const MAX_RESULT_CHARS: usize = 4000;

/// One MCP tool an agent may have the runtime call, with its arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct McpToolUse {
    /// The server's name in the user's settings.
    pub server: String,
    /// The tool's name on that server.
    pub tool: String,
    /// Argument name → template of the agent's input (rendered as text).
    pub arguments: BTreeMap<String, String>,
}

impl McpToolUse {
    /// `mcp:SERVER/TOOL`, as the allow-list and the run's log name it.
    pub fn name(&self) -> String {
        format!("{PREFIX}{}/{}", self.server, self.tool)
    }

    /// The key of this tool's argument templates in the roster's templates.
    pub(crate) fn template_name(&self, agent: &str, argument: &str) -> String {
        format!("{agent}#mcp#{}/{}#{argument}", self.server, self.tool)
    }
}

/// Whether `name` may name an MCP server or tool: 1 to 64 letters, digits,
/// `_`, `-` and `.`.
pub fn is_valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Splits an agent's `tools` into the built-in tools' names and the MCP
/// tools, each with its arguments from `mcp_arguments`.
pub(crate) fn split(
    path: &Path,
    names: &[String],
    mut arguments: BTreeMap<String, BTreeMap<String, String>>,
) -> Result<(Vec<String>, Vec<McpToolUse>), SpecError> {
    let invalid = |message: String| SpecError::Invalid { path: path.to_owned(), message: format!("front matter: {message}") };
    let mut builtin = Vec::new();
    let mut mcp: Vec<McpToolUse> = Vec::new();
    for name in names {
        let Some(rest) = name.strip_prefix(PREFIX) else {
            builtin.push(name.clone());
            continue;
        };
        let Some((server, tool)) = rest.split_once('/').filter(|(s, t)| is_valid_name(s) && is_valid_name(t)) else {
            return Err(invalid(format!("tools: {name:?} is not an MCP tool: write mcp:SERVER/TOOL, each name 1 to 64 letters, digits, '_', '-' or '.'")));
        };
        if mcp.iter().any(|m| m.server == server && m.tool == tool) {
            return Err(invalid(format!("tools: {name} is listed twice")));
        }
        let arguments = arguments.remove(rest).unwrap_or_default();
        if let Some(bad) = arguments.keys().find(|a| a.is_empty() || a.len() > 64) {
            return Err(invalid(format!("mcp_arguments.\"{rest}\": argument name {bad:?} must be 1 to 64 characters")));
        }
        mcp.push(McpToolUse { server: server.to_owned(), tool: tool.to_owned(), arguments });
    }
    if let Some(unlisted) = arguments.keys().next() {
        return Err(invalid(format!("mcp_arguments names \"{unlisted}\", which tools does not list as mcp:{unlisted}")));
    }
    Ok((builtin, mcp))
}

/// A tool's answer cut to [`MAX_RESULT_CHARS`] characters for a prompt.
pub(crate) fn bounded(text: &str) -> String {
    match text.char_indices().nth(MAX_RESULT_CHARS) {
        Some((cut, _)) => format!("{}… (cut: {} characters in all)", &text[..cut], text.chars().count()),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn mcp_entries_are_split_from_the_builtin_tools_with_their_arguments() {
        let arguments = BTreeMap::from([("facts/lookup".to_owned(), BTreeMap::from([("topic".to_owned(), "{{ input.offer }}".to_owned())]))]);
        let (builtin, mcp) = split(Path::new("A.md"), &names(&["codex.search", "mcp:facts/lookup", "mcp:facts/today"]), arguments).unwrap();
        assert_eq!(builtin, ["codex.search"]);
        assert_eq!(mcp[0].name(), "mcp:facts/lookup");
        assert_eq!(mcp[0].arguments["topic"], "{{ input.offer }}");
        assert!(mcp[1].arguments.is_empty());
    }

    #[test]
    fn malformed_entries_and_stray_arguments_are_refused_with_the_file() {
        let err =
            |list: &[&str], arguments: BTreeMap<String, BTreeMap<String, String>>| split(Path::new("A.md"), &names(list), arguments).unwrap_err().to_string();
        assert!(err(&["mcp:facts"], BTreeMap::new()).contains("mcp:SERVER/TOOL"));
        assert!(err(&["mcp:fa cts/x"], BTreeMap::new()).contains("is not an MCP tool"));
        assert!(err(&["mcp:a/b", "mcp:a/b"], BTreeMap::new()).contains("listed twice"));
        let stray = BTreeMap::from([("a/c".to_owned(), BTreeMap::new())]);
        let message = err(&["mcp:a/b"], stray);
        assert!(message.contains("A.md") && message.contains("\"a/c\""), "{message}");
    }

    #[test]
    fn a_long_answer_is_cut_on_a_character_boundary() {
        let text = "é".repeat(MAX_RESULT_CHARS + 10);
        let cut = bounded(&text);
        assert!(cut.starts_with(&"é".repeat(MAX_RESULT_CHARS)) && cut.contains(&format!("{} characters in all", MAX_RESULT_CHARS + 10)));
        assert_eq!(bounded("short"), "short");
    }
}
