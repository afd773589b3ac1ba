//! The watch cache as the two sides see it: the cluster state behind one lock (written by the
//! watch thread, read by scrapes), the last usage poll (`--usage`), its health, the operational metrics, and the configuration
//! both sides need. Scrapes take the read lock only to copy a snapshot out (`serve::scrape`).

use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::model::election::LeaderState;
use crate::model::health::Health;
use crate::model::label_groups::LabelGroups;
use crate::model::resources::TrackedResources;
use crate::model::state::ClusterState;
use crate::model::usage::UsageTable;
use crate::self_metrics::SelfMetrics;

/// Shared between the watch thread and the HTTP workers (behind an `Arc`).
pub struct Cache {
    state: RwLock<ClusterState>,
    /// Watch liveness and readiness.
    pub health: Arc<Health>,
    /// Operational metrics.
    pub metrics: SelfMetrics,
    /// Tracked resources (the order of every per-resource vector).
    pub resources: TrackedResources,
    /// Label groups.
    pub label_groups: LabelGroups,
    /// Whether this replica publishes (leader election).
    pub leader: LeaderState,
    /// The last usage poll joined to the pods (`--usage`); `None` before one or without the API;
    /// with the number of tables set so far (which one it is).
    usage: RwLock<(u64, Option<Arc<UsageTable>>)>,
}

impl Cache {
    /// An empty cache.
    pub fn new(
        resources: TrackedResources,
        label_groups: LabelGroups,
        metrics: SelfMetrics,
        leader: LeaderState,
    ) -> Cache {
        Cache {
            state: RwLock::new(ClusterState::new(resources.len())),
            health: Arc::new(Health::new()),
            metrics,
            resources,
            label_groups,
            leader,
            usage: RwLock::new((0, None)),
        }
    }

    /// The last usage poll's result.
    pub fn usage(&self) -> Option<Arc<UsageTable>> {
        self.numbered_usage().map(|(_, table)| table)
    }

    /// The last usage poll's result and its number (a new table, a new number).
    pub fn numbered_usage(&self) -> Option<(u64, Arc<UsageTable>)> {
        let usage = self.usage.read().unwrap_or_else(PoisonError::into_inner);
        usage.1.clone().map(|table| (usage.0, table))
    }

    /// Replaces the usage poll's result (the watch thread, every `--usage-interval`).
    pub fn set_usage(&self, table: Option<Arc<UsageTable>>) {
        let mut usage = self.usage.write().unwrap_or_else(PoisonError::into_inner);
        *usage = (usage.0 + 1, table);
    }

    /// Write access for the watch thread. A poisoned lock is recovered: every state mutation
    /// completes before it could panic, and the next resync repairs any drift.
    pub fn write(&self) -> RwLockWriteGuard<'_, ClusterState> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Read access.
    pub fn read(&self) -> RwLockReadGuard<'_, ClusterState> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }
}
