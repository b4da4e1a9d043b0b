//! Sign up, sign in and sign out.
use leptos::prelude::*;

use crate::error::AppError;
use crate::model::SessionStatus;

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

/// Starts a sign-up: sends the address a link that finishes it (or, when the address already has
/// an account, an email saying someone tried, with links to sign in and to reset the password).
/// Answers the same either way, so nobody learns which addresses have accounts.
///
/// - Auth: anonymous.
/// - Effects: a sign-up request (its link's token hashed) and one queued email. No account yet.
/// - Errors: `Invalid` (email, display name), `RateLimited` (429), `Unavailable`.
/// - Rate limit: per client network, shared with sign-in and the second step
///   (`[limits] password_*`); at most 3 emails per address per hour (more answer the same and
///   send nothing).
#[server(prefix = "/api", endpoint = "auth/sign-up")]
pub async fn sign_up(email: String, #[server(default)] display_name: String) -> Result<(), AppError> {
    use crate::server::{fail, services};
    let svc = services()?;
    domain::auth::email_links::request_sign_up(&svc, &email, Some(display_name.as_str())).await.map_err(fail)
}

/// What a sign-up link's page shows: the address it confirms. Changes nothing (mail scanners
/// open links).
///
/// - Auth: anonymous (the token is the proof).
/// - Effects: none.
/// - Errors: `LinkUnusable` (400 not valid, 410 expired or used), `Unavailable`.
#[server(prefix = "/api", endpoint = "auth/sign-up/link", input = leptos::server_fn::codec::GetUrl)]
pub async fn sign_up_link(token: String) -> Result<crate::model::SignUpLinkView, AppError> {
    use crate::server::{fail, services};
    let svc = services()?;
    let link = domain::auth::email_links::sign_up_link(&svc, &domain::secret::LinkToken::from_cookie(token)).await.map_err(fail)?;
    Ok(crate::model::SignUpLinkView { email: link.email, display_name: link.display_name })
}

/// Finishes a sign-up with a password: uses the link (once), creates the account with its address
/// confirmed (named `display_name` as the page shows it, empty for none; without it, the name typed
/// when the link was asked for), signs this browser in and redirects to Security & Access.
///
/// - Auth: anonymous (the token is the proof).
/// - Effects: a user, a session and an `account_created` event; the link is used; sets the
///   session and device cookies.
/// - Errors: `LinkUnusable`, `Invalid` (display name), `PasswordRejected`, `EmailTaken` (the
///   address got an account another way meanwhile), `RateLimited` (429), `Busy` (503), `Unavailable`.
/// - Rate limit: per client network (`[limits] password_*`); hashing bounded by `[argon2]`.
#[server(prefix = "/api", endpoint = "auth/sign-up/finish")]
pub async fn finish_sign_up(token: String, password: String, #[server(default)] display_name: Option<String>) -> Result<(), AppError> {
    use crate::server::{client, fail, services, set_signed_in_cookies};
    let svc = services()?;
    if let Some(name) = display_name {
        domain::auth::email_links::choose_sign_up_name(&svc, &domain::secret::LinkToken::from_cookie(token.clone()), &name).await.map_err(fail)?;
    }
    let (_, signed_in) = domain::auth::email_links::finish_sign_up_with_password(
        &svc,
        &domain::secret::LinkToken::from_cookie(token),
        &domain::secret::Password::new(password),
        &client(),
    )
    .await
    .map_err(fail)?;
    set_signed_in_cookies(&signed_in).await;
    leptos_axum::redirect(crate::nav::HOME);
    Ok(())
}

