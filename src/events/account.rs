//! Account changes as typed store commands. Each change of a user or a
//! guest is one [`AccountCommand`], recorded as exactly one event on the
//! user's stream, through the event store like a run's events: the running
//! server's [`EventStore`] ([`ChangeAccount`]) or, for the offline `user`
//! commands, the [`Database`] they opened ([`change_account`]). The `users`
//! and `guests` tables are projections of these events; nothing writes
//! them another way.

use actix::prelude::*;

use super::error::StoreError;
use super::store::{Append, Database, EventStore};
use super::types::{Event, GuestRights, NewEvent, Origin, StoredEvent};
use crate::ids::{GuestId, ScriptName, UserId};

/// One change to the accounts.
#[derive(Debug, Clone, PartialEq)]
pub enum AccountCommand {
    /// A new user with its first key (`scriptd user add`, first start).
    CreateUser {
        user: UserId,
        name: String,
        key_hash: String,
        guests: bool,
        created: i64,
    },
    /// A user's key replaced (`scriptd user rotate-key`).
    RotateKey { user: UserId, key_hash: String },
    /// A user removed, and its guests with it (`scriptd user remove`).
    RemoveUser { user: UserId },
    /// A guest key of `user` created (`POST guest/create`).
    CreateGuest {
        user: UserId,
        guest: GuestId,
        script: ScriptName,
        rights: GuestRights,
        key_hash: String,
        created: i64,
        expires: i64,
        origin: Origin,
    },
    /// A guest key of `user` deleted (`DELETE guest/delete/ID`).
    DeleteGuest {
        user: UserId,
        guest: GuestId,
        origin: Origin,
    },
}

impl AccountCommand {
    /// The event this change is recorded as, on its user's stream.
    pub fn into_event(self) -> NewEvent {
        let (user, event) = match self {
            AccountCommand::CreateUser {
                user,
                name,
                key_hash,
                guests,
                created,
            } => (
                user,
                Event::UserCreated {
                    user,
                    name,
                    key_hash,
                    guests,
                    created,
                },
            ),
            AccountCommand::RotateKey { user, key_hash } => {
                (user, Event::ApiKeyRotated { user, key_hash })
            }
            AccountCommand::RemoveUser { user } => (user, Event::UserRemoved { user }),
            AccountCommand::CreateGuest {
                user,
                guest,
                script,
                rights,
                key_hash,
                created,
                expires,
                origin,
            } => (
                user,
                Event::GuestCreated {
                    guest,
                    script,
                    rights,
                    key_hash,
                    created,
                    expires,
                    origin,
                },
            ),
            AccountCommand::DeleteGuest {
                user,
                guest,
                origin,
            } => (user, Event::GuestDeleted { guest, origin }),
        };
        NewEvent::new(user, event)
    }
}

/// Record an account change; answered once it is durable.
#[derive(Message, Debug)]
#[rtype(result = "Result<StoredEvent, StoreError>")]
pub struct ChangeAccount {
    pub command: AccountCommand,
}

/// The one event a one-event append stored.
fn the_event(mut stored: Vec<StoredEvent>) -> Result<StoredEvent, StoreError> {
    stored.pop().ok_or(StoreError::Closed)
}

impl Handler<ChangeAccount> for EventStore {
    type Result = ResponseFuture<Result<StoredEvent, StoreError>>;

    fn handle(&mut self, msg: ChangeAccount, ctx: &mut Context<Self>) -> Self::Result {
        // The same group commit as every other append.
        let append = Append {
            events: vec![msg.command.into_event()],
        };
        let stored = <Self as Handler<Append>>::handle(self, append, ctx);
        Box::pin(async move { the_event(stored.await?) })
    }
}

/// Records an account change on a database no server is writing through
/// (the `user` commands, first-run bootstrap). Async like every command
/// of a store that may be across the network.
pub async fn change_account(
    db: &mut Database,
    command: AccountCommand,
) -> Result<StoredEvent, StoreError> {
    let mut results = db.writer.commit(&[vec![command.into_event()]]).await?;
    the_event(results.pop().ok_or(StoreError::Closed)??)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_change_is_one_event_on_its_users_stream() {
        let (ann, guest) = (UserId(7), GuestId::new());
        let script = ScriptName::parse("backup").expect("name");
        let cases = [
            (
                AccountCommand::CreateUser {
                    user: ann,
                    name: "ann".into(),
                    key_hash: "h".into(),
                    guests: true,
                    created: 1,
                },
                "UserCreated",
            ),
            (
                AccountCommand::RotateKey {
                    user: ann,
                    key_hash: "h2".into(),
                },
                "ApiKeyRotated",
            ),
            (AccountCommand::RemoveUser { user: ann }, "UserRemoved"),
            (
                AccountCommand::CreateGuest {
                    user: ann,
                    guest,
                    script,
                    rights: GuestRights::default(),
                    key_hash: "g".into(),
                    created: 1,
                    expires: 2,
                    origin: Origin::default(),
                },
                "GuestCreated",
            ),
            (
                AccountCommand::DeleteGuest {
                    user: ann,
                    guest,
                    origin: Origin::default(),
                },
                "GuestDeleted",
            ),
        ];
        for (command, kind) in cases {
            let new = command.into_event();
            assert_eq!(new.user, ann, "{kind}");
            assert_eq!(new.event.kind(), kind);
            assert_eq!(new.stream(), "user:7", "{kind}");
            assert!(new.stdin.is_none(), "{kind}");
        }
    }

    #[tokio::test]
    async fn an_offline_change_is_projected_like_any_append() {
        let dir = tempfile::tempdir().expect("dir");
        let location = super::super::Location::Sqlite(dir.path().join("t.db"));
        let mut db = super::super::store::open(&location).await.expect("db");
        let create = AccountCommand::CreateUser {
            user: UserId(1),
            name: "ann".into(),
            key_hash: "h".into(),
            guests: false,
            created: 1,
        };
        let stored = change_account(&mut db, create.clone())
            .await
            .expect("created");
        assert_eq!(stored.event.kind(), "UserCreated");
        assert!(
            db.readers
                .user_by_name("ann")
                .await
                .expect("read")
                .is_some(),
            "the users table is the event's projection"
        );
        assert!(
            matches!(
                change_account(&mut db, create).await,
                Err(StoreError::Conflict(_))
            ),
            "a name is taken once"
        );
    }
}
