//! The page itself: focus, printing, going to another address.
use wasm_bindgen::JsCast;

mod address;
mod inert;
mod redraw;
pub use address::{forget_in_address, go_to, go_to_instead, replace_address, set_in_address};
pub use inert::{isolate, release};
pub use redraw::{focus_after_redraw, focus_changed_section, remember_changed_section};
use redraw::{redraw_due, REDRAW_WAIT_MS};

fn element<T: JsCast>(id: &str) -> Option<T> {
    web_sys::window()?.document()?.get_element_by_id(id)?.dyn_into::<T>().ok()
}

/// Moves focus to `el`, which a script may focus even if it is not a control (`tabindex="-1"`, so
/// Tab still skips it).
fn focus_readable(el: &web_sys::HtmlElement) {
    if !el.has_attribute("tabindex") {
        let _ = el.set_attribute("tabindex", "-1");
    }
    let _ = el.focus();
}

/// What a section says happened (its status or alert line), or else its heading.
fn said_or_heading(section: &web_sys::Element) -> Option<web_sys::Element> {
    let said = section.query_selector(".notice[role=\"status\"], [role=\"alert\"]").ok().flatten();
    said.or_else(|| section.query_selector("h2").ok().flatten())
}

/// The element that has the focus is `el`.
fn is_active(el: &web_sys::Element) -> bool {
    web_sys::window().and_then(|w| w.document()).and_then(|d| d.active_element()).is_some_and(|a| &a == el)
}

/// Moves focus to the element with this id, if there is one.
pub fn focus(id: &str) {
    if let Some(el) = element::<web_sys::HtmlElement>(id) {
        let _ = el.focus();
    }
}

/// Moves focus to the page's status or alert line that says `sentence`, if the focus is nowhere
/// (a page just loaded) or on the page's heading: a message that came with the page is in no live region's change, so it
/// is read only if the focus goes there.
pub fn focus_sentence(sentence: &str) {
    let Some(doc) = web_sys::window().and_then(|w| w.document()) else { return };
    // (the page's heading has it only from the rescue of a dropped focus: `track_focus`)
    if doc.active_element().is_some_and(|el| el.tag_name() != "BODY" && !el.matches("main h1").unwrap_or(false)) {
        return;
    }
    let Ok(lines) = doc.query_selector_all("main [role=\"status\"], main [role=\"alert\"], main .notice") else { return };
    for i in 0..lines.length() {
        let Some(el) = lines.item(i).and_then(|n| n.dyn_into::<web_sys::HtmlElement>().ok()) else { continue };
        if el.text_content().is_some_and(|t| t.contains(sentence)) {
            focus_readable(&el);
            return;
        }
    }
}

/// Moves focus to the status or alert line that says `sentence` in a section of the page, if the
/// focus is nowhere, on the page's heading or in that same section (where the person acted: a
/// panel that closed gave it back to its opener); focus the person has put in another section
/// stays there.
pub fn focus_sentence_in_section(sentence: &str) {
    let Some(doc) = web_sys::window().and_then(|w| w.document()) else { return };
    let Ok(lines) = doc.query_selector_all("main section [role=\"status\"], main section [role=\"alert\"]") else { return };
    let Some(line) = (0..lines.length())
        .filter_map(|i| lines.item(i).and_then(|n| n.dyn_into::<web_sys::HtmlElement>().ok()))
        .find(|el| el.text_content().is_some_and(|t| t.contains(sentence)))
    else {
        return;
    };
    let section = line.closest("section").ok().flatten();
    let here = match doc.active_element() {
        None => true,
        Some(el) => {
            el.tag_name() == "BODY"
                || el.matches("main h1").unwrap_or(false)
                || section.as_ref().is_some_and(|s| s.contains(Some(&el)))
        }
    };
    if here {
        focus_readable(&line);
    }
}

/// Moves focus to item `index` (from 0) of the list with this id, once the page has drawn it (and
/// after what the rescue of a dropped focus did meanwhile: [`track_focus`]).
pub fn focus_list_item(list: &str, index: usize) {
    let list = list.to_string();
    let Some(window) = web_sys::window() else { return };
    let later = wasm_bindgen::closure::Closure::once_into_js(move || {
        let item = element::<web_sys::Element>(&list).and_then(|l| l.query_selector(&format!(":scope > li:nth-child({})", index + 1)).ok().flatten());
        if let Some(el) = item.and_then(|el| el.dyn_into::<web_sys::HtmlElement>().ok()) {
            focus_readable(&el);
        }
    });
    let _ = window.request_animation_frame(later.unchecked_ref());
}

/// The element with this id has the focus.
pub fn has_focus(id: &str) -> bool {
    element::<web_sys::Element>(id).is_some_and(|el| is_active(&el))
}

