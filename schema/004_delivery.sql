-- 004: delivery integrity — the send job's lanes in SQLite, inbox duplicates recognised per
-- destination app, the source's version carried with received data, queued data leaving with its
-- consumer, dead letters that keep the message's identity.
-- Times are INTEGER milliseconds since the Unix epoch, UTC.

-- One row per destination the send job has had messages for (component/delivery/lane.ts). What the
-- send job learnt about the destination and why the lane waits survive restarts and are visible to
-- the CLI. Holding a lane after a failure writes this one row, whatever the backlog behind it.
CREATE TABLE lanes (
  destination        TEXT PRIMARY KEY,        -- bare (or full) JID, as in outbox.destination
  -- How the destination confirms delivery, learnt from its disco#info: 'acks' (a fedgate peer),
  -- 'receipt' (XEP-0184), 'window' (confirms nothing: delivered when no bounce came back in time),
  -- 'unknown' (not asked yet). Only stable, positive evidence ever makes it 'window'.
  mode               TEXT NOT NULL DEFAULT 'unknown' CHECK (mode IN ('unknown', 'acks', 'receipt', 'window')),
  -- 1 once the destination has confirmed a message: it is then never treated as 'window'.
  confirmed          INTEGER NOT NULL DEFAULT 0 CHECK (confirmed IN (0, 1)),
  mode_checked_at    INTEGER,                 -- when the mode was last learnt
  held_until         INTEGER NOT NULL DEFAULT 0, -- nothing is sent to the destination before this
  failed_id          INTEGER,                 -- the outbox row the lane is held at (sending resumes from it)
  attempts           INTEGER NOT NULL DEFAULT 0, -- consecutive failed attempts of failed_id
  last_error         TEXT,
  -- Set by the CLI (`outbox retry`, `dead-letter retry`): the running send job picks it up within a
  -- second, sends the lane's rows now and clears it.
  retry_requested_at INTEGER,
  updated_at         INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX lanes_retry_requested ON lanes (retry_requested_at) WHERE retry_requested_at IS NOT NULL;
INSERT INTO lanes (destination, updated_at) SELECT DISTINCT destination, CAST(unixepoch('subsec') * 1000 AS INTEGER) FROM outbox;

-- The hold now lives on the lane, not on every row behind the failed one.
ALTER TABLE outbox DROP COLUMN next_attempt_at;
-- The series of the message's records (identifiers, one per line): what is checked against the
-- grants or consents of the destination right before a subscription push leaves.
ALTER TABLE outbox ADD COLUMN series TEXT NOT NULL DEFAULT '';
-- The SHA-256 of the payload (component/trace/digest.ts), computed when the row is queued: what the
-- transparency log and the signed statements name, known without parsing the payload on the send path.
ALTER TABLE outbox ADD COLUMN digest TEXT;
-- Rows of a consumer are found by its id when it is removed (below).
CREATE INDEX outbox_consumer ON outbox (consumer_id) WHERE consumer_id IS NOT NULL;

-- Dead letters keep what names the message, so that a retried one is the same message to its receiver.
ALTER TABLE dead_letters ADD COLUMN outbox_id INTEGER;   -- outbound: the outbox row id (its stanza id)
ALTER TABLE dead_letters ADD COLUMN series TEXT NOT NULL DEFAULT '';
ALTER TABLE dead_letters ADD COLUMN origin TEXT;          -- inbound: see inbox.origin
ALTER TABLE dead_letters ADD COLUMN version INTEGER;      -- inbound: see inbox.version

-- When a consumer (a flow, or a Quoalise subscription) ends, the data queued for it is not sent:
-- it moves to the dead letters with the reason, never deleted silently and never sent.
CREATE TRIGGER consumers_deleted_queue BEFORE DELETE ON consumers BEGIN
  INSERT INTO dead_letters (direction, app, peer, consumer_id, kind, payload, records, attempts, reason, created_at, died_at, outbox_id, series)
    SELECT 'outbound', sender, destination, consumer_id, kind, payload, records, attempts,
      CASE OLD.kind WHEN 'subscription' THEN 'not sent: the subscription ended' ELSE 'not sent: its consumer was removed' END,
      created_at, CAST(unixepoch('subsec') * 1000 AS INTEGER), id, series
    FROM outbox WHERE consumer_id = OLD.id;
  DELETE FROM outbox WHERE consumer_id = OLD.id;
END;

-- The inbox, rebuilt: a message is a duplicate only for the app it was sent to (the same id sent to
-- two of our apps is two messages), and it carries the sender's version of its records.
CREATE TABLE inbox_new (
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
  -- A fedgate sender versions what it sends (urn:fedgate:delivery:0 `epoch` and `version`): among
  -- messages of one origin (sender + its database), a higher version carries newer values. Applying
  -- keeps the newest value of each record whatever the arrival order. NULL for other senders.
  origin          TEXT,
  version         INTEGER,
  UNIQUE (app, sender, stanza_id)
) STRICT;
INSERT INTO inbox_new (id, app, sender, stanza_id, format, payload, records, state, attempts, next_attempt_at, last_error, received_at, done_at)
  SELECT id, app, sender, stanza_id, format, payload, records, state, attempts, next_attempt_at, last_error, received_at, done_at FROM inbox;
-- Ids are never reused: the new table continues the old one's sequence.
UPDATE sqlite_sequence SET seq = max(seq, coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'inbox'), 0)) WHERE name = 'inbox_new';
INSERT INTO sqlite_sequence (name, seq) SELECT 'inbox_new', seq FROM sqlite_sequence WHERE name = 'inbox'
  AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'inbox_new');
DROP TABLE inbox;
ALTER TABLE inbox_new RENAME TO inbox;
CREATE INDEX inbox_pending ON inbox (app, id) WHERE state = 'pending';
CREATE INDEX inbox_done ON inbox (done_at) WHERE state <> 'pending';
