//! The pure part of leader election on a Lease (client-go's rule): the settings, the decision a
//! candidate or leader takes from what the Lease says and when it last changed on our own clock,
//! and the flag that says whether this replica publishes. The I/O loop is `ingest::leader`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Settings of the election.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElectionConfig {
    /// Namespace of the Lease.
    pub namespace: String,
    /// Name of the Lease.
    pub lease_name: String,
    /// This replica's identity (holderIdentity).
    pub identity: String,
    /// How long a Lease stays valid without renewal.
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew before it steps down.
    pub renew_deadline: Duration,
    /// How often candidates and the leader act.
    pub retry_period: Duration,
}

/// Whether this replica publishes the binpacking series.
#[derive(Debug, Default)]
pub struct LeaderState {
    enabled: AtomicBool,
    leader: AtomicBool,
}

impl LeaderState {
    /// A state for a replica that runs an election.
    pub fn electing() -> LeaderState {
        LeaderState {
            enabled: AtomicBool::new(true),
            leader: AtomicBool::new(false),
        }
    }

    /// Whether leader election is on.
    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Acquire)
    }

    /// Whether this replica leads (always true without an election).
    pub fn publishing(&self) -> bool {
        !self.enabled() || self.leader.load(Ordering::Acquire)
    }

    /// Records whether this replica leads (logged when it changes).
    pub fn set_leader(&self, leader: bool) {
        let was = self.leader.swap(leader, Ordering::AcqRel);
        if was != leader {
            if leader {
                log::info!("became the leader; publishing the binpacking series");
            } else {
                log::warn!("lost the leadership; standing by");
            }
        }
    }
}

/// What the Lease said the last time it changed, and when we saw that change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    holder: String,
    renew_time: String,
    transitions: i32,
    at: Instant,
}

/// The relevant part of a Lease as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseView {
    /// `spec.holderIdentity` ("" when free).
    pub holder: String,
    /// `spec.renewTime` as text (only compared).
    pub renew_time: String,
    /// `spec.leaseDurationSeconds` of the holder.
    pub duration: Duration,
    /// `spec.leaseTransitions`.
    pub transitions: i32,
}

/// The next step of a candidate or leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// No Lease exists: create it with us as holder.
    Create,
    /// Take the Lease over (it is free or expired): transitions + 1.
    Acquire,
    /// We hold it: renew.
    Renew,
    /// Someone else holds a valid Lease.
    Follow,
}

/// The election rule. `observed` is updated when the Lease changed since the last look.
pub fn decide(
    lease: Option<&LeaseView>,
    me: &str,
    observed: &mut Option<Observed>,
    now: Instant,
) -> Decision {
    let Some(lease) = lease else {
        return Decision::Create;
    };
    let changed = observed.as_ref().is_none_or(|o| {
        o.holder != lease.holder
            || o.renew_time != lease.renew_time
            || o.transitions != lease.transitions
    });
    if changed {
        *observed = Some(Observed {
            holder: lease.holder.clone(),
            renew_time: lease.renew_time.clone(),
            transitions: lease.transitions,
            at: now,
        });
    }
    if lease.holder == me {
        return Decision::Renew;
    }
    let seen_at = observed.as_ref().map_or(now, |o| o.at);
    let expired = now.saturating_duration_since(seen_at) >= lease.duration;
    if lease.holder.is_empty() || expired {
        Decision::Acquire
    } else {
        Decision::Follow
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(holder: &str, renew: &str, transitions: i32) -> LeaseView {
        LeaseView {
            holder: holder.into(),
            renew_time: renew.into(),
            duration: Duration::from_secs(15),
            transitions,
        }
    }

    #[test]
    fn a_missing_lease_is_created_and_a_free_one_acquired() {
        let now = Instant::now();
        assert_eq!(decide(None, "a", &mut None, now), Decision::Create);
        assert_eq!(
            decide(Some(&lease("", "t0", 3)), "a", &mut None, now),
            Decision::Acquire
        );
    }

    #[test]
    fn a_renewed_lease_is_followed_and_a_stale_one_taken_over_by_our_clock() {
        let t0 = Instant::now();
        let mut observed = None;
        assert_eq!(
            decide(Some(&lease("b", "t0", 0)), "a", &mut observed, t0),
            Decision::Follow
        );
        // Same record 10 s later (by our clock): still valid.
        let t10 = t0 + Duration::from_secs(10);
        assert_eq!(
            decide(Some(&lease("b", "t0", 0)), "a", &mut observed, t10),
            Decision::Follow
        );
        // The holder renewed at 12 s: the clock restarts.
        let t12 = t0 + Duration::from_secs(12);
        assert_eq!(
            decide(Some(&lease("b", "t12", 0)), "a", &mut observed, t12),
            Decision::Follow
        );
        let t20 = t0 + Duration::from_secs(20);
        assert_eq!(
            decide(Some(&lease("b", "t12", 0)), "a", &mut observed, t20),
            Decision::Follow
        );
        // No renewal for 15 s after we saw the last one: expired.
        let t27 = t0 + Duration::from_secs(27);
        assert_eq!(
            decide(Some(&lease("b", "t12", 0)), "a", &mut observed, t27),
            Decision::Acquire
        );
    }

    #[test]
    fn our_own_lease_is_renewed() {
        assert_eq!(
            decide(Some(&lease("a", "t0", 1)), "a", &mut None, Instant::now()),
            Decision::Renew
        );
    }

    #[test]
    fn without_an_election_every_replica_publishes() {
        let s = LeaderState::default();
        assert!(s.publishing());
        let e = LeaderState::electing();
        assert!(!e.publishing());
        e.set_leader(true);
        assert!(e.publishing());
    }
}
