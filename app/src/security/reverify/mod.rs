//! Re-verification ("sudo mode"): the banner that says for how long the person is verified (with
//! End now), and the dialog that asks them to confirm it is them before a sensitive change, then
//! carries on with what they started.
mod view;

use leptos::prelude::*;

pub use view::{ReverifyDialog, ReverifyFailed, VerifiedBanner};

use super::context::{Change, SecurityContext};
use super::passkeys::{reverify_with_passkey, FlowError};
use crate::browser::webauthn;
use crate::error::AppError;
use crate::model::{ProviderKind, SecurityOverview};
use crate::sign_in::providers::ProviderOutcome;

/// Confirms it is the person, with their password. Opens the re-verification window.
///
/// - Auth: signed in.
/// - Effects: the session's verified time is now and it gets a new token (cookie set; the old one
///   is refused at once); a `reverified` event. A wrong password is recorded (`reverify_failed`).
/// - Errors: `Invalid { field: "password" }` (wrong, or throttled: same answer; empty: "Enter your
///   password.", before any hashing or counting), `RateLimited`
///   (429), `Busy` (503), `Unavailable`.
/// - Rate limit: per client network, shared with sign-in (`[limits] password_*`); then the
///   throttle of this browser's path (shared with sign-in).
#[server(prefix = "/api", endpoint = "security/reverify")]
pub async fn reverify_with_password(password: String) -> Result<(), AppError> {
    use crate::server::{auth_for_setup, client, fail, reject, services, set_session_cookie};
    let session = auth_for_setup().map_err(reject)?;
    let done = domain::auth::reverify::with_password(&services()?, &session, &domain::secret::Password::new(password), &client())
        .await
        .map_err(fail)?;
    set_session_cookie(&done.token);
    Ok(())
}

/// Confirms it is the person with a code from their authenticator app. Opens the window.
///
/// - Auth: signed in.
/// - Effects: the session's verified time is now and it gets a new token (cookie set); the code is
///   used up; a `reverified` event. A wrong code is recorded (`reverify_failed`).
/// - Errors: `Invalid { field: "code" }` (wrong, used, or throttled: same answer; empty, before any
///   counting), `Unavailable`.
/// - Rate limit: the throttle of this browser's path (shared with passwords).
#[server(prefix = "/api", endpoint = "security/reverify/code")]
pub async fn reverify_with_code(code: String) -> Result<(), AppError> {
    use crate::server::{auth_for_setup, client, fail, reject, services, set_session_cookie};
    let session = auth_for_setup().map_err(reject)?;
    let done = domain::auth::reverify::with_authenticator_code(&services()?, &session, &code, &client()).await.map_err(fail)?;
    set_session_cookie(&done.token);
    Ok(())
}

/// Ends the re-verification window now.
///
/// - Auth: signed in.
/// - Effects: the next sensitive change asks again.
/// - Errors: `Unavailable`.
#[server(prefix = "/api", endpoint = "security/reverify/end")]
pub async fn end_reverification() -> Result<(), AppError> {
    use crate::server::{auth_for_setup, fail, reject, services};
    let session = auth_for_setup().map_err(reject)?;
    domain::auth::reverify::end(&services()?, &session).await.map_err(fail)
}

/// The page's re-verification: the banner, and the dialog the gate opens (password, a code from
/// the authenticator app, or a passkey). Made once per visit, so the dialog's state survives the
/// overview's reloads.
#[derive(Clone, Copy)]
pub struct ReverifySection {
    ctx: SecurityContext,
    with_password: Change<ReverifyWithPassword>,
    with_code: Change<ReverifyWithCode>,
    end: Change<EndReverification>,
    /// Re-verification with a passkey runs in the browser between two server calls.
    passkey_busy: RwSignal<bool>,
    passkey_error: RwSignal<Option<String>>,
    /// Whether this browser can use passkeys: known only once hydrated (SSR assumes it can).
    passkeys_supported: RwSignal<bool>,
    /// End now ended it (until the next confirmation): the banner's place says so.
    ended: RwSignal<bool>,
    /// Back from confirming with Google or GitHub (`?reverified=google`): the banner says so.
    confirmed_with: Option<ProviderKind>,
    /// Back from a provider without confirming (cancelled there, another account, …): the
    /// banner's place says so, until the dialog opens again.
    failed_with: RwSignal<Option<(ProviderKind, ProviderOutcome)>>,
}

