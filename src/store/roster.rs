//! RFC 6121 rosters, XEP-0237 roster versions and pending inbound
//! subscription requests.

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::str::FromStr;

use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::{query_err, Store, StoreError};

/// Subscription state of a roster item (RFC 6121 §2.1.2.5), from the
/// owner's point of view: `To` means the owner sees the contact's presence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Subscription {
    #[default]
    None,
    To,
    From,
    Both,
}

impl Subscription {
    pub fn as_str(self) -> &'static str {
        match self {
            Subscription::None => "none",
            Subscription::To => "to",
            Subscription::From => "from",
            Subscription::Both => "both",
        }
    }
}

impl fmt::Display for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown roster subscription state {0:?}")]
pub struct ParseSubscriptionError(pub String);

impl FromStr for Subscription {
    type Err = ParseSubscriptionError;

    /// Accepts exactly the four wire values; "remove" is a request, not a
    /// state, and is deliberately rejected.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(Subscription::None),
            "to" => Ok(Subscription::To),
            "from" => Ok(Subscription::From),
            "both" => Ok(Subscription::Both),
            other => Err(ParseSubscriptionError(other.to_owned())),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterItem {
    /// Bare JID of the contact.
    pub contact: String,
    pub name: Option<String>,
    pub subscription: Subscription,
    /// An outbound subscription request is pending (`ask='subscribe'`).
    pub ask: bool,
    /// Group names; stored as a set, returned sorted and without duplicates.
    pub groups: Vec<String>,
}

impl Store {
    /// The owner's roster, sorted by contact.
    pub async fn roster(&self, owner: &str) -> Result<Vec<RosterItem>, StoreError> {
        let rows = sqlx::query(&format!("{ITEMS_WITH_GROUPS} WHERE i.owner = $1"))
            .bind(owner)
            .fetch_all(self.pool())
            .await
            .map_err(query_err("roster"))?;
        let mut items = items_from_rows(&rows)?;
        // Sorted here, not in SQL: PostgreSQL's text order follows the
        // database collation, and both backends must agree.
        items.sort_unstable_by(|a, b| a.contact.cmp(&b.contact));
        Ok(items)
    }

    pub async fn roster_item(
        &self,
        owner: &str,
        contact: &str,
    ) -> Result<Option<RosterItem>, StoreError> {
        let rows = sqlx::query(&format!(
            "{ITEMS_WITH_GROUPS} WHERE i.owner = $1 AND i.contact = $2"
        ))
        .bind(owner)
        .bind(contact)
        .fetch_all(self.pool())
        .await
        .map_err(query_err("roster_item"))?;
        Ok(items_from_rows(&rows)?.pop())
    }

    /// Creates or fully replaces the item for `item.contact` (name,
    /// subscription, ask and the whole group set) and bumps the roster
    /// version, atomically.
    pub async fn roster_upsert(&self, owner: &str, item: &RosterItem) -> Result<(), StoreError> {
        let err = || query_err("roster_upsert");
        // Starts with a write so SQLite takes the write lock up front and the
        // busy timeout applies.
        let mut tx = self.pool().begin().await.map_err(query_err("begin"))?;
        sqlx::query(
            "INSERT INTO roster_items (owner, contact, name, subscription, ask) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (owner, contact) DO UPDATE SET \
                 name = excluded.name, \
                 subscription = excluded.subscription, \
                 ask = excluded.ask",
        )
        .bind(owner)
        .bind(item.contact.as_str())
        .bind(item.name.as_deref())
        .bind(item.subscription.as_str())
        .bind(i64::from(item.ask))
        .execute(&mut *tx)
        .await
        .map_err(err())?;
        sqlx::query("DELETE FROM roster_groups WHERE owner = $1 AND contact = $2")
            .bind(owner)
            .bind(item.contact.as_str())
            .execute(&mut *tx)
            .await
            .map_err(err())?;
        // Duplicate names would violate the primary key; the roster protocol
        // treats groups as a set anyway.
        let groups: BTreeSet<&str> = item.groups.iter().map(String::as_str).collect();
        for grp in groups {
            sqlx::query("INSERT INTO roster_groups (owner, contact, grp) VALUES ($1, $2, $3)")
                .bind(owner)
                .bind(item.contact.as_str())
                .bind(grp)
                .execute(&mut *tx)
                .await
                .map_err(err())?;
        }
        bump_roster_version(&mut tx, owner).await?;
        tx.commit().await.map_err(query_err("commit"))?;
        Ok(())
    }

    /// Removes the item; returns whether it existed. The roster version is
    /// bumped only when something was removed, since nothing changed
    /// otherwise.
    pub async fn roster_remove(&self, owner: &str, contact: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await.map_err(query_err("begin"))?;
        sqlx::query("DELETE FROM roster_groups WHERE owner = $1 AND contact = $2")
            .bind(owner)
            .bind(contact)
            .execute(&mut *tx)
            .await
            .map_err(query_err("roster_remove"))?;
        let removed = sqlx::query("DELETE FROM roster_items WHERE owner = $1 AND contact = $2")
            .bind(owner)
            .bind(contact)
            .execute(&mut *tx)
            .await
            .map_err(query_err("roster_remove"))?
            .rows_affected()
            > 0;
        if removed {
            bump_roster_version(&mut tx, owner).await?;
        }
        tx.commit().await.map_err(query_err("commit"))?;
        Ok(removed)
    }

