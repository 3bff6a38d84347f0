//! Customers: one row per bare JID that ever wrote to an entry JID.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{query_err, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    /// Stable random id made by the gateway; sessions refer to it, so it
    /// outlives changes of the customer's name and could later be linked to
    /// identities on other channels.
    pub id: String,
    /// Bare JID, normalised by the caller.
    pub jid: String,
    /// Display name, if one is known.
    pub name: Option<String>,
    pub created_at: i64,
    pub last_seen: i64,
}

const COLUMNS: &str = "id, jid, name, created_at, last_seen";

impl Store {
    /// The customer with bare JID `jid`, created with id `new_id` if there is
    /// none yet; `last_seen` becomes `now_ms` either way (it never moves
    /// backwards). `jid` is compared byte for byte, so the caller normalises
    /// it (lowercase bare JID).
    ///
    /// One statement, so concurrent calls for the same JID cannot create two
    /// customers: the unique constraint on `jid` turns the losers' inserts
    /// into updates of the winner's row, and every call returns that row.
    pub async fn customer_upsert(
        &self,
        jid: &str,
        now_ms: i64,
        new_id: &str,
    ) -> Result<Customer, StoreError> {
        let row = sqlx::query(&format!(
            "INSERT INTO customers (id, jid, name, created_at, last_seen) \
             VALUES ($1, $2, NULL, $3, $3) \
             ON CONFLICT (jid) DO UPDATE SET last_seen = \
                 CASE WHEN excluded.last_seen > customers.last_seen \
                      THEN excluded.last_seen ELSE customers.last_seen END \
             RETURNING {COLUMNS}"
        ))
        .bind(new_id)
        .bind(jid)
        .bind(now_ms)
        .fetch_one(self.pool())
        .await
        .map_err(query_err("customer_upsert"))?;
        customer_from_row(&row).map_err(query_err("customer_upsert"))
    }

    pub async fn customer_get(&self, id: &str) -> Result<Option<Customer>, StoreError> {
        self.customer_where("id", id, "customer_get").await
    }

    /// Looks a customer up without touching `last_seen`.
    pub async fn customer_by_jid(&self, jid: &str) -> Result<Option<Customer>, StoreError> {
        self.customer_where("jid", jid, "customer_by_jid").await
    }

    /// Sets (or with `None` forgets) the customer's display name.
    pub async fn customer_set_name(&self, id: &str, name: Option<&str>) -> Result<(), StoreError> {
        let updated = sqlx::query("UPDATE customers SET name = $2 WHERE id = $1")
            .bind(id)
            .bind(name)
            .execute(self.pool())
            .await
            .map_err(query_err("customer_set_name"))?
            .rows_affected();
        if updated == 0 {
            return Err(StoreError::NotFound {
                what: "customer",
                id: id.to_owned(),
            });
        }
        Ok(())
    }

    async fn customer_where(
        &self,
        column: &'static str,
        value: &str,
        op: &'static str,
    ) -> Result<Option<Customer>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM customers WHERE {column} = $1"
        ))
        .bind(value)
        .fetch_optional(self.pool())
        .await
        .map_err(query_err(op))?;
        row.map(|row| customer_from_row(&row))
            .transpose()
            .map_err(query_err(op))
    }
}

pub(super) fn customer_from_row(row: &AnyRow) -> Result<Customer, sqlx::Error> {
    Ok(Customer {
        id: row.try_get("id")?,
        jid: row.try_get("jid")?,
        name: row.try_get("name")?,
        created_at: row.try_get("created_at")?,
        last_seen: row.try_get("last_seen")?,
    })
}
