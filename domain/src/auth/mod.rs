//! One module per capability, built on the guards they share. The guards (`recent`, `throttle`, `activity`)
//! and the leaves (`password` hashing, `session_cache`, `totp`, `backup_codes`, `device_cookies`, the `providers`' protocol) import no
//! capability; a capability imports only guards, leaves and capabilities listed before it here
//! (`sessions` ← `two_factor` ← `accounts`, `reverify` ← `passkeys` ← `connected_accounts` ← `email_links` ← `alerts`), so `auth/*` has no cycle
//! (checked by `domain/tests/layers.rs`).

// leaves
pub mod backup_codes;
pub mod device_cookies;
mod hash_pool;
pub mod password;
pub mod password_policy;
pub mod providers;
pub mod session_cache;
pub mod totp;

// guards every capability uses
pub mod recent;
pub mod throttle;
pub mod activity;

// capabilities
pub mod sessions;
pub mod two_factor;
pub mod accounts;
pub mod reverify;
pub mod passkeys;
pub mod connected_accounts;
pub mod email_links;
pub mod alerts;
pub mod overview;
