-- Linked identities, PostgreSQL flavour: one person reaching the center as
-- several customers (an XMPP account, a web visitor, an SMS number through
-- a transport), so that sticky routing, past sessions and notes follow the
-- person. migrations/sqlite/0004_links.sql must stay identical in
-- meaning; only the type spellings differ.

-- The customer's person: NULL while it is its own (so every existing row
-- and every new one needs no write), else the id of the customer that
-- names the person. A person is therefore COALESCE(person_id, id), indexed
-- as such so that "every identity of this person" is an index lookup. Not
-- a foreign key: the naming customer may itself leave the person (unlink),
-- and the others then get a new name in the same transaction.
ALTER TABLE customers ADD COLUMN person_id TEXT;

CREATE INDEX customers_person ON customers ((COALESCE(person_id, id)));

-- Identifiers a customer was verified to hold (kind: 'account',
-- 'web-user', 'phone', 'email'...): two customers holding the same one are
-- the same person. Only verified ones are stored, so the key is also the
-- unique index on (kind, value, customer_id) that finds the other holders.
CREATE TABLE customer_identifiers (
    kind        TEXT    NOT NULL,
    value       TEXT    NOT NULL,
    customer_id TEXT    NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    -- When it was last verified.
    verified_at BIGINT  NOT NULL,
    PRIMARY KEY (kind, value, customer_id)
);

CREATE INDEX customer_identifiers_customer ON customer_identifiers (customer_id);

-- Who linked or unlinked what, when and how ('auto:web-user',
-- 'agent:alice@agents.example'): a link changes where a person's chats go,
-- so it is audited. other_id is the customer linked to; NULL for an unlink.
CREATE TABLE customer_links (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id TEXT    NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    other_id    TEXT    REFERENCES customers (id) ON DELETE CASCADE,
    action      TEXT    NOT NULL
        CONSTRAINT customer_links_action_check
        CHECK (action IN ('link', 'unlink')),
    actor       TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL
);

CREATE INDEX customer_links_customer ON customer_links (customer_id, id);
