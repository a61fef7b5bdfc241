-- store 020 (a number clear of the store's own sequence): the `mqtt` adapter (adapters/mqtt/) keeps its records in the store's tables (one app's
-- series, served like a `store` app's); this table counts the payloads it refused. One row per app and
-- subscription filter — not per topic, so that a publisher inventing topics cannot grow it.
CREATE TABLE mqtt_malformed (
  app          TEXT NOT NULL,              -- the application's name
  filter       TEXT NOT NULL,              -- the subscription's topic filter, as in the app's options
  count        INTEGER NOT NULL,           -- payloads refused since the app was added
  last_topic   TEXT NOT NULL,              -- topic of the latest one
  last_reason  TEXT NOT NULL,              -- why it was refused (no payload bytes are kept)
  last_at      INTEGER NOT NULL,           -- ms since the Unix epoch
  PRIMARY KEY (app, filter)
) STRICT, WITHOUT ROWID;