impl ReverifySection {
    pub fn new() -> Self {
        let ctx = expect_context::<SecurityContext>();
        let section = ReverifySection {
            ctx,
            with_password: ctx.change(),
            with_code: ctx.change(),
            end: ctx.change(),
            passkey_busy: RwSignal::new(false),
            passkey_error: RwSignal::new(None),
            passkeys_supported: RwSignal::new(true),
            ended: RwSignal::new(false),
            confirmed_with: leptos_router::hooks::use_query_map().with_untracked(|q| q.get("reverified")).and_then(|s| ProviderKind::from_slug(&s)),
            failed_with: RwSignal::new(crate::sign_in::providers::reverify_outcome_in_address()),
        };
        // (asked again: what the last try at the provider said is over)
        let failed_with = section.failed_with;
        Effect::new(move |_| {
            if ctx.reverify.is_open() {
                crate::components::clear(failed_with);
            }
        });
        // Back from the provider: the banner says it worked and what next, and the keyboard (and a
        // screen reader) start there; it came with the page, where no live region announces
        // anything. (The page used to say nothing, with the keyboard at its top.)
        if let Some(kind) = section.confirmed_with {
            Effect::new(move |_| {
                crate::browser::dom::forget_in_address(&["reverified"]);
                request_animation_frame(move || crate::browser::dom::focus_sentence(&confirmed_sentence(kind)));
            });
        }
        let ReverifySection { with_password, with_code, end, passkeys_supported, ended, .. } = section;
        // End now: the banner leaves with its button, so the keyboard, and a screen reader, go to
        // the sentence that takes its place once the page is drawn again (it went to the page's
        // heading, and nothing was said)
        Effect::new(move |_| {
            if let Some(Ok(())) = end.value().get() {
                ended.set(true);
                crate::browser::dom::focus_after_redraw(&crate::components::scoped_id("verification-ended"));
            }
        });
        Effect::new(move |_| passkeys_supported.set(webauthn::supported()));
        // Confirmed: carry on with what was waiting.
        Effect::new(move |_| {
            let by_password = matches!(with_password.value().get(), Some(Ok(())));
            let by_code = matches!(with_code.value().get(), Some(Ok(())));
            if by_password || by_code {
                ended.set(false);
                ctx.reverify.confirmed();
            }
        });
        section
    }

    /// Whether `banner` draws the banner (one element) on the page's first drawing: while it is
    /// confirmed.
    pub fn banner_shown(o: &SecurityOverview) -> bool {
        o.verification.seconds_left > 0
    }

    /// "Verified for 8 more minutes", with End now.
    pub fn banner(self, o: &SecurityOverview) -> impl IntoView {
        let (end, ended, failed_with) = (self.end, self.ended, self.failed_with);
        if ended.get_untracked() && o.verification.seconds_left == 0 {
            return view! {
                <p class="notice notice-info" id=crate::components::scoped_id("verification-ended") role="status" tabindex="-1">
                    "Verification ended. Sensitive changes will ask you to confirm it's you again."
                </p>
            }
            .into_any();
        }
        if o.verification.seconds_left == 0 {
            // Back from a provider that did not confirm it: said where "You confirmed it's you"
            // would be (a problem as an alert, a cancel as a calm note, as Connected accounts says
            // them), until the dialog opens again.
            return (move || failed_with.get().map(|(kind, said)| view! { <ReverifyFailed kind said/> })).into_any();
        }
        // (offline, End now said nothing: the banner kept counting as if it had worked)
        let error = Signal::derive(move || super::context::shown_error(end.value().get()));
        view! {
            <VerifiedBanner
                status=o.verification.clone()
                confirmed=self.confirmed_with.filter(|kind| confirmed_by(o, *kind)).map(confirmed_sentence)
                pending=end.pending()
                error
                on_end=Callback::new(move |_| {
                    end.dispatch(EndReverification {});
                })
            />
        }
        .into_any()
    }

