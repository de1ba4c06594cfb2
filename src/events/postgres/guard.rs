//! The lease guard of a cluster node's writer: every group commit of a
//! node checks, inside its transaction and under the commit lock, that
//! the node's lease is valid (`scriptd_lease_check`, in the `nodes`
//! migration). A node that lost its lease (paused, cut off, taken over
//! by a newer incarnation) therefore cannot start or end anything, even
//! before it notices; the database refuses, not a check in memory.

use std::sync::atomic::{AtomicI64, Ordering};

/// The SQLSTATE `scriptd_lease_check` raises.
pub const LEASE_LOST: &str = "SD001";

/// Which incarnation of which node this process is; `crate::cluster`
/// sets the epoch whenever it (re)registers the node.
#[derive(Debug)]
pub struct LeaseGuard {
    node: String,
    epoch: AtomicI64,
}

impl LeaseGuard {
    /// The guard of `node`, incarnation `epoch`.
    pub fn new(node: &str, epoch: i64) -> Self {
        LeaseGuard {
            node: node.to_owned(),
            epoch: AtomicI64::new(epoch),
        }
    }

    /// The node's name.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The incarnation commits are made for.
    pub fn epoch(&self) -> i64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Commits from now on are made for incarnation `epoch`.
    pub fn set_epoch(&self, epoch: i64) {
        self.epoch.store(epoch, Ordering::Release);
    }

    /// The check as SQL text, for the round trip that opens a commit
    /// (a simple query, so no parameters: the name is quoted here).
    pub(super) fn check_sql(&self) -> String {
        format!(
            "SELECT scriptd_lease_check({}, {})",
            quote(&self.node),
            self.epoch()
        )
    }
}

/// A SQL string literal (standard_conforming_strings, the default since
/// PostgreSQL 9.1: only the quote is special).
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_quotes_the_node_name() {
        let guard = LeaseGuard::new("o'brien", 3);
        assert_eq!(
            guard.check_sql(),
            "SELECT scriptd_lease_check('o''brien', 3)"
        );
        guard.set_epoch(4);
        assert!(guard.check_sql().ends_with(", 4)"));
    }
}
