//! The sign-in page's second step: a code from the authenticator app, or a backup code instead.
use leptos::ev::SubmitEvent;
use leptos::prelude::*;

use crate::browser::dom;
use crate::components::{ErrorMessage, Field};

/// What the second-step form submits.
#[derive(Clone, Debug, PartialEq)]
pub struct SecondStepCode {
    pub code: String,
    pub backup: bool,
}

/// The second step: a code from the authenticator app, or a backup code instead.
#[component]
pub fn SecondStepForm(
    #[prop(into)] pending: Signal<bool>,
    #[prop(optional, into)] error: Signal<Option<String>>,
    /// `error` refuses the code typed (not a sign-in that expired, nor too many tries): the field
    /// is marked invalid and described by it.
    #[prop(optional, into)]
    about_code: Signal<bool>,
    /// Start on the backup-code form (previews).
    #[prop(optional)]
    backup: bool,
    on_submit: Callback<SecondStepCode>,
    /// "Back to sign in": gives up this sign-in (another account, or a passkey instead of a code).
    on_back: Callback<()>,
) -> impl IntoView {
    let use_backup = RwSignal::new(backup);
    let code = RwSignal::new(String::new());
    // An error is about the code last sent: switching to the other kind of code sets it aside
    // (it told the person to do what they just turned away from) until the next answer.
    let set_aside = RwSignal::new(false);
    Effect::new(move |_| {
        error.track();
        set_aside.set(false);
    });
    let shown = Signal::derive(move || error.get().filter(|_| !set_aside.get()));
    let refused = Signal::derive(move || shown.get().filter(|_| about_code.get()));
    // The code's field has the focus when the step appears, after switching kinds, and with an
    // error (Continue, disabled while the code was checked, had lost it to the page).
    if use_context::<crate::components::PreviewScope>().is_none() {
        Effect::new(move |_| {
            let field = crate::components::scoped_id(if use_backup.get() { "backup_code" } else { "totp_code" });
            shown.track();
            // (once the field of the kind just chosen is drawn)
            request_animation_frame(move || dom::focus_and_select(&field));
        });
    }
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        on_submit.run(SecondStepCode { code: code.get_untracked(), backup: use_backup.get_untracked() });
    };
    view! {
        <form method="post" class="stack" novalidate on:submit=submit aria-busy=move || pending.get().then_some("true")>
            <ErrorMessage message=shown pending id="second-step-error"/>
            {move || if use_backup.get() {
                view! {
                    <p>"Enter one of the backup codes you saved when you set up two-step verification. Each works once."</p>
                    <Field id="backup_code" label="Backup code" autocomplete="one-time-code" required=true value=code
                        hint="Like abcde-fghjk. Capitals and the hyphen don't matter." refused_above=(refused, "second-step-error")/>
                }.into_any()
            } else {
                // (the sentence describes the field: the keyboard lands there, and it is read with it)
                let said = crate::components::scoped_id("totp_code-what");
                view! {
                    <p id=said.clone()>"Enter the code from your authenticator app."</p>
                    <Field id="totp_code" label="6-digit code" kind="text" autocomplete="one-time-code" inputmode="numeric" required=true value=code
                        described_by=said refused_above=(refused, "second-step-error")/>
                }.into_any()
            }}
            <div class="form-actions">
                <button type="submit" class="btn btn-primary" disabled=move || pending.get()>
                    {move || if pending.get() { "Checking…" } else { "Continue" }}
                </button>
                <button type="button" class="btn btn-link" on:click=move |_| {
                    set_aside.set(true);
                    use_backup.update(|b| *b = !*b);
                    code.set(String::new());
                }>
                    {move || if use_backup.get() { "Use your authenticator app instead" } else { "Use a backup code instead" }}
                </button>
            </div>
            <p class="auth-footer">
                "Have a passkey for this account? It signs you in without a code. "
                <button type="button" class="btn btn-link" disabled=move || pending.get() on:click=move |_| on_back.run(())>
                    "Back to sign in"
                </button>
            </p>
        </form>
    }
}
