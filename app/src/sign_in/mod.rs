//! The sign-in and sign-up pages, and their forms (plain props, so they can be previewed).
pub mod link_pages;
pub mod links;
pub mod not_me;
pub mod providers;
mod provider_choice;
mod second_step;
mod sign_up;

pub use sign_up::{NewAccount, SignUpForm, SignUpPage};
pub use second_step::{SecondStepCode, SecondStepForm};

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::auth_api::{CompleteSignIn, SecondStepMethod, SignIn};
use crate::browser::{dom, webauthn, PasskeyError, UNSUPPORTED};
use crate::components::{ErrorMessage, Field, PageFrame, StatusMessage};
use crate::error::AppError;
use provider_choice::ProviderChoice;

/// What the sign-in form submits.
#[derive(Clone, Debug, PartialEq)]
pub struct Credentials {
    pub email: String,
    pub password: String,
}

/// Email + password form.
#[component]
pub fn SignInForm(
    #[prop(into)] pending: Signal<bool>,
    #[prop(optional, into)] error: Signal<Option<String>>,
    /// Good news ("You have been signed out."), in the success style.
    #[prop(optional, into)]
    notice: Signal<Option<String>>,
    /// A calm note of something that happened without being asked for ("You were signed out of
    /// this device."), in the neutral style: not news to celebrate, not an error.
    #[prop(optional, into)]
    info: Signal<Option<String>>,
    /// An answer about one field ("Enter your email address."): said at that field, which it
    /// marks invalid and describes, not above the form.
    #[prop(optional, into)]
    email_error: Signal<Option<String>>,
    #[prop(optional, into)] password_error: Signal<Option<String>>,
    /// The email as typed, kept by the page (a sign-in sent back from its second step to start
    /// again finds it still there); the form's own when not given.
    #[prop(optional)]
    email: Option<RwSignal<String>>,
    on_submit: Callback<Credentials>,
) -> impl IntoView {
    let email = email.unwrap_or_else(|| RwSignal::new(String::new()));
    let password = RwSignal::new(String::new());
    // A refused sign-in leaves the keyboard in the form, on the password (selected, to type again),
    // or on the email when that was left empty ("Enter your email address."): Sign in, disabled
    // while the request ran, had dropped the focus to the page. (The sentence above the form is
    // read out as an alert; a wrong one cannot say which field was wrong.)
    if use_context::<crate::components::PreviewScope>().is_none() {
        Effect::new(move |_| {
            if error.get().is_some() {
                dom::focus_and_select(if email.get_untracked().trim().is_empty() { "email" } else { "password" });
            }
        });
    }
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        on_submit.run(Credentials { email: email.get_untracked(), password: password.get_untracked() });
    };
    view! {
        <form method="post" class="stack" novalidate on:submit=submit aria-busy=move || pending.get().then_some("true")>
            <StatusMessage message=notice/>
            {move || info.get().map(|m| view! { <p class="notice notice-info" role="status">{m}</p> })}
            <ErrorMessage message=error pending/>
            // "webauthn": browsers that can offer passkeys in this field's autofill do so
            <Field id="email" label="Email" kind="email" autocomplete="username webauthn" required=true value=email error=email_error/>
            <Field id="password" label="Password" kind="password" autocomplete="current-password" required=true value=password error=password_error/>
            <div class="form-actions">
                <button type="submit" class="btn btn-primary" disabled=move || pending.get()>
                    {move || if pending.get() { "Signing in…" } else { "Sign in" }}
                </button>
                <a class="forgot-link" href="/forgot-password">"Forgot password?"</a>
            </div>
        </form>
    }
}

