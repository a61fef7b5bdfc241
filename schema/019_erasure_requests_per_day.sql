-- A source's erasure requests to an app in the last 24 hours (gdpr/control-intake.ts, at most 1,000 a
-- day), counted on the XMPP thread for each new request: from this index alone, not from every request
-- the source ever made (365,000 rows after a year at the limit).
CREATE INDEX gdpr_erasures_received_recent ON gdpr_erasures_received (app, sender, received_at);
