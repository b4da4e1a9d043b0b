//! The threads password hashing runs on: its own, at the lowest CPU priority, so a burst of
//! hashing never takes the CPU from requests that do not hash.
use std::sync::Arc;

use crate::DomainError;

type Job = Box<dyn FnOnce() + Send>;

/// The hashing threads: as many as hashes may run at once, each at the lowest CPU priority (nice
/// 19) for its whole life. Measured with 200 simultaneous sign-ins (OWASP parameters, max_concurrent
/// 4, 2 cores, debug build; server/tests/http.rs `a_burst_of_sign_ins_does_not_stall_other_requests`):
/// on tokio's shared blocking threads a signed-in page took up to 1.9 s; on these, at most 0.18 s.
#[derive(Clone)]
pub(crate) struct HashPool {
    jobs: std::sync::mpsc::Sender<Job>,
}

impl HashPool {
    pub(crate) fn new(threads: usize) -> Result<Self, DomainError> {
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let queue = Arc::new(std::sync::Mutex::new(queue));
        for i in 0..threads {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        // the lock is held only while waiting for the next job
                        let next = queue.lock().map_err(|_| ()).and_then(|q| q.recv().map_err(|_| ()));
                        match next {
                            Ok(job) => job(),
                            Err(()) => return, // every hasher was dropped
                        }
                    }
                })
                .map_err(|e| DomainError::Internal(format!("cannot start a hashing thread: {e}")))?;
        }
        Ok(Self { jobs })
    }

    pub(crate) async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T, DomainError> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let _ = done.send(outcome);
        });
        self.jobs.send(job).map_err(|_| DomainError::Internal("hashing threads stopped".into()))?;
        match result.await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(_)) => Err(DomainError::Internal("hash task panicked".into())),
            Err(_) => Err(DomainError::Internal("hashing threads stopped".into())),
        }
    }
}

/// The calling thread yields the CPU to everything else (on Linux `nice` is per thread).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: nice(2) only changes the calling thread's scheduling priority.
    unsafe {
        libc::nice(19);
    }
}
