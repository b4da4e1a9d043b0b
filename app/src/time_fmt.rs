//! Relative times ("12 minutes ago"), computed on the server so SSR and hydration show the same text.
use time::{Duration, OffsetDateTime};

/// "just now", "5 minutes ago", "3 hours ago", "2 days ago", or the date for anything older than
/// 30 days.
pub fn ago(now: OffsetDateTime, then: OffsetDateTime) -> String {
    within_month(now - then).unwrap_or_else(|| format!("on {}", date(then)))
}

/// How long ago something `d` old was, as `ago` says it ("just now", "5 minutes ago"), up to 30
/// days; `None` past that (`ago` says the date then).
pub fn within_month(d: Duration) -> Option<String> {
    if d < Duration::minutes(1) {
        return Some("just now".into());
    }
    let plural = |n: i64, unit: &str| format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" });
    if d < Duration::hours(1) {
        Some(plural(d.whole_minutes(), "minute"))
    } else if d < Duration::days(1) {
        Some(plural(d.whole_hours(), "hour"))
    } else if d < Duration::days(30) {
        Some(plural(d.whole_days(), "day"))
    } else {
        None
    }
}

/// Whether `ago` said the date ("on 3 Mar 2026") rather than how long ago: what says the exact time
/// beside it need not say the date twice.
pub fn is_date(relative: &str) -> bool {
    relative.starts_with("on ")
}

/// A policy's length: "12 hours", "14 days", "90 minutes" (whole days when it is whole days).
pub fn span(d: Duration) -> String {
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if d.whole_days() > 0 && d == Duration::days(d.whole_days()) {
        plural(d.whole_days(), "day")
    } else if d.whole_hours() > 0 && d == Duration::hours(d.whole_hours()) {
        plural(d.whole_hours(), "hour")
    } else {
        plural(d.whole_minutes(), "minute")
    }
}

/// "3 Mar 2026".
pub fn date(t: OffsetDateTime) -> String {
    let fmt = time::macros::format_description!("[day padding:none] [month repr:short] [year]");
    t.format(&fmt).unwrap_or_default()
}

/// "2026-03-03 14:05 UTC", for the `title` of a `<time>`.
pub fn exact(t: OffsetDateTime) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    t.to_offset(time::UtcOffset::UTC).format(&fmt).unwrap_or_default()
}

/// A moment on the reader's own clock: the parts their browser reads off it (`browser::clock`)
/// and that clock's offset east of UTC in minutes at that moment (summer time included).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalTime {
    pub year: i32,
    /// 1–12
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub offset_minutes: i32,
}

impl LocalTime {
    /// "2026-03-03 15:05 UTC+1", as `exact` says it in UTC.
    pub fn exact(&self) -> String {
        let LocalTime { year, month, day, hour, minute, offset_minutes } = *self;
        format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02} {}", zone(offset_minutes))
    }

    /// "on 3 Mar 2026", as `ago` says a date: the reader's day, which near midnight is not UTC's.
    pub fn on_date(&self) -> String {
        format!("on {} {} {}", self.day, &self.month_name()[..3], self.year)
    }

    /// "3 March 2026 at 15:05 UTC+1", as the emails say a time (in UTC: `domain::email::format_when`).
    pub fn written(&self) -> String {
        format!("{} {} {} at {:02}:{:02} {}", self.day, self.month_name(), self.year, self.hour, self.minute, zone(self.offset_minutes))
    }

    /// The month's English name, as `time` says it (and so `format_when` and `date` too).
    fn month_name(&self) -> String {
        time::Month::try_from(self.month.clamp(1, 12)).map(|m| m.to_string()).unwrap_or_default()
    }
}

/// "UTC", "UTC+1", "UTC-5", "UTC+5:30": a clock's offset from UTC, as a person reads it.
fn zone(offset_minutes: i32) -> String {
    let (sign, m) = if offset_minutes < 0 { ('-', -offset_minutes) } else { ('+', offset_minutes) };
    match (m / 60, m % 60) {
        (0, 0) => "UTC".into(),
        (h, 0) => format!("UTC{sign}{h}"),
        (h, min) => format!("UTC{sign}{h}:{min:02}"),
    }
}

