//! Postgres access, one file per table group. Every function that touches a user's rows takes the
//! owning `UserId`, so one account can never reach another's.
//!
//! Every statement is a `sqlx::query!`-family macro: its SQL, parameter and column types are checked
//! at build time against the query data committed in `.sqlx/` (`make sqlx` refreshes it).
pub mod alerts;
pub mod connected_accounts;
pub mod email;
pub mod events;
pub mod migrations;
pub mod organizations;
pub mod overview;
pub mod passkey_sign_ins;
pub mod passkeys;
pub mod pending_sign_ins;
pub mod sessions;
pub mod throttles;
pub mod two_factor;
pub mod users;
