//! Gatehouse's Leptos application: pages, section components and `#[server]` functions.
//! Built twice: with `ssr` for the server and with `hydrate` for the browser (never both).

pub mod app;
pub mod auth_api;
pub mod browser;
pub mod components;
pub mod error;
pub mod model;
pub mod nav;
pub mod previews;
pub mod resource;
pub mod security;
#[cfg(feature = "ssr")]
pub mod server;
pub mod sign_in;
pub mod time_fmt;

pub use app::{shell, App, SiteFiles};
