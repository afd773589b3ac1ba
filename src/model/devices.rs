//! Dynamic Resource Allocation (`resource.k8s.io/v1`) as the scheduler's device ledger sees it:
//! compact records of ResourceSlices (the devices a driver publishes, per node or per shared
//! pool), ResourceClaims (the devices allocated) and DeviceClasses (which devices a class
//! selects, and the extended resource it may back), and the device figures derived from them
//! each time they change (never per scrape). Pure: no I/O, no serde; `docs/ACCOUNTING.md` §15
//! says what counts.
//!
//! The rules, as the scheduler's allocator applies them:
//! - a pool is `(driver, pool name)`; only the slices of its highest `pool.generation` count
//!   (a driver republishing writes the new generation, then deletes the old);
//! - a device is node-local when its slice names a node (`spec.nodeName`), or, with
//!   `perDeviceNodeSelection`, the device does; every other device (node selector, all nodes)
//!   belongs to its shared pool;
//! - a device is allocated when an allocated claim's `status.allocation.devices.results` names it
//!   (driver, pool, device), except results with `adminAccess` (they do not hold the device);
//!   a device named by several claims (consumable capacity, KEP-5075) counts once, whole;
//!   partitionable devices (KEP-4815) count one each, whole; a result naming a device no
//!   current slice publishes is not counted anywhere;
//! - a class's devices are those its selectors match; selectors are CEL, and only
//!   `device.driver == "NAME"` and `device.attributes["DOMAIN"].NAME == literal` terms (and `&&`
//!   of such terms, no selector at all = every device) are resolved here. A class with any other selector is unresolved: its allocated devices (by the
//!   class the claim asked for) are still counted, its published ones are not.

use std::collections::{BTreeMap, HashMap, HashSet};

/// The prefix of the extended resource name every DeviceClass backs implicitly (KEP-5004).
pub const IMPLICIT_EXTENDED_PREFIX: &str = "deviceclass.resource.kubernetes.io/";

/// An interned name (driver, pool, class).
type Id = u32;

/// Names interned once: drivers, pools and classes are few, devices many.
#[derive(Debug, Default)]
struct Names {
    names: Vec<Box<str>>,
    ids: HashMap<Box<str>, Id>,
}

impl Names {
    fn len(&self) -> usize {
        self.names.len()
    }

    fn id(&mut self, name: &str) -> Id {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = Id::try_from(self.names.len()).unwrap_or(Id::MAX);
        self.names.push(name.into());
        self.ids.insert(name.into(), id);
        id
    }

    fn get(&self, name: &str) -> Option<Id> {
        self.ids.get(name).copied()
    }

    fn name(&self, id: Id) -> &str {
        self.names.get(id as usize).map_or("", |n| n)
    }
}

/// Where a slice's devices are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SliceScope {
    /// `spec.nodeName`: every device is on this node.
    Node(String),
    /// `spec.nodeSelector` or `spec.allNodes`: a shared pool.
    Shared,
    /// `spec.perDeviceNodeSelection`: each device says (its `nodeName`, or shared).
    PerDevice,
}

/// One device of a slice, as decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInput {
    /// `name`, unique within the pool.
    pub name: String,
    /// With [`SliceScope::PerDevice`]: the device's `nodeName` (None: shared).
    pub node: Option<String>,
    /// The keys of its attributes ([`attribute_key`]).
    pub attributes: Vec<u32>,
}

/// A ResourceSlice, as decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SliceInput {
    /// `spec.driver`.
    pub driver: String,
    /// `spec.pool.name`.
    pub pool: String,
    /// `spec.pool.generation`.
    pub generation: i64,
    /// Node-local or shared.
    pub scope: SliceScope,
    /// `spec.devices`.
    pub devices: Vec<DeviceInput>,
}

/// One allocation result of a claim, as decoded (results with `adminAccess` are left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultInput {
    /// `driver`.
    pub driver: String,
    /// `pool`.
    pub pool: String,
    /// `device`.
    pub device: String,
    /// The DeviceClass the claim's request (or chosen subrequest) asked for, if any.
    pub class: Option<String>,
}

/// A ResourceClaim, as decoded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClaimInput {
    /// `status.allocation` is set.
    pub allocated: bool,
    /// `status.allocation.devices.results`.
    pub results: Vec<ResultInput>,
}

/// A DeviceClass, as decoded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClassInput {
    /// `spec.selectors[].cel.expression`; a selector of another kind is an empty string (unresolved).
    pub selectors: Vec<String>,
    /// `spec.extendedResourceName`.
    pub extended_resource: Option<String>,
    /// `metadata.creationTimestamp`, Unix seconds: of several classes naming one extended
    /// resource, the newest backs it.
    pub created: Option<i64>,
}

/// A device attribute's value (`attributes.<name>.{string,bool,int,version}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeValue {
    /// `string`.
    String(String),
    /// `bool`.
    Bool(bool),
    /// `int`.
    Int(i64),
    /// `version` (compared in CEL through `semver(…)`, which is not resolved here).
    Version(String),
}

/// The 32-bit key of an attribute and its value (FNV-1a over the fully qualified name, the kind
/// and the value): a device keeps the keys of its attributes, a resolved selector term is one
/// key, and a device matches when it holds the key. Two different pairs share a key with
/// probability 2⁻³² per comparison. An unqualified name is in the driver's domain, as the API
/// defines it.
#[must_use]
pub fn attribute_key(driver: &str, name: &str, value: &AttributeValue) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            hash ^= u32::from(*b);
            hash = hash.wrapping_mul(0x0100_0193);
        }
    };
    if !name.contains('/') {
        feed(driver.as_bytes());
        feed(b"/");
    }
    feed(name.as_bytes());
    match value {
        AttributeValue::String(v) => {
            feed(b"\0s\0");
            feed(v.as_bytes());
        }
        AttributeValue::Bool(v) => feed(if *v { b"\0b\0true" } else { b"\0b\0false" }),
        AttributeValue::Int(v) => {
            feed(b"\0i\0");
            feed(v.to_string().as_bytes());
        }
        AttributeValue::Version(v) => {
            feed(b"\0v\0");
            feed(v.as_bytes());
        }
    }
    hash
}

