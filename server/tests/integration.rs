//! The server's integration tests, one binary (see `autotests` in Cargo.toml): each file is a
//! module with its own subject.
mod email;
mod guards;
mod hardening_config;
mod http;
mod limits;
mod providers;
mod startup;
