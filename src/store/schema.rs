//! The Rust side of the schema: for every column, the type this layer binds
//! and decodes it as, and whether it may be NULL. The migrations of the two
//! backends spell types differently (PostgreSQL's INTEGER is 32 bits,
//! SQLite's 64), so a column can be right on one and wrong on the other
//! without any query failing on SQLite: `messages.delivered_at` was INTEGER
//! on PostgreSQL and every delivery mark of a real timestamp failed there.
//! [`Store::schema_mismatches`] compares the database's own description of
//! its columns with this table; a column added to a migration but not here,
//! or declared here with another width, is reported.

use std::fmt;

use sqlx::{Any, Executor, Row};

use super::{query_err, Backend, Store, StoreError};

/// How a column crosses the boundary (see the module doc of `store`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Bound and decoded as `i64`: times in ms, ids, counters, 0/1 flags.
    I64,
    /// `String` / `&str`.
    Text,
    /// `Vec<u8>` / `&[u8]`.
    Bytes,
}

impl Kind {
    /// Whether a column the database describes as `declared` holds this
    /// kind without loss.
    fn accepts(self, backend: Backend, declared: &str) -> bool {
        let declared = declared.to_ascii_lowercase();
        match (backend, self) {
            (Backend::Postgres, Kind::I64) => declared == "bigint",
            (Backend::Postgres, Kind::Text) => declared == "text",
            (Backend::Postgres, Kind::Bytes) => declared == "bytea",
            // SQLite stores what it is given; the declared type only sets
            // the column's affinity (sqlite.org/datatype3.html §3.1), and
            // an INTEGER-affinity column holds 64 bits whatever its name.
            (Backend::Sqlite, Kind::I64) => declared.contains("int"),
            (Backend::Sqlite, Kind::Text) => declared == "text",
            (Backend::Sqlite, Kind::Bytes) => declared == "blob",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::I64 => "i64",
            Kind::Text => "text",
            Kind::Bytes => "bytes",
        })
    }
}

/// One column as the code uses it.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub table: &'static str,
    pub name: &'static str,
    pub kind: Kind,
    pub nullable: bool,
}

const fn col(table: &'static str, name: &'static str, kind: Kind, nullable: bool) -> Column {
    Column {
        table,
        name,
        kind,
        nullable,
    }
}

use Kind::{Bytes, Text, I64};

/// Every column of every table the migrations create.
pub const COLUMNS: &[Column] = &[
    col("accounts", "jid", Text, false),
    col("accounts", "salt", Bytes, false),
    col("accounts", "iterations", I64, false),
    col("accounts", "sha1_stored_key", Bytes, false),
    col("accounts", "sha1_server_key", Bytes, false),
    col("accounts", "sha256_stored_key", Bytes, false),
    col("accounts", "sha256_server_key", Bytes, false),
    col("roster_items", "owner", Text, false),
    col("roster_items", "contact", Text, false),
    col("roster_items", "name", Text, true),
    col("roster_items", "subscription", Text, false),
    col("roster_items", "ask", I64, false),
    col("roster_groups", "owner", Text, false),
    col("roster_groups", "contact", Text, false),
    col("roster_groups", "grp", Text, false),
    col("roster_versions", "owner", Text, false),
    col("roster_versions", "version", I64, false),
    col("pending_in", "owner", Text, false),
    col("pending_in", "from_jid", Text, false),
    col("pending_in", "stanza", Text, false),
    col("offline_messages", "id", I64, false),
    col("offline_messages", "owner", Text, false),
    col("offline_messages", "stanza", Text, false),
    col("offline_messages", "stored_at_ms", I64, false),
    col("customers", "id", Text, false),
    col("customers", "jid", Text, false),
    col("customers", "name", Text, true),
    col("customers", "created_at", I64, false),
    col("customers", "last_seen", I64, false),
    col("customers", "person_id", Text, true),
    col("customer_identifiers", "kind", Text, false),
    col("customer_identifiers", "value", Text, false),
    col("customer_identifiers", "customer_id", Text, false),
    col("customer_identifiers", "verified_at", I64, false),
    col("customer_links", "id", I64, false),
    col("customer_links", "customer_id", Text, false),
    col("customer_links", "other_id", Text, true),
    col("customer_links", "action", Text, false),
    col("customer_links", "actor", Text, false),
    col("customer_links", "created_at", I64, false),
    col("sessions", "id", Text, false),
    col("sessions", "customer_id", Text, false),
    col("sessions", "entry_jid", Text, false),
    col("sessions", "queue", Text, false),
    col("sessions", "state", Text, false),
    col("sessions", "agent", Text, true),
    col("sessions", "priority", I64, false),
    col("sessions", "enqueued_at", I64, false),
    col("sessions", "created_at", I64, false),
    col("sessions", "updated_at", I64, false),
    col("sessions", "closed_at", I64, true),
    col("sessions", "close_reason", Text, true),
    col("sessions", "context", Text, true),
    col("session_agents", "id", I64, false),
    col("session_agents", "session_id", Text, false),
    col("session_agents", "agent", Text, false),
    col("session_agents", "assigned_at", I64, false),
    col("session_agents", "accepted_at", I64, true),
    col("session_agents", "released_at", I64, true),
    col("session_agents", "reason", Text, true),
    col("messages", "id", I64, false),
    col("messages", "session_id", Text, false),
    col("messages", "direction", Text, false),
    col("messages", "sender", Text, false),
    col("messages", "body", Text, true),
    col("messages", "stanza", Text, false),
    col("messages", "created_at", I64, false),
    col("messages", "delivered_at", I64, true),
    col("category_corrections", "id", I64, false),
    col("category_corrections", "session_id", Text, false),
    col("category_corrections", "agent", Text, false),
    col("category_corrections", "was", Text, false),
    col("category_corrections", "category", Text, false),
    col("category_corrections", "lang", Text, false),
    col("category_corrections", "text", Text, false),
    col("category_corrections", "created_at", I64, false),
    col("callbacks", "id", Text, false),
    col("callbacks", "customer_jid", Text, false),
    col("callbacks", "entry_jid", Text, false),
    col("callbacks", "queue", Text, false),
    col("callbacks", "agent", Text, false),
    col("callbacks", "how", Text, false),
    col("callbacks", "due_at", I64, false),
    col("callbacks", "timezone", Text, false),
    col("callbacks", "lang", Text, true),
    col("callbacks", "from_session", Text, true),
    col("callbacks", "session_id", Text, true),
    col("callbacks", "state", Text, false),
    col("callbacks", "created_at", I64, false),
    col("callbacks", "updated_at", I64, false),
];

