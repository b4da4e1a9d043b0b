//! Password hashing (argon2id, on blocking threads behind a concurrency limit) and the password policy.
use std::sync::Arc;

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;
use unicode_normalization::UnicodeNormalization;

use crate::config::Argon2Config;
use crate::secret::Password;
use crate::DomainError;

/// Fewest characters (Unicode code points, after NFC) when the password is the only factor
/// (NIST SP 800-63B-4 §3.1.1.2).
pub const MIN_LENGTH: usize = 15;
/// Most characters accepted; checked before any hashing.
pub const MAX_LENGTH: usize = 256;

/// NFC-normalises a password; never truncates.
pub fn normalize(password: &Password) -> Password {
    Password::new(password.expose().nfc().collect::<String>())
}

/// Checks a new password against the policy. `email` is the account's, so the password cannot be it.
pub fn check_policy(password: &Password, email: &str) -> Result<(), DomainError> {
    let normalized = normalize(password);
    let chars = normalized.expose().chars().count();
    if chars > MAX_LENGTH {
        return Err(DomainError::PasswordRejected(format!(
            "Use at most {MAX_LENGTH} characters."
        )));
    }
    if chars < MIN_LENGTH {
        return Err(DomainError::PasswordRejected(format!(
            "Use at least {MIN_LENGTH} characters (you have {chars}). A few unrelated words make a strong, memorable password."
        )));
    }
    let lower = normalized.expose().to_lowercase();
    let email = email.trim().to_lowercase();
    let local = email.split('@').next().unwrap_or_default();
    if lower == email || (local.len() >= 4 && lower.contains(local)) {
        return Err(DomainError::PasswordRejected(
            "Don't build your password from your email address.".into(),
        ));
    }
    Ok(())
}

/// Refuses oversized input before it reaches the hasher.
fn check_size(password: &Password) -> Result<(), DomainError> {
    // Bytes, not chars: a cheap bound first (4 bytes per code point at most).
    if password.expose().len() > MAX_LENGTH * 4 || password.expose().chars().count() > MAX_LENGTH {
        return Err(DomainError::PasswordRejected(format!("Use at most {MAX_LENGTH} characters.")));
    }
    Ok(())
}

/// Hashes and verifies passwords with argon2id. At most `max_concurrent` hashes run at once, each on
/// a blocking thread, so a burst of sign-ins neither exhausts memory nor stalls the async reactor.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
    /// A hash of a random password with the same parameters: verifying against it for an unknown
    /// account takes as long as a real verification.
    dummy_hash: Arc<str>,
}

impl PasswordHasher {
    pub fn new(cfg: &Argon2Config) -> Result<Self, DomainError> {
        let params = Params::new(cfg.memory_kib, cfg.iterations, cfg.parallelism, None)
            .map_err(|e| DomainError::Hash(format!("invalid argon2 parameters: {e}")))?;
        let mut hasher = Self {
            params,
            permits: Arc::new(Semaphore::new(cfg.max_concurrent.max(1))),
            dummy_hash: Arc::from(""),
        };
        let random = {
            use rand::RngCore;
            let mut bytes = [0u8; 24];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            Password::new(base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes))
        };
        hasher.dummy_hash = Arc::from(hash_blocking(&hasher.params, &random)?);
        Ok(hasher)
    }

    /// Argon2id PHC string of the NFC-normalised password.
    pub async fn hash(&self, password: &Password) -> Result<String, DomainError> {
        check_size(password)?;
        let params = self.params.clone();
        let password = normalize(password);
        self.run(move || hash_blocking(&params, &password)).await?
    }

    /// Verifies a password against a stored hash. `None` (unknown account, or an account without a
    /// password) verifies against the dummy hash and answers `false`, in the same time.
    pub async fn verify(&self, password: &Password, stored: Option<&str>) -> Result<bool, DomainError> {
        check_size(password)?;
        let (hash, real) = match stored {
            Some(h) => (h.to_owned(), true),
            None => (self.dummy_hash.to_string(), false),
        };
        let password = normalize(password);
        let ok = self
            .run(move || {
                let parsed = PasswordHash::new(&hash).map_err(|e| DomainError::Hash(e.to_string()))?;
                Ok::<_, DomainError>(Argon2::default().verify_password(password.expose().as_bytes(), &parsed).is_ok())
            })
            .await??;
        Ok(ok && real)
    }

    /// How many more hashes could start right now (for tests and metrics).
    pub fn available_permits(&self) -> usize {
        self.permits.available_permits()
    }

    async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T, DomainError> {
        let _permit = self.permits.acquire().await.map_err(|_| DomainError::Internal("hasher closed".into()))?;
        tokio::task::spawn_blocking(f).await.map_err(|e| DomainError::Internal(format!("hash task failed: {e}")))
    }
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

    fn cheap() -> PasswordHasher {
        PasswordHasher::new(&Argon2Config { memory_kib: 64, iterations: 1, parallelism: 1, max_concurrent: 2 }).unwrap()
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
        let h = PasswordHasher::new(&Argon2Config { memory_kib: 4096, iterations: 1, parallelism: 1, max_concurrent: 2 }).unwrap();
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

    #[test]
    fn policy_counts_code_points_and_explains_itself() {
        let email = "ada@example.test";
        let err = check_policy(&Password::new("short one"), email).unwrap_err();
        assert!(err.to_string().contains("at least 15 characters"), "{err}");
        // 15 code points of multi-byte characters are enough.
        assert!(check_policy(&Password::new("ééééééééééééééé"), email).is_ok());
        assert!(check_policy(&Password::new("ééééééééééééé"), email).is_err());
        // spaces and any printable characters are fine, no composition rules
        assert!(check_policy(&Password::new("all lower case words here"), email).is_ok());
        assert!(check_policy(&Password::new("x".repeat(MAX_LENGTH)), email).is_ok());
        assert!(check_policy(&Password::new("x".repeat(MAX_LENGTH + 1)), email).is_err());
        assert!(check_policy(&Password::new("ada@example.test"), email).is_err());
        assert!(check_policy(&Password::new("my name is ADA@example and more"), "ada@example.test").is_ok());
        assert!(check_policy(&Password::new("adalovelace-is-my-password"), "adalovelace@example.test").is_err());
    }
}
