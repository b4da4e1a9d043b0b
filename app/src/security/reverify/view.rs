//! The re-verification banner and dialog (props only, previewed on /previews).
use leptos::ev::SubmitEvent;
use leptos::prelude::*;

use crate::browser::dom;
use crate::components::{ErrorMessage, Field};
use crate::model::{ProviderKind, VerificationView};
use crate::sign_in::providers::ProviderMark;

/// The lead of the connected accounts' buttons below a way that confirms here.
const AFTER_PROVIDER: &str = "Or confirm with a connected account (you'll come back to this page, then make the change again):";

/// "Verified for 8 more minutes", counting down in the browser, with End now (and why it did not
/// end, when End now failed: the person may be leaving a shared computer).
#[component]
pub fn VerifiedBanner(
    status: VerificationView,
    /// Said first, back from confirming with a provider ("You confirmed it's you with Google. Make
    /// your change again.").
    #[prop(default = None)]
    confirmed: Option<String>,
    #[prop(into)] pending: Signal<bool>,
    #[prop(optional, into)] error: Signal<Option<String>>,
    on_end: Callback<()>,
) -> impl IntoView {
    let left = RwSignal::new(status.seconds_left);
    // Count down in the browser (effects do not run on the server, so SSR and hydration agree),
    // by the browser's clock, not by the ticks: a tick comes late after the computer slept or in a
    // background tab, and the window ends on the server's clock all the same.
    Effect::new(move |_| {
        let start = left.get_untracked();
        if start > 0 {
            let began = crate::browser::clock::now_seconds();
            let handle = set_interval_with_handle(
                move || {
                    let gone = (crate::browser::clock::now_seconds() - began).max(0.0) as u64;
                    left.set(start.saturating_sub(gone));
                },
                std::time::Duration::from_secs(15),
            )
            .ok();
            on_cleanup(move || {
                if let Some(h) = handle {
                    h.clear();
                }
            });
        }
    });
    move || {
        let secs = left.get();
        (secs > 0).then(|| {
            let minutes = secs.div_ceil(60);
            let confirmed = confirmed.clone();
            let role = confirmed.is_some().then_some("status");
            view! {
                // (the status is the sentence, not the button beside it: "… until then. End now")
                <div class="verified-banner">
                    <p role=role>
                        {confirmed.map(|c| view! { {c} " " })}
                        <strong>{format!("Verified for {minutes} more minute{}.", if minutes == 1 { "" } else { "s" })}</strong>
                        // (not "your password": an account may have none, and confirm with a passkey or provider)
                        " Sensitive changes won't ask you to confirm it's you again until then."
                    </p>
                    <button type="button" class="btn btn-secondary btn-sm" disabled=move || pending.get()
                        on:click=move |_| on_end.run(())>"End now"</button>
                    <ErrorMessage message=error pending/>
                </div>
            }
        })
    }
}

/// Back from Google or GitHub without having confirmed it's you (cancelled there, another
/// account, …): said where "You confirmed it's you" would be, a problem as an alert and a cancel as
/// a calm note, as Connected accounts says them.
#[component]
pub fn ReverifyFailed(kind: ProviderKind, said: crate::sign_in::providers::ProviderOutcome) -> impl IntoView {
    let problem = said.tone() == crate::sign_in::providers::Tone::Problem;
    view! {
        <p class=if problem { "form-error" } else { "notice notice-info" } role=if problem { "alert" } else { "status" } tabindex="-1">
            {said.sentence(kind)} " Make your change again to confirm it's you once more."
        </p>
    }
}

