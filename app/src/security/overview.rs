//! The page's one read: everything the sections show, as view types.
use leptos::prelude::*;

use crate::error::AppError;
use crate::model::SecurityOverview;

/// Everything the page shows, for the signed-in account.
///
/// - Auth: signed in.
/// - Effects: none.
/// - Errors: `NotSignedIn`, `Unavailable`.
#[server(prefix = "/api", endpoint = "security/overview")]
pub async fn get_security_overview() -> Result<SecurityOverview, AppError> {
    use crate::model::{
        session_lifetime, ConnectedAccountsView, SignInPromptView, PasskeysView, PasswordView, SessionView, TwoFactorView, VerificationView, Viewer,
    };
    use crate::server::{auth_for_setup, fail, geo, reject, services};
    let session = auth_for_setup().map_err(reject)?;
    let svc = services()?;
    // (everything from the request's context is read before the first await: after one, under
    // load, the context was sometimes gone — the geo-IP database with it, and the sessions listed
    // without their places)
    let geo = geo();
    let domain::auth::overview::Overview { password, sessions, two_factor, passkeys, connections, prompt, activity } =
        domain::auth::overview::load(&svc, &session).await.map_err(fail)?;
    let now = svc.clock.now();
    let required = session.plan == domain::plan::Plan::Enterprise;
    Ok(SecurityOverview {
        viewer: Viewer { email: session.email.clone(), display_name: session.display_name.clone() },
        password: PasswordView::new(&password, now),
        two_factor: TwoFactorView::new(&two_factor, required, session.signed_in_with_passkey(), now),
        passkeys: PasskeysView::new(&passkeys, now),
        connected_accounts: ConnectedAccountsView::new(&connections, now),
        verification: VerificationView {
            seconds_left: domain::auth::recent::verified_until(&svc, &session)
                .map(|until| (until - now).whole_seconds().max(0) as u64)
                .unwrap_or(0),
            has_password: password.has_password,
            has_passkey: !passkeys.passkeys.is_empty(),
            providers: connections.connected.iter().filter(|c| svc.providers.is_enabled(c.provider)).map(|c| c.provider.into()).collect(),
            window_minutes: svc.sessions.reverify_window().whole_minutes().max(0) as u64,
        },
        sessions: sessions.into_iter().map(|s| SessionView::new(s, now, geo.as_deref())).collect(),
        session_lifetime: session_lifetime(session.plan, svc.sessions.lifetimes(session.plan)),
        prompt: prompt.map(|p| SignInPromptView::new(p, now)),
        activity: crate::model::ActivityPageView::new(activity, now),
    })
}
