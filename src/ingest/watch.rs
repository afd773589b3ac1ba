//! The watch side: on a single-threaded tokio runtime of its own thread, ask the API server for its
//! version, then keep kube-runtime watchers of Nodes and Pods feeding the cluster state, convert
//! every object into a compact record at the edge, back off on errors, re-list when the watch
//! itself is answered with 410 Gone (kube's watcher would retry the stale resourceVersion forever,
//! kube-rs/kube#1615), replay the local cache every resync period, and log sync progress.

use std::cell::Cell;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::runtime::watcher::{self, DefaultBackoff, Event};
use kube::{Api, Client};
use tokio::sync::Notify;

use crate::cache::Cache;
use crate::config::Config;
use crate::error::error_chain;
use crate::ingest::dra_objects::{SlimDeviceClass, SlimResourceClaim, SlimResourceSlice};
use crate::ingest::objects::{set_pod_accounting, SlimNode, SlimPod};
use crate::ingest::records::{node_record, pod_facts, Warned};
use crate::ingest::usage;
use crate::model::accounting::AccountingOptions;
use crate::model::health::{DeviceWatch, WatchKind};
use crate::model::state::ClusterState;

/// The scheduler's own pod selector: terminal pods never count.
pub const POD_FIELD_SELECTOR: &str = "status.phase!=Succeeded,status.phase!=Failed";

/// Events applied under one write lock, to keep lock traffic low during big lists.
const BATCH: usize = 256;

/// Runs the watches until `shutdown` completes. Must run on a current-thread runtime: pods are
/// accounted while they are decoded, under a context set on the decoding thread
/// (`ingest::objects::set_pod_accounting`).
pub async fn run(
    client: Client,
    config: Arc<Config>,
    cache: Arc<Cache>,
    shutdown: impl Future<Output = ()>,
) {
    if config.families.devices {
        // Readiness waits for the answer: figures without the devices would be published first.
        cache.health.set_device_watch(DeviceWatch::Probing);
    }
    let watches = async {
        let options = discover_gates(&client, &config, &cache).await;
        let gates = Gates {
            client: &client,
            config: &config,
            cache: &cache,
            options: Cell::new(options),
            restart: Notify::new(),
        };
        let pods = watch_pods(client.clone(), &config, &cache, &gates);
        let nodes = watch_nodes(client.clone(), &config, &cache);
        // Boxed: the poll's future would make every caller's future larger.
        let usage = Box::pin(usage::run(&client, &config, &cache));
        let devices = Box::pin(watch_devices(&client, &config, &cache));
        futures::join!(
            pods,
            nodes,
            resync(&config, &cache),
            gates.poll(),
            usage,
            devices
        );
    };
    // Progress is logged while the API server is still unreachable too.
    let work = async {
        futures::join!(watches, progress(&cache));
    };
    tokio::select! {
        () = work => {}
        () = shutdown => log::info!("stopping watches"),
    }
}

/// How often the API server's version is read again besides at every re-list (a control-plane
/// upgrade changes the scheduler's feature gates).
const VERSION_POLL: Duration = Duration::from_secs(600);

/// The deadline of a `/version` request made while the pod watch waits for it.
const VERSION_TIMEOUT: Duration = Duration::from_secs(10);

/// The accounting gates in force, following the API server's version: read again before every
/// pod re-list and every [`VERSION_POLL`]; a change outside a re-list restarts the pod watch, so
/// every cached pod is accounted again under the new gates.
struct Gates<'a> {
    client: &'a Client,
    config: &'a Config,
    cache: &'a Cache,
    options: Cell<AccountingOptions>,
    restart: Notify,
}