/// Asks the person to confirm it is them. `on_confirm` gets the password; `on_cancel` closes it.
#[component]
pub fn ReverifyDialog(
    /// The account has a password to confirm with.
    has_password: bool,
    /// The account has a passkey to confirm with (and this browser can use it).
    #[prop(optional)]
    has_passkey: bool,
    /// Confirm with a passkey instead.
    #[prop(optional)]
    on_passkey: Option<Callback<()>>,
    /// The account has an authenticator app: a code from it also confirms.
    #[prop(optional)]
    has_authenticator: bool,
    /// Confirm with an authenticator code (the dialog's code form).
    #[prop(optional)]
    on_code: Option<Callback<String>>,
    /// Connected providers that also confirm (the browser goes there and comes back to this page).
    #[prop(optional)]
    providers: Vec<ProviderKind>,
    #[prop(optional)]
    on_provider: Option<Callback<ProviderKind>>,
    /// How long a re-verification lasts (`VerificationView::window_minutes`).
    window_minutes: u64,
    #[prop(into)] pending: Signal<bool>,
    #[prop(optional, into)] error: Signal<Option<String>>,
    /// `error` is the password's or the code's refusal (not a passkey's or a provider's): the field
    /// is marked invalid and described by it too.
    #[prop(optional, into)]
    about_field: Signal<bool>,
    on_confirm: Callback<String>,
    on_cancel: Callback<()>,
) -> impl IntoView {
    let window = format!("{window_minutes} minute{}", if window_minutes == 1 { "" } else { "s" });
    let password = RwSignal::new(String::new());
    let code = RwSignal::new(String::new());
    let can_use_code = has_authenticator && on_code.is_some();
    // (an account without a password but with the app, as after "This wasn't me": the code alone)
    let use_code = RwSignal::new(!has_password && can_use_code);
    let has_form = has_password || can_use_code;
    // Switching between password and code: the keyboard goes to the field just drawn (it stayed on
    // the switch, after the new field), and an error about the other one is set aside until the
    // next answer ("That password is not correct" stood over the code field).
    let set_aside = RwSignal::new(false);
    Effect::new(move |_| {
        error.track();
        set_aside.set(false);
    });
    let shown_error = Signal::derive(move || error.get().filter(|_| !set_aside.get()));
    let field_refused = Signal::derive(move || shown_error.get().filter(|_| about_field.get()));
    let switch = move |_| {
        use_code.update(|c| *c = !*c);
        set_aside.set(true);
        let field = crate::components::scoped_id(if use_code.get_untracked() { "reverify_code" } else { "reverify_password" });
        request_animation_frame(move || dom::focus(&field));
    };
    // Focus moves into the dialog when it opens (the password or code field, or Close).
    let focus_id = if has_password {
        crate::components::scoped_id("reverify_password")
    } else if can_use_code {
        crate::components::scoped_id("reverify_code")
    } else if has_passkey {
        crate::components::scoped_id("reverify-passkey")
    } else {
        crate::components::scoped_id("reverify-close")
    };
    let passkey_button = move |primary: bool| {
        (has_passkey && on_passkey.is_some()).then(|| {
            view! {
                <button type="button" id=crate::components::scoped_id("reverify-passkey")
                    class=if primary { "btn btn-primary" } else { "btn btn-secondary" }
                    disabled=move || pending.get()
                    on:click=move |_| if let Some(cb) = on_passkey { cb.run(()) }>
                    "Use a passkey"
                </button>
            }
        })
    };
    let first_provider = providers.first().copied();
    let provider_buttons = move |lead: Option<&'static str>| {
        (!providers.is_empty() && on_provider.is_some()).then(|| {
            let providers = providers.clone();
            view! {
                <div class="reverify-providers stack">
                    {lead.map(|lead| view! { <p class="muted">{lead}</p> })}
                    {providers.into_iter().map(|kind| view! {
                        <button type="button" class=format!("btn btn-secondary btn-provider btn-{}", kind.slug())
                            id=crate::components::scoped_id(&format!("reverify-{}", kind.slug()))
                            disabled=move || pending.get()
                            on:click=move |_| if let Some(cb) = on_provider { cb.run(kind) }>
                            <ProviderMark kind/>
                            <span>{format!("Continue with {}", kind.name())}</span>
                        </button>
                    }).collect_view()}
                </div>
            }
        })
    };
    let focus_id = match (has_form || has_passkey, first_provider) {
        (false, Some(kind)) => crate::components::scoped_id(&format!("reverify-{}", kind.slug())),
        _ => focus_id,
    };
    // the page behind is inert while it is open; focus moves in when it opens, and back to what
    // opened it (the button whose change asked for it) when it closes
    // (only a password, a code or a passkey confirms here and lets the change go on: a connected
    // account confirms at its provider, and the change is made again after coming back)
    let why = if has_form || has_passkey {
        format!("This is a sensitive change. Confirm your identity and we'll carry on with it; you won't be asked again for {window}.")
    } else if first_provider.is_some() && on_provider.is_some() {
        format!("This is a sensitive change. Confirm your identity with your connected account: you'll come back to this page, then make the change again. You won't be asked again for {window}.")
    } else {
        "This is a sensitive change: it needs you to confirm your identity first.".to_string()
    };
    let dialog_id = crate::components::scoped_id("reverify-dialog");
    let (title_id, why_id) = (crate::components::scoped_id("reverify-title"), crate::components::scoped_id("reverify-why"));
    let (labelled_by, described_by) = (title_id.clone(), why_id.clone());
    crate::components::dialog_focus(dialog_id.clone(), move || dom::focus(&focus_id));
    // A refused confirmation keeps the focus in the dialog, on the field to try again: Confirm,
    // disabled while the check ran, had dropped it to the page behind (inert meanwhile).
    if has_form && use_context::<crate::components::PreviewScope>().is_none() {
        Effect::new(move |_| {
            if error.get().is_some() {
                let field = if use_code.get_untracked() { "reverify_code" } else { "reverify_password" };
                dom::focus_and_select(&crate::components::scoped_id(field));
            }
        });
    }
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        match (use_code.get_untracked(), on_code) {
            (true, Some(cb)) => cb.run(code.get_untracked()),
            _ => on_confirm.run(password.get_untracked()),
        }
    };
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Escape" {
            on_cancel.run(());
        }
    };
    view! {
        <div class="modal-backdrop">
            <div class="modal" id=dialog_id role="dialog" aria-modal="true" aria-labelledby=labelled_by aria-describedby=described_by on:keydown=on_key>
                <h2 id=title_id>"Confirm it's you"</h2>
                <p id=why_id class="muted">{why}</p>
                {if has_form {
                    view! {
                        <form method="post" class="stack" novalidate on:submit=submit aria-busy=move || pending.get().then_some("true")>
                            <ErrorMessage message=shown_error pending id="reverify-error"/>
                            {move || if use_code.get() {
                                view! {
                                    <Field id="reverify_code" label="Code from your authenticator app" autocomplete="one-time-code"
                                        inputmode="numeric" required=true value=code refused_above=(field_refused, "reverify-error")/>
                                }.into_any()
                            } else {
                                view! {
                                    <Field id="reverify_password" label="Your password" kind="password" autocomplete="current-password" required=true value=password
                                        refused_above=(field_refused, "reverify-error")/>
                                }.into_any()
                            }}
                            {(has_password && can_use_code).then(|| view! {
                                <button type="button" class="btn btn-link" on:click=switch>
                                    {move || if use_code.get() { "Use your password instead" } else { "Use a code from your authenticator app" }}
                                </button>
                            })}
                            <div class="form-actions">
                                <button type="submit" class="btn btn-primary" disabled=move || pending.get()>
                                    {move || if pending.get() { "Confirming…" } else { "Confirm" }}
                                </button>
                                {passkey_button(false)}
                                <button type="button" class="btn btn-secondary" on:click=move |_| on_cancel.run(())>"Cancel"</button>
                            </div>
                            {provider_buttons(Some(AFTER_PROVIDER))}
                        </form>
                    }.into_any()
                } else if has_passkey {
                    view! {
                        <ErrorMessage message=error/>
                        <p>"Use one of your passkeys: your device will ask for your fingerprint, face or screen lock."</p>
                        <div class="form-actions">
                            {passkey_button(true)}
                            <button type="button" class="btn btn-secondary" on:click=move |_| on_cancel.run(())>"Cancel"</button>
                        </div>
                        {provider_buttons(Some(AFTER_PROVIDER))}
                    }.into_any()
                } else if first_provider.is_some() && on_provider.is_some() {
                    view! {
                        <ErrorMessage message=error/>
                        {provider_buttons(None)}
                        <div class="form-actions">
                            <button type="button" class="btn btn-secondary" on:click=move |_| on_cancel.run(())>"Cancel"</button>
                        </div>
                    }.into_any()
                } else {
                    view! {
                        <p>{format!("Your account has no password, passkey or connected account to confirm it's you with right now. To choose a password, use Forgot password on the sign-in page: we'll email you a link. Once you sign in with it, you have {window} for sensitive changes.")}</p>
                        <div class="form-actions">
                            <button type="button" id=crate::components::scoped_id("reverify-close") class="btn btn-secondary" on:click=move |_| on_cancel.run(())>"Close"</button>
                        </div>
                    }.into_any()
                }}
            </div>
        </div>
    }
}
