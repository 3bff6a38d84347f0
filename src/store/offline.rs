//! Offline message storage (XEP-0160 style): messages for an unavailable
//! user, kept in arrival order until the client acknowledges delivery.

use sqlx::Row;

use super::{now_ms, query_err, Store, StoreError};

/// Ids per DELETE statement: well under SQLite's bound-parameter limit
/// (32766 since 3.32, 999 before) and PostgreSQL's (65535).
const DELETE_CHUNK: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfflineMessage {
    /// Increases with arrival and is never reused, so it orders messages and
    /// safely identifies them for [`Store::offline_delete`].
    pub id: i64,
    pub stanza: String,
    /// Arrival time in milliseconds since the Unix epoch.
    pub stored_at_ms: i64,
}

impl Store {
    /// Stores a message for `owner` and returns its id. No cap is enforced
    /// here; the caller checks [`Store::offline_count`] against its limit.
    pub async fn offline_push(&self, owner: &str, stanza: &str) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "INSERT INTO offline_messages (owner, stanza, stored_at_ms) \
             VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(owner)
        .bind(stanza)
        .bind(now_ms())
        .fetch_one(self.pool())
        .await
        .map_err(query_err("offline_push"))
    }

    /// The owner's messages, oldest first. Nothing is deleted: the caller
    /// calls [`Store::offline_delete`] once the client acknowledged them, so
    /// a connection lost mid-delivery does not lose messages.
    pub async fn offline_list(&self, owner: &str) -> Result<Vec<OfflineMessage>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, stanza, stored_at_ms FROM offline_messages \
             WHERE owner = $1 ORDER BY id",
        )
        .bind(owner)
        .fetch_all(self.pool())
        .await
        .map_err(query_err("offline_list"))?;
        rows.iter()
            .map(|row| {
                Ok(OfflineMessage {
                    id: row.try_get("id")?,
                    stanza: row.try_get("stanza")?,
                    stored_at_ms: row.try_get("stored_at_ms")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(query_err("offline_list"))
    }

    /// Deletes the given messages of `owner` (ids of other owners are
    /// ignored) and returns how many were deleted.
    pub async fn offline_delete(&self, owner: &str, ids: &[i64]) -> Result<u64, StoreError> {
        if ids.is_empty() {
            return Ok(0);
        }
        // The Any driver cannot bind arrays, so build `IN ($2, $3, …)`.
        let mut tx = self.pool().begin().await.map_err(query_err("begin"))?;
        let mut deleted = 0;
        for chunk in ids.chunks(DELETE_CHUNK) {
            let placeholders: Vec<String> = (2..chunk.len() + 2).map(|n| format!("${n}")).collect();
            let sql = format!(
                "DELETE FROM offline_messages WHERE owner = $1 AND id IN ({})",
                placeholders.join(", ")
            );
            // Not cached: each chunk length is a distinct statement.
            let mut query = sqlx::query(&sql).persistent(false).bind(owner);
            for &id in chunk {
                query = query.bind(id);
            }
            deleted += query
                .execute(&mut *tx)
                .await
                .map_err(query_err("offline_delete"))?
                .rows_affected();
        }
        tx.commit().await.map_err(query_err("commit"))?;
        Ok(deleted)
    }

    pub async fn offline_count(&self, owner: &str) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COUNT(*) FROM offline_messages WHERE owner = $1")
            .bind(owner)
            .fetch_one(self.pool())
            .await
            .map_err(query_err("offline_count"))
    }
}
