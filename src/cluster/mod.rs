//! The cluster (PostgreSQL only; a single PostgreSQL server is a cluster
//! of one node): how a node learns what every node commits. The
//! [`follower::Follower`] tails the event log by `seq`, woken by the
//! commits' `NOTIFY` ([`listener`]) and by a slow poll, and hands every
//! event, in log order, to the monitor hub and to the account directory
//! (whose queues mirror other nodes' runs). Claims themselves are
//! conditional appends (`events::expect`); SQL stays in `events::postgres`.

pub mod follower;
pub mod listener;

pub use follower::{Follower, Wake};
