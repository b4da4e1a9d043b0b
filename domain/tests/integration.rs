//! The domain's integration tests, one binary (see `autotests` in Cargo.toml): each file is a
//! module with its own subject; `common` is their shared set-up.
mod common;

mod accounts_and_sessions;
mod activity;
mod device_cookies;
mod email;
mod layers;
mod passkeys;
mod passwords;
mod plans;
mod revocation;
mod schema;
mod totp_change;
mod totp_key_rotation;
mod two_factor;
