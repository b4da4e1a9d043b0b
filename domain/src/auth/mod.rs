//! One module per capability.
pub mod accounts;
pub mod password;
pub mod sessions;