impl Gates<'_> {
    /// Reads the version; returns whether the gates changed (logged).
    async fn refresh(&self) -> bool {
        let info =
            match tokio::time::timeout(VERSION_TIMEOUT, self.client.apiserver_version()).await {
                Ok(Ok(info)) => info,
                Ok(Err(err)) => {
                    log::debug!(
                        "reading the api server version failed error={}",
                        error_chain(&err)
                    );
                    return false;
                }
                Err(_) => {
                    log::debug!("reading the api server version timed out");
                    return false;
                }
            };
        let options = gates_for(self.config, &info);
        if self.cache.health.server_version().as_deref() != Some(info.git_version.as_str()) {
            log::info!("api server version changed version={}", info.git_version);
            self.cache
                .health
                .set_server_version(info.git_version.clone());
        }
        let before = self.options.replace(options);
        if before == options {
            return false;
        }
        // Pods decoded from now on (the pod watch lists again) are accounted under the new gates.
        set_pod_accounting(&self.cache.resources, options);
        log::warn!(
            "accounting gates changed with the api server version={}: pod_level_resources={} \
             in_place_pod_vertical_scaling={} in_place_pod_level_resources_vertical_scaling={} \
             status_max_of_sums={}; every pod is accounted again",
            info.git_version,
            options.pod_level_resources,
            options.use_status_resources,
            options.pod_level_status,
            options.max_of_sums
        );
        true
    }

    /// At the start of a (re-)list (`Init` in `batch`) reads the version again. Pods are
    /// accounted as they are decoded: when the gates changed and this batch already holds pods
    /// decoded under the old ones (a streaming list delivers its first objects with `Init`), the
    /// watch lists again under the new ones.
    async fn refresh_at_list<K, E>(&self, batch: &[Result<Event<K>, E>]) {
        if batch.iter().any(|e| matches!(e, Ok(Event::Init)))
            && self.refresh().await
            && batch
                .iter()
                .any(|e| matches!(e, Ok(Event::InitApply(_) | Event::Apply(_))))
        {
            self.restart.notify_one();
        }
    }

    /// Reads the version every [`VERSION_POLL`]; a change restarts the pod watch.
    async fn poll(&self) {
        loop {
            tokio::time::sleep(VERSION_POLL).await;
            if self.refresh().await {
                self.restart.notify_one();
            }
        }
    }
}

/// The gates for a server version, as the flags resolve them.
fn gates_for(
    config: &Config,
    info: &k8s_openapi::apimachinery::pkg::version::Info,
) -> AccountingOptions {
    let minor = info
        .minor
        .trim_end_matches(|c: char| !c.is_ascii_digit())
        .parse::<u32>()
        .ok();
    AccountingOptions {
        pod_level_resources: config.pod_level_resources.resolve(minor, 34),
        use_status_resources: config.in_place_resize.resolve(minor, 33),
        pod_level_status: config.pod_level_resize.resolve(minor, 36),
        max_of_sums: config.max_of_sums.resolve(minor, 37),
    }
}

/// Calls `/version` until it answers, logs it, and resolves the accounting feature gates.
async fn discover_gates(client: &Client, config: &Config, cache: &Cache) -> AccountingOptions {
    let mut backoff = Backoff::default();
    let info = loop {
        match client.apiserver_version().await {
            Ok(info) => {
                log::info!(
                    "connected to the api server version={} platform={}",
                    info.git_version,
                    info.platform
                );
                cache.health.set_server_version(info.git_version.clone());
                cache.health.set_blocker(None);
                break info;
            }
            Err(err) => {
                let message = format!("api server not reachable: {}", error_chain(&err));
                log::warn!("{message}");
                cache.health.set_blocker(Some(message));
                backoff.wait().await;
            }
        }
    };
    let options = gates_for(config, &info);
    log::info!(
        "accounting gates pod_level_resources={} in_place_pod_vertical_scaling={} \
         in_place_pod_level_resources_vertical_scaling={} status_max_of_sums={}",
        options.pod_level_resources,
        options.use_status_resources,
        options.pod_level_status,
        options.max_of_sums
    );
    options
}

fn watcher_config(config: &Config) -> watcher::Config {
    let wc = watcher::Config {
        page_size: config.list_page_size,
        ..watcher::Config::default()
    };
    if config.streaming_list {
        wc.streaming_lists()
    } else {
        wc
    }
}

