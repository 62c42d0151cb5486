//! Errors of Guardian: a policy pack that does not load, or an asset that is
//! not the shape its platform expects. Both name where the problem is.

/// Why Guardian could not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardianError {
    /// A policy pack is not valid; `rule` is empty for a problem with the
    /// pack as a whole.
    #[error("policy pack {pack}{}: {reason}", rule_suffix(.rule))]
    Pack { pack: String, rule: String, reason: String },
    /// The asset handed to Guardian is malformed. `field` is the JSON path
    /// of the problem (`headlines[2]`), empty for the document as a whole.
    #[error("invalid {platform} asset{}: {reason}", field_suffix(.field))]
    InvalidAsset { platform: String, field: String, reason: String },
    /// The brand codex's rules could not be compiled.
    #[error("{0}")]
    Brand(String),
    /// A platform name that Guardian does not know.
    #[error("unknown platform '{0}'; expected one of: google-ads, meta, linkedin, x")]
    UnknownPlatform(String),
}

fn rule_suffix(rule: &str) -> String {
    if rule.is_empty() { String::new() } else { format!(", rule {rule}") }
}

fn field_suffix(field: &str) -> String {
    if field.is_empty() { String::new() } else { format!(", field `{field}`") }
}

pub type Result<T, E = GuardianError> = std::result::Result<T, E>;
