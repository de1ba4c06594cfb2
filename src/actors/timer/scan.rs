//! Looking at what is scheduled: once a second, a `stat` of each user's
//! exectab (in a blocking task: file I/O stays off the actor); a file
//! that changed is read and parsed there too, cron expressions checked,
//! and only its schedules are brought in line. An unchanged file costs
//! no read, no parse and no statement.

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, SystemTime};

use actix::prelude::*;

use super::{Entry, Key, Phase, Timer};
use crate::config::Config;
use crate::exectab::{Exectab, ScheduleDef};
use crate::ids::{ScriptName, UserId};
use crate::schedule::{CronError, Pattern, Patterns, TickSkip};

/// A file whose last change is this recent is read again at the next
/// look even if its stamp is the same: a second write within the file
/// system's clock tick leaves the stamp as it was.
const SETTLED_AFTER: Duration = Duration::from_secs(2);

/// What identifies a version of an exectab file without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

impl Stamp {
    /// The file's stamp; `None` when there is no file.
    fn of(path: &Path) -> std::io::Result<Option<Stamp>> {
        use std::os::unix::fs::MetadataExt;
        match std::fs::metadata(path) {
            Ok(meta) => Ok(Some(Stamp {
                len: meta.len(),
                modified: meta.modified().ok(),
                inode: meta.ino(),
            })),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Whether the file may still change within the same stamp.
    fn settled(&self, now: SystemTime) -> bool {
        self.modified
            .and_then(|m| now.duration_since(m).ok())
            .is_some_and(|age| age >= SETTLED_AFTER)
    }
}

/// A user's exectab as last read: its stamp and the schedules it defined.
pub(super) struct FileRead {
    stamp: Option<Stamp>,
    names: Vec<ScriptName>,
}

/// A user's exectab that changed, read and parsed.
struct Changed {
    user: UserId,
    stamp: Option<Stamp>,
    schedules: Vec<(ScriptName, ScheduleDef, Result<Pattern, CronError>)>,
}

/// The exectabs of `users` that changed since their `known` stamp.
fn read_changed(config: &Config, users: Vec<(UserId, Option<Option<Stamp>>)>) -> Vec<Changed> {
    let now = SystemTime::now();
    let mut out = Vec::new();
    for (user, known) in users {
        let path = config.scripts_dir(user).join("exectab.txt");
        let stamp = match Stamp::of(&path) {
            Ok(stamp) => stamp,
            // Unreadable now (out of descriptors): what was read stands.
            Err(_) => continue,
        };
        let same = known == Some(stamp) && stamp.is_none_or(|s| s.settled(now));
        if same {
            continue;
        }
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(_) => continue,
        };
        out.push(Changed {
            user,
            stamp,
            schedules: schedules_of(config, &text),
        });
    }
    out
}

/// The scheduled lines of an exectab, their expressions parsed (bad lines
/// are the account's to report; they schedule nothing).
fn schedules_of(
    config: &Config,
    text: &str,
) -> Vec<(ScriptName, ScheduleDef, Result<Pattern, CronError>)> {
    let mut patterns = Patterns::default();
    Exectab::schedules(text)
        .into_iter()
        .filter_map(|(name, schedule)| {
            let name = ScriptName::parse(&name)?;
            let pattern = match schedule.zone.as_deref() {
                // The exectab's parse checked it in this zone.
                Some(zone) => patterns.share(&schedule.cron, zone),
                None if config.timezone == "UTC" => patterns.share(&schedule.cron, "UTC"),
                // Checked in UTC, which stood in for the server's zone.
                None => patterns.check(&schedule.cron, &config.timezone),
            };
            Some((name, schedule, pattern))
        })
        .collect()
}

impl Timer {
    /// Looks at the exectabs unless a look is in flight (or the users
    /// are not known yet).
    pub(super) fn scan(&mut self, ctx: &mut Context<Self>) {
        if self.scanning {
            return;
        }
        let Some(users) = &self.users else {
            return;
        };
        let known: Vec<(UserId, Option<Option<Stamp>>)> = users
            .iter()
            .map(|user| (*user, self.files.get(user).map(|f| f.stamp)))
            .collect();
        self.scanning = true;
        let config = self.shared.config.clone();
        let read = tokio::task::spawn_blocking(move || read_changed(&config, known));
        ctx.spawn(read.into_actor(self).map(move |changed, act, ctx| {
            act.scanning = false;
            match changed {
                Ok(changed) => {
                    for file in changed {
                        act.apply(file, ctx);
                    }
                }
                Err(err) => tracing::warn!(error = %err, "cannot look at the exectabs"),
            }
        }));
    }

    /// Brings one user's schedules in line with its exectab as read.
    fn apply(&mut self, file: Changed, ctx: &mut Context<Self>) {
        let user = file.user;
        // Removed meanwhile: nothing of it is kept.
        if !self.users.as_ref().is_some_and(|u| u.contains(&user)) {
            return;
        }
        let mut names = Vec::with_capacity(file.schedules.len());
        let mut adopt = Vec::new();
        for (name, def, pattern) in file.schedules {
            let pattern = match pattern {
                Ok(pattern) => pattern,
                Err(err) => {
                    tracing::warn!(user = %user, script = %name, "{err}");
                    continue;
                }
            };
            names.push(name.clone());
            let key = (user, name);
            if self.update(key.clone(), pattern, def) {
                adopt.push(key);
            }
        }
        let kept: HashSet<&ScriptName> = names.iter().collect();
        let before = self
            .files
            .remove(&user)
            .map(|f| f.names)
            .unwrap_or_default();
        for gone in before.iter().filter(|n| !kept.contains(n)) {
            self.entries.remove(&(user, gone.clone()));
            self.recount = true;
        }
        self.files.insert(
            user,
            FileRead {
                stamp: file.stamp,
                names,
            },
        );
        self.adopt_many(user, adopt, TickSkip::Missed, ctx);
    }

    /// One schedule as read: new or changed ones are (re)placed; true
    /// when it is to be adopted now (new or changed, and not paused).
    fn update(&mut self, key: Key, pattern: Pattern, def: ScheduleDef) -> bool {
        let same = self
            .entries
            .get(&key)
            .is_some_and(|e| e.pattern == pattern && e.catch_up == def.catch_up);
        if same {
            return false;
        }
        let paused = self.paused.contains(&key);
        let phase = match paused {
            true => Phase::Paused,
            false => Phase::Adopting,
        };
        let entry = Entry {
            pattern,
            catch_up: def.catch_up,
            phase,
            next: None,
            recorded: None,
        };
        self.entries.insert(key, entry);
        self.recount = true;
        !paused
    }
}
