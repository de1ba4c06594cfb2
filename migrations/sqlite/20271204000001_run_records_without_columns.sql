-- Issue 28 item 4: a finished run's `info` keeps only what the row's own
-- columns do not hold, and no field at its default; a read puts the
-- columns back (src/events/sqlite/record.rs). The whole record was a
-- third of the bytes of a finished run. A key goes only where its column
-- holds the value (or the value is null); '$.-' names no key, so
-- json_remove leaves the record as it is for that argument. The space
-- comes back to the file with `admin vacuum` (incremental auto-vacuum).
UPDATE runs SET info = json_remove(info,
    CASE WHEN outcome IS NOT NULL THEN '$.outcome' ELSE '$.-' END,
    CASE WHEN started IS NOT NULL OR json_type(info, '$.started') = 'null' THEN '$.started' ELSE '$.-' END,
    CASE WHEN finished IS NOT NULL THEN '$.finished' ELSE '$.-' END,
    CASE WHEN duration IS NOT NULL OR json_type(info, '$.duration') = 'null' THEN '$.duration' ELSE '$.-' END,
    CASE WHEN run_user IS NOT NULL THEN '$.run_user' ELSE '$.-' END,
    CASE WHEN run_group IS NOT NULL THEN '$.run_group' ELSE '$.-' END,
    CASE WHEN exit_code IS NOT NULL OR json_type(info, '$.exit_code') = 'null' THEN '$.exit_code' ELSE '$.-' END,
    CASE WHEN signal IS NOT NULL OR json_type(info, '$.signal') = 'null' THEN '$.signal' ELSE '$.-' END,
    CASE WHEN json_extract(info, '$.first') = '' THEN '$.first' ELSE '$.-' END,
    CASE WHEN json_extract(info, '$.last') = '' THEN '$.last' ELSE '$.-' END,
    CASE WHEN json_array_length(info, '$.tasks') = 0 THEN '$.tasks' ELSE '$.-' END,
    CASE WHEN json_type(info, '$.removelog') = 'false' THEN '$.removelog' ELSE '$.-' END,
    CASE WHEN json_type(info, '$.cpu_user') = 'null' THEN '$.cpu_user' ELSE '$.-' END,
    CASE WHEN json_type(info, '$.cpu_system') = 'null' THEN '$.cpu_system' ELSE '$.-' END,
    CASE WHEN json_type(info, '$.max_rss_kb') = 'null' THEN '$.max_rss_kb' ELSE '$.-' END,
    CASE WHEN json_type(info, '$.error') = 'null' THEN '$.error' ELSE '$.-' END)
 WHERE state = 'done' AND json_valid(info);
