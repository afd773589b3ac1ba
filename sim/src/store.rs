//! The object store: current objects of every served kind keyed like etcd, one global monotonically increasing
//! resourceVersion, and a bounded ring of past events (the "kept history").
//!
//! Lists at an older resourceVersion are answered by overlaying the history on the current maps,
//! so a paged list stays a consistent snapshot without keeping copies; a resourceVersion older
//! than the history is `Expired` (410), as after an etcd compaction. One mutex guards everything:
//! each critical section is short (a page of `Arc` clones, one serialization per mutation).
//!
//! No I/O and no HTTP: it never names a request, a response or a Status; callers map its
//! `VersionError`s to answers.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::ops::Bound;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::object::{Kind, Object};
use crate::select::Filter;

/// What happened to an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// Created.
    Added,
    /// Replaced.
    Modified,
    /// Removed.
    Deleted,
}

impl EventType {
    /// The watch event `type` string.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change in the history.
#[derive(Clone, Debug)]
pub struct Event {
    /// The resourceVersion this change created.
    pub rv: u64,
    /// Added, Modified or Deleted.
    pub event_type: EventType,
    /// The new state; for Deleted, the last state carrying the deletion resourceVersion.
    pub object: Arc<Object>,
    /// The state before the change (None for Added).
    pub prev: Option<Arc<Object>>,
}

/// Why a list or watch at a resourceVersion cannot be served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionError {
    /// The version is older than the kept history (410).
    Expired {
        /// The requested version.
        requested: u64,
        /// The oldest version that can still be served.
        oldest: u64,
    },
    /// The version is newer than anything the store has seen (504 after waiting).
    TooLarge {
        /// The requested version.
        requested: u64,
        /// The current version.
        current: u64,
    },
}

/// A page of a list.
#[derive(Debug)]
pub struct Page {
    /// The resourceVersion of the snapshot the page was cut from.
    pub rv: u64,
    /// The selected objects, in key order.
    pub items: Vec<Arc<Object>>,
    /// Key of the last item when more items follow (becomes the continue token).
    pub next_key: Option<Box<str>>,
}

/// Counts for `/state`.
#[derive(Debug, Clone, Copy)]
pub struct Counts {
    /// Stored nodes.
    pub nodes: usize,
    /// Stored pods.
    pub pods: usize,
    /// Stored ResourceSlices.
    pub resource_slices: usize,
    /// Stored ResourceClaims.
    pub resource_claims: usize,
    /// Current resourceVersion.
    pub rv: u64,
}

/// Keys in insertion-independent random-access form, so churn can pick a random object in O(1).
#[derive(Default)]
struct KeyIndex {
    keys: Vec<Box<str>>,
    position: HashMap<Box<str>, usize>,
}

impl KeyIndex {
    fn insert(&mut self, key: &str) {
        if !self.position.contains_key(key) {
            self.position.insert(key.into(), self.keys.len());
            self.keys.push(key.into());
        }
    }
    fn remove(&mut self, key: &str) {
        if let Some(i) = self.position.remove(key) {
            self.keys.swap_remove(i);
            if let Some(moved) = self.keys.get(i) {
                self.position.insert(moved.clone(), i);
            }
        }
    }
}

struct State {
    rv: u64,
    /// One map per kind, in `Kind::ALL` order.
    maps: [BTreeMap<Box<str>, Arc<Object>>; Kind::ALL.len()],
    /// One key index per kind, in `Kind::ALL` order.
    keys: [KeyIndex; Kind::ALL.len()],
    history: VecDeque<Event>,
    /// Every event with rv > floor is in `history`.
    floor: u64,
    capacity: usize,
    /// Bumped to end every open watch stream.
    watch_epoch: u64,
}

impl State {
    fn map(&self, kind: Kind) -> &BTreeMap<Box<str>, Arc<Object>> {
        &self.maps[kind.index()]
    }

    fn push_event(&mut self, event: Event) {
        let i = event.object.kind.index();
        let (map, keys) = (&mut self.maps[i], &mut self.keys[i]);
        if event.event_type == EventType::Deleted {
            map.remove(&event.object.key);
            keys.remove(&event.object.key);
        } else {
            keys.insert(&event.object.key);
            map.insert(event.object.key.clone(), event.object.clone());
        }
        self.rv = event.rv;
        self.history.push_back(event);
        while self.history.len() > self.capacity {
            if let Some(old) = self.history.pop_front() {
                self.floor = old.rv;
            }
        }
        if self.capacity == 0 {
            self.floor = self.rv;
        }
    }

