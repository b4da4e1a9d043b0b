//! The Two-step verification card and its panels (props only, previewed on /previews).
use leptos::ev::SubmitEvent;
use leptos::prelude::*;

use crate::browser::{clipboard, dom};
use crate::components::{Card, ConfirmPanel, ErrorMessage, Field, StatusMessage, TimeAgo};
use crate::model::{EnrolmentView, TwoFactorView};

/// The backup codes, shown once: Copy, Download, Print, and "I have saved these codes".
#[component]
pub fn BackupCodesPanel(
    codes: Vec<String>,
    email: String,
    /// "I have saved these codes", owned by the page so that a refresh of the page's data while
    /// the panel is open does not untick it.
    saved: RwSignal<bool>,
    /// What Copy did, owned by the page for the same reason: the refresh that follows turning the
    /// app on can draw the panel again just after a click on Copy, and "copied to the clipboard"
    /// was lost with the panel's own signal (seen as a flaky end-to-end test under load).
    copied: RwSignal<Option<bool>>,
    on_done: Callback<()>,
) -> impl IntoView {
    let text = format!(
        "Gatehouse backup codes for {email}\nEach code works once. Keep them somewhere safe.\n\n{}\n",
        codes.join("\n")
    );
    let href = format!("data:text/plain;charset=utf-8,{}", crate::sign_in::urlencode(&text));
    let copy = {
        let text = text.clone();
        move |_| copy_then_say(text.clone(), copied)
    };
    let print = move |_| dom::print();
    // (shown only now: read from their start, not found by tabbing back)
    let panel_id = crate::components::scoped_id("backup-codes-panel");
    crate::components::focus_when_drawn(panel_id.clone());
    // (on paper, which account they open: the page's header, with the address, is not printed)
    let printed_title = format!("Gatehouse backup codes for {email}");
    view! {
        <div class="codes-panel" id=panel_id role="group" aria-label="Your backup codes" tabindex="-1">
            <p class="print-only"><strong>{printed_title}</strong></p>
            <p><strong>"Save your backup codes."</strong>" If you lose your phone, each of these signs you in once. They are shown only now."</p>
            <ol class="backup-codes">
                {codes.into_iter().map(|c| view! { <li><code>{c}</code></li> }).collect_view()}
            </ol>
            <div class="form-actions">
                <button type="button" class="btn btn-secondary btn-sm" on:click=copy>
                    {move || if copied.get() == Some(true) { "Copied" } else { "Copy" }}
                </button>
                <a class="btn btn-secondary btn-sm" href=href download="gatehouse-backup-codes.txt">"Download"</a>
                <button type="button" class="btn btn-secondary btn-sm" on:click=print>"Print"</button>
            </div>
            <CopyStatus copied what="Backup codes"/>
            <label class="checkbox">
                <input type="checkbox" prop:checked=move || saved.get() on:change=move |ev| saved.set(event_target_checked(&ev))/>
                " I have saved these codes"
            </label>
            <div class="form-actions">
                <button type="button" class="btn btn-primary" disabled=move || !saved.get() on:click=move |_| on_done.run(())>"Done"</button>
            </div>
        </div>
    }
}

/// Setting up (or changing to another app): the QR code, the key, and the code that confirms it.
#[component]
pub fn EnrolmentPanel(
    enrolment: EnrolmentView,
    #[prop(into)] pending: Signal<bool>,
    #[prop(optional, into)] error: Signal<Option<String>>,
    /// `error` refuses the code typed (not a setup replaced in another tab, nor a server that is
    /// unavailable): the field is marked invalid and described by it.
    #[prop(optional, into)]
    code_refused: Signal<bool>,
    on_confirm: Callback<String>,
    on_cancel: Callback<()>,
) -> impl IntoView {
    let code = RwSignal::new(String::new());
    let refused = Signal::derive(move || error.get().filter(|_| code_refused.get()));
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        on_confirm.run(code.get_untracked());
    };
    let change = enrolment.change;
    let key = enrolment.manual_key.clone();
    let copied = RwSignal::new(None);
    let copy = move |_| copy_then_say(key.replace(' ', ""), copied);
    let panel_id = crate::components::scoped_id("enrolment-panel");
    crate::components::focus_when_drawn(panel_id.clone());
    // a refused code: back to its field (Turn on, disabled while it was checked, dropped the focus)
    if use_context::<crate::components::PreviewScope>().is_none() {
        let field = crate::components::scoped_id("totp_setup_code");
        Effect::new(move |_| {
            if error.get().is_some() {
                dom::focus_and_select(&field);
            }
        });
    }
    view! {
        <div class="enrolment" id=panel_id role="group" tabindex="-1"
            aria-label=if change { "Change your authenticator app" } else { "Set up an authenticator app" }
            on:keydown=crate::components::escape_cancels(move || on_cancel.run(()))>
            // (one sentence, not a list of one step: the code field below is the next step)
            <p class="steps">{if change {
                "Scan this QR code with your new authenticator app (Google Authenticator, 1Password, Authy, Microsoft Authenticator…). \
                 Your current app keeps working until you enter a code from the new one; your backup codes stay the same."
            } else {
                "Scan this QR code with your authenticator app (Google Authenticator, 1Password, Authy, Microsoft Authenticator…)."
            }}</p>
            <div class="qr" role="img" aria-label="QR code for your authenticator app" inner_html=enrolment.qr_svg></div>
            <p class="muted">"Can't scan it? Enter this key instead:"</p>
            <p class="manual-key"><code data-testid="manual-key">{enrolment.manual_key}</code>
                " " <button type="button" class="btn btn-secondary btn-sm" on:click=copy>"Copy key"</button></p>
            <CopyStatus copied what="Key"/>
            <form method="post" class="stack" novalidate on:submit=submit aria-busy=move || pending.get().then_some("true")>
                <ErrorMessage message=error pending id="totp-setup-error"/>
                <Field id="totp_setup_code" label="Code from the app" autocomplete="one-time-code" inputmode="numeric" required=true value=code
                    hint="Six digits. It changes every 30 seconds." refused_above=(refused, "totp-setup-error")/>
                <div class="form-actions">
                    <button type="submit" class="btn btn-primary" disabled=move || pending.get()>
                        {move || if pending.get() { "Checking…" } else if change { "Change app" } else { "Turn on" }}
                    </button>
                    <button type="button" class="btn btn-secondary" on:click=move |_| on_cancel.run(())>"Cancel"</button>
                </div>
            </form>
        </div>
    }
}

