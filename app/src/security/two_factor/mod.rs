//! Two-step verification section: the authenticator app (set up with a QR code or a key, confirmed
//! with a code; changed to another the same way; turned off), and backup codes (shown once after setup or regeneration, with Copy,
//! Download and Print; how many are left).
mod card;

use leptos::prelude::*;

pub use card::{BackupCodesPanel, CopyStatus, EnrolmentPanel, TwoFactorCard, TwoFactorPanel};

use super::context::{shown_error, SecurityContext, Sensitive};
use crate::error::AppError;
use crate::model::{EnrolmentView, SecurityOverview, TotpTurnedOn};

/// Starts setting up an authenticator app: the QR code and the key (valid for
/// `domain::auth::two_factor::ENROLMENT_MINUTES`, for this session only).
///
/// - Auth: signed in and recently verified.
/// - Effects: a pending enrolment bound to this session (its secret encrypted at rest).
/// - Errors: `ReverifyRequired`, `Invalid` (already set up), `Unavailable`.
#[server(prefix = "/api", endpoint = "security/two-factor/begin")]
pub async fn begin_totp_setup() -> Result<EnrolmentView, AppError> {
    use crate::server::{auth_for_setup, fail, reject, services};
    let session = auth_for_setup().map_err(reject)?;
    let e = domain::auth::two_factor::begin_enrolment(&services()?, &session).await.map_err(fail)?;
    Ok(enrolment_view(e, false))
}

#[cfg(feature = "ssr")]
fn enrolment_view(e: domain::auth::two_factor::Enrolment, change: bool) -> EnrolmentView {
    EnrolmentView { qr_svg: domain::auth::totp::qr_svg(&e.uri), manual_key: e.manual_key, setup: e.setup, change }
}

/// Starts changing the authenticator app to another: a new QR code and key, as for a first setup;
/// the current app keeps working until a code from the new one finishes the change.
///
/// - Auth: signed in and recently verified.
/// - Effects: a pending setup bound to this session (as `begin_totp_setup`'s).
/// - Errors: `ReverifyRequired`, `Invalid` (no app to change), `Unavailable`.
#[server(prefix = "/api", endpoint = "security/two-factor/change/begin")]
pub async fn begin_totp_change() -> Result<EnrolmentView, AppError> {
    use crate::server::{auth, fail, reject, services};
    let session = auth().map_err(reject)?;
    let e = domain::auth::two_factor::begin_change(&services()?, &session).await.map_err(fail)?;
    Ok(enrolment_view(e, true))
}

/// Finishes changing the authenticator app with a code from the new one.
///
/// - Auth: signed in, recently verified, the session that began the change.
/// - Effects: the new app's secret replaces the old one (its codes stop working); the backup codes
///   stay; a `totp_changed` event and its notice; this browser's device cookie renewed (as after a
///   first setup).
/// - Errors: `Invalid { field: "code" }` (as `finish_totp_setup`), `Invalid { field: "totp" }` (the
///   app was turned off meanwhile), `ReverifyRequired`, `Unavailable`.
#[server(prefix = "/api", endpoint = "security/two-factor/change/finish")]
pub async fn finish_totp_change(code: String, #[server(default)] setup: String) -> Result<(), AppError> {
    use crate::server::{auth, client, fail, reject, services, set_device_cookie};
    let session = auth().map_err(reject)?;
    let shown = (!setup.is_empty()).then_some(setup.as_str());
    let (svc, client) = (services()?, client());
    domain::auth::two_factor::finish_change(&svc, &session, &code, shown, &client).await.map_err(fail)?;
    if let Ok(Some(device)) = domain::auth::two_factor::device_after_enrolment(&svc, &session, &client).await {
        set_device_cookie(&device);
    }
    Ok(())
}

