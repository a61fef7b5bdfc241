-- The inbox's back-pressure counts unapplied messages per app and per source (transfer/backlog.ts),
-- again from the table when an app or a source looks full, on the XMPP thread: with this index the
-- count reads the index alone (13 ms for 200,000 waiting messages here, against 70 without).
CREATE INDEX inbox_pending_sources ON inbox (app, sender) WHERE state = 'pending';