/// "Sign in with a passkey": no email needed. Explains itself where the browser cannot use
/// passkeys; the password form keeps working either way.
#[component]
pub fn PasskeySignIn(
    #[prop(into)] supported: Signal<bool>,
    #[prop(into)] pending: Signal<bool>,
    /// A calm note ("Passkey sign-in was cancelled."): role=status, not an alert.
    #[prop(optional, into)]
    notice: Signal<Option<String>>,
    #[prop(optional, into)] error: Signal<Option<String>>,
    on_click: Callback<()>,
) -> impl IntoView {
    // A passkey sign-in that ended without one (cancelled, refused) leaves the keyboard on its
    // button, to try again or go on from there. The button is not `disabled` while the device is
    // asked (a disabled button drops the keyboard's focus to the page, and a screen reader's
    // with it); it is `aria-disabled` and ignores a click meanwhile. Focus is put back all the
    // same, for a prompt the browser drew over the page, which may have taken it.
    let button_id = crate::components::scoped_id("passkey-sign-in");
    if use_context::<crate::components::PreviewScope>().is_none() {
        let button_id = button_id.clone();
        Effect::new(move |_| {
            if error.get().is_some() || notice.get().is_some() {
                let id = button_id.clone();
                request_animation_frame(move || dom::focus(&id));
            }
        });
    }
    view! {
        <div class="passkey-sign-in stack">
            <p class="divider" aria-hidden="true"><span>"or"</span></p>
            <ErrorMessage message=error/>
            {move || notice.get().map(|m| view! { <p class="notice notice-info" role="status">{m}</p> })}
            {move || if supported.get() {
                view! {
                    <button type="button" id=button_id.clone() class="btn btn-secondary btn-block" aria-disabled=move || pending.get().then_some("true")
                        on:click=move |_| if !pending.get_untracked() { on_click.run(()) }>
                        {move || if pending.get() { "Waiting for your passkey…" } else { "Sign in with a passkey" }}
                    </button>
                }.into_any()
            } else {
                view! { <p class="muted passkey-unsupported">{UNSUPPORTED}</p> }.into_any()
            }}
        </div>
    }
}

fn return_to() -> Memo<Option<String>> {
    let query = use_query_map();
    Memo::new(move |_| query.read().get("return_to"))
}

