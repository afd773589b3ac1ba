//! The node families' text kept between scrapes, in blocks of nodes, and encoded again only for
//! the blocks whose nodes' figures changed (kube-state-metrics keeps rendered bytes per object
//! for the same reason). A scrape after a change then renders and deflates the blocks of the
//! nodes it touched and copies the rest: its cost grows with the changed nodes, not all nodes.
//!
//! A node's lines are spread over every node family (the text format keeps a family's series
//! together), so a block keeps its lines of each family apart: the body is, family by family,
//! the header and then every block's lines of that family, in node order. Blocks end where a
//! node's name hashes to a boundary (about one in [`BLOCK_NODES`]), so a node added or removed
//! changes its own block only, not every block after it. A block is kept while it holds the
//! same nodes with equal figures under the same [`Layout`]: the text of a node is a function of
//! these alone, so the kept text is the text a full render would write (tested byte for byte).
//! One family is not kept: `binpacking_node_shape_fit` includes the shape of the cluster's
//! average pod, which moves with every pod, so its lines (one per node and shape) are rendered
//! whole for every body.
//!
//! Each block keeps the encodings scrapes ask for: where its lines of each family are in the
//! last plain figures' text (the text is the one kept for reuse, not a second copy), and each
//! family's lines deflated on their own ([`Deflated`], spliced into the body's one gzip member). A block of ~128 nodes'
//! lines of one family is tens of kilobytes, more than deflate's 32 KiB window, so deflating
//! blocks apart costs little size against deflating the whole text at once.

use std::ops::Range;

use std::sync::Arc;

use flate2::{Compress, CompressError};

use crate::serve::buffers::{SharedBody, SPARES};
use crate::serve::gzip::{self, Deflated};
use crate::views::capacity::Capacity;
use crate::views::catalogue::{self, Family};
use crate::views::exposition::{self, Layout, Mark};
use crate::views::snapshot::{NodeFigures, Snapshot, Totals};

/// Nodes per block on average (a block starts at a node whose name hashes to 0 modulo this).
pub const BLOCK_NODES: u64 = 128;

/// After this many nodes a block also ends where a name hashes to 0 modulo 8 (still decided by
/// names, so an insert moves no boundary after the next one).
const LONG_BLOCK: usize = 2 * 128;

/// Most nodes in one block (after [`LONG_BLOCK`], a run of 768 names none of which hashes to
/// 0 modulo 8 has a chance of 1 in 10^44).
const MAX_BLOCK: usize = 8 * 128;

/// What a node's lines are made of besides the layout.
#[derive(Debug)]
struct Kept {
    name: String,
    totals: Totals,
}

/// A run of nodes and their text in the encodings asked for.
#[derive(Default)]
struct Block {
    nodes: Vec<Kept>,
    /// Where each node family's lines of these nodes are in the last plain figures' text
    /// ([`NodeText::keep_plain`]): the text itself is the body's, not held twice.
    plain: Option<Vec<Range<usize>>>,
    /// Each node family's lines deflated on their own.
    deflated: Option<Vec<Deflated>>,
}

/// What one scrape's node text took (`binpacking_exporter_scrape_node_blocks_total`, tests and
/// benchmarks).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Work {
    /// Blocks in the body.
    pub blocks: usize,
    /// Blocks whose text was rendered for this body (the others were kept).
    pub rendered: usize,
    /// Nodes in the rendered blocks.
    pub nodes_rendered: usize,
    /// Blocks whose nodes or their figures changed since the blocks kept before.
    pub changed: usize,
    /// Whether blocks were kept before (under the same layout).
    pub seeded: bool,
}

impl Work {
    /// Whether the node text is cheaper rendered (and deflated) whole, as one piece, than by
    /// blocks: when most blocks changed since the last body. The first body is made by blocks,
    /// to seed them; under churn that touches most blocks every time, every body is made whole
    /// (the cost of a render from scratch, no more), and the first body after the churn calms
    /// down renders by blocks again.
    fn whole(&self) -> bool {
        self.seeded && self.changed * 2 > self.blocks
    }

    /// Every block rendered (the node text made whole), over `nodes` nodes.
    fn all_rendered(&mut self, nodes: usize) {
        self.rendered = self.blocks;
        self.nodes_rendered = nodes;
    }
}

