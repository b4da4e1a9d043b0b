//! Password hashing (argon2id, on blocking threads behind a concurrency limit and a bounded queue).
//! What a new password must be is `password_policy`.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};
use unicode_normalization::UnicodeNormalization;

use crate::config::Argon2Config;
use crate::error::PasswordRejection;
use crate::secret::Password;
use crate::DomainError;

pub use policy::password::{MAX_LENGTH, MIN_LENGTH, MIN_LENGTH_WITH_SECOND_FACTOR};

/// NFC-normalises a password; never truncates.
pub fn normalize(password: &Password) -> Password {
    Password::new(password.expose().nfc().collect::<String>())
}

/// Refuses oversized input before it reaches the hasher (or the throttle: `throttle::verify_throttled`).
pub(crate) fn check_size(password: &Password) -> Result<(), DomainError> {
    // Bytes, not chars: a cheap bound first (4 bytes per code point at most).
    if password.expose().len() > MAX_LENGTH * 4 || password.expose().chars().count() > MAX_LENGTH {
        return Err(DomainError::PasswordRejected(PasswordRejection::Rule(policy::password::Verdict::TooLong)));
    }
    Ok(())
}

/// Hashes and verifies passwords with argon2id. At most `max_concurrent` hashes run at once, on
/// threads of their own at the lowest CPU priority, so a burst of sign-ins neither exhausts memory
/// nor stalls the async reactor, and requests that do not hash (pages, other actions) keep the CPU
/// they need while every hashing thread is busy; at most `max_queue` more wait for their turn, and
/// beyond that a hash is refused at once (`DomainError::Overloaded`): load shedding keeps the wait
/// of admitted requests bounded.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    /// Hashes running (one permit each, held until the hash really ends).
    permits: Arc<Semaphore>,
    pool: crate::auth::hash_pool::HashPool,
    /// Hashes admitted: running or waiting (`max_concurrent + max_queue` permits).
    admission: Arc<Semaphore>,
    max_concurrent: usize,
    max_admitted: usize,
    /// Hashes and verifications run (the start-up dummy hash excluded).
    calls: Arc<AtomicU64>,
    /// How long the latest hash took, in microseconds (for the Retry-After of a refusal).
    last_micros: Arc<AtomicU64>,
    /// A hash of a random password with the same parameters: verifying against it for an unknown
    /// account takes as long as a real verification.
    dummy_hash: Arc<str>,
}

impl PasswordHasher {
    pub fn new(cfg: &Argon2Config) -> Result<Self, DomainError> {
        let params = Params::new(cfg.memory_kib, cfg.iterations, cfg.parallelism, None)
            .map_err(|e| DomainError::Hash(format!("invalid argon2 parameters: {e}")))?;
        let max_concurrent = cfg.concurrent_hashes().max(1);
        let max_admitted = max_concurrent + cfg.max_queue;
        let mut hasher = Self {
            params,
            permits: Arc::new(Semaphore::new(max_concurrent)),
            admission: Arc::new(Semaphore::new(max_admitted)),
            max_concurrent,
            max_admitted,
            calls: Arc::new(AtomicU64::new(0)),
            last_micros: Arc::new(AtomicU64::new(0)),
            pool: crate::auth::hash_pool::HashPool::new(max_concurrent)?,
            dummy_hash: Arc::from(""),
        };
        let random = {
            use rand::RngCore;
            let mut bytes = [0u8; 24];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            Password::new(base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes))
        };
        let started = Instant::now();
        hasher.dummy_hash = Arc::from(hash_blocking(&hasher.params, &random)?);
        hasher.last_micros.store(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        Ok(hasher)
    }

    /// Argon2id PHC string of the NFC-normalised password.
    pub async fn hash(&self, password: &Password) -> Result<String, DomainError> {
        check_size(password)?;
        let admission = self.admit()?;
        let params = self.params.clone();
        let password = normalize(password);
        self.run(admission, move || hash_blocking(&params, &password)).await?
    }

