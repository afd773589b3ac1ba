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
        capacity::pending_limit(cache.read().counts().nodes)
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

/// Appends the binpacking families of `snapshot` to `out`.
pub fn encode(cache: &Cache, config: &Config, snapshot: &Snapshot, out: &mut String) {
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
            cache_age_seconds: Some(cache.health.cache_age().as_secs_f64()),
        },
        out,
    );
}
