//! Sessions section: every signed-in device, the current one first with Sign out, Revoke for the
//! others, Revoke all others and Sign out everywhere, each confirmed in the page first.
use leptos::prelude::*;

use super::context::{shown_error, shown_error_or_gone, SecurityContext, Sensitive};
use crate::components::{Card, ConfirmPanel, ErrorMessage, StatusMessage, TimeAgo};
use crate::error::AppError;
use crate::model::{DeviceKind, SecurityOverview, SessionView};

/// Ends one of the account's other sessions. That device is signed out on its next request.
///
/// - Auth: signed in and recently verified (ASVS 5.0 7.5.2: ending sessions needs re-authentication);
///   also before an Enterprise member has set up the second factor their organisation requires:
///   ending sessions only takes access away, and a stranger's session must be endable at once.
/// - Effects: the session is revoked (kept for the security history); a `session_revoked` event.
/// - Errors: `ReverifyRequired` (the page asks, then retries); `NotFound` for an unknown id, an
///   ended session or another account's session alike; `Invalid` for this session (use Sign out);
///   `Unavailable`.
#[server(prefix = "/api", endpoint = "security/sessions/revoke")]
pub async fn revoke_session(session_id: String) -> Result<(), AppError> {
    use crate::server::{auth_for_setup, client, fail, reject, services};
    let session = auth_for_setup().map_err(reject)?;
    let id = uuid::Uuid::parse_str(&session_id).map_err(|_| reject(AppError::NotFound))?;
    domain::auth::sessions::revoke(&services()?, &session, domain::ids::SessionId(id), &client()).await.map_err(fail)
}

/// Ends every other session of the account and keeps this one. Answers how many ended.
///
/// - Auth: signed in and recently verified (sign-in or re-verification within the window); also
///   before an Enterprise member's second factor (as `revoke_session`).
/// - Effects: other sessions revoked; an `other_sessions_revoked` event.
/// - Errors: `ReverifyRequired` (the page asks, then retries), `Unavailable`.
#[server(prefix = "/api", endpoint = "security/sessions/revoke-others")]
pub async fn revoke_other_sessions() -> Result<u64, AppError> {
    use crate::server::{auth_for_setup, client, fail, reject, services};
    let session = auth_for_setup().map_err(reject)?;
    domain::auth::sessions::revoke_others(&services()?, &session, &client()).await.map_err(fail)
}

/// Ends every session of the account, this one too, and goes to the sign-in page.
///
/// - Auth: signed in and recently verified; also before an Enterprise member's second factor (as
///   `revoke_session`).
/// - Effects: all sessions revoked; a `signed_out_everywhere` event; the cookie is cleared.
/// - Errors: `ReverifyRequired` (the page asks, then retries), `Unavailable`.
#[server(prefix = "/api", endpoint = "security/sessions/sign-out-everywhere")]
pub async fn sign_out_everywhere() -> Result<u64, AppError> {
    use crate::server::{auth_for_setup, clear_session_cookie, client, fail, reject, services};
    let session = auth_for_setup().map_err(reject)?;
    let n = domain::auth::sessions::sign_out_everywhere(&services()?, &session, &client()).await.map_err(fail)?;
    clear_session_cookie();
    leptos_axum::redirect("/sign-in?signed_out=1");
    Ok(n)
}

/// The Sessions section on the page: its actions (each ending of sessions asks for
/// re-verification first when needed), made once per visit.
#[derive(Clone, Copy)]
pub struct SessionsSection {
    ctx: SecurityContext,
    revoke: Sensitive<RevokeSession>,
    revoke_others: Sensitive<RevokeOtherSessions>,
    everywhere: Sensitive<SignOutEverywhere>,
}

impl SessionsSection {
    pub fn new() -> Self {
        let ctx = expect_context::<SecurityContext>();
        let section = SessionsSection {
            ctx,
            revoke: Sensitive::of(ctx.reverify, ctx.change_or_gone()),
            revoke_others: Sensitive::of(ctx.reverify, ctx.change()),
            everywhere: Sensitive::new(ctx.reverify),
        };
        ctx.leave_when_signed_out(section.everywhere.action);
        section
    }

