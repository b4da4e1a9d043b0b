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
mod tests;
