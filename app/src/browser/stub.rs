//! The server build's stand-ins for every browser function: same signatures, no browser. Never
//! called (browser work runs only in effects and event handlers); if one were, it would do nothing
//! and answer `false`, `None` or `PasskeyError::Unsupported`.

pub mod clipboard {
    pub async fn copy(_text: &str) -> bool {
        false
    }
}

pub mod clock {
    pub fn local(_iso: &str) -> Option<crate::time_fmt::LocalTime> {
        None
    }
    pub fn now_seconds() -> f64 {
        0.0
    }
}

pub mod hydration {
    /// (the server never hydrates)
    pub fn later(_hydrate: Box<dyn FnOnce()>) {}
}

pub mod text {
    pub fn nfc(text: &str) -> String {
        text.to_string()
    }
}

pub mod dom {
    pub fn focus(_id: &str) {}
    pub fn focus_if_lost(_id: &str) {}
    pub fn focus_field(_id: &str) {}
    pub fn has_focus(_id: &str) -> bool {
        false
    }
    pub fn focus_sentence(_sentence: &str) {}
    pub fn focus_sentence_in_section(_sentence: &str) {}
    pub fn focus_after_redraw(_id: &str) {}
    pub fn download(_path: &str) {}
    pub fn focus_and_select(_id: &str) {}
    pub fn focus_list_item(_list: &str, _index: usize) {}
    pub fn track_focus() {}
    pub fn mark_focus(_mark: &str) {}
    pub fn return_focus(_mark: &str) {}
    pub fn return_lost_focus(_mark: &str, _opener: Option<String>) {}
    pub fn remember_changed_section() {}
    pub fn focus_changed_section() {}
    pub fn isolate(_dialog: &str) {}
    pub fn release(_dialog: &str) {}
    pub fn print() {}
    pub fn go_to(_path: &str) {}
    pub fn go_to_instead(_path: &str) {}
    pub fn replace_address(_path: &str) {}
    pub fn forget_in_address(_names: &[&str]) {}
    pub fn set_in_address(_name: &str, _value: Option<&str>) {}
}

pub mod webauthn {
    pub use crate::browser::{PasskeyError, UNSUPPORTED};

    /// Cancels an outstanding passkey request; there is none on the server.
    #[derive(Clone, Debug)]
    pub struct Abort(());

    /// Where a page keeps an [`Abort`]. On the server it is plain data, kept in thread-safe
    /// storage: a server render that awaits (a `Suspense`) may end on another thread than it
    /// began, and dropping thread-local storage there panics and cuts the page off.
    pub type AbortStorage = leptos::prelude::SyncStorage;

    impl Abort {
        pub fn new() -> Option<Self> {
            None
        }
        pub fn abort(&self) {}
    }

    pub fn supported() -> bool {
        false
    }
    pub async fn autofill_available() -> bool {
        false
    }
    pub async fn create(_options_json: &str, _abort: Option<&Abort>) -> Result<String, PasskeyError> {
        Err(PasskeyError::Unsupported)
    }
    pub async fn get_assertion(_options_json: &str, _abort: Option<&Abort>) -> Result<String, PasskeyError> {
        Err(PasskeyError::Unsupported)
    }
}
