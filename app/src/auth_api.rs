//! Signing in (with a password and a second step, a passkey, or a provider) and signing out.
//! Signing up, and the other pages an emailed link leads to (a password reset, "This wasn't me"),
//! are `email_links` (re-exported here).
use leptos::prelude::*;

use crate::error::AppError;
use crate::model::SessionStatus;

mod email_links;

pub use email_links::{
    begin_sign_up_passkey, finish_sign_up, finish_sign_up_passkey, forgot_password, not_me_link, report_not_me, confirm_not_me_link, ConfirmNotMeLink, reset_link,
    reset_password, sign_up, sign_up_link, BeginSignUpPasskey, FinishSignUp, FinishSignUpPasskey, ForgotPassword, NotMeLink,
    ReportNotMe, ResetLink, ResetPassword, SignUp, SignUpLink,
};

/// Who this browser is signed in as, if anyone ("whoami"). Cheap: the session check the server
/// does for every request, and nothing more.
///
/// - Auth: anonymous or signed in (anonymous answers `None`).
/// - Effects: none (the session's last-active time, at most once a minute).
/// - Errors: `Unavailable`.
#[server(prefix = "/api", endpoint = "session", input = leptos::server_fn::codec::GetUrl)]
pub async fn current_session() -> Result<Option<SessionStatus>, AppError> {
    Ok(crate::server::auth_for_setup().ok().map(|s| SessionStatus {
        email: s.email,
        display_name: s.display_name,
        plan: s.plan.to_string(),
    }))
}

/// Signs in with email and password, then redirects to `return_to` (site paths only). A new
/// session token every time (no fixation).
///
/// - Auth: anonymous.
/// - Effects: a session and a `signed_in` event; sets the session and device cookies. A wrong
///   password is counted on this browser's throttle path and recorded (`sign_in_failed`).
/// - Errors: `Invalid` (422) for an empty email or password ("Enter your email address.", "Enter
///   your password.": before any look-up, hashing or counting, the same for every address);
///   `InvalidCredentials` for an unknown email, a wrong password and a throttled or locked
///   path alike (same status, same body, same hashing work), `RateLimited` (429), `Busy` (503: the
///   password-hashing queue is full), `Unavailable`.
/// - Rate limit: per client network (IPv4 address or IPv6 /64), shared with sign-up and the second
///   step (`[limits] password_*`): 429 with `Retry-After` before any work; then the throttle of
///   this browser's path (its own with the account's device cookie, the account's untrusted one
///   otherwise). Hashing is bounded by the hasher's concurrency limit and queue (`[argon2]`):
///   beyond it, 503 with `Retry-After`.
#[server(prefix = "/api", endpoint = "auth/sign-in")]
pub async fn sign_in(email: String, password: String, #[server(default)] return_to: Option<String>) -> Result<(), AppError> {
    use crate::server::{client, fail, services, set_signed_in_cookies};
    let svc = services()?;
    let signed_in = match domain::auth::accounts::sign_in(&svc, &email, &domain::secret::Password::new(password), &client()).await {
        Ok(signed_in) => signed_in,
        Err(domain::DomainError::SecondStepRequired(pending)) => {
            crate::server::set_pending_cookie(&pending);
            return Err(fail(domain::DomainError::SecondStepRequired(pending)));
        }
        Err(e) => return Err(fail(e)),
    };
    set_signed_in_cookies(&signed_in).await;
    leptos_axum::redirect(&crate::nav::safe_return_to(return_to.as_deref()));
    Ok(())
}

/// Which second step a code is for; on the wire `method=totp` or `method=backup_code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SecondStepMethod {
    #[serde(rename = "totp")]
    Authenticator,
    #[serde(rename = "backup_code")]
    BackupCode,
}

