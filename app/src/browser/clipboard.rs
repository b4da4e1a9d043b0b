//! The clipboard.

/// Puts `text` on the clipboard; answers whether the browser did (it may refuse: no permission,
/// a page without focus, an insecure origin).
pub async fn copy(text: &str) -> bool {
    let Some(w) = web_sys::window() else { return false };
    wasm_bindgen_futures::JsFuture::from(w.navigator().clipboard().write_text(text)).await.is_ok()
}
