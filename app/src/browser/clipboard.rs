//! The clipboard.

/// Puts `text` on the clipboard. `false` when there is no window to ask (the browser's answer
/// itself is not awaited).
pub fn copy(text: &str) -> bool {
    let Some(w) = web_sys::window() else { return false };
    let _ = w.navigator().clipboard().write_text(text);
    true
}