/// Which devices a class selects, as far as it is resolved here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// The devices of one driver (or any), holding every attribute key listed.
    Match {
        /// The driver every `device.driver == "…"` term names; `None`: any.
        driver: Option<Id>,
        /// Keys of the `device.attributes["D"].N == literal` terms.
        attributes: Box<[u32]>,
    },
    /// None (contradicting driver terms).
    Nothing,
    /// A selector beyond driver and attribute equality.
    Unresolved,
}

/// One resolved term of a selector.
enum Term<'a> {
    Driver(&'a str),
    Attribute(u32),
}

/// Resolves a class's CEL selectors: each must be terms joined by `&&` (either quote, either
/// side of `==`) of `device.driver == "NAME"` or `device.attributes["DOMAIN"].NAME == LITERAL`
/// (a string, `true`/`false` or an integer); anything else is [`Selection::Unresolved`].
fn resolve(selectors: &[String], drivers: &mut Names) -> Selection {
    let mut driver: Option<&str> = None;
    let mut attributes = Vec::new();
    for expression in selectors {
        for term in expression.split("&&") {
            match selector_term(term) {
                Some(Term::Driver(name)) => match driver {
                    Some(d) if d != name => return Selection::Nothing,
                    _ => driver = Some(name),
                },
                Some(Term::Attribute(key)) => attributes.push(key),
                None => return Selection::Unresolved,
            }
        }
    }
    Selection::Match {
        driver: driver.map(|d| drivers.id(d)),
        attributes: attributes.into_boxed_slice(),
    }
}

/// A quoted string literal's contents (no escapes inside).
fn quoted(literal: &str) -> Option<&str> {
    let quote = literal.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let inner = literal.strip_prefix(quote)?.strip_suffix(quote)?;
    (!inner.contains(['"', '\'', '\\'])).then_some(inner)
}

/// `device.driver == "NAME"` or `device.attributes["DOMAIN"].NAME == LITERAL` (either side).
fn selector_term(term: &str) -> Option<Term<'_>> {
    let (left, right) = term.split_once("==")?;
    let (left, right) = (left.trim(), right.trim());
    let (field, literal) = if left.starts_with("device.") {
        (left, right)
    } else {
        (right, left)
    };
    if field == "device.driver" {
        return quoted(literal).filter(|d| !d.is_empty()).map(Term::Driver);
    }
    let rest = field.strip_prefix("device.attributes[")?;
    let (domain, name) = rest.split_once("].")?;
    let domain = quoted(domain).filter(|d| !d.is_empty())?;
    let simple = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if name.is_empty() || !name.chars().all(simple) {
        return None;
    }
    let value = if let Some(text) = quoted(literal) {
        AttributeValue::String(text.to_owned())
    } else if literal == "true" || literal == "false" {
        AttributeValue::Bool(literal == "true")
    } else {
        AttributeValue::Int(literal.parse().ok()?)
    };
    let qualified = format!("{domain}/{name}");
    Some(Term::Attribute(attribute_key("", &qualified, &value)))
}

/// Names packed into one allocation, each followed by a NUL (Kubernetes names never hold one):
/// a device costs its name's bytes and one more, not a pointer, a length and an allocation.
#[derive(Debug, Default)]
struct Packed(Box<str>);

impl Packed {
    fn new<'a>(names: impl Iterator<Item = &'a str>) -> Packed {
        let mut text = String::new();
        for name in names {
            text.push_str(name);
            text.push('\0');
        }
        Packed(text.into_boxed_str())
    }

    fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.split_terminator('\0')
    }
}

/// A stored slice: its driver, pool, generation, node and packed device names.
#[derive(Debug)]
struct SliceRecord {
    driver: Id,
    pool: Id,
    generation: i64,
    /// The node of a node-local slice.
    node: Option<Box<str>>,
    devices: Packed,
    /// With per-device node selection: each device's node (None: shared).
    device_nodes: Option<Box<[Option<Box<str>>]>>,
    /// Every device's attribute keys, one after the other; `attribute_ends[i]` ends device i's.
    attributes: Box<[u32]>,
    attribute_ends: Box<[u32]>,
}

impl SliceRecord {
    /// Device `i`'s attribute keys.
    fn attributes_of(&self, i: usize) -> &[u32] {
        let start = if i == 0 {
            0
        } else {
            self.attribute_ends.get(i - 1).copied().unwrap_or(0) as usize
        };
        let end = self.attribute_ends.get(i).copied().unwrap_or(0) as usize;
        self.attributes.get(start..end).unwrap_or_default()
    }
}

/// A stored allocation result (its device name is in the claim's packed names).
#[derive(Debug, PartialEq, Eq)]
struct ResultRecord {
    driver: Id,
    pool: Id,
    /// [`NO_CLASS`] when the request named none.
    class: Id,
}

/// A result's class when its request named none.
const NO_CLASS: Id = Id::MAX;

/// A stored claim: 12 bytes per result plus the results' packed device names.
#[derive(Debug)]
struct ClaimRecord {
    allocated: bool,
    results: Box<[ResultRecord]>,
    devices: Packed,
}

