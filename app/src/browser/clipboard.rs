//! The clipboard.

/// Puts `text` on the clipboard; answers whether the browser did (it may refuse: no permission,
/// a page without focus; a page not served securely has no clipboard at all).
pub async fn copy(text: &str) -> bool {
    let Some(w) = web_sys::window() else { return false };
    let navigator = w.navigator();
    // (web-sys assumes it is there; calling it when it is not would throw through the wasm)
    let has_clipboard = js_sys::Reflect::get(&navigator, &"clipboard".into()).is_ok_and(|c| !c.is_undefined() && !c.is_null());
    if !has_clipboard {
        return false;
    }
    wasm_bindgen_futures::JsFuture::from(navigator.clipboard().write_text(text)).await.is_ok()
}
