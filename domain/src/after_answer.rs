//! Work that runs after its request was answered (a wrong password's record, a reset request's
//! email), so that the answer's timing cannot tell what it did; bounded, so that a flood of such
//! requests cannot hold every database connection or pile up without end.
//!
//! A burst of "Forgot password?" for one known address (from many addresses, each within its own
//! limit) would otherwise start one task per request, each taking a pooled connection and then
//! waiting for the account's row: the pool's every connection held, every other request waiting.
//! Here, in each [`Lane`], at most [`RUNNING`] tasks run at once and at most [`WAITING`] wait; past
//! that, new work is dropped and logged (the answer was the same either way; whoever asked can ask
//! again).
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// How many run at once (the pool has 10 connections by default: most stay free for requests).
pub const RUNNING: usize = 3;
/// How many may wait for their turn before new work is dropped.
pub const WAITING: usize = 1000;

/// Which work it is: each kind has its own limits, so a flood of one (reset requests for one
/// account) cannot crowd out the other (the records of wrong passwords, which tell the owner that
/// someone is guessing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    /// A reset request's look-up and email.
    Request,
    /// A wrong password's record (one short write).
    Record,
}

#[derive(Clone)]
pub struct AfterAnswer {
    tracker: tokio_util::task::TaskTracker,
    requests: Limited,
    records: Limited,
}

/// One lane's limits and counts.
#[derive(Clone)]
struct Limited {
    running: Arc<tokio::sync::Semaphore>,
    /// Started and not yet finished (running or waiting).
    queued: Arc<AtomicUsize>,
    /// Dropped so far (logged at the 1st, 2nd, 4th, 8th…: a flood does not flood the log too).
    dropped: Arc<AtomicUsize>,
    limits: (usize, usize),
}

impl Limited {
    fn new(running: usize, waiting: usize) -> Self {
        Self {
            running: Arc::new(tokio::sync::Semaphore::new(running)),
            queued: Arc::new(AtomicUsize::new(0)),
            dropped: Arc::new(AtomicUsize::new(0)),
            limits: (running, waiting),
        }
    }
}

/// Counts a task out when it ends, however it ends (a panic too: a count left behind by each would
/// fill the lane for good).
struct Queued(Arc<AtomicUsize>);

impl Drop for Queued {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Default for AfterAnswer {
    fn default() -> Self {
        Self::with_limits(RUNNING, WAITING)
    }
}

impl AfterAnswer {
    /// Each lane runs `running` at once with `waiting` more waiting.
    pub fn with_limits(running: usize, waiting: usize) -> Self {
        Self { tracker: tokio_util::task::TaskTracker::new(), requests: Limited::new(running, waiting), records: Limited::new(running, waiting) }
    }

    /// Runs `work` when its turn in `lane` comes; `false` (and nothing runs) when too much is
    /// waiting there.
    pub fn spawn<F>(&self, lane: Lane, work: F) -> bool
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let l = match lane {
            Lane::Request => &self.requests,
            Lane::Record => &self.records,
        };
        let (running, waiting) = l.limits;
        let queued = l.queued.fetch_add(1, Ordering::AcqRel);
        let counted = Queued(l.queued.clone());
        if queued >= running + waiting {
            drop(counted);
            let dropped = l.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped.is_power_of_two() {
                tracing::warn!(?lane, dropped, "work after an answer dropped: too much is waiting");
            }
            return false;
        }
        let permits = l.running.clone();
        self.tracker.spawn(async move {
            let _counted = counted;
            // (the semaphore is never closed)
            let _turn = permits.acquire_owned().await.ok();
            work.await;
        });
        true
    }

    /// Started and not yet finished.
    pub fn len(&self) -> usize {
        self.tracker.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tracker.is_empty()
    }

    /// Shutdown: no new work; `wait` then returns once what was started has finished.
    pub fn close(&self) {
        self.tracker.close();
    }

    pub fn reopen(&self) {
        self.tracker.reopen();
    }

    pub async fn wait(&self) {
        self.tracker.wait().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two run at once, three wait, and the sixth is dropped while they are there; once they are
    /// done, there is room again.
    #[tokio::test]
    async fn at_most_the_running_limit_runs_and_past_the_waiting_limit_work_is_dropped() {
        let work = AfterAnswer::with_limits(2, 3);
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let started: Vec<bool> = (0..6)
            .map(|_| {
                let (gate, now, most) = (gate.clone(), now.clone(), most.clone());
                work.spawn(Lane::Request, async move {
                    let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(n, Ordering::SeqCst);
                    let _ = gate.acquire().await.unwrap();
                    now.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        assert_eq!(started, [true, true, true, true, true, false]);
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
        assert_eq!(now.load(Ordering::SeqCst), 2, "two running");
        gate.add_permits(5);
        work.close();
        work.wait().await;
        assert_eq!(most.load(Ordering::SeqCst), 2, "never more than two at once");
        work.reopen();
        assert!(work.spawn(Lane::Request, async {}), "room again");
    }

    /// A full lane of reset requests leaves the records of wrong passwords their own room; and a
    /// task that panics gives its place back.
    #[tokio::test]
    async fn one_lane_full_leaves_the_other_its_room_and_a_panic_gives_its_place_back() {
        let work = AfterAnswer::with_limits(1, 1);
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        for _ in 0..2 {
            let gate = gate.clone();
            assert!(work.spawn(Lane::Request, async move { drop(gate.acquire().await.unwrap()) }));
        }
        assert!(!work.spawn(Lane::Request, async {}), "requests full");
        let recorded = Arc::new(AtomicUsize::new(0));
        let r = recorded.clone();
        assert!(work.spawn(Lane::Record, async move { r.fetch_add(1, Ordering::SeqCst); }), "records have their own room");
        gate.add_permits(2);
        assert!(work.spawn(Lane::Record, async { panic!("a record failed badly") }));
        work.close();
        work.wait().await;
        assert_eq!(recorded.load(Ordering::SeqCst), 1);
        work.reopen();
        assert!(work.spawn(Lane::Record, async {}), "the panicked task's place is free again");
        assert!(work.spawn(Lane::Record, async {}));
    }
}