    /// Verifies a password against a stored hash. `None` (unknown account, or an account without a
    /// password) verifies against the dummy hash and answers `false`, in the same time.
    pub async fn verify(&self, password: &Password, stored: Option<&str>) -> Result<bool, DomainError> {
        check_size(password)?;
        let admission = self.admit()?;
        self.verify_admitted(admission, password, stored).await
    }

    /// A place among the admitted hashes, or `Overloaded` at once when the queue is full. Take it
    /// before work that must not happen for a refused request (counting an attempt against the
    /// account's throttle), then `verify_admitted`.
    pub fn admit(&self) -> Result<Admission, DomainError> {
        match self.admission.clone().try_acquire_owned() {
            Ok(permit) => Ok(Admission(permit)),
            Err(TryAcquireError::NoPermits) => Err(DomainError::Overloaded { retry_after_seconds: self.retry_after_seconds() }),
            Err(TryAcquireError::Closed) => Err(DomainError::Internal("hasher closed".into())),
        }
    }

    /// `verify` with a place taken by `admit`.
    pub async fn verify_admitted(&self, admission: Admission, password: &Password, stored: Option<&str>) -> Result<bool, DomainError> {
        check_size(password)?;
        let (hash, real) = match stored {
            Some(h) => (h.to_owned(), true),
            None => (self.dummy_hash.to_string(), false),
        };
        let password = normalize(password);
        let ok = self
            .run(admission, move || {
                let parsed = PasswordHash::new(&hash).map_err(|e| DomainError::Hash(e.to_string()))?;
                verify_in_thread_memory(password.expose().as_bytes(), &parsed)
            })
            .await??;
        Ok(ok && real)
    }

    /// True when a stored hash was made with other parameters than the configured ones (or another
    /// algorithm): it is replaced after the next successful sign-in.
    pub fn needs_rehash(&self, stored: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(stored) else { return false };
        let Ok(params) = Params::try_from(&parsed) else { return true };
        parsed.algorithm.as_str() != "argon2id"
            || parsed.version != Some(Version::V0x13 as u32)
            || params.m_cost() != self.params.m_cost()
            || params.t_cost() != self.params.t_cost()
            || params.p_cost() != self.params.p_cost()
    }

    /// How many more hashes could start right now (for tests and metrics).
    pub fn available_permits(&self) -> usize {
        self.permits.available_permits()
    }

    /// Hashes admitted right now: running or waiting for their turn (for tests and metrics).
    pub fn admitted(&self) -> usize {
        self.max_admitted - self.admission.available_permits()
    }

    /// How many hashes and verifications have run since start-up (refused ones never run). Tests
    /// use it to show that two answers cost the same work.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Seconds until a full queue has probably drained: the queue's length in rounds of
    /// `max_concurrent` hashes, at the latest hash's duration (at least 1, at most 30).
    fn retry_after_seconds(&self) -> u64 {
        let rounds = self.max_admitted.div_ceil(self.max_concurrent) as u64;
        let micros = self.last_micros.load(Ordering::Relaxed).saturating_mul(rounds);
        micros.div_ceil(1_000_000).clamp(1, 30)
    }

    /// Runs `f` on a hashing thread once a permit is free. The permits move into the hashing job: a
    /// request dropped mid-hash (the client went away) keeps its hash counted until the hash really
    /// ends.
    async fn run<T: Send + 'static>(&self, admission: Admission, f: impl FnOnce() -> T + Send + 'static) -> Result<T, DomainError> {
        let admitted = admission.0;
        let running = self.permits.clone().acquire_owned().await.map_err(|_| DomainError::Internal("hasher closed".into()))?;
        let (calls, last_micros) = (self.calls.clone(), self.last_micros.clone());
        self.pool
            .run(move || {
                let _permits = (admitted, running);
                calls.fetch_add(1, Ordering::Relaxed);
                let started = Instant::now();
                let out = f();
                last_micros.store(started.elapsed().as_micros() as u64, Ordering::Relaxed);
                out
            })
            .await
    }
}

/// A place among the hashes the hasher admits (running or waiting); see `PasswordHasher::admit`.
pub struct Admission(OwnedSemaphorePermit);

