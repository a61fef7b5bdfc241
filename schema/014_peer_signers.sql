-- Domains seen publishing a key that signs (disco#info, urn:fedgate:trace:0): a later look-up that
-- fails — no answer, an error (the peer restarting) — keeps that key rather than believing the domain
-- stopped signing, and unsigned data from it waits for the look-up instead of being accepted
-- meanwhile; only a disco#info answer without the form says it stopped. Kept across restarts: right
-- after ours, a forged unsigned message "from" a peer that signs must not slip in before its key is
-- fetched again.
CREATE TABLE trace_peer_signers (
  domain    TEXT PRIMARY KEY,
  published TEXT NOT NULL,                  -- JSON: {origin, keys, signs} as published
  learnt_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