/// A stored class.
#[derive(Debug, Clone)]
struct ClassRecord {
    selection: Selection,
    extended_resource: Option<Box<str>>,
    created: i64,
}

/// Objects of one kind by key, with the buffer of a re-list (kube's `Init`…`InitDone`).
#[derive(Debug)]
struct Keyed<T> {
    current: HashMap<Box<str>, T>,
    relist: Option<HashMap<Box<str>, T>>,
}

impl<T> Default for Keyed<T> {
    fn default() -> Self {
        Keyed {
            current: HashMap::new(),
            relist: None,
        }
    }
}

impl<T> Keyed<T> {
    /// Every record, stored and buffered by a re-list.
    fn all_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.current
            .values_mut()
            .chain(self.relist.iter_mut().flat_map(HashMap::values_mut))
    }

    fn begin(&mut self) {
        self.relist = Some(HashMap::new());
    }
    fn relist(&mut self, key: &str, value: T) {
        self.relist
            .get_or_insert_with(HashMap::new)
            .insert(key.into(), value);
    }
    fn finish(&mut self) {
        if let Some(next) = self.relist.take() {
            self.current = next;
        }
    }
    fn apply(&mut self, key: &str, value: T) {
        self.current.insert(key.into(), value);
    }
    fn delete(&mut self, key: &str) {
        self.current.remove(key);
    }
}

/// Published and allocated devices of one place (node, pool) for one driver or class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Count {
    /// Devices published in the current generation of their pools.
    pub published: u64,
    /// Of those, devices named by an allocated claim.
    pub allocated: u64,
}

impl Count {
    /// Adds another count.
    pub fn add(&mut self, other: Count) {
        self.published += other.published;
        self.allocated += other.allocated;
    }
}

/// The devices of one place by driver and by class (ids; a place has few of each, so a vector
/// searched linearly beats a map in memory and time).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Place {
    drivers: Vec<(Id, Count)>,
    classes: Vec<(Id, Count)>,
}

/// The count of `id` in a place's list, added when missing.
fn count_of(list: &mut Vec<(Id, Count)>, id: Id) -> &mut Count {
    let at = list.iter().position(|(i, _)| *i == id).unwrap_or_else(|| {
        list.push((id, Count::default()));
        list.len() - 1
    });
    &mut list[at].1
}

/// The device figures, recomputed when a record changes.
#[derive(Debug, Default)]
struct Figures {
    /// Node-local devices by node name.
    nodes: BTreeMap<Box<str>, Place>,
    /// Shared devices by (driver, pool).
    pools: BTreeMap<(Id, Id), Place>,
    claims_allocated: u64,
    claims_pending: u64,
}

/// One place's devices by name, ready to encode: `(driver, count)` and `(class, count)` sorted by
/// name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlaceDevices {
    /// By driver.
    pub drivers: Vec<(String, Count)>,
    /// By DeviceClass (resolved classes: published and allocated; unresolved: allocated only,
    /// published 0).
    pub classes: Vec<(String, Count)>,
}

impl PlaceDevices {
    /// Every driver's devices together.
    pub fn total(&self) -> Count {
        let mut total = Count::default();
        self.drivers.iter().for_each(|(_, c)| total.add(*c));
        total
    }

    /// Adds another place's counts (by name).
    pub fn add(&mut self, other: &PlaceDevices) {
        merge(&mut self.drivers, &other.drivers);
        merge(&mut self.classes, &other.classes);
    }
}

fn merge(into: &mut Vec<(String, Count)>, from: &[(String, Count)]) {
    for (name, count) in from {
        match into.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
            Ok(i) => into[i].1.add(*count),
            Err(i) => into.insert(i, (name.clone(), *count)),
        }
    }
}

/// A DeviceClass as the exposition describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassInfo {
    /// Its name.
    pub name: String,
    /// Whether its selectors are resolved here (its published devices are counted).
    pub resolved: bool,
    /// The extended resource it backs explicitly (`spec.extendedResourceName`), if any.
    pub extended_resource: Option<String>,
}

/// The DRA records and the figures derived from them.
#[derive(Debug, Default)]
pub struct DeviceState {
    drivers: Names,
    pools: Names,
    class_names: Names,
    slices: Keyed<SliceRecord>,
    claims: Keyed<ClaimRecord>,
    classes: Keyed<ClassRecord>,
    /// Tracked resource names (index = the state's resource index), for DRA-backed extended
    /// resources.
    tracked: Vec<String>,
    figures: Figures,
    /// Tracked resource index → the class backing it (resolved classes only).
    backing: Vec<(usize, Id)>,
    dirty: bool,
    /// Which of slices, claims and classes completed a list: the figures are published once all
    /// three did.
    listed: [bool; 3],
}

impl DeviceState {
    /// An empty ledger for the tracked resources `tracked` (in the state's vector order).
    pub fn new(tracked: Vec<String>) -> DeviceState {
        DeviceState {
            tracked,
            ..DeviceState::default()
        }
    }

    /// Whether the figures are published: slices, claims and classes each completed a list.
    pub fn synced(&self) -> bool {
        self.listed.iter().all(|l| *l)
    }

    /// A list of `kind` (0 slices, 1 claims, 2 classes) completed.
    fn listed(&mut self, kind: usize) {
        self.listed[kind] = true;
        self.dirty = true;
    }

