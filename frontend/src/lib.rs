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
    let typed = typed_before_hydration();
    // Resources resolve from the serialised data in microtasks, and Security & Access's sections
    // each hydrate in a task of their own (`app::browser::hydration`); the next frame comes after
    // them.
    app::browser::hydration::hydrate_body(app::App, move || {
        leptos::prelude::request_animation_frame(move || {
            put_back(typed);
            if let Some(el) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.document_element()) {
                let _ = el.set_attribute("data-hydrated", "");
            }
        })
    });
}

/// What the person typed into the server-rendered page's text fields while the bundle loaded
/// (by field id). Hydration sets each field to its component's state, empty, which threw it away:
/// on a slow connection someone typed their email and password, pressed Sign in, and was told to
/// enter their email address.
fn typed_before_hydration() -> Vec<(String, String)> {
    use wasm_bindgen::JsCast;
    let Some(fields) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.query_selector_all("input[id]:not([type=hidden]):not([type=checkbox]):not([type=radio])").ok())
    else {
        return Vec::new();
    };
    (0..fields.length())
        .filter_map(|i| fields.item(i)?.dyn_into::<web_sys::HtmlInputElement>().ok())
        .filter(|f| !f.value().is_empty())
        .map(|f| (f.id(), f.value()))
        .collect()
}

/// Puts back what `typed_before_hydration` kept, into each field hydration emptied, with an
/// `input` event (bubbling: Leptos listens on the document) so the component's state follows.
fn put_back(typed: Vec<(String, String)>) {
    use wasm_bindgen::JsCast;
    let Some(document) = web_sys::window().and_then(|w| w.document()) else { return };
    for (id, value) in typed {
        let Some(field) = document.get_element_by_id(&id).and_then(|e| e.dyn_into::<web_sys::HtmlInputElement>().ok()) else {
            continue;
        };
        if field.value().is_empty() {
            field.set_value(&value);
            let init = web_sys::EventInit::new();
            init.set_bubbles(true);
            if let Ok(event) = web_sys::Event::new_with_event_init_dict("input", &init) {
                let _ = field.dispatch_event(&event);
            }
        }
    }
}
