//! Local-only tables: which workspaces this device holds, and where campaigns,
//! moves and assets live. Nothing here syncs. The location table is derived
//! from the documents but authoritative for lookups while `catalog_meta` says
//! it is complete; when it may have holes, the owner rebuilds it.

use sqlx::SqlitePool;

use crate::{DocId, Result, StoreError};

/// What an entity location row points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityKind {
    Campaign,
    Move,
    Asset,
}

impl EntityKind {
    /// The lower-case name stored in the table and used in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Campaign => "campaign",
            EntityKind::Move => "move",
            EntityKind::Asset => "asset",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "campaign" => Some(EntityKind::Campaign),
            "move" => Some(EntityKind::Move),
            "asset" => Some(EntityKind::Asset),
            _ => None,
        }
    }
}

/// The `catalog_meta` key that says whether `entity_locations` is complete.
const LOCATIONS_KEY: &str = "entity_locations";
const COMPLETE: &str = "complete";
const INCOMPLETE: &str = "incomplete";

/// How many ids one lookup carries (as one JSON array parameter).
const IDS_PER_QUERY: usize = 10_000;

/// Where an entity lives: its workspace and the campaign whose document holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityLocation {
    pub workspace_id: String,
    pub campaign_id: String,
}

/// A workspace shared through a sync server (the token is in the keyring).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncBinding {
    pub workspace_id: String,
    pub server_url: String,
    pub server_workspace_id: String,
    pub server_workspace_name: String,
    pub user_name: String,
    pub role: String,
    pub joined_at_ms: i64,
    pub last_sync_at_ms: Option<i64>,
    pub last_error: Option<String>,
}

type BindingRow = (String, String, String, String, String, String, i64, Option<i64>, Option<String>);

fn binding_from_row(row: BindingRow) -> SyncBinding {
    let (workspace_id, server_url, server_workspace_id, server_workspace_name, user_name, role, joined_at_ms, last_sync_at_ms, last_error) = row;
    SyncBinding { workspace_id, server_url, server_workspace_id, server_workspace_name, user_name, role, joined_at_ms, last_sync_at_ms, last_error }
}

/// The columns of `sync_bindings`, in [`BindingRow`] order (a macro so that
/// queries stay static strings).
macro_rules! binding_columns {
    () => {
        "workspace_id, server_url, server_workspace_id, server_workspace_name, user_name, role, \
         joined_at_ms, last_sync_at_ms, last_error"
    };
}

/// The local catalog tables.
#[derive(Debug, Clone)]
pub struct Catalog {
    pool: SqlitePool,
}

fn query_error(action: &'static str) -> impl Fn(sqlx::Error) -> StoreError + Copy {
    move |source| StoreError::Query { action, source }
}

