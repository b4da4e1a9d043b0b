//! The page itself: focus, printing, going to another address.
use wasm_bindgen::JsCast;

fn element<T: JsCast>(id: &str) -> Option<T> {
    web_sys::window()?.document()?.get_element_by_id(id)?.dyn_into::<T>().ok()
}

/// Moves focus to the element with this id, if there is one.
pub fn focus(id: &str) {
    if let Some(el) = element::<web_sys::HtmlElement>(id) {
        let _ = el.focus();
    }
}

/// Moves focus to the input with this id and selects its text.
pub fn focus_and_select(id: &str) {
    if let Some(el) = element::<web_sys::HtmlInputElement>(id) {
        let _ = el.focus();
        el.select();
    }
}

/// Opens the browser's print dialog.
pub fn print() {
    if let Some(w) = web_sys::window() {
        let _ = w.print();
    }
}

/// Loads `path` (a full navigation, not the router's).
pub fn go_to(path: &str) {
    if let Some(w) = web_sys::window() {
        let _ = w.location().assign(path);
    }
}
