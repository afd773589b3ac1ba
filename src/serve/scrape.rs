//! One scrape: copy a snapshot out of the cache, derive the capacity figures the configured
//! families need, and encode the binpacking exposition. Shared by `/metrics` and `--once`.

use std::sync::Arc;

use crate::cache::Cache;
use crate::config::Config;
use crate::model::usage::UsageTable;
use crate::serve::buffers::Spares;
use crate::serve::gzip::Deflated;
use crate::serve::node_text::{NodeText, Work};
use crate::views::capacity::{self, Capacity};
use crate::views::device_exposition;
use crate::views::exposition::{self, Layout, Options};
use crate::views::snapshot::{NodeFigures, Snapshot};
use flate2::CompressError;

/// The node vector of the last recycled snapshot, for the next one (at 5,000 nodes a 2.8 MB
/// vector: musl would map it fresh and fault every page of it on each scrape).
static SPARE_NODES: Spares<NodeFigures> = Spares::new(1);

/// A snapshot with as many pending pods as the pending estimate may consider.
pub fn snapshot(cache: &Cache, config: &Config) -> Snapshot {
    snapshot_with(cache, config, fresh_usage(cache, config).map(|(_, t)| t))
}

/// [`snapshot`] with the usage poll decided by the caller.
fn snapshot_with(cache: &Cache, config: &Config, usage: Option<Arc<UsageTable>>) -> Snapshot {
    let limit = if config.families.pending {
        capacity::pending_limit(cache.read().node_count())
    } else {
        0
    };
    let spare = SPARE_NODES.take(0);
    let namespace_groups = config.families.namespace_group && !config.label_groups.is_empty();
    let mut snapshot = Snapshot::take_into(
        &cache.read(),
        &cache.label_groups,
        limit,
        namespace_groups,
        spare,
    );
    if let Some(table) = usage {
        snapshot.attach_usage(&table);
    }
    snapshot
}

/// What the figures' text is a function of (with the configuration): equal keys, equal text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FiguresKey {
    /// [`ClusterState::generation`](crate::model::state::ClusterState::generation).
    pub generation: u64,
    /// The number of the usage poll joined, if a fresh one is.
    pub usage: Option<u64>,
}

/// The figures of the state as it is now: their key (read first, so the text is never older
/// than its key) and a function that renders their text with the kept node text, deflated when
/// asked ([`ReusedFigures::get`](crate::serve::reused_figures::ReusedFigures::get) calls it).
pub fn figures<'a>(
    cache: &'a Cache,
    config: &'a Config,
) -> (
    FiguresKey,
    impl FnOnce(&mut NodeText, bool, &mut Vec<u8>) -> Option<Deflated> + 'a,
) {
    let generation = cache.read().generation();
    let usage = fresh_usage(cache, config);
    let key = FiguresKey {
        generation,
        usage: usage.as_ref().map(|(poll, _)| *poll),
    };
    (
        key,
        move |nodes: &mut NodeText, deflated: bool, out: &mut Vec<u8>| {
            let snapshot = snapshot_with(cache, config, usage.map(|(_, t)| t));
            let (made, work) = encode_kept(config, &snapshot, nodes, deflated, out);
            recycle(snapshot);
            let blocks = &cache.metrics.scrape_node_blocks;
            let counts = [
                ("rendered", work.rendered),
                ("kept", work.blocks - work.rendered),
            ];
            for (source, n) in counts {
                blocks
                    .with_label_values(&[source])
                    .inc_by(u64::try_from(n).unwrap_or(u64::MAX));
            }
            made
        },
    )
}

/// The last usage poll, unless its newest sample is older than `--usage-max-age` (a metrics API
/// that stopped updating: no usage series rather than old ones presented as current).
fn fresh_usage(cache: &Cache, config: &Config) -> Option<(u64, Arc<UsageTable>)> {
    let max_age = config.usage?.max_age.as_secs_f64();
    cache
        .numbered_usage()
        .filter(|(_, t)| usage_age(t) <= max_age)
}

/// Seconds since the newest sample of a poll was measured (never negative: clocks differ).
fn usage_age(table: &UsageTable) -> f64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    #[allow(clippy::cast_precision_loss)]
    let newest = table.newest as f64;
    (now - newest).max(0.0)
}

