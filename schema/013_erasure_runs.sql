-- An erasure being made (`fedgate gdpr erase`). Its steps commit on their own — the queues page by page,
-- each app's storage in its own file — so what the last step needs is kept here as it is learnt: what
-- was erased so far, and the destinations of deleted messages that may have been on their way (each
-- gets an erasure request). A run cut short (kill -9) is resumed by the next `erase` of the same
-- subject and series; `fedgate gdpr erasures` shows it as unfinished until then. The last step
-- records the erasure (gdpr_erasures) and deletes its rows here, in one transaction.
CREATE TABLE gdpr_erasure_runs (
  id         INTEGER PRIMARY KEY,
  subject    TEXT NOT NULL,
  series     TEXT NOT NULL,                 -- JSON array of the globs erased
  started_at INTEGER NOT NULL,
  erased     TEXT NOT NULL,                 -- JSON: what was erased so far, across runs
  owner_pid  INTEGER NOT NULL,              -- the process making it: another one resumes it only once that one is gone
  UNIQUE (subject, series)
) STRICT;

CREATE TABLE gdpr_erasure_run_destinations (
  run         INTEGER NOT NULL REFERENCES gdpr_erasure_runs (id),
  app         TEXT NOT NULL,                -- our app's JID, the deleted message's sender
  destination TEXT NOT NULL,
  PRIMARY KEY (run, app, destination)
) STRICT, WITHOUT ROWID;
