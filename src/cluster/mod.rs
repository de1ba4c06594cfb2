//! The cluster (PostgreSQL only; a single PostgreSQL server is a cluster
//! of one node). How a node learns what every node commits: the
//! [`follower::Follower`] tails the event log by `seq`, woken by the
//! commits' `NOTIFY` ([`listener`]) and by a slow poll, and hands every
//! event, in log order, to the monitor hub and to the account directory
//! (whose queues mirror other nodes' runs). Claims themselves are
//! conditional appends (`events::expect`).
//!
//! Liveness: each node holds a lease in the `nodes` table and renews it
//! (`lease`); a node whose lease expired is marked lost by whichever live
//! node takes the rescue lock, which ends its running runs `interrupted`
//! (`rescue`, `view`), but only once the rescuer itself has held its
//! lease unbroken for a lease time (`contact`: after a database outage
//! every node gets a lease to come back); a node that finds its own lease gone raises its
//! [`Fence`] (starts nothing, stops its runs) and rejoins as a new
//! incarnation (`join` registers the first one at start). The database
//! refuses the commits of a node without a valid lease
//! (`events::postgres::guard`), so none of this depends on a node
//! noticing in time. The actors learn about the fence through
//! [`Fence::subscribe`]. The view loop also keeps the [`Roster`] of live
//! nodes, by which the schedules' timer gives each tick one owner. SQL
//! stays in `events::postgres`.

mod contact;
mod fence;
pub mod follower;
mod join;
mod lease;
pub mod listener;
mod rescue;
mod roster;
mod view;

pub use fence::Fence;
pub use follower::{Follower, Wake};
pub use join::{join, Joined, Loops};
pub use lease::{BadLeaseTimes, LeaseTimes};
pub use rescue::NODE_LOST;
pub use roster::Roster;

pub use crate::events::postgres::nodes::Leftover;