/// The second step of a sign-in: a code from the authenticator app (`method = "totp"`) or a backup
/// code (`method = "backup_code"`; any other method cannot be decoded: `BadRequest`), then
/// redirects to `return_to`. After a backup code, the page
/// says how many are left.
///
/// - Auth: a pending sign-in (its cookie, set by `sign_in`); nothing else.
/// - Effects: a session, the pending sign-in ended, a `signed_in` event; a backup code is used up;
///   sets the session and device cookies. A wrong code is counted on this browser's throttle path
///   and recorded (`second_step_failed`).
/// - Errors: `Invalid { field: "code" }` for a wrong code, or an empty one (which costs none of the
///   5 tries and is not counted); `SignInAgain` when the pending sign-in
///   expired (5 minutes) or had 5 wrong codes; `RateLimited` (429); `Unavailable`.
/// - Rate limit: per client network, shared with sign-in and sign-up (`[limits] password_*`):
///   429 with `Retry-After`; 5 wrong codes per pending sign-in (each needs a right password
///   through the throttle first); the code itself never waits for the throttle.
#[server(prefix = "/api", endpoint = "auth/second-step")]
pub async fn complete_sign_in(
    code: String,
    method: SecondStepMethod,
    #[server(default)] return_to: Option<String>,
) -> Result<(), AppError> {
    use crate::server::{clear_pending_cookie, client, fail, pending_cookie, reject, services, set_signed_in_cookies};
    use domain::auth::two_factor::{complete_sign_in, SecondStep};
    let step = match method {
        SecondStepMethod::Authenticator => SecondStep::Authenticator,
        SecondStepMethod::BackupCode => SecondStep::BackupCode,
    };
    let pending = pending_cookie().ok_or_else(|| reject(AppError::SignInAgain))?;
    let svc = services()?;
    let signed_in = complete_sign_in(&svc, &pending, step, &code, &client()).await.map_err(|e| {
        if matches!(e, domain::DomainError::SignInAgain) {
            clear_pending_cookie();
        }
        fail(e)
    })?;
    clear_pending_cookie();
    set_signed_in_cookies(&signed_in).await;
    let to = crate::nav::safe_return_to(return_to.as_deref());
    match signed_in.backup_codes_left {
        Some(left) if to == "/settings/security" => leptos_axum::redirect(&format!("{to}?backup_codes_left={left}")),
        _ => leptos_axum::redirect(&to),
    }
    Ok(())
}

/// Whether this browser has a sign-in waiting for its code (its pending cookie, which lives as long
/// as the pending sign-in may: `two_factor::PENDING_MINUTES`). The code step's page asks once drawn
/// from its address (`?second_step=1`): a kept address, or a reload after the sign-in expired,
/// gets the sign-in form instead of a code form whose every code would be refused. (Asked from the
/// page, not decided by the server on the page's load: the pending cookie is `SameSite=Strict`,
/// and the provider's redirect to the code step, which began on the provider's site, does not
/// carry it.)
///
/// - Auth: anonymous; reads the pending cookie.
/// - Effects: none.
/// - Errors: none.
#[server(prefix = "/api", endpoint = "auth/second-step/waiting")]
pub async fn second_step_waiting() -> Result<bool, AppError> {
    Ok(crate::server::pending_cookie().is_some())
}

/// "Back to sign in" from the code step: ends this browser's pending sign-in, so its code step takes
/// no more codes, and clears its cookie. The page then shows the sign-in form again.
///
/// - Auth: a pending sign-in (its cookie); without one it answers success (the goal is reached).
/// - Effects: the pending sign-in deleted; the pending cookie cleared.
/// - Errors: `Unavailable`.
#[server(prefix = "/api", endpoint = "auth/second-step/cancel")]
pub async fn cancel_second_step() -> Result<(), AppError> {
    use crate::server::{clear_pending_cookie, fail, pending_cookie, services};
    if let Some(pending) = pending_cookie() {
        domain::auth::two_factor::cancel_second_step(&services()?, &pending).await.map_err(fail)?;
    }
    clear_pending_cookie();
    Ok(())
}

/// Ends this session and clears its cookie.
///
/// - Auth: signed in (signed out already answers success: the goal is reached).
/// - Effects: the session is revoked (kept for the security history); a `signed_out` event.
/// - Errors: `Unavailable`.
#[server(prefix = "/api", endpoint = "auth/sign-out")]
pub async fn sign_out() -> Result<(), AppError> {
    use crate::server::{auth_for_setup, clear_session_cookie, client, fail, services};
    if let Ok(session) = auth_for_setup() {
        domain::auth::sessions::sign_out(&services()?, &session, &client()).await.map_err(fail)?;
    }
    clear_session_cookie();
    leptos_axum::redirect("/sign-in?signed_out=1");
    Ok(())
}

/// Starts a passkey sign-in (no email needed): the options for `navigator.credentials.get`, as
/// JSON. `autofill` asks for conditional mediation (passkeys offered in the email field's
/// autofill). Sets the ceremony cookie: only this browser can finish it, within 5 minutes.
///
/// - Auth: anonymous.
/// - Effects: the ceremony cookie, replacing this browser's earlier one; it carries the whole
///   ceremony, signed by the server: nothing is stored.
/// - Errors: `RateLimited` (429), `Unavailable`.
/// - Rate limit: per client network, shared with `passkey/finish` and looser than the password
///   endpoints (`[limits] passkey_*`; the sign-in page begins one on every load for autofill).
#[server(prefix = "/api", endpoint = "auth/passkey/begin")]
pub async fn begin_passkey_sign_in(#[server(default)] autofill: bool) -> Result<String, AppError> {
    use crate::server::{fail, services, set_passkey_cookie};
    let (options, token) = domain::auth::passkeys::begin_sign_in(&services()?, autofill).map_err(fail)?;
    set_passkey_cookie(&token);
    Ok(options.to_string())
}

