-- Subscriptions counted per subscriber domain (quoalise.max_subscriptions_per_domain): many JIDs of
-- one domain must not grow the consumers table, and every write's extract, without bound. The count
-- reads this index, at most the cap's worth of entries, never the table.
CREATE INDEX consumers_subscriber_domain ON consumers (substr(destination, instr(destination, '@') + 1))
  WHERE kind = 'subscription';
