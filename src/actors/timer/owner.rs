//! Which node of a cluster fires a schedule's tick (pure; see `standby`
//! for the actor side). Every node that defines a schedule has its ticks
//! in its heap; if each fired them all, the database would refuse all but
//! one, and each refusal costs a failed group commit (issue 30: 3 nodes
//! and 1,000 schedules could not keep up). So the live nodes are ranked
//! for each (schedule, tick) by rendezvous hashing, highest weight first:
//! rank 0 fires the tick at its due instant, rank k at due + k × grace,
//! and only if it has not seen the tick recorded by then. The grace is
//! [`GRACE`], or more while the records of ticks reach this node late
//! ([`Lag`]): an owner slowed by load is then waited for, not raced,
//! which would only add refused commits to its load. The ranking is
//! per tick, not per schedule, so the ticks of one instant spread over
//! the nodes, and a node that leaves (or never defined the schedule)
//! moves only its own ticks, to the next rank.
//!
//! Nothing here has to be exact: two nodes with different views of who
//! is live may both fire a tick, and the store's unique record of a tick
//! still starts one run. A node not in the view ranks among it by its
//! weight; with no view at all (SQLite, or before the first read) every
//! tick is this node's.

use std::time::Duration;

use super::Key;

/// How long each rank waits for the one before it, at least. It must cover a
/// tick's way from the owner's due instant to a standby's timer: the
/// owner's enqueue and group commit (p99 tens of ms on these 2 cores with
/// 1,000 ticks a second), the commit's NOTIFY, the follower's read and
/// its message, and the clock skew between machines (NTP keeps it to a
/// few ms). Shorter and a busy second makes standbys fire what their
/// owner is about to commit (a refused commit each); longer and a dead
/// owner's ticks are late by that much until its lease runs out.
pub(super) const GRACE: Duration = Duration::from_millis(300);

/// The most a rank waits for the one before it, however late records
/// come: well under a lease (10 s by default), so a dead owner's ticks
/// never wait for its lease to run out.
const MAX_GRACE: Duration = Duration::from_secs(2);

/// How late this node's own ticks (those it owns) come back to it
/// through the follower lately, from their due instant: the time an
/// owner under the same load takes until a standby can see its record.
/// The highest of this second and the one before, so it rises at once
/// under load and falls within two seconds. Only owned ticks count: a
/// record a standby fired is late by its grace, and counting those would
/// raise the grace with every standby fire (a dead owner's ticks would
/// drift to the cap, and an overloaded cluster would race ever more).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Lag {
    second: i64,
    now: f64,
    before: f64,
}

impl Lag {
    /// The record of an owned tick due at `tick` was seen at `now` (UNIX
    /// seconds).
    pub(super) fn seen(&mut self, tick: i64, now: f64) {
        // A catch-up of old ticks counts as the cap, no more.
        let late = (now - tick as f64).clamp(0.0, MAX_GRACE.as_secs_f64());
        self.roll(now);
        self.now = self.now.max(late);
    }

    /// The grace at `now`: twice the lag, within [`GRACE`, `MAX_GRACE`].
    pub(super) fn grace(&mut self, now: f64) -> Duration {
        self.roll(now);
        let lag = Duration::from_secs_f64(self.now.max(self.before) * 2.0);
        lag.clamp(GRACE, MAX_GRACE)
    }

    fn roll(&mut self, now: f64) {
        let second = now.floor() as i64;
        if second != self.second {
            self.before = if second == self.second + 1 {
                self.now
            } else {
                0.0
            };
            self.now = 0.0;
            self.second = second;
        }
    }
}

/// This node's rank for `tick` of `key` among the live nodes `live`: how
/// many of them weigh more (0: this node fires it at its due instant).
pub(super) fn rank(me: &str, live: &[String], key: &Key, tick: i64) -> u32 {
    let mine = (weight(me, key, tick), me);
    let above = live
        .iter()
        .filter(|node| node.as_str() != me)
        .filter(|node| (weight(node, key, tick), node.as_str()) > mine)
        .count();
    u32::try_from(above).unwrap_or(u32::MAX)
}

