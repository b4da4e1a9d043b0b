//! One module per capability.
pub mod accounts;
pub mod devices;
pub mod password;
pub mod reverify;
pub mod sessions;