/// The kept node text; see the module header.
#[derive(Default)]
pub struct NodeText {
    /// The layout the blocks were rendered under.
    layout: Option<Layout>,
    /// The node families of that layout, in order.
    families: Vec<&'static Family>,
    /// Each family's header deflated, once gzip was asked for under the layout.
    headers: Option<Vec<Deflated>>,
    /// The blocks, in node order.
    blocks: Vec<Block>,
    /// The encoding the last body was made in (`true`: deflated).
    last_deflated: Option<bool>,
    /// The last plain figures' text the blocks' ranges point into, once handed back.
    plain_text: Option<Arc<SharedBody>>,
    /// Where the node text the last [`NodeText::plain`] wrote ends, and its last bytes (text
    /// after it, the device families, may follow in the body).
    plain_end: Option<(usize, Vec<u8>)>,
    /// The capacity for the node text rendered whole.
    whole_len: usize,
    /// Made once, reset for every part it deflates.
    compressor: Option<Compress>,
    /// Text of a block rendered only to be deflated.
    scratch: Vec<u8>,
    marks: Vec<Mark>,
}

impl NodeText {
    /// `text` deflated by the kept compressor, for the parts of a body around the node text.
    pub fn deflate(&mut self, text: &[u8]) -> Result<Deflated, CompressError> {
        Deflated::with(self.compressor.get_or_insert_with(gzip::compressor), text)
    }

    /// Appends the node families of `snapshot` (headers and lines, as
    /// [`exposition::encode`] writes them) to `out`, which must hold the figures' text from its
    /// start: the blocks note where their lines land, to be copied from there by the next
    /// plain body once `out` is handed back ([`NodeText::keep_plain`]).
    pub fn plain(
        &mut self,
        layout: &Layout,
        snapshot: &Snapshot,
        capacity: Option<&Capacity>,
        out: &mut Vec<u8>,
    ) -> Work {
        let (mut work, ranges) = self.update(layout, snapshot, capacity, false);
        let kept = self.plain_text.take();
        if work.whole() {
            exposition::encode_nodes(layout, snapshot, capacity, out);
            for block in &mut self.blocks {
                block.plain = None;
            }
            self.plain_end = None;
            work.all_rendered(snapshot.nodes.len());
            return work;
        }
        let old: &[u8] = kept.as_deref().map_or(&[], AsRef::as_ref);
        // The blocks without kept lines are rendered first (all node families at once), one
        // after another into the scratch buffer: (where the block's text starts and ends there,
        // where each family's lines start in it).
        self.scratch.clear();
        let fresh: Vec<Option<(Range<usize>, Vec<usize>)>> = ranges
            .into_iter()
            .zip(&self.blocks)
            .map(|(range, block)| {
                if block.plain.is_some() && kept.is_some() {
                    return None;
                }
                let start = self.scratch.len();
                let draw = (layout, snapshot, capacity);
                let starts =
                    render_block(draw, range, &mut self.scratch, &mut self.marks, &mut work);
                Some((start..self.scratch.len(), starts))
            })
            .collect();
        let mut placed = vec![Vec::with_capacity(self.families.len()); self.blocks.len()];
        for (k, family) in self.families.iter().enumerate() {
            exposition::header(out, family);
            if is_shape_fit(family) {
                exposition::encode_node_shape_fit(layout, snapshot, capacity, out);
            }
            for ((block, fresh), placed) in self.blocks.iter().zip(&fresh).zip(&mut placed) {
                let lines = match fresh {
                    _ if is_shape_fit(family) => &[][..],
                    Some((text, starts)) => segment(&self.scratch[text.clone()], starts, k),
                    None => block
                        .plain
                        .as_ref()
                        .and_then(|at| at.get(k))
                        .and_then(|at| old.get(at.clone()))
                        .unwrap_or_default(),
                };
                let at = out.len();
                out.extend_from_slice(lines);
                placed.push(at..out.len());
            }
        }
        for (block, placed) in self.blocks.iter_mut().zip(placed) {
            block.plain = Some(placed);
        }
        let tail = out.get(out.len().saturating_sub(64)..).unwrap_or_default();
        self.plain_end = Some((out.len(), tail.to_vec()));
        release(&mut self.scratch);
        work
    }