/// Finishes the setup with a code from the app; answers the 10 backup codes (shown once) and how
/// many other sessions ended.
///
/// - Auth: signed in, recently verified, the session that began the setup.
/// - Effects: the authenticator is on; 10 backup codes replace any; a `totp_enabled` event; this
///   browser's device cookie renewed (`device_after_enrolment`: its own throttle path); on
///   Enterprise, the account's other sessions that signed in without a second factor end.
/// - Errors: `Invalid { field: "code" }` (wrong or empty code, the setup expired, or `setup` — the
///   one the page shows — was started again in another tab), `ReverifyRequired`, `NotSignedIn`
///   (this session ended meanwhile: on Enterprise, another one-factor session's setup ends it),
///   `Unavailable`.
#[server(prefix = "/api", endpoint = "security/two-factor/finish")]
pub async fn finish_totp_setup(code: String, #[server(default)] setup: String) -> Result<TotpTurnedOn, AppError> {
    use crate::server::{auth_for_setup, client, fail, reject, services, set_device_cookie};
    let session = auth_for_setup().map_err(reject)?;
    let shown = (!setup.is_empty()).then_some(setup.as_str());
    let (svc, client) = (services()?, client());
    let on = domain::auth::two_factor::finish_enrolment(&svc, &session, &code, shown, &client).await.map_err(fail)?;
    // (the app is on: a failure to read it back only leaves the cookie as it was)
    if let Ok(Some(device)) = domain::auth::two_factor::device_after_enrolment(&svc, &session, &client).await {
        set_device_cookie(&device);
    }
    Ok(TotpTurnedOn { codes: on.codes, signed_out: on.signed_out })
}

/// Replaces every backup code with 10 new ones (the old ones stop working at once).
///
/// - Auth: signed in and recently verified.
/// - Effects: new codes (stored as keyed hashes); a `backup_codes_generated` event.
/// - Errors: `ReverifyRequired`, `Invalid` (no authenticator), `Unavailable`.
#[server(prefix = "/api", endpoint = "security/two-factor/backup-codes")]
pub async fn regenerate_backup_codes() -> Result<Vec<String>, AppError> {
    use crate::server::{auth, client, fail, reject, services};
    let session = auth().map_err(reject)?;
    domain::auth::two_factor::regenerate_backup_codes(&services()?, &session, &client()).await.map_err(fail)
}

/// Turns the authenticator app off and deletes the backup codes.
///
/// - Auth: signed in and recently verified.
/// - Effects: secret and codes deleted; a `totp_disabled` event.
/// - Errors: `Invalid` (required by the organisation's plan; password too short to be the only
///   factor), `ReverifyRequired`, `NotFound`, `Unavailable`.
#[server(prefix = "/api", endpoint = "security/two-factor/disable")]
pub async fn disable_totp() -> Result<(), AppError> {
    use crate::server::{auth, client, fail, reject, services};
    let session = auth().map_err(reject)?;
    domain::auth::two_factor::disable(&services()?, &session, &client()).await.map_err(fail)
}

/// What the section says when setting up the app ended `n` other sessions (Enterprise: they had
/// signed in without a second factor).
pub fn signed_out_without_code(n: u64) -> String {
    let sessions = if n == 1 { "1 other session".to_string() } else { format!("{n} other sessions") };
    format!("Two-step verification is on. We signed out {sessions} that signed in without a code: signing in there again asks for a code from your app.")
}

/// Takes an action's error off the page (its result, if it had one, stays).
fn forget_error<T>(value: impl WithUntracked<Value = Option<Result<T, AppError>>> + Set<Value = Option<Result<T, AppError>>>) {
    if value.with_untracked(|v| matches!(v, Some(Err(_)))) {
        value.set(None);
    }
}

/// The Two-step verification section on the page: its actions (each re-verified first when
/// needed) and which panel is open, made once per visit so that a reload of the overview keeps the
/// QR code or the codes on screen.
#[derive(Clone, Copy)]
pub struct TwoFactorSection {
    begin: Sensitive<BeginTotpSetup>,
    finish: Sensitive<FinishTotpSetup>,
    begin_change: Sensitive<BeginTotpChange>,
    finish_change: Sensitive<FinishTotpChange>,
    regenerate: Sensitive<RegenerateBackupCodes>,
    disable: Sensitive<DisableTotp>,
    panel: RwSignal<TwoFactorPanel>,
    codes_saved: RwSignal<bool>,
    codes_copied: RwSignal<Option<bool>>,
    /// `?backup_codes_left=`: the sign-in used a backup code.
    query: Memo<leptos_router::params::ParamsMap>,
}

