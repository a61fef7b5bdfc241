-- 010: GDPR — a person's rights (component/gdpr/): retention set by consents, the data subject reading
-- their own series, who received what (from the transparency log), erasure that reaches the recipients.
-- Times are INTEGER milliseconds since the Unix epoch, UTC.

-- How long the recipient may keep what it receives under this consent, from the transfer ("the
-- recipient may keep it 1 year"): an ISO 8601 period, set by whoever decides (decide, the operator's
-- approve or grant add). Pushes, flows and get_history answers to that recipient carry it as an
-- absolute `until` (transfer time + period) beside the app's own `max-age`. NULL: no limit of its own.
ALTER TABLE consents ADD COLUMN retention TEXT;
-- A changed retention is a changed record: readers reload it (the trigger of 006, with the new column).
DROP TRIGGER consents_updated;
CREATE TRIGGER consents_updated AFTER UPDATE OF app, subject, recipient, series, processing, legal_basis, state, not_before, not_after, renewal_until, retention ON consents BEGIN
  UPDATE consents_version SET version = version + 1;
  UPDATE consents SET rev = (SELECT version FROM consents_version) WHERE id = NEW.id;
END;

-- A data subject with a bound JID may always read their own series (component/authz/authorizer.ts).
-- `subjects_version` lets a reader skip an unchanged list; each change is also a `consents` row of the
-- change feed (005; key 0, app ''), so the running gateway's checks reload subjects at once.
CREATE TABLE subjects_version (
  id      INTEGER PRIMARY KEY CHECK (id = 1),
  version INTEGER NOT NULL
) STRICT;
INSERT INTO subjects_version (id, version) VALUES (1, 0);
CREATE TRIGGER subjects_inserted AFTER INSERT ON subjects BEGIN
  UPDATE subjects_version SET version = version + 1;
  INSERT INTO changes (topic, key, detail, at) VALUES ('consents', '0', json_object('app', ''), CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
CREATE TRIGGER subjects_updated AFTER UPDATE ON subjects BEGIN
  UPDATE subjects_version SET version = version + 1;
  INSERT INTO changes (topic, key, detail, at) VALUES ('consents', '0', json_object('app', ''), CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
CREATE TRIGGER subjects_deleted AFTER DELETE ON subjects BEGIN
  UPDATE subjects_version SET version = version + 1;
  INSERT INTO changes (topic, key, detail, at) VALUES ('consents', '0', json_object('app', ''), CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
CREATE TRIGGER subject_series_inserted AFTER INSERT ON subject_series BEGIN
  UPDATE subjects_version SET version = version + 1;
  INSERT INTO changes (topic, key, detail, at) VALUES ('consents', '0', json_object('app', ''), CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
CREATE TRIGGER subject_series_deleted AFTER DELETE ON subject_series BEGIN
  UPDATE subjects_version SET version = version + 1;
  INSERT INTO changes (topic, key, detail, at) VALUES ('consents', '0', json_object('app', ''), CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;

-- Received messages name the series of their records (one per line), as outbox rows do: an erasure
-- finds a person's data waiting to be applied without parsing every payload.
ALTER TABLE inbox ADD COLUMN series TEXT NOT NULL DEFAULT '';

-- Who received which series, and when: a summary of the log's `transfer.sent` entries (flows and
-- subscription pushes) and `access` entries (get_history answers that held records), built by the
-- gateway's GDPR worker as the log grows (settings `gdpr_disclosures_read`: the last entry read). It is
-- derived from the log and can be rebuilt from it; the log stays the evidence (entries first_entry …
-- last_entry). Read by `my_data`, the register and the erasure, which must find every recipient.
CREATE TABLE gdpr_disclosures (
  app         TEXT NOT NULL,                 -- our app's name (the data's source)
  series      TEXT NOT NULL,                 -- a series identifier
  recipient   TEXT NOT NULL,                 -- the JID it went to (a bare JID; an app of a peer gateway, a person)
  via         TEXT NOT NULL CHECK (via IN ('transfer', 'access')), -- a message (flow, push) or a get_history answer
  first_at    INTEGER NOT NULL,
  last_at     INTEGER NOT NULL,
  messages    INTEGER NOT NULL,              -- messages or answers
  records     INTEGER NOT NULL,
  first_entry INTEGER NOT NULL,              -- log entries of the first and last of them
  last_entry  INTEGER NOT NULL,
  PRIMARY KEY (app, series, recipient, via)
) STRICT, WITHOUT ROWID;
INSERT INTO settings (name, value) VALUES ('gdpr_disclosures_read', '-1');

-- Erasures made here (`fedgate gdpr erase`): what was erased, and the requests sent to the recipients.
CREATE TABLE gdpr_erasures (
  id          INTEGER PRIMARY KEY,
  subject     TEXT NOT NULL,                 -- the data subject's name
  series      TEXT NOT NULL,                 -- JSON array of the globs erased
  reason      TEXT NOT NULL,
  erased      TEXT NOT NULL,                 -- JSON: what was deleted here (records per app, queued messages, consents ended)
  by          TEXT NOT NULL,                 -- 'operator <account>'
  at          INTEGER NOT NULL,
  entry       INTEGER                        -- its `gdpr.erasure` log entry
) STRICT;

-- One erasure request per (erasure, our app that sent the data, recipient), sent through the outbox
-- (signed, confirmed, retried like data) as <erase xmlns="urn:fedgate:gdpr:0" request="…"/>.
CREATE TABLE gdpr_erasure_requests (
  request      TEXT PRIMARY KEY,             -- the request's id on the wire: e<instance>-<erasure>-<n>
  erasure      INTEGER NOT NULL REFERENCES gdpr_erasures (id),
  app          TEXT NOT NULL,                -- our app's JID: the request's from (the data's source)
  recipient    TEXT NOT NULL,                -- its to
  outbox_id    INTEGER NOT NULL,             -- the outbox row that carries it (then its dead letter, if it dies)
  -- The recipient's signed confirmation (<erased/>), once it came: when, its log entry, what it says.
  confirmed_at INTEGER,
  entry        INTEGER,
  records      INTEGER,
  complete     INTEGER CHECK (complete IN (0, 1)),
  note         TEXT
) STRICT;
CREATE INDEX gdpr_erasure_requests_erasure ON gdpr_erasure_requests (erasure);

-- Erasure requests received by our apps from the sources of their data: applied by the GDPR worker to
-- the data received from that source only, then confirmed through the outbox (<erased/>).
CREATE TABLE gdpr_erasures_received (
  id           INTEGER PRIMARY KEY,
  app          TEXT NOT NULL,                -- our app's name
  sender       TEXT NOT NULL,                -- the source's bare JID
  request      TEXT NOT NULL,                -- its request id
  series       TEXT NOT NULL,                -- JSON array of globs
  received_at  INTEGER NOT NULL,
  entry        INTEGER,                      -- its `gdpr.erasure.received` log entry
  applied_at   INTEGER,                      -- NULL: waiting for the GDPR worker
  records      INTEGER,
  complete     INTEGER CHECK (complete IN (0, 1)),
  note         TEXT,
  UNIQUE (app, sender, request)
) STRICT;
CREATE INDEX gdpr_erasures_received_pending ON gdpr_erasures_received (id) WHERE applied_at IS NULL;