    /// Hands back the plain figures' text the last [`NodeText::plain`] wrote into (with any
    /// text appended after it), once it is a body: the next plain body copies the unchanged
    /// blocks' lines from it. A text that does not end the node text where that call did is
    /// not taken.
    pub fn keep_plain(&mut self, text: &Arc<SharedBody>) {
        let body: &[u8] = (**text).as_ref();
        let ours = self.plain_end.as_ref().is_some_and(|(end, tail)| {
            body.get(..*end)
                .is_some_and(|prefix| prefix.ends_with(tail))
        });
        if ours {
            self.plain_text = Some(text.clone());
        }
    }

    /// Appends the node families of `snapshot` to `out`, deflated.
    pub fn deflated(
        &mut self,
        layout: &Layout,
        snapshot: &Snapshot,
        capacity: Option<&Capacity>,
        out: &mut Deflated,
    ) -> Result<Work, CompressError> {
        let (mut work, ranges) = self.update(layout, snapshot, capacity, true);
        let compressor = self.compressor.get_or_insert_with(gzip::compressor);
        if work.whole() {
            // In a spare body buffer: as large as the plain text, kept between scrapes anyway.
            let mut text = SPARES.take(self.whole_len);
            exposition::encode_nodes(layout, snapshot, capacity, &mut text);
            self.whole_len = text.len() + text.len() / 8;
            let deflated = Deflated::with(compressor, &text);
            SPARES.give_back(text);
            out.push(&deflated?);
            self.plain_text = None;
            work.all_rendered(snapshot.nodes.len());
            return Ok(work);
        }
        if self.headers.is_none() {
            let mut headers = Vec::with_capacity(self.families.len());
            let mut text = Vec::new();
            for family in &self.families {
                text.clear();
                exposition::header(&mut text, family);
                headers.push(Deflated::with(compressor, &text)?);
            }
            self.headers = Some(headers);
        }
        for (range, block) in ranges.into_iter().zip(&mut self.blocks) {
            if block.deflated.is_some() {
                continue;
            }
            let kept = block.plain.as_ref().zip(self.plain_text.as_deref());
            let parts = if let Some((at, text)) = kept {
                let text: &[u8] = text.as_ref();
                at.iter()
                    .map(|at| Deflated::with(compressor, text.get(at.clone()).unwrap_or_default()))
                    .collect::<Result<Vec<_>, _>>()?
            } else {
                self.scratch.clear();
                let draw = (layout, snapshot, capacity);
                let starts =
                    render_block(draw, range, &mut self.scratch, &mut self.marks, &mut work);
                (0..self.families.len())
                    .map(|k| Deflated::with(compressor, segment(&self.scratch, &starts, k)))
                    .collect::<Result<Vec<_>, _>>()?
            };
            block.deflated = Some(parts);
        }
        let headers = self.headers.as_deref().unwrap_or_default();
        for (k, (header, family)) in headers.iter().zip(&self.families).enumerate() {
            out.push(header);
            if is_shape_fit(family) {
                self.scratch.clear();
                exposition::encode_node_shape_fit(layout, snapshot, capacity, &mut self.scratch);
                out.push(&Deflated::with(compressor, &self.scratch)?);
                continue;
            }
            for block in &self.blocks {
                if let Some(part) = block.deflated.as_ref().and_then(|d| d.get(k)) {
                    out.push(part);
                }
            }
        }
        release(&mut self.scratch);
        // Every block has its deflated parts: the plain text is not needed for them, and
        // holding it would keep a body the reused figures may have let go.
        self.plain_text = None;
        Ok(work)
    }

