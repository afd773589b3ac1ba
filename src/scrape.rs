//! One scrape: copy a snapshot out of the cache, derive the capacity figures the configured
//! families need, and encode the binpacking exposition. Shared by `/metrics` and `--once`.

use crate::cache::Cache;
use crate::capacity;
use crate::cli::Config;
use crate::exposition::{self, Options};
use crate::snapshot::Snapshot;

/// A snapshot with as many pending pods as the pending estimate may consider.
pub fn snapshot(cache: &Cache, config: &Config) -> Snapshot {
    let limit = if config.families.pending {
        capacity::pending_limit(cache.read().node_count())
    } else {
        0
    };
    cache.snapshot(limit)
}

/// The tracked resource names, in vector order.
pub fn resource_names(config: &Config) -> Vec<String> {
    config
        .resources
        .names()
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// Appends the binpacking families of `snapshot` to `out`; a standby (leader election on, not
/// the leader) publishes only `binpacking_leader_status 0` and the cache age.
pub fn encode(cache: &Cache, config: &Config, snapshot: &Snapshot, out: &mut Vec<u8>) {
    let cache_age = cache.health.cache_age().as_secs_f64();
    if cache.leader.enabled() {
        let leading = cache.leader.publishing();
        exposition::encode_leader_status(leading, out);
        if !leading {
            exposition::encode_cache_age(cache_age, out);
            return;
        }
    }
    let families = config.families;
    let capacity = families
        .need_capacity()
        .then(|| capacity::compute(snapshot, &config.shapes));
    let resources = resource_names(config);
    exposition::encode(
        snapshot,
        capacity.as_ref(),
        &Options {
            resources: &resources,
            families,
            label_groups: !config.label_groups.is_empty(),
            cache_age_seconds: Some(cache_age),
        },
        out,
    );
}