thread_local! {
    /// Each hashing thread's argon2 memory (19 MiB with the OWASP parameters), allocated at its
    /// first verification and reused by every later one: the hashing threads hold exactly
    /// `max_concurrent` × memory, and a verification never waits for the kernel to hand it 19 MiB
    /// of fresh pages. Allocated per verification, the freed blocks stayed with the allocator:
    /// the server's peak RSS in a 60-second overload run was 116 MiB with 2 threads (budget 2 ×
    /// 19 + 64 = 102 MiB; 444 MiB with glibc's malloc and 4 threads).
    static BLOCKS: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// `Argon2::verify_password` with this thread's memory: the stored hash's own algorithm, version,
/// parameters, salt and output length, its output compared in constant time (`Output`'s `==`).
/// A hash without salt or output never matches. Public for `make bench`'s baseline (server/examples/
/// argon2_bench.rs), which runs exactly this outside the server.
pub fn verify_in_thread_memory(password: &[u8], stored: &PasswordHash<'_>) -> Result<bool, DomainError> {
    use argon2::password_hash::Output;
    let err = |e: &dyn std::fmt::Display| DomainError::Hash(e.to_string());
    let (Some(salt), Some(expected)) = (stored.salt, stored.hash) else { return Ok(false) };
    let algorithm = Algorithm::try_from(stored.algorithm).map_err(|e| err(&e))?;
    let version = stored.version.map(Version::try_from).transpose().map_err(|e| err(&e))?.unwrap_or_default();
    let params = Params::try_from(stored).map_err(|e| err(&e))?;
    let mut salt_bytes = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_bytes).map_err(|e| err(&e))?;
    let mut out = vec![0u8; expected.len()];
    BLOCKS.with(|blocks| {
        let mut blocks = blocks.borrow_mut();
        blocks.resize(params.block_count(), argon2::Block::default());
        Argon2::new(algorithm, version, params).hash_password_into_with_memory(password, salt, &mut out, &mut blocks[..])
    })
    .map_err(|e| err(&e))?;
    Ok(Output::new(&out).map(|computed| computed == expected).unwrap_or(false))
}

