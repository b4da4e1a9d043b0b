//! In-page confirmations: the panel that asks before an action ends something, Escape as Cancel
//! (in-page forms' too), and the choice and notice about the sessions a removal signs out.
use leptos::prelude::*;

use super::{scoped_id, PreviewScope};

/// An `on:keydown` handler for an in-page form: Escape, with the focus anywhere in it, does what its
/// Cancel button does (as in the confirmations and dialogs).
pub fn escape_cancels(cancel: impl Fn() + 'static) -> impl FnMut(leptos::ev::KeyboardEvent) + 'static {
    move |ev| {
        if ev.key() == "Escape" {
            ev.stop_propagation();
            cancel();
        }
    }
}

/// An in-page confirmation: the question, a danger button and Cancel. Used wherever an action
/// ends something (sessions, passkeys, codes), so every confirmation reads and behaves alike.
///
/// When it opens it takes the keyboard focus (a screen reader reads the question; Tab goes on to
/// the danger button): the button that opened it is disabled or replaced meanwhile, and the focus
/// would otherwise drop to the page, whose next Tab skips past the panel. Escape, with the focus
/// anywhere in it, is Cancel. When it closes with the focus nowhere, the focus goes back to that
/// button (`opener`: its id, for a button drawn anew).
#[component]
pub fn ConfirmPanel(
    /// Unique on the page (scoped inside a preview by the panel): "confirm-revoke-<session id>".
    #[prop(into)]
    id: String,
    /// The id of the button that opens it, when closing the panel draws that button anew (the
    /// focus goes back to the new one).
    #[prop(optional, into)]
    opener: Option<String>,
    /// The question, also the group's accessible name: "Revoke Firefox on Windows in Berlin?"
    #[prop(into)]
    question: String,
    /// What follows the question: "It will be signed out at once."
    #[prop(optional, into)]
    detail: String,
    /// The danger button's text.
    #[prop(into)]
    confirm_label: String,
    #[prop(into)] pending: Signal<bool>,
    on_confirm: Callback<()>,
    on_cancel: Callback<()>,
    #[prop(optional)] small: bool,
    /// A choice drawn between the question and the buttons: "Also sign out …".
    #[prop(optional_no_strip)]
    choice: Option<ViewFn>,
) -> impl IntoView {
    let size = if small { " btn-sm" } else { "" };
    let label = question.clone();
    let id = scoped_id(&id);
    let confirm_id = format!("{id}-confirm");
    let opener = opener.map(|o| scoped_id(&o));
    // (not in a preview, where many are drawn at once)
    if use_context::<PreviewScope>().is_none() {
        let (open_id, back) = (id.clone(), id.clone());
        Effect::new(move |_| {
            crate::browser::dom::mark_focus(&open_id);
            crate::browser::dom::focus(&open_id);
        });
        on_cleanup(move || crate::browser::dom::return_lost_focus(&back, opener));
        // a refusal leaves the panel open: the keyboard goes back to its button (disabled while
        // the request ran, it had dropped the focus to the page; the refusal is read as an alert)
        let button = confirm_id.clone();
        Effect::new(move |was: Option<bool>| {
            let now = pending.get();
            if was == Some(true) && !now {
                let button = button.clone();
                request_animation_frame(move || crate::browser::dom::focus_if_lost(&button));
            }
            now
        });
    }
    // the detail is the group's description: read after its name when the focus lands on it
    let detail_id = (!detail.is_empty()).then(|| format!("{id}-detail"));
    let described_by = detail_id.clone();
    view! {
        <div class="confirm" id=id role="group" aria-label=label aria-describedby=described_by tabindex="-1"
            on:keydown=escape_cancels(move || on_cancel.run(()))>
            <p>{question} {detail_id.map(|d| view! { " " <span id=d>{detail}</span> })}</p>
            {choice.map(|c| c.run())}
            <div class="form-actions">
                <button type="button" id=confirm_id class=format!("btn btn-danger{size}") disabled=move || pending.get()
                    on:click=move |_| on_confirm.run(())>
                    {confirm_label}
                </button>
                <button type="button" class=format!("btn btn-secondary{size}") on:click=move |_| on_cancel.run(())>"Cancel"</button>
            </div>
        </div>
    }
}

/// The choice in a removal's confirmation (a passkey, a connected account): also sign out the
/// `count` other sessions that signed in with it. `checked` starts ticked (made as the
/// confirmation opens): a lost or stolen device's sessions should go with its way of signing in.
/// Unticked, a hint says what that means: it describes the box, and a polite live region reads it
/// out as the box is unticked. `id`: unique on the page (the confirmation's own).
pub fn sign_out_sessions_choice(id: &str, count: u32, checked: RwSignal<bool>, pending: Signal<bool>) -> Option<ViewFn> {
    let label = match count {
        0 => return None,
        1 => "Also sign out the other session that signed in with it".to_string(),
        n => format!("Also sign out the {n} other sessions that signed in with it"),
    };
    let hint_id = scoped_id(&format!("{id}-stays"));
    Some(ViewFn::from(move || {
        let (hint_id, described) = (hint_id.clone(), hint_id.clone());
        view! {
            <label class="checkbox">
                <input type="checkbox" prop:checked=move || checked.get() disabled=move || pending.get()
                    aria-describedby=move || (!checked.get()).then(|| described.clone())
                    on:change=move |ev| checked.set(event_target_checked(&ev))/>
                " " {label.clone()}
            </label>
            <div aria-live="polite">
                {move || (!checked.get()).then(|| view! {
                    <p class="field-hint" id=hint_id.clone()>{stay_signed_in(count)}</p>
                })}
            </div>
        }
    }))
}

/// Under the unticked choice: what leaving those sessions alone means.
fn stay_signed_in(count: u32) -> &'static str {
    if count == 1 {
        "That session stays signed in. You can sign it out later under Sessions."
    } else {
        "Those sessions stay signed in. You can sign them out later under Sessions."
    }
}

/// What a notice adds once a removal signed out `ended` sessions with it.
pub fn signed_out_with_it(ended: u64) -> String {
    match ended {
        0 => String::new(),
        1 => ", and the session that signed in with it is signed out".to_string(),
        n => format!(", and the {n} sessions that signed in with it are signed out"),
    }
}