    pub fn view(self, o: &SecurityOverview) -> impl IntoView {
        let SessionsSection { ctx, revoke, revoke_others, everywhere } = self;
        let sign_out = ctx.sign_out;
        // (each `pending()` makes a memo: made once here, not on every read)
        let busy = [sign_out.pending(), revoke.action.pending(), revoke_others.action.pending(), everywhere.action.pending()];
        let pending = Signal::derive(move || busy.iter().any(|p| p.get()));
        let error = Signal::derive(move || {
            shown_error_or_gone(revoke.action.value().get(), "That session had already ended.")
                .or_else(|| shown_error(revoke_others.action.value().get()))
                .or_else(|| shown_error(everywhere.action.value().get()))
        });
        let status = Signal::derive(move || {
            let ended = |n: u64| format!("Signed out of {n} other session{}.", if n == 1 { "" } else { "s" });
            match (revoke.action.value().get(), revoke_others.action.value().get()) {
                (_, Some(Ok(n))) => Some(ended(n)),
                (Some(Ok(())), _) => Some("Session revoked. That device is signed out.".to_string()),
                _ => None,
            }
        });
        view! {
            <SessionsCard
                sessions=o.sessions.clone()
                lifetime=o.session_lifetime.clone()
                pending
                error
                status
                on_log_out=Callback::new(move |_| {
                    sign_out.dispatch(crate::auth_api::SignOut {});
                })
                on_revoke=Callback::new(move |id: String| revoke.dispatch(RevokeSession { session_id: id }))
                on_revoke_others=Callback::new(move |_| revoke_others.dispatch(RevokeOtherSessions {}))
                on_sign_out_everywhere=Callback::new(move |_| everywhere.dispatch(SignOutEverywhere {}))
            />
        }
    }
}

/// Which confirmation is open.
#[derive(Clone, Debug, PartialEq)]
pub enum Confirm {
    None,
    Revoke(String),
    Others,
    Everywhere,
}

#[component]
pub fn SessionsCard(
    sessions: Vec<SessionView>,
    #[prop(into)] pending: Signal<bool>,
    #[prop(optional, into)] error: Signal<Option<String>>,
    #[prop(optional, into)] status: Signal<Option<String>>,
    on_log_out: Callback<()>,
    #[prop(optional)] on_revoke: Option<Callback<String>>,
    #[prop(optional)] on_revoke_others: Option<Callback<()>>,
    #[prop(optional)] on_sign_out_everywhere: Option<Callback<()>>,
    /// How long sessions live on the account's plan, in a sentence.
    #[prop(optional, into)]
    lifetime: String,
    /// The confirmation open at first (previews).
    #[prop(optional)]
    confirming: Option<Confirm>,
) -> impl IntoView {
    let count = sessions.len();
    let others = sessions.iter().filter(|s| !s.current).count();
    let confirm = RwSignal::new(confirming.unwrap_or(Confirm::None));
    // A finished action closes its confirmation.
    Effect::new(move |was_pending: Option<bool>| {
        let now = pending.get();
        if was_pending == Some(true) && !now {
            confirm.set(Confirm::None);
        }
        now
    });
    let body = if sessions.is_empty() {
        view! { <p class="empty">"No active sessions."</p> }.into_any()
    } else {
        view! {
            <ul class="session-list">
                {sessions
                    .into_iter()
                    .map(|s| view! { <SessionRow session=s pending confirm on_log_out on_revoke/> })
                    .collect_view()}
            </ul>
        }
        .into_any()
    };
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    view! {
        <Card id="sessions" title="Sessions" header_extra=ViewFn::from(move || view! { <span class="muted">{format!("{count} active")}</span> })>
            <p class="muted">"Places where your account is signed in. If you don't recognise one, revoke it and change your password."</p>
            <StatusMessage message=status/>
            <ErrorMessage message=error/>
            {body}
            {(!lifetime.is_empty()).then(|| view! { <p class="muted session-lifetime">{lifetime}</p> })}
            <p class="muted attribution">"Locations are approximate. "<a href="https://db-ip.com/" rel="external">"IP Geolocation by DB-IP"</a></p>
            <div class="card-footer">
                {move || match confirm.get() {
                    Confirm::Others => view! {
                        <ConfirmPanel
                            id="confirm-revoke-others"
                            opener="revoke-others"
                            question=format!("Sign out of {others} other session{}?", plural(others))
                            detail="This device stays signed in."
                            confirm_label=format!("Revoke {others} session{}", plural(others))
                            pending
                            on_confirm=Callback::new(move |_| if let Some(cb) = on_revoke_others { cb.run(()) })
                            on_cancel=Callback::new(move |_| confirm.set(Confirm::None))/>
                    }.into_any(),
                    Confirm::Everywhere => view! {
                        <ConfirmPanel
                            id="confirm-sign-out-everywhere"
                            opener="sign-out-everywhere"
                            question=if count == 1 {
                                "Sign out of this session, your only one?".to_string()
                            } else {
                                format!("Sign out of all {count} sessions, including this one?")
                            }
                            confirm_label="Sign out everywhere"
                            pending
                            on_confirm=Callback::new(move |_| if let Some(cb) = on_sign_out_everywhere { cb.run(()) })
                            on_cancel=Callback::new(move |_| confirm.set(Confirm::None))/>
                    }.into_any(),
                    _ => {
                        // (why Revoke all others is off, on the page: a disabled button says nothing by itself)
                        let why_id = (others == 0).then(|| crate::components::scoped_id("revoke-others-why"));
                        view! {
                            {why_id.clone().map(|id| view! {
                                <p class="muted" id=id>{if count == 1 { "This is your only session: there are no others to revoke." } else { "There are no other sessions to revoke." }}</p>
                            })}
                            <div class="form-actions">
                                <button type="button" id=crate::components::scoped_id("revoke-others") class="btn btn-secondary"
                                    disabled=move || pending.get() || others == 0
                                    aria-describedby=why_id
                                    on:click=move |_| confirm.set(Confirm::Others)>
                                    "Revoke all others"
                                </button>
                                <button type="button" id=crate::components::scoped_id("sign-out-everywhere") class="btn btn-secondary"
                                    disabled=move || pending.get()
                                    on:click=move |_| confirm.set(Confirm::Everywhere)>
                                    "Sign out everywhere"
                                </button>
                            </div>
                        }.into_any()
                    }
                }}
            </div>
        </Card>
    }
}

