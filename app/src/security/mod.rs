//! The Security & Access page (/settings/security): the frame and its sections.
pub mod coming_soon;
pub mod passkeys;
pub mod password;
pub mod reverify;
pub mod sessions;
pub mod two_factor;

use leptos::prelude::*;
use leptos_meta::Title;

use crate::auth_api::SignOut;
use crate::components::PageFrame;
use crate::error::AppError;
use crate::model::SecurityOverview;
use coming_soon::ComingSoonCard;
use passkeys::{PasskeyPanel, PasskeysCard, RemovePasskey, RenamePasskey};
use password::{ChangePassword, PasswordCard, PasswordChange, SetPassword};
use reverify::{EndReverification, ReverifyDialog, ReverifyWithCode, ReverifyWithPassword, VerifiedBanner};
use two_factor::{BeginTotpSetup, DisableTotp, FinishTotpSetup, RegenerateBackupCodes, TwoFactorCard, TwoFactorPanel};
use sessions::{RevokeOtherSessions, RevokeSession, SessionsCard, SignOutEverywhere};

/// Everything the page shows, for the signed-in account.
///
/// - Auth: signed in.
/// - Effects: none.
/// - Errors: `NotSignedIn`, `Unavailable`.
#[server(prefix = "/api", endpoint = "security/overview")]
pub async fn get_security_overview() -> Result<SecurityOverview, AppError> {
    use crate::model::{
        BackupCodesView, DeviceKind, Moment, PasskeyView, PasskeysView, PasswordView, SessionView, TwoFactorView, VerificationView,
        Viewer,
    };
    use crate::server::{auth_for_setup as auth, fail, geo, reject, services};
    use crate::time_fmt::{ago, exact, iso, span};
    use domain::kinds::SignInMethod;
    let session = auth().map_err(reject)?;
    let svc = services()?;
    let password = domain::auth::accounts::password_status(&svc, &session).await.map_err(fail)?;
    let sessions = domain::auth::sessions::list(&svc, &session).await.map_err(fail)?;
    let two_factor = domain::auth::two_factor::status(&svc, session.user_id).await.map_err(fail)?;
    let passkeys = domain::auth::passkeys::list(&svc, &session).await.map_err(fail)?;
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
        two_factor: TwoFactorView {
            enabled: two_factor.enabled_at.map(moment),
            backup_codes: two_factor.codes_generated_at.map(|at| BackupCodesView {
                generated: moment(at),
                left: two_factor.codes_left,
                total: two_factor.codes_total,
            }),
            required: session.plan == domain::plan::Plan::Enterprise,
            passkey_session: session.signed_in_with_passkey(),
        },
        passkeys: PasskeysView {
            can_remove: passkeys.can_remove(),
            items: passkeys
                .passkeys
                .iter()
                .map(|p| PasskeyView {
                    id: p.id.to_string(),
                    name: p.name.clone(),
                    provider: p.provider.clone(),
                    synced: p.synced,
                    created: moment(p.created_at),
                    last_used: p.last_used_at.map(moment),
                })
                .collect(),
        },
        verification: VerificationView {
            seconds_left: domain::auth::recent::verified_until(&svc, &session)
                .map(|until| (until - now).whole_seconds().max(0) as u64)
                .unwrap_or(0),
            has_password: password.has_password,
            has_passkey: !passkeys.passkeys.is_empty(),
        },
        sessions: sessions
            .into_iter()
            .map(|s| {
                let device = domain::devices::describe(s.user_agent.as_deref());
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
                    domain::devices::DeviceKind::Desktop => DeviceKind::Desktop,
                    domain::devices::DeviceKind::Phone => DeviceKind::Phone,
                    domain::devices::DeviceKind::Tablet => DeviceKind::Tablet,
                    domain::devices::DeviceKind::Unknown => DeviceKind::Unknown,
                },
                user_agent: s.user_agent.unwrap_or_default(),
                location: location.text,
                ip: s.ip.unwrap_or_else(|| "Unknown".into()),
                method: match s.auth_method {
                    SignInMethod::Password => "Password".into(),
                    SignInMethod::PasswordAndAuthenticator => "Password + authenticator app".into(),
                    SignInMethod::PasswordAndBackupCode => "Password + backup code".into(),
                    SignInMethod::Passkey => match s.passkey_name {
                        Some(name) => format!("Passkey “{name}”"),
                        None => "Passkey (since removed)".into(),
                    },
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

/// When `action` answers `ReverifyRequired`, asks the person to confirm it is them (`ask` opens
/// the dialog) with a callback that runs the action again with the same input once they have.
fn retry_after_reverify<S>(action: ServerAction<S>, last: StoredValue<Option<S>>, ask: RwSignal<Option<Callback<()>>>)
where
    S: leptos::server_fn::ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
{
    Effect::new(move |_| {
        if let Some(Err(AppError::ReverifyRequired)) = action.value().get() {
            ask.set(Some(Callback::new(move |_| {
                if let Some(input) = last.get_value() {
                    action.dispatch(input);
                }
            })));
        }
    });
}

/// Counts `action`'s successes into `changes` (what the page's data is keyed on).
fn refresh_on_success<S>(action: ServerAction<S>, changes: RwSignal<u32>)
where
    S: leptos::server_fn::ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
{
    Effect::new(move |_| {
        if let Some(Ok(_)) = action.value().get() {
            changes.update(|n| *n += 1);
        }
    });
}

/// Dispatches `input` and keeps it, so it can be sent again after re-verification.
fn dispatch_kept<S>(action: ServerAction<S>, last: StoredValue<Option<S>>, input: S)
where
    S: leptos::server_fn::ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
{
    last.set_value(Some(input.clone()));
    action.dispatch(input);
}

/// An action's error for the section, except `ReverifyRequired` (the dialog answers that).
fn shown_error<T: Clone + Send + Sync + 'static>(value: Option<Result<T, AppError>>) -> Option<String> {
    value.and_then(|r| r.err()).filter(|e| *e != AppError::ReverifyRequired).map(|e| e.to_string())
}

/// /settings/security
#[component]
pub fn SecurityPage() -> impl IntoView {
    let change_password = ServerAction::<ChangePassword>::new();
    let set_password = ServerAction::<SetPassword>::new();
    let sign_out = ServerAction::<SignOut>::new();
    let revoke = ServerAction::<RevokeSession>::new();
    let revoke_others = ServerAction::<RevokeOtherSessions>::new();
    let everywhere = ServerAction::<SignOutEverywhere>::new();
    let reverify = ServerAction::<ReverifyWithPassword>::new();
    let reverify_code = ServerAction::<ReverifyWithCode>::new();
    let begin_totp = ServerAction::<BeginTotpSetup>::new();
    let finish_totp = ServerAction::<FinishTotpSetup>::new();
    let regenerate = ServerAction::<RegenerateBackupCodes>::new();
    let disable_totp = ServerAction::<DisableTotp>::new();
    let panel = RwSignal::new(TwoFactorPanel::None);
    let codes_saved = RwSignal::new(false);
    let end_verification = ServerAction::<EndReverification>::new();
    let rename_passkey = ServerAction::<RenamePasskey>::new();
    let remove_passkey = ServerAction::<RemovePasskey>::new();
    let passkey_panel = RwSignal::new(PasskeyPanel::None);
    // New passkey runs in the browser between two server calls: its own pending/error/notice.
    let passkey_busy = RwSignal::new(false);
    let passkey_flow_error = RwSignal::new(None::<String>);
    let passkey_notice = RwSignal::new(None::<String>);
    // Whether this browser can use passkeys: known only once hydrated (SSR assumes it can).
    let passkeys_supported = RwSignal::new(true);
    Effect::new(move |_| passkeys_supported.set(crate::webauthn::supported()));
    let passkey_reverify_busy = RwSignal::new(false);
    let passkey_reverify_error = RwSignal::new(None::<String>);

    // Sensitive actions that answer ReverifyRequired open the dialog; once the person has
    // confirmed it is them, the action runs again with what they had typed.
    let ask: RwSignal<Option<Callback<()>>> = RwSignal::new(None);
    let last_set = StoredValue::new(None::<SetPassword>);
    let last_others = StoredValue::new(None::<RevokeOtherSessions>);
    let last_everywhere = StoredValue::new(None::<SignOutEverywhere>);
    let last_revoke = StoredValue::new(None::<RevokeSession>);
    retry_after_reverify(set_password, last_set, ask);
    retry_after_reverify(revoke, last_revoke, ask);
    retry_after_reverify(revoke_others, last_others, ask);
    retry_after_reverify(everywhere, last_everywhere, ask);
    let last_begin = StoredValue::new(None::<BeginTotpSetup>);
    let last_finish = StoredValue::new(None::<FinishTotpSetup>);
    let last_regenerate = StoredValue::new(None::<RegenerateBackupCodes>);
    let last_disable = StoredValue::new(None::<DisableTotp>);
    let last_remove_passkey = StoredValue::new(None::<RemovePasskey>);
    retry_after_reverify(remove_passkey, last_remove_passkey, ask);
    retry_after_reverify(begin_totp, last_begin, ask);
    retry_after_reverify(finish_totp, last_finish, ask);
    retry_after_reverify(regenerate, last_regenerate, ask);
    retry_after_reverify(disable_totp, last_disable, ask);
    // Results open the next panel: the QR code, then the codes (shown once).
    Effect::new(move |_| {
        if let Some(Ok(e)) = begin_totp.value().get() {
            panel.set(TwoFactorPanel::Enrolling(e));
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(codes)) = finish_totp.value().get() {
            codes_saved.set(false);
            panel.set(TwoFactorPanel::Codes(codes));
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(codes)) = regenerate.value().get() {
            codes_saved.set(false);
            panel.set(TwoFactorPanel::Codes(codes));
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(())) = disable_totp.value().get() {
            panel.set(TwoFactorPanel::None);
        }
    });
    let two_factor_pending = Signal::derive(move || {
        begin_totp.pending().get() || finish_totp.pending().get() || regenerate.pending().get() || disable_totp.pending().get()
    });
    let two_factor_error = Signal::derive(move || {
        shown_error(begin_totp.value().get())
            .or_else(|| shown_error(finish_totp.value().get()))
            .or_else(|| shown_error(regenerate.value().get()))
            .or_else(|| shown_error(disable_totp.value().get()))
    });
    let query = leptos_router::hooks::use_query_map();
    let two_factor_notice = Signal::derive(move || {
        if let Some(Ok(())) = disable_totp.value().get() {
            return Some("Two-step verification is off.".to_string());
        }
        let left: i64 = query.read().get("backup_codes_left")?.parse().ok()?;
        Some(match left {
            0 => "You signed in with your last backup code. Regenerate them now.".to_string(),
            1..=3 => format!("You signed in with a backup code; {left} left. Consider regenerating them."),
            _ => format!("You signed in with a backup code; {left} left."),
        })
    });
    let on_begin = Callback::new(move |_| {
        finish_totp.value().set(None);
        dispatch_kept(begin_totp, last_begin, BeginTotpSetup {});
    });
    let on_confirm_totp = Callback::new(move |code: String| dispatch_kept(finish_totp, last_finish, FinishTotpSetup { code }));
    let on_regenerate = Callback::new(move |_| dispatch_kept(regenerate, last_regenerate, RegenerateBackupCodes {}));
    let on_disable = Callback::new(move |_| dispatch_kept(disable_totp, last_disable, DisableTotp {}));
    Effect::new(move |_| {
        let by_password = matches!(reverify.value().get(), Some(Ok(())));
        let by_code = matches!(reverify_code.value().get(), Some(Ok(())));
        if by_password || by_code {
            if let Some(again) = ask.get_untracked() {
                ask.set(None);
                again.run(());
            }
        }
    });
    let reverify_error = Signal::derive(move || {
        passkey_reverify_error
            .get()
            .or_else(|| reverify.value().get().and_then(|r| r.err()).map(|e| e.to_string()))
            .or_else(|| reverify_code.value().get().and_then(|r| r.err()).map(|e| e.to_string()))
    });
    let on_reverify = Callback::new(move |password: String| {
        reverify_code.value().set(None);
        reverify.dispatch(ReverifyWithPassword { password });
    });
    let on_reverify_code = Callback::new(move |code: String| {
        reverify.value().set(None);
        reverify_code.dispatch(ReverifyWithCode { code });
    });
    let on_reverify_cancel = Callback::new(move |_| {
        ask.set(None);
        reverify.value().set(None);
        reverify_code.value().set(None);
        passkey_reverify_error.set(None);
    });
    let on_end_verification = Callback::new(move |_| {
        end_verification.dispatch(EndReverification {});
    });

    // The page reloads its data after each successful change, not after a failed one: a refusal
    // must leave the form open with what the person typed.
    let changes = RwSignal::new(0u32);
    refresh_on_success(change_password, changes);
    refresh_on_success(set_password, changes);
    refresh_on_success(revoke, changes);
    refresh_on_success(revoke_others, changes);
    refresh_on_success(reverify, changes);
    refresh_on_success(reverify_code, changes);
    refresh_on_success(end_verification, changes);
    refresh_on_success(finish_totp, changes);
    refresh_on_success(regenerate, changes);
    refresh_on_success(disable_totp, changes);
    refresh_on_success(rename_passkey, changes);
    refresh_on_success(remove_passkey, changes);
    Effect::new(move |_| {
        if let Some(Ok(name)) = rename_passkey.value().get() {
            passkey_panel.set(PasskeyPanel::None);
            passkey_notice.set(Some(format!("Renamed to “{name}”.")));
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(())) = remove_passkey.value().get() {
            passkey_panel.set(PasskeyPanel::None);
            passkey_notice.set(Some("Passkey removed. It can no longer sign in to your account.".to_string()));
        }
    });
    // New passkey: options from the server, the browser's prompt, the server's check. Asks for
    // re-verification first when needed, then starts again.
    let add_again = StoredValue::new(None::<Callback<String>>);
    let on_add_passkey = Callback::new(move |name: String| {
        passkey_busy.set(true);
        passkey_flow_error.set(None);
        passkey_notice.set(None);
        leptos::task::spawn_local(async move {
            match passkeys::add_passkey(name.clone()).await {
                Ok(added) => {
                    passkey_panel.set(PasskeyPanel::None);
                    passkey_notice.set(Some(format!("Passkey “{added}” added. You can sign in with it now.")));
                    changes.update(|n| *n += 1);
                }
                Err(passkeys::FlowError::Reverify) => {
                    ask.set(Some(Callback::new(move |_| {
                        if let Some(again) = add_again.get_value() {
                            again.run(name.clone());
                        }
                    })));
                }
                Err(passkeys::FlowError::Say(message)) => passkey_flow_error.set(message),
            }
            passkey_busy.set(false);
        });
    });
    add_again.set_value(Some(on_add_passkey));
    let on_rename_passkey = Callback::new(move |(id, name): (String, String)| {
        passkey_notice.set(None);
        rename_passkey.dispatch(RenamePasskey { id, name });
    });
    let on_remove_passkey = Callback::new(move |id: String| {
        passkey_notice.set(None);
        dispatch_kept(remove_passkey, last_remove_passkey, RemovePasskey { id });
    });
    let passkeys_pending =
        Signal::derive(move || passkey_busy.get() || rename_passkey.pending().get() || remove_passkey.pending().get());
    let passkeys_error = Signal::derive(move || passkey_flow_error.get().or_else(|| shown_error(remove_passkey.value().get())));
    let rename_error = Signal::derive(move || shown_error(rename_passkey.value().get()));
    // Opening or closing a panel starts afresh: no error from an earlier attempt.
    Effect::new(move |_| {
        passkey_panel.track();
        rename_passkey.value().set(None);
        passkey_flow_error.set(None);
        remove_passkey.value().set(None);
    });
    // Re-verification with a passkey (the dialog's other way).
    let on_reverify_passkey = Callback::new(move |_| {
        passkey_reverify_busy.set(true);
        passkey_reverify_error.set(None);
        leptos::task::spawn_local(async move {
            match passkeys::reverify_with_passkey().await {
                Ok(()) => {
                    changes.update(|n| *n += 1);
                    if let Some(again) = ask.get_untracked() {
                        ask.set(None);
                        again.run(());
                    }
                }
                Err(passkeys::FlowError::Say(m)) => passkey_reverify_error.set(m),
                Err(passkeys::FlowError::Reverify) => {}
            }
            passkey_reverify_busy.set(false);
        });
    });
    let overview = Resource::new(move || changes.get(), |_| get_security_overview());
    let sessions_pending = Signal::derive(move || {
        sign_out.pending().get() || revoke.pending().get() || revoke_others.pending().get() || everywhere.pending().get()
    });
    let sessions_error = Signal::derive(move || {
        shown_error(revoke.value().get())
            .or_else(|| shown_error(revoke_others.value().get()))
            .or_else(|| shown_error(everywhere.value().get()))
    });
    let sessions_status = Signal::derive(move || {
        let ended = |n: u64| format!("Signed out of {n} other session{}.", if n == 1 { "" } else { "s" });
        match (revoke.value().get(), revoke_others.value().get()) {
            (_, Some(Ok(n))) => Some(ended(n)),
            (Some(Ok(())), _) => Some("Session revoked. That device is signed out.".to_string()),
            _ => None,
        }
    });
    let on_revoke = Callback::new(move |id: String| dispatch_kept(revoke, last_revoke, RevokeSession { session_id: id }));
    let on_revoke_others = Callback::new(move |_| dispatch_kept(revoke_others, last_others, RevokeOtherSessions {}));
    let on_everywhere = Callback::new(move |_| dispatch_kept(everywhere, last_everywhere, SignOutEverywhere {}));

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

    let password_pending = Signal::derive(move || change_password.pending().get() || set_password.pending().get());
    let password_error =
        Signal::derive(move || shown_error(change_password.value().get()).or_else(|| shown_error(set_password.value().get())));
    let password_success = Signal::derive(move || {
        if let Some(Ok(())) = change_password.value().get() {
            Some("Password changed. Your other sessions were signed out.".to_string())
        } else if let Some(Ok(())) = set_password.value().get() {
            Some("Password set. You can now sign in with your email and password; your other sessions were signed out.".to_string())
        } else {
            None
        }
    });
    let on_change = Callback::new(move |c: PasswordChange| {
        if c.current.is_empty() && matches!(overview.get_untracked(), Some(Ok(ref o)) if !o.password.has_password) {
            dispatch_kept(set_password, last_set, SetPassword { new_password: c.new });
        } else {
            change_password.dispatch(ChangePassword { current_password: c.current, new_password: c.new });
        }
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
                    Ok(o) => {
                    // An Enterprise member who must set up two-step verification sees it first.
                    let two_factor_first = o.two_factor.required && o.two_factor.enabled.is_none() && !o.two_factor.passkey_session;
                    let two_factor_card = {
                        let (status, email) = (o.two_factor.clone(), o.viewer.email.clone());
                        move || view! {
                                    <TwoFactorCard
                                        status=status.clone()
                                        email=email.clone()
                                        panel
                                        pending=two_factor_pending
                                        error=two_factor_error
                                        notice=two_factor_notice
                                        on_begin
                                        on_confirm=on_confirm_totp
                                        on_regenerate
                                        on_disable
                                        codes_saved
                                    />
                        }
                    };
                    view! {
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
                            <VerifiedBanner
                                status=o.verification.clone()
                                pending=end_verification.pending()
                                on_end=on_end_verification
                            />
                            {
                                let (has_password, has_passkey) = (o.verification.has_password, o.verification.has_passkey);
                                let has_authenticator = o.two_factor.enabled.is_some();
                                move || ask.get().map(|_| view! {
                                    <ReverifyDialog
                                        has_password
                                        has_passkey=has_passkey && passkeys_supported.get_untracked()
                                        on_passkey=on_reverify_passkey
                                        has_authenticator
                                        on_code=on_reverify_code
                                        pending=Signal::derive(move || {
                                            reverify.pending().get() || reverify_code.pending().get() || passkey_reverify_busy.get()
                                        })
                                        error=reverify_error
                                        on_confirm=on_reverify
                                        on_cancel=on_reverify_cancel
                                    />
                                })
                            }
                            {two_factor_first.then(two_factor_card.clone())}
                            <PasswordCard
                                status=o.password.clone()
                                email=o.viewer.email.clone()
                                display_name=o.viewer.display_name.clone().unwrap_or_default()
                                has_second_factor=o.two_factor.enabled.is_some()
                                pending=password_pending
                                error=password_error
                                success=password_success
                                on_submit=on_change
                            />
                            {(!two_factor_first).then(two_factor_card)}
                            <PasskeysCard
                                status=o.passkeys.clone()
                                supported=passkeys_supported
                                pending=passkeys_pending
                                error=passkeys_error
                                rename_error
                                notice=passkey_notice
                                panel=passkey_panel
                                on_add=on_add_passkey
                                on_rename=on_rename_passkey
                                on_remove=on_remove_passkey
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
                    }.into_any()
                    }
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