    fn check_version(&self, rv: u64) -> Result<(), VersionError> {
        if rv < self.floor {
            Err(VersionError::Expired {
                requested: rv,
                oldest: self.floor + 1,
            })
        } else if rv > self.rv {
            Err(VersionError::TooLarge {
                requested: rv,
                current: self.rv,
            })
        } else {
            Ok(())
        }
    }

    /// Index of the first history event with rv > `rv`.
    fn history_after(&self, rv: u64) -> usize {
        self.history.partition_point(|e| e.rv <= rv)
    }
}

/// The shared store.
pub struct Store {
    state: Mutex<State>,
    changed: Condvar,
}

/// A mutation the store could not apply.
#[derive(Debug)]
pub enum MutateError {
    /// No such object.
    NotFound,
    /// The mutation produced an invalid object.
    Invalid(String),
}

impl Store {
    /// An empty store keeping `history` events.
    pub fn new(history: usize) -> Store {
        Store {
            state: Mutex::new(State {
                rv: 1,
                maps: Default::default(),
                keys: Default::default(),
                history: VecDeque::new(),
                floor: 1,
                capacity: history,
                watch_epoch: 0,
            }),
            changed: Condvar::new(),
        }
    }

    // A poisoned lock only means another thread panicked mid-request; the maps are still
    // consistent because every mutation is a single insert/remove.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Replaces the whole content with pre-built objects, without events (initial load); the
    /// history starts after the newest object.
    pub fn load(&self, objects: Vec<Object>) {
        let mut st = self.lock();
        let mut max_rv = st.rv;
        for obj in objects {
            max_rv = max_rv.max(obj.resource_version);
            let obj = Arc::new(obj);
            let i = obj.kind.index();
            st.keys[i].insert(&obj.key);
            st.maps[i].insert(obj.key.clone(), obj);
        }
        st.rv = max_rv;
        st.floor = max_rv;
        st.history.clear();
        drop(st);
        self.changed.notify_all();
    }

    /// Creates or replaces an object; returns the new resourceVersion.
    pub fn upsert(&self, value: Value) -> Result<u64, String> {
        let mut st = self.lock();
        let rv = st.rv + 1;
        let object = Arc::new(Object::from_value(value, rv)?);
        let prev = st.map(object.kind).get(&object.key).cloned();
        let event_type = if prev.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        st.push_event(Event {
            rv,
            event_type,
            object,
            prev,
        });
        drop(st);
        self.changed.notify_all();
        Ok(rv)
    }

    /// Changes a stored object through its JSON; returns the new resourceVersion.
    pub fn mutate(
        &self,
        kind: Kind,
        key: &str,
        change: impl FnOnce(&mut Value),
    ) -> Result<u64, MutateError> {
        let mut st = self.lock();
        let prev = st
            .map(kind)
            .get(key)
            .cloned()
            .ok_or(MutateError::NotFound)?;
        let mut value = prev.to_value().map_err(MutateError::Invalid)?;
        change(&mut value);
        let rv = st.rv + 1;
        let object = Arc::new(Object::from_value(value, rv).map_err(MutateError::Invalid)?);
        if object.key != prev.key {
            return Err(MutateError::Invalid(
                "a mutation may not rename an object".into(),
            ));
        }
        st.push_event(Event {
            rv,
            event_type: EventType::Modified,
            object,
            prev: Some(prev),
        });
        drop(st);
        self.changed.notify_all();
        Ok(rv)
    }

    /// Deletes an object; returns the deletion resourceVersion, or None when absent.
    pub fn delete(&self, kind: Kind, key: &str) -> Option<u64> {
        let mut st = self.lock();
        let prev = st.map(kind).get(key).cloned()?;
        let rv = st.rv + 1;
        let object = Arc::new(prev.with_resource_version(rv));
        st.push_event(Event {
            rv,
            event_type: EventType::Deleted,
            object,
            prev: Some(prev),
        });
        drop(st);
        self.changed.notify_all();
        Some(rv)
    }

    /// The current version of one object.
    pub fn get(&self, kind: Kind, key: &str) -> Option<Arc<Object>> {
        self.lock().map(kind).get(key).cloned()
    }