    /// The dialog, while the gate waits for the person to confirm.
    pub fn dialog(self, o: &SecurityOverview) -> impl IntoView {
        use crate::components::clear;
        let ReverifySection { ctx, with_password, with_code, passkey_busy, passkey_error, passkeys_supported, .. } = self;
        let error = Signal::derive(move || {
            passkey_error
                .get()
                .or_else(|| with_password.value().get().and_then(|r| r.err()).map(|e| e.to_string()))
                .or_else(|| with_code.value().get().and_then(|r| r.err()).map(|e| e.to_string()))
        });
        // (the password or code refused, no passkey's or provider's refusal standing over it)
        let about_field = Signal::derive(move || {
            passkey_error.with(Option::is_none)
                // (a password over the length limit is about the field too: "Use at most 256 characters.")
                && (with_password.value().with(|a| matches!(a, Some(Err(e)) if e.is_about("password") || matches!(e, AppError::PasswordRejected(_))))
                    || with_code.value().with(|a| matches!(a, Some(Err(e)) if e.is_about("code"))))
        });
        // (each way's answer replaces the others': a passkey's refusal stood over the password's;
        // cleared only when set, as clearing wakes the field)
        let on_confirm = Callback::new(move |password: String| {
            clear(with_code.value());
            clear(passkey_error);
            with_password.dispatch(ReverifyWithPassword { password });
        });
        let on_code = Callback::new(move |code: String| {
            clear(with_password.value());
            clear(passkey_error);
            with_code.dispatch(ReverifyWithCode { code });
        });
        let on_cancel = Callback::new(move |_| {
            ctx.reverify.cancel();
            with_password.value().set(None);
            with_code.value().set(None);
            passkey_error.set(None);
        });
        let on_passkey = Callback::new(move |_| {
            passkey_busy.set(true);
            passkey_error.set(None);
            leptos::task::spawn_local(async move {
                match reverify_with_passkey().await {
                    Ok(()) => {
                        ctx.refresh();
                        ctx.reverify.confirmed();
                    }
                    Err(FlowError::Say(m)) => passkey_error.set(m),
                    Err(FlowError::Reverify) => {}
                    Err(FlowError::SignedOut) => crate::browser::dom::go_to(super::context::SIGNED_OUT_ELSEWHERE),
                }
                passkey_busy.set(false);
            });
        });
        // Confirming with a connected provider: the browser goes there, and the callback brings it
        // back to this page re-verified.
        let on_provider = Callback::new(move |kind: crate::model::ProviderKind| {
            passkey_busy.set(true);
            passkey_error.set(None);
            leptos::task::spawn_local(async move {
                match super::connected_accounts::begin_provider_reverify(kind).await {
                    Ok(url) => crate::browser::dom::go_to(&url),
                    Err(crate::error::AppError::NotSignedIn) => crate::browser::dom::go_to(super::context::SIGNED_OUT_ELSEWHERE),
                    Err(e) => {
                        passkey_error.set(Some(e.to_string()));
                        passkey_busy.set(false);
                    }
                }
            });
        });
        // (each `pending()` makes a memo: made once here, not on every read)
        let (checking_password, checking_code) = (with_password.pending(), with_code.pending());
        let pending = Signal::derive(move || checking_password.get() || checking_code.get() || passkey_busy.get());
        let (has_password, has_passkey) = (o.verification.has_password, o.verification.has_passkey);
        let has_authenticator = o.two_factor.enabled.is_some();
        let window_minutes = o.verification.window_minutes;
        let providers = o.verification.providers.clone();
        move || {
            ctx.reverify.is_open().then(|| {
                view! {
                    <ReverifyDialog
                        has_password
                        has_passkey=has_passkey && passkeys_supported.get_untracked()
                        on_passkey
                        has_authenticator
                        on_code
                        providers=providers.clone()
                        on_provider
                        window_minutes
                        pending
                        error
                        about_field
                        on_confirm
                        on_cancel
                    />
                }
            })
        }
    }
}

/// `?reverified=<provider>` is believed only of a provider the account has connected, and of a
/// window that began in the last two minutes (a confirmation this page was sent back from): the
/// address is anyone's to write, and a link made to say "You confirmed it's you with GitHub" to an
/// account without GitHub, or long after any confirmation, would mislead. (A guess all the same:
/// the session does not record how it last confirmed, so a link opened within two minutes of a
/// confirmation made another way names the provider in the address, beside a window that is real.)
fn confirmed_by(o: &SecurityOverview, kind: ProviderKind) -> bool {
    const JUST_NOW_SECONDS: u64 = 120;
    let v = &o.verification;
    v.providers.contains(&kind) && v.seconds_left > 0 && v.seconds_left + JUST_NOW_SECONDS >= v.window_minutes * 60
}

/// What the banner says first after a re-verification with `kind`.
fn confirmed_sentence(kind: ProviderKind) -> String {
    format!("You confirmed it's you with {}. Make your change again.", kind.name())
}
