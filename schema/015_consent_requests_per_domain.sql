-- Consent requests of one requester domain in the last 24 hours (consent.max_requests_per_domain_per_day):
-- many JIDs of one domain, each under its own daily limit, requesting then withdrawing at once, grew the
-- append-only consent history without bound and flooded the owners with notifications. The requests of
-- the last day are read by time, then counted per domain.
CREATE INDEX consent_events_asked_at ON consent_events (at) WHERE type = 'requested';