impl TwoFactorSection {
    pub fn new() -> Self {
        let ctx = expect_context::<SecurityContext>();
        let section = TwoFactorSection {
            begin: Sensitive::new(ctx.reverify),
            finish: Sensitive::of(ctx.reverify, ctx.change()),
            begin_change: Sensitive::new(ctx.reverify),
            finish_change: Sensitive::of(ctx.reverify, ctx.change()),
            regenerate: Sensitive::of(ctx.reverify, ctx.change()),
            disable: Sensitive::of(ctx.reverify, ctx.change()),
            panel: RwSignal::new(TwoFactorPanel::None),
            codes_saved: RwSignal::new(false),
            codes_copied: RwSignal::new(None),
            query: leptos_router::hooks::use_query_map(),
        };
        let TwoFactorSection { begin, finish, begin_change, finish_change, regenerate, disable, panel, codes_saved, codes_copied, query } = section;
        // `?backup_codes_left=` is said once: it leaves the address, so a reload or a bookmark of
        // the page does not say it again
        Effect::new(move |_| {
            if query.with_untracked(|q| q.get("backup_codes_left").is_some()) {
                crate::browser::dom::forget_in_address(&["backup_codes_left"]);
            }
        });
        // Results open the next panel: the QR code, then the codes (shown once); a change of app
        // closes its QR code (the page then puts the keyboard on the status line that says so)
        Effect::new(move |_| {
            if let Some(Ok(e)) = begin.action.value().get() {
                panel.set(TwoFactorPanel::Enrolling(e));
            }
        });
        Effect::new(move |_| {
            if let Some(Ok(e)) = begin_change.action.value().get() {
                panel.set(TwoFactorPanel::Enrolling(e));
            }
        });
        Effect::new(move |_| match finish_change.action.value().get() {
            Some(Ok(())) => panel.set(TwoFactorPanel::None),
            // the app is off now (turned off in another tab): no change can finish; the panel
            // goes, the section says it is off, and the refusal says why
            Some(Err(AppError::Invalid { field, .. })) if field == "totp" => {
                panel.set(TwoFactorPanel::None);
                ctx.refresh();
            }
            _ => {}
        });
        // Change authenticator app refused (disabled while it asked, it had dropped the focus to
        // the page): the keyboard goes back to it, under the refusal
        Effect::new(move |_| {
            if let Some(Err(e)) = begin_change.action.value().get() {
                if e != AppError::ReverifyRequired {
                    let id = crate::components::scoped_id("change-authenticator");
                    request_animation_frame(move || crate::browser::dom::focus_if_lost(&id));
                }
            }
        });
        Effect::new(move |_| {
            if let Some(Ok(on)) = finish.action.value().get() {
                codes_saved.set(false);
                codes_copied.set(None);
                panel.set(TwoFactorPanel::Codes(on.codes));
            }
        });
        Effect::new(move |_| {
            if let Some(Ok(codes)) = regenerate.action.value().get() {
                codes_saved.set(false);
                codes_copied.set(None);
                panel.set(TwoFactorPanel::Codes(codes));
            }
        });
        Effect::new(move |_| {
            if let Some(Ok(())) = disable.action.value().get() {
                panel.set(TwoFactorPanel::None);
            }
        });
        // Opening or closing a panel starts afresh: an attempt's error goes with it (a wrong code,
        // then Cancel, left "That code is not right" under the section). Results stay: Turned
        // off's line reads one.
        Effect::new(move |_| {
            panel.track();
            forget_error(finish.action.value());
            forget_error(finish_change.action.value());
            forget_error(regenerate.action.value());
            forget_error(disable.action.value());
        });
        ctx.leave_when_signed_out(begin.action);
        ctx.leave_when_signed_out(begin_change.action);
        section
    }

    /// An Enterprise member who must set up two-step verification sees this section first.
    pub fn first(o: &SecurityOverview) -> bool {
        o.two_factor.required && o.two_factor.enabled.is_none() && !o.two_factor.passkey_session
    }