    fn slice_record(&mut self, input: SliceInput) -> SliceRecord {
        let (node, device_nodes) = match input.scope {
            SliceScope::Node(node) => (Some(node.into_boxed_str()), None),
            SliceScope::Shared => (None, None),
            SliceScope::PerDevice => (
                None,
                Some(
                    input
                        .devices
                        .iter()
                        .map(|d| d.node.as_deref().map(Box::from))
                        .collect(),
                ),
            ),
        };
        SliceRecord {
            driver: self.drivers.id(&input.driver),
            pool: self.pools.id(&input.pool),
            generation: input.generation,
            node,
            devices: Packed::new(input.devices.iter().map(|d| d.name.as_str())),
            device_nodes,
            attributes: input
                .devices
                .iter()
                .flat_map(|d| d.attributes.iter().copied())
                .collect(),
            attribute_ends: input
                .devices
                .iter()
                .scan(0u32, |end, d| {
                    *end += u32::try_from(d.attributes.len()).unwrap_or(u32::MAX);
                    Some(*end)
                })
                .collect(),
        }
    }

    fn claim_record(&mut self, input: &ClaimInput) -> ClaimRecord {
        ClaimRecord {
            allocated: input.allocated,
            results: input
                .results
                .iter()
                .map(|r| ResultRecord {
                    driver: self.drivers.id(&r.driver),
                    pool: self.pools.id(&r.pool),
                    class: r
                        .class
                        .as_deref()
                        .map_or(NO_CLASS, |c| self.class_names.id(c)),
                })
                .collect(),
            devices: Packed::new(input.results.iter().map(|r| r.device.as_str())),
        }
    }

    fn class_record(&mut self, input: &ClassInput) -> ClassRecord {
        ClassRecord {
            selection: resolve(&input.selectors, &mut self.drivers),
            extended_resource: input.extended_resource.as_deref().map(Box::from),
            created: input.created.unwrap_or(i64::MIN),
        }
    }

    /// A slice was added or modified (`name` = its metadata.name).
    pub fn apply_slice(&mut self, name: &str, input: SliceInput) {
        let record = self.slice_record(input);
        self.slices.apply(name, record);
        self.dirty = true;
    }

    /// A slice was deleted.
    pub fn delete_slice(&mut self, name: &str) {
        self.slices.delete(name);
        self.dirty = true;
    }

    /// A slice re-list starts.
    pub fn begin_slice_relist(&mut self) {
        self.slices.begin();
    }

    /// A slice of a re-list.
    pub fn relist_slice(&mut self, name: &str, input: SliceInput) {
        let record = self.slice_record(input);
        self.slices.relist(name, record);
    }

    /// A slice re-list is complete: it replaces the stored slices.
    pub fn finish_slice_relist(&mut self) {
        self.slices.finish();
        self.listed(0);
    }

    /// A claim was added or modified (`key` = namespace/name).
    pub fn apply_claim(&mut self, key: &str, input: &ClaimInput) {
        let record = self.claim_record(input);
        self.claims.apply(key, record);
        self.dirty = true;
    }

    /// A claim was deleted.
    pub fn delete_claim(&mut self, key: &str) {
        self.claims.delete(key);
        self.dirty = true;
    }

    /// A claim re-list starts.
    pub fn begin_claim_relist(&mut self) {
        self.claims.begin();
    }

    /// A claim of a re-list.
    pub fn relist_claim(&mut self, key: &str, input: &ClaimInput) {
        let record = self.claim_record(input);
        self.claims.relist(key, record);
    }

    /// A claim re-list is complete.
    pub fn finish_claim_relist(&mut self) {
        self.claims.finish();
        self.listed(1);
    }

    /// A class was added or modified.
    pub fn apply_class(&mut self, name: &str, input: &ClassInput) {
        self.class_names.id(name);
        let record = self.class_record(input);
        self.classes.apply(name, record);
        self.dirty = true;
    }

    /// A class was deleted.
    pub fn delete_class(&mut self, name: &str) {
        self.classes.delete(name);
        self.dirty = true;
    }

    /// A class re-list starts.
    pub fn begin_class_relist(&mut self) {
        self.classes.begin();
    }

    /// A class of a re-list.
    pub fn relist_class(&mut self, name: &str, input: &ClassInput) {
        self.class_names.id(name);
        let record = self.class_record(input);
        self.classes.relist(name, record);
    }

    /// A class re-list is complete.
    pub fn finish_class_relist(&mut self) {
        self.classes.finish();
        self.listed(2);
    }

    /// Recomputes the figures if a record changed since the last call and every list completed;
    /// returns whether it did. O(devices + allocation results).
    pub fn settle(&mut self) -> bool {
        // Before every list completed nothing is published: one computation at the end of the
        // initial lists, not one per batch of them.
        if !self.dirty || !self.synced() {
            return false;
        }
        self.dirty = false;
        self.recompute();
        true
    }

    /// Names of drivers, pools and classes no record holds any more (node-local pools are named
    /// after nodes, which come and go) are dropped: the interned names are rebuilt from the live
    /// records once they outnumber what the records can hold by far. O(records), like
    /// [`DeviceState::recompute`].
    fn compact_names(&mut self) {
        let live = 2 * (self.slices.current.len() + self.classes.current.len()) + 64;
        if self.drivers.len() + self.pools.len() + self.class_names.len() <= live {
            return;
        }
        let (old_drivers, old_pools, old_classes) = (
            std::mem::take(&mut self.drivers),
            std::mem::take(&mut self.pools),
            std::mem::take(&mut self.class_names),
        );
        let (drivers, pools, classes) = (&mut self.drivers, &mut self.pools, &mut self.class_names);
        for slice in self.slices.all_mut() {
            slice.driver = drivers.id(old_drivers.name(slice.driver));
            slice.pool = pools.id(old_pools.name(slice.pool));
        }
        for claim in self.claims.all_mut() {
            for r in &mut claim.results {
                r.driver = drivers.id(old_drivers.name(r.driver));
                r.pool = pools.id(old_pools.name(r.pool));
                if r.class != NO_CLASS {
                    r.class = classes.id(old_classes.name(r.class));
                }
            }
        }
        let mut class_records: Vec<(&Box<str>, &mut ClassRecord)> =
            self.classes.current.iter_mut().collect();
        if let Some(relist) = self.classes.relist.as_mut() {
            class_records.extend(relist.iter_mut());
        }
        for (name, class) in class_records {
            classes.id(name);
            if let Selection::Match {
                driver: Some(d), ..
            } = &mut class.selection
            {
                *d = drivers.id(old_drivers.name(*d));
            }
        }
    }

