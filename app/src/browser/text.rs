//! Text as the browser's own Unicode tables see it.

/// `text` in Unicode's composed form (NFC): an "é" typed as "e" and a combining accent becomes the
/// one character the server keeps (`String.prototype.normalize`, so the bundle carries no tables).
pub fn nfc(text: &str) -> String {
    js_sys::JsString::from(text).normalize("NFC").into()
}
