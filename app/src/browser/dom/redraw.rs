//! After a change on Security & Access: the page reads its overview again and draws the changed
//! sections anew, and the focus goes to what the change's section says (its status line), once
//! that drawing is there. Until then the rescue of a dropped focus and a closed confirmation's
//! return of the focus leave it to this (`redraw_due`).
use wasm_bindgen::JsCast;

use super::{element, focus_dropped, focus_near_dropped, focus_readable, said_or_heading, LAST_FOCUSED};

thread_local! {
    /// The section (its id) a change was made in, while the page reloads after it.
    static CHANGED_SECTION: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
    /// What the change says, outside any section (its id), while the page reloads after it.
    static CHANGED_TARGET: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
    /// When (`Date.now()`) the page began reloading after a change.
    static CHANGED_AT: std::cell::Cell<f64> = const { std::cell::Cell::new(f64::NEG_INFINITY) };
}

/// How long a change's section waits for the page's reload before the rescue of a dropped focus
/// acts all the same.
pub(super) const REDRAW_WAIT_MS: f64 = 5_000.0;

/// A change's section or sentence waits for the page's reload to be drawn, and the reload began
/// less than [`REDRAW_WAIT_MS`] ago (the rescue skipped meanwhile looks again once that is over: a
/// reload that never answered does not leave the focus dropped).
pub(super) fn redraw_due() -> bool {
    let waiting = CHANGED_SECTION.with(|c| c.borrow().is_some()) || CHANGED_TARGET.with(|c| c.borrow().is_some());
    waiting && js_sys::Date::now() - CHANGED_AT.with(|c| c.get()) < REDRAW_WAIT_MS
}

/// A change succeeded whose answer is drawn outside the sections (the "Was this you?" prompt's,
/// which leaves with the reload): once the page has drawn what changed, [`focus_changed_section`]
/// puts the focus on the element with this id instead.
pub fn focus_after_redraw(id: &str) {
    CHANGED_TARGET.with(|c| *c.borrow_mut() = Some(id.to_string()));
    CHANGED_AT.with(|c| c.set(js_sys::Date::now()));
}

/// A change succeeded and the page is about to draw the sections it changed anew (which takes the
/// focus with the old drawing, when it was there): remembers the section (`section.card` with an id) that has the focus, or last had
/// it (its button was disabled while the change ran), for [`focus_changed_section`].
pub fn remember_changed_section() {
    let Some(doc) = web_sys::window().and_then(|w| w.document()) else { return };
    let el = doc
        .active_element()
        .filter(|el| el.tag_name() != "BODY")
        .or_else(|| LAST_FOCUSED.with(|last| last.borrow().clone()));
    let section = el.and_then(|el| el.closest("section.card[id]").ok().flatten()).map(|s| s.id());
    CHANGED_SECTION.with(|c| *c.borrow_mut() = section);
    CHANGED_AT.with(|c| c.set(js_sys::Date::now()));
}

/// The page has drawn what a change changed: if the focus is nowhere (it was in what was drawn
/// anew), it goes to what the
/// change's section says happened (its status or alert line), or else to the section's heading,
/// so keyboard and screen-reader users carry on there, not at the top of the page.
pub fn focus_changed_section() {
    let Some(window) = web_sys::window() else { return };
    // (what to focus is taken once the frame comes: until then the rescue of a dropped focus leaves
    // it to this, `redraw_due`)
    let later = wasm_bindgen::closure::Closure::once_into_js(move || {
        let target = CHANGED_TARGET.with(|c| c.borrow_mut().take());
        let section = CHANGED_SECTION.with(|c| c.borrow_mut().take());
        let whole = target.is_some();
        let Some(id) = target.or(section) else { return };
        let Some(doc) = web_sys::window().and_then(|w| w.document()) else { return };
        if doc.active_element().is_some_and(|el| el.tag_name() != "BODY") {
            return;
        }
        // (the section itself gone with the change, as Connected accounts with its last provider
        // when none is offered: the rescue, which left it to this, does it now)
        let Some(section) = element::<web_sys::Element>(&id) else {
            if focus_dropped() {
                focus_near_dropped();
            }
            return;
        };
        let target = if whole { Some(section) } else { said_or_heading(&section) };
        if let Some(el) = target.and_then(|el| el.dyn_into::<web_sys::HtmlElement>().ok()) {
            focus_readable(&el);
        }
    });
    let _ = window.request_animation_frame(later.unchecked_ref());
}
