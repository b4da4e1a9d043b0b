//! Everything that talks to the browser through web-sys / js-sys: passkeys (WebAuthn), the clock,
//! the clipboard, printing, focus and navigation, hydrating the page a section at a time.
//! Components and pages call these and carry no `cfg` of their own.
//!
//! The hydrate build has the real functions. The server build has `stub.rs`: the same signatures,
//! doing nothing and answering `false`, `None` or an error. The server never calls them: they run
//! only from effects and event handlers, which do not run while the server renders (so server and
//! browser always draw the same markup).
mod passkey_error;

pub use passkey_error::{PasskeyError, UNSUPPORTED};

#[cfg(feature = "hydrate")]
pub mod clipboard;
#[cfg(feature = "hydrate")]
pub mod clock;
#[cfg(feature = "hydrate")]
pub mod dom;
#[cfg(feature = "hydrate")]
pub mod hydration;
#[cfg(feature = "hydrate")]
pub mod text;
#[cfg(feature = "hydrate")]
pub mod webauthn;

#[cfg(not(feature = "hydrate"))]
mod stub;
#[cfg(not(feature = "hydrate"))]
pub use stub::{clipboard, clock, dom, hydration, text, webauthn};
