//! Who may do what: tokens and tickets at the WebSocket upgrade, the share
//! policy samod asks for every document and peer, and the live connections
//! that are cut when an admin revokes a token or removes a member.
//!
//! Admin commands run as separate processes and write straight to the
//! database, so the server polls a version number that every access change
//! bumps; when it moves, caches are dropped, share decisions are re-made and
//! connections whose token no longer holds are closed.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use futures::Stream;
use rf_sync::{Role, SyncToken, TokenHash, UserName, non_member_share_config, peer::user_part};
use samod_core::{DocumentId, PeerId, ShareConfig};
use tokio::sync::{broadcast, watch};

use crate::{
    metrics::Metrics,
    store::{Backend, StoreError, TokenRow},
};

pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)).unwrap_or(0)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The member a connection speaks for, established at the upgrade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub token_id: String,
    pub user: UserName,
    pub workspace_id: String,
    pub role: Role,
}

/// Why a request was refused. The text is what the client is told.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no sync token: send `Authorization: Bearer <token>`, or a ticket from POST /api/v1/tickets as ?ticket=")]
    Missing,
    #[error("the sync token is not valid")]
    Invalid,
    #[error("the ticket is not valid or has expired; ask for a new one")]
    BadTicket,
    #[error("the sync token was revoked")]
    Revoked,
    #[error("{user} is no longer a member of this workspace")]
    NotMember { user: String },
    #[error("the server could not check the token: {0}")]
    Storage(#[from] StoreError),
}

impl AuthError {
    /// 401 for credentials that are wrong, 403 for a valid user without access.
    pub fn status(&self) -> u16 {
        match self {
            AuthError::NotMember { .. } => 403,
            AuthError::Storage(_) => 503,
            _ => 401,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            AuthError::NotMember { .. } => "forbidden",
            AuthError::Storage(_) => "unavailable",
            _ => "unauthorized",
        }
    }
}

/// A connection that an access change may need to close.
#[derive(Debug)]
struct LiveConnection {
    identity: Identity,
    close: watch::Sender<Option<String>>,
}

/// A peer id in use, and by whom.
#[derive(Debug)]
struct BoundPeer {
    workspace_id: String,
    n_connections: usize,
}

/// A ticket and what it may still do. Unused, it expires `ticket_ttl` after
/// it was issued. Its first WebSocket handshake binds it to that peer id;
/// from then on only that peer id may use it, to reconnect after a dropped
/// connection, while one of its connections is open and for
/// `ticket_reconnect` after the last one closed.
#[derive(Debug)]
struct TicketState {
    identity: Identity,
    issued: Instant,
    bound_peer: Option<String>,
    n_open: usize,
    last_closed: Option<Instant>,
}

impl TicketState {
    fn is_valid(&self, now: Instant, ttl: Duration, reconnect: Duration) -> bool {
        match (&self.bound_peer, self.last_closed) {
            (None, _) => now < self.issued + ttl,
            (Some(_), _) if self.n_open > 0 => true,
            (Some(_), Some(closed)) => now < closed + reconnect,
            // Bound, but its connection has not registered yet.
            (Some(_), None) => now < self.issued + ttl.max(reconnect),
        }
    }
}

/// Token bucket per token id.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Most unclaimed documents remembered in `Access::asked_unclaimed`.
const MAX_ASKED_UNCLAIMED: usize = 10_000;

/// How long tickets last: unused, and after the last connection made with
/// one closed.
#[derive(Debug, Clone, Copy)]
pub struct TicketLifetimes {
    pub unused: Duration,
    pub reconnect: Duration,
}

#[derive(Debug)]
pub struct Access<B> {
    backend: B,
    metrics: Arc<Metrics>,
    ticket_ttl: Duration,
    ticket_reconnect: Duration,
    messages_per_second: f64,
    tickets: Mutex<HashMap<String, TicketState>>,
    connections: Mutex<HashMap<u64, LiveConnection>>,
    peers: Mutex<HashMap<String, BoundPeer>>,
    buckets: Mutex<HashMap<String, Bucket>>,
    document_workspaces: Mutex<HashMap<DocumentId, String>>,
    /// Documents a share decision was asked for before any workspace owned
    /// them; when one is claimed, share decisions are made again. Members
    /// can ask for any number of made-up ids, so the set is bounded: past
    /// [`MAX_ASKED_UNCLAIMED`] it is dropped, and the next claim makes every
    /// share decision again instead.
    asked_unclaimed: Mutex<(std::collections::HashSet<DocumentId>, bool)>,
    roles: Mutex<HashMap<(String, String), Option<Role>>>,
    next_connection: AtomicU64,
    changed: broadcast::Sender<()>,
}

