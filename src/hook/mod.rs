//! Webhooks (issue 31): the pure parts a delivery worker is built on.
//! `sign` makes and checks the `X-Scriptd-Signature` header (HMAC-SHA256
//! over `t.body`, as Stripe signs); `target` decides which URLs and
//! addresses a user's hook may reach (no loopback, link-local or private
//! network unless the operator's `hooks_allow` opens it); `backoff` is
//! the wait before a next attempt, shared with run retries; `limits` the
//! operator's fold window and give-up time. No I/O here:
//! the outbox rows live in `events/`, the worker in its own actor.

pub mod backoff;
pub mod limits;
pub mod sign;
pub mod target;
pub mod trigger;
