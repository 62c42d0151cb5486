//! Budgets as every layer sees them: whose budget, how money is written, and
//! the error a call gets when it could cost more than is left. rf-metering
//! keeps the ledger that enforces them.

use rf_domain::{UserId, WorkspaceId};

/// A budget's owner; as JSON, `{"workspace": ID}` or `{"user": ID}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum BudgetScope {
    Workspace(WorkspaceId),
    User(UserId),
}

impl BudgetScope {
    /// The owner's kind (`workspace` or `user`) and id.
    pub fn parts(&self) -> (&'static str, String) {
        match self {
            Self::Workspace(id) => ("workspace", id.to_string()),
            Self::User(id) => ("user", id.to_string()),
        }
    }

    /// The command that raises this budget.
    fn raise_command(&self) -> String {
        match self {
            Self::Workspace(id) => format!("raptorflow cost budget --workspace {id} --monthly-usd AMOUNT"),
            Self::User(id) => format!("raptorflow cost budget --user-id {id} --monthly-usd AMOUNT"),
        }
    }
}

impl std::fmt::Display for BudgetScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (kind, id) = self.parts();
        write!(f, "{kind} {id}")
    }
}

/// Micro-dollars as dollars: `$1.234567` trimmed to cents where exact.
pub fn format_usd(micro: u64) -> String {
    let dollars = micro / 1_000_000;
    let fraction = micro % 1_000_000;
    if fraction.is_multiple_of(10_000) {
        format!("${dollars}.{:02}", fraction / 10_000)
    } else {
        format!("${dollars}.{}", format!("{fraction:06}").trim_end_matches('0'))
    }
}

/// Why a call was not sent: it could cost more than a budget has left.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "this call could cost up to {}, but {scope} has {} left of its {} budget for {month} ({} spent or reserved); nothing was sent. Raise it with `{}`",
    format_usd(*needed), format_usd(limit.saturating_sub(*committed)), format_usd(*limit), format_usd(*committed), scope.raise_command()
)]
pub struct BudgetExceeded {
    pub scope: BudgetScope,
    pub month: String,
    pub limit: u64,
    pub committed: u64,
    pub needed: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollars_are_written_plainly() {
        assert_eq!(format_usd(10_000_000), "$10.00");
        assert_eq!(format_usd(1_250_000), "$1.25");
        assert_eq!(format_usd(123), "$0.000123");
        assert_eq!(format_usd(0), "$0.00");
    }
}
