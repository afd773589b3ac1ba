//! Liveness of the watch cache, shared between the watch thread (writer) and the HTTP workers
//! (readers): per watch whether it completed a list, when it last heard from the API server, how
//! many objects it listed, and the last error; plus why the exporter is not ready. Atomics and
//! short mutexes only: readers never wait on I/O.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The watches: nodes and pods always, the DRA objects when `resource.k8s.io/v1` is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchKind {
    /// The Node watch.
    Nodes,
    /// The Pod watch.
    Pods,
    /// The ResourceSlice watch.
    ResourceSlices,
    /// The ResourceClaim watch.
    ResourceClaims,
    /// The DeviceClass watch.
    DeviceClasses,
}

impl WatchKind {
    /// The DRA watches.
    pub const DEVICES: [WatchKind; 3] = [
        WatchKind::ResourceSlices,
        WatchKind::ResourceClaims,
        WatchKind::DeviceClasses,
    ];

    /// Resource name, as in metrics labels and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            WatchKind::Nodes => "nodes",
            WatchKind::Pods => "pods",
            WatchKind::ResourceSlices => "resourceslices",
            WatchKind::ResourceClaims => "resourceclaims",
            WatchKind::DeviceClasses => "deviceclasses",
        }
    }
}

/// Whether the DRA objects are watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceWatch {
    /// Not watched (disabled, the API group is not served, or not permitted).
    Off = 0,
    /// Asking whether `resource.k8s.io/v1` is served and readable: readiness waits.
    Probing = 1,
    /// Watched: readiness waits for their first lists too.
    On = 2,
}

/// One watch's status.
#[derive(Debug, Default)]
pub struct WatchStatus {
    synced: AtomicBool,
    /// Milliseconds since the process start of the last data from the API server.
    last_activity_ms: AtomicU64,
    heard: AtomicBool,
    listed: AtomicU64,
    objects: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl WatchStatus {
    /// Whether the watch completed at least one full list.
    pub fn synced(&self) -> bool {
        self.synced.load(Ordering::Acquire)
    }

    /// The last error since the last successful event, if any.
    pub fn last_error(&self) -> Option<String> {
        lock(&self.last_error).clone()
    }

    /// Objects received in the ongoing (or last) list.
    pub fn listed(&self) -> u64 {
        self.listed.load(Ordering::Relaxed)
    }

    /// Objects stored after the last event.
    pub fn objects(&self) -> u64 {
        self.objects.load(Ordering::Relaxed)
    }
}

/// Health of the whole watch cache.
#[derive(Debug)]
pub struct Health {
    started: Instant,
    started_unix: f64,
    nodes: WatchStatus,
    pods: WatchStatus,
    devices: [WatchStatus; 3],
    device_watch: AtomicU8,
    blocker: Mutex<Option<String>>,
    server_version: Mutex<Option<String>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere cannot leave these values inconsistent: recover the guard.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Default for Health {
    fn default() -> Self {
        Health::new()
    }
}

impl Health {
    /// A fresh status: nothing synced, nothing heard.
    pub fn new() -> Health {
        Health {
            started: Instant::now(),
            started_unix: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
            nodes: WatchStatus::default(),
            pods: WatchStatus::default(),
            devices: Default::default(),
            device_watch: AtomicU8::new(DeviceWatch::Off as u8),
            blocker: Mutex::new(None),
            server_version: Mutex::new(None),
        }
    }

    /// Process start time, seconds since the Unix epoch.
    pub fn started_unix(&self) -> f64 {
        self.started_unix
    }

    /// The status of one watch.
    pub fn watch(&self, kind: WatchKind) -> &WatchStatus {
        match kind {
            WatchKind::Nodes => &self.nodes,
            WatchKind::Pods => &self.pods,
            WatchKind::ResourceSlices => &self.devices[0],
            WatchKind::ResourceClaims => &self.devices[1],
            WatchKind::DeviceClasses => &self.devices[2],
        }
    }

    /// Whether the DRA objects are watched.
    pub fn device_watch(&self) -> DeviceWatch {
        match self.device_watch.load(Ordering::Acquire) {
            1 => DeviceWatch::Probing,
            2 => DeviceWatch::On,
            _ => DeviceWatch::Off,
        }
    }

    /// Sets whether the DRA objects are watched.
    pub fn set_device_watch(&self, mode: DeviceWatch) {
        self.device_watch.store(mode as u8, Ordering::Release);
    }

