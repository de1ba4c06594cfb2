//! Leases at the store (always PostgreSQL, a fresh database per test,
//! whatever this run's backend): the database itself refuses the commits
//! of a node whose lease ran out or that a newer incarnation replaced, and
//! a renewal says which of the two happened. The nodes' processes are the
//! other `cluster_liveness*` tests'; here the store is driven directly.

use std::sync::Arc;
use std::time::{Duration, Instant};

use scriptd::events::postgres::guard::LeaseGuard;
use scriptd::events::postgres::nodes::Renewal;
use scriptd::events::store::{self, Database, Location};
use scriptd::events::{Event, NewEvent, StoreError};
use scriptd::ids::UserId;

use crate::backend::fresh_postgres_database;
use crate::helpers::DEADLINE;

async fn open(storage: &std::path::Path) -> Database {
    let url = fresh_postgres_database(storage);
    store::open(&Location::Postgres(url))
        .await
        .expect("the test database opens")
}

/// One event that changes nothing a lease is about (a user of its own).
fn user_created(id: i64) -> Vec<Vec<NewEvent>> {
    vec![vec![NewEvent::new(
        UserId(id),
        Event::UserCreated {
            user: UserId(id),
            name: format!("user{id}"),
            key_hash: format!("hash{id}"),
            guests: false,
            created: 0,
        },
    )]]
}

/// Commits `groups`; the commit's own error or the one group's.
async fn commit(db: &mut Database, groups: Vec<Vec<NewEvent>>) -> Result<(), StoreError> {
    let mut results = db.writer.commit(&groups).await?;
    results.remove(0).map(drop)
}

#[actix_web::test]
async fn a_node_whose_lease_ran_out_commits_nothing_until_it_registers_again() {
    // Arrange: node n1 holds a lease of 1 s; its writer checks it.
    let temp = tempfile::tempdir().expect("temp dir");
    let mut db = open(temp.path()).await;
    let ttl = Duration::from_millis(1000);
    let nodes = db.readers.nodes(ttl).expect("PostgreSQL has nodes");
    let registered = Instant::now();
    let epoch = nodes.register("n1", ttl).await.expect("registers").0;
    let guard = Arc::new(LeaseGuard::new("n1", epoch));
    db.writer.guard(guard.clone(), ttl);
    commit(&mut db, user_created(10))
        .await
        .expect("a node holding its lease commits");

    // Act: it does not renew; it keeps trying to commit.
    let mut next = 11;
    let refused_after = loop {
        next += 1;
        match commit(&mut db, user_created(next)).await {
            Err(StoreError::LeaseLost) => break registered.elapsed(),
            Err(other) => panic!("refused for another reason: {other:?}"),
            Ok(()) => assert!(
                registered.elapsed() < DEADLINE,
                "the database still accepts the node's commits"
            ),
        }
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    };

    // Assert: refused only once the lease ran out, by the database's check;
    // renewing is refused too (expired, not replaced); a new incarnation
    // commits again.
    assert!(
        refused_after >= ttl - Duration::from_millis(100),
        "refused after {refused_after:?}, before the lease of {ttl:?} ran out"
    );
    assert_eq!(
        nodes
            .renew("n1", epoch, ttl)
            .await
            .expect("renew answers")
            .renewal,
        Renewal::Expired
    );
    let again = nodes.register("n1", ttl).await.expect("registers again").0;
    assert_eq!(again, epoch + 1, "a new incarnation");
    guard.set_epoch(again);
    commit(&mut db, user_created(1000))
        .await
        .expect("the new incarnation commits");
}

#[actix_web::test]
async fn a_second_process_under_the_same_name_replaces_the_first_which_commits_nothing_more() {
    // Arrange: incarnation 1 of n1, with a long lease, commits.
    let temp = tempfile::tempdir().expect("temp dir");
    let mut db = open(temp.path()).await;
    let ttl = Duration::from_secs(60);
    let nodes = db.readers.nodes(ttl).expect("PostgreSQL has nodes");
    let first = nodes.register("n1", ttl).await.expect("registers").0;
    let guard = Arc::new(LeaseGuard::new("n1", first));
    db.writer.guard(guard.clone(), ttl);
    commit(&mut db, user_created(10)).await.expect("commits");

    // Act: n1 registers again (a restart under the same name).
    let second = nodes.register("n1", ttl).await.expect("registers again").0;

    // Assert: the first incarnation's lease is gone at once, although it
    // had almost a minute left, and its renewal says why.
    assert_eq!(second, first + 1);
    assert!(matches!(
        commit(&mut db, user_created(11)).await,
        Err(StoreError::LeaseLost)
    ));
    assert_eq!(
        nodes
            .renew("n1", first, ttl)
            .await
            .expect("renew answers")
            .renewal,
        Renewal::Replaced
    );
    assert_eq!(
        nodes
            .renew("n1", second, ttl)
            .await
            .expect("renew answers")
            .renewal,
        Renewal::Renewed
    );
    guard.set_epoch(second);
    commit(&mut db, user_created(12))
        .await
        .expect("the newer incarnation commits");
}
