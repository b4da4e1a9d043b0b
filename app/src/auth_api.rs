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
    Ok(crate::server::auth().ok().map(|s| SessionStatus {
        email: s.email,
        display_name: s.display_name,
        plan: s.plan.to_string(),
    }))
}

/// Creates a password account and signs it in, then redirects to `return_to` (site paths only).
///
/// - Auth: anonymous.
/// - Effects: a user, a session and an `account_created` event; sets the session cookie.
/// - Errors: `Invalid` (email, display name), `PasswordRejected`, `EmailTaken`, `Unavailable`.
/// - Rate limit: password hashing is bounded by the hasher's concurrency limit.
#[server(prefix = "/api", endpoint = "auth/sign-up")]
pub async fn sign_up(
    email: String,
    password: String,
    #[server(default)] display_name: String,
    #[server(default)] return_to: Option<String>,
) -> Result<(), AppError> {
    use crate::server::{client, fail, services, set_session_cookie};
    let svc = services()?;
    let name = Some(display_name.as_str());
    let (_, token) = domain::auth::accounts::sign_up(&svc, &email, name, &domain::secret::Password::new(password), &client())
        .await
        .map_err(fail)?;
    set_session_cookie(&token);
    leptos_axum::redirect(&crate::nav::safe_return_to(return_to.as_deref()));
    Ok(())
}

/// Signs in with email and password, then redirects to `return_to` (site paths only). A new
/// session token every time (no fixation).
///
/// - Auth: anonymous.
/// - Effects: a session and a `signed_in` event; sets the session cookie.
/// - Errors: `InvalidCredentials` for an unknown email and for a wrong password alike (same status,
///   same body, same hashing work), `Unavailable`.
/// - Rate limit: password hashing is bounded by the hasher's concurrency limit.
#[server(prefix = "/api", endpoint = "auth/sign-in")]
pub async fn sign_in(email: String, password: String, #[server(default)] return_to: Option<String>) -> Result<(), AppError> {
    use crate::server::{client, fail, services, set_session_cookie};
    let svc = services()?;
    let token = domain::auth::accounts::sign_in(&svc, &email, &domain::secret::Password::new(password), &client())
        .await
        .map_err(fail)?;
    set_session_cookie(&token);
    leptos_axum::redirect(&crate::nav::safe_return_to(return_to.as_deref()));
    Ok(())
}

/// Ends this session and clears its cookie.
///
/// - Auth: signed in (signed out already answers success: the goal is reached).
/// - Effects: the session is revoked (kept for the security history); a `signed_out` event.
/// - Errors: `Unavailable`.
#[server(prefix = "/api", endpoint = "auth/sign-out")]
pub async fn sign_out() -> Result<(), AppError> {
    use crate::server::{auth, clear_session_cookie, fail, services};
    if let Ok(session) = auth() {
        domain::auth::sessions::sign_out(&services()?, &session).await.map_err(fail)?;
    }
    clear_session_cookie();
    leptos_axum::redirect("/sign-in?signed_out=1");
    Ok(())
}
