//! The pure part of leader election on a Lease (client-go's rule): the settings, the decision a
//! candidate or leader takes from what the Lease says and when it last changed on our own clock,
//! and the flag that says whether this replica publishes. The I/O loop is `ingest::leader`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
    /// Deadline of every Lease request (below the renew deadline; the lease duration exceeds
    /// the renew deadline plus this, so a standby never takes over while a term can run).
    pub request_timeout: Duration,
}

/// Whether this replica leads. A leader's term is measured on its own clock from when the
/// request that last confirmed it (acquire or renew) was *sent*, and ends one renew deadline
/// later unless another confirmation comes: so a leader whose requests hang stops publishing by
/// itself, before a standby (which waits a whole lease duration from when it saw that
/// confirmation, later than it was sent) can take the Lease over.
#[derive(Debug)]
pub struct LeaderState {
    enabled: AtomicBool,
    /// The term's end in milliseconds after `origin`; 0 when not leading.
    term_end_ms: AtomicU64,
    origin: Instant,
}

impl Default for LeaderState {
    fn default() -> LeaderState {
        LeaderState {
            enabled: AtomicBool::new(false),
            term_end_ms: AtomicU64::new(0),
            origin: Instant::now(),
        }
    }
}

impl LeaderState {
    /// A state for a replica that runs an election.
    pub fn electing() -> LeaderState {
        LeaderState {
            enabled: AtomicBool::new(true),
            ..LeaderState::default()
        }
    }

    /// Whether leader election is on.
    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Acquire)
    }

    fn ms(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.origin).as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether this replica leads now (always true without an election).
    pub fn publishing(&self) -> bool {
        self.publishing_at(Instant::now())
    }

    /// Whether this replica leads at `now`.
    pub fn publishing_at(&self, now: Instant) -> bool {
        !self.enabled() || self.ms(now) < self.term_end_ms.load(Ordering::Acquire)
    }

    /// A request sent at `sent` confirmed the term: it lasts until `sent + renew_deadline`.
    pub fn confirm(&self, sent: Instant, renew_deadline: Duration) {
        let was = self.publishing();
        // Never at 0, which means "not leading".
        let end = self.ms(sent + renew_deadline).max(1);
        self.term_end_ms.fetch_max(end, Ordering::AcqRel);
        if !was && self.publishing() {
            log::info!("became the leader; publishing the binpacking series");
        }
    }

    /// Ends the term now (the Lease is someone else's, or we are stopping).
    pub fn step_down(&self) {
        if self.term_end_ms.swap(0, Ordering::AcqRel) > self.ms(Instant::now()) {
            log::warn!("lost the leadership; standing by");
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

/// When a Lease held by someone else expires by our clock: a lease duration after we saw its
/// last change (a candidate acts then, not at its next retry tick).
pub fn expires_at(lease: &LeaseView, observed: Option<&Observed>) -> Option<Instant> {
    observed.map(|o| o.at + lease.duration)
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
    fn a_followed_lease_expires_one_duration_after_its_last_change_was_seen() {
        let t0 = Instant::now();
        let mut observed = None;
        let held = lease("b", "t0", 0);
        assert_eq!(
            decide(Some(&held), "a", &mut observed, t0),
            Decision::Follow
        );
        assert_eq!(
            expires_at(&held, observed.as_ref()),
            Some(t0 + Duration::from_secs(15))
        );
        assert_eq!(expires_at(&held, None), None);
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
        e.confirm(Instant::now(), Duration::from_secs(10));
        assert!(e.publishing());
        e.step_down();
        assert!(!e.publishing());
    }

    #[test]
    fn a_term_runs_one_renew_deadline_from_when_its_confirmation_was_sent() {
        let e = LeaderState::electing();
        let sent = Instant::now();
        let deadline = Duration::from_secs(2);
        // The answer came late: the term still counts from the send time.
        e.confirm(sent, deadline);
        assert!(e.publishing_at(sent + Duration::from_millis(1900)));
        assert!(!e.publishing_at(sent + Duration::from_millis(2001)));
        // An older confirmation never shortens a newer term.
        e.confirm(sent + Duration::from_secs(1), deadline);
        e.confirm(sent, deadline);
        assert!(e.publishing_at(sent + Duration::from_millis(2900)));
    }
}