    /// The watches readiness waits for.
    pub fn required(&self) -> Vec<WatchKind> {
        let mut kinds = vec![WatchKind::Nodes, WatchKind::Pods];
        if self.device_watch() == DeviceWatch::On {
            kinds.extend(WatchKind::DEVICES);
        }
        kinds
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Data arrived from the API server for this watch (an event, a bookmark, a list page).
    pub fn heard(&self, kind: WatchKind) {
        let w = self.watch(kind);
        w.last_activity_ms.store(self.now_ms(), Ordering::Relaxed);
        w.heard.store(true, Ordering::Relaxed);
    }

    /// A list started: the listed-objects counter restarts.
    pub fn list_started(&self, kind: WatchKind) {
        self.watch(kind).listed.store(0, Ordering::Relaxed);
    }

    /// `n` objects were received during a list.
    pub fn listed(&self, kind: WatchKind, n: u64) {
        self.watch(kind).listed.fetch_add(n, Ordering::Relaxed);
    }

    /// A list completed; the watch is synced from now on.
    pub fn synced(&self, kind: WatchKind) {
        self.heard(kind);
        self.watch(kind).synced.store(true, Ordering::Release);
    }

    /// Events were applied; `objects` is the new stored count. Clears the watch's last error.
    pub fn applied(&self, kind: WatchKind, objects: u64) {
        let w = self.watch(kind);
        w.objects.store(objects, Ordering::Relaxed);
        let mut err = lock(&w.last_error);
        if err.is_some() {
            *err = None;
        }
    }

    /// The watch failed; the message is shown by `/readyz` and `/sync` until the next success.
    pub fn failed(&self, kind: WatchKind, message: String) {
        *lock(&self.watch(kind).last_error) = Some(message);
    }

    /// Something blocks every watch (e.g. the API server is unreachable); `None` clears it.
    pub fn set_blocker(&self, message: Option<String>) {
        *lock(&self.blocker) = message;
    }

    /// The API server's version, once known.
    pub fn set_server_version(&self, version: String) {
        *lock(&self.server_version) = Some(version);
    }

    /// The API server's version, if known.
    pub fn server_version(&self) -> Option<String> {
        lock(&self.server_version).clone()
    }

    /// Seconds since a watch last heard from the API server (the stalest of those readiness waits
    /// for: nodes, pods and, when watched, the DRA objects); time since
    /// start for a watch that never heard anything.
    pub fn cache_age(&self) -> Duration {
        let now = self.now_ms();
        let age = |w: &WatchStatus| now.saturating_sub(w.last_activity_ms.load(Ordering::Relaxed));
        // Every watch the figures depend on: nodes, pods and, when watched, the DRA objects.
        let stalest = self
            .required()
            .into_iter()
            .map(|k| age(self.watch(k)))
            .max()
            .unwrap_or(0);
        Duration::from_millis(stalest)
    }

    /// Seconds since one watch last heard from the API server.
    pub fn age_of(&self, kind: WatchKind) -> Duration {
        let w = self.watch(kind);
        Duration::from_millis(
            self.now_ms()
                .saturating_sub(w.last_activity_ms.load(Ordering::Relaxed)),
        )
    }

    /// Whether this watch ever heard from the API server.
    pub fn ever_heard(&self, kind: WatchKind) -> bool {
        self.watch(kind).heard.load(Ordering::Relaxed)
    }

    /// `Ok` once every required watch completed its first list (and from then on: staleness is reported
    /// by `binpacking_cache_age_seconds`, not by dropping the target); otherwise why not.
    pub fn readiness(&self) -> Result<(), String> {
        let mut reasons = Vec::new();
        if self.device_watch() == DeviceWatch::Probing {
            reasons.push("asking whether resource.k8s.io/v1 is served".to_owned());
        }
        for kind in self.required() {
            let w = self.watch(kind);
            if !w.synced() {
                let mut reason =
                    format!("{} watch has not completed its first list", kind.as_str());
                if let Some(err) = w.last_error() {
                    reason.push_str(": ");
                    reason.push_str(&err);
                }
                reasons.push(reason);
            }
        }
        if reasons.is_empty() {
            return Ok(());
        }
        if let Some(blocker) = lock(&self.blocker).clone() {
            reasons.insert(0, blocker);
        }
        Err(reasons.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_after_both_lists_and_reasons_name_the_watch_and_error() {
        let h = Health::new();
        h.failed(
            WatchKind::Pods,
            "forbidden: cannot list resource \"pods\"".into(),
        );
        let err = h.readiness().unwrap_err();
        assert!(
            err.contains("nodes watch") && err.contains("pods watch"),
            "{err}"
        );
        assert!(err.contains("cannot list resource \"pods\""), "{err}");
        h.synced(WatchKind::Nodes);
        h.synced(WatchKind::Pods);
        assert!(h.readiness().is_ok());
        h.failed(WatchKind::Pods, "connection refused".into());
        assert!(h.readiness().is_ok(), "stays ready after the first sync");
        h.applied(WatchKind::Pods, 3);
        assert_eq!(h.watch(WatchKind::Pods).last_error(), None);
    }

    #[test]
    fn readiness_waits_for_the_device_watches_only_while_they_are_probed_or_on() {
        let h = Health::new();
        h.synced(WatchKind::Nodes);
        h.synced(WatchKind::Pods);
        assert!(h.readiness().is_ok());
        h.set_device_watch(DeviceWatch::Probing);
        assert!(h.readiness().unwrap_err().contains("resource.k8s.io/v1"));
        h.set_device_watch(DeviceWatch::On);
        h.synced(WatchKind::ResourceSlices);
        h.synced(WatchKind::DeviceClasses);
        let err = h.readiness().unwrap_err();
        assert!(err.contains("resourceclaims watch"), "{err}");
        h.synced(WatchKind::ResourceClaims);
        assert!(h.readiness().is_ok());
        h.set_device_watch(DeviceWatch::Off);
        assert!(h.readiness().is_ok());
    }

    #[test]
    fn cache_age_is_that_of_the_stalest_watch() {
        let h = Health::new();
        std::thread::sleep(Duration::from_millis(30));
        h.heard(WatchKind::Pods);
        assert!(h.cache_age() >= Duration::from_millis(30));
        assert!(h.age_of(WatchKind::Pods) < Duration::from_millis(30));
        h.heard(WatchKind::Nodes);
        assert!(h.cache_age() < Duration::from_millis(30));
    }
}
