-- The PostgreSQL flavour of this migration widens messages.delivered_at
-- from INTEGER (32 bits there) to BIGINT. SQLite's INTEGER already holds
-- 64 bits, so nothing changes here; the file keeps both backends at the
-- same schema version.
SELECT 1;
