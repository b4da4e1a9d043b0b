//! A modal dialog's page: everything else inert while it is open.
use wasm_bindgen::JsCast;

use super::element;

/// The attribute on each element [`isolate`] made inert, naming the dialog it did it for.
const INERT_MARK: &str = "data-inert-for";

thread_local! {
    /// The dialog [`isolate`] keeps the rest of the page inert for, and what watches the page
    /// meanwhile (with its callback, dropped together on [`release`]).
    #[allow(clippy::type_complexity)]
    static ISOLATED: std::cell::RefCell<Option<(String, web_sys::MutationObserver, wasm_bindgen::closure::Closure<dyn FnMut()>)>> =
        const { std::cell::RefCell::new(None) };
}

/// While the dialog with id `dialog` is open: everything else on the page is inert (it cannot be
/// focused, clicked or read by a screen reader), so Tab and a screen reader's reading stay in the
/// dialog, as with a native modal dialog. Each sibling of the dialog and of every element around
/// it, up to `<body>`, is made inert and marked; what was inert already is left as it was. What the
/// page draws while the dialog is open (a section drawn again when a change made before it opened
/// finishes) is made inert as it arrives.
pub fn isolate(dialog: &str) {
    make_inert(dialog);
    let Some(body) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.body()) else { return };
    let id = dialog.to_string();
    let arrived = wasm_bindgen::closure::Closure::<dyn FnMut()>::new(move || make_inert(&id));
    let Ok(observer) = web_sys::MutationObserver::new(arrived.as_ref().unchecked_ref()) else { return };
    let watch = web_sys::MutationObserverInit::new();
    watch.set_child_list(true);
    watch.set_subtree(true);
    let _ = observer.observe_with_options(&body, &watch);
    if let Some((_, before, _)) = ISOLATED.with(|i| i.replace(Some((dialog.to_string(), observer, arrived)))) {
        before.disconnect();
    }
}

/// [`isolate`]'s marking, once.
fn make_inert(dialog: &str) {
    let Some(mut node) = element::<web_sys::Element>(dialog) else { return };
    while let Some(parent) = node.parent_element() {
        let children = parent.children();
        for i in 0..children.length() {
            let Some(child) = children.item(i) else { continue };
            if child != node && !child.has_attribute("inert") {
                let _ = child.set_attribute("inert", "");
                let _ = child.set_attribute(INERT_MARK, dialog);
            }
        }
        if parent.tag_name() == "BODY" {
            break;
        }
        node = parent;
    }
}

/// When the dialog `dialog` closes: what [`isolate`] made inert for it is live again.
pub fn release(dialog: &str) {
    ISOLATED.with(|i| {
        let mut isolated = i.borrow_mut();
        if isolated.as_ref().is_some_and(|(id, _, _)| id == dialog) {
            if let Some((_, observer, _)) = isolated.take() {
                observer.disconnect();
            }
        }
    });
    let Some(doc) = web_sys::window().and_then(|w| w.document()) else { return };
    let selector = format!("[{INERT_MARK}=\"{dialog}\"]");
    // (each one found loses its mark, so the next look finds the next; bounded all the same)
    for _ in 0..10_000 {
        let Ok(Some(el)) = doc.query_selector(&selector) else { break };
        let _ = el.remove_attribute("inert");
        if el.remove_attribute(INERT_MARK).is_err() {
            break;
        }
    }
}
