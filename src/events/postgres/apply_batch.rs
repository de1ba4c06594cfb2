//! One statement for a batch of run changes of one kind (see
//! [`super::apply`]): the rows travel as arrays and are joined with
//! `UNNEST`, so a batch costs one round trip however many runs it holds.

use sqlx::PgConnection;

use crate::events::error::StoreError;
use crate::events::projection::Change;

/// Applies `changes`, all of one kind, each to a different run.
pub async fn apply(conn: &mut PgConnection, changes: Vec<Change<'_>>) -> Result<(), StoreError> {
    match changes.first() {
        Some(Change::QueueRun(_)) => queue(conn, changes).await,
        Some(Change::StartRun { .. }) => start(conn, changes).await,
        Some(Change::DropStdin { .. }) => drop_stdin(conn, changes).await,
        Some(Change::FinishRun { .. }) => finish(conn, changes).await,
        Some(Change::KillRequested { .. }) => kill(conn, changes).await,
        Some(Change::Forget { .. }) => forget(conn, changes).await,
        _ => Ok(()),
    }
}

fn failed(what: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |err| StoreError::from_pg(err, what)
}

async fn queue(conn: &mut PgConnection, changes: Vec<Change<'_>>) -> Result<(), StoreError> {
    let (mut ids, mut users, mut names, mut queued) = (vec![], vec![], vec![], vec![]);
    let (mut by, mut from, mut info) = (vec![], vec![], vec![]);
    let (mut stdin_ids, mut stdins) = (vec![], vec![]);
    for change in changes {
        let Change::QueueRun(row) = change else {
            continue;
        };
        if let Some(stdin) = row.stdin {
            stdin_ids.push(row.id.clone());
            stdins.push(stdin);
        }
        ids.push(row.id);
        users.push(row.user);
        names.push(row.name);
        queued.push(row.queued);
        by.push(row.requested_by);
        from.push(row.requested_from);
        info.push(row.info);
    }
    sqlx::query(
        "WITH stdin AS (
             INSERT INTO run_stdin (run_id, data)
             SELECT * FROM UNNEST($8::text[], $9::bytea[]))
         INSERT INTO runs (id, user_id, name, state, queued, requested_by, requested_from, info)
         SELECT u.id, u.user_id, u.name, 'queued', u.queued, u.by, u.from_, u.info
         FROM UNNEST($1::text[], $2::int8[], $3::text[], $4::int8[], $5::text[], $6::text[],
                     $7::text[]) AS u(id, user_id, name, queued, by, from_, info)",
    )
    .bind(&ids)
    .bind(&users)
    .bind(&names)
    .bind(&queued)
    .bind(&by)
    .bind(&from)
    .bind(&info)
    .bind(&stdin_ids)
    .bind(&stdins)
    .execute(conn)
    .await
    .map_err(failed("run id already used"))?;
    Ok(())
}

async fn start(conn: &mut PgConnection, changes: Vec<Change<'_>>) -> Result<(), StoreError> {
    let (mut ids, mut started, mut nodes) = (vec![], vec![], vec![]);
    for change in changes {
        if let Change::StartRun {
            id,
            started: at,
            node,
        } = change
        {
            ids.push(id);
            started.push(at);
            nodes.push(node);
        }
    }
    sqlx::query(
        "UPDATE runs r SET state = 'running', started = u.started, node = u.node
         FROM UNNEST($1::text[], $2::float8[], $3::text[]) AS u(id, started, node)
         WHERE r.id = u.id",
    )
    .bind(&ids)
    .bind(&started)
    .bind(&nodes)
    .execute(conn)
    .await
    .map_err(failed(""))?;
    Ok(())
}

async fn drop_stdin(conn: &mut PgConnection, changes: Vec<Change<'_>>) -> Result<(), StoreError> {
    let ids: Vec<String> = changes
        .into_iter()
        .filter_map(|change| match change {
            Change::DropStdin { id } => Some(id),
            _ => None,
        })
        .collect();
    sqlx::query("DELETE FROM run_stdin WHERE run_id = ANY($1::text[])")
        .bind(&ids)
        .execute(conn)
        .await
        .map_err(failed(""))?;
    Ok(())
}

