//! The Security & Access page (/settings/security): the frame and its sections.
pub mod coming_soon;
pub mod password;
pub mod sessions;

use leptos::prelude::*;
use leptos_meta::Title;

use crate::auth_api::SignOut;
use crate::components::PageFrame;
use crate::error::AppError;
use crate::model::SecurityOverview;
use coming_soon::ComingSoonCard;
use password::{ChangePassword, PasswordCard, PasswordChange};
use sessions::{RevokeOtherSessions, RevokeSession, SessionsCard, SignOutEverywhere};

/// Everything the page shows, for the signed-in account.
///
/// - Auth: signed in.
/// - Effects: none.
/// - Errors: `NotSignedIn`, `Unavailable`.
#[server(prefix = "/api", endpoint = "security/overview")]
pub async fn get_security_overview() -> Result<SecurityOverview, AppError> {
    use crate::model::{DeviceKind, Moment, PasswordView, SessionView, Viewer};
    use crate::server::{auth, fail, geo, reject, services};
    use crate::time_fmt::{ago, exact, iso, span};
    let session = auth().map_err(reject)?;
    let svc = services()?;
    let password = domain::auth::accounts::password_status(&svc, &session).await.map_err(fail)?;
    let sessions = domain::auth::sessions::list(&svc, &session).await.map_err(fail)?;
    let now = svc.clock.now();
    let geo = geo();
    let locate = |ip: Option<&str>| match (ip, &geo) {
        (Some(ip), Some(g)) => g.locate(ip),
        (ip, _) => domain::geo::GeoIp::none().locate(ip.unwrap_or("")),
    };
    let lifetimes = svc.sessions.lifetimes(session.plan);
    let moment = |t| Moment { relative: ago(now, t), exact: exact(t), iso: iso(t) };
    Ok(SecurityOverview {
        viewer: Viewer { email: session.email.clone(), display_name: session.display_name.clone() },
        password: PasswordView { has_password: password.has_password, changed: password.changed_at.map(moment) },
        sessions: sessions
            .into_iter()
            .map(|s| {
                let device = domain::auth::devices::describe(s.user_agent.as_deref());
                let location = locate(s.ip.as_deref());
                let label = format!("{} on {}", device.browser_name, device.os);
                SessionView {
                id: s.id.to_string(),
                label: match location.place {
                    Some(place) => format!("{label} in {place}"),
                    None => label,
                },
                browser: device.browser,
                os: device.os,
                kind: match device.kind {
                    domain::auth::devices::DeviceKind::Desktop => DeviceKind::Desktop,
                    domain::auth::devices::DeviceKind::Phone => DeviceKind::Phone,
                    domain::auth::devices::DeviceKind::Tablet => DeviceKind::Tablet,
                    domain::auth::devices::DeviceKind::Unknown => DeviceKind::Unknown,
                },
                user_agent: s.user_agent.unwrap_or_default(),
                location: location.text,
                ip: s.ip.unwrap_or_else(|| "Unknown".into()),
                method: match s.auth_method.as_str() {
                    "password" => "Password".into(),
                    other => other.to_string(),
                },
                signed_in: moment(s.created_at),
                last_active: moment(s.last_seen_at),
                current: s.current,
                new_device: s.new_device,
            }})
            .collect(),
        session_lifetime: {
            let rule =
                format!("signed out after {} without activity, and {} after signing in.", span(lifetimes.idle), span(lifetimes.absolute));
            match session.plan {
                domain::plan::Plan::Free => format!("Devices are {rule}"),
                plan => format!("On your organisation's {plan} plan, devices are {rule}"),
            }
        },
    })
}

