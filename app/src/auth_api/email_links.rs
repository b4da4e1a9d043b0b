//! What goes by emailed link: signing up (the address, then the link that finishes it, with a
//! password or a passkey), "Forgot password?" and its reset link, and "This wasn't me".
use leptos::prelude::*;

use crate::error::AppError;

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

/// What a sign-up link's page shows: the address it confirms, and the account this browser is
/// signed in to, if any (finishing signs that one out here, so the page says so first). Changes
/// nothing (mail scanners open links).
///
/// - Auth: anonymous (the token is the proof); reads this browser's session, if it has one.
/// - Effects: none.
/// - Errors: `LinkUnusable` (400 not valid, 410 expired or used; used, to a browser with a
///   session, `UsedSignedIn`), `Unavailable`.
#[server(prefix = "/api", endpoint = "auth/sign-up/link", input = leptos::server_fn::codec::GetUrl)]
pub async fn sign_up_link(token: String) -> Result<crate::model::SignUpLinkView, AppError> {
    use crate::server::services;
    let svc = services()?;
    let here = here();
    let used = used_here(here.is_some());
    let link = domain::auth::email_links::sign_up_link(&svc, &domain::secret::LinkToken::from_cookie(token)).await.map_err(&used)?;
    let signed_in_as = signed_in_elsewhere(here, &link.email);
    Ok(crate::model::SignUpLinkView { email: link.email, display_name: link.display_name, signed_in_as })
}

/// `fail`, but a sign-up or reset link already used, in a browser with a session (Back after finishing,
/// the tab another one finished in, or any account's), is `UsedSignedIn`: its page's way on is
/// Security & Access, not Sign in or Start again, which would only send that browser there.
/// `signed_in` is read when the server function begins, before its first await (`here`).
#[cfg(feature = "ssr")]
fn used_here(signed_in: bool) -> impl Fn(domain::DomainError) -> AppError {
    move |e| match crate::server::fail(e) {
        AppError::LinkUnusable(crate::error::LinkIssue::Used) if signed_in => AppError::LinkUnusable(crate::error::LinkIssue::UsedSignedIn),
        other => other,
    }
}

/// This browser's session, read before the server function's first await. After one, a page's
/// request context is not reliably its own under load: a link's page rendered for a browser signed
/// in to nothing once said "You're signed in" (a `make test` run at 96cfa5b), so it may as well have
/// named another request's account. (`get_security_overview` reads its context first for the same
/// reason.)
#[cfg(feature = "ssr")]
fn here() -> Option<domain::request::AuthSession> {
    crate::server::auth_for_setup().ok()
}

/// The address of the account this browser is signed in to (`here`), unless it is `email`'s: a
/// link's page that signs it out says so before its button.
#[cfg(feature = "ssr")]
fn signed_in_elsewhere(here: Option<domain::request::AuthSession>, email: &str) -> Option<String> {
    here.filter(|session| !session.email.eq_ignore_ascii_case(email)).map(|session| session.email)
}

/// Finishes a sign-up with a password: uses the link (once), creates the account with its address
/// confirmed (named `display_name` as the page shows it, empty for none; without it, the name typed
/// when the link was asked for), signs this browser in and redirects to Security & Access.
///
/// - Auth: anonymous (the token is the proof); reads this browser's session for `UsedSignedIn`.
/// - Effects: a user, a session and an `account_created` event; the link is used; sets the
///   session and device cookies.
/// - Errors: `LinkUnusable` (`UsedSignedIn` as `sign_up_link`), `Invalid` (display name), `PasswordRejected`, `EmailTaken` (the
///   address got an account another way meanwhile), `RateLimited` (429), `Busy` (503), `Unavailable`.
/// - Rate limit: per client network (`[limits] password_*`); hashing bounded by `[argon2]`.
#[server(prefix = "/api", endpoint = "auth/sign-up/finish")]
pub async fn finish_sign_up(token: String, password: String, #[server(default)] display_name: Option<String>) -> Result<(), AppError> {
    use crate::server::{client, services, set_signed_in_cookies};
    let svc = services()?;
    let used = used_here(here().is_some());
    if let Some(name) = display_name {
        domain::auth::email_links::choose_sign_up_name(&svc, &domain::secret::LinkToken::from_cookie(token.clone()), &name).await.map_err(&used)?;
    }
    let (_, signed_in) = domain::auth::email_links::finish_sign_up_with_password(
        &svc,
        &domain::secret::LinkToken::from_cookie(token),
        &domain::secret::Password::new(password),
        &client(),
    )
    .await
    .map_err(&used)?;
    set_signed_in_cookies(&signed_in).await;
    leptos_axum::redirect(crate::nav::HOME);
    Ok(())
}