impl<B: Backend> Access<B> {
    pub fn new(backend: B, metrics: Arc<Metrics>, tickets: TicketLifetimes, messages_per_second: u32) -> Arc<Self> {
        Arc::new(Self {
            backend,
            metrics,
            ticket_ttl: tickets.unused,
            ticket_reconnect: tickets.reconnect,
            messages_per_second: f64::from(messages_per_second),
            tickets: Mutex::default(),
            connections: Mutex::default(),
            peers: Mutex::default(),
            buckets: Mutex::default(),
            document_workspaces: Mutex::default(),
            asked_unclaimed: Mutex::default(),
            roles: Mutex::default(),
            next_connection: AtomicU64::new(1),
            changed: broadcast::channel(16).0,
        })
    }

    fn refuse(&self, err: AuthError) -> AuthError {
        if !matches!(err, AuthError::Storage(_)) {
            Metrics::add(&self.metrics.auth_failures_total, 1);
        }
        err
    }

    /// Checks a bearer token against the stored hash and current membership.
    pub async fn authenticate(&self, token_text: &str) -> Result<Identity, AuthError> {
        let token = SyncToken::parse(token_text).map_err(|_| self.refuse(AuthError::Invalid))?;
        let row = self.backend.token(token.id()).await?.ok_or_else(|| self.refuse(AuthError::Invalid))?;
        self.identity_from_row(&token, row)
    }

    fn identity_from_row(&self, token: &SyncToken, row: TokenRow) -> Result<Identity, AuthError> {
        if !token.matches(&TokenHash { salt: row.salt.clone(), hash: row.hash.clone() }) {
            return Err(self.refuse(AuthError::Invalid));
        }
        if row.revoked {
            return Err(self.refuse(AuthError::Revoked));
        }
        let Some(role) = row.role else {
            return Err(self.refuse(AuthError::NotMember { user: row.user_name }));
        };
        let user = UserName::parse(&row.user_name).map_err(|_| self.refuse(AuthError::Invalid))?;
        Ok(Identity { token_id: row.token_id, user, workspace_id: row.workspace_id, role })
    }

    /// A ticket standing for `identity`, for clients that cannot send
    /// headers. Only the ticket ever appears in a URL.
    pub fn issue_ticket(&self, identity: Identity) -> (String, Duration) {
        let ticket = rf_sync::token::random_ticket();
        let mut tickets = lock(&self.tickets);
        let now = Instant::now();
        let (ttl, reconnect) = (self.ticket_ttl, self.ticket_reconnect);
        tickets.retain(|_, state| state.is_valid(now, ttl, reconnect));
        tickets.insert(ticket.clone(), TicketState { identity, issued: now, bound_peer: None, n_open: 0, last_closed: None });
        (ticket, self.ticket_ttl)
    }

    /// Checks a ticket at the upgrade, then re-checks its token as it stands
    /// now. The ticket is not spent: [`Access::bind_ticket`] ties it to the
    /// peer id of the connection's handshake.
    pub async fn redeem_ticket(&self, ticket: &str) -> Result<Identity, AuthError> {
        let identity = {
            let mut tickets = lock(&self.tickets);
            let now = Instant::now();
            match tickets.get(ticket) {
                Some(state) if state.is_valid(now, self.ticket_ttl, self.ticket_reconnect) => Some(state.identity.clone()),
                Some(_) => {
                    tickets.remove(ticket);
                    None
                }
                None => None,
            }
        };
        let Some(identity) = identity else {
            return Err(self.refuse(AuthError::BadTicket));
        };
        let row = self.backend.token(&identity.token_id).await?.ok_or_else(|| self.refuse(AuthError::Invalid))?;
        if row.revoked {
            lock(&self.tickets).remove(ticket);
            return Err(self.refuse(AuthError::Revoked));
        }
        let role = row.role.ok_or_else(|| self.refuse(AuthError::NotMember { user: row.user_name.clone() }))?;
        Ok(Identity { role, ..identity })
    }

