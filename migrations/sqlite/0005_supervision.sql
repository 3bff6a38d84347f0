-- Escalation and supervision, SQLite flavour; migrations/postgres/
-- 0005_supervision.sql must stay identical in meaning.

-- The transcript gains two kinds of entry: 'event' (what happened to the
-- session and who did it: an escalation and its categories, a category
-- corrected, a supervisor starting to monitor, barging in, taking over)
-- and 'whisper' (a supervisor's line to the agent, which the customer never
-- sees). SQLite cannot change a CHECK constraint in place, so the table is
-- rebuilt with its rows, ids included: the gateway marks messages delivered
-- by id, and AUTOINCREMENT's counter follows the table through the rename.
CREATE TABLE messages_v5 (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id   TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    direction    TEXT    NOT NULL
        CONSTRAINT messages_direction_check
        CHECK (direction IN ('in', 'out', 'system', 'note', 'event', 'whisper')),
    sender       TEXT    NOT NULL,
    body         TEXT,
    -- The stanza as received, for faithful re-delivery.
    stanza       TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    delivered_at INTEGER
);

INSERT INTO messages_v5 (id, session_id, direction, sender, body, stanza, created_at, delivered_at)
    SELECT id, session_id, direction, sender, body, stanza, created_at, delivered_at FROM messages;

DROP TABLE messages;

ALTER TABLE messages_v5 RENAME TO messages;

CREATE INDEX messages_session_id ON messages (session_id, id);

-- An agent's correction of the categories the classifier gave an
-- escalated session: `was` is what the classifier said (comma-separated,
-- best first), `category` what the agent said it is, and `text` the words
-- the classifier read, so that `switchboard categories export` can hand
-- them back to the admin as new examples.
CREATE TABLE category_corrections (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id  TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    agent       TEXT    NOT NULL,
    was         TEXT    NOT NULL,
    category    TEXT    NOT NULL,
    lang        TEXT    NOT NULL,
    text        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE INDEX category_corrections_created ON category_corrections (created_at, id);