/// Starts finishing a sign-up with a passkey: the options for `navigator.credentials.create`,
/// for the account named `display_name` as the page shows it (see `finish_sign_up`).
///
/// - Auth: anonymous (the token is the proof); reads this browser's session for `UsedSignedIn`.
/// - Effects: the name the account will have; a registration ceremony for the link (5 minutes;
///   beginning again replaces it).
/// - Errors: `LinkUnusable` (`UsedSignedIn` as `sign_up_link`), `Invalid` (display name), `RateLimited` (429), `Unavailable`.
/// - Rate limit: per client network (`[limits] password_*`).
#[server(prefix = "/api", endpoint = "auth/sign-up/passkey/begin")]
pub async fn begin_sign_up_passkey(token: String, #[server(default)] display_name: Option<String>) -> Result<String, AppError> {
    use crate::server::services;
    let svc = services()?;
    let used = used_here(here().is_some());
    if let Some(name) = display_name {
        domain::auth::email_links::choose_sign_up_name(&svc, &domain::secret::LinkToken::from_cookie(token.clone()), &name).await.map_err(&used)?;
    }
    let options = domain::auth::email_links::begin_sign_up_passkey(&svc, &domain::secret::LinkToken::from_cookie(token)).await.map_err(&used)?;
    Ok(options.to_string())
}

/// Finishes a sign-up with the browser's new passkey (`PublicKeyCredential.toJSON()`): uses the
/// link, creates the account (no password) with the passkey, signs this browser in and answers
/// where to go (Security & Access).
///
/// - Auth: anonymous (the token is the proof); reads this browser's session for `UsedSignedIn`.
/// - Effects: a user, a passkey, a session, `account_created` and `passkey_added` events; the link
///   is used; sets the session and device cookies.
/// - Errors: `LinkUnusable` (`UsedSignedIn` as `sign_up_link`), `Invalid` (the passkey answer, an expired ceremony), `EmailTaken`,
///   `RateLimited` (429), `Unavailable`.
/// - Rate limit: per client network (`[limits] password_*`).
#[server(prefix = "/api", endpoint = "auth/sign-up/passkey/finish")]
pub async fn finish_sign_up_passkey(token: String, credential: String) -> Result<String, AppError> {
    use crate::server::{client, services, set_signed_in_cookies};
    let svc = services()?;
    let used = used_here(here().is_some());
    let (_, signed_in) =
        domain::auth::email_links::finish_sign_up_with_passkey(&svc, &domain::secret::LinkToken::from_cookie(token), &credential, &client())
            .await
            .map_err(&used)?;
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

/// What a reset link's page shows, and the other account this browser is signed in to, if any
/// (saving signs that one out here, so the page says so first). Changes nothing.
///
/// - Auth: anonymous (the token is the proof); reads this browser's session, if it has one.
/// - Effects: none.
/// - Errors: `LinkUnusable` (400 not valid; 410 expired, used, or the password changed since;
///   used, to a browser with a session, `UsedSignedIn`), `Unavailable`.
#[server(prefix = "/api", endpoint = "auth/reset-password/link", input = leptos::server_fn::codec::GetUrl)]
pub async fn reset_link(token: String) -> Result<crate::model::ResetLinkView, AppError> {
    use crate::server::services;
    let svc = services()?;
    let here = here();
    let used = used_here(here.is_some());
    let link = domain::auth::email_links::reset_link(&svc, &domain::secret::LinkToken::from_cookie(token)).await.map_err(&used)?;
    let signed_in_as = signed_in_elsewhere(here, &link.email);
    Ok(crate::model::ResetLinkView {
        email: link.email,
        sets_password: link.sets_password,
        has_second_factor: link.has_second_factor,
        has_password: link.has_password,
        signed_in_as,
        display_name: link.display_name,
    })
}

/// What a "This wasn't me" link's page shows: the sign-in it is about. Changes nothing.
///
/// - Auth: anonymous (the token is the proof); reads this browser's session, if it has one.
/// - Effects: none.
/// - Errors: `LinkUnusable` (400 not valid; 410 expired or used), `Unavailable`.
#[server(prefix = "/api", endpoint = "auth/not-me/link", input = leptos::server_fn::codec::GetUrl)]
pub async fn not_me_link(token: String) -> Result<crate::model::NotMeView, AppError> {
    use crate::server::{fail, services};
    let svc = services()?;
    let here = here();
    let link = domain::auth::alerts::not_me_link(&svc, &domain::secret::LinkToken::from_cookie(token)).await.map_err(fail)?;
    // (another account this browser is signed in to: the page says the link is not about it)
    let signed_in_as = here.filter(|s| s.user_id != link.user_id).map(|s| s.email);
    Ok(crate::model::NotMeView { signed_in_as, ..crate::model::NotMeView::new(link) })
}

/// "This wasn't me": ends the sign-in's session (and every session that signed in since, or since
/// an earlier unanswered alert's sign-in) at once, removes the passkeys, connected accounts and
/// authenticator app those sessions added, turns the password off (whoever signed in may know
/// it) and emails a link to choose a new one (whatever the hourly limit on reset links: the
/// earlier ones may be dead, and turning the password off ends them too). Answers the address the
/// link went to, what was removed and whether a password was turned off. Signs nobody in;
/// changes no email.
///
/// - Auth: anonymous (the token is the proof: single use, 72 hours); reads this browser's session,
///   if it has one (it stays as it is).
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
    let here = here();
    let done = domain::auth::alerts::report_not_me(&svc, &domain::secret::LinkToken::from_cookie(token), &client()).await.map_err(fail)?;
    let taken_back = crate::model::taken_back_words(&done.taken_back);
    let ways_in = crate::model::taken_back_words(&done.ways_in);
    // (another account this browser is signed in to, which the report left as it was)
    let signed_in_as = signed_in_elsewhere(here, &done.email);
    Ok(crate::model::NotMeDoneView { email: done.email, minutes: done.minutes, taken_back, ways_in, password_turned_off: done.password_turned_off, signed_in_as })
}