/// Finishes a passkey sign-in with the browser's answer (`PublicKeyCredential` as JSON) and
/// answers where to go next (`return_to`, site paths only). The passkey verified the person, so
/// there is no second step, also on accounts with an authenticator app.
///
/// - Auth: the ceremony cookie set by `begin_passkey_sign_in`.
/// - Effects: a session (recording the passkey), the passkey's last use, a `signed_in` event; the
///   ceremony is used up (a replay fails; an answer that fails verification leaves it as it was);
///   sets the session and device cookies.
/// - Errors: `Invalid { field: "passkey" }` (expired or used ceremony, unknown passkey, failed
///   verification, wrong origin), `RateLimited` (429), `Unavailable`.
/// - Rate limit: per client network, shared with `passkey/begin` (`[limits] passkey_*`).
#[server(prefix = "/api", endpoint = "auth/passkey/finish")]
pub async fn finish_passkey_sign_in(credential: String, #[server(default)] return_to: Option<String>) -> Result<String, AppError> {
    use crate::server::{clear_passkey_cookie, client, fail, passkey_cookie, reject, services, set_signed_in_cookies};
    let token = passkey_cookie().ok_or_else(|| {
        reject(AppError::Invalid { field: "passkey".into(), message: "The passkey request expired or was already used. Try again.".into() })
    })?;
    let result = domain::auth::passkeys::finish_sign_in(&services()?, &token, &credential, &client()).await;
    clear_passkey_cookie();
    let signed_in = result.map_err(fail)?;
    set_signed_in_cookies(&signed_in).await;
    Ok(crate::nav::safe_return_to(return_to.as_deref()))
}

/// The providers this server offers for "Continue with …" (and whether a local development
/// provider stands in for them).
///
/// - Auth: anonymous.
/// - Effects: none.
/// - Errors: none beyond the transport's.
#[server(prefix = "/api", endpoint = "auth/providers", input = leptos::server_fn::codec::GetUrl)]
pub async fn list_providers() -> Result<Vec<crate::model::ProviderOption>, AppError> {
    let svc = crate::server::services()?;
    Ok(crate::model::ProviderOption::list(&svc.providers.enabled()))
}

/// Begins "Continue with Google / GitHub": answers the provider's authorization URL, where the
/// browser goes next. The provider sends it back to `/auth/<provider>/callback`, which signs in
/// (or signs up: a new account when the identity is linked to none and no account uses its email),
/// then goes on to `return_to` (a path on this site, else Security & Access) as the other ways of
/// signing in do. `from_sign_up`: pressed on the sign-up page, where the person goes back to if
/// the flow ends badly (cancelled, refused, expired…), with its sentence; else the sign-in page.
///
/// - Auth: anonymous.
/// - Effects: a provider flow (state, PKCE verifier, nonce, `return_to` checked with
///   `nav::safe_return_to`, whether it began on the sign-up page; single use, 10 minutes) bound to this browser by the flow cookie (set
///   here; kept if the browser has one).
/// - Errors: `Invalid { field: "provider" }` (not offered here, provider unreachable, already
///   signed in), `RateLimited` (429), `Unavailable`.
/// - Rate limit: per client network, shared with passkey sign-in (`[limits] passkey_*`).
#[server(prefix = "/api", endpoint = "auth/provider/start")]
pub async fn start_provider_sign_in(
    provider: crate::model::ProviderKind,
    #[server(default)] return_to: Option<String>,
    #[server(default)] from_sign_up: bool,
) -> Result<String, AppError> {
    use crate::server::{auth_for_setup, fail_for, flow_cookie, reject, services, set_flow_cookie};
    // signed in already: this would start a second session beside the first (the pages send
    // signed-in people on; connecting is Security & Access's Connect)
    if auth_for_setup().is_ok() {
        return Err(reject(AppError::Invalid { field: "provider".into(), message: "You're already signed in.".into() }));
    }
    let svc = services()?;
    let return_to = return_to.map(|r| crate::nav::safe_return_to(Some(&r)));
    let started = domain::auth::connected_accounts::begin_sign_in(&svc, provider.into(), return_to.as_deref(), from_sign_up, flow_cookie().as_ref())
        .await
        .map_err(fail_for(provider))?;
    set_flow_cookie(&started.cookie);
    Ok(started.url)
}
