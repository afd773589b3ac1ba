//! The watch cache as the two sides see it: the cluster state behind one lock (written by the
//! watch thread, read by scrapes), its health, the operational metrics, and the configuration
//! both sides need. Scrapes take the read lock only to copy a [`Snapshot`] out.

use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::accounting::TrackedResources;
use crate::buffers::Spares;
use crate::health::Health;
use crate::leader::LeaderState;
use crate::self_metrics::SelfMetrics;
use crate::snapshot::{LabelGroups, NodeFigures, Snapshot};
use crate::state::ClusterState;

/// Shared between the watch thread and the HTTP workers (behind an `Arc`).
pub struct Cache {
    state: RwLock<ClusterState>,
    /// Watch liveness and readiness.
    pub health: Health,
    /// Operational metrics.
    pub metrics: SelfMetrics,
    /// Tracked resources (the order of every per-resource vector).
    pub resources: TrackedResources,
    /// Label groups.
    pub label_groups: LabelGroups,
    /// Whether this replica publishes (leader election).
    pub leader: LeaderState,
    /// The node vector of the last recycled snapshot, for the next one.
    spare_nodes: Spares<NodeFigures>,
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
            health: Health::new(),
            metrics,
            resources,
            label_groups,
            leader,
            spare_nodes: Spares::new(1),
        }
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

    /// Copies the current figures out (holding the read lock only for the copy), with at most
    /// `pending_limit` pending pods' request vectors.
    pub fn snapshot(&self, pending_limit: usize) -> Snapshot {
        let spare = self.spare_nodes.take(0);
        Snapshot::take_into(&self.read(), &self.label_groups, pending_limit, spare)
    }

    /// Keeps a used snapshot's node vector (emptied, with its capacity) for the next snapshot.
    pub fn recycle(&self, snapshot: Snapshot) {
        self.spare_nodes.give_back(snapshot.nodes);
    }
}