/// /settings/security
#[component]
pub fn SecurityPage() -> impl IntoView {
    let change_password = ServerAction::<ChangePassword>::new();
    let sign_out = ServerAction::<SignOut>::new();
    let revoke = ServerAction::<RevokeSession>::new();
    let revoke_others = ServerAction::<RevokeOtherSessions>::new();
    let everywhere = ServerAction::<SignOutEverywhere>::new();
    let overview = Resource::new(
        move || (change_password.version().get(), revoke.version().get(), revoke_others.version().get()),
        |_| get_security_overview(),
    );
    let sessions_pending = Signal::derive(move || {
        sign_out.pending().get() || revoke.pending().get() || revoke_others.pending().get() || everywhere.pending().get()
    });
    let sessions_error = Signal::derive(move || {
        let err = |r: Option<Result<u64, AppError>>| r.and_then(|r| r.err());
        revoke
            .value()
            .get()
            .and_then(|r| r.err())
            .or_else(|| err(revoke_others.value().get()))
            .or_else(|| err(everywhere.value().get()))
            .map(|e| e.to_string())
    });
    let sessions_status = Signal::derive(move || {
        let ended = |n: u64| format!("Signed out of {n} other session{}.", if n == 1 { "" } else { "s" });
        match (revoke.value().get(), revoke_others.value().get()) {
            (_, Some(Ok(n))) => Some(ended(n)),
            (Some(Ok(())), _) => Some("Session revoked. That device is signed out.".to_string()),
            _ => None,
        }
    });
    let on_revoke = Callback::new(move |id: String| {
        revoke.dispatch(RevokeSession { session_id: id });
    });
    let on_revoke_others = Callback::new(move |_| {
        revoke_others.dispatch(RevokeOtherSessions {});
    });
    let on_everywhere = Callback::new(move |_| {
        everywhere.dispatch(SignOutEverywhere {});
    });

    // A session that ended elsewhere (signed out, password changed on another device) goes back to
    // sign-in on its next action.
    Effect::new(move |_| {
        if let Some(Err(AppError::NotSignedIn)) = overview.get() {
            let path = "/sign-in?return_to=%2Fsettings%2Fsecurity&ended=1";
            if let Some(w) = leptos::web_sys::window() {
                let _ = w.location().assign(path);
            }
        }
    });

    let password_error = Signal::derive(move || change_password.value().get().and_then(|r| r.err()).map(|e| e.to_string()));
    let password_success = Signal::derive(move || {
        change_password
            .value()
            .get()
            .and_then(|r| r.ok())
            .map(|_| "Password changed. Your other sessions were signed out.".to_string())
    });
    let on_change = Callback::new(move |c: PasswordChange| {
        change_password.dispatch(ChangePassword { current_password: c.current, new_password: c.new });
    });
    let on_sign_out = Callback::new(move |_| {
        sign_out.dispatch(SignOut {});
    });
    let signing_out = sign_out.pending();

    view! {
        <Title text="Security & Access · Gatehouse"/>
        <Transition fallback=|| view! { <PageFrame><p class="skeleton" aria-busy="true">"Loading your security settings…"</p></PageFrame> }>
            {move || Suspend::new(async move {
                match overview.await {
                    Ok(o) => view! {
                        <PageFrame viewer=o.viewer.clone() on_sign_out signing_out>
                            <nav class="breadcrumb" aria-label="Breadcrumb">
                                <ol>
                                    <li><a href="/settings/security">"Settings"</a></li>
                                    <li>"Account"</li>
                                    <li aria-current="page">"Security & Access"</li>
                                </ol>
                            </nav>
                            <div class="page-header">
                                <h1>"Security & Access"</h1>
                                <p class="lead">"Manage how you sign in and where you are signed in."</p>
                            </div>
                            <PasswordCard
                                status=o.password.clone()
                                pending=change_password.pending()
                                error=password_error
                                success=password_success
                                on_submit=on_change
                            />
                            <SessionsCard
                                sessions=o.sessions.clone()
                                lifetime=o.session_lifetime.clone()
                                pending=sessions_pending
                                error=sessions_error
                                status=sessions_status
                                on_log_out=on_sign_out
                                on_revoke
                                on_revoke_others
                                on_sign_out_everywhere=on_everywhere
                            />
                            <ComingSoonCard
                                id="api-keys"
                                title="Personal API keys"
                                description="Create keys for scripts and tools that act on your behalf, each with its own scope and expiry."
                            />
                            <ComingSoonCard
                                id="authorized-apps"
                                title="Authorized applications"
                                description="See and revoke the third-party applications you have allowed to access your account."
                            />
                        </PageFrame>
                    }.into_any(),
                    Err(e) => view! {
                        <PageFrame>
                            <div class="error-page">
                                <h1>"Security & Access"</h1>
                                <p role="alert">{e.to_string()}</p>
                                <p><a href="/settings/security">"Try again"</a></p>
                            </div>
                        </PageFrame>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}
