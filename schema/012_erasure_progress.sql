-- A received erasure's progress, kept as it is applied: the store's records are forgotten in their own
-- file and commits, before the request is marked applied. A run cut short (kill -9) is run again; it
-- then finds less or nothing left, and its confirmation must still count what the first run erased.
ALTER TABLE gdpr_erasures_received ADD COLUMN started_at INTEGER;          -- the first run's start
ALTER TABLE gdpr_erasures_received ADD COLUMN erased_so_far INTEGER NOT NULL DEFAULT 0;  -- records, across runs
