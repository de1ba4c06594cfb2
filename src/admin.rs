//! Account administration on the storage directory itself (the `user`
//! commands and first-run bootstrap). Each change is one
//! [`AccountCommand`] recorded through the event store, as the server's
//! guest endpoints record theirs.

use std::path::{Path, PathBuf};

use crate::accounts::{generate_key, User};
use crate::clock;
use crate::config::Config;
use crate::events::account::{change_account, AccountCommand};
use crate::events::store::Database;
use crate::events::StoreError;
use crate::ids::UserId;

/// Why an admin command failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("invalid user name {0:?}: use 1-64 letters, digits, '-', '_' or '.'")]
    InvalidName(String),
    #[error("user {0:?} already exists")]
    Exists(String),
    #[error("no user named {0:?}")]
    NoSuchUser(String),
    #[error("no scriptd storage in {}: it has no scriptd.db (with --database: no scriptd.lock) — check --storage / SCRIPTD_STORAGE (only `scriptd serve` creates a storage)", .0.display())]
    NoStorage(PathBuf),
    #[error("storage error: {0}")]
    Store(#[from] StoreError),
    #[error("file error: {0}")]
    Io(#[from] std::io::Error),
}

impl AdminError {
    /// A stable code for `--json` output.
    pub fn code(&self) -> &'static str {
        match self {
            AdminError::InvalidName(_) => "invalid_user_name",
            AdminError::Exists(_) => "user_exists",
            AdminError::NoSuchUser(_) => "unknown_user",
            AdminError::NoStorage(_) => "no_storage",
            AdminError::Store(_) => "storage_error",
            AdminError::Io(_) => "file_error",
        }
    }
}

/// A user just created or re-keyed, with the key shown once.
pub struct KeyedUser {
    pub user: User,
    pub apikey: String,
    pub exectab: PathBuf,
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// Creates a user with a fresh key and its scripts folder; the exectab
/// starts as a copy of `<storage>/user_init/exectab.txt` when there is one.
pub async fn add_user(
    db: &mut Database,
    config: &Config,
    name: &str,
    guests: bool,
) -> Result<KeyedUser, AdminError> {
    if !valid_name(name) {
        return Err(AdminError::InvalidName(name.to_owned()));
    }
    if db.readers.user_by_name(name).await?.is_some() {
        return Err(AdminError::Exists(name.to_owned()));
    }
    let id = db.readers.next_user_id().await?;
    let key = generate_key();
    let created = clock::now_secs();
    let command = AccountCommand::CreateUser {
        user: id,
        name: name.to_owned(),
        key_hash: key.hash,
        guests,
        created,
    };
    match change_account(db, command).await {
        Err(StoreError::Conflict(_)) => return Err(AdminError::Exists(name.to_owned())),
        other => other?,
    };
    let exectab = init_scripts(config, id)?;
    Ok(KeyedUser {
        user: User {
            id,
            name: name.to_owned(),
            guests,
            created,
        },
        apikey: key.plain,
        exectab,
    })
}

/// The user's folders and exectab, owner-only whatever the umask of the
/// command that makes them (`user add` runs outside the server).
fn init_scripts(config: &Config, user: UserId) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = config.scripts_dir(user);
    for sub in ["status", "logs"] {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir.join(sub))?;
    }
    let exectab = dir.join("exectab.txt");
    if !exectab.exists() {
        let template = config.storage.join("user_init").join("exectab.txt");
        let bytes = std::fs::read(&template).unwrap_or_default();
        write_private(&exectab, &bytes)?;
    }
    Ok(exectab)
}

async fn find(db: &Database, name: &str) -> Result<User, AdminError> {
    db.readers
        .user_by_name(name)
        .await?
        .ok_or_else(|| AdminError::NoSuchUser(name.to_owned()))
}

/// Replaces a user's key; the old one stops working at once.
pub async fn rotate_key(
    db: &mut Database,
    config: &Config,
    name: &str,
) -> Result<KeyedUser, AdminError> {
    let user = find(db, name).await?;
    let key = generate_key();
    let command = AccountCommand::RotateKey {
        user: user.id,
        key_hash: key.hash,
    };
    change_account(db, command).await?;
    Ok(KeyedUser {
        exectab: config.scripts_dir(user.id).join("exectab.txt"),
        user,
        apikey: key.plain,
    })
}

/// Removes a user and its guests. Its files and run history stay.
pub async fn remove_user(db: &mut Database, name: &str) -> Result<User, AdminError> {
    let user = find(db, name).await?;
    change_account(db, AccountCommand::RemoveUser { user: user.id }).await?;
    Ok(user)
}

/// The demo script seeded on first run: it shows progress lines.
pub const DEMO_EXECTAB: &str = r#"# scriptd exectab: one script per line, [options] name executable [params...]
# See README.md for the options (-s, -m, -i, -n, -r, -t, -d, -e, -u, -g).
-s=2 demo /bin/sh -c "echo '[1/3] Preparing'; sleep 1; echo '[50%] Half way'; sleep 1; echo '[2/3] Working'; for p in 25 50 75 100; do echo \"[$p%] Step $p\"; sleep 0.5; done; echo '[3/3] Finishing'; sleep 1; echo done"
"#;

/// First run: creates `admin` (guests allowed), writes its key to
/// `<storage>/admin.key` (0600) and seeds the demo script. Returns the key.
pub async fn bootstrap(db: &mut Database, config: &Config) -> Result<Option<String>, AdminError> {
    if !db.readers.users().await?.is_empty() {
        return Ok(None);
    }
    let admin = add_user(db, config, "admin", true).await?;
    let text = std::fs::read_to_string(&admin.exectab).unwrap_or_default();
    if text.trim().is_empty() {
        std::fs::write(&admin.exectab, DEMO_EXECTAB)?;
    }
    write_key_file(&config.storage.join("admin.key"), &admin.apikey)?;
    Ok(Some(admin.apikey))
}

/// After `rotate-key admin`: `<storage>/admin.key` (when there is one)
/// gets the new key, so the commands that read it keep working. Returns
/// the file when it was updated.
pub fn update_key_file(config: &Config, user: &KeyedUser) -> std::io::Result<Option<PathBuf>> {
    let path = config.storage.join("admin.key");
    if user.user.name != "admin" || !path.exists() {
        return Ok(None);
    }
    write_key_file(&path, &user.apikey)?;
    Ok(Some(path))
}

fn write_key_file(path: &Path, key: &str) -> std::io::Result<()> {
    write_private(path, format!("{key}\n").as_bytes())
}

/// Writes `bytes` to `path`, mode 0600 (also when it existed with another).
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(bytes)
}
