//! Reading the gateway's stored contexts across sessions: what a person
//! told us before (the answers a dialog need not ask again).

use super::{query_err, Store, StoreError};

impl Store {
    /// The contexts of the latest sessions of any of `customer_ids`, newest
    /// first, without session `except` (the one asking); at most `limit`.
    pub async fn recent_contexts(
        &self,
        customer_ids: &[String],
        except: &str,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        if customer_ids.is_empty() {
            return Ok(Vec::new());
        }
        // One placeholder per id: both backends take a list this way.
        let list: Vec<String> = (0..customer_ids.len())
            .map(|i| format!("${}", i + 3))
            .collect();
        let sql = format!(
            "SELECT context FROM sessions \
             WHERE id <> $1 AND context IS NOT NULL AND customer_id IN ({}) \
             ORDER BY created_at DESC, id DESC LIMIT $2",
            list.join(", ")
        );
        let mut q = sqlx::query_scalar::<_, String>(&sql)
            .bind(except)
            .bind(limit);
        for id in customer_ids {
            q = q.bind(id);
        }
        q.fetch_all(self.pool())
            .await
            .map_err(query_err("recent_contexts"))
    }
}
