-- 006: consent — records shaped on ISO/IEC TS 27560 and the W3C Data Privacy Vocabulary (DPV), each with
-- an append-only history of events; the people who decide (data subjects, app owners); automatic rules.
-- Operator grants (003) become records whose legal basis the operator chose. Times are INTEGER
-- milliseconds since the Unix epoch, UTC. JIDs are bare and lower-case.

-- Data subjects: a person or household the series are about (a meter's PRM is personal data), and the
-- JID through which they decide (NULL: they decide through the operator, e.g. on paper).
CREATE TABLE subjects (
  name        TEXT PRIMARY KEY,              -- the operator's name for them, e.g. 'household-12'
  jid         TEXT,
  created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX subjects_jid ON subjects (jid);

-- The series (identifiers or globs) that are about a subject.
CREATE TABLE subject_series (
  subject TEXT NOT NULL REFERENCES subjects (name) ON DELETE CASCADE,
  series  TEXT NOT NULL,
  PRIMARY KEY (subject, series)
) STRICT, WITHOUT ROWID;

-- App owners: the organisation running the app, who decide for its series that are about no subject.
CREATE TABLE app_owners (
  app TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
  jid TEXT NOT NULL,
  PRIMARY KEY (app, jid)
) STRICT, WITHOUT ROWID;
CREATE INDEX app_owners_jid ON app_owners (jid);

-- Automatic decisions ("automated authorization"), per app, tried in id order on every new request or
-- renewal: the first rule that matches decides, and its decision is recorded as the rule's.
CREATE TABLE consent_rules (
  id           INTEGER PRIMARY KEY,
  app          TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
  decision     TEXT NOT NULL CHECK (decision IN ('approve', 'refuse')),
  requester    TEXT NOT NULL DEFAULT '*',    -- requester pattern, as in consents.recipient
  series       TEXT NOT NULL DEFAULT '*',    -- the request's series must lie within this glob
  purpose      TEXT,                         -- exact purpose text (case-insensitive); NULL = any
  purpose_term TEXT,                         -- DPV purpose term; NULL = any
  processing   TEXT NOT NULL DEFAULT 'read subscribe', -- the request may ask for these, no more
  max_duration TEXT,                         -- ISO 8601: an approval lasts at most this long
  subjects     INTEGER NOT NULL DEFAULT 0,   -- 1: also decides requests about a data subject's series
  legal_basis  TEXT NOT NULL DEFAULT 'consent',
  created_at   INTEGER NOT NULL
) STRICT;

-- One consent record. The columns after `origin` are the current state, a projection of the record's
-- events (consent_events) kept up to date by the one function that appends an event
-- (component/consent/consent-store.ts); authorization reads only them.
CREATE TABLE consents (
  id           INTEGER PRIMARY KEY,          -- ISO 27560 record identifier; a migrated grant keeps its id
  -- The controller: the app whose series are read. No foreign key: a record outlives its app, as evidence.
  app          TEXT NOT NULL,
  subject      TEXT,                         -- the data subject the series are about; NULL = none identified
  -- The recipient: a bare JID, a whole domain ('*@example.net') or anyone ('*', open data).
  recipient    TEXT NOT NULL,
  series       TEXT NOT NULL,                -- an identifier or a glob
  purpose      TEXT NOT NULL DEFAULT '',     -- in the requester's words
  purpose_term TEXT,                         -- optional DPV purpose, e.g. 'dpv:ServiceProvision'
  legal_basis  TEXT NOT NULL CHECK (legal_basis IN ('consent', 'contract', 'legal-obligation', 'public-task', 'legitimate-interest')),
  processing   TEXT NOT NULL CHECK (processing IN ('read', 'subscribe', 'read subscribe')),
  notice       TEXT NOT NULL DEFAULT '',     -- text or URL shown to whoever decides
  origin       TEXT NOT NULL CHECK (origin IN ('grant', 'request')), -- typed by the operator, or asked over XMPP
  requested_by TEXT,                         -- the bare JID that asked (origin 'request')
  created_at   INTEGER NOT NULL,
  state        TEXT NOT NULL CHECK (state IN ('requested', 'given', 'refused', 'renewed', 'withdrawn', 'expired', 'invalidated')),
  state_at     INTEGER NOT NULL,             -- when the state last changed
  not_before   INTEGER,                      -- valid from (inclusive); NULL = from when given
  not_after    INTEGER,                      -- valid until (exclusive); NULL = no end (operator grants only)
  renewal_until INTEGER,                     -- a renewal asked and not yet decided: the validity asked for
  rev          INTEGER NOT NULL DEFAULT 0,   -- consents_version at the last change: readers reload only what changed
  CHECK (not_before IS NULL OR not_after IS NULL OR not_before < not_after)
) STRICT;
CREATE INDEX consents_rev ON consents (rev);
CREATE INDEX consents_app_subject ON consents (app, subject);
CREATE INDEX consents_recipient ON consents (recipient);
CREATE INDEX consents_requested_by ON consents (requested_by);
-- Requests and renewals waiting for a decision (a renewal is only ever waiting on a record in force).
CREATE INDEX consents_awaiting ON consents (app) WHERE state = 'requested' OR renewal_until IS NOT NULL;
CREATE INDEX consents_due ON consents (not_after) WHERE state IN ('requested', 'given', 'renewed');

-- The history of a record: append-only. Each event says who (actor, in what role), when, and the
-- evidence — the stanza id and full JID of an XMPP decision, the operator's account for the CLI, the
-- rule's id, the job's run.
CREATE TABLE consent_events (
  id         INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: the order of history, and the effects' cursor
  consent_id INTEGER NOT NULL REFERENCES consents (id),
  type       TEXT NOT NULL CHECK (type IN ('requested', 'given', 'refused', 'renewed', 'withdrawn', 'expired', 'invalidated')),
  at         INTEGER NOT NULL,
  actor      TEXT NOT NULL,                  -- a bare JID, 'operator', 'rule 3', 'gateway'
  role       TEXT NOT NULL CHECK (role IN ('requester', 'subject', 'owner', 'operator', 'rule', 'gateway')),
  evidence   TEXT NOT NULL,                  -- JSON
  details    TEXT NOT NULL DEFAULT '{}'      -- JSON: what the event set (validity, series, renewal) and why (reason)
) STRICT;
CREATE INDEX consent_events_consent ON consent_events (consent_id, id);
CREATE INDEX consent_events_asked ON consent_events (actor, at) WHERE type = 'requested'; -- requests per requester per day
CREATE TRIGGER consent_events_append_only_u BEFORE UPDATE ON consent_events BEGIN SELECT RAISE(ABORT, 'consent events are append-only'); END;
CREATE TRIGGER consent_events_append_only_d BEFORE DELETE ON consent_events BEGIN SELECT RAISE(ABORT, 'consent events are append-only'); END;
CREATE TRIGGER consents_kept BEFORE DELETE ON consents BEGIN SELECT RAISE(ABORT, 'consent records are kept: withdraw or invalidate them'); END;

-- Bumped by every change to a record; the changed row takes the new number (rev), so the running
-- gateway reloads only what changed (same polling as registry_version, 250 ms).
CREATE TABLE consents_version (
  id      INTEGER PRIMARY KEY CHECK (id = 1),
  version INTEGER NOT NULL
) STRICT;
INSERT INTO consents_version (id, version) VALUES (1, 0);
CREATE TRIGGER consents_inserted AFTER INSERT ON consents BEGIN
  UPDATE consents_version SET version = version + 1;
  UPDATE consents SET rev = (SELECT version FROM consents_version) WHERE id = NEW.id;
END;
CREATE TRIGGER consents_updated AFTER UPDATE OF app, subject, recipient, series, processing, legal_basis, state, not_before, not_after, renewal_until ON consents BEGIN
  UPDATE consents_version SET version = version + 1;
  UPDATE consents SET rev = (SELECT version FROM consents_version) WHERE id = NEW.id;
END;

-- Today's grants become records given by the operator. Their legal basis was never asked: open data
-- ('*') is a public task, anything else the operator's agreement with the recipient (contract).
INSERT INTO consents (id, app, subject, recipient, series, purpose, legal_basis, processing, origin, created_at, state, state_at, not_before, not_after)
  SELECT id, app, NULL, requester, series, purpose, CASE WHEN requester = '*' THEN 'public-task' ELSE 'contract' END,
         'read subscribe', 'grant', created_at, 'given', created_at, not_before, not_after
  FROM grants ORDER BY id;
INSERT INTO consent_events (consent_id, type, at, actor, role, evidence, details)
  SELECT id, 'given', created_at, 'operator', 'operator', json_object('migrated', 'grant ' || id), '{}' FROM grants ORDER BY id;
DROP TABLE grants;
DROP TABLE grants_version;

-- Where the gateway's consent effects (notifications, stopped subscriptions) stand in consent_events:
-- migrated grants need none.
INSERT INTO settings (name, value) VALUES ('consent_events_handled', (SELECT CAST(coalesce(max(id), 0) AS TEXT) FROM consent_events));
