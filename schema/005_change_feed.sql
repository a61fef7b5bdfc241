-- 005: one change feed instead of a version counter per table and a polling loop per app.
--
-- Every change that a running gateway must react to — a CLI edit, a subscription, records written by
-- another process — is a row of `changes`, written in the same transaction as the change itself (by the
-- triggers below, or by an explicit insert next to writes no trigger sees). The gateway's one watcher
-- (component/changes/feed.ts) reads the rows after the last one it saw, a single indexed query every
-- 50 ms, and wakes exactly what each change concerns: the app that was edited, the app worker whose
-- consumers changed, the authorization of one app. Rows are purged after an hour by the housekeeping job: the
-- gateway loads the tables themselves at start, the feed only carries what happens while it runs.
--
-- Writers are serialized by SQLite's write lock, so `seq` order is commit order: a watcher that has seen
-- seq N has seen every change committed before it.
--
-- Topics (the table or thing that changed), with `key` and `detail` — keep ChangeTopics in
-- component/changes/topics.ts in step with this list:
--   apps       key: apps.name        detail: NULL                               a row added, changed or removed
--   consumers  key: consumers.id     detail: {"source": …, "destination": …}    a flow or subscription added, changed or removed
--   consents   key: consents.id      detail: {"app": …}                         a consent record (or an operator's grant, which is
--                                                                               one: schema/006_consent.sql) created or changed —
--                                                                               written by ConsentStore beside each event it appends
--                                                                               (006's consents_version only numbers the records'
--                                                                               `rev` for incremental reads: nothing polls it)
--   data       key: the app's name   detail: {"series": [identifiers]} or NULL  records written by another process
--                                                                               (`fedgate store import`); NULL = any series
--   inbox      key: the app's name   detail: NULL                               inbox rows made due by another process (CLI retry)
-- Adding a topic: a trigger (or an insert beside the write) here or in a later migration, and its shape in
-- ChangeTopics. `detail` carries what a watcher needs to route the change without reading the row (a
-- deleted row is gone).
CREATE TABLE changes (
  seq    INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: watchers remember the last one they saw
  topic  TEXT NOT NULL,
  key    TEXT NOT NULL,
  detail TEXT,                              -- JSON, shape per topic (above)
  at     INTEGER NOT NULL                   -- ms since the epoch, for the purge
) STRICT;
CREATE INDEX changes_at ON changes (at);

-- The counters this replaces. (grants_version goes with the grants themselves in 006, which turns grants
-- into consent records; their changes are the `consents` topic.)
DROP TRIGGER apps_inserted;
DROP TRIGGER apps_updated;
DROP TRIGGER apps_deleted;
DROP TABLE registry_version;
DROP TRIGGER consumers_inserted;
DROP TRIGGER consumers_deleted;
DROP TRIGGER consumers_updated;
DROP TABLE consumers_version;

CREATE TRIGGER apps_inserted AFTER INSERT ON apps BEGIN
  INSERT INTO changes (topic, key, at) VALUES ('apps', NEW.name, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
CREATE TRIGGER apps_updated AFTER UPDATE ON apps BEGIN
  INSERT INTO changes (topic, key, at) VALUES ('apps', NEW.name, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
CREATE TRIGGER apps_deleted AFTER DELETE ON apps BEGIN
  INSERT INTO changes (topic, key, at) VALUES ('apps', OLD.name, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;

-- Consumers: not on cursor moves (the extract jobs' hot path), only on what defines the flow.
CREATE TRIGGER consumers_inserted AFTER INSERT ON consumers BEGIN
  INSERT INTO changes (topic, key, detail, at)
  VALUES ('consumers', NEW.id, json_object('source', NEW.source, 'destination', NEW.destination), CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
CREATE TRIGGER consumers_deleted AFTER DELETE ON consumers BEGIN
  INSERT INTO changes (topic, key, detail, at)
  VALUES ('consumers', OLD.id, json_object('source', OLD.source, 'destination', OLD.destination), CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
CREATE TRIGGER consumers_updated AFTER UPDATE OF source, series, destination, schedule, kind, batch ON consumers BEGIN
  INSERT INTO changes (topic, key, detail, at)
  VALUES ('consumers', NEW.id, json_object('source', NEW.source, 'destination', NEW.destination), CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
-- A flow moved to another source or destination concerns the old ones too.
CREATE TRIGGER consumers_moved AFTER UPDATE OF source, destination ON consumers
  WHEN OLD.source <> NEW.source OR OLD.destination <> NEW.destination BEGIN
  INSERT INTO changes (topic, key, detail, at)
  VALUES ('consumers', OLD.id, json_object('source', OLD.source, 'destination', OLD.destination), CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