async fn watch_pods(client: Client, config: &Config, cache: &Cache, gates: &Gates<'_>) {
    let api: Api<SlimPod> = Api::all(client);
    let wc = watcher_config(config).fields(POD_FIELD_SELECTOR);
    let mut warned = Warned::default();
    // Pods are accounted while they are decoded, on this thread (`ingest::objects`).
    set_pod_accounting(&cache.resources, gates.options.get());
    run_watch(
        api,
        wc,
        cache,
        WatchKind::Pods,
        Some(gates),
        |state, event, warned: &mut Warned| {
            match event {
                Event::Init => state.begin_pod_relist(),
                Event::InitApply(mut pod) => {
                    let facts = pod_facts(&mut pod, cache, warned);
                    state.relist_pod(pod.key(), facts);
                }
                Event::InitDone => state.finish_pod_relist(),
                Event::Apply(mut pod) => {
                    let facts = pod_facts(&mut pod, cache, warned);
                    state.apply_pod(pod.key(), facts);
                }
                Event::Delete(pod) => state.delete_pod(pod.key()),
            }
            state.pod_count() as u64
        },
        &mut warned,
    )
    .await;
}

async fn watch_nodes(client: Client, config: &Config, cache: &Cache) {
    let api: Api<SlimNode> = Api::all(client);
    let mut wc = watcher_config(config);
    if let Some(selector) = &config.node_selector {
        wc = wc.labels(selector);
    }
    let mut warned = Warned::default();
    let convert = |node: &SlimNode, warned: &mut Warned| node_record(node, cache, warned);
    run_watch(
        api,
        wc,
        cache,
        WatchKind::Nodes,
        None,
        |state, event, warned: &mut Warned| {
            match event {
                Event::Init => state.begin_node_relist(),
                Event::InitApply(node) => {
                    let name = node.metadata.name.clone().unwrap_or_default();
                    state.relist_node(&name, convert(&node, warned));
                }
                Event::InitDone => state.finish_node_relist(),
                Event::Apply(node) => {
                    let name = node.metadata.name.clone().unwrap_or_default();
                    state.apply_node(&name, convert(&node, warned));
                }
                Event::Delete(node) => {
                    state.delete_node(node.metadata.name.as_deref().unwrap_or_default());
                }
            }
            state.node_count() as u64
        },
        &mut warned,
    )
    .await;
}

/// Watches the DRA objects when `resource.k8s.io/v1` is served and readable; otherwise logs one
/// warning and leaves them off (the exporter runs as without DRA).
async fn watch_devices(client: &Client, config: &Config, cache: &Cache) {
    if !config.families.devices {
        return;
    }
    if let Err(warning) = probe_devices(client).await {
        log::warn!("{warning}");
        cache.health.set_device_watch(DeviceWatch::Off);
        return;
    }
    log::info!("watching resource.k8s.io/v1 resourceslices, resourceclaims and deviceclasses");
    cache.write().track_devices(
        config
            .resources
            .names()
            .iter()
            .map(ToString::to_string)
            .collect(),
    );
    cache.health.set_device_watch(DeviceWatch::On);
    futures::join!(
        watch_slices(client, config, cache),
        watch_claims(client, config, cache),
        watch_classes(client, config, cache)
    );
}

async fn watch_slices(client: &Client, config: &Config, cache: &Cache) {
    let api: Api<SlimResourceSlice> = Api::all(client.clone());
    let apply = |state: &mut ClusterState, event: Event<SlimResourceSlice>, (): &mut ()| {
        let d = state.devices_mut();
        match event {
            Event::Init => d.begin_slice_relist(),
            Event::InitApply(s) => {
                let (name, input) = s.into_parts();
                d.relist_slice(&name, input);
            }
            Event::InitDone => d.finish_slice_relist(),
            Event::Apply(s) => {
                let (name, input) = s.into_parts();
                d.apply_slice(&name, input);
            }
            Event::Delete(s) => d.delete_slice(s.name()),
        }
        d.object_counts().0 as u64
    };
    let wc = watcher_config(config);
    run_watch(
        api,
        wc,
        cache,
        WatchKind::ResourceSlices,
        None,
        apply,
        &mut (),
    )
    .await;
}