    /// The key of the `n % count`-th object in an arbitrary but deterministic order.
    pub fn key_at(&self, kind: Kind, n: u64) -> Option<Box<str>> {
        let st = self.lock();
        let keys = &st.keys[kind.index()].keys;
        if keys.is_empty() {
            return None;
        }
        let len = u64::try_from(keys.len()).unwrap_or(u64::MAX);
        let i = usize::try_from(n % len).unwrap_or(0);
        keys.get(i).cloned()
    }

    /// Counts for `/state`.
    pub fn counts(&self) -> Counts {
        let st = self.lock();
        Counts {
            nodes: st.map(Kind::Node).len(),
            pods: st.map(Kind::Pod).len(),
            resource_slices: st.map(Kind::ResourceSlice).len(),
            resource_claims: st.map(Kind::ResourceClaim).len(),
            rv: st.rv,
        }
    }

    /// The current resourceVersion.
    pub fn current_rv(&self) -> u64 {
        self.lock().rv
    }

    /// Waits until the store reaches `rv` or `timeout` passes; true when reached.
    pub fn wait_for_rv(&self, rv: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.lock();
        while st.rv < rv {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            st = self
                .changed
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
        true
    }

    /// A page of the snapshot at `at_rv` (None = now), after key `after`, at most `limit` items
    /// (0 = all) that pass `filter`.
    pub fn list(
        &self,
        kind: Kind,
        at_rv: Option<u64>,
        after: Option<&str>,
        limit: usize,
        filter: &Filter,
    ) -> Result<Page, VersionError> {
        let st = self.lock();
        let rv = at_rv.unwrap_or(st.rv);
        st.check_version(rv)?;
        // Keys changed since `rv` map to their state at `rv` (None = did not exist yet).
        let mut overlay: BTreeMap<&str, Option<&Arc<Object>>> = BTreeMap::new();
        for ev in st.history.range(st.history_after(rv)..) {
            if ev.object.kind == kind {
                overlay.entry(&ev.object.key).or_insert(ev.prev.as_ref());
            }
        }
        let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
        let mut current = st
            .map(kind)
            .range::<str, _>((lower, Bound::Unbounded))
            .peekable();
        let mut changed = overlay
            .range::<str, _>((lower, Bound::Unbounded))
            .peekable();
        let mut items = Vec::new();
        let mut next_key = None;
        loop {
            // Merge the two ordered streams; the overlay wins on equal keys.
            let candidate = match (current.peek(), changed.peek()) {
                (None, None) => break,
                (Some((ck, _)), Some((ok, _))) if ck.as_ref() < **ok => {
                    current.next().map(|(_, o)| Some(o))
                }
                (Some(_), None) => current.next().map(|(_, o)| Some(o)),
                (Some((ck, _)), Some((ok, _))) => {
                    if ck.as_ref() == **ok {
                        current.next();
                    }
                    changed.next().map(|(_, o)| *o)
                }
                (None, Some(_)) => changed.next().map(|(_, o)| *o),
            };
            let Some(Some(obj)) = candidate else { continue };
            if !filter.matches(obj) {
                continue;
            }
            if limit > 0 && items.len() == limit {
                next_key = items.last().map(|o: &Arc<Object>| o.key.clone());
                break;
            }
            items.push(obj.clone());
        }
        Ok(Page {
            rv,
            items,
            next_key,
        })
    }

    /// Events after `rv` (all kinds), and the store's current version and watch epoch.
    pub fn events_after(&self, rv: u64) -> Result<(Vec<Event>, u64, u64), VersionError> {
        let st = self.lock();
        if rv < st.floor {
            return Err(VersionError::Expired {
                requested: rv,
                oldest: st.floor + 1,
            });
        }
        let start = st.history_after(rv);
        Ok((
            st.history.range(start..).cloned().collect(),
            st.rv,
            st.watch_epoch,
        ))
    }

    /// Blocks until something changes after `rv`, the watch epoch moves past `epoch`, or
    /// `timeout` passes.
    pub fn wait_change(&self, rv: u64, epoch: u64, timeout: Duration) {
        let st = self.lock();
        if st.rv > rv || st.watch_epoch != epoch {
            return;
        }
        let _ = self.changed.wait_timeout(st, timeout);
    }

    /// The current watch epoch (streams end when it changes).
    pub fn watch_epoch(&self) -> u64 {
        self.lock().watch_epoch
    }

    /// Ends every open watch stream.
    pub fn close_watches(&self) {
        self.lock().watch_epoch += 1;
        self.changed.notify_all();
    }

    /// Forgets the history up to now and ends every open watch.
    pub fn compact(&self) {
        let mut st = self.lock();
        st.history.clear();
        st.floor = st.rv;
        st.watch_epoch += 1;
        drop(st);
        self.changed.notify_all();
    }

    /// Every current object of a kind, in key order.
    pub fn all(&self, kind: Kind) -> Vec<Arc<Object>> {
        self.lock().map(kind).values().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, phase: &str) -> Value {
        json!({"kind":"Pod","metadata":{"name":name,"namespace":"ns"},"spec":{"nodeName":"n1"},"status":{"phase":phase}})
    }

    fn names(page: &Page) -> Vec<String> {
        page.items.iter().map(|o| o.name.to_string()).collect()
    }

    #[test]
    fn a_list_at_an_old_version_sees_the_state_of_that_moment() {
        let store = Store::new(100);
        store.upsert(pod("a", "Running")).unwrap();
        let rv_b = store.upsert(pod("b", "Running")).unwrap();
        store.upsert(pod("c", "Running")).unwrap();
        store.delete(Kind::Pod, "ns/a").unwrap();
        store.upsert(pod("b", "Succeeded")).unwrap();
        let all = Filter::default();
        let then = store.list(Kind::Pod, Some(rv_b), None, 0, &all).unwrap();
        assert_eq!(names(&then), ["a", "b"]);
        assert_eq!(&*then.items[1].phase, "Running");
        let now = store.list(Kind::Pod, None, None, 0, &all).unwrap();
        assert_eq!(names(&now), ["b", "c"]);
        assert_eq!(&*now.items[0].phase, "Succeeded");
    }

    #[test]
    fn pages_continue_after_the_last_key_and_stop_at_the_end() {
        let store = Store::new(100);
        for n in ["a", "b", "c", "d", "e"] {
            store.upsert(pod(n, "Running")).unwrap();
        }
        let all = Filter::default();
        let p1 = store.list(Kind::Pod, None, None, 2, &all).unwrap();
        assert_eq!(names(&p1), ["a", "b"]);
        store.delete(Kind::Pod, "ns/c").unwrap();
        let p2 = store
            .list(Kind::Pod, Some(p1.rv), p1.next_key.as_deref(), 2, &all)
            .unwrap();
        assert_eq!(names(&p2), ["c", "d"]);
        let p3 = store
            .list(Kind::Pod, Some(p1.rv), p2.next_key.as_deref(), 2, &all)
            .unwrap();
        assert_eq!(names(&p3), ["e"]);
        assert!(p3.next_key.is_none());
    }

    #[test]
    fn versions_older_than_the_kept_history_are_expired() {
        let store = Store::new(2);
        let first = store.upsert(pod("a", "Running")).unwrap();
        for n in ["b", "c", "d"] {
            store.upsert(pod(n, "Running")).unwrap();
        }
        let all = Filter::default();
        assert!(matches!(
            store.list(Kind::Pod, Some(first), None, 0, &all),
            Err(VersionError::Expired { .. })
        ));
        assert!(matches!(
            store.events_after(first),
            Err(VersionError::Expired { .. })
        ));
        let now = store.current_rv();
        assert_eq!(store.events_after(now - 2).unwrap().0.len(), 2);
        store.compact();
        assert!(matches!(
            store.events_after(now - 1),
            Err(VersionError::Expired { .. })
        ));
        assert!(store.events_after(now).unwrap().0.is_empty());
        assert!(matches!(
            store.list(Kind::Pod, Some(now + 5), None, 0, &all),
            Err(VersionError::TooLarge { .. })
        ));
    }

    #[test]
    fn deleted_events_carry_the_deletion_version() {
        let store = Store::new(10);
        store.upsert(pod("a", "Running")).unwrap();
        let rv = store.delete(Kind::Pod, "ns/a").unwrap();
        let (events, _, _) = store.events_after(rv - 1).unwrap();
        assert_eq!(events[0].event_type, EventType::Deleted);
        let v: Value = serde_json::from_slice(&events[0].object.json).unwrap();
        assert_eq!(v["metadata"]["resourceVersion"], rv.to_string());
        assert!(store.delete(Kind::Pod, "ns/a").is_none());
    }
}
