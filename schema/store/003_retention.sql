-- store 003: retention carried with delivered records (adapters/contract.ts, Delivery.retention). A record
-- whose source limits how long it may be kept expires at `expires_at` (epoch seconds): it is no longer
-- served, and the purge job deletes it. NULL: kept without limit (the app's own retention policies,
-- applied by record time, still apply).
ALTER TABLE store_points ADD COLUMN expires_at REAL;
CREATE INDEX store_points_expiry ON store_points (expires_at) WHERE expires_at IS NOT NULL;
