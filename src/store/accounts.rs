//! Accounts: a bare JID and its SCRAM credentials.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{query_err, Credentials, Store, StoreError};

impl Store {
    /// Creates the account or replaces its credentials. `jid` is a bare JID
    /// already normalised by the caller; the store compares it byte for byte.
    pub async fn set_account(&self, jid: &str, creds: &Credentials) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO accounts (jid, salt, iterations, sha1_stored_key, sha1_server_key, \
                                   sha256_stored_key, sha256_server_key) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (jid) DO UPDATE SET \
                 salt = excluded.salt, \
                 iterations = excluded.iterations, \
                 sha1_stored_key = excluded.sha1_stored_key, \
                 sha1_server_key = excluded.sha1_server_key, \
                 sha256_stored_key = excluded.sha256_stored_key, \
                 sha256_server_key = excluded.sha256_server_key",
        )
        .bind(jid)
        .bind(creds.salt.as_slice())
        .bind(i64::from(creds.iterations))
        .bind(creds.sha1_stored_key.as_slice())
        .bind(creds.sha1_server_key.as_slice())
        .bind(creds.sha256_stored_key.as_slice())
        .bind(creds.sha256_server_key.as_slice())
        .execute(self.pool())
        .await
        .map_err(query_err("set_account"))?;
        Ok(())
    }

    pub async fn credentials(&self, jid: &str) -> Result<Option<Credentials>, StoreError> {
        let row = sqlx::query(
            "SELECT salt, iterations, sha1_stored_key, sha1_server_key, \
                    sha256_stored_key, sha256_server_key \
             FROM accounts WHERE jid = $1",
        )
        .bind(jid)
        .fetch_optional(self.pool())
        .await
        .map_err(query_err("credentials"))?;
        row.map(|row| credentials_from_row(&row)).transpose()
    }

    /// Deletes the account together with its roster, pending inbound
    /// subscription requests and offline messages, atomically. Returns
    /// whether the account existed. Other users' roster entries and pending
    /// requests naming this JID are left alone: cleaning those up involves
    /// presence traffic and is the caller's business.
    pub async fn delete_account(&self, jid: &str) -> Result<bool, StoreError> {
        // Every statement writes, so SQLite takes the write lock at the first
        // one and waits out the busy timeout if needed; a transaction that
        // read first would get SQLITE_BUSY at once when upgrading its lock.
        let mut tx = self.pool().begin().await.map_err(query_err("begin"))?;
        for sql in [
            "DELETE FROM roster_groups WHERE owner = $1",
            "DELETE FROM roster_items WHERE owner = $1",
            "DELETE FROM pending_in WHERE owner = $1",
            "DELETE FROM offline_messages WHERE owner = $1",
        ] {
            sqlx::query(sql)
                .bind(jid)
                .execute(&mut *tx)
                .await
                .map_err(query_err("delete_account"))?;
        }
        // The roster version is bumped rather than dropped: a client that
        // cached the old roster must not find its version valid again if the
        // account is re-created and its new roster reaches the same number.
        super::roster::bump_roster_version(&mut tx, jid).await?;
        let deleted = sqlx::query("DELETE FROM accounts WHERE jid = $1")
            .bind(jid)
            .execute(&mut *tx)
            .await
            .map_err(query_err("delete_account"))?
            .rows_affected();
        tx.commit().await.map_err(query_err("commit"))?;
        Ok(deleted > 0)
    }

    /// All account JIDs, sorted by code point.
    pub async fn list_accounts(&self) -> Result<Vec<String>, StoreError> {
        let mut jids: Vec<String> = sqlx::query_scalar("SELECT jid FROM accounts")
            .fetch_all(self.pool())
            .await
            .map_err(query_err("list_accounts"))?;
        jids.sort_unstable();
        Ok(jids)
    }

    pub async fn account_exists(&self, jid: &str) -> Result<bool, StoreError> {
        // Counting rather than `SELECT EXISTS`: PostgreSQL would return a
        // boolean, which the Any driver cannot decode from SQLite's integer.
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts WHERE jid = $1")
            .bind(jid)
            .fetch_one(self.pool())
            .await
            .map_err(query_err("account_exists"))?;
        Ok(n > 0)
    }
}

fn credentials_from_row(row: &AnyRow) -> Result<Credentials, StoreError> {
    let get_blob = |col: &str| -> Result<Vec<u8>, StoreError> {
        row.try_get(col).map_err(query_err("credentials"))
    };
    let iterations: i64 = row
        .try_get("iterations")
        .map_err(query_err("credentials"))?;
    let iterations = u32::try_from(iterations)
        .ok()
        .filter(|&i| i > 0)
        .ok_or_else(|| StoreError::Corrupt(format!("iteration count {iterations}")))?;
    Ok(Credentials {
        salt: get_blob("salt")?,
        iterations,
        sha1_stored_key: get_blob("sha1_stored_key")?,
        sha1_server_key: get_blob("sha1_server_key")?,
        sha256_stored_key: get_blob("sha256_stored_key")?,
        sha256_server_key: get_blob("sha256_server_key")?,
    })
}
