//! A form the browser sent by itself: JavaScript is off (or the page was saved and reopened). The
//! app sends its forms from the page's code, so a page's forms name no address of their own: they
//! say `method="post"`, which keeps what was typed (a password above all) out of the address, the
//! history and the server's logs, and their post to the page's own address gets this page, saying
//! what to do, instead of "405 Method Not Allowed".
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::{Method, StatusCode};

use crate::AppState;

pub const NEEDS_JAVASCRIPT: &str =
    "Gatehouse needs JavaScript to send this form. Turn JavaScript on for this site in your browser's settings, then go back and try again. Nothing was sent.";

pub async fn form_sent_without_javascript(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if *req.method() != Method::POST || path.starts_with("/api/") || path.starts_with("/auth/") {
        return next.run(req).await;
    }
    // (the page's whole address: a form posts to it, query too, `/reset-password?token=…`)
    let page = req.uri().path_and_query().map_or(path, |p| p.as_str());
    super::plain_page(StatusCode::BAD_REQUEST, &state.assets.files.stylesheet, "JavaScript needed", NEEDS_JAVASCRIPT, (page, "Go back"))
}
