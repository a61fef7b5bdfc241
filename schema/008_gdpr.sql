-- 008: GDPR — retention, carried with the data (component/gdpr/). Times are INTEGER milliseconds since
-- the Unix epoch, UTC, except where a comment says epoch seconds.

-- How long an app keeps the records of some of its series, as an ISO 8601 period after each record's
-- own time (P3Y: a record is kept three years after the moment it measures). Where several policies of
-- one app match a series, the shortest applies. Data leaving the app carries its retention
-- (urn:fedgate:gdpr:0), so that its recipients keep it no longer; the purge job deletes what is past it.
CREATE TABLE retention_policies (
  id         INTEGER PRIMARY KEY,
  app        TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
  series     TEXT NOT NULL,                -- identifier or glob ('*', '?')
  period     TEXT NOT NULL,                -- ISO 8601 period: P3Y, P18M, P30D…
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (app, series)
) STRICT;

-- When every record of a queued or received message is past its retention, the message itself goes:
-- the purge job deletes rows whose expires_at has passed, in bounded batches. NULL: kept without limit.
ALTER TABLE outbox ADD COLUMN expires_at INTEGER;
CREATE INDEX outbox_expiry ON outbox (expires_at) WHERE expires_at IS NOT NULL;

-- The retention a received message carried (JSON: [[series, {maxAge, until}]]), handed to the adapter
-- with the data so that the app keeps each record no longer than its source allows.
ALTER TABLE inbox ADD COLUMN retention TEXT;
ALTER TABLE inbox ADD COLUMN expires_at INTEGER;
CREATE INDEX inbox_expiry ON inbox (expires_at) WHERE expires_at IS NOT NULL;

ALTER TABLE dead_letters ADD COLUMN retention TEXT;
ALTER TABLE dead_letters ADD COLUMN expires_at INTEGER;
CREATE INDEX dead_letters_expiry ON dead_letters (expires_at) WHERE expires_at IS NOT NULL;

-- Queued data that leaves with its consumer keeps its expiry in the dead letters (the trigger of 004, again).
DROP TRIGGER consumers_deleted_queue;
CREATE TRIGGER consumers_deleted_queue BEFORE DELETE ON consumers BEGIN
  INSERT INTO dead_letters (direction, app, peer, consumer_id, kind, payload, records, attempts, reason, created_at, died_at, outbox_id, series, expires_at)
    SELECT 'outbound', sender, destination, consumer_id, kind, payload, records, attempts,
      CASE OLD.kind WHEN 'subscription' THEN 'not sent: the subscription ended' ELSE 'not sent: its consumer was removed' END,
      created_at, CAST(unixepoch('subsec') * 1000 AS INTEGER), id, series, expires_at
    FROM outbox WHERE consumer_id = OLD.id;
  DELETE FROM outbox WHERE consumer_id = OLD.id;
END;