    fn recompute(&mut self) {
        self.compact_names();
        // The current generation of each pool.
        let mut generations: HashMap<(Id, Id), i64> = HashMap::new();
        for slice in self.slices.current.values() {
            let g = generations
                .entry((slice.driver, slice.pool))
                .or_insert(slice.generation);
            *g = (*g).max(slice.generation);
        }
        // Allocated devices, each once, with the class of the first claim naming it with a class
        // (by namespace, then name, so the choice does not depend on hashing).
        let mut claim_keys: Vec<&Box<str>> = self.claims.current.keys().collect();
        claim_keys.sort_unstable_by_key(|k| k.split_once('/'));
        let mut allocated: HashMap<(Id, Id, &str), Option<Id>> = HashMap::new();
        let (mut claims_allocated, mut claims_pending) = (0, 0);
        for key in claim_keys {
            let claim = &self.claims.current[key];
            if !claim.allocated {
                claims_pending += 1;
                continue;
            }
            claims_allocated += 1;
            for (r, device) in claim.results.iter().zip(claim.devices.iter()) {
                let class = (r.class != NO_CLASS).then_some(r.class);
                let holder = allocated.entry((r.driver, r.pool, device)).or_insert(None);
                *holder = holder.or(class);
            }
        }
        // The classes whose selectors resolve to devices (unresolved ones and those selecting
        // nothing publish no devices): the driver they select and the attribute keys they need.
        let mut classes: Vec<(Id, Option<Id>, &[u32])> = self
            .classes
            .current
            .iter()
            .filter_map(|(name, c)| match &c.selection {
                Selection::Match { driver, attributes } => {
                    Some((self.class_names.get(name)?, *driver, &attributes[..]))
                }
                Selection::Nothing | Selection::Unresolved => None,
            })
            .collect();
        classes.sort_unstable_by_key(|(id, _, _)| *id);
        let mut figures = Figures {
            claims_allocated,
            claims_pending,
            ..Figures::default()
        };
        let mut counted: HashSet<(Id, Id, &str)> = HashSet::new();
        for slice in self.slices.current.values() {
            if generations.get(&(slice.driver, slice.pool)) != Some(&slice.generation) {
                continue;
            }
            for (i, device) in slice.devices.iter().enumerate() {
                let key = (slice.driver, slice.pool, device);
                // A device published twice (a broken driver) counts once.
                if !counted.insert(key) {
                    continue;
                }
                let node = match (&slice.node, &slice.device_nodes) {
                    (Some(node), _) => Some(node),
                    (None, Some(nodes)) => nodes.get(i).and_then(Option::as_ref),
                    (None, None) => None,
                };
                let place = match node {
                    Some(node) => figures.nodes.entry(node.clone()).or_default(),
                    None => figures.pools.entry((slice.driver, slice.pool)).or_default(),
                };
                let holder = allocated.get(&key);
                let is_allocated = u64::from(holder.is_some());
                let by_driver = count_of(&mut place.drivers, slice.driver);
                by_driver.published += 1;
                by_driver.allocated += is_allocated;
                let attributes = slice.attributes_of(i);
                for &(class, driver, wanted) in &classes {
                    if driver.is_none_or(|d| d == slice.driver)
                        && wanted.iter().all(|k| attributes.contains(k))
                    {
                        count_of(&mut place.classes, class).published += 1;
                    }
                }
                if let Some(Some(class)) = holder {
                    count_of(&mut place.classes, *class).allocated += 1;
                }
            }
        }
        self.figures = figures;
        self.backing = self.backing_classes();
    }

    /// Tracked resources backed by a resolved class: explicitly (`extendedResourceName`) or by
    /// the implicit name `deviceclass.resource.kubernetes.io/<class>`.
    fn backing_classes(&self) -> Vec<(usize, Id)> {
        let mut backing = Vec::new();
        for (r, resource) in self.tracked.iter().enumerate() {
            let mut by_class: Vec<(&str, &ClassRecord)> = self
                .classes
                .current
                .iter()
                .filter(|(name, c)| {
                    c.extended_resource.as_deref() == Some(resource.as_str())
                        || resource.strip_prefix(IMPLICIT_EXTENDED_PREFIX) == Some(&***name)
                })
                .map(|(name, c)| (&**name, c))
                .collect();
            // Several classes naming one resource: the API picks the most recently created,
            // and of those created at once the first by name.
            by_class.sort_unstable_by(|(a, x), (b, y)| y.created.cmp(&x.created).then(a.cmp(b)));
            if let Some((name, class)) = by_class.first() {
                if class.selection != Selection::Unresolved {
                    if let Some(id) = self.class_names.get(name) {
                        backing.push((r, id));
                    }
                }
            }
        }
        backing
    }

