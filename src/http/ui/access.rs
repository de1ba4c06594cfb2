//! What a key may do, for clients that adapt to it (the dashboard hides
//! what a key may not use). An additive extension of `GET scripts`.

use serde_json::{json, Value};

use crate::accounts::Principal;

/// `{"kind":"user","name","guests"}` or
/// `{"kind":"guest","script","rights":{..},"expires"}`.
pub fn describe(principal: &Principal) -> Value {
    match principal {
        Principal::User(user) => json!({
            "kind": "user",
            "name": user.name,
            "guests": user.guests,
        }),
        Principal::Guest(guest) => json!({
            "kind": "guest",
            "script": guest.script.as_str(),
            "rights": {
                "run": guest.rights.run,
                "cancel": guest.rights.cancel,
                "status": guest.rights.status,
                "monitor": guest.rights.monitor,
            },
            "expires": guest.expires,
        }),
    }
}
