//! Workspace roles on the sync server and what each may do with a document.

use std::{fmt, str::FromStr};

use samod_core::ShareConfig;

/// A member's role in a workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Editor,
    Viewer,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Owner, Role::Editor, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Editor => "editor",
            Role::Viewer => "viewer",
        }
    }

    /// Whether changes from this member are accepted.
    pub fn can_write(self) -> bool {
        matches!(self, Role::Owner | Role::Editor)
    }

    /// How the server shares a workspace document with a peer of this role.
    ///
    /// Members get a document when they ask for it (and every change after
    /// that), but the server never announces documents or asks members for
    /// ones it lacks: a request from the server for a document a member has
    /// not got yet makes a stock automerge-repo client mark it unavailable,
    /// and its next `find` then fails even though the document arrived.
    pub fn share_config(self) -> ShareConfig {
        let config = if self.can_write() { ShareConfig::read_write() } else { ShareConfig::read_only() };
        ShareConfig { announce: false, ..config }
    }
}

/// How the server shares a document with someone who is not a member of its
/// workspace: not at all, and without saying that it exists.
pub fn non_member_share_config() -> ShareConfig {
    ShareConfig::none()
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not one of owner, editor, viewer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}: expected one of owner, editor, viewer")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, UnknownRole> {
        Role::ALL.into_iter().find(|role| role.as_str() == s).ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use samod_core::ShareAccess;

    use super::*;

    #[test]
    fn roles_map_to_share_access() {
        let check = |role: &str, access: ShareAccess| assert_eq!(role.parse::<Role>().unwrap().share_config().access, access);
        check("owner", ShareAccess::ReadWrite);
        check("editor", ShareAccess::ReadWrite);
        check("viewer", ShareAccess::ReadOnly);
        assert_eq!(non_member_share_config().access, ShareAccess::None);
        assert!(!non_member_share_config().announce);
        assert!(!Role::Owner.share_config().announce && !Role::Viewer.share_config().announce);
        assert_eq!("admin".parse::<Role>().unwrap_err().to_string(), "unknown role \"admin\": expected one of owner, editor, viewer");
    }
}
