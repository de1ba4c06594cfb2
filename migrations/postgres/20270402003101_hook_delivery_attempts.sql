-- Webhooks (issue 31): each delivery keeps its attempts, so that
-- `hook/deliveries` shows every try and not only the last. A JSON array,
-- oldest first, of {attempt, at, ended, status, error}, bounded to the
-- last 20 by the store (src/events/outbox.rs, KEEP_ATTEMPTS); `attempts`
-- still counts them all. Rows written before this have none.
ALTER TABLE hook_deliveries ADD COLUMN attempt_log JSONB;