impl Catalog {
    /// The catalog in an open, migrated pool.
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }

    /// Records a workspace and its index document.
    pub async fn add_workspace(&self, workspace_id: &str, index_document: &DocId, added_at_ms: i64) -> Result<()> {
        sqlx::query("INSERT INTO workspaces (workspace_id, index_document, added_at_ms) VALUES (?, ?, ?)")
            .bind(workspace_id)
            .bind(index_document.to_string())
            .bind(added_at_ms)
            .execute(&self.pool)
            .await
            .map_err(query_error("recording a workspace"))?;
        Ok(())
    }

    /// Every workspace on this device with its index document, oldest first.
    pub async fn workspaces(&self) -> Result<Vec<(String, DocId)>> {
        let rows: Vec<(String, String)> = sqlx::query_as("SELECT workspace_id, index_document FROM workspaces ORDER BY added_at_ms, workspace_id")
            .fetch_all(&self.pool)
            .await
            .map_err(query_error("listing workspaces"))?;
        rows.into_iter().map(|(id, doc)| Ok((id, doc.parse()?))).collect()
    }

    /// The index document of one workspace, if this device holds it.
    pub async fn workspace_index(&self, workspace_id: &str) -> Result<Option<DocId>> {
        let doc: Option<String> = sqlx::query_scalar("SELECT index_document FROM workspaces WHERE workspace_id = ?")
            .bind(workspace_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_error("looking up a workspace"))?;
        doc.map(|d| d.parse()).transpose()
    }

    /// Remembers where entities live (insert or replace), in one transaction.
    pub async fn set_locations(&self, rows: &[(String, EntityKind, EntityLocation)]) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(query_error("recording entity locations"))?;
        for (entity_id, kind, location) in rows {
            sqlx::query(
                "INSERT INTO entity_locations (entity_id, kind, workspace_id, campaign_id) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (entity_id) DO UPDATE SET kind = excluded.kind, \
                 workspace_id = excluded.workspace_id, campaign_id = excluded.campaign_id",
            )
            .bind(entity_id)
            .bind(kind.as_str())
            .bind(&location.workspace_id)
            .bind(&location.campaign_id)
            .execute(&mut *tx)
            .await
            .map_err(query_error("recording entity locations"))?;
        }
        tx.commit().await.map_err(query_error("recording entity locations"))?;
        Ok(())
    }

    /// Forgets where one entity lives (it was deleted).
    pub async fn forget(&self, entity_id: &str, kind: EntityKind) -> Result<()> {
        sqlx::query("DELETE FROM entity_locations WHERE entity_id = ? AND kind = ?")
            .bind(entity_id)
            .bind(kind.as_str())
            .execute(&self.pool)
            .await
            .map_err(query_error("forgetting an entity's location"))?;
        Ok(())
    }

    /// Forgets a campaign and everything in it (it was deleted).
    pub async fn forget_campaign(&self, campaign_id: &str) -> Result<()> {
        sqlx::query("DELETE FROM entity_locations WHERE campaign_id = ?")
            .bind(campaign_id)
            .execute(&self.pool)
            .await
            .map_err(query_error("forgetting a campaign's locations"))?;
        Ok(())
    }

    /// Removes a workspace from this device's catalog, with every location
    /// in it and its sync binding, in one transaction. Its documents stay in
    /// the chunk table, unreferenced.
    pub async fn remove_workspace(&self, workspace_id: &str) -> Result<()> {
        let error = query_error("removing a workspace from this device");
        let mut tx = self.pool.begin().await.map_err(error)?;
        for sql in [
            "DELETE FROM entity_locations WHERE workspace_id = ?",
            "DELETE FROM sync_bindings WHERE workspace_id = ?",
            "DELETE FROM workspaces WHERE workspace_id = ?",
        ] {
            sqlx::query(sql).bind(workspace_id).execute(&mut *tx).await.map_err(error)?;
        }
        tx.commit().await.map_err(error)?;
        Ok(())
    }

    /// Where an entity lives, if known.
    pub async fn location(&self, entity_id: &str, kind: EntityKind) -> Result<Option<EntityLocation>> {
        let row: Option<(String, String)> = sqlx::query_as("SELECT workspace_id, campaign_id FROM entity_locations WHERE entity_id = ? AND kind = ?")
            .bind(entity_id)
            .bind(kind.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(query_error("looking up where an entity lives"))?;
        Ok(row.map(|(workspace_id, campaign_id)| EntityLocation { workspace_id, campaign_id }))
    }

    /// The first of `ids` (in the order given) that has a location row, with
    /// its kind and location. Asks in batches, so checking a million ids is a
    /// hundred queries, not a million.
    pub async fn first_known(&self, ids: &[String]) -> Result<Option<(String, EntityKind, EntityLocation)>> {
        for batch in ids.chunks(IDS_PER_QUERY) {
            // One bound JSON array per batch keeps the SQL static.
            let batch_json = serde_json::to_string(batch).expect("a list of strings always serialises");
            let query = sqlx::query_as::<_, (String, String, String, String)>(
                "SELECT entity_id, kind, workspace_id, campaign_id FROM entity_locations \
                 WHERE entity_id IN (SELECT value FROM json_each(?))",
            )
            .bind(batch_json);
            let rows = query.fetch_all(&self.pool).await.map_err(query_error("looking up where entities live"))?;
            let first = rows
                .into_iter()
                .filter_map(|(id, kind, workspace_id, campaign_id)| {
                    let position = batch.iter().position(|b| *b == id)?;
                    Some((position, id, EntityKind::parse(&kind)?, EntityLocation { workspace_id, campaign_id }))
                })
                .min_by_key(|(position, ..)| *position);
            if let Some((_, id, kind, location)) = first {
                return Ok(Some((id, kind, location)));
            }
        }
        Ok(None)
    }

    /// Whether `entity_locations` lists every entity of every workspace here.
    pub async fn locations_complete(&self) -> Result<bool> {
        let value: Option<String> = sqlx::query_scalar("SELECT value FROM catalog_meta WHERE key = ?")
            .bind(LOCATIONS_KEY)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_error("reading the catalog state"))?;
        Ok(value.as_deref() == Some(COMPLETE))
    }

    /// Records whether `entity_locations` is complete. Set to false before
    /// anything that may add entities without recording them (a sync, an
    /// import), and back to true once they are recorded: a crash in between
    /// leaves it false, and the next open rebuilds the table.
    pub async fn set_locations_complete(&self, complete: bool) -> Result<()> {
        sqlx::query("INSERT INTO catalog_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(LOCATIONS_KEY)
            .bind(if complete { COMPLETE } else { INCOMPLETE })
            .execute(&self.pool)
            .await
            .map_err(query_error("recording the catalog state"))?;
        Ok(())
    }

    /// This device's id, created on first use.
    pub async fn device_id(&self, new_id: impl FnOnce() -> String) -> Result<String> {
        let existing: Option<String> =
            sqlx::query_scalar("SELECT device_id FROM device WHERE id = 1").fetch_optional(&self.pool).await.map_err(query_error("reading the device id"))?;
        if let Some(id) = existing {
            return Ok(id);
        }
        sqlx::query("INSERT INTO device (id, device_id) VALUES (1, ?) ON CONFLICT (id) DO NOTHING")
            .bind(new_id())
            .execute(&self.pool)
            .await
            .map_err(query_error("recording the device id"))?;
        sqlx::query_scalar("SELECT device_id FROM device WHERE id = 1").fetch_one(&self.pool).await.map_err(query_error("reading the device id"))
    }

    /// Every sync binding, in the order they were joined.
    pub async fn sync_bindings(&self) -> Result<Vec<SyncBinding>> {
        let rows: Vec<BindingRow> = sqlx::query_as(concat!("SELECT ", binding_columns!(), " FROM sync_bindings ORDER BY joined_at_ms"))
            .fetch_all(&self.pool)
            .await
            .map_err(query_error("listing sync bindings"))?;
        Ok(rows.into_iter().map(binding_from_row).collect())
    }

    /// Records (or replaces) a workspace's sync binding.
    pub async fn set_sync_binding(&self, binding: &SyncBinding) -> Result<()> {
        sqlx::query(concat!("INSERT OR REPLACE INTO sync_bindings (", binding_columns!(), ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"))
            .bind(&binding.workspace_id)
            .bind(&binding.server_url)
            .bind(&binding.server_workspace_id)
            .bind(&binding.server_workspace_name)
            .bind(&binding.user_name)
            .bind(&binding.role)
            .bind(binding.joined_at_ms)
            .bind(binding.last_sync_at_ms)
            .bind(&binding.last_error)
            .execute(&self.pool)
            .await
            .map_err(query_error("recording a sync binding"))?;
        Ok(())
    }

    /// Records how the last sync of a workspace went.
    pub async fn record_sync_result(&self, workspace_id: &str, at_ms: i64, error: Option<&str>) -> Result<()> {
        let query = match error {
            None => sqlx::query("UPDATE sync_bindings SET last_sync_at_ms = ?, last_error = NULL WHERE workspace_id = ?").bind(at_ms).bind(workspace_id),
            Some(error) => sqlx::query("UPDATE sync_bindings SET last_error = ? WHERE workspace_id = ?").bind(error.to_owned()).bind(workspace_id),
        };
        query.execute(&self.pool).await.map_err(query_error("recording a sync result"))?;
        Ok(())
    }
}
