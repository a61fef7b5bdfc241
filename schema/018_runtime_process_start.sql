-- When the gateway's process started, as the kernel counts it (/proc/<pid>/stat, field 22: clock ticks
-- since boot): with the pid, it names that process for good. `restore` and a key rotation refuse while
-- it is alive; a pid reused by another program after a crash does not count as the gateway.
ALTER TABLE runtime ADD COLUMN pid_start INTEGER;
