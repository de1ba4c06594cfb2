//! What a key may do, for clients that adapt to it (the dashboard hides
//! what a key may not use). An additive extension of `GET scripts`.

use crate::accounts::{Principal, ScriptFilter};
use crate::wire::{
    Access, GuestAccess, GuestKind, PersonAccess, PersonGrant, PersonKind, Rights, UserAccess,
    UserKind,
};

/// `{"kind":"user","name","guests"}` or
/// `{"kind":"guest","script","rights":{..},"expires"}`.
pub fn describe(principal: &Principal) -> Access {
    match principal {
        Principal::User(user) => Access::User(UserAccess {
            guests: user.guests,
            kind: UserKind,
            name: user.name.clone(),
        }),
        Principal::Guest(guest) => Access::Guest(GuestAccess {
            expires: guest.expires,
            kind: GuestKind,
            rights: Rights {
                cancel: guest.rights.cancel,
                monitor: guest.rights.monitor,
                run: guest.rights.run,
                status: guest.rights.status,
            },
            script: guest.script.as_str().to_owned(),
        }),
        Principal::Person(person) => Access::Person(PersonAccess {
            account: person.user.name.clone(),
            grants: person
                .grants
                .iter()
                .map(|g| PersonGrant {
                    role: g.role.as_str().to_owned(),
                    scripts: match &g.scripts {
                        ScriptFilter::All => None,
                        ScriptFilter::Globs(globs) => Some(globs.clone()),
                    },
                })
                .collect(),
            kind: PersonKind,
            name: person.who.display.clone(),
            role: person.top_role().as_str().to_owned(),
            sub: person.who.sub.clone(),
        }),
    }
}
