//! The fence: raised while this node holds no valid lease. Queues do not
//! start runs while it is up, and raising it stops every running run
//! (see `crate::actors::directory::FenceAll`); the database refuses the
//! node's commits meanwhile anyway (`events::postgres::guard`), this is
//! what the node itself does about it.

use std::sync::Arc;

use tokio::sync::watch;

/// Shared by the lease loop (which raises and lowers it), the queues
/// (which read it before starting a run) and whoever watches it.
#[derive(Clone)]
pub struct Fence(Arc<watch::Sender<bool>>);

impl Default for Fence {
    /// A lowered fence (SQLite, or a node holding its lease).
    fn default() -> Self {
        Fence(Arc::new(watch::channel(false).0))
    }
}

impl Fence {
    /// Whether the node must not start runs now.
    pub fn is_up(&self) -> bool {
        *self.0.borrow()
    }

    /// Raises it; whether it was down.
    pub(super) fn raise(&self) -> bool {
        self.set(true)
    }

    /// Lowers it; whether it was up.
    pub(super) fn lower(&self) -> bool {
        self.set(false)
    }

    fn set(&self, up: bool) -> bool {
        self.0
            .send_if_modified(|fence| std::mem::replace(fence, up) != up)
    }

    /// Told every change (the newest value only).
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.0.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raising_and_lowering_report_changes_once() {
        let fence = Fence::default();
        let mut changes = fence.subscribe();
        assert!(!fence.is_up());
        assert!(fence.raise());
        assert!(!fence.raise(), "already up");
        assert!(fence.is_up());
        assert!(changes.has_changed().expect("open"));
        assert!(*changes.borrow_and_update());
        assert!(fence.lower());
        assert!(!fence.lower(), "already down");
        assert!(!*changes.borrow_and_update());
    }
}