fn hash_blocking(params: &Params, password: &Password) -> Result<String, DomainError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| DomainError::Hash(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::PasswordVerifier;

    fn cheap() -> PasswordHasher {
        PasswordHasher::new(&Argon2Config { memory_kib: 64, iterations: 1, parallelism: 1, max_concurrent: 2, max_queue: 64 }).unwrap()
    }

    #[test]
    fn default_parameters_are_owasp() {
        let d = Argon2Config::default();
        assert_eq!((d.memory_kib, d.iterations, d.parallelism), (19_456, 2, 1));
    }

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let h = cheap();
        let pw = Password::new("correct horse battery staple");
        let hash = h.hash(&pw).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
        assert!(h.verify(&pw, Some(&hash)).await.unwrap());
        assert!(!h.verify(&Password::new("correct horse battery stapl"), Some(&hash)).await.unwrap());
    }

    #[test]
    fn verifying_in_the_threads_memory_agrees_with_argon2s_own_verifier_across_parameters() {
        // one thread, hashes of several sizes in turn (its memory grows and shrinks), versions,
        // algorithms and output lengths, right and wrong passwords, and hashes it cannot use
        let salt = SaltString::encode_b64(b"sixteen byte salt").unwrap();
        let hashes: Vec<String> = [
            (Algorithm::Argon2id, Version::V0x13, 256, 2, 32),
            (Algorithm::Argon2id, Version::V0x13, 64, 1, 32),
            (Algorithm::Argon2id, Version::V0x10, 128, 3, 16),
            (Algorithm::Argon2i, Version::V0x13, 96, 2, 64),
            (Algorithm::Argon2d, Version::V0x13, 512, 1, 32),
        ]
        .into_iter()
        .map(|(alg, version, m, t, len)| {
            let params = Params::new(m, t, 1, Some(len)).unwrap();
            Argon2::new(alg, version, params).hash_password(b"right", &salt).unwrap().to_string()
        })
        .collect();
        for hash in &hashes {
            let parsed = PasswordHash::new(hash).unwrap();
            for pw in [&b"right"[..], b"wrong", b"", b"righ"] {
                let theirs = Argon2::default().verify_password(pw, &parsed).is_ok();
                assert_eq!(verify_in_thread_memory(pw, &parsed).unwrap(), theirs, "{hash} {pw:?}");
                assert_eq!(theirs, pw == b"right");
            }
        }
        // a hash without its output, or with a changed output, never matches
        let no_output = hashes[0].rsplit_once('$').unwrap().0;
        assert!(!verify_in_thread_memory(b"right", &PasswordHash::new(no_output).unwrap()).unwrap());
        let mut flipped = hashes[0].clone();
        let last = flipped.pop().unwrap();
        flipped.push(if last == 'A' { 'B' } else { 'A' });
        assert!(!verify_in_thread_memory(b"right", &PasswordHash::new(&flipped).unwrap()).unwrap());
        // another algorithm's hash is an error, not a match
        let other = "$pbkdf2-sha256$i=1000$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
        assert!(verify_in_thread_memory(b"right", &PasswordHash::new(other).unwrap()).is_err());
    }

    #[tokio::test]
    async fn unknown_account_never_verifies() {
        let h = cheap();
        assert!(!h.verify(&Password::new("anything at all goes here"), None).await.unwrap());
    }

    #[tokio::test]
    async fn nfc_and_nfd_forms_of_the_same_password_match() {
        let h = cheap();
        let composed = Password::new("caf\u{e9} au lait with friends");
        let decomposed = Password::new("cafe\u{301} au lait with friends");
        let hash = h.hash(&composed).await.unwrap();
        assert!(h.verify(&decomposed, Some(&hash)).await.unwrap());
    }

    #[tokio::test]
    async fn oversized_passwords_are_refused_before_hashing() {
        let h = cheap();
        let huge = Password::new("x".repeat(MAX_LENGTH + 1));
        assert!(matches!(h.hash(&huge).await, Err(DomainError::PasswordRejected(_))));
        assert!(matches!(h.verify(&huge, None).await, Err(DomainError::PasswordRejected(_))));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrency_is_bounded_and_the_reactor_stays_responsive() {
        let h = PasswordHasher::new(&Argon2Config { memory_kib: 4096, iterations: 1, parallelism: 1, max_concurrent: 2, max_queue: 64 }).unwrap();
        let pw = Password::new("correct horse battery staple");
        let hash = h.hash(&pw).await.unwrap();
        let mut tasks = Vec::new();
        for _ in 0..40 {
            let (h, pw, hash) = (h.clone(), pw.clone(), hash.clone());
            tasks.push(tokio::spawn(async move { h.verify(&pw, Some(&hash)).await.unwrap() }));
        }
        // While 40 verifications queue up, the reactor still answers quickly and never more than
        // two hashes hold a permit.
        let mut min_available = usize::MAX;
        for _ in 0..20 {
            let t = std::time::Instant::now();
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            assert!(t.elapsed() < std::time::Duration::from_millis(200), "reactor stalled: {:?}", t.elapsed());
            min_available = min_available.min(h.available_permits());
        }
        assert_eq!(min_available, 0, "the hashes should have been queued behind the limit");
        for t in tasks {
            assert!(t.await.unwrap());
        }
        assert_eq!(h.available_permits(), 2);
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashes_run_on_their_own_threads_at_the_lowest_cpu_priority() {
        let h = cheap();
        let (name, nice) = h
            .pool
            .run(|| {
                let name = std::thread::current().name().map(str::to_string);
                // SAFETY: reads the calling thread's nice value
                (name, unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) })
            })
            .await
            .unwrap();
        assert!(name.as_deref().is_some_and(|n| n.starts_with("argon2-")), "{name:?}");
        assert_eq!(nice, 19);
        // and the caller's own thread keeps its priority
        assert_eq!(unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) }, 0);
    }

    #[tokio::test]
    async fn a_panicking_hash_is_an_error_and_the_threads_keep_working() {
        let h = cheap();
        let r: Result<(), _> = h.pool.run(|| panic!("boom")).await;
        assert!(matches!(r, Err(DomainError::Internal(_))));
        assert!(h.verify(&Password::new("anything at all goes here"), None).await.is_ok());
    }

    #[tokio::test]
    async fn calls_count_every_hash_and_verification_that_ran() {
        let h = cheap();
        let pw = Password::new("correct horse battery staple");
        let hash = h.hash(&pw).await.unwrap();
        h.verify(&pw, Some(&hash)).await.unwrap();
        h.verify(&pw, None).await.unwrap();
        assert_eq!(h.calls(), 3, "an unknown account costs one verification, like a known one");
        let huge = Password::new("x".repeat(MAX_LENGTH + 1));
        assert!(h.verify(&huge, None).await.is_err());
        assert_eq!(h.calls(), 3, "refused before hashing");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn beyond_the_queue_a_hash_is_refused_at_once_with_a_retry_time() {
        let h = PasswordHasher::new(&Argon2Config { memory_kib: 64, iterations: 1, parallelism: 1, max_concurrent: 1, max_queue: 2 }).unwrap();
        let pw = Password::new("correct horse battery staple");
        let hash = h.hash(&pw).await.unwrap();
        // the one running slot is taken (as by a long hash): everything admitted now waits
        let busy = h.permits.clone().acquire_owned().await.unwrap();
        let mut waiting = Vec::new();
        for _ in 0..2 {
            let (h, pw, hash) = (h.clone(), pw.clone(), hash.clone());
            waiting.push(tokio::spawn(async move { h.verify(&pw, Some(&hash)).await }));
        }
        // max_concurrent + max_queue = 3 admitted at most; the busy slot is not one of them
        let (h2, pw2, hash2) = (h.clone(), pw.clone(), hash.clone());
        waiting.push(tokio::spawn(async move { h2.verify(&pw2, Some(&hash2)).await }));
        tokio::time::timeout(std::time::Duration::from_secs(10), async {
            while h.admitted() < 3 {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("three verifications admitted");
        let t = std::time::Instant::now();
        let refused = h.verify(&pw, Some(&hash)).await;
        assert!(t.elapsed() < std::time::Duration::from_millis(100), "refused without waiting: {:?}", t.elapsed());
        assert!(
            matches!(refused, Err(DomainError::Overloaded { retry_after_seconds: 1..=30 })),
            "{refused:?}"
        );
        assert!(matches!(h.hash(&pw).await, Err(DomainError::Overloaded { .. })), "hashing new passwords too");
        assert_eq!(h.calls(), 1, "nothing ran but the first hash");
        drop(busy);
        for t in waiting {
            assert!(t.await.unwrap().unwrap(), "admitted requests finish normally");
        }
        assert_eq!((h.calls(), h.admitted(), h.available_permits()), (4, 0, 1));
        assert!(h.verify(&pw, Some(&hash)).await.unwrap(), "admitted again once the queue drained");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_dropped_mid_hash_keeps_its_slot_until_the_hash_ends() {
        // a hash long enough (≈ 100 ms or more) to still run when its request is dropped
        let h = PasswordHasher::new(&Argon2Config { memory_kib: 32_768, iterations: 6, parallelism: 1, max_concurrent: 2, max_queue: 0 }).unwrap();
        let pw = Password::new("correct horse battery staple");
        let request = {
            let (h, pw) = (h.clone(), pw.clone());
            tokio::spawn(async move { h.verify(&pw, None).await })
        };
        while h.available_permits() == 2 {
            tokio::task::yield_now().await;
        }
        // the client goes away: the request's future is dropped while argon2 still runs
        request.abort();
        assert!(request.await.unwrap_err().is_cancelled());
        assert_eq!((h.available_permits(), h.admitted()), (1, 1), "the running hash still holds its slot");
        tokio::time::timeout(std::time::Duration::from_secs(30), async {
            while h.admitted() > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("the slot comes back when the hash ends");
        assert_eq!((h.available_permits(), h.calls()), (2, 1));
    }
}