/// A link to `path` (sign-in from sign-up, and back) that keeps the page's `return_to`: the
/// sign-in made there still goes where this page was asked to return to.
fn keeping_return_to(path: &'static str, return_to: Memo<Option<String>>) -> impl Fn() -> String + Copy + Send + Sync + 'static {
    move || match return_to.get() {
        Some(r) => format!("{path}?return_to={}", urlencode(&r)),
        None => path.into(),
    }
}

/// Sign-in and sign-up are for signed-out browsers. A page load of either, signed in, never shows
/// it: the server sends the browser on to `return_to` or home (303). But the router draws them
/// without asking the server, after signing in above all (a sign-in's answer moves the router on,
/// so Back draws the form again, signed in). Drawn that way, the page asks `/api/session` and, if
/// this browser is signed in, goes on as the server would, leaving itself out of the history.
/// (Not drawn by the router: the server already decided, and nothing is asked.)
fn leave_if_signed_in(return_to: Memo<Option<String>>) {
    let drawn_by_router = !Owner::current_shared_context().is_some_and(|c| c.during_hydration());
    Effect::new(move |_| {
        if !drawn_by_router {
            return;
        }
        leptos::task::spawn_local(async move {
            let signed_in = matches!(crate::auth_api::current_session().await, Ok(Some(_)));
            // (the page is still the one shown: its signals live)
            if let (true, Some(r)) = (signed_in, return_to.try_get_untracked()) {
                dom::go_to_instead(&crate::nav::safe_return_to(r.as_deref()));
            }
        });
    });
}

/// Said on the sign-in page when its address asked for the code step and no sign-in waits for one.
const EXPIRED: &str = "Your sign-in expired. Sign in again.";

/// /sign-in
#[component]
pub fn SignInPage() -> impl IntoView {
    let action = ServerAction::<SignIn>::new();
    let second = ServerAction::<CompleteSignIn>::new();
    let return_to = return_to();
    leave_if_signed_in(return_to);
    let query = use_query_map();
    // (the code step's address with no sign-in waiting for a code any more: see below)
    let expired = RwSignal::new(false);
    // (what happened without being asked, said calmly; else what was asked for, said as done)
    let info = Signal::derive(move || {
        if expired.get() {
            Some(EXPIRED.to_string())
        } else {
            // the session ended elsewhere: revoked, signed out everywhere, password changed, expired
            query.read().get("ended").map(|_| "You were signed out of this device. Sign in again to continue.".to_string())
        }
    });
    let notice = Signal::derive(move || {
        let q = query.read();
        if info.with(Option::is_some) {
            None
        } else if q.get("reset").is_some() {
            Some("Your password was reset and every session signed out. Sign in with your new password.".to_string())
        } else {
            q.get("signed_out").map(|_| "You have been signed out.".to_string())
        }
    });
    // The sentence came with the page, where no live region announces it: the keyboard starts
    // there, so a screen reader reads it (after the focus rescue, which moved a focus dropped with
    // the button that led here, Sign out in the header, to the page's heading).
    Effect::new(move |_| {
        if let Some(sentence) = notice.get_untracked().or_else(|| info.get_untracked()) {
            request_animation_frame(move || request_animation_frame(move || dom::focus_sentence(&sentence)));
        }
    });
    // The password was right and the account has a second factor: ask for it. Too many wrong codes
    // or too long: back to the password, saying why.
    // (A provider sign-in of such an account arrives with `?second_step=1`, its pending cookie set.)
    let second_step = RwSignal::new(query.read_untracked().get("second_step").is_some());
    // (outlives the password form while the second step shows)
    let typed_email = RwSignal::new(String::new());
    Effect::new(move |_| match action.value().get() {
        Some(Err(AppError::SecondStepRequired)) => {
            second_step.set(true);
            // in the address too, as a provider's second step arrives: a reload (or a phone
            // bringing the tab back) keeps the code step instead of an empty sign-in form
            let back = return_to.get_untracked().map(|r| format!("&return_to={}", urlencode(&r))).unwrap_or_default();
            dom::replace_address(&format!("/sign-in?second_step=1{back}"));
        }
        _ => {}
    });
    // The code step drawn from the address (`?second_step=1`: a reload, or the provider's way
    // here): if no sign-in is waiting for a code (it expired, or the address was kept), the
    // sign-in form instead, saying so, the keyboard on that sentence.
    if second_step.get_untracked() {
        Effect::new(move |_| {
            leptos::task::spawn_local(async move {
                if let Ok(false) = crate::auth_api::second_step_waiting().await {
                    if second_step.try_get_untracked() == Some(true) && action.value().with_untracked(Option::is_none) {
                        second_step.set(false);
                        dom::forget_in_address(&["second_step"]);
                        expired.set(true);
                        request_animation_frame(move || request_animation_frame(move || dom::focus_sentence(EXPIRED)));
                    }
                }
            });
        });
    }
    Effect::new(move |_| {
        if let Some(Err(AppError::SignInAgain)) = second.value().get() {
            second_step.set(false);
            dom::forget_in_address(&["second_step"]);
        }
    });
    // an empty or malformed field is said at that field (a password over the length limit too:
    // "Use at most 256 characters." above the form read as a rule of the whole form); the rest
    // above the form
    let about = |e: &AppError, name: &str| e.is_about(name) || (name == "password" && matches!(e, AppError::PasswordRejected(_)));
    let error = Signal::derive(move || match (second.value().get(), action.value().get()) {
        (Some(Err(e @ AppError::SignInAgain)), _) => Some(e.to_string()),
        (_, Some(Err(AppError::SecondStepRequired))) => None,
        (_, r) => r.and_then(|r| r.err()).filter(|e| !about(e, "email") && !about(e, "password")).map(|e| e.to_string()),
    });
    let field_error = move |name: &'static str| {
        Signal::derive(move || action.value().get().and_then(|r| r.err()).filter(|e| about(e, name)).map(|e| e.to_string()))
    };
    let (email_error, password_error) = (field_error("email"), field_error("password"));
    let second_error = Signal::derive(move || second.value().get().and_then(|r| r.err()).map(|e| e.to_string()));
    let about_code = Signal::derive(move || second.value().with(|a| matches!(a, Some(Err(e)) if e.is_about("code"))));
    let on_submit = Callback::new(move |c: Credentials| {
        // (only if set: clearing it tells the error line it was answered again)
        if second.value().with_untracked(Option::is_some) {
            second.value().set(None);
        }
        action.dispatch(SignIn { email: c.email, password: c.password, return_to: return_to.get_untracked() });
    });
    // "Back to sign in": the pending sign-in ends on the server (its code step takes no more codes),
    // the form comes back with the email as typed, and the keyboard is in it.
    let on_back = Callback::new(move |_| {
        leptos::task::spawn_local(async move {
            // The form comes back once the answer has cleared the pending cookie: a password sent
            // sooner could start a new pending sign-in whose cookie this answer would then clear.
            // (Ending it is best effort: it expires within 5 minutes, and a new password replaces it.)
            let _ = crate::auth_api::cancel_second_step().await;
            second.value().set(None);
            action.value().set(None);
            second_step.set(false);
            // the code step is in the address (?second_step=1): a reload must not bring it back
            dom::forget_in_address(&["second_step"]);
            let field = if typed_email.get_untracked().trim().is_empty() { "email" } else { "password" };
            request_animation_frame(move || dom::focus(field));
        });
    });
    let on_code = Callback::new(move |c: SecondStepCode| {
        second.dispatch(CompleteSignIn {
            code: c.code,
            method: if c.backup { SecondStepMethod::BackupCode } else { SecondStepMethod::Authenticator },
            return_to: return_to.get_untracked(),
        });
    });
    // Passkeys: the button, and autofill in the email field where the browser offers it.
    let passkeys_supported = RwSignal::new(true);
    let passkey_pending = RwSignal::new(false);
    let passkey_notice = RwSignal::new(None::<String>);
    let passkey_error = RwSignal::new(None::<String>);
    let autofill: StoredValue<Option<webauthn::Abort>, webauthn::AbortStorage> = StoredValue::new_with_storage(None);
    let finish_passkey = move |result: Result<String, PasskeyError>| async move {
        match result {
            Ok(credential) => {
                match crate::auth_api::finish_passkey_sign_in(credential, return_to.get_untracked()).await {
                    Ok(to) => {
                        dom::go_to(&to);
                        return true;
                    }
                    Err(e) => passkey_error.set(Some(e.to_string())),
                }
            }
            Err(PasskeyError::Cancelled) => passkey_notice.set(Some("Passkey sign-in was cancelled.".to_string())),
            Err(e) => passkey_error.set(e.message("Passkey sign-in")),
        }
        false
    };
    let start_autofill = move || {
        leptos::task::spawn_local(async move {
            if !webauthn::autofill_available().await {
                return;
            }
            let Ok(options) = crate::auth_api::begin_passkey_sign_in(true).await else { return };
            let Some(abort) = webauthn::Abort::new() else { return };
            // (the page may have been left while the options were on their way: then nothing
            // would abort this request, so it is not made)
            if autofill.try_update_value(|a| *a = Some(abort.clone())).is_none() {
                return;
            }
            let result = webauthn::get_assertion(&options, Some(&abort)).await;
            // cancelling autofill (or replacing it by the button) is not worth a word
            if !matches!(result, Err(PasskeyError::Cancelled | PasskeyError::Aborted)) {
                passkey_pending.set(true);
                let _ = finish_passkey(result).await;
                passkey_pending.set(false);
            }
        });
    };
    // Leaving the page (signed in, or on to sign-up) ends its autofill request. The browser allows
    // one WebAuthn request at a time: one left waiting made the next (this page drawn again, after
    // Sign out or Back) fail with "A request is already pending", shown as a passkey failure.
    on_cleanup(move || {
        if let Some(c) = autofill.try_update_value(|a| a.take()).flatten() {
            c.abort();
        }
    });
    Effect::new(move |_| {
        passkeys_supported.set(webauthn::supported());
        if webauthn::supported() {
            start_autofill();
        }
    });
    let on_passkey = Callback::new(move |_| {
        passkey_notice.set(None);
        passkey_error.set(None);
        passkey_pending.set(true);
        // only one WebAuthn request at a time: the autofill one gives way
        if let Some(c) = autofill.try_update_value(|a| a.take()).flatten() {
            c.abort();
        }
        leptos::task::spawn_local(async move {
            let started = crate::auth_api::begin_passkey_sign_in(false).await;
            let done = match started {
                Ok(options) => finish_passkey(webauthn::get_assertion(&options, None).await).await,
                Err(e) => {
                    passkey_error.set(Some(e.to_string()));
                    false
                }
            };
            if !done {
                passkey_pending.set(false);
                start_autofill();
            }
        });
    });
    let sign_up_href = keeping_return_to("/sign-up", return_to);
    let providers = ProviderChoice::new(false);
    view! {
        // (the step is said in the title too: a screen reader announces it on the switch)
        <Title text=move || if second_step.get() { "Two-step verification · Gatehouse" } else { "Sign in · Gatehouse" }/>
        <PageFrame>
            <div class="auth-card">
                {move || if second_step.get() {
                    view! {
                        <h1>"Two-step verification"</h1>
                        <SecondStepForm pending=second.pending() error=second_error about_code on_submit=on_code on_back/>
                    }.into_any()
                } else {
                    view! {
                        <h1>"Sign in to Gatehouse"</h1>
                        <SignInForm pending=action.pending() error notice info email_error password_error email=typed_email on_submit/>
                        <PasskeySignIn supported=passkeys_supported pending=passkey_pending notice=passkey_notice
                            error=passkey_error on_click=on_passkey/>
                        {providers.view(false)}
                        <p class="auth-footer">"New here? " <a href=sign_up_href>"Create an account"</a></p>
                    }.into_any()
                }}
            </div>
        </PageFrame>
    }
}

/// Percent-encodes a query value.
pub fn urlencode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}
