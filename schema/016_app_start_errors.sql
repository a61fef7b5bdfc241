-- Why an app's adapter cannot start (its options, its system away, a file it cannot write), as the
-- running gateway last saw it: `fedgate status` and the status page show it beside the app's
-- "starting", instead of leaving the reason in the log alone. JSON: {app: "message"}.
ALTER TABLE runtime ADD COLUMN app_errors TEXT;
