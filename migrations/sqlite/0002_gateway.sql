-- Gateway state: customers, their support sessions, the history of agent
-- assignments and the transcript, SQLite flavour.
-- migrations/postgres/0002_gateway.sql must stay identical in meaning: same
-- tables, columns, constraints and indexes; only the type spellings differ.
--
-- Times are milliseconds since the Unix epoch. Ids of customers and sessions
-- are made by the gateway (a session id is the localpart of its proxy JID),
-- so they are TEXT and never generated here.

CREATE TABLE customers (
    id         TEXT    NOT NULL PRIMARY KEY,
    -- Bare JID, normalised by the caller; compared byte for byte.
    jid        TEXT    NOT NULL UNIQUE,
    name       TEXT,
    created_at INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL
);

-- The state machine is the gateway's; the CHECK only keeps out values the
-- Rust side could not represent. The constraint is named so that it can be
-- found (and, in a test, dropped) on PostgreSQL.
CREATE TABLE sessions (
    id           TEXT    NOT NULL PRIMARY KEY,
    customer_id  TEXT    NOT NULL REFERENCES customers (id),
    entry_jid    TEXT    NOT NULL,
    queue        TEXT    NOT NULL,
    state        TEXT    NOT NULL
        CONSTRAINT sessions_state_check
        CHECK (state IN ('waiting', 'offered', 'live', 'async', 'closed')),
    agent        TEXT,
    -- Higher is served first.
    priority     INTEGER NOT NULL DEFAULT 0,
    -- Wait order among equal priorities; a requeue at the front sets it
    -- below every waiting session's, so it may lie before created_at.
    enqueued_at  INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    -- Set exactly when state is 'closed'.
    closed_at    INTEGER,
    close_reason TEXT,
    -- JSON owned by the gateway (channel, client, answers...), opaque here.
    context      TEXT
);

CREATE INDEX sessions_state ON sessions (state);
CREATE INDEX sessions_customer ON sessions (customer_id);
CREATE INDEX sessions_agent ON sessions (agent);

-- Every period during which an agent held a session: finds the agent a
-- customer spoke with last and audits transfers. accepted_at is set when the
-- session first went live or async with that agent, so an offer that was
-- declined or timed out does not count as having spoken with the customer.
CREATE TABLE session_agents (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id  TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    agent       TEXT    NOT NULL,
    assigned_at INTEGER NOT NULL,
    accepted_at INTEGER,
    released_at INTEGER,
    -- Why it ended: reassigned, released, requeued or closed.
    reason      TEXT
);

CREATE INDEX session_agents_session ON session_agents (session_id, id);
-- At most one open assignment per session, whatever the caller does.
CREATE UNIQUE INDEX session_agents_open ON session_agents (session_id)
    WHERE released_at IS NULL;

-- The transcript. AUTOINCREMENT so ids are never reused: the gateway marks
-- messages delivered by id, and a recycled id could hit a newer message.
-- Only the (session_id, id) index: every index costs on the append path,
-- which stores every bridged message.
CREATE TABLE messages (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id   TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    direction    TEXT    NOT NULL
        CONSTRAINT messages_direction_check
        CHECK (direction IN ('in', 'out', 'system', 'note')),
    sender       TEXT    NOT NULL,
    body         TEXT,
    -- The stanza as received, for faithful re-delivery.
    stanza       TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    delivered_at INTEGER
);

CREATE INDEX messages_session_id ON messages (session_id, id);