    /// Ties a ticket to the peer id of the first handshake made with it, and
    /// counts the connection. Another peer id is refused: a ticket that
    /// leaked (a log, a proxy, browser history) is useless to anyone else.
    pub fn bind_ticket(&self, ticket: &str, peer_id: &str) -> Result<(), String> {
        let mut tickets = lock(&self.tickets);
        let Some(state) = tickets.get_mut(ticket) else {
            return Err("the ticket is not valid or has expired; ask for a new one".into());
        };
        match &state.bound_peer {
            Some(bound) if bound != peer_id => {
                Metrics::add(&self.metrics.auth_failures_total, 1);
                Err("the ticket belongs to another peer id; ask for a new one".into())
            }
            _ => {
                state.bound_peer = Some(peer_id.to_owned());
                state.n_open += 1;
                Ok(())
            }
        }
    }

    /// A connection made with a ticket closed; the ticket may reconnect for
    /// a while yet.
    pub fn release_ticket(&self, ticket: &str) {
        if let Some(state) = lock(&self.tickets).get_mut(ticket) {
            state.n_open = state.n_open.saturating_sub(1);
            state.last_closed = Some(Instant::now());
        }
    }

    /// Registers a live connection; the receiver says when and why to close it.
    pub fn register_connection(&self, identity: Identity) -> (u64, watch::Receiver<Option<String>>) {
        let id = self.next_connection.fetch_add(1, Ordering::Relaxed);
        let (close, receiver) = watch::channel(None);
        lock(&self.connections).insert(id, LiveConnection { identity, close });
        (id, receiver)
    }

    pub fn unregister_connection(&self, id: u64) {
        lock(&self.connections).remove(&id);
    }

    /// The current role of a live connection's member (it can change).
    pub fn connection_role(&self, id: u64) -> Option<Role> {
        lock(&self.connections).get(&id).map(|c| c.identity.role)
    }

    /// Closes every live connection, for shutdown.
    pub fn close_all(&self, reason: &str) {
        for connection in lock(&self.connections).values() {
            let _ = connection.close.send(Some(reason.to_owned()));
        }
    }

    /// Binds a peer id to the connection's member. Refused if the peer id is
    /// not `<user>/<device>` for this user, or is in use for another workspace.
    pub fn bind_peer(&self, peer_id: &str, identity: &Identity) -> Result<(), String> {
        if !identity.user.owns_peer_id(peer_id) {
            return Err(format!("peer id {peer_id:?} does not belong to {}: use \"{}/<device>\"", identity.user, identity.user));
        }
        let mut peers = lock(&self.peers);
        let bound = peers.entry(peer_id.to_owned()).or_insert_with(|| BoundPeer { workspace_id: identity.workspace_id.clone(), n_connections: 0 });
        if bound.workspace_id != identity.workspace_id {
            return Err(format!("peer id {peer_id:?} is already connected for another workspace"));
        }
        bound.n_connections += 1;
        Ok(())
    }

    pub fn unbind_peer(&self, peer_id: &str) {
        let mut peers = lock(&self.peers);
        if let Some(bound) = peers.get_mut(peer_id) {
            bound.n_connections -= 1;
            if bound.n_connections == 0 {
                peers.remove(peer_id);
            }
        }
    }

    /// Waits until the token may send another message. Returns whether it had to wait.
    pub async fn throttle(&self, token_id: &str) -> bool {
        let wait = {
            let mut buckets = lock(&self.buckets);
            let now = Instant::now();
            let capacity = self.messages_per_second * 2.0;
            let bucket = buckets.entry(token_id.to_owned()).or_insert(Bucket { tokens: capacity, updated: now });
            let elapsed = now.duration_since(bucket.updated).as_secs_f64();
            bucket.tokens = (bucket.tokens + elapsed * self.messages_per_second).min(capacity);
            bucket.updated = now;
            bucket.tokens -= 1.0;
            if bucket.tokens >= 0.0 { None } else { Some(Duration::from_secs_f64(-bucket.tokens / self.messages_per_second)) }
        };
        match wait {
            Some(wait) => {
                Metrics::add(&self.metrics.rate_limited_total, 1);
                tokio::time::sleep(wait).await;
                true
            }
            None => false,
        }
    }

    async fn role_of(&self, workspace_id: &str, user: &str) -> Result<Option<Role>, StoreError> {
        let key = (workspace_id.to_owned(), user.to_owned());
        if let Some(role) = lock(&self.roles).get(&key) {
            return Ok(*role);
        }
        let role = self.backend.member_role(workspace_id, user).await?;
        lock(&self.roles).insert(key, role);
        Ok(role)
    }