/// "It was me", on a "This wasn't me" link's page: the sign-in is answered as the Security &
/// Access page's "Yes, it was me" answers it. The link still reports it later.
///
/// - Auth: anonymous (the token is the proof).
/// - Effects: the alert answered (the page's prompt goes; a later report of another sign-in no
///   longer ends this one's session); a `sign_in_confirmed` event. Again: nothing more.
/// - Errors: `LinkUnusable` (used by a report, expired, not valid), `RateLimited` (429),
///   `Unavailable`.
/// - Rate limit: per client network (`[limits] password_*`).
#[server(prefix = "/api", endpoint = "auth/not-me/confirm")]
pub async fn confirm_not_me_link(token: String) -> Result<(), AppError> {
    use crate::server::{client, fail, services};
    let svc = services()?;
    domain::auth::alerts::confirm_from_link(&svc, &domain::secret::LinkToken::from_cookie(token), &client()).await.map_err(fail)
}

/// Chooses a new password through a reset link, then redirects to the sign-in page (signed in
/// nowhere: the next sign-in asks for the second step too, if the account has one).
///
/// - Auth: anonymous (the token is the proof).
/// - Effects: the password replaced; every session ended and every pending sign-in dropped; the
///   link used; a `password_reset` event; a "Your password was reset" email queued; this browser's
///   session of another account, if it had one, signed out (`sessions::end_replaced`); this
///   browser's device cookie given the account's entry for its throttle (it proved the mailbox: its
///   next sign-in is not counted on the path strangers' guesses fill; still alerted as a new
///   browser's): a path of its own without an authenticator app, the account's shared proven path
///   with one.
/// - Errors: `LinkUnusable` (`UsedSignedIn` as `reset_link`), `PasswordRejected`, `RateLimited` (429), `Busy` (503), `Unavailable`.
/// - Rate limit: per client network (`[limits] password_*`); hashing bounded by `[argon2]`.
#[server(prefix = "/api", endpoint = "auth/reset-password")]
pub async fn reset_password(token: String, password: String) -> Result<(), AppError> {
    use crate::server::{client, services, set_device_cookie};
    let svc = services()?;
    let used = used_here(here().is_some());
    let device = domain::auth::email_links::reset_password(
        &svc,
        &domain::secret::LinkToken::from_cookie(token),
        &domain::secret::Password::new(password),
        &client(),
    )
    .await
    .map_err(&used)?;
    set_device_cookie(&device);
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
