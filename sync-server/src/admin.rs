//! Admin commands: create workspaces, add and remove members, revoke tokens.
//! They write to the database directly; a running server notices within
//! `access_poll_millis`.

use rf_sync::{Role, SyncToken, UserName};

use crate::{
    access::now_ms,
    store::{Backend, StoreError, TokenRow, WorkspaceRow},
};

/// An admin command that could not be done, with what to do instead.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("no workspace named or with id {0:?}: see `raptorflow-sync admin workspace list`")]
    NoWorkspace(String),
    #[error("{user} is not a member of {workspace}")]
    NotMember { user: String, workspace: String },
    #[error("no active token with id {0:?}")]
    NoToken(String),
    #[error("invalid workspace name {0:?}: use 1 to 100 characters, not only spaces")]
    BadName(String),
    #[error(transparent)]
    User(#[from] rf_sync::BadUserName),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub async fn create_workspace<B: Backend>(backend: &B, name: &str) -> Result<WorkspaceRow, AdminError> {
    let trimmed = name.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 100 {
        return Err(AdminError::BadName(name.to_owned()));
    }
    let row = WorkspaceRow { workspace_id: uuid::Uuid::now_v7().to_string(), name: trimmed.to_owned(), root_document: None };
    backend.create_workspace(&row, now_ms()).await?;
    Ok(row)
}

async fn workspace<B: Backend>(backend: &B, id_or_name: &str) -> Result<WorkspaceRow, AdminError> {
    backend.find_workspace(id_or_name).await?.ok_or_else(|| AdminError::NoWorkspace(id_or_name.to_owned()))
}

/// A new member (or a new role for one) and a fresh token for them.
#[derive(Debug)]
pub struct NewMember {
    pub workspace: WorkspaceRow,
    pub user: UserName,
    pub role: Role,
    pub token: SyncToken,
}

pub async fn add_member<B: Backend>(backend: &B, workspace_key: &str, user: &str, role: Role) -> Result<NewMember, AdminError> {
    let workspace = workspace(backend, workspace_key).await?;
    let user = UserName::parse(user)?;
    backend.set_member(&workspace.workspace_id, user.as_str(), role, now_ms()).await?;
    let token = SyncToken::generate();
    let hash = token.hash_new();
    let row = TokenRow {
        token_id: token.id().to_owned(),
        workspace_id: workspace.workspace_id.clone(),
        user_name: user.as_str().to_owned(),
        salt: hash.salt,
        hash: hash.hash,
        revoked: false,
        role: Some(role),
    };
    backend.insert_token(&row, now_ms()).await?;
    Ok(NewMember { workspace, user, role, token })
}

pub async fn remove_member<B: Backend>(backend: &B, workspace_key: &str, user: &str) -> Result<WorkspaceRow, AdminError> {
    let workspace = workspace(backend, workspace_key).await?;
    let user = UserName::parse(user)?;
    if !backend.remove_member(&workspace.workspace_id, user.as_str(), now_ms()).await? {
        return Err(AdminError::NotMember { user: user.to_string(), workspace: workspace.name });
    }
    Ok(workspace)
}

pub async fn revoke_token<B: Backend>(backend: &B, token_id: &str) -> Result<(), AdminError> {
    // Accept the whole token too, but only ever use its public id.
    let id = SyncToken::parse(token_id).map(|t| t.id().to_owned()).unwrap_or_else(|_| token_id.trim().to_owned());
    if backend.revoke_token(&id, now_ms()).await? { Ok(()) } else { Err(AdminError::NoToken(id)) }
}
