//! `foreign`: what following the log costs a node (issue 29, item 2).
//! Three nodes; every request goes to `n1` (runs queued a day ahead, so
//! each is one `RunQueued`), and `n2` and `n3` only follow the log. Their
//! CPU over the window, divided by the events committed in it, is the
//! CPU per foreign event; `n1`'s is the CPU per own event beside it.
//! Twice: every node defines the script, then only `n1` does (the other
//! two have no interest in its events; what they still pay for them is
//! what a filtered follower saves).

use sqlx::Connection as _;

use crate::cluster::{accept_rate, Nodes};
use crate::machine::report;

pub async fn run() -> anyhow::Result<()> {
    for (label, others_define) in [
        ("every node defines it", true),
        ("only n1 defines it", false),
    ] {
        let nodes = Nodes::start(3, &[]).await?;
        if !others_define {
            for i in 1..3 {
                nodes.exectab_of(i, "")?;
            }
        }
        let mut db = sqlx::PgConnection::connect(nodes.url()).await?;
        let before: Vec<f64> = (0..3).map(|i| nodes.cpu_of(i)).collect();
        let seq_before = last_seq(&mut db).await?;
        let rate = accept_rate(&nodes.targets()[..1]).await?;
        let events = (last_seq(&mut db).await? - seq_before).max(1) as f64;
        let used: Vec<f64> = (0..3).map(|i| nodes.cpu_of(i) - before[i]).collect();
        db.close().await?;
        nodes.stop().await?;
        let own = used[0] / events * 1e6;
        let foreign = (used[1] + used[2]) / 2.0 / events * 1e6;
        report(
            &format!("foreign [{label}]: n1 accepts (runs/s); events in the window"),
            format!("{rate:.0}; {events:.0}"),
        );
        report(
            &format!("foreign [{label}]: CPU per event, n1 (own) / n2, n3 (foreign)"),
            format!(
                "{own:.1} µs / {foreign:.1} µs ({:.2} of own)",
                foreign / own.max(1e-9)
            ),
        );
    }
    Ok(())
}

async fn last_seq(db: &mut sqlx::PgConnection) -> anyhow::Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT coalesce(max(seq), 0) FROM events")
            .fetch_one(db)
            .await?,
    )
}
