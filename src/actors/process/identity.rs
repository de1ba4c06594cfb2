//! Resolves the user/group a script should run as (names or numeric ids,
//! primary and supplementary groups) before the launch. Applying the identity
//! is *not* done here: the child does that in `launch`.

use std::ffi::CString;

use nix::unistd::{Gid, Group, Uid, User};

use super::spawn::SpawnError;

/// Identity resolved before the launch; applied in the child.
#[derive(Debug)]
pub(super) struct Identity {
    pub(super) uid: Option<libc::uid_t>,
    pub(super) gid: libc::gid_t,
    pub(super) groups: Vec<libc::gid_t>,
    pub(super) user_name: Option<String>,
    pub(super) group_name: String,
    /// Human description for error messages, e.g. `user nobody`.
    pub(super) target: String,
    /// The user's passwd entry (`-u` only): its login environment.
    pub(super) login: Option<Login>,
}

/// What a login as the user sets: `HOME`, `USER`/`LOGNAME`, `SHELL`.
#[derive(Debug, Clone)]
pub(super) struct Login {
    pub(super) name: String,
    pub(super) home: std::path::PathBuf,
    pub(super) shell: std::path::PathBuf,
}

/// Runs in `spawn_blocking`: getpwnam/getgrnam/getgrouplist may hit NSS (files, LDAP...).
pub(super) fn resolve_identity(
    user: Option<String>,
    group: Option<String>,
) -> Result<Identity, SpawnError> {
    let user = user.map(|name| lookup_user(&name)).transpose()?;
    let group = group.map(|name| lookup_group(&name)).transpose()?;
    match (user, group) {
        (Some(u), g) => {
            let cname = CString::new(u.name.as_bytes())
                .map_err(|_| SpawnError::UnknownUser(u.name.clone()))?;
            let mut groups: Vec<libc::gid_t> = nix::unistd::getgrouplist(&cname, u.gid)
                .map_err(|errno| SpawnError::Lookup {
                    what: format!("groups of user {}", u.name),
                    errno,
                })?
                .into_iter()
                .map(Gid::as_raw)
                .collect();
            let (gid, group_name, target) = match g {
                Some(g) => {
                    let target = format!("user {} and group {}", u.name, g.name);
                    (g.gid.as_raw(), g.name, target)
                }
                None => {
                    let name = group_name_of(u.gid);
                    (u.gid.as_raw(), name, format!("user {}", u.name))
                }
            };
            if !groups.contains(&gid) {
                groups.push(gid);
            }
            Ok(Identity {
                uid: Some(u.uid.as_raw()),
                gid,
                groups,
                login: Some(Login {
                    name: u.name.clone(),
                    home: u.dir,
                    shell: u.shell,
                }),
                user_name: Some(u.name),
                group_name,
                target,
            })
        }
        (None, Some(g)) => Ok(Identity {
            uid: None,
            gid: g.gid.as_raw(),
            groups: vec![g.gid.as_raw()],
            user_name: None,
            login: None,
            target: format!("group {}", g.name),
            group_name: g.name,
        }),
        (None, None) => Err(SpawnError::InvalidInput {
            what: "identity",
            detail: "neither user nor group given".into(),
        }),
    }
}

fn lookup_user(name: &str) -> Result<User, SpawnError> {
    let lookup_err = |errno| SpawnError::Lookup {
        what: format!("user {name}"),
        errno,
    };
    if name.is_empty() || name.contains('\0') {
        return Err(SpawnError::UnknownUser(name.to_string()));
    }
    if let Some(u) = User::from_name(name).map_err(lookup_err)? {
        return Ok(u);
    }
    if let Ok(uid) = name.parse::<libc::uid_t>() {
        if let Some(u) = User::from_uid(Uid::from_raw(uid)).map_err(lookup_err)? {
            return Ok(u);
        }
    }
    Err(SpawnError::UnknownUser(name.to_string()))
}

fn lookup_group(name: &str) -> Result<Group, SpawnError> {
    let lookup_err = |errno| SpawnError::Lookup {
        what: format!("group {name}"),
        errno,
    };
    if name.is_empty() || name.contains('\0') {
        return Err(SpawnError::UnknownGroup(name.to_string()));
    }
    if let Some(g) = Group::from_name(name).map_err(lookup_err)? {
        return Ok(g);
    }
    if let Ok(gid) = name.parse::<libc::gid_t>() {
        if let Some(g) = Group::from_gid(Gid::from_raw(gid)).map_err(lookup_err)? {
            return Ok(g);
        }
    }
    Err(SpawnError::UnknownGroup(name.to_string()))
}

/// Name of `gid`, or the number itself if the group has no entry.
fn group_name_of(gid: Gid) -> String {
    match Group::from_gid(gid) {
        Ok(Some(g)) => g.name,
        _ => gid.as_raw().to_string(),
    }
}
