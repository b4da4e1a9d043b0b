//! Policies the domain enforces. Values come from Leptos.toml (see the server's config loader).
use serde::Deserialize;
use time::Duration;

/// Session lifetimes.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionPolicy {
    /// A session unused for this many minutes is over.
    pub idle_timeout_minutes: i64,
    /// A session is over this many hours after sign-in, however active.
    pub absolute_lifetime_hours: i64,
    /// "Last active" is written at most this often per session (seconds).
    pub touch_interval_seconds: i64,
    /// Ended (revoked or expired) sessions are kept this long for the security history.
    #[serde(default = "default_retention_days")]
    pub retention_days: i64,
    /// How often the clean-up task marks expired sessions and deletes old ones.
    #[serde(default = "default_cleanup_minutes")]
    pub cleanup_interval_minutes: u64,
}

fn default_retention_days() -> i64 {
    90
}

fn default_cleanup_minutes() -> u64 {
    10
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle_timeout_minutes: 14 * 24 * 60,
            absolute_lifetime_hours: 30 * 24,
            touch_interval_seconds: 60,
            retention_days: default_retention_days(),
            cleanup_interval_minutes: default_cleanup_minutes(),
        }
    }
}

impl SessionPolicy {
    pub fn idle(&self) -> Duration {
        Duration::minutes(self.idle_timeout_minutes)
    }
    pub fn absolute(&self) -> Duration {
        Duration::hours(self.absolute_lifetime_hours)
    }
    pub fn touch_interval(&self) -> Duration {
        Duration::seconds(self.touch_interval_seconds)
    }
}

/// Argon2id parameters and how many hashes may run at once.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Argon2Config {
    /// Memory in KiB (OWASP: 19456).
    pub memory_kib: u32,
    /// Iterations (OWASP: 2).
    pub iterations: u32,
    /// Lanes (OWASP: 1).
    pub parallelism: u32,
    /// At most this many hashes run at once; the rest wait their turn (bounds memory).
    pub max_concurrent: usize,
}

impl Default for Argon2Config {
    fn default() -> Self {
        Self { memory_kib: 19_456, iterations: 2, parallelism: 1, max_concurrent: 4 }
    }
}
