//! How long this node has been in unbroken contact with the database,
//! by its own lease renewals. The rescuer acts only after a whole lease
//! of it: when the database was away (restarted, or cut off from every
//! node), every lease ran out at once, and the node that gets back first
//! must not take the others for dead before they had a lease to renew
//! (issue 29). A node that is really gone is still rescued, one lease
//! later at most, and only after an outage or this node's own start.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// Shared by the lease loop (which reports each renewal) and the
/// rescuer (which asks before each pass).
#[derive(Clone, Default)]
pub struct Contact(Arc<Mutex<Option<Instant>>>);

impl Contact {
    /// A renewal (or registration) sent at `sent` was granted: contact
    /// holds since then, unless it held already.
    pub fn granted(&self, sent: Instant) {
        let mut since = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        since.get_or_insert(sent);
    }

    /// A renewal failed or the lease is gone: contact is broken.
    pub fn broken(&self) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// Whether contact has held unbroken for `lease` by now.
    pub fn steady_for(&self, lease: Duration) -> bool {
        self.steady_at(lease, Instant::now())
    }

    fn steady_at(&self, lease: Duration, now: Instant) -> bool {
        let since = *self.0.lock().unwrap_or_else(PoisonError::into_inner);
        since.is_some_and(|since| now >= since + lease)
    }
}

/// When the rescuer may next have work, as the last renewal said (it
/// reads the other nodes' leases in the same statement): until then the
/// rescuer's loop asks the database nothing.
#[derive(Clone, Default)]
pub struct Due(Arc<Mutex<Option<Instant>>>);

impl Due {
    /// The next instant another node's lease may run out (none: no other
    /// node holds one).
    pub fn set(&self, next: Option<Instant>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = next;
    }

    /// Whether that instant has come.
    pub fn has_come(&self) -> bool {
        let next = *self.0.lock().unwrap_or_else(PoisonError::into_inner);
        next.is_some_and(|next| Instant::now() >= next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_counts_from_the_first_grant_after_a_break() {
        let (lease, second) = (Duration::from_secs(2), Duration::from_secs(1));
        let t0 = Instant::now();
        let contact = Contact::default();
        assert!(!contact.steady_at(Duration::ZERO, t0), "no contact yet");
        contact.granted(t0);
        contact.granted(t0 + second);
        assert!(!contact.steady_at(lease, t0 + second), "one second of two");
        assert!(
            contact.steady_at(lease, t0 + lease),
            "later grants do not restart it"
        );
        contact.broken();
        assert!(!contact.steady_at(lease, t0 + lease), "a break ends it");
        contact.granted(t0 + lease);
        assert!(
            !contact.steady_at(lease, t0 + lease + second),
            "counted again from the new grant"
        );
        assert!(contact.steady_at(lease, t0 + lease * 2));
    }
}
