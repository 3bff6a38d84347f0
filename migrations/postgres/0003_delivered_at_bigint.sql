-- messages.delivered_at holds milliseconds since the Unix epoch, like every
-- other time column, but 0002 declared it INTEGER: 32 bits on PostgreSQL,
-- so every delivery mark of a real timestamp failed ("integer out of
-- range") and took its whole journal batch with it. Widening keeps every
-- value already stored (an int4 always fits an int8); PostgreSQL rewrites
-- the table once, under an exclusive lock.
ALTER TABLE messages ALTER COLUMN delivered_at TYPE BIGINT;
