//! Policies the domain enforces. Values come from Leptos.toml (see the server's config loader).
use serde::Deserialize;
use time::Duration;

use crate::plan::Plan;

/// Session lifetimes, per plan, and the bookkeeping around them.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionPolicy {
    /// Free plan (and accounts outside any organisation): a session unused for this many minutes is over…
    pub free_idle_timeout_minutes: i64,
    /// …and over this many hours after sign-in, however active.
    pub free_absolute_lifetime_hours: i64,
    pub pro_idle_timeout_minutes: i64,
    pub pro_absolute_lifetime_hours: i64,
    pub enterprise_idle_timeout_minutes: i64,
    pub enterprise_absolute_lifetime_hours: i64,
    /// "Last active" is written at most this often per session (seconds).
    pub touch_interval_seconds: i64,
    /// Ended (revoked or expired) sessions are kept this long for the security history.
    #[serde(default = "default_retention_days")]
    pub retention_days: i64,
    /// How often the clean-up task marks expired sessions and deletes old ones.
    #[serde(default = "default_cleanup_minutes")]
    pub cleanup_interval_minutes: u64,
    /// Sensitive changes need a sign-in or re-verification at most this many minutes old.
    #[serde(default = "default_reverify_minutes")]
    pub reverify_window_minutes: i64,
    /// A session checked this many seconds ago is answered from memory (0: never), while the
    /// instance hears Postgres announce session changes (see `auth::session_cache`).
    #[serde(default = "default_cache_seconds")]
    pub cache_seconds: u64,
    /// After the announcements' connection drops, connect again after this many seconds (every
    /// request asks Postgres meanwhile).
    #[serde(default = "default_cache_reconnect_seconds")]
    pub cache_reconnect_seconds: u64,
}

fn default_cache_seconds() -> u64 {
    30
}

fn default_cache_reconnect_seconds() -> u64 {
    1
}

fn default_reverify_minutes() -> i64 {
    10
}

/// The shortest `[session] retention_days`: as long as an unfamiliar sign-in can be reported.
pub const MIN_RETENTION_DAYS: i64 = 14;

fn default_retention_days() -> i64 {
    90
}

fn default_cleanup_minutes() -> u64 {
    10
}

impl Default for SessionPolicy {
    /// Consumer plans: 14 days idle, 30 days at most. Enterprise: 12 hours idle, 7 days at most.
    fn default() -> Self {
        Self {
            free_idle_timeout_minutes: 14 * 24 * 60,
            free_absolute_lifetime_hours: 30 * 24,
            pro_idle_timeout_minutes: 14 * 24 * 60,
            pro_absolute_lifetime_hours: 30 * 24,
            enterprise_idle_timeout_minutes: 12 * 60,
            enterprise_absolute_lifetime_hours: 7 * 24,
            touch_interval_seconds: 60,
            retention_days: default_retention_days(),
            cleanup_interval_minutes: default_cleanup_minutes(),
            reverify_window_minutes: default_reverify_minutes(),
            cache_seconds: default_cache_seconds(),
            cache_reconnect_seconds: default_cache_reconnect_seconds(),
        }
    }
}

/// How long one plan's sessions live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lifetimes {
    pub idle: Duration,
    pub absolute: Duration,
}

impl SessionPolicy {
    /// The same lifetimes for every plan (tests).
    pub fn uniform(idle_timeout_minutes: i64, absolute_lifetime_hours: i64) -> Self {
        Self {
            free_idle_timeout_minutes: idle_timeout_minutes,
            free_absolute_lifetime_hours: absolute_lifetime_hours,
            pro_idle_timeout_minutes: idle_timeout_minutes,
            pro_absolute_lifetime_hours: absolute_lifetime_hours,
            enterprise_idle_timeout_minutes: idle_timeout_minutes,
            enterprise_absolute_lifetime_hours: absolute_lifetime_hours,
            ..Default::default()
        }
    }

    /// The session cache's settings (`cache_seconds` 0 keeps nothing).
    pub fn cache_policy(&self) -> crate::auth::session_cache::CachePolicy {
        crate::auth::session_cache::CachePolicy {
            ttl: std::time::Duration::from_secs(self.cache_seconds),
            reconnect_after: std::time::Duration::from_secs(self.cache_reconnect_seconds),
            ..Default::default()
        }
    }

    pub fn lifetimes(&self, plan: Plan) -> Lifetimes {
        let (idle, absolute) = match plan {
            Plan::Free => (self.free_idle_timeout_minutes, self.free_absolute_lifetime_hours),
            Plan::Pro => (self.pro_idle_timeout_minutes, self.pro_absolute_lifetime_hours),
            Plan::Enterprise => (self.enterprise_idle_timeout_minutes, self.enterprise_absolute_lifetime_hours),
        };
        Lifetimes { idle: Duration::minutes(idle), absolute: Duration::hours(absolute) }
    }