    /// Matches the kept blocks to the nodes of `snapshot`: a block stays when it holds the same
    /// nodes with the same figures under the same layout; the others are new and hold no text.
    /// The encoding not asked for now nor by the body before is dropped. Returns the blocks'
    /// ranges of nodes.
    fn update(
        &mut self,
        layout: &Layout,
        snapshot: &Snapshot,
        capacity: Option<&Capacity>,
        deflated: bool,
    ) -> (Work, Vec<Range<usize>>) {
        if self.layout.as_ref() != Some(layout) {
            self.blocks.clear();
            self.headers = None;
            self.plain_text = None;
            self.layout = Some(layout.clone());
            exposition::encode_node_lines(
                layout,
                snapshot,
                capacity,
                0..0,
                &mut Vec::new(),
                &mut self.marks,
            );
            self.families = self.marks.iter().map(|(_, f)| *f).collect();
        }
        let seeded = !self.blocks.is_empty();
        let mut old = std::mem::take(&mut self.blocks).into_iter().peekable();
        let ranges = ranges(&snapshot.nodes);
        let mut changed = 0;
        for range in &ranges {
            let nodes = &snapshot.nodes[range.clone()];
            let first = nodes.first().map_or("", |n| n.name.as_str());
            // Blocks that start before this one's first node are gone (or changed).
            while old
                .next_if(|b| b.nodes.first().is_some_and(|k| k.name.as_str() < first))
                .is_some()
            {}
            let kept = old.next_if(|b| {
                b.nodes.len() == nodes.len()
                    && b.nodes
                        .iter()
                        .zip(nodes)
                        .all(|(k, n)| k.name == n.name && k.totals == n.totals)
            });
            changed += usize::from(kept.is_none());
            self.blocks.push(kept.unwrap_or_else(|| {
                Block {
                    nodes: nodes
                        .iter()
                        .map(|n| Kept {
                            name: n.name.clone(),
                            totals: n.totals.clone(),
                        })
                        .collect(),
                    plain: None,
                    deflated: None,
                }
            }));
        }
        if self.last_deflated != Some(!deflated) {
            if deflated {
                self.plain_text = None;
            }
            for block in &mut self.blocks {
                if deflated {
                    block.plain = None;
                } else {
                    block.deflated = None;
                }
            }
        }
        self.last_deflated = Some(deflated);
        let work = Work {
            blocks: ranges.len(),
            changed,
            seeded,
            ..Work::default()
        };
        (work, ranges)
    }
}

/// Appends the node families' lines of the nodes `range` to `scratch` (one block, every family
/// at once) and counts it in `work`; returns where each family's lines start, from where the
/// block's text starts.
fn render_block(
    (layout, snapshot, capacity): (&Layout, &Snapshot, Option<&Capacity>),
    range: Range<usize>,
    scratch: &mut Vec<u8>,
    marks: &mut Vec<Mark>,
    work: &mut Work,
) -> Vec<usize> {
    let start = scratch.len();
    work.rendered += 1;
    work.nodes_rendered += range.len();
    exposition::encode_node_lines(layout, snapshot, capacity, range, scratch, marks);
    marks.iter().map(|(at, _)| at - start).collect()
}

/// Frees a scratch buffer that grew past 256 KiB: the text of many blocks is not kept between
/// scrapes. (Dropped, not shrunk: musl's `realloc` keeps the mapping of a large buffer it
/// shrinks, measured 12 MB kept at 5,000 nodes.)
fn release(scratch: &mut Vec<u8>) {
    if scratch.capacity() > 256 * 1024 {
        *scratch = Vec::new();
    }
}

/// Whether `family` is `binpacking_node_shape_fit`, whose lines are rendered whole for every
/// body ([`exposition::encode_node_shape_fit`]), not kept.
fn is_shape_fit(family: &Family) -> bool {
    family.name == catalogue::NODE.shape_fit.name
}

/// Family `k`'s lines in a block's text.
fn segment<'a>(text: &'a [u8], starts: &[usize], k: usize) -> &'a [u8] {
    let start = starts.get(k).copied().unwrap_or(text.len());
    let end = starts.get(k + 1).copied().unwrap_or(text.len());
    text.get(start..end).unwrap_or_default()
}

/// The blocks of `nodes` (sorted by name): a block starts at the first node and at a node whose
/// name hashes to a boundary ([`boundary`]).
fn ranges(nodes: &[NodeFigures]) -> Vec<Range<usize>> {
    let mut ranges = Vec::with_capacity(nodes.len() / 64 + 1);
    let mut start = 0;
    for (i, node) in nodes.iter().enumerate().skip(1) {
        if boundary(&node.name, i - start) {
            ranges.push(start..i);
            start = i;
        }
    }
    if !nodes.is_empty() {
        ranges.push(start..nodes.len());
    }
    ranges
}

