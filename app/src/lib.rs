//! Gatehouse's Leptos application: pages, section components and `#[server]` functions.
//! Built twice: with `ssr` for the server and with `hydrate` for the browser (never both).

pub mod app;
pub mod auth_api;
pub mod browser;
pub mod components;
pub mod error;
pub mod model;
pub mod nav;
#[cfg(feature = "previews")]
pub mod previews;
pub mod resource;
pub mod security;
#[cfg(feature = "ssr")]
pub mod server;
pub mod sign_in;
pub mod time_fmt;

pub use app::{shell, App, SiteFiles};

/// Whether this build has the component previews (`/previews`; the `previews` feature). Without
/// them (`make release`), `/previews` is a page not found even where the configuration turns them
/// on.
pub const PREVIEWS_BUILT: bool = cfg!(feature = "previews");
