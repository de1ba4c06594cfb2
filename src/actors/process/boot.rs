//! This machine's boot id: process ids and groups mean something only
//! within one boot.

use std::sync::OnceLock;

/// The kernel's boot id (empty if unreadable, which matches no record).
pub fn boot_id() -> &'static str {
    static BOOT: OnceLock<String> = OnceLock::new();
    BOOT.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .map(|s| s.trim().to_owned())
            .unwrap_or_default()
    })
}
