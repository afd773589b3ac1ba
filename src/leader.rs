//! Leader election on a `coordination.k8s.io/v1` Lease, client-go style: every retry period a
//! candidate reads the Lease; it takes it over when it is free or its holder has not renewed it
//! within the lease duration (as observed on our own clock, so clock skew between replicas does
//! not matter); the leader renews it and steps down when it cannot renew within the renew
//! deadline; on shutdown the leader releases it so a standby takes over at once. Every replica
//! keeps its watch cache warm; only the leader publishes the binpacking series.
//!
//! [`decide`] is the pure rule; [`run`] is the thin I/O loop around it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::PostParams;
use kube::{Api, Client};

use crate::watch::error_chain;

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

    fn set_leader(&self, leader: bool) {
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

fn view(lease: &Lease) -> LeaseView {
    let spec = lease.spec.clone().unwrap_or_default();
    LeaseView {
        holder: spec.holder_identity.unwrap_or_default(),
        renew_time: spec.renew_time.map(|t| t.0.to_string()).unwrap_or_default(),
        duration: Duration::from_secs(
            u64::try_from(spec.lease_duration_seconds.unwrap_or(15).max(1)).unwrap_or(15),
        ),
        transitions: spec.lease_transitions.unwrap_or(0),
    }
}

fn spec(config: &ElectionConfig, acquired: Option<MicroTime>, transitions: i32) -> LeaseSpec {
    let now = MicroTime(Timestamp::now());
    LeaseSpec {
        holder_identity: Some(config.identity.clone()),
        lease_duration_seconds: Some(
            i32::try_from(config.lease_duration.as_secs().max(1)).unwrap_or(i32::MAX),
        ),
        acquire_time: Some(acquired.unwrap_or_else(|| now.clone())),
        renew_time: Some(now),
        lease_transitions: Some(transitions),
        ..LeaseSpec::default()
    }
}

/// One round: read the Lease, decide, write. Returns whether we lead after it.
async fn round(
    api: &Api<Lease>,
    config: &ElectionConfig,
    observed: &mut Option<Observed>,
) -> kube::Result<bool> {
    let current = api.get_opt(&config.lease_name).await?;
    let decision = decide(
        current.as_ref().map(view).as_ref(),
        &config.identity,
        observed,
        Instant::now(),
    );
    match (decision, current) {
        (Decision::Follow, _) => Ok(false),
        (Decision::Create, _) | (_, None) => {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(config.lease_name.clone()),
                    namespace: Some(config.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(spec(config, None, 0)),
            };
            api.create(&PostParams::default(), &lease).await?;
            Ok(true)
        }
        (decision, Some(mut lease)) => {
            let old = lease.spec.clone().unwrap_or_default();
            let transitions =
                old.lease_transitions.unwrap_or(0) + i32::from(decision == Decision::Acquire);
            let acquired = (decision == Decision::Renew)
                .then_some(old.acquire_time)
                .flatten();
            lease.spec = Some(spec(config, acquired, transitions));
            // The resourceVersion we read makes this a compare-and-swap: a 409 means someone
            // else wrote first.
            api.replace(&config.lease_name, &PostParams::default(), &lease)
                .await?;
            Ok(true)
        }
    }
}

/// Releases the Lease if we hold it, so a standby can take over without waiting.
async fn release(api: &Api<Lease>, config: &ElectionConfig) {
    let Ok(Some(mut lease)) = api.get_opt(&config.lease_name).await else {
        return;
    };
    let mut spec = lease.spec.clone().unwrap_or_default();
    if spec.holder_identity.as_deref() != Some(config.identity.as_str()) {
        return;
    }
    spec.holder_identity = None;
    spec.lease_duration_seconds = Some(1);
    lease.spec = Some(spec);
    match api
        .replace(&config.lease_name, &PostParams::default(), &lease)
        .await
    {
        Ok(_) => log::info!("released the leader lease"),
        Err(err) => log::warn!(
            "could not release the leader lease error={}",
            error_chain(&err)
        ),
    }
}

/// Runs the election until `shutdown` completes, then releases the Lease.
pub async fn run(
    client: Client,
    config: ElectionConfig,
    state: &LeaderState,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let api: Api<Lease> = Api::namespaced(client, &config.namespace);
    log::info!(
        "leader election on lease={}/{} identity={}",
        config.namespace,
        config.lease_name,
        config.identity
    );
    let work = async {
        let mut observed = None;
        let mut last_renewal: Option<Instant> = None;
        let mut tick = tokio::time::interval(config.retry_period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match round(&api, &config, &mut observed).await {
                Ok(leading) => {
                    last_renewal = leading.then(Instant::now);
                    state.set_leader(leading);
                }
                Err(err) => {
                    log::warn!("leader election round failed error={}", error_chain(&err));
                    // A leader keeps leading until the renew deadline passes without a renewal.
                    let expired = last_renewal.is_none_or(|t| t.elapsed() >= config.renew_deadline);
                    if expired {
                        last_renewal = None;
                        state.set_leader(false);
                    }
                }
            }
        }
    };
    tokio::select! {
        () = work => {}
        () = shutdown => {
            if state.publishing() {
                release(&api, &config).await;
            }
            state.set_leader(false);
        }
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