/// Moves focus to the form field with this id, unless the focus is already in a field of the same
/// form: a person (or a tool filling the form) who got to the second field first keeps their place,
/// and what they type goes where they are typing.
pub fn focus_field(id: &str) {
    let Some(el) = element::<web_sys::HtmlElement>(id) else { return };
    let form_of = |e: &web_sys::Element| e.closest("form").ok().flatten();
    let typing_in_same_form = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.active_element())
        .filter(|a| a.dyn_ref::<web_sys::HtmlInputElement>().is_some())
        .and_then(|a| Some((form_of(&a)?, form_of(&el)?)))
        .is_some_and(|(here, there)| here == there);
    if !typing_in_same_form {
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

thread_local! {
    /// The element that last received focus (`track_focus`).
    static LAST_FOCUSED: std::cell::RefCell<Option<web_sys::Element>> = const { std::cell::RefCell::new(None) };
    /// The section (`section.card[id]`, its id) that element is in, if any.
    static LAST_SECTION: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
    /// A look at lost focus is already due.
    static RESCUE_DUE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// No pointer was pressed since the focus last moved: a focus that drops now is the page's
    /// doing, not the person's (who may have clicked, or be scrolling, elsewhere).
    static RESCUE_ARMED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Remembers, from now on, which element last received focus: a button disabled while its request
/// runs loses focus to the page, and a dialog its answer opens (re-verification) gives focus back
/// to it. Called once, when the page has hydrated.
///
/// And from now on, focus that the page dropped never stays dropped: when the element that had it
/// leaves the page (a Cancel that closes its form, the last "Show more", a prompt answered, "End
/// now", a page the router replaced), and nothing the page does for that case has put it anywhere
/// by the next frame, it goes to what the section it was in says (its status or alert line) or to
/// the section's heading, or else to the page's heading. Keyboard users would otherwise start again
/// at the top of the page, and screen-reader users hear nothing at all.
pub fn track_focus() {
    let Some(doc) = web_sys::window().and_then(|w| w.document()) else { return };
    let remember = wasm_bindgen::closure::Closure::<dyn FnMut(web_sys::Event)>::new(move |ev: web_sys::Event| {
        if let Some(el) = ev.target().and_then(|t| t.dyn_into::<web_sys::Element>().ok()) {
            let section = el.closest("section.card[id]").ok().flatten().map(|s| s.id());
            LAST_SECTION.with(|last| *last.borrow_mut() = section);
            LAST_FOCUSED.with(|last| *last.borrow_mut() = Some(el));
            RESCUE_ARMED.with(|a| a.set(true));
        }
    });
    let _ = doc.add_event_listener_with_callback("focusin", remember.as_ref().unchecked_ref());
    // (listens for the page's whole life)
    remember.forget();
    // (a press on a control moves the focus there next, which arms it again)
    let pressed = wasm_bindgen::closure::Closure::<dyn FnMut()>::new(|| RESCUE_ARMED.with(|a| a.set(false)));
    let _ = doc.add_event_listener_with_callback_and_bool("pointerdown", pressed.as_ref().unchecked_ref(), true);
    pressed.forget();
    let removed = wasm_bindgen::closure::Closure::<dyn FnMut()>::new(move || {
        if !focus_dropped() || RESCUE_DUE.with(|d| d.replace(true)) {
            return;
        }
        // after the page's own focus moves, which wait for the next frame
        let rescue = wasm_bindgen::closure::Closure::once_into_js(|| {
            RESCUE_DUE.with(|d| d.set(false));
            // (a change's section, about to be drawn anew, is left to `focus_changed_section`: the
            // focus put on its sentence now would be put on the new drawing's again, and a screen
            // reader said the sentence twice; looked at again once the wait is over, for a reading
            // that never answered)
            if !focus_dropped() {
                return;
            }
            if !redraw_due() {
                focus_near_dropped();
            } else if let Some(w) = web_sys::window() {
                let again = wasm_bindgen::closure::Closure::once_into_js(|| {
                    if focus_dropped() && !redraw_due() {
                        focus_near_dropped();
                    }
                });
                let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(again.unchecked_ref(), REDRAW_WAIT_MS as i32 + 100);
            }
        });
        let after_frame = wasm_bindgen::closure::Closure::once_into_js(move || {
            if let Some(w) = web_sys::window() {
                let _ = w.set_timeout_with_callback(rescue.unchecked_ref());
            }
        });
        if let Some(w) = web_sys::window() {
            let _ = w.request_animation_frame(after_frame.unchecked_ref());
        }
    });
    if let (Ok(observer), Some(body)) = (web_sys::MutationObserver::new(removed.as_ref().unchecked_ref()), doc.body()) {
        let watch = web_sys::MutationObserverInit::new();
        watch.set_child_list(true);
        watch.set_subtree(true);
        let _ = observer.observe_with_options(&body, &watch);
    }
    removed.forget();
}

/// The focus is on no element, and the element that had it last has left the page.
fn focus_dropped() -> bool {
    let Some(doc) = web_sys::window().and_then(|w| w.document()) else { return false };
    let nowhere = doc.active_element().is_none_or(|el| el.tag_name() == "BODY");
    nowhere
        && RESCUE_ARMED.with(|a| a.get())
        && LAST_FOCUSED.with(|last| last.borrow().as_ref().is_some_and(|el| !el.is_connected()))
}

/// See [`track_focus`].
fn focus_near_dropped() {
    let Some(doc) = web_sys::window().and_then(|w| w.document()) else { return };
    let in_section = LAST_SECTION.with(|s| s.borrow().clone()).and_then(|id| element::<web_sys::Element>(&id)).and_then(|s| said_or_heading(&s));
    let target = in_section.or_else(|| doc.query_selector("main h1").ok().flatten()).or_else(|| doc.get_element_by_id("main"));
    if let Some(el) = target.and_then(|el| el.dyn_into::<web_sys::HtmlElement>().ok()) {
        focus_readable(&el);
    }
}

/// Before a dialog moves focus into itself: marks the element that has focus (the button that
/// opened it), or else the one that had it last if it is still on the page (a button disabled
/// while its request ran), with `mark`, so that [`return_focus`] can give focus back to it.
pub fn mark_focus(mark: &str) {
    let Some(doc) = web_sys::window().and_then(|w| w.document()) else { return };
    let opener = doc
        .active_element()
        .filter(|el| el.tag_name() != "BODY")
        .or_else(|| LAST_FOCUSED.with(|last| last.borrow().clone()).filter(|el| el.is_connected()));
    if let Some(el) = opener {
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

/// Focuses the element with this id, unless something else has the focus: for a control that was
/// disabled while its request ran (which dropped the focus to the page) and is enabled again.
pub fn focus_if_lost(id: &str) {
    let Some(doc) = web_sys::window().and_then(|w| w.document()) else { return };
    if doc.active_element().is_none_or(|el| el.tag_name() == "BODY") {
        focus(id);
    }
}

/// When an in-page panel closes: if the focus was in it (it is nowhere now), once the page has
/// drawn what replaces the panel, the focus goes back to the element [`mark_focus`] marked with
/// `mark` if it is still on the page, or else to the element with the id `opener` (the button that
/// opened the panel, drawn anew). Focus the person has put somewhere else stays there.
pub fn return_lost_focus(mark: &str, opener: Option<String>) {
    let Some(window) = web_sys::window() else { return };
    let mark = mark.to_string();
    let later = wasm_bindgen::closure::Closure::once_into_js(move || {
        let Some(doc) = web_sys::window().and_then(|w| w.document()) else { return };
        let marked = doc.query_selector(&format!("[{RETURN_MARK}=\"{mark}\"]")).ok().flatten();
        if let Some(el) = &marked {
            let _ = el.remove_attribute(RETURN_MARK);
        }
        // A change the panel confirmed is being drawn: the focus goes to what its section says
        // (`focus_changed_section`), not back to the button that opened the panel. That button's
        // element may by then stand for another item: the page patches a redrawn list in place, so
        // after a Revoke the focus landed on the next session's Revoke, read out the same.
        if redraw_due() {
            return;
        }
        let target = marked
            .and_then(|el| el.dyn_into::<web_sys::HtmlElement>().ok())
            .filter(|el| el.is_connected() && !el.has_attribute("disabled"))
            .or_else(|| opener.as_deref().and_then(element::<web_sys::HtmlElement>));
        let active = doc.active_element().filter(|el| el.tag_name() != "BODY");
        let Some(active) = active else {
            if let Some(el) = target {
                let _ = el.focus();
            }
            return;
        };
        // The focus went into a dialog that opened as the panel closed ("Confirm it's you", asked
        // for by the panel's change): when that dialog closes, the focus comes back here, unless
        // the dialog found something of its own to come back to (what had the focus when it
        // opened had left with the panel, so it usually did not).
        let Some(dialog) = active.closest("[role=\"dialog\"]").ok().flatten() else { return };
        let id = dialog.id();
        let has_own = doc.query_selector(&format!("[{RETURN_MARK}=\"{id}\"]")).ok().flatten().is_some();
        if let (false, false, Some(el)) = (id.is_empty(), has_own, target) {
            let _ = el.set_attribute(RETURN_MARK, &id);
        }
    });
    let _ = window.request_animation_frame(later.unchecked_ref());
}

/// Opens the browser's print dialog.
pub fn print() {
    if let Some(w) = web_sys::window() {
        let _ = w.print();
    }
}

/// Downloads the file at `path` as its link's `download` attribute does, the page staying where it
/// is (after a check the click's own default could not wait for).
pub fn download(path: &str) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else { return };
    let Some(link) = document.create_element("a").ok().and_then(|a| a.dyn_into::<web_sys::HtmlElement>().ok()) else { return };
    if link.set_attribute("href", path).is_ok() && link.set_attribute("download", "").is_ok() {
        link.click();
    }
}