/// When a node of rank `rank` fires `tick` with `grace`, in milliseconds
/// since the epoch.
pub(super) fn turn_ms(tick: i64, rank: u32, grace: Duration) -> i64 {
    let grace = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
    tick.saturating_mul(1000)
        .saturating_add(grace.saturating_mul(i64::from(rank)))
}

/// The node's weight for one tick: FNV-1a over the node, user, script
/// and tick, then the SplitMix64 finaliser (FNV alone mixes its last
/// bytes poorly). Written out rather than `std`'s hasher, whose output
/// may change between Rust releases: nodes built apart must agree.
fn weight(node: &str, key: &Key, tick: i64) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    // 0xff is never part of UTF-8 text: it ends each name.
    let parts: [&[u8]; 6] = [
        node.as_bytes(),
        &[0xff],
        &key.0 .0.to_le_bytes(),
        key.1.as_str().as_bytes(),
        &[0xff],
        &tick.to_le_bytes(),
    ];
    for byte in parts.into_iter().flatten() {
        hash = (hash ^ u64::from(*byte)).wrapping_mul(PRIME);
    }
    hash = (hash ^ (hash >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash = (hash ^ (hash >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^ (hash >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{ScriptName, UserId};

    fn key(user: i64, name: &str) -> Key {
        (UserId(user), ScriptName::parse(name).expect("a name"))
    }

    fn nodes(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    /// The node of rank 0 for the tick.
    fn owner<'a>(live: &'a [String], key: &Key, tick: i64) -> &'a str {
        let owners: Vec<&String> = live
            .iter()
            .filter(|n| rank(n, live, key, tick) == 0)
            .collect();
        assert_eq!(owners.len(), 1, "one owner of {key:?} at {tick}");
        owners[0]
    }

    #[test]
    fn the_live_nodes_take_ranks_zero_to_n_minus_one_for_every_tick() {
        let live = nodes(&["n1", "n2", "n3", "n4"]);
        for (user, name) in [(1, "beat"), (2, "beat"), (1, "s0"), (7, "a-long-name")] {
            for tick in 1_765_000_000..1_765_000_200 {
                let mut ranks: Vec<u32> = live
                    .iter()
                    .map(|n| rank(n, &live, &key(user, name), tick))
                    .collect();
                ranks.sort_unstable();
                assert_eq!(ranks, [0, 1, 2, 3], "{user}/{name} at {tick}");
            }
        }
    }

    #[test]
    fn ticks_spread_evenly_over_the_nodes_across_instants_and_schedules() {
        let live = nodes(&["n1", "n2", "n3"]);
        let count = |owners: Vec<&str>| {
            live.iter()
                .map(|n| owners.iter().filter(|o| **o == n.as_str()).count())
                .collect::<Vec<_>>()
        };
        // One schedule over 3,000 seconds, and 3,000 schedules at one
        // instant (every-second schedules are all due together).
        let beat = key(1, "beat");
        let over_time = count((0..3000).map(|t| owner(&live, &beat, t)).collect());
        let keys: Vec<Key> = (0..3000).map(|i| key(1, &format!("s{i}"))).collect();
        let at_once = count(
            keys.iter()
                .map(|k| owner(&live, k, 1_765_000_000))
                .collect(),
        );
        for (what, counts) in [("over time", over_time), ("at one instant", at_once)] {
            assert!(
                counts.iter().all(|c| (850..=1150).contains(c)),
                "about 1,000 each {what}: {counts:?}"
            );
        }
    }

    #[test]
    fn a_node_that_leaves_moves_only_the_ticks_it_owned() {
        let three = nodes(&["n1", "n2", "n3"]);
        let two = nodes(&["n1", "n3"]);
        let beat = key(3, "beat");
        let mut moved = 0;
        for tick in 0..3000 {
            let before = owner(&three, &beat, tick);
            let after = owner(&two, &beat, tick);
            match before {
                "n2" => {
                    moved += 1;
                    // Its rank-1 node takes it: the one that stood by.
                    let next = three.iter().find(|n| rank(n, &three, &beat, tick) == 1);
                    assert_eq!(Some(after), next.map(String::as_str), "tick {tick}");
                }
                _ => assert_eq!(before, after, "tick {tick} stays with its owner"),
            }
        }
        assert!(moved > 800, "n2 owned about a third: {moved}");
    }

    #[test]
    fn with_no_view_every_tick_is_this_nodes_and_outside_it_a_node_ranks_by_weight() {
        let beat = key(1, "beat");
        for tick in 0..100 {
            assert_eq!(rank("n1", &[], &beat, tick), 0, "SQLite, or no view yet");
            assert_eq!(rank("n1", &nodes(&["n1"]), &beat, tick), 0, "alone");
        }
        // A node the view does not show yet (it just joined) takes the
        // rank its weight gives it among the others: the others do not
        // count it, so at worst it and one of them both fire a tick.
        let live = nodes(&["n1", "n2"]);
        let full = nodes(&["n1", "n2", "n3"]);
        for tick in 0..100 {
            assert_eq!(
                rank("n3", &live, &beat, tick),
                rank("n3", &full, &beat, tick)
            );
        }
    }

    #[test]
    fn the_weight_is_fixed_across_builds() {
        // Nodes built by different compilers must rank alike: a change
        // here splits a mixed cluster's ticks (both fire, one run starts).
        // The value is FNV-1a then SplitMix64's finaliser, worked out
        // apart (in Python) from the bytes `weight` feeds it.
        assert_eq!(
            weight("n1", &key(1, "beat"), 1_765_000_000),
            0xeeb7_9ce5_b2f7_f414
        );
        assert_ne!(
            weight("n1", &key(1, "beat"), 1),
            weight("n1", &key(2, "beat"), 1)
        );
        assert_ne!(
            weight("n1", &key(1, "ab"), 1),
            weight("n1a", &key(1, "b"), 1)
        );
    }

    #[test]
    fn rank_k_fires_k_graces_after_the_due_instant() {
        let grace = Duration::from_millis(300);
        assert_eq!(turn_ms(1_765_000_000, 0, grace), 1_765_000_000_000);
        assert_eq!(turn_ms(1_765_000_000, 2, grace), 1_765_000_000_600);
    }

    #[test]
    fn the_grace_grows_with_late_records_and_falls_back_within_two_seconds() {
        let t = 1_765_000_000i64;
        let at = |s: f64| t as f64 + s;
        // Milliseconds (the instants are not exact in floating point).
        let ms = |d: Duration| (d.as_secs_f64() * 1000.0).round() as u64;
        let (grace, max) = (ms(GRACE), ms(MAX_GRACE));
        let mut lag = Lag::default();
        assert_eq!(ms(lag.grace(at(0.1))), grace, "no record seen yet");
        lag.seen(t, at(0.05));
        assert_eq!(ms(lag.grace(at(0.1))), grace, "records on time");
        lag.seen(t, at(0.4));
        assert_eq!(ms(lag.grace(at(0.5))), 800, "twice the lag");
        assert_eq!(ms(lag.grace(at(1.5))), 800, "the second after");
        assert_eq!(ms(lag.grace(at(2.1))), grace, "forgotten two seconds on");
        lag.seen(t - 3600, at(2.2));
        assert_eq!(ms(lag.grace(at(2.3))), max, "at most the cap");
        lag.seen(t + 2, at(2.3));
        assert_eq!(ms(lag.grace(at(9.0))), grace, "a quiet spell forgets it");
    }
}
