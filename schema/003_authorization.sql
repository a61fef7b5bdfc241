-- 003: authorization — which requesters may read which series of which application.
-- Deny by default: a Quoalise request is served only when a grant covers (app, requester, series) at
-- the moment of the request. Times are INTEGER milliseconds since the Unix epoch, UTC.

-- One row per grant. Rows are independent records (two grants may cover the same series, e.g. a renewal
-- with a new validity window, each with its own purpose), so that they can grow into consent records
-- without changing the shape of the check (component/authz/authorizer.ts).
CREATE TABLE grants (
  id         INTEGER PRIMARY KEY,
  -- A removed app takes its grants with it: an app added later under the same name starts with none.
  app        TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
  -- Who may read: a bare JID ('alice@example.net'), every JID of a domain ('*@example.net', which also
  -- covers the domain's own JID), or anyone ('*', for open data). Stored lower-case.
  requester  TEXT NOT NULL,
  -- What: a series identifier, or a glob over identifiers ('*' any run of characters, '?' one character).
  series     TEXT NOT NULL,
  purpose    TEXT NOT NULL DEFAULT '',     -- why the requester may read it, in the grantor's words
  not_before INTEGER,                      -- valid from this instant (inclusive); NULL = from creation on
  not_after  INTEGER,                      -- valid until this instant (exclusive); NULL = no end
  created_at INTEGER NOT NULL,
  CHECK (not_before IS NULL OR not_after IS NULL OR not_before < not_after)
) STRICT;
CREATE INDEX grants_app ON grants (app);

-- Bumped by every change to grants: the running gateway keeps the grants in memory and polls this one
-- row to reload them within a poll interval after a CLI edit (same trick as registry_version).
CREATE TABLE grants_version (
  id      INTEGER PRIMARY KEY CHECK (id = 1),
  version INTEGER NOT NULL
) STRICT;
INSERT INTO grants_version (id, version) VALUES (1, 0);
CREATE TRIGGER grants_inserted AFTER INSERT ON grants BEGIN UPDATE grants_version SET version = version + 1; END;
CREATE TRIGGER grants_updated  AFTER UPDATE ON grants BEGIN UPDATE grants_version SET version = version + 1; END;
CREATE TRIGGER grants_deleted  AFTER DELETE ON grants BEGIN UPDATE grants_version SET version = version + 1; END;