/// Keeps a used snapshot's node vector (emptied, with its capacity) for the next snapshot.
pub fn recycle(snapshot: Snapshot) {
    SPARE_NODES.give_back(snapshot.nodes);
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

/// Whether this replica publishes the cache-derived series now: its watches completed their
/// first list, and it leads (or no election runs). Before that they would be zeros, not the
/// cluster; on a standby they would double every sum.
pub fn publishing(cache: &Cache) -> bool {
    cache.health.readiness().is_ok() && cache.leader.publishing()
}

/// Appends the binpacking families of `snapshot` to `out`. A replica that does not publish
/// ([`publishing`]) writes only the cache age (and `binpacking_leader_status` with an election).
pub fn encode(cache: &Cache, config: &Config, snapshot: &Snapshot, out: &mut Vec<u8>) {
    if encode_clock(cache, config, out) {
        encode_figures(config, snapshot, out);
    }
}

/// Appends the families that move with the clock alone (leader status, usage age, cache age),
/// the first ones of a scrape; whether the figures follow ([`publishing`]).
pub fn encode_clock(cache: &Cache, config: &Config, out: &mut Vec<u8>) -> bool {
    let publishing = publishing(cache);
    cache.metrics.leader.set(i64::from(publishing));
    if cache.leader.enabled() {
        exposition::encode_leader_status(cache.leader.publishing(), out);
    }
    if config.usage.is_some() {
        if let Some(table) = cache.usage() {
            exposition::encode_usage_age(usage_age(&table), out);
        }
    }
    exposition::encode_cache_age(cache.health.cache_age().as_secs_f64(), out);
    publishing
}

/// The figures' families as [`encode_figures`] writes them, with the node families' text from
/// `nodes` (kept per block of nodes, rendered again only where nodes changed): deflated when
/// `deflated`, else (or when deflating failed, logged) `None` with the plain text in `out`.
fn encode_kept(
    config: &Config,
    snapshot: &Snapshot,
    nodes: &mut NodeText,
    deflated: bool,
    out: &mut Vec<u8>,
) -> (Option<Deflated>, Work) {
    let (families, label_groups) = (config.families, !config.label_groups.is_empty());
    let (capacity, resources) = figures_inputs(config, snapshot);
    let capacity = capacity.as_ref();
    let opts = figures_options(config, &resources);
    let layout = Layout::new(snapshot, capacity, &opts);
    let mut work = Work::default();
    if deflated {
        let mut text = Vec::new();
        let mut deflate = || {
            exposition::encode_head(&layout, snapshot, capacity, &opts, &mut text);
            let mut whole = nodes.deflate(&text)?;
            if families.node {
                work = nodes.deflated(&layout, snapshot, capacity, &mut whole)?;
            }
            text.clear();
            device_exposition::encode(snapshot, families, label_groups, &mut text);
            whole.push(&nodes.deflate(&text)?);
            whole.shrink_to_fit();
            Ok::<_, CompressError>(whole)
        };
        match deflate() {
            Ok(whole) => return (Some(whole), work),
            Err(err) => log::warn!("gzip failed; sending plain text error={err}"),
        }
    }
    exposition::encode_head(&layout, snapshot, capacity, &opts, out);
    if families.node {
        work = nodes.plain(&layout, snapshot, capacity, out);
    }
    device_exposition::encode(snapshot, families, label_groups, out);
    (None, work)
}

/// Appends the figures' families: everything after the cache age, a function of the snapshot
/// and the configuration only.
fn encode_figures(config: &Config, snapshot: &Snapshot, out: &mut Vec<u8>) {
    let (capacity, resources) = figures_inputs(config, snapshot);
    let opts = figures_options(config, &resources);
    exposition::encode(snapshot, capacity.as_ref(), &opts, out);
    let label_groups = !config.label_groups.is_empty();
    device_exposition::encode(snapshot, config.families, label_groups, out);
}

/// What the figures' text is made of besides the snapshot: the capacity figures (when a
/// configured family needs them) and the tracked resource names.
fn figures_inputs(config: &Config, snapshot: &Snapshot) -> (Option<Capacity>, Vec<String>) {
    let capacity = config
        .families
        .need_capacity()
        .then(|| capacity::compute(snapshot, &config.shapes));
    (capacity, resource_names(config))
}

/// The exposition options of the figures (the cache age is written apart, with the clock).
fn figures_options<'a>(config: &Config, resources: &'a [String]) -> Options<'a> {
    Options {
        resources,
        families: config.families,
        label_groups: !config.label_groups.is_empty(),
        cache_age_seconds: None,
    }
}