async fn watch_claims(client: &Client, config: &Config, cache: &Cache) {
    let api: Api<SlimResourceClaim> = Api::all(client.clone());
    let apply = |state: &mut ClusterState, event: Event<SlimResourceClaim>, (): &mut ()| {
        let d = state.devices_mut();
        match event {
            Event::Init => d.begin_claim_relist(),
            Event::InitApply(c) => d.relist_claim(&c.key(), &c.input()),
            Event::InitDone => d.finish_claim_relist(),
            Event::Apply(c) => d.apply_claim(&c.key(), &c.input()),
            Event::Delete(c) => d.delete_claim(&c.key()),
        }
        d.object_counts().1 as u64
    };
    let wc = watcher_config(config);
    run_watch(
        api,
        wc,
        cache,
        WatchKind::ResourceClaims,
        None,
        apply,
        &mut (),
    )
    .await;
}

async fn watch_classes(client: &Client, config: &Config, cache: &Cache) {
    let api: Api<SlimDeviceClass> = Api::all(client.clone());
    let apply = |state: &mut ClusterState, event: Event<SlimDeviceClass>, (): &mut ()| {
        let d = state.devices_mut();
        match event {
            Event::Init => d.begin_class_relist(),
            Event::InitApply(c) => d.relist_class(c.name(), &c.input()),
            Event::InitDone => d.finish_class_relist(),
            Event::Apply(c) => d.apply_class(c.name(), &c.input()),
            Event::Delete(c) => d.delete_class(c.name()),
        }
        d.object_counts().2 as u64
    };
    let wc = watcher_config(config);
    run_watch(
        api,
        wc,
        cache,
        WatchKind::DeviceClasses,
        None,
        apply,
        &mut (),
    )
    .await;
}

/// Attempts at asking whether the DRA objects can be watched before running without them
/// (one to three minutes with the backoff): readiness waits for the answer, and a broken
/// `resource.k8s.io` must not hold the node and pod figures back for ever.
const PROBE_ATTEMPTS: u32 = 8;

/// Whether the DRA objects can be watched: `Err` with the warning to log when the API group is
/// not served (404), a list is forbidden (403), or the question found no answer in
/// [`PROBE_ATTEMPTS`] (other failures are retried with backoff).
async fn probe_devices(client: &Client) -> Result<(), String> {
    let mut backoff = Backoff::default();
    let mut attempt = 1;
    loop {
        match probe_devices_once(client).await {
            Ok(answer) => return answer,
            Err(err) if attempt >= PROBE_ATTEMPTS => {
                return Err(format!(
                    "devices: no answer whether resource.k8s.io/v1 is served after {attempt} \
                     attempts ({err}); no device figures until the exporter restarts"
                ));
            }
            Err(err) => {
                log::warn!("asking whether resource.k8s.io/v1 is served failed error={err}");
                attempt += 1;
                backoff.wait().await;
            }
        }
    }
}

/// Lists one object of `K` at cluster scope under the probe's deadline: the list's error, if
/// any; `Err` when it timed out.
async fn list_one<K>(client: &Client) -> Result<Option<kube::Error>, String>
where
    K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let lp = kube::api::ListParams::default().limit(1);
    tokio::time::timeout(VERSION_TIMEOUT, Api::<K>::all(client.clone()).list(&lp))
        .await
        .map(Result::err)
        .map_err(|e| format!("timed out ({e})"))
}

