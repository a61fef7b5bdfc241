-- store 001: the built-in `store` adapter (adapters/store/), kept in its own SQLite file next to
-- fedgate's (fedgate-store.sqlite: its writes never wait for the inbox's lock) — series kept for
-- applications that have no system of their own. Record times are REAL epoch seconds (SenML's unit,
-- fractional allowed); the other times are INTEGER milliseconds since the Unix epoch.

-- One row per series of a store application. Deliberately not tied to the apps table: removing an app
-- keeps its data (adding it again serves it again); nothing is deleted as a side effect of another command.
CREATE TABLE store_series (
  id         INTEGER PRIMARY KEY,
  app        TEXT NOT NULL,                -- the application's name (JID localpart)
  identifier TEXT NOT NULL,                -- the series identifier (RFC 9039 URN): the SenML name of its records
  meta       TEXT NOT NULL DEFAULT '{}',   -- Quoalise metadata as JSON, current generation; the latest non-empty one received wins
  last_seq   INTEGER NOT NULL DEFAULT 0,   -- seq of the latest write to this series: a store worker polls max(last_seq)
                                           -- of its app to notice writes made by another process (fedgate store import)
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (app, identifier)
) STRICT;

-- One row per record, keyed by (series, time). Writing a record whose time is already stored with a
-- different value or unit is a correction: the row is replaced and takes a new seq, so that consumers
-- receive the corrected value. Writing the same value again changes nothing (not even seq).
CREATE TABLE store_points (
  series       INTEGER NOT NULL REFERENCES store_series (id),
  time         REAL NOT NULL,              -- epoch seconds, UTC; a value covering a period is stamped at its start
  value        REAL,                       -- SenML v (a zero is a reading like any other)
  string_value TEXT,                       -- SenML vs
  bool_value   INTEGER CHECK (bool_value IN (0, 1)), -- SenML vb
  unit         TEXT,                       -- SenML u / bu
  seq          INTEGER NOT NULL,           -- store-wide write sequence (store_sequence): the extract cursor
  PRIMARY KEY (series, time),
  CHECK ((value IS NOT NULL) + (string_value IS NOT NULL) + (bool_value IS NOT NULL) = 1)
) STRICT, WITHOUT ROWID;
-- Extract reads "every record written after cursor", in write order.
CREATE UNIQUE INDEX store_points_seq ON store_points (seq);

-- The store-wide write sequence: the seq of the latest write. Read and advanced inside the writing
-- transaction, so seq order is commit order and a reader never sees seq N+1 before seq N. Kept in its
-- own row rather than derived from max(store_points.seq), so that a value is never handed out twice.
CREATE TABLE store_sequence (
  id  INTEGER PRIMARY KEY CHECK (id = 1),
  seq INTEGER NOT NULL
) STRICT;
INSERT INTO store_sequence (id, seq) VALUES (1, 0);

-- Deliveries applied (the receive job calling `deliver`), written in the same transaction as their
-- points: a delivery that comes again with the same key finds its row and changes no data.
-- For an exactly-once transfer, every row has duplicate_points = 0: a record carried by two different
-- messages would be counted there.
CREATE TABLE store_deliveries (
  app              TEXT NOT NULL,          -- the receiving application's name
  key              TEXT NOT NULL,          -- Delivery.key, stable across retries and restarts
  sender           TEXT NOT NULL,          -- bare JID of the sender
  records          INTEGER NOT NULL,       -- records in the delivery
  written          INTEGER NOT NULL,       -- records that were new, or corrected a stored value
  duplicate_points INTEGER NOT NULL,       -- records already stored with the same value and unit
  redelivered      INTEGER NOT NULL DEFAULT 0, -- times the same key came again and was ignored
  applied_at       INTEGER NOT NULL,
  PRIMARY KEY (app, key)
) STRICT, WITHOUT ROWID;
