//! The reader's own clock: an exact time as it says it.

/// `iso` (RFC 3339) on the browser's clock, with that clock's offset at that moment (summer time
/// included): "2026-03-03 15:05 UTC+1". `None` if the browser cannot read `iso`.
pub fn local_exact(iso: &str) -> Option<String> {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_str(iso));
    if d.get_time().is_nan() {
        return None;
    }
    // (getTimezoneOffset is minutes *behind* UTC: -60 for UTC+1)
    let offset = -(d.get_timezone_offset() as i32);
    Some(crate::time_fmt::exact_local(d.get_full_year() as i32, d.get_month() + 1, d.get_date(), d.get_hours(), d.get_minutes(), offset))
}