    /// The workspace that owns a document, if any.
    async fn workspace_of(&self, document: &DocumentId) -> Result<Option<String>, StoreError> {
        if let Some(workspace) = lock(&self.document_workspaces).get(document) {
            return Ok(Some(workspace.clone()));
        }
        let workspace = self.backend.document_workspace(&document.to_string()).await?;
        if let Some(workspace) = &workspace {
            lock(&self.document_workspaces).insert(document.clone(), workspace.clone());
        }
        Ok(workspace)
    }

    /// Gives a document that no workspace owns yet to `workspace_id`, the
    /// workspace of the authenticated connection that sent it first; returns
    /// the owner afterwards. The claim is one atomic insert, made before
    /// samod sees the frame, so no share decision (which never claims) can
    /// give the document to anyone else.
    pub async fn claim(&self, document: &DocumentId, workspace_id: &str) -> Result<String, StoreError> {
        if let Some(owner) = self.workspace_of(document).await? {
            return Ok(owner);
        }
        let owner = self.backend.claim_document(&document.to_string(), workspace_id, now_ms()).await?;
        tracing::debug!(%document, workspace = %owner, "document claimed");
        lock(&self.document_workspaces).insert(document.clone(), owner.clone());
        let ask_again = {
            let mut asked = lock(&self.asked_unclaimed);
            let (documents, overflowed) = &mut *asked;
            documents.remove(document) || std::mem::take(overflowed)
        };
        if ask_again {
            // Someone may have been told "no" while nobody owned it.
            let _ = self.changed.send(());
        }
        Ok(owner)
    }

    /// How `document` is shared with `peer`, right now.
    pub async fn decide(&self, document: &DocumentId, peer: &PeerId) -> ShareConfig {
        let Some(user) = user_part(peer.as_str()) else { return non_member_share_config() };
        let decision = async {
            let Some(workspace) = self.workspace_of(document).await? else {
                let mut asked = lock(&self.asked_unclaimed);
                let (documents, overflowed) = &mut *asked;
                if documents.len() >= MAX_ASKED_UNCLAIMED {
                    documents.clear();
                    *overflowed = true;
                }
                documents.insert(document.clone());
                tracing::debug!(%document, peer = %peer, "nobody owns the document yet: not shared");
                return Ok::<_, StoreError>(non_member_share_config());
            };
            Ok(match self.role_of(&workspace, user).await? {
                Some(role) => role.share_config(),
                None => non_member_share_config(),
            })
        };
        match decision.await {
            Ok(config) => config,
            Err(err) => {
                // Fail closed: a peer we cannot check sees nothing.
                Metrics::add(&self.metrics.storage_errors_total, 1);
                tracing::error!(%document, peer = %peer, error = %err, "could not decide document access");
                non_member_share_config()
            }
        }
    }

    /// Re-reads access after an admin change: drops caches, closes connections
    /// whose token no longer holds, and tells share policies to decide again.
    pub async fn refresh(&self) {
        lock(&self.roles).clear();
        let live: Vec<(u64, Identity)> = lock(&self.connections).iter().map(|(id, c)| (*id, c.identity.clone())).collect();
        for (id, identity) in live {
            let verdict = match self.backend.token(&identity.token_id).await {
                Ok(Some(row)) if row.revoked => Err("the sync token was revoked".to_owned()),
                Ok(Some(TokenRow { role: None, .. })) => Err(format!("{} is no longer a member of this workspace", identity.user)),
                Ok(Some(TokenRow { role: Some(role), .. })) => Ok(role),
                Ok(None) => Err("the sync token no longer exists".to_owned()),
                Err(err) => {
                    tracing::error!(error = %err, "could not re-check a connection's token");
                    continue;
                }
            };
            let mut connections = lock(&self.connections);
            let Some(connection) = connections.get_mut(&id) else { continue };
            match verdict {
                Ok(role) => connection.identity.role = role,
                Err(reason) => {
                    tracing::info!(user = %identity.user, token = identity.token_id, reason, "closing a connection after an access change");
                    let _ = connection.close.send(Some(reason));
                }
            }
        }
        let _ = self.changed.send(());
    }

