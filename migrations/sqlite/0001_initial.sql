-- Switchboard storage schema, SQLite flavour.
-- migrations/postgres/0001_initial.sql must stay identical in meaning: same
-- tables, columns, constraints and indexes; only the type spellings differ
-- (BLOB/BYTEA, INTEGER/BIGINT, AUTOINCREMENT/IDENTITY).
--
-- No foreign keys to accounts: Store::delete_account removes dependent rows
-- explicitly, so behaviour does not hinge on a per-connection PRAGMA and is
-- the same on both backends. Flags are integers 0/1 because the sqlx Any
-- driver cannot decode SQLite booleans.

-- SCRAM material only (RFC 5802 / RFC 7677); passwords are never stored.
CREATE TABLE accounts (
    jid               TEXT    NOT NULL PRIMARY KEY,
    salt              BLOB    NOT NULL,
    iterations        INTEGER NOT NULL CHECK (iterations > 0),
    sha1_stored_key   BLOB    NOT NULL,
    sha1_server_key   BLOB    NOT NULL,
    sha256_stored_key BLOB    NOT NULL,
    sha256_server_key BLOB    NOT NULL
);

-- RFC 6121 §2.1 roster items; the primary key doubles as the per-owner index.
CREATE TABLE roster_items (
    owner        TEXT    NOT NULL,
    contact      TEXT    NOT NULL,
    name         TEXT,
    subscription TEXT    NOT NULL CHECK (subscription IN ('none', 'to', 'from', 'both')),
    ask          INTEGER NOT NULL DEFAULT 0 CHECK (ask IN (0, 1)),
    PRIMARY KEY (owner, contact)
);

CREATE TABLE roster_groups (
    owner   TEXT NOT NULL,
    contact TEXT NOT NULL,
    grp     TEXT NOT NULL,
    PRIMARY KEY (owner, contact, grp),
    FOREIGN KEY (owner, contact) REFERENCES roster_items (owner, contact) ON DELETE CASCADE
);

-- XEP-0237 roster version per owner; a missing row means version 0.
CREATE TABLE roster_versions (
    owner   TEXT    NOT NULL PRIMARY KEY,
    version INTEGER NOT NULL
);

-- RFC 6121 §3.1.3 inbound subscription requests awaiting the user's answer.
CREATE TABLE pending_in (
    owner    TEXT NOT NULL,
    from_jid TEXT NOT NULL,
    stanza   TEXT NOT NULL,
    PRIMARY KEY (owner, from_jid)
);

-- AUTOINCREMENT so ids are never reused: the caller deletes by id after the
-- client acknowledged delivery, and a recycled id could hit a newer message.
CREATE TABLE offline_messages (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    owner        TEXT    NOT NULL,
    stanza       TEXT    NOT NULL,
    stored_at_ms INTEGER NOT NULL
);

CREATE INDEX offline_messages_owner_id ON offline_messages (owner, id);