    /// Roster items and pending inbound requests the owner has: what
    /// `[limits] roster_items` caps.
    pub async fn roster_size(&self, owner: &str) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM roster_items WHERE owner = $1) \
                  + (SELECT COUNT(*) FROM pending_in WHERE owner = $1)",
        )
        .bind(owner)
        .fetch_one(self.pool())
        .await
        .map_err(query_err("roster_size"))
    }

    /// XEP-0237 version of the owner's roster: 0 until the first change,
    /// then strictly increasing with every change.
    pub async fn roster_version(&self, owner: &str) -> Result<i64, StoreError> {
        let version: Option<i64> =
            sqlx::query_scalar("SELECT version FROM roster_versions WHERE owner = $1")
                .bind(owner)
                .fetch_optional(self.pool())
                .await
                .map_err(query_err("roster_version"))?;
        Ok(version.unwrap_or(0))
    }

    /// Records an inbound subscription request from `from` (a bare JID),
    /// replacing any earlier one from the same JID so that the latest stanza
    /// is what gets redelivered at each login.
    pub async fn pending_in_add(
        &self,
        owner: &str,
        from: &str,
        stanza: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO pending_in (owner, from_jid, stanza) VALUES ($1, $2, $3) \
             ON CONFLICT (owner, from_jid) DO UPDATE SET stanza = excluded.stanza",
        )
        .bind(owner)
        .bind(from)
        .bind(stanza)
        .execute(self.pool())
        .await
        .map_err(query_err("pending_in_add"))?;
        Ok(())
    }

    /// Pending inbound requests as (from, stanza), sorted by `from`.
    pub async fn pending_in(&self, owner: &str) -> Result<Vec<(String, String)>, StoreError> {
        let mut pending: Vec<(String, String)> =
            sqlx::query_as("SELECT from_jid, stanza FROM pending_in WHERE owner = $1")
                .bind(owner)
                .fetch_all(self.pool())
                .await
                .map_err(query_err("pending_in"))?;
        pending.sort_unstable();
        Ok(pending)
    }

    pub async fn pending_in_remove(&self, owner: &str, from: &str) -> Result<bool, StoreError> {
        let result = sqlx::query("DELETE FROM pending_in WHERE owner = $1 AND from_jid = $2")
            .bind(owner)
            .bind(from)
            .execute(self.pool())
            .await
            .map_err(query_err("pending_in_remove"))?;
        Ok(result.rows_affected() > 0)
    }
}

/// Increments the owner's roster version inside the caller's transaction,
/// so the version changes atomically with the roster it describes.
pub(super) async fn bump_roster_version(
    tx: &mut Transaction<'_, Any>,
    owner: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO roster_versions (owner, version) VALUES ($1, 1) \
         ON CONFLICT (owner) DO UPDATE SET version = roster_versions.version + 1",
    )
    .bind(owner)
    .execute(&mut **tx)
    .await
    .map_err(query_err("bump_roster_version"))?;
    Ok(())
}

/// Items joined with their groups: one row per (item, group), or one row
/// with a NULL group for an item without groups. A single statement, so the
/// items and groups come from one snapshot even under concurrent updates.
const ITEMS_WITH_GROUPS: &str = "\
    SELECT i.contact, i.name, i.subscription, i.ask, g.grp \
    FROM roster_items i \
    LEFT JOIN roster_groups g ON g.owner = i.owner AND g.contact = i.contact";

/// Folds joined rows back into items, each with sorted groups.
fn items_from_rows(rows: &[AnyRow]) -> Result<Vec<RosterItem>, StoreError> {
    let err = || query_err("roster");
    let mut items: HashMap<String, RosterItem> = HashMap::new();
    for row in rows {
        let contact: String = row.try_get("contact").map_err(err())?;
        let grp: Option<String> = row.try_get("grp").map_err(err())?;
        let item = match items.entry(contact) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => {
                let subscription: String = row.try_get("subscription").map_err(err())?;
                let ask: i64 = row.try_get("ask").map_err(err())?;
                let item = RosterItem {
                    contact: entry.key().clone(),
                    name: row.try_get("name").map_err(err())?,
                    subscription: subscription
                        .parse()
                        .map_err(|e: ParseSubscriptionError| StoreError::Corrupt(e.to_string()))?,
                    ask: ask != 0,
                    groups: Vec::new(),
                };
                entry.insert(item)
            }
        };
        item.groups.extend(grp);
    }
    Ok(items
        .into_values()
        .map(|mut item| {
            item.groups.sort_unstable();
            item
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscription_round_trips() {
        for s in [
            Subscription::None,
            Subscription::To,
            Subscription::From,
            Subscription::Both,
        ] {
            assert_eq!(s.as_str().parse::<Subscription>(), Ok(s));
            assert_eq!(s.to_string(), s.as_str());
        }
        assert!("remove".parse::<Subscription>().is_err());
        assert!("Both".parse::<Subscription>().is_err());
    }
}