    /// Polls the access version and calls [`Access::refresh`] when it moves.
    pub async fn watch_for_changes(self: Arc<Self>, every: Duration, mut stop: watch::Receiver<bool>) {
        let mut seen = self.backend.access_version().await.ok();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.changed() => return,
            }
            match self.backend.access_version().await {
                Ok(version) if Some(version) != seen => {
                    seen = Some(version);
                    self.refresh().await;
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "could not poll for access changes"),
            }
        }
    }
}

/// samod's share policy for the server: a thin handle on [`Access`].
#[derive(Debug)]
pub struct WorkspacePolicy<B>(pub Arc<Access<B>>);

impl<B> Clone for WorkspacePolicy<B> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<B: Backend> samod::SharePolicy for WorkspacePolicy<B> {
    fn share(&self, document: DocumentId, peer: PeerId) -> impl Stream<Item = ShareConfig> + Send + 'static {
        let access = self.0.clone();
        let changes = access.changed.subscribe();
        futures::stream::unfold((access, changes, true), move |(access, mut changes, first)| {
            let document = document.clone();
            let peer = peer.clone();
            async move {
                if !first && let Err(broadcast::error::RecvError::Closed) = changes.recv().await {
                    return None;
                }
                let decision = access.decide(&document, &peer).await;
                Some((decision, (access, changes, false)))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(bound: bool, n_open: usize, closed_ago: Option<u64>, issued_ago: u64, now: Instant) -> TicketState {
        TicketState {
            identity: Identity { token_id: "t".into(), user: UserName::parse("alice").unwrap(), workspace_id: "w".into(), role: Role::Owner },
            issued: now - Duration::from_secs(issued_ago),
            bound_peer: bound.then(|| "alice/browser".to_owned()),
            n_open,
            last_closed: closed_ago.map(|ago| now - Duration::from_secs(ago)),
        }
    }

    /// Claims `document` for workspace "w" and says whether share decisions
    /// were told to run again.
    async fn claim_announces(access: &Access<crate::store::sqlite::SqliteBackend>, document: &DocumentId) -> bool {
        let mut changes = access.changed.subscribe();
        assert_eq!(access.claim(document, "w").await.unwrap(), "w");
        changes.try_recv().is_ok()
    }

    #[tokio::test]
    async fn a_claim_re_decides_what_was_refused_while_unclaimed_even_past_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let backend = crate::store::sqlite::SqliteBackend::open(&dir.path().join("sync.db").display().to_string()).await.unwrap();
        let row = crate::store::WorkspaceRow { workspace_id: "w".into(), name: "W".into(), root_document: None };
        backend.create_workspace(&row, 0).await.unwrap();
        let lifetimes = TicketLifetimes { unused: Duration::from_secs(30), reconnect: Duration::from_secs(60) };
        let access = Access::new(backend, Arc::new(Metrics::default()), lifetimes, 100);
        let new_id = || DocumentId::try_from(uuid::Uuid::now_v7().into_bytes().to_vec()).unwrap();
        let peer = PeerId::from("alice/laptop");

        let asked = new_id();
        access.decide(&asked, &peer).await;
        assert!(!claim_announces(&access, &new_id()).await, "nobody was asked about this one");
        assert!(claim_announces(&access, &asked).await, "alice was told no while it was unclaimed");

        // Past the bound the set is dropped; the next claim re-decides everything.
        let first = new_id();
        access.decide(&first, &peer).await;
        for _ in 0..MAX_ASKED_UNCLAIMED {
            access.decide(&new_id(), &peer).await;
        }
        assert!(lock(&access.asked_unclaimed).0.len() <= MAX_ASKED_UNCLAIMED);
        assert!(claim_announces(&access, &first).await, "a dropped document still gets its re-decision");
    }

    #[test]
    fn a_ticket_lives_unused_for_its_ttl_and_bound_while_open_or_reconnecting() {
        let now = Instant::now() + Duration::from_secs(100_000);
        let (ttl, reconnect) = (Duration::from_secs(30), Duration::from_secs(3_600));
        let check = |state: TicketState| state.is_valid(now, ttl, reconnect);
        assert!(check(ticket(false, 0, None, 10, now)), "unused, within its ttl");
        assert!(!check(ticket(false, 0, None, 31, now)), "unused, past its ttl");
        assert!(check(ticket(true, 1, None, 50_000, now)), "bound with a connection open, however old");
        assert!(check(ticket(true, 0, Some(3_000), 50_000, now)), "bound, closed within the reconnect window");
        assert!(!check(ticket(true, 0, Some(3_601), 50_000, now)), "bound, closed too long ago");
    }
}