/// Starts finishing a sign-up with a passkey: the options for `navigator.credentials.create`,
/// for the account named `display_name` as the page shows it (see `finish_sign_up`).
///
/// - Auth: anonymous (the token is the proof).
/// - Effects: the name the account will have; a registration ceremony for the link (5 minutes;
///   beginning again replaces it).
/// - Errors: `LinkUnusable`, `Invalid` (display name), `RateLimited` (429), `Unavailable`.
/// - Rate limit: per client network (`[limits] password_*`).
#[server(prefix = "/api", endpoint = "auth/sign-up/passkey/begin")]
pub async fn begin_sign_up_passkey(token: String, #[server(default)] display_name: Option<String>) -> Result<String, AppError> {
    use crate::server::{fail, services};
    let svc = services()?;
    if let Some(name) = display_name {
        domain::auth::email_links::choose_sign_up_name(&svc, &domain::secret::LinkToken::from_cookie(token.clone()), &name).await.map_err(fail)?;
    }
    let options = domain::auth::email_links::begin_sign_up_passkey(&svc, &domain::secret::LinkToken::from_cookie(token)).await.map_err(fail)?;
    Ok(options.to_string())
}

/// Finishes a sign-up with the browser's new passkey (`PublicKeyCredential.toJSON()`): uses the
/// link, creates the account (no password) with the passkey, signs this browser in and answers
/// where to go (Security & Access).
///
/// - Auth: anonymous (the token is the proof).
/// - Effects: a user, a passkey, a session, `account_created` and `passkey_added` events; the link
///   is used; sets the session and device cookies.
/// - Errors: `LinkUnusable`, `Invalid` (the passkey answer, an expired ceremony), `EmailTaken`,
///   `RateLimited` (429), `Unavailable`.
/// - Rate limit: per client network (`[limits] password_*`).
#[server(prefix = "/api", endpoint = "auth/sign-up/passkey/finish")]
pub async fn finish_sign_up_passkey(token: String, credential: String) -> Result<String, AppError> {
    use crate::server::{client, fail, services, set_signed_in_cookies};
    let svc = services()?;
    let (_, signed_in) =
        domain::auth::email_links::finish_sign_up_with_passkey(&svc, &domain::secret::LinkToken::from_cookie(token), &credential, &client())
            .await
            .map_err(fail)?;
    set_signed_in_cookies(&signed_in).await;
    Ok(crate::nav::HOME.to_string())
}

/// "Forgot password?": emails a reset link if an account with a confirmed address uses `email`.
/// Answers the same, in the same time, whether or not one does: the look-up and the email happen
/// after the answer.
///
/// - Auth: anonymous.
/// - Effects: for such an account, a reset link (token hashed, an hour), a queued email and a
///   `password_reset_requested` event.
/// - Errors: `Invalid` (email), `RateLimited` (429), `Unavailable`.
/// - Rate limit: per client network (`[limits] password_*`); at most 3 links per account per hour
///   (more answer the same and send nothing).
#[server(prefix = "/api", endpoint = "auth/forgot-password")]
pub async fn forgot_password(email: String) -> Result<(), AppError> {
    use crate::server::{client, fail, services};
    let svc = services()?;
    domain::auth::email_links::request_password_reset_in_background(&svc, &email, &client()).map_err(fail)
}

/// What a reset link's page shows. Changes nothing.
///
/// - Auth: anonymous (the token is the proof).
/// - Effects: none.
/// - Errors: `LinkUnusable` (400 not valid; 410 expired, used, or the password changed since),
///   `Unavailable`.
#[server(prefix = "/api", endpoint = "auth/reset-password/link", input = leptos::server_fn::codec::GetUrl)]
pub async fn reset_link(token: String) -> Result<crate::model::ResetLinkView, AppError> {
    use crate::server::{fail, services};
    let svc = services()?;
    let link = domain::auth::email_links::reset_link(&svc, &domain::secret::LinkToken::from_cookie(token)).await.map_err(fail)?;
    Ok(crate::model::ResetLinkView { email: link.email, sets_password: link.sets_password, has_second_factor: link.has_second_factor })
}

/// What a "This wasn't me" link's page shows: the sign-in it is about. Changes nothing.
///
/// - Auth: anonymous (the token is the proof).
/// - Effects: none.
/// - Errors: `LinkUnusable` (400 not valid; 410 expired or used), `Unavailable`.
#[server(prefix = "/api", endpoint = "auth/not-me/link", input = leptos::server_fn::codec::GetUrl)]
pub async fn not_me_link(token: String) -> Result<crate::model::NotMeView, AppError> {
    use crate::server::{fail, services};
    let svc = services()?;
    let link = domain::auth::alerts::not_me_link(&svc, &domain::secret::LinkToken::from_cookie(token)).await.map_err(fail)?;
    Ok(crate::model::NotMeView::new(link))
}