    pub fn view(self, o: &SecurityOverview) -> impl IntoView {
        let TwoFactorSection { begin, finish, begin_change, finish_change, regenerate, disable, panel, codes_saved, codes_copied, query } = self;
        // (each `pending()` makes a memo: made once here, not on every read)
        let busy = [
            begin.action.pending(),
            finish.action.pending(),
            begin_change.action.pending(),
            finish_change.action.pending(),
            regenerate.action.pending(),
            disable.action.pending(),
        ];
        let pending = Signal::derive(move || busy.iter().any(|p| p.get()));
        let error = Signal::derive(move || {
            shown_error(begin.action.value().get())
                .or_else(|| shown_error(finish.action.value().get()))
                .or_else(|| shown_error(begin_change.action.value().get()))
                .or_else(|| shown_error(finish_change.action.value().get()))
                .or_else(|| shown_error(regenerate.action.value().get()))
                .or_else(|| shown_error(disable.action.value().get()))
        });
        let code_refused = Signal::derive(move || {
            finish.action.value().with(|a| matches!(a, Some(Err(e)) if e.is_about("code")))
                || finish_change.action.value().with(|a| matches!(a, Some(Err(e)) if e.is_about("code")))
        });
        // (the count is the account's own: the address only says a backup code signed in, and its
        // number was anyone's to write in a link, "-5 left"; so was the address itself, so it is
        // believed only of a session whose second step was a backup code)
        let codes_left = o.two_factor.enabled.as_ref().and(o.two_factor.backup_codes.as_ref()).map(|c| c.left);
        let backup_sign_in = o.sessions.iter().any(|s| s.current && s.backup_code);
        let notice = Signal::derive(move || {
            if let Some(Ok(())) = disable.action.value().get() {
                // (the summary above says it is off: this says what it means now)
                return Some("Turned off. Signing in no longer asks for a code, and your authenticator app and backup codes no longer work.".to_string());
            }
            if let Some(Ok(TotpTurnedOn { signed_out: n @ 1.., .. })) = finish.action.value().get() {
                return Some(signed_out_without_code(n));
            }
            if let Some(Ok(())) = finish_change.action.value().get() {
                return Some("Authenticator app changed. Codes from your earlier app no longer work; your backup codes are unchanged.".to_string());
            }
            query.read().get("backup_codes_left")?;
            backup_sign_in.then_some(())?;
            let left = codes_left?;
            Some(match left {
                0 => "You signed in with your last backup code. Regenerate them now.".to_string(),
                1..=3 => format!("You signed in with a backup code; {left} left. Consider regenerating them."),
                _ => format!("You signed in with a backup code; {left} left."),
            })
        });
        let on_begin = Callback::new(move |_| {
            finish.action.value().set(None);
            begin.dispatch(BeginTotpSetup {});
        });
        let on_change = Callback::new(move |_| {
            // (a first setup's result, "We signed out 1 other session…", is old news now)
            finish.action.value().set(None);
            finish_change.action.value().set(None);
            disable.action.value().set(None);
            begin_change.dispatch(BeginTotpChange {});
        });
        view! {
            <TwoFactorCard
                status=o.two_factor.clone()
                email=o.viewer.email.clone()
                panel
                pending
                error
                code_refused
                notice
                on_begin
                on_change
                on_confirm=Callback::new(move |code: String| {
                    // (the setup on screen: a code for it, after another tab started again, says so)
                    let (setup, change) = panel.with_untracked(|p| match p {
                        TwoFactorPanel::Enrolling(e) => (e.setup.clone(), e.change),
                        _ => (String::new(), false),
                    });
                    if change {
                        finish_change.dispatch(FinishTotpChange { code, setup })
                    } else {
                        finish.dispatch(FinishTotpSetup { code, setup })
                    }
                })
                on_regenerate=Callback::new(move |_| regenerate.dispatch(RegenerateBackupCodes {}))
                on_disable=Callback::new(move |_| disable.dispatch(DisableTotp {}))
                codes_saved
                codes_copied
            />
        }
    }
}
