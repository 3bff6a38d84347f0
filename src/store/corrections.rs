//! Agents' corrections of an escalated session's categories: what the
//! classifier said, what the agent said instead, and the words it read.
//! The admin exports them (`switchboard categories export`) as examples
//! for `categories.toml`, which is how the classifier learns from its
//! mistakes without learning on its own from whoever corrects it.

use sqlx::Row;

use super::{query_err, Store, StoreError};

/// One correction, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Correction {
    pub id: i64,
    pub session_id: String,
    /// The agent's bare JID.
    pub agent: String,
    /// The classifier's categories, best first.
    pub was: Vec<String>,
    pub category: String,
    pub lang: String,
    pub text: String,
    pub created_at: i64,
}

impl Store {
    pub async fn correction_append(&self, c: &Correction) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO category_corrections \
                 (session_id, agent, was, category, lang, text, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&c.session_id)
        .bind(&c.agent)
        .bind(c.was.join(","))
        .bind(&c.category)
        .bind(&c.lang)
        .bind(&c.text)
        .bind(c.created_at)
        .execute(self.pool())
        .await
        .map_err(query_err("correction_append"))?;
        Ok(())
    }

    /// Every correction made at or after `since_ms`, oldest first.
    pub async fn corrections_since(&self, since_ms: i64) -> Result<Vec<Correction>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, session_id, agent, was, category, lang, text, created_at \
             FROM category_corrections WHERE created_at >= $1 ORDER BY created_at, id",
        )
        .bind(since_ms)
        .fetch_all(self.pool())
        .await
        .map_err(query_err("corrections_since"))?;
        rows.iter()
            .map(|r| {
                let was: String = r.try_get("was").map_err(query_err("corrections_since"))?;
                Ok(Correction {
                    id: r.try_get("id").map_err(query_err("corrections_since"))?,
                    session_id: r
                        .try_get("session_id")
                        .map_err(query_err("corrections_since"))?,
                    agent: r.try_get("agent").map_err(query_err("corrections_since"))?,
                    was: was
                        .split(',')
                        .filter(|w| !w.is_empty())
                        .map(str::to_string)
                        .collect(),
                    category: r
                        .try_get("category")
                        .map_err(query_err("corrections_since"))?,
                    lang: r.try_get("lang").map_err(query_err("corrections_since"))?,
                    text: r.try_get("text").map_err(query_err("corrections_since"))?,
                    created_at: r
                        .try_get("created_at")
                        .map_err(query_err("corrections_since"))?,
                })
            })
            .collect()
    }
}
