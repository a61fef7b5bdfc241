-- 002: durable transfer — consumers (who gets what), the outbox, the inbox and the dead letters.
-- Times are INTEGER milliseconds since the Unix epoch. JIDs are bare unless stated.

-- Facts about this database that never change, e.g. the token that makes our stanza ids unique.
CREATE TABLE settings (
  name  TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;
INSERT INTO settings (name, value) VALUES ('instance', lower(hex(randomblob(6))));

-- A consumer is one flow of data: records of `series` (an identifier or a glob) from `source` to
-- `destination`. When the source is one of our apps, the extract job pulls it on `schedule` and
-- the send job delivers it; when the destination is one of our apps, the row is the entitlement
-- that lets `source` send that data to it (data from anyone else is refused).
-- Quoalise subscriptions are consumers too (kind 'subscription', schedule 'on-change').
CREATE TABLE consumers (
  id          INTEGER PRIMARY KEY,
  source      TEXT NOT NULL,
  series      TEXT NOT NULL,
  destination TEXT NOT NULL,
  schedule    TEXT NOT NULL,             -- 'on-change' | 'every 30s' (s, m, h) | a cron expression | 'none'
  kind        TEXT NOT NULL DEFAULT 'flow' CHECK (kind IN ('flow', 'subscription')),
  batch       INTEGER NOT NULL DEFAULT 1000 CHECK (batch BETWEEN 1 AND 1000), -- records per message
  cursor      TEXT,                      -- the source adapter's opaque position; NULL = from the start
  last_run_at INTEGER,
  last_error  TEXT,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  UNIQUE (source, series, destination)
) STRICT;
CREATE INDEX consumers_destination ON consumers (destination);

-- Bumped on every change to consumers, polled by the gateway (same trick as registry_version).
CREATE TABLE consumers_version (
  id      INTEGER PRIMARY KEY CHECK (id = 1),
  version INTEGER NOT NULL
) STRICT;
INSERT INTO consumers_version (id, version) VALUES (1, 0);
CREATE TRIGGER consumers_inserted AFTER INSERT ON consumers BEGIN UPDATE consumers_version SET version = version + 1; END;
CREATE TRIGGER consumers_deleted  AFTER DELETE ON consumers BEGIN UPDATE consumers_version SET version = version + 1; END;
CREATE TRIGGER consumers_updated  AFTER UPDATE OF source, series, destination, schedule, kind, batch ON consumers
  BEGIN UPDATE consumers_version SET version = version + 1; END;

-- Messages waiting to leave. A row is deleted only when its delivery is confirmed (receipt, or no
-- bounce within the window for peers that confirm nothing) or when it moves to dead_letters.
-- Rows to one destination are sent in id order; the stanza id is '<settings.instance>-<id>'.
CREATE TABLE outbox (
  id              INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: ids name stanzas
  consumer_id     INTEGER REFERENCES consumers (id) ON DELETE SET NULL,
  kind            TEXT NOT NULL DEFAULT 'flow' CHECK (kind IN ('flow', 'push')), -- push: throttled per destination
  sender          TEXT NOT NULL,           -- our app's JID, the stanza's from
  destination     TEXT NOT NULL,           -- the stanza's to
  payload         TEXT NOT NULL,           -- the message's content, serialized XML (<quoalise>…</quoalise>)
  records         INTEGER NOT NULL,
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error      TEXT,
  created_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX outbox_lane ON outbox (destination, id);

-- Messages received for our apps, committed before they are acknowledged. (sender, stanza_id) is
-- unique: a message received twice is acknowledged twice and stored once. Applied rows stay as
-- 'done' (payload emptied) for inbox.keep_done_days so that late duplicates are still recognised;
-- a row moved to dead_letters leaves a 'dead' tombstone for the same reason.
CREATE TABLE inbox (
  id              INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: the receive job's cursor relies on it
  app             TEXT NOT NULL,           -- our app's name (the destination)
  sender          TEXT NOT NULL,
  stanza_id       TEXT NOT NULL,
  format          TEXT NOT NULL CHECK (format IN ('quoalise', 'sen1')),
  payload         TEXT NOT NULL,
  records         INTEGER NOT NULL,
  state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'dead')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error      TEXT,
  received_at     INTEGER NOT NULL,
  done_at         INTEGER,
  UNIQUE (sender, stanza_id)
) STRICT;
CREATE INDEX inbox_pending ON inbox (app, id) WHERE state = 'pending';
CREATE INDEX inbox_done ON inbox (done_at) WHERE state <> 'pending';

-- What could not be delivered or applied, with the reason. Nothing leaves here silently:
-- `fedgate dead-letter retry` puts a row back in the outbox/inbox, `drop` deletes it on purpose.
CREATE TABLE dead_letters (
  id          INTEGER PRIMARY KEY,
  direction   TEXT NOT NULL CHECK (direction IN ('outbound', 'inbound')),
  app         TEXT NOT NULL,               -- outbound: sender JID; inbound: our app's name
  peer        TEXT NOT NULL,               -- outbound: destination; inbound: sender
  stanza_id   TEXT,                        -- inbound: the sender's id (kept for duplicate detection)
  consumer_id INTEGER,
  kind        TEXT NOT NULL DEFAULT 'flow',
  format      TEXT NOT NULL DEFAULT 'quoalise',
  payload     TEXT NOT NULL,
  records     INTEGER NOT NULL,
  attempts    INTEGER NOT NULL,
  reason      TEXT NOT NULL,
  created_at  INTEGER NOT NULL,            -- when the message was first queued/received
  died_at     INTEGER NOT NULL
) STRICT;
