//! Linked identities: several customers (an XMPP account, a web visitor,
//! an SMS number through a transport) that are one person, so that sticky
//! routing, past sessions and notes follow the person. A customer's person
//! is `COALESCE(person_id, id)`: itself until linked (see
//! `migrations/*/0004_links.sql`). Every link and unlink is audited in
//! `customer_links`.

use sqlx::{AnyConnection, Row};

use super::customers::customer_from_row;
use super::{query_err, Customer, Store, StoreError};

/// The person of customer `$1`, as an SQL expression; every query that
/// follows the person compares `COALESCE(c.person_id, c.id)` with it.
const PERSON_OF: &str = "(SELECT COALESCE(person_id, id) FROM customers WHERE id = $1)";

/// A link or unlink, as audited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkEvent {
    pub customer_id: String,
    /// The customer linked to; `None` for an unlink.
    pub other_id: Option<String>,
    /// `link` or `unlink`.
    pub action: String,
    /// How: `auto:KIND` for a shared verified identifier, `agent:JID`.
    pub actor: String,
    pub created_at: i64,
}

/// One session of a person, for the history an agent reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastSession {
    pub id: String,
    /// The identity the person wrote from in this session.
    pub customer_jid: String,
    pub state: String,
    pub created_at: i64,
    pub closed_at: Option<i64>,
    pub close_reason: Option<String>,
    /// The agents who took it (went live or async with it), in order.
    pub agents: Vec<String>,
    /// What the customer and the agents wrote (not system lines or notes).
    pub messages: i64,
    pub notes: Vec<PastNote>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastNote {
    pub sender: String,
    pub body: String,
    pub created_at: i64,
}

impl Store {
    /// Makes `a` and `b` one person (with every customer already linked to
    /// either); false if they already were. `actor` says who or what
    /// decided it, for the audit.
    pub async fn link_customers(
        &self,
        a: &str,
        b: &str,
        actor: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let op = "link_customers";
        let mut tx = self.pool().begin().await.map_err(query_err("begin"))?;
        write_first(&mut tx, a).await?;
        let pa = person(&mut tx, a).await?;
        let pb = person(&mut tx, b).await?;
        if pa == pb {
            return Ok(false);
        }
        // b's whole person joins a's, so that linking is transitive.
        sqlx::query("UPDATE customers SET person_id = $1 WHERE COALESCE(person_id, id) = $2")
            .bind(&pa)
            .bind(&pb)
            .execute(&mut *tx)
            .await
            .map_err(query_err(op))?;
        audit(&mut tx, a, Some(b), "link", actor, now_ms).await?;
        tx.commit().await.map_err(query_err("commit"))?;
        Ok(true)
    }

    /// The customer leaves its person and is its own again; false if it
    /// was not linked. Its verified identifiers that another identity of
    /// the former person shares are forgotten, or the next verification
    /// would link it back against the agent's word.
    pub async fn unlink_customer(
        &self,
        id: &str,
        actor: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let op = "unlink_customer";
        let mut tx = self.pool().begin().await.map_err(query_err("begin"))?;
        write_first(&mut tx, id).await?;
        let p = person(&mut tx, id).await?;
        let mut others: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM customers WHERE COALESCE(person_id, id) = $1 AND id <> $2",
        )
        .bind(&p)
        .bind(id)
        .fetch_all(&mut *tx)
        .await
        .map_err(query_err(op))?;
        if others.is_empty() {
            return Ok(false);
        }
        others.sort();
        sqlx::query(
            "DELETE FROM customer_identifiers WHERE customer_id = $1 AND EXISTS \
                 (SELECT 1 FROM customer_identifiers o JOIN customers c ON c.id = o.customer_id \
                  WHERE o.kind = customer_identifiers.kind AND o.value = customer_identifiers.value \
                    AND c.id <> $1 AND COALESCE(c.person_id, c.id) = $2)",
        )
        .bind(id)
        .bind(&p)
        .execute(&mut *tx)
        .await
        .map_err(query_err(op))?;
        if p == id {
            // It named the person: the others take the name of one of them.
            sqlx::query("UPDATE customers SET person_id = $1 WHERE person_id = $2 AND id <> $2")
                .bind(&others[0])
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(query_err(op))?;
        }
        sqlx::query("UPDATE customers SET person_id = NULL WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(query_err(op))?;
        audit(&mut tx, id, None, "unlink", actor, now_ms).await?;
        tx.commit().await.map_err(query_err("commit"))?;
        Ok(true)
    }