/// Copies `text`, then sets `copied` to whether the browser did.
fn copy_then_say(text: String, copied: RwSignal<Option<bool>>) {
    // (emptied first, so that copying again is said again)
    copied.set(None);
    leptos::task::spawn_local(async move {
        let done = clipboard::copy(&text).await;
        // (the panel may have closed meanwhile)
        copied.try_set(Some(done));
    });
}

/// What a Copy button did, said in a live region (always on the page, so that screen readers
/// announce the change): copied, or the browser refused and what to do instead.
#[component]
pub fn CopyStatus(#[prop(into)] copied: Signal<Option<bool>>, what: &'static str) -> impl IntoView {
    view! {
        <p class="muted copy-status" role="status">
            {move || match copied.get() {
                Some(true) => format!("{what} copied to the clipboard."),
                Some(false) => "Your browser didn't allow copying. Select the text and copy it yourself.".to_string(),
                None => String::new(),
            }}
        </p>
    }
}

/// What the section is showing besides its summary.
#[derive(Clone, Debug, PartialEq)]
pub enum TwoFactorPanel {
    None,
    Enrolling(EnrolmentView),
    Codes(Vec<String>),
    ConfirmRegenerate,
    ConfirmDisable,
}

#[component]
pub fn TwoFactorCard(
    status: TwoFactorView,
    #[prop(into)] email: String,
    /// Which panel is open (the page owns it, so an action's result can open one).
    panel: RwSignal<TwoFactorPanel>,
    #[prop(into)] pending: Signal<bool>,
    #[prop(optional, into)] error: Signal<Option<String>>,
    /// `error` refuses the setup's code (`EnrolmentPanel`'s `code_refused`).
    #[prop(optional, into)]
    code_refused: Signal<bool>,
    #[prop(optional, into)] notice: Signal<Option<String>>,
    on_begin: Callback<()>,
    /// Change app: a new setup that replaces the app that is on.
    on_change: Callback<()>,
    on_confirm: Callback<String>,
    on_regenerate: Callback<()>,
    on_disable: Callback<()>,
    /// The codes panel's "I have saved these codes" (the page owns it; see `BackupCodesPanel`).
    #[prop(optional)]
    codes_saved: Option<RwSignal<bool>>,
    /// What the codes panel's Copy did (the page owns it too).
    #[prop(optional)]
    codes_copied: Option<RwSignal<Option<bool>>>,
) -> impl IntoView {
    let codes_saved = codes_saved.unwrap_or_else(|| RwSignal::new(false));
    let codes_copied = codes_copied.unwrap_or_else(|| RwSignal::new(None));
    let enabled = status.enabled.clone();
    let on = enabled.is_some();
    let required = status.required;
    let has_codes = status.backup_codes.as_ref().is_some_and(|c| c.total > 0);
    let summary = match &enabled {
        Some(since) => view! {
            <p><strong>"Authenticator app: on"</strong><span class="muted">" · set up " <TimeAgo moment=since.clone()/></span></p>
        }
        .into_any(),
        None => view! {
            <p><strong>"Two-step verification is off."</strong>
                " Add a second step so that a leaked password alone cannot open your account."</p>
        }
        .into_any(),
    };
    let codes = status.backup_codes.clone().filter(|_| on).map(|c| {
        let warning = if c.left == 0 {
            Some("You have no backup codes left. Regenerate them now, or you may be locked out if you lose your phone.")
        } else if c.left <= 3 {
            Some("Only a few backup codes are left. Consider regenerating them.")
        } else {
            None
        };
        view! {
            <p class="backup-summary">"Backup codes: generated " <TimeAgo moment=c.generated.clone()/>
                {format!(" · {} of {} left", c.left, c.total)}</p>
            {warning.map(|w| view! { <p class="notice notice-warning">{w}</p> })}
        }
    });
    let cancel = Callback::new(move |_| panel.set(TwoFactorPanel::None));
    // Cancel or Escape in the set-up: the keyboard goes back to Set up authenticator app, drawn
    // again where the panel was (a confirmation returns it to its own opener)
    // (Change app's Cancel: back to Change app)
    let set_up_id = crate::components::scoped_id("set-up-authenticator");
    let change_id = crate::components::scoped_id("change-authenticator");
    let cancel_back_to = move |opener: String| {
        Callback::new(move |_| {
            panel.set(TwoFactorPanel::None);
            let id = opener.clone();
            request_animation_frame(move || dom::focus(&id));
        })
    };
    // Done with the codes: the panel goes, and the focus to the codes' Regenerate, drawn again in
    // its place
    let codes_done = {
        let first = crate::components::scoped_id("regenerate-codes");
        Callback::new(move |_| {
            panel.set(TwoFactorPanel::None);
            let first = first.clone();
            request_animation_frame(move || dom::focus(&first));
        })
    };
    let email2 = email.clone();
    view! {
        <Card id="two-factor" title="Two-step verification">
            // (once the app is on, the requirement is met: Turn off says why it stays on)
            {(required && !on).then(|| view! {
                <p class="notice notice-warning">"Your organisation requires two-step verification. Set up an authenticator app to continue using your account (signing in with a passkey you already have counts too)."</p>
            })}
            {summary}
            {codes}
            <StatusMessage message=notice/>
            {move || {
                let p = panel.get();
                let show_error = !matches!(p, TwoFactorPanel::Codes(_) | TwoFactorPanel::Enrolling(_));
                view! {
                    {show_error.then(|| view! { <ErrorMessage message=error/> })}
                    {match p {
                        TwoFactorPanel::Enrolling(e) => {
                            let on_cancel = cancel_back_to(if e.change { change_id.clone() } else { set_up_id.clone() });
                            view! { <EnrolmentPanel enrolment=e pending error code_refused on_confirm on_cancel/> }.into_any()
                        }
                        TwoFactorPanel::Codes(c) => view! { <BackupCodesPanel codes=c email=email2.clone() saved=codes_saved copied=codes_copied on_done=codes_done/> }.into_any(),
                        TwoFactorPanel::ConfirmRegenerate => view! {
                            <ConfirmPanel id="confirm-regenerate-codes" opener="regenerate-codes" question=if has_codes { "Replace your backup codes?" } else { "Create backup codes?" }
                                detail=if has_codes { "The old ones stop working at once." } else { "Each works once, if you lose your phone." }
                                confirm_label=if has_codes { "Regenerate codes" } else { "Generate codes" } pending on_confirm=on_regenerate on_cancel=cancel/>
                        }.into_any(),
                        TwoFactorPanel::ConfirmDisable => view! {
                            <ConfirmPanel id="confirm-turn-off-two-step" opener="turn-off-two-step" question="Turn off two-step verification?"
                                detail="Your authenticator app and backup codes stop working, and signing in no longer asks for a code."
                                confirm_label="Turn off" pending on_confirm=on_disable on_cancel=cancel/>
                        }.into_any(),
                        TwoFactorPanel::None => if on {
                            view! {
                                <div class="form-actions">
                                    <button type="button" id=change_id.clone() class="btn btn-secondary" disabled=move || pending.get()
                                        on:click=move |_| on_change.run(())>"Change authenticator app"</button>
                                    <button type="button" id=crate::components::scoped_id("regenerate-codes") class="btn btn-secondary"
                                        disabled=move || pending.get()
                                        on:click=move |_| panel.set(TwoFactorPanel::ConfirmRegenerate)>
                                        {if has_codes { "Regenerate backup codes" } else { "Generate backup codes" }}
                                    </button>
                                    <button type="button" id=crate::components::scoped_id("turn-off-two-step") class="btn btn-secondary"
                                        disabled=move || pending.get() || required
                                        aria-describedby=required.then(|| crate::components::scoped_id("turn-off-why"))
                                        on:click=move |_| panel.set(TwoFactorPanel::ConfirmDisable)>"Turn off"</button>
                                </div>
                                // (on the page, not in a tooltip: a keyboard, touch or screen-reader
                                // user never gets a disabled button's tooltip)
                                {required.then(|| view! {
                                    <p class="muted" id=crate::components::scoped_id("turn-off-why")>"Your organisation requires two-step verification, so it can't be turned off. To move it to a new phone or app, use Change authenticator app."</p>
                                })}
                            }.into_any()
                        } else {
                            view! {
                                <div class="form-actions">
                                    <button type="button" id=set_up_id.clone() class="btn btn-primary" disabled=move || pending.get()
                                        on:click=move |_| on_begin.run(())>"Set up authenticator app"</button>
                                </div>
                            }.into_any()
                        },
                    }}
                }
            }}
        </Card>
    }
}
