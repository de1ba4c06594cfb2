//! The `status` table: one row per queued or running run, per script,
//! running first, with the short id the dashboard shows and what each run
//! is doing — running for how long (and its task), queued at which
//! position, or scheduled for when. The full ids are in `--json` and
//! `status ID`.

use std::collections::HashMap;

use super::render::{queued_text, task_label};
use super::run_id::short;
use super::when;
use crate::wire::{IdsOrCount, RunStatus, StatusList};

/// At most this many runs get their details fetched (one request each);
/// a longer table shows ids only.
pub const MAX_DETAILS: usize = 50;

/// The full ids of the table's runs, to fetch their details.
pub fn ids(all: &StatusList) -> Vec<String> {
    [&all.running, &all.queued]
        .into_iter()
        .flat_map(|section| section.values())
        .filter_map(|list| match list {
            IdsOrCount::Ids(ids) => Some(ids),
            IdsOrCount::Count(_) => None,
        })
        .flatten()
        .map(ToString::to_string)
        .collect()
}

/// The table; `details` holds the runs' statuses by full id, where known.
pub fn status_table(all: &StatusList, details: &HashMap<String, RunStatus>) -> String {
    let mut rows = Vec::new();
    for (state, section) in [("running", &all.running), ("queued", &all.queued)] {
        for (name, list) in section {
            match list {
                IdsOrCount::Ids(ids) => {
                    for id in ids {
                        let id = id.to_string();
                        let detail = details.get(&id).map(detail).unwrap_or_default();
                        rows.push([name.clone(), state.into(), short(&id).into(), detail]);
                    }
                }
                // A guest sees only a count for scripts other than its own.
                IdsOrCount::Count(count) => {
                    let runs = format!("({count} runs)");
                    rows.push([name.clone(), state.into(), runs, String::new()]);
                }
            }
        }
    }
    if rows.is_empty() {
        return "nothing queued or running".to_owned();
    }
    rows.sort_by(|a, b| a[0].cmp(&b[0]));
    let width = rows.iter().map(|r| r[0].len()).max().unwrap_or(0).max(6);
    let mut out = format!("{:<width$}  {:<7}  {:<12}  DETAIL", "SCRIPT", "STATE", "ID");
    for [name, state, id, detail] in rows {
        let line = format!("{name:<width$}  {state:<7}  {id:<12}  {detail}");
        out.push('\n');
        out.push_str(line.trim_end());
    }
    out
}

/// `for 1 min 3 s, [2/3] Copying`, `queued (position 2)` or `scheduled
/// for 03:18:51 UTC (in 25 s)`.
fn detail(run: &RunStatus) -> String {
    match run {
        RunStatus::Running(running) => {
            let elapsed = (crate::clock::now() - running.started).max(0.0);
            let mut text = format!("for {}", when::span(elapsed));
            if let Some(task) = task_label(running) {
                text.push_str(&format!(", {task}"));
            }
            text
        }
        RunStatus::Queued(queued) => queued_text(queued),
        RunStatus::Done(_) => "just finished".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn running_before_queued_per_script_with_short_ids_and_details() {
        let (r1, q1, q2) = (
            "0190c1f2-0000-7000-8000-000000000001",
            "0190c1f2-0000-7000-8000-000000000002",
            "0190c1f2-0000-7000-8000-000000000003",
        );
        let all: StatusList = serde_json::from_value(json!({"success": true,
            "running": {"demo": [r1]}, "queued": {"demo": [q1, q2], "other": 2}}))
        .expect("a status list");
        let now = crate::clock::now();
        let scheduled: RunStatus = serde_json::from_value(json!({"id": q2, "name": "demo",
            "state": "queued", "position": 2, "queued": now as i64 + 600, "success": true}))
        .expect("a queued status");
        let details = HashMap::from([(q2.to_owned(), scheduled)]);

        let table = status_table(&all, &details);

        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 5, "{table}");
        assert!(
            lines[1].contains("running") && lines[1].ends_with("000000000001"),
            "{table}"
        );
        assert!(!table.contains(r1), "short ids only: {table}");
        assert!(
            lines
                .iter()
                .any(|l| l.contains("000000000003  scheduled for")),
            "{table}"
        );
        assert!(
            lines[4].starts_with("other") && lines[4].contains("(2 runs)"),
            "{table}"
        );
        assert_eq!(ids(&all), vec![r1, q1, q2]);
        let empty: StatusList =
            serde_json::from_value(json!({"queued": {}, "running": {}, "success": true}))
                .expect("a status list");
        assert_eq!(status_table(&empty, &details), "nothing queued or running");
    }
}