    /// The longest absolute lifetime of any plan: the cookie's Max-Age (the server enforces each
    /// plan's own limits on every request).
    pub fn longest_lifetime(&self) -> Duration {
        Plan::ALL.iter().map(|p| self.lifetimes(*p).absolute).max().unwrap_or(Duration::ZERO)
    }

    /// Every lifetime is positive.
    pub fn validate(&self) -> Result<(), String> {
        for plan in Plan::ALL {
            let l = self.lifetimes(plan);
            if l.idle <= Duration::ZERO || l.absolute <= Duration::ZERO {
                return Err(format!("[session] lifetimes of the {plan} plan must be positive"));
            }
        }
        if self.reverify_window_minutes <= 0 {
            return Err("[session] reverify_window_minutes must be positive".into());
        }
        if self.touch_interval_seconds < 0 {
            return Err("[session] touch_interval_seconds must be ≥ 0".into());
        }
        // A report of an unfamiliar sign-in ("This wasn't me", "No, secure my account": up to 14
        // days later, `auth::activity::PROMPT_DAYS`) needs that sign-in's session and the record
        // of what it added (`added_by_session`), even when it has ended since.
        if self.retention_days < MIN_RETENTION_DAYS {
            return Err(format!("[session] retention_days must be at least {MIN_RETENTION_DAYS}"));
        }
        Ok(())
    }

    pub fn reverify_window(&self) -> Duration {
        Duration::minutes(self.reverify_window_minutes)
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
    /// At most this many hashes run at once; the rest wait their turn (bounds memory). 0: one per
    /// core this process may run on (more than that only adds memory: argon2id with one lane
    /// keeps a core busy, and measured on 2 cores, 4 at once verified 8% fewer per second than 2).
    pub max_concurrent: usize,
    /// At most this many more may wait for their turn; beyond that a hash is refused at once
    /// (`DomainError::Overloaded`, a 503 with Retry-After), which bounds the wait of those admitted.
    #[serde(default = "default_max_queue")]
    pub max_queue: usize,
}

fn default_max_queue() -> usize {
    32
}

impl Argon2Config {
    /// How many hashes may run at once: `max_concurrent`, or one per available core when it is 0.
    pub fn concurrent_hashes(&self) -> usize {
        match self.max_concurrent {
            0 => std::thread::available_parallelism().map(usize::from).unwrap_or(1),
            n => n,
        }
    }
}

impl Default for Argon2Config {
    fn default() -> Self {
        Self { memory_kib: 19_456, iterations: 2, parallelism: 1, max_concurrent: 0, max_queue: default_max_queue() }
    }
}

/// Per-account throttling of password guesses (sign-in, the current password when changing it,
/// re-verification): one counter per account, whatever the IP or the letter case of the email.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThrottlePolicy {
    /// Consecutive failures allowed without any wait.
    pub free_attempts: i32,
    /// After that, each further attempt waits base × 2^(failures − free_attempts) seconds…
    pub base_delay_seconds: i64,
    /// …but never longer than this.
    pub max_delay_minutes: i64,
    /// This many consecutive failures lock the account's password for `lockout_minutes` (NIST:
    /// at most 100). Attempts while locked answer exactly like a wrong password and do not count.
    pub lockout_after: i32,
    pub lockout_minutes: i64,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self { free_attempts: 5, base_delay_seconds: 15, max_delay_minutes: 15, lockout_after: 50, lockout_minutes: 60 }
    }
}

impl ThrottlePolicy {
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=100).contains(&self.lockout_after) || self.free_attempts < 0 || self.free_attempts >= self.lockout_after {
            return Err("[throttle] needs 0 ≤ free_attempts < lockout_after ≤ 100".into());
        }
        if self.base_delay_seconds < 0 || self.max_delay_minutes < 0 || self.lockout_minutes <= 0 {
            return Err("[throttle] delays must not be negative and lockout_minutes must be positive".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ended_sessions_are_kept_at_least_as_long_as_an_unfamiliar_sign_in_can_be_reported() {
        assert_eq!(MIN_RETENTION_DAYS, crate::auth::activity::PROMPT_DAYS);
        let short = SessionPolicy { retention_days: 13, ..Default::default() };
        assert_eq!(short.validate(), Err("[session] retention_days must be at least 14".to_string()));
        assert_eq!(SessionPolicy { retention_days: 14, ..Default::default() }.validate(), Ok(()));
    }
}
