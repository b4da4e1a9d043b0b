//! `/previews/emails/{kind}?scheme=light|dark`: each email kind as it is sent (the HTML part of
//! the example in `domain::email::examples`), for the component previews, which frame these pages.
//! Off unless `[previews] enabled`.
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use crate::AppState;

#[derive(serde::Deserialize)]
pub struct Scheme {
    #[serde(default)]
    scheme: Option<String>,
}

/// The media query the templates use for dark mode.
const DARK_QUERY: &str = "@media (prefers-color-scheme: dark)";

pub async fn email(State(state): State<AppState>, Path(kind): Path<String>, Query(q): Query<Scheme>) -> Response {
    if !state.config.previews.enabled {
        return (StatusCode::NOT_FOUND, "Not found").into_response();
    }
    // a fixed example origin: the links read the same on every machine (screenshot baselines)
    let settings = &domain::email::EmailSettings { public_origin: "https://gatehouse.example".into(), ..(*state.services.email).clone() };
    let Some((_, _, name, mail)) = domain::email::examples(settings).into_iter().find(|(slug, _, _, _)| *slug == kind) else {
        return (StatusCode::NOT_FOUND, "Not found").into_response();
    };
    let rendered = match domain::email::render(settings, name, &mail) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "email preview failed");
            return (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong").into_response();
        }
    };
    // a fixed scheme, whatever the viewer's own: the previews show both side by side
    let html = match q.scheme.as_deref() {
        Some("dark") => rendered.html.replace(DARK_QUERY, "@media all"),
        _ => rendered.html.replace(DARK_QUERY, "@media not all"),
    };
    let mut res = Html(html).into_response();
    let h = res.headers_mut();
    // framed by /previews (same origin only); the email's own inline stylesheet, nothing else
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("SAMEORIGIN"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'; base-uri 'none'; form-action 'none'"),
    );
    res
}
