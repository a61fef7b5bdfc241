-- 001: the core — applications, presence subscribers, and what the running process reports.
-- Times are INTEGER milliseconds since the Unix epoch, UTC.

-- One row per application served on the subdomain: its JID is <name>@<link.domain>.
CREATE TABLE apps (
  name        TEXT PRIMARY KEY,             -- the JID localpart
  kind        TEXT NOT NULL,                -- adapter kind: a module under adapters/
  options     TEXT NOT NULL DEFAULT '{}',   -- adapter options as JSON, validated by the adapter
  description TEXT NOT NULL DEFAULT '',
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
) STRICT;

-- Bumped by every change to apps: the running gateway polls this one row to pick up CLI edits
-- within a second, without a restart and without a control socket.
CREATE TABLE registry_version (
  id      INTEGER PRIMARY KEY CHECK (id = 1),
  version INTEGER NOT NULL
) STRICT;
INSERT INTO registry_version (id, version) VALUES (1, 0);
CREATE TRIGGER apps_inserted AFTER INSERT ON apps BEGIN UPDATE registry_version SET version = version + 1; END;
CREATE TRIGGER apps_updated  AFTER UPDATE ON apps BEGIN UPDATE registry_version SET version = version + 1; END;
CREATE TRIGGER apps_deleted  AFTER DELETE ON apps BEGIN UPDATE registry_version SET version = version + 1; END;

-- Entities subscribed to an app's presence (RFC 6121 §3): they are told "available" when the gateway
-- comes online and "unavailable" when it stops.
CREATE TABLE presence_subscribers (
  app   TEXT NOT NULL REFERENCES apps(name) ON DELETE CASCADE,
  jid   TEXT NOT NULL,                       -- bare JID
  since INTEGER NOT NULL,
  PRIMARY KEY (app, jid)
) STRICT, WITHOUT ROWID;

-- The running gateway's heartbeat, read by `fedgate status`. One row; a stale heartbeat means not running.
CREATE TABLE runtime (
  id           INTEGER PRIMARY KEY CHECK (id = 1),
  pid          INTEGER NOT NULL,
  started_at   INTEGER NOT NULL,
  link_state   TEXT NOT NULL,
  link_since   INTEGER,                     -- when the link last came online
  heartbeat_at INTEGER NOT NULL,
  domain       TEXT NOT NULL
) STRICT;
