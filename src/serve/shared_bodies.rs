//! Metrics bodies built once for every scrape that asks while one is being built: a scrape that
//! arrives during a build waits for it and sends the same bytes, and a scrape that waited in the
//! queue while a build finished takes that build's body (it is newer than the scrape), instead of
//! building its own. So a burst of scrapes (Prometheus HA pairs, a load test, an attacker) costs
//! one build per round and holds one body per round in memory, however many connections send it,
//! and a queue of scrapes drains at once.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use crate::serve::buffers::SharedBody;

#[derive(Default)]
struct Round {
    /// A build is running.
    building: bool,
    /// Completed builds.
    finished: u64,
    /// The last build's body and when it was finished; kept until the next build replaces it.
    last: Option<(Instant, Arc<SharedBody>)>,
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

    /// A body for a scrape that arrived at `arrived`: the last build's when it finished after
    /// the scrape arrived, else the one being built (waiting for it), else a new build made by
    /// `build`.
    pub fn join(&self, arrived: Instant, build: impl FnOnce() -> SharedBody) -> Arc<SharedBody> {
        let mut round = self.lock();
        loop {
            if let Some((finished, body)) = &round.last {
                if *finished >= arrived {
                    return body.clone();
                }
            }
            if !round.building {
                break;
            }
            let started = round.finished;
            while round.finished == started {
                round = self
                    .done
                    .wait(round)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        }
        round.building = true;
        // The previous body is released here, not after the build: one body less held at once.
        round.last = None;
        drop(round);
        let mut guard = Building(self, false);
        let body = Arc::new(build());
        let mut round = self.lock();
        round.building = false;
        round.finished += 1;
        round.last = Some((Instant::now(), body.clone()));
        guard.1 = true;
        drop(round);
        self.done.notify_all();
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::buffers::Spares;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    static SPARES: Spares<u8> = Spares::new(1);

    #[test]
    fn scrapes_that_arrive_during_a_build_share_its_body() {
        let flight = Arc::new(Flight::default());
        let builds = Arc::new(AtomicUsize::new(0));
        let waiting = Arc::new(AtomicUsize::new(0));
        let (started, building) = std::sync::mpsc::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let first = {
            let (flight, builds) = (flight.clone(), builds.clone());
            std::thread::spawn(move || {
                flight.join(Instant::now(), || {
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
                let (flight, builds, waiting) = (flight.clone(), builds.clone(), waiting.clone());
                std::thread::spawn(move || {
                    let arrived = Instant::now();
                    waiting.fetch_add(1, Ordering::SeqCst);
                    flight.join(arrived, || {
                        builds.fetch_add(1, Ordering::SeqCst);
                        SharedBody::new(b"other".to_vec(), &SPARES)
                    })
                })
            })
            .collect();
        // Release the build once all seven have arrived (bounded wait).
        for _ in 0..1000 {
            if waiting.load(Ordering::SeqCst) == 7 {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(waiting.load(Ordering::SeqCst), 7);
        release.send(()).unwrap();
        let body = first.join().unwrap();
        for other in others {
            assert!(Arc::ptr_eq(&other.join().unwrap(), &body));
        }
        assert_eq!(builds.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_scrape_that_arrived_before_the_last_build_finished_takes_it_a_later_one_builds() {
        let flight = Flight::default();
        let queued = Instant::now();
        let a = flight.join(Instant::now(), || SharedBody::new(b"a".to_vec(), &SPARES));
        // Arrived before "a" was finished (it waited in the queue): "a" is newer than it.
        let again = flight.join(queued, || SharedBody::new(b"x".to_vec(), &SPARES));
        assert!(Arc::ptr_eq(&a, &again));
        std::thread::sleep(Duration::from_millis(2));
        let b = flight.join(Instant::now(), || SharedBody::new(b"b".to_vec(), &SPARES));
        assert_eq!(((*a).as_ref(), (*b).as_ref()), (&b"a"[..], &b"b"[..]));
    }
}
