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

/// The attribute that marks where focus goes back to when a dialog closes.
const RETURN_MARK: &str = "data-focus-return";

/// Before a dialog moves focus into itself: marks the element that has focus (the button that
/// opened it) with `mark`, so that [`return_focus`] can give focus back to it. (Nothing is marked
/// when nothing had focus: a button disabled while its request ran has lost it.)
pub fn mark_focus(mark: &str) {
    let Some(doc) = web_sys::window().and_then(|w| w.document()) else { return };
    if let Some(el) = doc.active_element().filter(|el| el.tag_name() != "BODY") {
        let _ = el.set_attribute(RETURN_MARK, mark);
    }
}

/// When a dialog closes: focus goes back to the element [`mark_focus`] marked with `mark`, if it
/// is still on the page (keyboard and screen-reader users carry on where they were, not at the
/// top of the page).
pub fn return_focus(mark: &str) {
    let Some(doc) = web_sys::window().and_then(|w| w.document()) else { return };
    if let Ok(Some(el)) = doc.query_selector(&format!("[{RETURN_MARK}=\"{mark}\"]")) {
        let _ = el.remove_attribute(RETURN_MARK);
        if let Ok(el) = el.dyn_into::<web_sys::HtmlElement>() {
            let _ = el.focus();
        }
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
