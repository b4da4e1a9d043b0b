//! Postgres access, one file per table group. Every function that touches a user's rows takes the
//! owning `UserId`, so one account can never reach another's.
pub mod events;
pub mod organizations;
pub mod passkeys;
pub mod sessions;
pub mod throttles;
pub mod two_factor;
pub mod users;