#[component]
fn SessionRow(
    session: SessionView,
    pending: Signal<bool>,
    confirm: RwSignal<Confirm>,
    on_log_out: Callback<()>,
    on_revoke: Option<Callback<String>>,
) -> impl IntoView {
    let current = session.current;
    let id = session.id.clone();
    let confirming = {
        let id = id.clone();
        Memo::new(move |_| confirm.get() == Confirm::Revoke(id.clone()))
    };
    let question = format!("Revoke {}?", session.label);
    // each row's button names its session (a screen reader's list of buttons is not ten "Revoke"s),
    // as the row says it, with its address and when it signed in: two sessions of one browser in
    // one place would otherwise read the same in a list of the page's buttons
    let revoke_label = {
        let (browser, os, ip) = (session.browser.clone(), session.os.clone(), session.ip.clone());
        // (aging as the row's own time does)
        let signed_in = crate::components::aging(&session.signed_in);
        move || format!("Revoke {browser} on {os} ({ip}), signed in {}", signed_in())
    };
    // …and its line of facts describes it (when it signed in, when last active): two sessions of
    // one browser at one address still differ there
    let meta_id = crate::components::scoped_id(&format!("session-meta-{}", session.id));
    let described_by = meta_id.clone();
    view! {
        <li class="session-row">
            <div class="session-icon" aria-hidden="true">{icon(session.kind)}</div>
            <div class="session-main">
                <p class="session-device">
                    <span title=session.user_agent.clone()>{format!("{} on {}", session.browser, session.os)}</span>
                    {current.then(|| view! { " " <span class="badge badge-current">"This device"</span> })}
                    {session.new_device.then(|| view! { " " <span class="badge badge-warning" title="First sign-in from this device or country in the last 14 days">"New device"</span> })}
                </p>
                <p class="session-meta" id=meta_id>
                    {session.location.clone()} " · " {session.ip.clone()} " · " {session.method.clone()} " · signed in "
                    <TimeAgo moment=session.signed_in.clone()/> " · "
                    {if current {
                        view! { "active now" }.into_any()
                    } else {
                        view! { "last active " <TimeAgo moment=session.last_active.clone()/> }.into_any()
                    }}
                </p>
            </div>
            <div class="session-actions">
                {if current {
                    view! {
                        <button type="button" class="btn btn-secondary btn-sm" disabled=move || pending.get()
                            on:click=move |_| on_log_out.run(())>
                            "Sign out"
                        </button>
                    }.into_any()
                } else {
                    let id = session.id.clone();
                    view! {
                        <button type="button" class="btn btn-secondary btn-sm" aria-label=revoke_label.clone() aria-describedby=described_by.clone()
                            disabled=move || pending.get() || confirming.get()
                            on:click=move |_| confirm.set(Confirm::Revoke(id.clone()))>
                            "Revoke"
                        </button>
                    }.into_any()
                }}
            </div>
            // (after the row's buttons, as a passkey's and a connected account's confirmation are)
            {move || confirming.get().then(|| {
                let id = id.clone();
                view! {
                    <ConfirmPanel
                        id=format!("confirm-revoke-{id}")
                        question=question.clone()
                        detail="It will be signed out at once."
                        confirm_label="Revoke"
                        pending
                        small=true
                        on_confirm=Callback::new(move |_| if let Some(cb) = on_revoke { cb.run(id.clone()) })
                        on_cancel=Callback::new(move |_| confirm.set(Confirm::None))/>
                }
            })}
        </li>
    }
}

fn icon(kind: DeviceKind) -> impl IntoView {
    let path = match kind {
        DeviceKind::Phone => "M7 2h10a2 2 0 0 1 2 2v16a2 2 0 0 1-2 2H7a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2zM11 18h2",
        DeviceKind::Tablet => "M5 2h14a2 2 0 0 1 2 2v16a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2zM11 18h2",
        DeviceKind::Desktop => "M5 4h14a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2zM8 20h8M12 16v4",
        DeviceKind::Unknown => "M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18zM9.5 9a2.5 2.5 0 1 1 3.5 2.3c-.6.3-1 .9-1 1.7M12 17h.01",
    };
    view! {
        <svg viewBox="0 0 24 24" width="20" height="20" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">
            <path d=path/>
        </svg>
    }
}