/// One probe: `Ok(answer)` when the API server said, `Err` when it could not be asked.
async fn probe_devices_once(client: &Client) -> Result<Result<(), String>, String> {
    let group = tokio::time::timeout(
        VERSION_TIMEOUT,
        client.list_api_group_resources("resource.k8s.io/v1"),
    )
    .await
    .map_err(|_| "timed out".to_owned())?;
    match group {
        Ok(list) => {
            let served = ["resourceslices", "resourceclaims", "deviceclasses"];
            if let Some(missing) = served
                .iter()
                .find(|r| !list.resources.iter().any(|s| s.name == **r))
            {
                return Ok(Err(format!(
                    "devices: resource.k8s.io/v1 does not serve {missing}; no device figures"
                )));
            }
        }
        Err(kube::Error::Api(s)) if s.code == 404 => {
            return Ok(Err(
                "devices: the API server does not serve resource.k8s.io/v1 (DRA is GA from \
                 Kubernetes 1.34); no device figures"
                    .to_owned(),
            ));
        }
        Err(err) => return Err(error_chain(&err)),
    }
    let checks = [
        (
            "resourceslices",
            list_one::<SlimResourceSlice>(client).await?,
        ),
        (
            "resourceclaims",
            list_one::<SlimResourceClaim>(client).await?,
        ),
        ("deviceclasses", list_one::<SlimDeviceClass>(client).await?),
    ];
    for (resource, err) in checks {
        match err {
            None => {}
            Some(kube::Error::Api(s)) if s.code == 403 => {
                return Ok(Err(format!(
                    "devices: forbidden: list {resource} in resource.k8s.io at cluster scope \
                     (grant list and watch on resourceslices, resourceclaims and deviceclasses: \
                     manifests/dra/clusterrole.yaml); no device figures ({})",
                    s.message
                )));
            }
            Some(err) => return Err(request_sentence(resource, "list", &err)),
        }
    }
    Ok(Ok(()))
}

/// Drives one watcher forever: applies its events in batches, counts them, backs off on errors,
/// and starts a fresh watcher (a full re-list) when the watch request itself gets 410 Gone or
/// the `gates` ask for it. With `gates`, the API server's version is read again before every
/// list is applied, so a re-list runs under the gates of the server that serves it.
async fn run_watch<K, W>(
    api: Api<K>,
    wc: watcher::Config,
    cache: &Cache,
    kind: WatchKind,
    gates: Option<&Gates<'_>>,
    mut apply: impl FnMut(&mut ClusterState, Event<K>, &mut W) -> u64,
    extra: &mut W,
) where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
    K::DynamicType: Default,
{
    let resource = kind.as_str();
    let mut backoff = Backoff::default();
    loop {
        cache
            .metrics
            .watch_restarts
            .with_label_values(&[resource])
            .inc();
        let mut stream = watcher(api.clone(), wc.clone()).boxed().ready_chunks(BATCH);
        let mut pause = true;
        'events: loop {
            let restart = async {
                match gates {
                    Some(g) => g.restart.notified().await,
                    None => std::future::pending().await,
                }
            };
            let batch = tokio::select! {
                batch = stream.next() => batch,
                () = restart => {
                    log::info!("re-listing under the new accounting gates resource={resource}");
                    pause = false;
                    break 'events;
                }
            };
            let Some(batch) = batch else { break 'events };
            if let Some(g) = gates {
                g.refresh_at_list(&batch).await;
            }
            let mut errors = Vec::new();
            {
                let mut state = cache.write();
                let mut objects = None;
                for item in batch {
                    match item {
                        Ok(event) => {
                            let label = event_label(&event);
                            match &event {
                                Event::Init => cache.health.list_started(kind),
                                Event::InitApply(_) => cache.health.listed(kind, 1),
                                _ => {}
                            }
                            let done = matches!(event, Event::InitDone);
                            objects = Some(apply(&mut state, event, extra));
                            cache
                                .metrics
                                .watch_events
                                .with_label_values(&[resource, label])
                                .inc();
                            if done {
                                cache.health.synced(kind);
                                log::info!("{resource} listed objects={}", objects.unwrap_or(0));
                            }
                        }
                        Err(err) => errors.push(err),
                    }
                }
                state.settle();
                if let Some(objects) = objects {
                    cache.health.applied(kind, objects);
                    backoff.reset();
                }
            }
            for err in errors {
                let (reason, relist) = classify(&err);
                cache
                    .metrics
                    .watch_errors
                    .with_label_values(&[resource, reason])
                    .inc();
                let message = describe(kind, &err);
                if reason == "forbidden"
                    && WatchKind::DEVICES.contains(&kind)
                    && !cache.health.watch(kind).synced()
                {
                    // E.g. list granted but not watch (a streaming list is a watch): the probe
                    // could not tell. Run without devices rather than never become ready.
                    log::warn!(
                        "devices: {message}; no device figures until the exporter restarts \
                         (grant list and watch: manifests/dra/clusterrole.yaml)"
                    );
                    cache.health.set_device_watch(DeviceWatch::Off);
                    return;
                }
                log::warn!("watch failed resource={resource} error={message}");
                cache.health.failed(kind, message);
                if relist {
                    log::warn!("watch answered 410 Gone; re-listing resource={resource}");
                    break 'events;
                }
                backoff.wait().await;
            }
        }
        // A restart for new gates needs no pause; an ended stream or a 410 backs off.
        if pause {
            backoff.wait().await;
        }
    }
}

