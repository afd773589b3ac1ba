//! Leader election on a `coordination.k8s.io/v1` Lease, client-go style: every retry period a
//! candidate reads the Lease; it takes it over when it is free or its holder has not renewed it
//! within the lease duration (as observed on our own clock, so clock skew between replicas does
//! not matter); the leader renews it and steps down when it cannot renew within the renew
//! deadline; on shutdown the leader releases it so a standby takes over at once. Every replica
//! keeps its watch cache warm; only the leader publishes the binpacking series.
//!
//! The pure rule ([`decide`]) and the leadership flag are in `model::election`; [`run`] is the
//! thin I/O loop around them.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::PostParams;
use kube::{Api, Client};

use crate::ingest::watch::request_sentence;
use crate::model::election::{
    decide, expires_at, Decision, ElectionConfig, LeaderState, LeaseView, Observed,
};

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

/// Why a round did not complete.
#[derive(Debug, thiserror::Error)]
enum RoundError {
    /// The API server answered with an error (said in one sentence, not a Status dump).
    #[error("{}", request_sentence("leases", "update", .0))]
    Api(#[from] kube::Error),
    /// No answer within the request deadline.
    #[error("leases: no answer within {0:?}")]
    Timeout(Duration),
}

/// Runs one Lease request under the election's request deadline (shorter than the renew
/// deadline, so a hung connection cannot outlive a term).
async fn timed<T>(
    deadline: Duration,
    request: impl std::future::Future<Output = kube::Result<T>>,
) -> Result<T, RoundError> {
    match tokio::time::timeout(deadline, request).await {
        Ok(answer) => Ok(answer?),
        Err(_) => Err(RoundError::Timeout(deadline)),
    }
}

/// What a round found.
enum Outcome {
    /// We hold the Lease: the write that confirmed it was sent at this instant.
    Confirmed(Instant),
    /// Someone else holds it (or we may not take it yet); it expires then by our clock, if known.
    Following(Option<Instant>),
}

/// One round: read the Lease, decide, write. `may_acquire` is false while our cache is not
/// synced: we do not take a Lease we could not publish for.
async fn round(
    api: &Api<Lease>,
    config: &ElectionConfig,
    observed: &mut Option<Observed>,
    may_acquire: bool,
) -> Result<Outcome, RoundError> {
    let deadline = config.request_timeout;
    let current = timed(deadline, api.get_opt(&config.lease_name)).await?;
    let seen = current.as_ref().map(view);
    let decision = decide(seen.as_ref(), &config.identity, observed, Instant::now());
    let expiry = seen
        .as_ref()
        .and_then(|lease| expires_at(lease, observed.as_ref()));
    match (decision, current) {
        (Decision::Follow, _) => Ok(Outcome::Following(expiry)),
        (Decision::Create | Decision::Acquire, _) if !may_acquire => Ok(Outcome::Following(None)),
        (Decision::Create, _) | (_, None) => {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(config.lease_name.clone()),
                    namespace: Some(config.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(spec(config, None, 0)),
            };
            let sent = Instant::now();
            timed(deadline, api.create(&PostParams::default(), &lease)).await?;
            Ok(Outcome::Confirmed(sent))
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
            let sent = Instant::now();
            timed(
                deadline,
                api.replace(&config.lease_name, &PostParams::default(), &lease),
            )
            .await?;
            Ok(Outcome::Confirmed(sent))
        }
    }
}

/// Releases the Lease if we hold it, so a standby can take over without waiting.
async fn release(api: &Api<Lease>, config: &ElectionConfig) {
    let deadline = config.request_timeout;
    let Ok(Some(mut lease)) = timed(deadline, api.get_opt(&config.lease_name)).await else {
        return;
    };
    let mut spec = lease.spec.clone().unwrap_or_default();
    if spec.holder_identity.as_deref() != Some(config.identity.as_str()) {
        return;
    }
    spec.holder_identity = None;
    spec.lease_duration_seconds = Some(1);
    lease.spec = Some(spec);
    match timed(
        deadline,
        api.replace(&config.lease_name, &PostParams::default(), &lease),
    )
    .await
    {
        Ok(_) => log::info!("released the leader lease"),
        Err(err) => log::warn!("could not release the leader lease error={err}"),
    }
}

/// Runs the election until `shutdown` completes, then releases the Lease. A candidate takes the
/// Lease only when `ready()` (its cache is synced); a leader's term follows
/// [`LeaderState::confirm`], so it ends by itself when renewals stop succeeding.
pub async fn run(
    client: Client,
    config: ElectionConfig,
    state: &LeaderState,
    ready: impl Fn() -> bool,
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
        let mut leading = false;
        let mut next = Instant::now();
        loop {
            tokio::time::sleep_until(next.into()).await;
            let started = Instant::now();
            next = started + config.retry_period;
            match round(&api, &config, &mut observed, ready()).await {
                Ok(Outcome::Confirmed(sent)) => state.confirm(sent, config.renew_deadline),
                Ok(Outcome::Following(expiry)) => {
                    state.step_down();
                    // Act when the holder's Lease expires, not up to a retry period later.
                    if let Some(expiry) = expiry.filter(|e| *e > started) {
                        next = next.min(expiry);
                    }
                }
                Err(err) => {
                    // The term ends by itself one renew deadline after the last confirmation.
                    log::warn!("leader election round failed error={err}");
                }
            }
            let now = state.publishing();
            if leading && !now {
                log::warn!("the leader term ran out without a renewal; standing by");
            }
            leading = now;
        }
    };
    tokio::select! {
        () = work => {}
        () = shutdown => {
            if state.publishing() {
                state.step_down();
                release(&api, &config).await;
            }
        }
    }
}