/// A column as the database describes it.
struct Described {
    table: String,
    name: String,
    declared: String,
    nullable: bool,
}

impl Store {
    /// Every disagreement between the database's columns and [`COLUMNS`]
    /// (see [`mismatches`]).
    pub async fn schema_mismatches(&self) -> Result<Vec<String>, StoreError> {
        mismatches(self.pool(), self.backend()).await
    }
}

/// Every disagreement between the columns of the database behind
/// `executor` and [`COLUMNS`], one line each (`messages.delivered_at:
/// integer on PostgreSQL, but the code binds i64`); empty when the schema
/// is what the code expects. sqlx's own bookkeeping table is left out.
pub async fn mismatches<'c, E>(executor: E, backend: Backend) -> Result<Vec<String>, StoreError>
where
    E: Executor<'c, Database = Any>,
{
    let found = describe_columns(executor, backend).await?;
    let name = match backend {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    };
    let mut problems = Vec::new();
    for d in &found {
        let Some(c) = COLUMNS
            .iter()
            .find(|c| c.table == d.table && c.name == d.name)
        else {
            problems.push(format!(
                "{}.{}: {} in the database but not declared in store::schema::COLUMNS",
                d.table, d.name, d.declared
            ));
            continue;
        };
        if !c.kind.accepts(backend, &d.declared) {
            problems.push(format!(
                "{}.{}: {} on {name}, but the code binds {}",
                d.table, d.name, d.declared, c.kind
            ));
        }
        if c.nullable != d.nullable {
            let says = |nullable| if nullable { "nullable" } else { "NOT NULL" };
            problems.push(format!(
                "{}.{}: {} on {name}, but the code expects it {}",
                d.table,
                d.name,
                says(d.nullable),
                says(c.nullable),
            ));
        }
    }
    for c in COLUMNS {
        if !found.iter().any(|d| d.table == c.table && d.name == c.name) {
            problems.push(format!(
                "{}.{}: declared in store::schema::COLUMNS but not in the database",
                c.table, c.name
            ));
        }
    }
    Ok(problems)
}

async fn describe_columns<'c, E>(
    executor: E,
    backend: Backend,
) -> Result<Vec<Described>, StoreError>
where
    E: Executor<'c, Database = Any>,
{
    let op = "schema_mismatches";
    let sql = match backend {
        Backend::Postgres => {
            "SELECT table_name::text AS t, column_name::text AS c, \
                    data_type::text AS d, is_nullable::text AS n \
             FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name NOT LIKE '\\_sqlx%'"
        }
        // notnull is 0 for an INTEGER PRIMARY KEY, a rowid alias that
        // is never NULL all the same.
        Backend::Sqlite => {
            "SELECT m.name AS t, p.name AS c, p.type AS d, \
                    CASE WHEN p.\"notnull\" = 1 OR (p.pk = 1 AND p.type = 'INTEGER') \
                         THEN 'NO' ELSE 'YES' END AS n \
             FROM sqlite_master AS m, pragma_table_info(m.name) AS p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
               AND m.name NOT LIKE '\\_sqlx%' ESCAPE '\\'"
        }
    };
    let rows = sqlx::query(sql)
        .fetch_all(executor)
        .await
        .map_err(query_err(op))?;
    rows.iter()
        .map(|r| {
            let nullable: String = r.try_get("n").map_err(query_err(op))?;
            Ok(Described {
                table: r.try_get("t").map_err(query_err(op))?,
                name: r.try_get("c").map_err(query_err(op))?,
                declared: r.try_get("d").map_err(query_err(op))?,
                nullable: nullable == "YES",
            })
        })
        .collect()
}
