//! The queue of requests waiting for a worker (upstream's `util/messages_queue.rs`, without its
//! `unwrap`s: a poisoned lock is recovered, since no code that holds it can panic).

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

enum Item<T> {
    Value(T),
    Unblock,
}

/// A blocking multi-consumer queue.
pub(crate) struct Queue<T> {
    items: Mutex<VecDeque<Item<T>>>,
    ready: Condvar,
}

impl<T> Queue<T> {
    pub(crate) fn new() -> Queue<T> {
        Queue {
            items: Mutex::new(VecDeque::new()),
            ready: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<Item<T>>> {
        self.items.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a value and wakes one waiting consumer.
    pub(crate) fn push(&self, value: T) {
        self.lock().push_back(Item::Value(value));
        self.ready.notify_one();
    }

    /// Makes one consumer's `pop` return `None`.
    pub(crate) fn unblock(&self) {
        self.lock().push_back(Item::Unblock);
        self.ready.notify_one();
    }

    /// The next value, waiting at most `timeout` (forever when `None`); `None` after `unblock`
    /// or when the time is up.
    pub(crate) fn pop(&self, timeout: Option<Duration>) -> Option<T> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut items = self.lock();
        loop {
            match items.pop_front() {
                Some(Item::Value(value)) => return Some(value),
                Some(Item::Unblock) => return None,
                None => {}
            }
            items = match deadline {
                None => self
                    .ready
                    .wait(items)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return None;
                    }
                    self.ready
                        .wait_timeout(items, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
        }
    }
}
