//! The wasm entry point: hydrates the server-rendered page, then marks `<html data-hydrated>` so
//! end-to-end tests (and anyone curious) can tell the page is interactive.
use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen]
pub fn hydrate() {
    // Development builds report a panic in the console. A release build's panics abort at once
    // (`-Cpanic=immediate-abort`, scripts/release.sh): no hook would ever run, and leaving it out
    // keeps its formatting code out of the bundle.
    #[cfg(debug_assertions)]
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
    // Resources resolve from the serialised data in microtasks; the next frame comes after them.
    leptos::prelude::request_animation_frame(|| {
        if let Some(el) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.document_element()) {
            let _ = el.set_attribute("data-hydrated", "");
        }
    });
}