    /// Every identity of the customer's person, itself included, oldest
    /// first; empty for an unknown customer.
    pub async fn person_customers(&self, customer_id: &str) -> Result<Vec<Customer>, StoreError> {
        let op = "person_customers";
        let rows = sqlx::query(&format!(
            "SELECT id, jid, name, created_at, last_seen FROM customers \
             WHERE COALESCE(person_id, id) = {PERSON_OF}"
        ))
        .bind(customer_id)
        .fetch_all(self.pool())
        .await
        .map_err(query_err(op))?;
        let mut all = rows
            .iter()
            .map(customer_from_row)
            .collect::<Result<Vec<_>, _>>()
            .map_err(query_err(op))?;
        all.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(all)
    }

    /// Records that the customer was verified to hold identifier (`kind`,
    /// `value`); the other customers holding it, whom the caller links.
    pub async fn identifier_record(
        &self,
        customer_id: &str,
        kind: &str,
        value: &str,
        now_ms: i64,
    ) -> Result<Vec<String>, StoreError> {
        let op = "identifier_record";
        sqlx::query(
            "INSERT INTO customer_identifiers (kind, value, customer_id, verified_at) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (kind, value, customer_id) DO UPDATE SET verified_at = excluded.verified_at",
        )
        .bind(kind)
        .bind(value)
        .bind(customer_id)
        .bind(now_ms)
        .execute(self.pool())
        .await
        .map_err(query_err(op))?;
        let mut others: Vec<String> = sqlx::query_scalar(
            "SELECT customer_id FROM customer_identifiers \
             WHERE kind = $1 AND value = $2 AND customer_id <> $3",
        )
        .bind(kind)
        .bind(value)
        .bind(customer_id)
        .fetch_all(self.pool())
        .await
        .map_err(query_err(op))?;
        others.sort();
        Ok(others)
    }

    /// The customer's verified identifiers, as (kind, value), sorted.
    pub async fn identifiers_of(
        &self,
        customer_id: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let rows =
            sqlx::query("SELECT kind, value FROM customer_identifiers WHERE customer_id = $1")
                .bind(customer_id)
                .fetch_all(self.pool())
                .await
                .map_err(query_err("identifiers_of"))?;
        let mut all: Vec<(String, String)> = rows
            .iter()
            .map(|r| Ok((r.try_get("kind")?, r.try_get("value")?)))
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(query_err("identifiers_of"))?;
        all.sort();
        Ok(all)
    }