/// "This wasn't me": ends the sign-in's session (and every session that signed in since, or since
/// an earlier unanswered alert's sign-in) at once, removes the passkeys, connected accounts and
/// authenticator app those sessions added, turns the password off (whoever signed in may know
/// it) and emails a link to choose a new one (whatever the hourly limit on reset links: the
/// earlier ones may be dead, and turning the password off ends them too). Answers the address the
/// link went to, what was removed and whether a password was turned off. Signs nobody in;
/// changes no email.
///
/// - Auth: anonymous (the token is the proof: single use, 72 hours).
/// - Effects: the link used, and the account's other unanswered alerts answered; those sessions
///   and every later one revoked; what they added deleted, each with its `passkey_removed`,
///   `provider_disconnected` or `totp_disabled` event and notice email; pending second steps
///   dropped; a `sign_in_reported` event; the password turned off (`password_turned_off` event:
///   it no longer signs in, earlier reset links no longer work); a reset link queued.
/// - Errors: `LinkUnusable`, `RateLimited` (429), `Unavailable`.
/// - Rate limit: per client network (`[limits] password_*`).
#[server(prefix = "/api", endpoint = "auth/not-me")]
pub async fn report_not_me(token: String) -> Result<crate::model::NotMeDoneView, AppError> {
    use crate::server::{client, fail, services};
    let svc = services()?;
    let done = domain::auth::alerts::report_not_me(&svc, &domain::secret::LinkToken::from_cookie(token), &client()).await.map_err(fail)?;
    let taken_back = crate::model::taken_back_words(&done.taken_back);
    let ways_in = crate::model::taken_back_words(&done.ways_in);
    Ok(crate::model::NotMeDoneView { email: done.email, minutes: done.minutes, taken_back, ways_in, password_turned_off: done.password_turned_off })
}

/// Chooses a new password through a reset link, then redirects to the sign-in page (signed in
/// nowhere: the next sign-in asks for the second step too, if the account has one).
///
/// - Auth: anonymous (the token is the proof).
/// - Effects: the password replaced; every session ended and every pending sign-in dropped; the
///   link used; a `password_reset` event; a "Your password was reset" email queued; this browser's
///   session of another account, if it had one, signed out (`sessions::end_replaced`); for an account
///   without an authenticator app, this browser's device cookie trusted for the account's throttle
///   (it proved the mailbox: its next sign-in is counted on its own path, not the one strangers'
///   guesses fill; still alerted as a new browser's).
/// - Errors: `LinkUnusable`, `PasswordRejected`, `RateLimited` (429), `Busy` (503), `Unavailable`.
/// - Rate limit: per client network (`[limits] password_*`); hashing bounded by `[argon2]`.
#[server(prefix = "/api", endpoint = "auth/reset-password")]
pub async fn reset_password(token: String, password: String) -> Result<(), AppError> {
    use crate::server::{client, fail, services, set_device_cookie};
    let svc = services()?;
    let device = domain::auth::email_links::reset_password(
        &svc,
        &domain::secret::LinkToken::from_cookie(token),
        &domain::secret::Password::new(password),
        &client(),
    )
    .await
    .map_err(fail)?;
    if let Some(device) = device {
        set_device_cookie(&device);
    }
    // This browser goes on as the account whose password it just chose: a session it still had of
    // another account is signed out, as a sign-in here would do (it was sent on to that account's
    // page, past the sentence saying the reset worked). The account's own the reset ended.
    if let Ok(previous) = crate::server::auth_for_setup() {
        domain::auth::sessions::end_replaced(&svc, Some(&previous), &client()).await;
        crate::server::clear_session_cookie();
    }
    leptos_axum::redirect("/sign-in?reset=1");
    Ok(())
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
