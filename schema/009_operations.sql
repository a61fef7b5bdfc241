-- 009: operations — what `fedgate status`, the status page and the metrics show of a gateway.
-- Times are INTEGER milliseconds since the Unix epoch, UTC.

-- The running gateway's heartbeat row says more: where the link goes, why it last failed, which apps
-- are ready, where the status page listens.
ALTER TABLE runtime ADD COLUMN server TEXT;             -- host:port of the listener in use (or tried next)
ALTER TABLE runtime ADD COLUMN server_kind TEXT;        -- ejabberd | prosody | unknown (from its stream header)
ALTER TABLE runtime ADD COLUMN link_error TEXT;         -- why the link last went down or could not come up
ALTER TABLE runtime ADD COLUMN link_error_server TEXT;  -- the listener it happened with
ALTER TABLE runtime ADD COLUMN link_error_at INTEGER;
ALTER TABLE runtime ADD COLUMN apps TEXT NOT NULL DEFAULT '{}'; -- JSON: app name → 'ready' | 'starting' | 'stopping'
ALTER TABLE runtime ADD COLUMN metrics_listen TEXT;     -- host:port of the metrics and status page listener

-- How much each flow has carried since the database was created: one row per (direction, app, peer),
-- counted by triggers as messages enter the outbox or the inbox, so that every writer (extract jobs,
-- subscriptions, the CLI, the intake) is counted without knowing about it. Rates are the difference
-- of two readings (Prometheus' rate(), the status page's refresh).
CREATE TABLE flow_counters (
  direction TEXT NOT NULL CHECK (direction IN ('out', 'in')),
  app       TEXT NOT NULL,    -- out: our sending app's JID (outbox.sender); in: our app's name (inbox.app)
  peer      TEXT NOT NULL,    -- out: the destination; in: the sender
  messages  INTEGER NOT NULL,
  records   INTEGER NOT NULL,
  last_at   INTEGER NOT NULL, -- when the last message was queued or received
  PRIMARY KEY (direction, app, peer)
) STRICT, WITHOUT ROWID;

CREATE TRIGGER outbox_counted AFTER INSERT ON outbox BEGIN
  INSERT INTO flow_counters (direction, app, peer, messages, records, last_at)
    VALUES ('out', NEW.sender, NEW.destination, 1, NEW.records, NEW.created_at)
    ON CONFLICT (direction, app, peer) DO UPDATE SET
      messages = messages + 1, records = records + excluded.records, last_at = excluded.last_at;
END;

CREATE TRIGGER inbox_counted AFTER INSERT ON inbox BEGIN
  INSERT INTO flow_counters (direction, app, peer, messages, records, last_at)
    VALUES ('in', NEW.app, NEW.sender, 1, NEW.records, NEW.received_at)
    ON CONFLICT (direction, app, peer) DO UPDATE SET
      messages = messages + 1, records = records + excluded.records, last_at = excluded.last_at;
END;
