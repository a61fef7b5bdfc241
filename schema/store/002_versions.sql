-- store 002: the source's version of each delivered record, so that the newest value of a record wins
-- whatever order deliveries arrive in (adapters/contract.ts, Delivery.version). A busy receiver refuses
-- one message and accepts the next; the refused one comes back later, older than what was applied.

-- Where versioned records come from: a sender and its database (an "origin"), numbered here.
CREATE TABLE store_origins (
  id     INTEGER PRIMARY KEY,
  origin TEXT NOT NULL UNIQUE              -- '<sender bare JID> <sender database instance>'
) STRICT;

-- The origin and version of the delivery that wrote the record; NULL for unversioned writes (imports,
-- senders that give no version). A delivery of the same origin with a lower version does not
-- overwrite it.
ALTER TABLE store_points ADD COLUMN origin INTEGER;
ALTER TABLE store_points ADD COLUMN version INTEGER;
