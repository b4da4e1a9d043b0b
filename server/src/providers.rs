//! `/auth/{google|github}/callback`: where Google or GitHub sends the browser back. It finishes the
//! flow the browser began (`domain::auth::connected_accounts::finish`), sets the cookies the outcome
//! needs, and sends the person on with a 303: signed in → the page the sign-in page was asked to
//! return to (`return_to`, checked again here), else Security & Access; an authenticator app to
//! answer → the sign-in page's second step (keeping `return_to`); connected or re-verified →
//! Security & Access. Every
//! failure (cancelled, refused, a state that is unknown, used or another browser's, expired, an
//! email already in use…) lands on the sign-in page (the sign-up page for a known flow begun there:
//! an unknown state cannot say where it began; Security & Access for connect and re-verify, and for
//! a sign-in whose browser signed in meanwhile in another tab) with a calm sentence, never an error
//! page.
use std::collections::HashMap;

use app::model::ProviderKind;
use app::server::cookies::{DEVICE, FLOW, PENDING, SESSION};
use app::server::CurrentSession;
use app::sign_in::providers::ProviderOutcome;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use domain::auth::connected_accounts::{finish, Callback, Finished};
use domain::kinds::{FlowIntent, Provider};
use domain::request::ClientInfo;
use domain::secret::{DeviceCookie, FlowCookie};
use domain::DomainError;

use crate::AppState;

/// Security & Access: where connect and re-verify end, and a sign-in without (a safe) `return_to`.
const SECURITY: &str = app::nav::HOME;

pub async fn callback(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    Extension(CurrentSession(session)): Extension<CurrentSession>,
    Extension(mut client): Extension<ClientInfo>,
    headers: HeaderMap,
) -> Response {
    let Some(kind) = ProviderKind::from_slug(&slug) else {
        return (StatusCode::NOT_FOUND, "Not found").into_response();
    };
    let provider = Provider::from(kind);
    client.device = DEVICE.read(&headers).map(DeviceCookie::from_cookie);
    if let Some(ip) = client.ip.as_deref() {
        client.country = state.geo.country(ip);
        client.location = Some(state.geo.locate(ip).text);
    }
    let cookie = FLOW.read(&headers).map(FlowCookie::from_cookie);
    let answer = Callback {
        state: query.get("state").cloned(),
        code: query.get("code").cloned(),
        error: query.get("error").cloned(),
    };
    let (began, result) = finish(&state.services, provider, cookie.as_ref(), &answer, session.as_ref(), &client).await;
    if let Ok(Finished::SignedIn { .. }) = &result {
        // (the session this browser still had is replaced: signed out, as after a password sign-in)
        domain::auth::sessions::end_replaced(&state.services, session.as_ref(), &client).await;
    }
    let policy_seconds = Some(state.config.session.longest_lifetime().whole_seconds());
    // (only a path on this site, whatever the row says)
    let return_to = began.as_ref().and_then(|b| b.return_to.as_deref()).map(|r| app::nav::safe_return_to(Some(r)));
    let and_return_to = || match return_to.as_deref() {
        Some(r) if r != SECURITY => format!("&return_to={}", app::sign_in::urlencode(r)),
        _ => String::new(),
    };
    // (the flow cookie stays: it is the browser's, shared by every flow begun in it, and another
    // tab's flow still needs it to finish; clearing it here made that one "can't be used")
    match result {
        Ok(Finished::SignedIn { signed_in, new_account }) => {
            // (an account made just now says so on Security & Access, whatever page the sign-in was
            // to return to: "Continue with GitHub" on the sign-in page makes one for an identity no
            // account has, and it must not pass for the person's own older account)
            let to = if new_account {
                outcome_page(FlowIntent::Connect, false, kind, ProviderOutcome::NewAccount, true)
            } else {
                return_to.as_deref().unwrap_or(SECURITY).to_string()
            };
            redirect(&to, &[SESSION.set(signed_in.token.expose(), policy_seconds), DEVICE.set(signed_in.device.expose(), None)])
        }
        Ok(Finished::SecondStep(pending)) => {
            redirect(&format!("/sign-in?second_step=1{}", and_return_to()), &[PENDING.set(pending.expose(), None)])
        }
        Ok(Finished::Connected) => redirect(&outcome_page(FlowIntent::Connect, false, kind, ProviderOutcome::Connected, true), &[]),
        // (the page says it worked and what next: "You confirmed it's you with Google. Make your
        // change again.")
        Ok(Finished::Reverified(done)) => redirect(&format!("{SECURITY}?reverified={}", kind.slug()), &[SESSION.set(done.token.expose(), policy_seconds)]),
        Err(e) => {
            let outcome = match e {
                DomainError::Provider(f) => app::server::outcome(f),
                e => {
                    let reference = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
                    tracing::error!(reference = %reference, provider = provider.as_str(), error = ?e, "provider callback failed");
                    ProviderOutcome::Failed
                }
            };
            // with no known flow: where this browser would be (signed in or not)
            let (intent, from_sign_up) = match began {
                Some(b) => (b.intent, b.from_sign_up),
                None => (if session.is_some() { FlowIntent::Connect } else { FlowIntent::SignIn }, false),
            };
            let page = outcome_page(intent, from_sign_up, kind, outcome, session.is_some());
            // a sign-in tried again from that page still goes where it was going
            let page = if intent == FlowIntent::SignIn && session.is_none() { format!("{page}{}", and_return_to()) } else { page };
            redirect(&page, &[])
        }
    }
}

/// The page that says how a flow ended: sign-in for sign-ins (sign-up for one begun there: the page
/// the person was on), and for a connection or a re-verification that came back to a browser no
/// longer signed in (which Security & Access would only send on to sign-in, the sentence lost on the
/// way); Security & Access otherwise, a sign-in's too when the browser signed in meanwhile (in
/// another tab: the sign-in and sign-up pages send a signed-in browser on, and the sentence was
/// lost on the way).
pub(crate) fn outcome_page(intent: FlowIntent, from_sign_up: bool, kind: ProviderKind, outcome: ProviderOutcome, signed_in: bool) -> String {
    let query = format!("provider={}&provider_outcome={}", kind.slug(), outcome.code());
    match intent {
        FlowIntent::Connect | FlowIntent::SignIn if signed_in => format!("{SECURITY}?{query}#connected-accounts"),
        // (said at the top of the page, where "You confirmed it's you" is: the change that asked
        // may be in any section, and Connected accounts had nothing to do with it)
        FlowIntent::Reverify if signed_in => format!("{SECURITY}?{query}&{}=1", app::sign_in::providers::REVERIFYING),
        FlowIntent::SignIn if from_sign_up => format!("/sign-up?{query}"),
        _ => format!("/sign-in?{query}"),
    }
}

fn redirect(to: &str, cookies: &[String]) -> Response {
    let mut res = Redirect::to(to).into_response();
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}