async fn finish(conn: &mut PgConnection, changes: Vec<Change<'_>>) -> Result<(), StoreError> {
    let mut ids = vec![];
    let (mut outcome, mut started, mut finished, mut duration) = (vec![], vec![], vec![], vec![]);
    let (mut run_user, mut run_group, mut exit_code, mut signal) = (vec![], vec![], vec![], vec![]);
    let (mut info, mut cancelled_by, mut cancelled_from) = (vec![], vec![], vec![]);
    for change in changes {
        let Change::FinishRun { id, row, cancelled } = change else {
            continue;
        };
        ids.push(id);
        outcome.push(row.outcome);
        started.push(row.started);
        finished.push(row.finished);
        duration.push(row.duration);
        run_user.push(row.run_user);
        run_group.push(row.run_group);
        exit_code.push(row.exit_code);
        signal.push(row.signal);
        info.push(row.info);
        let (by, from) = cancelled.map_or((None, None), |a| (Some(a.by), a.from));
        cancelled_by.push(by);
        cancelled_from.push(from);
    }
    // A cancel records who cancelled; other endings leave those columns.
    sqlx::query(
        "WITH done AS (
             UPDATE runs r SET state = 'done', outcome = u.outcome, started = u.started,
                 finished = u.finished, duration = u.duration, run_user = u.run_user,
                 run_group = u.run_group, exit_code = u.exit_code, signal = u.signal,
                 info = u.info,
                 cancelled_by = COALESCE(u.cancelled_by, r.cancelled_by),
                 cancelled_from = CASE WHEN u.cancelled_by IS NULL THEN r.cancelled_from
                                       ELSE u.cancelled_from END
             FROM UNNEST($1::text[], $2::text[], $3::float8[], $4::float8[], $5::float8[],
                         $6::text[], $7::text[], $8::int4[], $9::int4[], $10::text[],
                         $11::text[], $12::text[])
                  AS u(id, outcome, started, finished, duration, run_user, run_group,
                       exit_code, signal, info, cancelled_by, cancelled_from)
             WHERE r.id = u.id)
         DELETE FROM run_stdin WHERE run_id = ANY($1::text[])",
    )
    .bind(&ids)
    .bind(&outcome)
    .bind(&started)
    .bind(&finished)
    .bind(&duration)
    .bind(&run_user)
    .bind(&run_group)
    .bind(&exit_code)
    .bind(&signal)
    .bind(&info)
    .bind(&cancelled_by)
    .bind(&cancelled_from)
    .execute(conn)
    .await
    .map_err(failed(""))?;
    Ok(())
}

async fn kill(conn: &mut PgConnection, changes: Vec<Change<'_>>) -> Result<(), StoreError> {
    let (mut ids, mut by, mut from) = (vec![], vec![], vec![]);
    for change in changes {
        if let Change::KillRequested { id, audit } = change {
            ids.push(id);
            by.push(audit.by);
            from.push(audit.from);
        }
    }
    // The first request is the one that stopped the run.
    sqlx::query(
        "UPDATE runs r SET killed_by = u.by, killed_from = u.from_
         FROM UNNEST($1::text[], $2::text[], $3::text[]) AS u(id, by, from_)
         WHERE r.id = u.id AND r.killed_by IS NULL",
    )
    .bind(&ids)
    .bind(&by)
    .bind(&from)
    .execute(conn)
    .await
    .map_err(failed(""))?;
    Ok(())
}

async fn forget(conn: &mut PgConnection, changes: Vec<Change<'_>>) -> Result<(), StoreError> {
    let ids: Vec<String> = changes
        .into_iter()
        .filter_map(|change| match change {
            Change::Forget { id } => Some(id),
            _ => None,
        })
        .collect();
    sqlx::query("UPDATE runs SET forgotten = true WHERE id = ANY($1::text[])")
        .bind(&ids)
        .execute(conn)
        .await
        .map_err(failed(""))?;
    Ok(())
}
