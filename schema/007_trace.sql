-- 007: the transparency log (component/trace/) — an append-only RFC 6962 Merkle tree of what this gateway
-- decided and moved, with C2SP signed checkpoints. Times are INTEGER milliseconds since the Unix epoch.

-- The leaves, in order. `entry` holds the exact bytes hashed (canonical JSON of time, kind and fields:
-- identifiers and digests, never data). Entries are inserted in the transaction of what they record
-- (an inbox commit, a grant change), by whichever thread or process makes the change.
CREATE TABLE trace_entries (
  idx   INTEGER PRIMARY KEY,      -- the leaf index, from 0, without gaps
  at    INTEGER NOT NULL,         -- copied from the entry, for `fedgate audit list --since`
  kind  TEXT NOT NULL,            -- copied from the entry, for `--kind`
  entry TEXT NOT NULL,
  hash  BLOB NOT NULL             -- SHA-256(0x00 || entry), as computed when the entry was written
) STRICT;
CREATE INDEX trace_entries_at ON trace_entries (at);
CREATE INDEX trace_entries_kind ON trace_entries (kind, idx);

-- Append-only: no code path updates or deletes an entry. (Anyone who can write the file can drop these
-- triggers; `fedgate audit verify` is what detects that, against the signed checkpoints.)
CREATE TRIGGER trace_entries_no_update BEFORE UPDATE ON trace_entries BEGIN SELECT RAISE(ABORT, 'the transparency log is append-only'); END;
CREATE TRIGGER trace_entries_no_delete BEFORE DELETE ON trace_entries BEGIN SELECT RAISE(ABORT, 'the transparency log is append-only'); END;

-- Roots of the complete subtrees above the leaves (level >= 1; node (level, idx) covers leaves
-- [idx * 2^level, (idx + 1) * 2^level)), written by the log's job as entries arrive: proofs are built from them.
CREATE TABLE trace_nodes (
  level INTEGER NOT NULL,
  idx   INTEGER NOT NULL,
  hash  BLOB NOT NULL,
  PRIMARY KEY (level, idx)
) STRICT, WITHOUT ROWID;

-- How far the job has built the tree: its size and right edge (the roots of its perfect subtrees,
-- largest first, 32 bytes each), so that it resumes without rereading the log.
CREATE TABLE trace_head (
  id       INTEGER PRIMARY KEY CHECK (id = 1),
  size     INTEGER NOT NULL,
  frontier BLOB NOT NULL
) STRICT;
INSERT INTO trace_head (id, size, frontier) VALUES (1, 0, x'');

-- Signed checkpoints (c2sp.org/tlog-checkpoint notes), one every few seconds while entries arrive.
CREATE TABLE trace_checkpoints (
  size INTEGER PRIMARY KEY,       -- tree size the note commits to
  at   INTEGER NOT NULL,
  note TEXT NOT NULL              -- the signed note, verbatim
) STRICT;

-- Every public key that signed checkpoints here (verifier-key encoding), so that checkpoints signed
-- before a key rotation still verify.
CREATE TABLE trace_keys (
  key           TEXT PRIMARY KEY,
  first_used_at INTEGER NOT NULL
) STRICT;

-- Peers' signatures kept as evidence: for received messages, the senders' proofs of origin; for confirmed
-- ones, the receivers' signed receipts. A peer signs batches: each signed note once, and per message its
-- statement, its place in the batch and its inclusion path — together a c2sp.org/tlog-proof that
-- verifies with the peer's key (`fedgate audit peer-proof ENTRY [--message ID]` writes it out).
CREATE TABLE trace_peer_notes (
  id         INTEGER PRIMARY KEY,
  peer       TEXT NOT NULL,       -- the peer's verifier key
  note       TEXT NOT NULL UNIQUE, -- the signed batch note, verbatim
  -- A receiver's receipts: the whole batch's statements (JSON array), in order — every message's path
  -- is rebuilt from them when a proof is written out, instead of being stored per message.
  statements TEXT
) STRICT;
-- One row per log entry that records signed exchanges (an entry records the messages of one commit):
-- JSON [{"id": message id, "note": trace_peer_notes.id, "idx": index in the batch, and unless the note
-- keeps its statements, "statement": …, "path": base64 of the 32-byte hashes, leaf's sibling first}, …].
CREATE TABLE trace_peer_proofs (
  entry  INTEGER PRIMARY KEY,     -- the log entry that recorded the messages
  proofs TEXT NOT NULL
) STRICT;
