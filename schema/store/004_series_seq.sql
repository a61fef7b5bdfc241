-- store 004: a subscription's records found through its own series. An on-change consumer of one series
-- reads "records of this series written after my cursor": with this index that costs what it returns,
-- whatever was written to the other series meanwhile (store_points_seq alone would walk all of it).
-- store_series.last_seq is no longer polled (the gateway's change feed carries writes by other processes,
-- schema/005_change_feed.sql); it still records each series' latest write.
CREATE INDEX store_points_series_seq ON store_points (series, seq);
