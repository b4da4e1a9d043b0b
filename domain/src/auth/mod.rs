//! One module per capability.
pub mod accounts;
pub mod backup_codes;
pub mod device_cookies;
mod hash_pool;
pub mod devices;
pub mod passkeys;
pub mod password;
pub mod reverify;
pub mod sessions;
pub mod throttle;
pub mod totp;
pub mod two_factor;