    /// Node-local devices of every node that has some, by node name.
    pub fn nodes(&self) -> impl Iterator<Item = (&str, PlaceDevices)> + '_ {
        self.figures
            .nodes
            .iter()
            .map(|(name, place)| (&**name, self.named(place)))
    }

    /// Node-local devices of one node.
    pub fn node(&self, name: &str) -> Option<PlaceDevices> {
        self.figures.nodes.get(name).map(|place| self.named(place))
    }

    /// The allocatable a DRA-backed tracked resource gets on `node` if the node does not
    /// advertise it: `(resource index, devices of the backing class)`.
    pub fn extended_allocatable(&self, node: &str) -> Vec<(usize, u64)> {
        let place = self.figures.nodes.get(node);
        self.backing
            .iter()
            .map(|&(r, class)| {
                let published = place
                    .and_then(|p| p.classes.iter().find(|(id, _)| *id == class))
                    .map_or(0, |(_, c)| c.published);
                (r, published)
            })
            .collect()
    }

    /// Whether any tracked resource is backed by a DeviceClass.
    pub fn backs_resources(&self) -> bool {
        !self.backing.is_empty()
    }

    /// Shared pools: `(driver, pool, devices)`, sorted by driver then pool.
    pub fn pools(&self) -> Vec<(String, String, PlaceDevices)> {
        let mut pools: Vec<(String, String, PlaceDevices)> = self
            .figures
            .pools
            .iter()
            .map(|(&(driver, pool), place)| {
                (
                    self.drivers.name(driver).to_owned(),
                    self.pools.name(pool).to_owned(),
                    self.named(place),
                )
            })
            .collect();
        pools.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        pools
    }

    /// Every stored DeviceClass, by name.
    pub fn classes(&self) -> Vec<ClassInfo> {
        let mut classes: Vec<ClassInfo> = self
            .classes
            .current
            .iter()
            .map(|(name, c)| ClassInfo {
                name: name.to_string(),
                resolved: c.selection != Selection::Unresolved,
                extended_resource: c.extended_resource.as_deref().map(str::to_owned),
            })
            .collect();
        classes.sort_by(|a, b| a.name.cmp(&b.name));
        classes
    }

    /// Claims with and without an allocation.
    pub fn claims(&self) -> (u64, u64) {
        (self.figures.claims_allocated, self.figures.claims_pending)
    }

    /// Stored objects: slices, claims, classes.
    pub fn object_counts(&self) -> (usize, usize, usize) {
        (
            self.slices.current.len(),
            self.claims.current.len(),
            self.classes.current.len(),
        )
    }

    fn named(&self, place: &Place) -> PlaceDevices {
        let mut drivers: Vec<(String, Count)> = place
            .drivers
            .iter()
            .map(|&(d, c)| (self.drivers.name(d).to_owned(), c))
            .collect();
        drivers.sort_by(|a, b| a.0.cmp(&b.0));
        let mut classes: Vec<(String, Count)> = place
            .classes
            .iter()
            .map(|&(k, c)| (self.class_names.name(k).to_owned(), c))
            .collect();
        classes.sort_by(|a, b| a.0.cmp(&b.0));
        PlaceDevices { drivers, classes }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slice(
        driver: &str,
        pool: &str,
        generation: i64,
        node: Option<&str>,
        n: usize,
    ) -> SliceInput {
        SliceInput {
            driver: driver.into(),
            pool: pool.into(),
            generation,
            scope: node.map_or(SliceScope::Shared, |n| SliceScope::Node(n.into())),
            devices: (0..n)
                .map(|i| DeviceInput {
                    name: format!("dev-{i}"),
                    node: None,
                    attributes: Vec::new(),
                })
                .collect(),
        }
    }

    fn claim(results: &[(&str, &str, &str, Option<&str>)]) -> ClaimInput {
        ClaimInput {
            allocated: true,
            results: results
                .iter()
                .map(|(driver, pool, device, class)| ResultInput {
                    driver: (*driver).into(),
                    pool: (*pool).into(),
                    device: (*device).into(),
                    class: class.map(str::to_owned),
                })
                .collect(),
        }
    }

    fn class(expression: &str, extended: Option<&str>) -> ClassInput {
        ClassInput {
            selectors: vec![expression.into()],
            extended_resource: extended.map(str::to_owned),
            created: None,
        }
    }

    /// A ledger whose three watches completed their (empty) first lists.
    fn listed(tracked: Vec<String>) -> DeviceState {
        let mut s = DeviceState::new(tracked);
        s.begin_slice_relist();
        s.finish_slice_relist();
        s.begin_claim_relist();
        s.finish_claim_relist();
        s.begin_class_relist();
        s.finish_class_relist();
        s
    }

    fn count(published: u64, allocated: u64) -> Count {
        Count {
            published,
            allocated,
        }
    }

    #[test]
    fn driver_and_attribute_equality_selectors_resolve_and_nothing_else() {
        let mut names = Names::default();
        let gpu = names.id("gpu.example.com");
        let matching = |driver: Option<Id>, attributes: &[u32]| Selection::Match {
            driver,
            attributes: attributes.into(),
        };
        let string = |v: &str| AttributeValue::String(v.into());
        let model = attribute_key("", "gpu.example.com/model", &string("A100"));
        // An unqualified attribute of a device is in its driver's domain: the same key.
        assert_eq!(
            model,
            attribute_key("gpu.example.com", "model", &string("A100"))
        );
        let cases: &[(&[&str], Selection)] = &[
            (&[], matching(None, &[])),
            (
                &["device.driver == \"gpu.example.com\""],
                matching(Some(gpu), &[]),
            ),
            (&["'gpu.example.com'==device.driver"], matching(Some(gpu), &[])),
            (
                &["device.driver == 'gpu.example.com' && device.driver == \"gpu.example.com\""],
                matching(Some(gpu), &[]),
            ),
            (
                &["device.driver == \"a\"", "device.driver == \"b\""],
                Selection::Nothing,
            ),
            // The NVIDIA driver's own class.
            (
                &["device.driver == 'gpu.example.com' && device.attributes['gpu.example.com'].model == 'A100'"],
                matching(Some(gpu), &[model]),
            ),
            (
                &["device.attributes[\"gpu.example.com\"].shared == true"],
                matching(
                    None,
                    &[attribute_key("", "gpu.example.com/shared", &AttributeValue::Bool(true))],
                ),
            ),
            (
                &["device.attributes[\"gpu.example.com\"].index == 3"],
                matching(
                    None,
                    &[attribute_key("", "gpu.example.com/index", &AttributeValue::Int(3))],
                ),
            ),
            (
                &["device.capacity['gpu.example.com'].memory.compareTo(quantity('40Gi')) >= 0"],
                Selection::Unresolved,
            ),
            (
                &["device.attributes['gpu.example.com'].driverVersion == semver('1.2.3')"],
                Selection::Unresolved,
            ),
            (&["device.driver != \"x\""], Selection::Unresolved),
            (&["device.driver == x"], Selection::Unresolved),
            (&[""], Selection::Unresolved),
        ];
        for (selectors, want) in cases {
            let selectors: Vec<String> = selectors.iter().map(|s| (*s).to_owned()).collect();
            assert_eq!(resolve(&selectors, &mut names), *want, "{selectors:?}");
        }
    }

    #[test]
    fn an_attribute_selector_counts_the_devices_holding_that_value() {
        let mut s = listed(vec!["nvidia.com/gpu".into()]);
        let mut input = slice("gpu.example.com", "a", 1, Some("a"), 3);
        let kind = |v: &str| AttributeValue::String(v.into());
        input.devices[0].attributes = vec![attribute_key("gpu.example.com", "type", &kind("gpu"))];
        input.devices[1].attributes = vec![attribute_key("gpu.example.com", "type", &kind("mig"))];
        input.devices[2].attributes = vec![attribute_key(
            "gpu.example.com",
            "gpu.example.com/type",
            &kind("gpu"),
        )];
        s.apply_slice("a", input);
        s.apply_class(
            "gpu",
            &class(
                "device.driver == 'gpu.example.com' && device.attributes['gpu.example.com'].type == 'gpu'",
                Some("nvidia.com/gpu"),
            ),
        );
        s.settle();
        assert_eq!(
            s.node("a").unwrap().classes,
            [("gpu".to_owned(), count(2, 0))]
        );
        assert_eq!(s.extended_allocatable("a"), [(0, 2)]);
        assert!(s.classes()[0].resolved);
    }

    #[test]
    fn node_local_and_shared_devices_count_published_and_allocated_once() {
        let mut s = listed(vec![]);
        s.apply_slice("a-gpu", slice("gpu", "a", 1, Some("a"), 4));
        s.apply_slice("rack-1", slice("nic", "rack", 1, None, 3));
        s.apply_claim("ns/c1", &claim(&[("gpu", "a", "dev-0", Some("gpu-class"))]));
        // The same device in two claims (a shareable device): counted once.
        s.apply_claim("ns/c2", &claim(&[("gpu", "a", "dev-0", Some("gpu-class"))]));
        s.apply_claim("ns/c3", &claim(&[("nic", "rack", "dev-2", None)]));
        // A device no slice publishes: not counted.
        s.apply_claim("ns/c4", &claim(&[("gpu", "a", "dev-9", None)]));
        s.apply_claim("ns/pending", &ClaimInput::default());
        assert!(s.settle());
        assert!(!s.settle(), "nothing changed since");
        let a = s.node("a").unwrap();
        assert_eq!(a.drivers, [("gpu".to_owned(), count(4, 1))]);
        assert_eq!(a.classes, [("gpu-class".to_owned(), count(0, 1))]);
        assert_eq!(
            s.pools(),
            [(
                "nic".to_owned(),
                "rack".to_owned(),
                PlaceDevices {
                    drivers: vec![("nic".to_owned(), count(3, 1))],
                    classes: vec![],
                }
            )]
        );
        assert_eq!(s.claims(), (4, 1));
    }

    #[test]
    fn nothing_is_computed_before_the_three_first_lists_complete() {
        let mut s = DeviceState::new(vec![]);
        s.begin_slice_relist();
        s.relist_slice("a", slice("gpu", "a", 1, Some("a"), 4));
        s.finish_slice_relist();
        s.begin_claim_relist();
        s.finish_claim_relist();
        assert!(!s.synced() && !s.settle(), "classes not listed yet");
        assert!(s.node("a").is_none());
        s.begin_class_relist();
        s.finish_class_relist();
        assert!(s.synced() && s.settle());
        assert_eq!(s.node("a").unwrap().drivers[0].1, count(4, 0));
    }

    #[test]
    fn only_the_newest_generation_of_a_pool_counts() {
        let mut s = listed(vec![]);
        s.apply_slice("old", slice("gpu", "a", 1, Some("a"), 4));
        s.apply_slice("new", slice("gpu", "a", 2, Some("a"), 6));
        s.settle();
        assert_eq!(s.node("a").unwrap().drivers[0].1, count(6, 0));
        s.delete_slice("new");
        s.settle();
        assert_eq!(s.node("a").unwrap().drivers[0].1, count(4, 0));
    }

    #[test]
    fn resolved_classes_count_what_they_select_unresolved_only_what_they_allocated() {
        let mut s = listed(vec![]);
        s.apply_slice("a-gpu", slice("gpu", "a", 1, Some("a"), 2));
        s.apply_slice("a-nic", slice("nic", "a-nic", 1, Some("a"), 1));
        s.apply_class("gpu", &class("device.driver == \"gpu\"", None));
        s.apply_class("any", &ClassInput::default());
        s.apply_class(
            "big-gpu",
            &class(
                "device.driver == \"gpu\" && device.capacity[\"gpu\"].memory > 1",
                None,
            ),
        );
        s.apply_claim("ns/c", &claim(&[("gpu", "a", "dev-1", Some("big-gpu"))]));
        s.settle();
        let a = s.node("a").unwrap();
        assert_eq!(
            a.classes,
            [
                ("any".to_owned(), count(3, 0)),
                ("big-gpu".to_owned(), count(0, 1)),
                ("gpu".to_owned(), count(2, 0)),
            ]
        );
        let infos = s.classes();
        assert_eq!(
            infos.iter().map(|c| c.resolved).collect::<Vec<_>>(),
            [true, false, true]
        );
    }

    #[test]
    fn per_device_node_selection_puts_each_device_where_it_says() {
        let mut s = listed(vec![]);
        let input = SliceInput {
            driver: "d".into(),
            pool: "p".into(),
            generation: 1,
            scope: SliceScope::PerDevice,
            devices: vec![
                DeviceInput {
                    name: "x".into(),
                    node: Some("n1".into()),
                    attributes: Vec::new(),
                },
                DeviceInput {
                    name: "y".into(),
                    node: None,
                    attributes: Vec::new(),
                },
            ],
        };
        s.apply_slice("s", input);
        s.settle();
        assert_eq!(s.node("n1").unwrap().drivers[0].1, count(1, 0));
        assert_eq!(s.pools()[0].2.drivers[0].1, count(1, 0));
    }

    #[test]
    fn a_class_backs_its_extended_resource_explicitly_or_by_the_implicit_name() {
        let tracked = vec![
            "cpu".to_owned(),
            "nvidia.com/gpu".to_owned(),
            "deviceclass.resource.kubernetes.io/nic".to_owned(),
            "example.com/fpga".to_owned(),
        ];
        let mut s = listed(tracked);
        s.apply_slice("a-gpu", slice("gpu", "a", 1, Some("a"), 8));
        s.apply_slice("a-nic", slice("nic", "a-nic", 1, Some("a"), 2));
        s.apply_class(
            "gpu",
            &class("device.driver == 'gpu'", Some("nvidia.com/gpu")),
        );
        s.apply_class("nic", &class("device.driver == 'nic'", None));
        s.apply_class(
            "fpga",
            &class(
                "device.capacity['x'].y.compareTo(quantity('1')) > 0",
                Some("example.com/fpga"),
            ),
        );
        s.settle();
        assert_eq!(s.extended_allocatable("a"), [(1, 8), (2, 2)]);
        assert_eq!(s.extended_allocatable("b"), [(1, 0), (2, 0)]);
        assert!(s.backs_resources());
    }

    #[test]
    fn of_several_classes_backing_one_resource_the_newest_counts_then_the_first_by_name() {
        let mut s = listed(vec!["nvidia.com/gpu".into()]);
        s.apply_slice("a-old", slice("old.example.com", "a", 1, Some("a"), 2));
        s.apply_slice("a-new", slice("new.example.com", "a-new", 1, Some("a"), 6));
        let backing = |driver: &str, created| ClassInput {
            created,
            ..class(
                &format!("device.driver == '{driver}'"),
                Some("nvidia.com/gpu"),
            )
        };
        s.apply_class("z-new", &backing("new.example.com", Some(2_000)));
        s.apply_class("a-old", &backing("old.example.com", Some(1_000)));
        s.settle();
        assert_eq!(s.extended_allocatable("a"), [(0, 6)], "the newer class");
        s.apply_class("b-same-time", &backing("old.example.com", Some(2_000)));
        s.settle();
        assert_eq!(
            s.extended_allocatable("a"),
            [(0, 2)],
            "same time: first by name"
        );
    }

    #[test]
    fn names_no_record_holds_are_dropped_and_the_figures_stay() {
        let mut s = listed(vec![]);
        s.apply_class("gpu", &class("device.driver == 'gpu'", None));
        for i in 0..200 {
            s.apply_slice(
                &format!("s{i}"),
                slice(
                    "gpu",
                    &format!("node-{i}"),
                    1,
                    Some(&format!("node-{i}")),
                    2,
                ),
            );
            s.settle();
            s.delete_slice(&format!("s{i}"));
        }
        s.apply_slice("last", slice("gpu", "node-x", 1, Some("node-x"), 3));
        s.apply_claim("ns/c", &claim(&[("gpu", "node-x", "dev-1", Some("gpu"))]));
        s.settle();
        assert!(s.pools.len() < 70, "{} pool names kept", s.pools.len());
        let x = s.node("node-x").unwrap();
        assert_eq!(x.drivers, [("gpu".to_owned(), count(3, 1))]);
        assert_eq!(x.classes, [("gpu".to_owned(), count(3, 1))]);
    }

    #[test]
    fn a_relist_replaces_the_records_and_keeps_them_until_it_completes() {
        let mut s = listed(vec![]);
        s.apply_slice("gone", slice("gpu", "a", 1, Some("a"), 4));
        s.settle();
        s.begin_slice_relist();
        s.relist_slice("b", slice("gpu", "b", 1, Some("b"), 2));
        s.settle();
        assert!(s.node("a").is_some(), "kept while the re-list runs");
        s.finish_slice_relist();
        s.settle();
        assert!(s.node("a").is_none());
        assert_eq!(s.node("b").unwrap().drivers[0].1, count(2, 0));
        assert_eq!(s.object_counts(), (1, 0, 0));
    }
}
