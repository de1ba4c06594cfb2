//! The server's umask. The server creates its files for its owner only
//! (077: database, logs, keys), but scripts start with the umask the server
//! was started with, so what they create is as it always was.

use std::sync::OnceLock;

use nix::sys::stat::{umask, Mode};

/// The umask the process had before [`restrict`] first ran.
static ORIGINAL: OnceLock<Mode> = OnceLock::new();

/// Sets the umask to 077, remembering the first one for the scripts.
pub fn restrict() {
    let owner_only = Mode::from_bits_truncate(0o077);
    let before = umask(owner_only);
    ORIGINAL.get_or_init(|| before);
}

/// The umask a script starts with: the server's original one, or `None`
/// (leave it as it is) when the server never restricted its own.
pub fn for_scripts() -> Option<libc::mode_t> {
    ORIGINAL.get().map(|mode| mode.bits())
}
