-- Callbacks booked in a chat, PostgreSQL flavour; migrations/sqlite/
-- 0006_callbacks.sql must stay identical in meaning.

-- A customer asked to be written to later, by an agent, at a time: the
-- booking outlives the chat it was made in and the process, and its
-- agent's capacity in that slot is counted from these rows.
CREATE TABLE callbacks (
    id           TEXT    NOT NULL PRIMARY KEY,
    customer_jid TEXT    NOT NULL,
    -- The entry JID the callback chat opens from, and its queue.
    entry_jid    TEXT    NOT NULL,
    queue        TEXT    NOT NULL,
    -- The agent who will write; 'how' says whether the customer named
    -- them ('named'), asked for the one they spoke with ('same') or for
    -- anyone ('anyone'): a fallback to someone else is only silent for
    -- 'anyone'.
    agent        TEXT    NOT NULL,
    how          TEXT    NOT NULL
        CONSTRAINT callbacks_how_check CHECK (how IN ('named', 'same', 'anyone')),
    due_at       BIGINT  NOT NULL,
    -- The customer's IANA zone: every time they are told is in it.
    timezone     TEXT    NOT NULL,
    lang         TEXT,
    -- The chat it was booked in (its context is the callback's), and the
    -- session opened for it at the lead time.
    from_session TEXT,
    session_id   TEXT,
    state        TEXT    NOT NULL
        CONSTRAINT callbacks_state_check
        CHECK (state IN ('booked', 'opened', 'made', 'cancelled', 'failed')),
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL
);

CREATE INDEX callbacks_state_due ON callbacks (state, due_at);
CREATE INDEX callbacks_customer ON callbacks (customer_jid);
