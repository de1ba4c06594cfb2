//! Which grants a person's claims match, and so in which account and with
//! which roles they act. Pure: the claims come from a verified ID token.

use crate::accounts::{PersonRef, Reach};

use super::settings::{Grant, GrantMatch};

/// What a verified ID token says about the person.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Claims {
    pub sub: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub groups: Vec<String>,
}

impl Claims {
    /// The person as the audit names them.
    pub fn person(&self) -> PersonRef {
        let display = self
            .email
            .clone()
            .or_else(|| self.name.clone())
            .unwrap_or_else(|| self.sub.clone());
        PersonRef {
            sub: self.sub.clone(),
            display,
        }
    }

    fn matches(&self, rule: &GrantMatch) -> bool {
        match rule {
            GrantMatch::Group(group) => self.groups.iter().any(|g| g == group),
            // An unverified email could be anyone's: it matches nothing.
            GrantMatch::Email(email) => {
                self.email_verified
                    && self
                        .email
                        .as_deref()
                        .is_some_and(|e| e.to_lowercase() == *email)
            }
            GrantMatch::Sub(sub) => self.sub == *sub,
        }
    }
}

/// The account a person acts in and their grants in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// The scriptd account (user name).
    pub user: String,
    pub grants: Vec<Reach>,
}

/// The grants `claims` match: every matching grant of the account the
/// first matching grant names (a session acts in one account; the order
/// of the config file picks it). `None`: nothing matches, no sign-in.
pub fn access(grants: &[Grant], claims: &Claims) -> Option<Access> {
    let first = grants.iter().find(|g| claims.matches(&g.matches))?;
    let reach = grants
        .iter()
        .filter(|g| g.user == first.user && claims.matches(&g.matches))
        .map(|g| Reach {
            role: g.role,
            scripts: g.scripts.clone(),
        })
        .collect();
    Some(Access {
        user: first.user.clone(),
        grants: reach,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::{Role, ScriptFilter};

    fn grant(matches: GrantMatch, user: &str, role: Role, scripts: &[&str]) -> Grant {
        Grant {
            matches,
            user: user.into(),
            role,
            scripts: match scripts {
                [] => ScriptFilter::All,
                some => ScriptFilter::Globs(some.iter().map(|s| s.to_string()).collect()),
            },
        }
    }

    fn claims(sub: &str, email: &str, verified: bool, groups: &[&str]) -> Claims {
        Claims {
            sub: sub.into(),
            email: Some(email.into()),
            email_verified: verified,
            name: None,
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    #[test]
    fn grants_match_by_group_email_or_sub_and_unite_in_the_first_account() {
        let grants = vec![
            grant(GrantMatch::Group("ops".into()), "admin", Role::Viewer, &[]),
            grant(
                GrantMatch::Email("bea@x.test".into()),
                "admin",
                Role::Operator,
                &["backup"],
            ),
            grant(GrantMatch::Sub("s9".into()), "other", Role::Owner, &[]),
        ];
        let bea = claims("s1", "Bea@X.test", true, &["ops"]);
        let got = access(&grants, &bea).expect("matches");
        assert_eq!(got.user, "admin");
        assert_eq!(got.grants.len(), 2, "group and email grants of admin");
        let unverified = claims("s1", "bea@x.test", false, &[]);
        assert_eq!(access(&grants, &unverified), None, "unverified email");
        let s9 = claims("s9", "z@x.test", true, &[]);
        assert_eq!(access(&grants, &s9).expect("sub").user, "other");
        let nobody = claims("s2", "n@x.test", true, &["interns"]);
        assert_eq!(access(&grants, &nobody), None);
    }

    #[test]
    fn the_audit_names_a_person_by_email_then_name_then_sub() {
        let mut c = claims("s1", "a@x.test", true, &[]);
        assert_eq!(c.person().display, "a@x.test");
        c.email = None;
        c.name = Some("Ann".into());
        assert_eq!(c.person().display, "Ann");
        c.name = None;
        assert_eq!(c.person().display, "s1");
    }
}
