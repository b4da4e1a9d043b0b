//! Rules the server enforces and the browser previews while the person types. Pure functions, no
//! dependencies: this crate is compiled into the wasm bundle as well as the server. The server
//! remains the authority (it also NFC-normalises, and checks lists of leaked passwords, which are
//! far too large to ship to the browser).
pub mod names;
pub mod password;
