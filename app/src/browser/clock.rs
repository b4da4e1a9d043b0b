//! The reader's own clock: a moment as it says it.
use crate::time_fmt::LocalTime;

/// `iso` (RFC 3339) on the browser's clock, with that clock's offset at that moment (summer time
/// included). `None` if the browser cannot read `iso`.
pub fn local(iso: &str) -> Option<LocalTime> {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_str(iso));
    if d.get_time().is_nan() {
        return None;
    }
    // (getTimezoneOffset is minutes *behind* UTC: -60 for UTC+1)
    Some(LocalTime {
        year: d.get_full_year() as i32,
        month: (d.get_month() + 1) as u8,
        day: d.get_date() as u8,
        hour: d.get_hours() as u8,
        minute: d.get_minutes() as u8,
        offset_minutes: -(d.get_timezone_offset() as i32),
    })
}

/// Seconds since 1970 on the browser's clock.
pub fn now_seconds() -> f64 {
    js_sys::Date::now() / 1000.0
}