fn watcher<K>(
    api: Api<K>,
    wc: watcher::Config,
) -> impl futures::Stream<Item = watcher::Result<Event<K>>>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
    K::DynamicType: Default,
{
    watcher::watcher(api, wc)
}

fn event_label<K>(event: &Event<K>) -> &'static str {
    match event {
        Event::Init => "init",
        Event::InitApply(_) => "init_apply",
        Event::InitDone => "init_done",
        Event::Apply(_) => "apply",
        Event::Delete(_) => "delete",
    }
}

/// A short reason label for metrics, and whether the watcher must be replaced by a re-list.
fn classify(err: &watcher::Error) -> (&'static str, bool) {
    let status = match err {
        watcher::Error::InitialListFailed(e)
        | watcher::Error::WatchStartFailed(e)
        | watcher::Error::WatchFailed(e) => match e {
            kube::Error::Api(status) => Some(status.code),
            _ => None,
        },
        watcher::Error::WatchError(status) => Some(status.code),
        watcher::Error::NoResourceVersion => return ("no_resource_version", false),
    };
    let relist =
        matches!(err, watcher::Error::WatchStartFailed(kube::Error::Api(s)) if s.code == 410);
    let reason = match status {
        Some(410) => "expired",
        Some(403) => "forbidden",
        Some(401) => "unauthorized",
        Some(429) => "throttled",
        Some(code) if code >= 500 => "server_error",
        Some(_) => "api_error",
        None => "connection",
    };
    (reason, relist)
}

/// One sentence an operator can act on: the resource, what the API server said (its reason and
/// message, never a dump of the Status), the verb and scope, and what to do about a refusal.
fn describe(kind: WatchKind, err: &watcher::Error) -> String {
    let resource = kind.as_str();
    let (verb, status) = match err {
        watcher::Error::InitialListFailed(e) => ("list", api_status(e)),
        watcher::Error::WatchStartFailed(e) | watcher::Error::WatchFailed(e) => {
            ("watch", api_status(e))
        }
        watcher::Error::WatchError(s) => ("watch", Some(&**s)),
        watcher::Error::NoResourceVersion => {
            return format!("{resource}: the list answer carried no resourceVersion");
        }
    };
    let Some(status) = status else {
        return format!("{resource}: api server not reachable: {}", error_chain(err));
    };
    status_sentence(resource, verb, status.code, &status.reason, &status.message)
}

/// `describe` for a single request (leader election, `--check`): `resource` and `verb` name it.
pub fn request_sentence(resource: &str, verb: &str, err: &kube::Error) -> String {
    match api_status(err) {
        Some(s) => status_sentence(resource, verb, s.code, &s.reason, &s.message),
        None => format!("{resource}: api server not reachable: {}", error_chain(err)),
    }
}

fn api_status(err: &kube::Error) -> Option<&kube::core::Status> {
    match err {
        kube::Error::Api(status) => Some(status),
        _ => None,
    }
}