    /// The audit of the customer's links and unlinks, oldest first.
    pub async fn link_events(&self, customer_id: &str) -> Result<Vec<LinkEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT customer_id, other_id, action, actor, created_at FROM customer_links \
             WHERE customer_id = $1 OR other_id = $1 ORDER BY id",
        )
        .bind(customer_id)
        .fetch_all(self.pool())
        .await
        .map_err(query_err("link_events"))?;
        rows.iter()
            .map(|r| {
                Ok(LinkEvent {
                    customer_id: r.try_get("customer_id")?,
                    other_id: r.try_get("other_id")?,
                    action: r.try_get("action")?,
                    actor: r.try_get("actor")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(query_err("link_events"))
    }

    /// The person's sessions across every linked identity, open ones
    /// included but `except` (the session being shown) left out, newest
    /// first, at most `limit`, each with its agents, message count and
    /// notes.
    pub async fn past_sessions_of_person(
        &self,
        customer_id: &str,
        except: Option<&str>,
        limit: i64,
    ) -> Result<Vec<PastSession>, StoreError> {
        let op = "past_sessions_of_person";
        let rows = sqlx::query(&format!(
            "SELECT s.id, c.jid, s.state, s.created_at, s.closed_at, s.close_reason, \
                 (SELECT COUNT(*) FROM messages m \
                  WHERE m.session_id = s.id AND m.direction IN ('in', 'out')) AS n \
             FROM sessions s JOIN customers c ON c.id = s.customer_id \
             WHERE COALESCE(c.person_id, c.id) = {PERSON_OF} AND ($3 IS NULL OR s.id <> $3) \
             ORDER BY s.created_at DESC, s.id DESC LIMIT $2"
        ))
        .bind(customer_id)
        .bind(limit)
        .bind(except)
        .fetch_all(self.pool())
        .await
        .map_err(query_err(op))?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let s = (|| {
                Ok::<_, sqlx::Error>(PastSession {
                    id: r.try_get("id")?,
                    customer_jid: r.try_get("jid")?,
                    state: r.try_get("state")?,
                    created_at: r.try_get("created_at")?,
                    closed_at: r.try_get("closed_at")?,
                    close_reason: r.try_get("close_reason")?,
                    agents: Vec::new(),
                    messages: r.try_get("n")?,
                    notes: Vec::new(),
                })
            })()
            .map_err(query_err(op))?;
            out.push(s);
        }
        // A handful of sessions: a query each keeps the SQL portable.
        for s in &mut out {
            let agents: Vec<String> = sqlx::query_scalar(
                "SELECT agent FROM session_agents \
                 WHERE session_id = $1 AND accepted_at IS NOT NULL ORDER BY id",
            )
            .bind(&s.id)
            .fetch_all(self.pool())
            .await
            .map_err(query_err(op))?;
            for a in agents {
                if !s.agents.contains(&a) {
                    s.agents.push(a);
                }
            }
            let notes = sqlx::query(
                "SELECT sender, body, created_at FROM messages \
                 WHERE session_id = $1 AND direction = 'note' ORDER BY id",
            )
            .bind(&s.id)
            .fetch_all(self.pool())
            .await
            .map_err(query_err(op))?;
            s.notes = notes
                .iter()
                .map(|n| {
                    Ok(PastNote {
                        sender: n.try_get("sender")?,
                        body: n.try_get::<Option<String>, _>("body")?.unwrap_or_default(),
                        created_at: n.try_get("created_at")?,
                    })
                })
                .collect::<Result<_, sqlx::Error>>()
                .map_err(query_err(op))?;
        }
        Ok(out)
    }
}

/// A write as a transaction's first statement: SQLite then takes the write
/// lock at once, where a transaction that read first fails with
/// SQLITE_BUSY_SNAPSHOT if the journal's connection committed meanwhile
/// (the busy timeout does not wait for that). It changes nothing.
async fn write_first(conn: &mut AnyConnection, id: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE customers SET person_id = person_id WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await
        .map_err(query_err("lock customers"))?;
    Ok(())
}

/// The person of customer `id`; NotFound for an unknown customer.
async fn person(conn: &mut AnyConnection, id: &str) -> Result<String, StoreError> {
    sqlx::query_scalar::<_, String>("SELECT COALESCE(person_id, id) FROM customers WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(query_err("person"))?
        .ok_or_else(|| StoreError::NotFound {
            what: "customer",
            id: id.to_owned(),
        })
}

async fn audit(
    conn: &mut AnyConnection,
    customer_id: &str,
    other_id: Option<&str>,
    action: &str,
    actor: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO customer_links (customer_id, other_id, action, actor, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(customer_id)
    .bind(other_id)
    .bind(action)
    .bind(actor)
    .bind(now_ms)
    .execute(conn)
    .await
    .map_err(query_err("link audit"))?;
    Ok(())
}
