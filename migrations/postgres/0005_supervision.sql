-- Escalation and supervision, PostgreSQL flavour; migrations/sqlite/
-- 0005_supervision.sql must stay identical in meaning.

-- The transcript gains 'event' (what happened to the session and who did
-- it) and 'whisper' (a supervisor's line to the agent, never shown to the
-- customer). PostgreSQL changes the constraint in place.
ALTER TABLE messages DROP CONSTRAINT messages_direction_check;
ALTER TABLE messages ADD CONSTRAINT messages_direction_check
    CHECK (direction IN ('in', 'out', 'system', 'note', 'event', 'whisper'));

-- An agent's correction of the categories the classifier gave an
-- escalated session: `was` is what the classifier said (comma-separated,
-- best first), `category` what the agent said it is, and `text` the words
-- the classifier read, so that `switchboard categories export` can hand
-- them back to the admin as new examples.
CREATE TABLE category_corrections (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id  TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    agent       TEXT    NOT NULL,
    was         TEXT    NOT NULL,
    category    TEXT    NOT NULL,
    lang        TEXT    NOT NULL,
    text        TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL
);

CREATE INDEX category_corrections_created ON category_corrections (created_at, id);
