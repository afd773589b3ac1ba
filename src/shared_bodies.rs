//! Metrics bodies built once for every scrape that asks while one is being built: a scrape that
//! arrives during a build waits for it and sends the same bytes, instead of building its own. So
//! a burst of scrapes (Prometheus HA pairs, a load test, an attacker) costs one build per round
//! and holds one body per round in memory, however many connections send it.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use crate::buffers::SharedBody;

#[derive(Default)]
struct Round {
    /// A build is running.
    building: bool,
    /// Completed builds.
    finished: u64,
    /// Scrapes waiting for the running build.
    waiting: usize,
    /// The last build's body, kept only while scrapes that waited for it have not taken it.
    last: Option<Arc<SharedBody>>,
}

/// One kind of body (plain or gzip) and the build in progress, if any.
#[derive(Default)]
pub struct Flight {
    round: Mutex<Round>,
    done: Condvar,
}

/// Resets the flight if a build does not finish (a panic in a test); waiters then build their own.
struct Building<'a>(&'a Flight, bool);

impl Drop for Building<'_> {
    fn drop(&mut self) {
        if !self.1 {
            let mut round = self.0.lock();
            round.building = false;
            round.finished += 1;
            self.0.done.notify_all();
        }
    }
}

impl Flight {
    fn lock(&self) -> MutexGuard<'_, Round> {
        self.round.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The body of the build in progress when there is one (waiting for it), else of a new
    /// build made by `build`.
    pub fn join(&self, build: impl FnOnce() -> SharedBody) -> Arc<SharedBody> {
        let mut round = self.lock();
        if round.building {
            let started = round.finished;
            round.waiting += 1;
            while round.finished == started {
                round = self
                    .done
                    .wait(round)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            round.waiting -= 1;
            let body = round.last.clone();
            if round.waiting == 0 {
                round.last = None;
            }
            drop(round);
            if let Some(body) = body {
                return body;
            }
            return self.join(build);
        }
        round.building = true;
        drop(round);
        let mut guard = Building(self, false);
        let body = Arc::new(build());
        let mut round = self.lock();
        round.building = false;
        round.finished += 1;
        if round.waiting > 0 {
            round.last = Some(body.clone());
        }
        guard.1 = true;
        drop(round);
        self.done.notify_all();
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buffers::Spares;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    static SPARES: Spares<u8> = Spares::new(1);

    #[test]
    fn scrapes_that_arrive_during_a_build_share_its_body() {
        let flight = Arc::new(Flight::default());
        let builds = Arc::new(AtomicUsize::new(0));
        let (started, building) = std::sync::mpsc::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let first = {
            let (flight, builds) = (flight.clone(), builds.clone());
            std::thread::spawn(move || {
                flight.join(|| {
                    builds.fetch_add(1, Ordering::SeqCst);
                    started.send(()).unwrap();
                    released.recv().unwrap();
                    SharedBody::new(b"body".to_vec(), &SPARES)
                })
            })
        };
        building.recv().unwrap();
        let others: Vec<_> = (0..7)
            .map(|_| {
                let (flight, builds) = (flight.clone(), builds.clone());
                std::thread::spawn(move || {
                    flight.join(|| {
                        builds.fetch_add(1, Ordering::SeqCst);
                        SharedBody::new(b"other".to_vec(), &SPARES)
                    })
                })
            })
            .collect();
        // Release the build once all seven are waiting for it (bounded wait).
        for _ in 0..1000 {
            if flight.lock().waiting == 7 {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(flight.lock().waiting, 7);
        release.send(()).unwrap();
        let body = first.join().unwrap();
        for other in others {
            assert!(Arc::ptr_eq(&other.join().unwrap(), &body));
        }
        assert_eq!(builds.load(Ordering::SeqCst), 1);
        // Nobody waits any more: the flight does not keep the body alive.
        assert!(flight.lock().last.is_none());
    }

    #[test]
    fn a_scrape_after_a_finished_build_builds_anew() {
        let flight = Flight::default();
        let a = flight.join(|| SharedBody::new(b"a".to_vec(), &SPARES));
        let b = flight.join(|| SharedBody::new(b"b".to_vec(), &SPARES));
        assert_eq!(((*a).as_ref(), (*b).as_ref()), (&b"a"[..], &b"b"[..]));
    }
}