/// RFC 3339, for the `datetime` attribute.
pub fn iso(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn relative_times() {
        let now = datetime!(2026-11-23 12:00 UTC);
        assert_eq!(ago(now, now - Duration::seconds(20)), "just now");
        assert_eq!(ago(now, now - Duration::minutes(1)), "1 minute ago");
        assert_eq!(ago(now, now - Duration::minutes(12)), "12 minutes ago");
        assert_eq!(ago(now, now - Duration::hours(5)), "5 hours ago");
        assert_eq!(ago(now, now - Duration::days(3)), "3 days ago");
        assert_eq!(ago(now, datetime!(2026-03-03 09:00 UTC)), "on 3 Mar 2026");
        assert_eq!(exact(datetime!(2026-03-03 09:05 UTC)), "2026-03-03 09:05 UTC");
    }

    #[test]
    fn a_time_ago_is_said_again_from_its_age_until_it_is_a_date() {
        assert_eq!(within_month(Duration::seconds(59)).as_deref(), Some("just now"));
        assert_eq!(within_month(Duration::seconds(60)).as_deref(), Some("1 minute ago"));
        assert_eq!(within_month(Duration::minutes(61)).as_deref(), Some("1 hour ago"));
        assert_eq!(within_month(Duration::days(29)).as_deref(), Some("29 days ago"));
        assert_eq!(within_month(Duration::days(30)), None);
    }

    #[test]
    fn a_date_is_told_from_a_time_ago() {
        let now = datetime!(2026-11-23 12:00 UTC);
        assert!(is_date(&ago(now, now - Duration::days(31))));
        assert!(!is_date(&ago(now, now - Duration::days(29))));
        assert!(!is_date(&ago(now, now)));
    }

    fn local(year: i32, month: u8, day: u8, hour: u8, minute: u8, offset_minutes: i32) -> LocalTime {
        LocalTime { year, month, day, hour, minute, offset_minutes }
    }

    #[test]
    fn exact_times_on_the_readers_clock_name_its_offset() {
        assert_eq!(local(2026, 3, 3, 15, 5, 60).exact(), "2026-03-03 15:05 UTC+1");
        assert_eq!(local(2026, 12, 6, 2, 38, -300).exact(), "2026-12-06 02:38 UTC-5");
        assert_eq!(local(2026, 12, 6, 13, 8, 330).exact(), "2026-12-06 13:08 UTC+5:30");
        assert_eq!(local(2026, 12, 6, 4, 23, -210).exact(), "2026-12-06 04:23 UTC-3:30");
        assert_eq!(local(2026, 1, 1, 0, 0, 0).exact(), "2026-01-01 00:00 UTC");
    }

    #[test]
    fn dates_and_written_times_on_the_readers_clock_read_as_the_utc_ones_do() {
        // 2026-03-02 23:30 UTC is already the 3rd at UTC+1
        let t = local(2026, 3, 3, 0, 30, 60);
        assert_eq!(t.on_date(), "on 3 Mar 2026");
        assert_eq!(ago(datetime!(2026-11-23 12:00 UTC), datetime!(2026-03-02 23:30 UTC)), "on 2 Mar 2026", "the server's, in UTC");
        assert_eq!(t.written(), "3 March 2026 at 00:30 UTC+1");
        assert_eq!(local(2026, 12, 1, 9, 5, 330).written(), "1 December 2026 at 09:05 UTC+5:30");
        assert_eq!(local(2026, 5, 9, 9, 5, 0).on_date(), "on 9 May 2026");
    }

    #[test]
    fn policy_spans() {
        assert_eq!(span(Duration::hours(12)), "12 hours");
        assert_eq!(span(Duration::days(14)), "14 days");
        assert_eq!(span(Duration::hours(24)), "1 day");
        assert_eq!(span(Duration::minutes(90)), "90 minutes");
    }
}