/// Whether a block that holds `len` nodes ends before the node `name`: FNV-1a of the name,
/// mixed by a finalizer so the low bits depend on every byte, is 0 modulo [`BLOCK_NODES`], or
/// modulo 8 once the block is [`LONG_BLOCK`] nodes long; and always at [`MAX_BLOCK`].
fn boundary(name: &str, len: usize) -> bool {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in name.as_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h.is_multiple_of(BLOCK_NODES) || (len >= LONG_BLOCK && h.is_multiple_of(8)) || len >= MAX_BLOCK
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::label_groups::LabelGroups;
    use crate::model::state::tests::pod;
    use crate::model::state::{ClusterState, NodeRecord, Owner};
    use crate::model::usage::UsageTable;
    use crate::serve::buffers::SPARES;
    use crate::views::capacity::{self, Shape};
    use crate::views::exposition::{Families, Options};
    use std::io::Read;

    const RESOURCES: [&str; 3] = ["cpu", "memory", "nvidia.com/gpu"];

    const TAIL: &[u8] = b"# HELP binpacking_cluster_devices after the node families\n";

    fn name(rng: &mut fastrand::Rng, i: usize) -> String {
        // Names of several shapes, some needing escapes, so blocks and labels vary.
        match rng.u8(0..4) {
            0 => format!("ip-10-16-{}-{}.ec2.internal", i / 250, i % 250),
            1 => format!("gke-pool-{i:05}"),
            2 => format!("node\"{i}\\x"),
            _ => format!("k3s-{i}"),
        }
    }

    fn record(rng: &mut fastrand::Rng) -> NodeRecord {
        let cpu = u64::from(rng.u32(1..64)) * 1000;
        let memory = u64::from(rng.u32(1..256)) << 30;
        let gpus = u64::from(rng.u8(0..3)) * 4;
        NodeRecord {
            allocatable: vec![cpu - 80, memory - (1 << 30), gpus].into(),
            capacity: vec![cpu, memory, gpus].into(),
            labels: vec![Some(["a", "b", "c"][rng.usize(0..3)].into())].into(),
            pod_slots: 110,
            unschedulable: rng.u8(0..20) == 0,
        }
    }

    /// Adds or removes a node, or adds or removes a pod (one of each kind at random).
    fn change(rng: &mut fastrand::Rng, state: &mut ClusterState, names: &mut Vec<String>) {
        let next = names.len() * 7 + rng.usize(0..7);
        match rng.u8(0..10) {
            0 => {
                let n = name(rng, next);
                state.apply_node(&n, record(rng));
                names.push(n);
            }
            1 if names.len() > 1 => {
                let n = names.swap_remove(rng.usize(0..names.len()));
                state.delete_node(&n);
            }
            2..=5 => {
                let key = format!("ns-{}/pod-{}", rng.u8(0..5), rng.u16(0..2000));
                state.delete_pod(&key);
            }
            _ => {
                let node = &names[rng.usize(0..names.len())];
                let key = format!("ns-{}/pod-{}", rng.u8(0..5), rng.u16(0..2000));
                let owner = [Owner::Workload, Owner::DaemonSet, Owner::Static][rng.usize(0..3)];
                let requests = [
                    u64::from(rng.u16(1..2000)),
                    u64::from(rng.u32(1..1 << 30)),
                    0,
                ];
                state.apply_pod(&key, pod(Some(node), &requests, owner));
            }
        }
    }

    /// A state of `count` nodes named by `name` (random figures, no pods) and their names.
    fn nodes(
        seed: u64,
        count: usize,
        name: impl Fn(usize) -> String,
    ) -> (ClusterState, Vec<String>) {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut state = ClusterState::new(RESOURCES.len());
        let names: Vec<String> = (0..count).map(name).collect();
        for n in &names {
            state.apply_node(n, record(&mut rng));
        }
        (state, names)
    }

    fn usage(names: &[String], round: i64) -> UsageTable {
        let mut table = UsageTable {
            newest: round,
            ..UsageTable::default()
        };
        for (i, n) in names.iter().enumerate().filter(|(i, _)| i % 3 == 0) {
            let mut totals = crate::model::usage::UsageTotals {
                nodes_sampled: 1,
                pods_sampled: 1,
                ..Default::default()
            };
            totals.node = [u64::try_from(i).unwrap() * 10 + 1, 1 << 20];
            totals.pods = [5, 1 << 19];
            table.nodes.insert(n.as_str().into(), totals);
        }
        table
    }

    struct Scrape {
        snapshot: Snapshot,
        capacity: capacity::Capacity,
        resources: Vec<String>,
    }

    impl Scrape {
        fn opts(&self) -> Options<'_> {
            Options {
                resources: &self.resources,
                families: Families::ALL,
                label_groups: true,
                cache_age_seconds: None,
            }
        }

        /// The whole exposition, rendered from scratch.
        fn full(&self) -> Vec<u8> {
            let mut out = Vec::new();
            exposition::encode(&self.snapshot, Some(&self.capacity), &self.opts(), &mut out);
            out
        }

        /// The same with the node families from `kept`, plain or deflated (and unzipped).
        fn kept(&self, kept: &mut NodeText, deflated: bool) -> (Vec<u8>, Work) {
            let opts = self.opts();
            let capacity = Some(&self.capacity);
            let layout = Layout::new(&self.snapshot, capacity, &opts);
            let mut text = Vec::new();
            exposition::encode_head(&layout, &self.snapshot, capacity, &opts, &mut text);
            if !deflated {
                let work = kept.plain(&layout, &self.snapshot, capacity, &mut text);
                // Text after the node families (the device families in a body).
                let end = text.len();
                text.extend_from_slice(TAIL);
                let body = Arc::new(SharedBody::new(text, &SPARES));
                kept.keep_plain(&body);
                return ((*body).as_ref()[..end].to_vec(), work);
            }
            let mut whole = kept.deflate(&text).unwrap();
            let work = kept
                .deflated(&layout, &self.snapshot, capacity, &mut whole)
                .unwrap();
            let mut body = Vec::new();
            gzip::gzip(b"", Some(&whole), b"", &mut body).unwrap();
            let mut text = Vec::new();
            flate2::read::GzDecoder::new(&body[..])
                .read_to_end(&mut text)
                .unwrap();
            (text, work)
        }
    }

    fn scrape(state: &ClusterState, usage: Option<&UsageTable>, shapes: &[Shape]) -> Scrape {
        let groups = LabelGroups::new(&[vec!["zone".into()]]);
        let mut snapshot = Snapshot::take(state, &groups, 100);
        if let Some(table) = usage {
            snapshot.attach_usage(table);
        }
        let capacity = capacity::compute(&snapshot, shapes);
        Scrape {
            snapshot,
            capacity,
            resources: RESOURCES.iter().map(ToString::to_string).collect(),
        }
    }

    fn shapes(cpu: u64) -> Vec<Shape> {
        vec![
            Shape {
                name: "small".into(),
                requests: vec![cpu, 256 << 20, 0],
            },
            Shape {
                name: "gpu".into(),
                requests: vec![4000, 16 << 30, 1],
            },
        ]
    }

    /// The nodes whose figures differ between two snapshots, or that are in one only.
    fn changed(a: &Snapshot, b: &Snapshot) -> usize {
        let old: std::collections::HashMap<&str, &Totals> = a
            .nodes
            .iter()
            .map(|n| (n.name.as_str(), &n.totals))
            .collect();
        let mut changed = b
            .nodes
            .iter()
            .filter(|n| old.get(n.name.as_str()) != Some(&&n.totals))
            .count();
        let new: std::collections::HashSet<&str> =
            b.nodes.iter().map(|n| n.name.as_str()).collect();
        changed += a
            .nodes
            .iter()
            .filter(|n| !new.contains(n.name.as_str()))
            .count();
        changed
    }

    #[test]
    fn kept_node_text_is_the_full_render_byte_for_byte_and_only_changed_blocks_are_rendered() {
        for seed in 0..3 {
            let mut rng = fastrand::Rng::with_seed(seed);
            let mut state = ClusterState::new(RESOURCES.len());
            let mut names = Vec::new();
            for i in 0..900 {
                let n = name(&mut rng, i);
                state.apply_node(&n, record(&mut rng));
                names.push(n);
            }
            for _ in 0..3000 {
                change(&mut rng, &mut state, &mut names);
            }
            let mut kept = NodeText::default();
            let mut previous: Option<Scrape> = None;
            let mut usage_table = None;
            let mut shape_cpu = 250;
            let (mut after_whole, mut wholes, mut by_blocks) = (false, 0, 0);
            for round in 0..60 {
                // Sometimes nothing changes, mostly a few changes, now and then many.
                let changes = match round % 7 {
                    0 => 0,
                    6 => 200,
                    _ => rng.usize(1..4),
                };
                for _ in 0..changes {
                    change(&mut rng, &mut state, &mut names);
                }
                // Layout changes: usage attached or not, another shape.
                if round % 13 == 5 {
                    usage_table = Some(usage(&names, round));
                }
                if round % 17 == 16 {
                    usage_table = None;
                    shape_cpu += 250;
                }
                let now = scrape(&state, usage_table.as_ref(), &shapes(shape_cpu));
                // Runs of scrapes in one encoding, as a Prometheus (gzip) or a curl (plain) makes.
                let deflated = round / 5 % 2 == 1;
                let switched = round % 5 == 0;
                let (text, work) = now.kept(&mut kept, deflated);
                assert!(
                    text == now.full(),
                    "seed {seed} round {round} deflated {deflated}: kept text differs"
                );
                assert!(work.blocks >= now.snapshot.nodes.len() / MAX_BLOCK);
                let same_layout = previous.as_ref().is_some_and(|p| {
                    Layout::new(&p.snapshot, Some(&p.capacity), &p.opts())
                        == Layout::new(&now.snapshot, Some(&now.capacity), &now.opts())
                });
                if let (Some(before), true) = (&previous, same_layout) {
                    // In the encoding of the body before, and after a body made by blocks, a
                    // block is rendered for a changed node (two when one joined or left at a
                    // boundary), none without a change.
                    let touched = changed(&before.snapshot, &now.snapshot);
                    if work.whole() {
                        assert_eq!(work.rendered, work.blocks);
                        assert!(touched * 2 > work.blocks, "{work:?} for {touched}");
                        wholes += 1;
                    } else if !switched && !after_whole {
                        assert!(
                            work.rendered <= 2 * touched,
                            "round {round}: {work:?} for {touched} changed nodes"
                        );
                        by_blocks += 1;
                    }
                } else {
                    assert_eq!(work.rendered, work.blocks, "a new layout renders all");
                }
                after_whole = work.whole();
                previous = Some(now);
            }
            // Both ways of making the node text were checked.
            assert!(wholes >= 5 && by_blocks >= 20, "{wholes} {by_blocks}");
        }
    }

    #[test]
    fn an_unchanged_state_in_the_same_encoding_renders_nothing_and_a_change_one_block() {
        let (mut state, _) = nodes(9, 2000, |i| format!("node-{i:05}"));
        let shapes = shapes(250);
        for deflated in [false, true] {
            let mut kept = NodeText::default();
            let first = scrape(&state, None, &shapes);
            let (_, work) = first.kept(&mut kept, deflated);
            assert_eq!(work.rendered, work.blocks);
            assert!(work.blocks > 2000 / 512, "{work:?}");
            assert_eq!(work.nodes_rendered, 2000);
            let (text, work) = first.kept(&mut kept, deflated);
            assert_eq!((work.rendered, work.nodes_rendered), (0, 0));
            assert!(text == first.full());
            state.apply_pod(
                "ns/one",
                pod(Some("node-01234"), &[100, 1 << 20, 0], Owner::Workload),
            );
            let after = scrape(&state, None, &shapes);
            let (text, work) = after.kept(&mut kept, deflated);
            assert_eq!(work.rendered, 1, "{work:?}");
            assert!(work.nodes_rendered <= MAX_BLOCK);
            assert!(text == after.full());
            state.delete_pod("ns/one");
        }
    }

    #[test]
    fn a_plain_text_other_than_the_one_written_is_not_kept() {
        let (mut state, _) = nodes(4, 600, |i| format!("node-{i:04}"));
        let shapes = shapes(250);
        let now = scrape(&state, None, &shapes);
        let mut kept = NodeText::default();
        let (_, first) = now.kept(&mut kept, false);
        assert_eq!(first.rendered, first.blocks);
        // The text it wrote (and text after it) is kept: nothing to render again.
        let (_, again) = now.kept(&mut kept, false);
        assert_eq!(again.rendered, 0);
        // Another text handed back (one byte changed) is refused: every block rendered again.
        let opts = now.opts();
        let layout = Layout::new(&now.snapshot, Some(&now.capacity), &opts);
        let mut text = Vec::new();
        kept.plain(&layout, &now.snapshot, Some(&now.capacity), &mut text);
        let last = text.len() - 2;
        text[last] ^= 1;
        kept.keep_plain(&Arc::new(SharedBody::new(text, &SPARES)));
        state.apply_pod("ns/p", pod(Some("node-0001"), &[1, 1, 0], Owner::Workload));
        let after = scrape(&state, None, &shapes);
        let (text, work) = after.kept(&mut kept, false);
        assert_eq!(work.rendered, work.blocks);
        assert!(text == after.full());
    }

    #[test]
    fn blocks_deflated_apart_cost_little_size_against_the_whole_text() {
        let (mut state, mut names) = nodes(3, 3000, |i| {
            format!("ip-10-16-{}-{}.ec2.internal", i / 250, i % 250)
        });
        let mut rng = fastrand::Rng::with_seed(3);
        for _ in 0..20_000 {
            change(&mut rng, &mut state, &mut names);
        }
        let now = scrape(&state, None, &shapes(250));
        let mut kept = NodeText::default();
        let opts = now.opts();
        let layout = Layout::new(&now.snapshot, Some(&now.capacity), &opts);
        let mut blocks = Deflated::empty();
        kept.deflated(&layout, &now.snapshot, Some(&now.capacity), &mut blocks)
            .unwrap();
        let mut nodes_text = Vec::new();
        kept.plain(&layout, &now.snapshot, Some(&now.capacity), &mut nodes_text);
        let whole = Deflated::of(&nodes_text).unwrap();
        assert_eq!(blocks.text_len(), nodes_text.len() as u64);
        assert!(
            blocks.len() < whole.len() + whole.len() / 5,
            "blocks {} whole {}",
            blocks.len(),
            whole.len()
        );
    }

    #[test]
    fn blocks_start_at_hashed_names_so_an_insert_moves_no_other_boundary() {
        let nodes: Vec<NodeFigures> = (0..5000)
            .map(|i| NodeFigures {
                name: format!("node-{i:05}"),
                unschedulable: false,
                group_values: Vec::new(),
                totals: Totals::zero(1),
            })
            .collect();
        let before = ranges(&nodes);
        assert_eq!(before.first().map(|r| r.start), Some(0));
        assert_eq!(before.last().map(|r| r.end), Some(5000));
        assert!(before.windows(2).all(|w| w[0].end == w[1].start));
        assert!(before.iter().all(|r| !r.is_empty() && r.len() <= MAX_BLOCK));
        assert!(
            before.iter().all(|r| r.len() < LONG_BLOCK + 64),
            "{before:?}"
        );
        // About one block in BLOCK_NODES nodes.
        assert!((20..=80).contains(&before.len()), "{}", before.len());
        let mut more = nodes.clone();
        more.insert(
            2500,
            NodeFigures {
                name: "node-02499a".into(),
                ..nodes[0].clone()
            },
        );
        let after = ranges(&more);
        let starts = |nodes: &[NodeFigures], ranges: &[Range<usize>]| -> Vec<String> {
            ranges.iter().map(|r| nodes[r.start].name.clone()).collect()
        };
        let (b, a) = (starts(&nodes, &before), starts(&more, &after));
        let added: Vec<_> = a.iter().filter(|s| !b.contains(s)).collect();
        assert!(
            added.len() <= 1 && b.iter().all(|s| a.contains(s)),
            "{added:?}"
        );
    }
}