/// The sentence for an API error Status.
fn status_sentence(resource: &str, verb: &str, code: u16, reason: &str, message: &str) -> String {
    let message = if message.is_empty() {
        String::new()
    } else {
        format!(" ({message})")
    };
    match code {
        403 if resource == "leases" => format!(
            "{resource}: forbidden: {verb} the Lease (grant get, create and update on leases: \
             manifests/ha/role.yaml){message}"
        ),
        403 => format!(
            "{resource}: forbidden: {verb} {resource} at cluster scope (grant list and watch on \
             {resource}: manifests/clusterrole.yaml){message}"
        ),
        401 => format!(
            "{resource}: unauthorized: the API server refused our credentials (check the service \
             account token or the kubeconfig user){message}"
        ),
        410 => format!(
            "{resource}: expired: the {verb}'s resourceVersion is too old; listing again{message}"
        ),
        429 => format!("{resource}: throttled: the API server asked us to slow down{message}"),
        code => {
            let reason = if reason.is_empty() { "error" } else { reason };
            format!(
                "{resource}: {} ({code}) on {verb}{message}",
                reason.to_lowercase()
            )
        }
    }
}

/// Replays the local cache every resync period: recomputes the sums from the stored records and
/// reports drift. Makes no API call.
async fn resync(config: &Config, cache: &Cache) {
    let Some(period) = config.resync_period else {
        return;
    };
    let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let drifted = cache.write().resync();
        if drifted.is_empty() {
            log::debug!("resync found no drift");
        } else {
            cache.metrics.resync_drift.inc_by(drifted.len() as u64);
            log::warn!(
                "resync found drift between running sums and records nodes={}",
                drifted.join(",")
            );
        }
    }
}

/// Logs every 5 s which watch is still syncing, until both are.
async fn progress(cache: &Cache) {
    let started = Instant::now();
    let mut interval = tokio::time::interval(Duration::from_secs(5));
    interval.tick().await;
    loop {
        interval.tick().await;
        match cache.health.readiness() {
            Ok(()) => return,
            Err(reason) => {
                let h = &cache.health;
                log::info!(
                    "waiting for first sync after {}s nodes_listed={} pods_listed={} reason={reason}",
                    started.elapsed().as_secs(),
                    h.watch(WatchKind::Nodes).listed(),
                    h.watch(WatchKind::Pods).listed()
                );
            }
        }
    }
}

/// kube-runtime's default watcher backoff (0.8 s doubling to 30 s, with jitter), honouring the
/// API server's `Retry-After`.
#[derive(Default)]
struct Backoff(DefaultBackoff);

impl Backoff {
    fn reset(&mut self) {
        kube::runtime::utils::Backoff::reset(&mut self.0);
    }

    /// The next delay: kube-runtime's, at least any `Retry-After`.
    fn step(&mut self) -> Duration {
        let delay = self.0.next().unwrap_or(Duration::from_secs(30));
        crate::ingest::client::retry_after_remaining().map_or(delay, |ra| delay.max(ra))
    }

    async fn wait(&mut self) {
        let delay = self.step();
        log::debug!("backing off delay_ms={}", delay.as_millis());
        tokio::time::sleep(delay).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_its_cap_and_resets() {
        let mut b = Backoff::default();
        let first = b.step();
        assert!(first >= Duration::from_millis(800) && first <= Duration::from_millis(1600));
        let steps: Vec<Duration> = (0..20).map(|_| b.step()).collect();
        assert!(steps.iter().all(|d| *d <= Duration::from_secs(60)));
        assert!(steps[15..].iter().all(|d| *d >= Duration::from_secs(30)));
        b.reset();
        assert!(b.step() <= Duration::from_millis(1600));
    }

    #[test]
    fn only_a_410_on_the_watch_request_forces_a_relist() {
        let gone = kube::core::Status::failure("too old", "Expired").with_code(410);
        let err = watcher::Error::WatchStartFailed(kube::Error::Api(gone.clone().boxed()));
        assert_eq!(classify(&err), ("expired", true));
        let in_stream = watcher::Error::WatchError(gone.boxed());
        assert_eq!(classify(&in_stream), ("expired", false));
        let forbidden = kube::core::Status::failure("no", "Forbidden").with_code(403);
        let err = watcher::Error::InitialListFailed(kube::Error::Api(forbidden.boxed()));
        assert_eq!(classify(&err), ("forbidden", false));
        assert_eq!(
            describe(WatchKind::Pods, &err),
            "pods: forbidden: list pods at cluster scope (grant list and watch on pods: \
             manifests/clusterrole.yaml) (no)"
        );
    }
}
