//! Design-system primitives and the page frame.
use leptos::prelude::*;

use crate::model::{Moment, Viewer};

/// Skip link, site header (with the account menu when signed in) and `<main>`.
#[component]
pub fn PageFrame(
    /// The signed-in person; `None` on the sign-in pages.
    #[prop(optional)]
    viewer: Option<Viewer>,
    /// Called by the header's Sign out button.
    #[prop(optional)]
    on_sign_out: Option<Callback<()>>,
    #[prop(optional, into)] signing_out: Signal<bool>,
    children: Children,
) -> impl IntoView {
    view! {
        // rel="external": the browser's own fragment navigation moves focus to <main>; the
        // router's client-side navigation would not.
        <a class="skip-link" href="#main" rel="external">"Skip to content"</a>
        <SiteHeader viewer on_sign_out signing_out/>
        <main id="main" class="page" tabindex="-1">
            {children()}
        </main>
    }
}

/// The top bar: brand, and when signed in the account's email and a Sign out button.
#[component]
pub fn SiteHeader(
    viewer: Option<Viewer>,
    on_sign_out: Option<Callback<()>>,
    #[prop(into)] signing_out: Signal<bool>,
) -> impl IntoView {
    view! {
        <header class="site-header">
            <a class="brand" href="/">"Gatehouse"</a>
            {viewer.map(|v| {
                let label = v.display_name.clone().unwrap_or_else(|| v.email.clone());
                let button = view! {
                        <button
                            type="button"
                            class="btn btn-secondary btn-sm"
                            disabled=move || signing_out.get()
                            on:click=move |_| {
                                if let Some(cb) = on_sign_out {
                                    cb.run(())
                                }
                            }
                        >
                            "Sign out"
                        </button>
                };
                let email = view! { <span class="account-email" title=v.email.clone()>{label}</span> };
                // Inside a preview the menu is drawn many times: a group, not more "Account" landmarks.
                if use_context::<PreviewScope>().is_some() {
                    view! { <div class="account-nav" role="group" aria-label="Account">{email}{button}</div> }.into_any()
                } else {
                    view! { <nav class="account-nav" aria-label="Account">{email}{button}</nav> }.into_any()
                }
            })}
        </header>
    }
}

/// A message for the person: errors are announced at once (role=alert).
#[component]
pub fn ErrorMessage(
    #[prop(into)] message: Signal<Option<String>>,
    /// The form's request is under way. Given, each answer that leaves a sentence here is said
    /// anew, the same one again too (a second wrong password would otherwise change nothing a
    /// screen reader announces or a person sees): it leaves the page for a tenth of a second and
    /// comes back. (Keyed on the request ending, not on the sentence: a sentence drawn again for
    /// another reason, another action's answer or a cleared value, is not an answer.)
    #[prop(optional, into)]
    pending: Option<Signal<bool>>,
) -> impl IntoView {
    let away = match pending {
        Some(pending) => away_after_each_answer(pending, move || message.with_untracked(Option::is_some)),
        None => RwSignal::new(false),
    };
    // (`try_`: a drawing the page has just replaced may run once more after its owner, and `away`,
    // were disposed, when the answer that replaced it also changed `message`: a filter's page
    // redraws the activity card and says why it failed)
    move || {
        message.try_get().flatten().filter(|_| !away.try_get().unwrap_or_default()).map(|m| view! { <p class="form-error" role="alert">{m}</p> })
    }
}

/// Set for a tenth of a second (`leave_a_moment`) each time `pending` ends (a request answered)
/// while `said()`.
pub(crate) fn away_after_each_answer(pending: Signal<bool>, said: impl Fn() -> bool + 'static) -> RwSignal<bool> {
    let away = RwSignal::new(false);
    Effect::new(move |was: Option<bool>| {
        let now = pending.get();
        if was == Some(true) && !now && said() {
            leave_a_moment(away);
        }
        now
    });
    away
}

/// Sets `away` for a tenth of a second: a line drawn while it is unset leaves the page and comes
/// back, which a screen reader announces as new (an alert's same sentence again too).
fn leave_a_moment(away: RwSignal<bool>) {
    away.set(true);
    set_timeout(move || _ = away.try_set(false), std::time::Duration::from_millis(100));
}

/// A polite status message (role=status), e.g. after a successful change.
#[component]
pub fn StatusMessage(#[prop(into)] message: Signal<Option<String>>) -> impl IntoView {
    move || message.get().map(|m| view! { <p class="notice notice-success" role="status">{m}</p> })
}

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
    let opener = opener.map(|o| scoped_id(&o));
    // (not in a preview, where many are drawn at once)
    if use_context::<PreviewScope>().is_none() {
        let (open_id, back) = (id.clone(), id.clone());
        Effect::new(move |_| {
            crate::browser::dom::mark_focus(&open_id);
            crate::browser::dom::focus(&open_id);
        });
        on_cleanup(move || crate::browser::dom::return_lost_focus(&back, opener));
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
                <button type="button" class=format!("btn btn-danger{size}") disabled=move || pending.get()
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

/// A relative time with the exact timestamp on hover.
#[component]
pub fn TimeAgo(moment: Moment) -> impl IntoView {
    // Focusable, and the exact time shows as a tooltip on hover and on keyboard focus (CSS).
    view! {
        <time datetime=moment.iso title=moment.exact.clone() data-exact=moment.exact tabindex="0">
            {moment.relative}
        </time>
    }
}

/// `error` while `value` is still the one it was given for: once the person changes that value,
/// the error goes, until the next answer says otherwise (a field's error, and aria-invalid; a
/// password's strength meter, which says "Not accepted" beside it, not "Good"). `None` until an
/// answer: the previews and the server draw the error they are given.
pub fn while_unchanged(error: Signal<Option<String>>, value: RwSignal<String>) -> Signal<Option<String>> {
    let answered = RwSignal::new(None::<String>);
    if use_context::<PreviewScope>().is_none() {
        Effect::new(move |_| {
            let has_error = error.with(Option::is_some);
            answered.set(has_error.then(|| value.get_untracked()));
        });
    }
    Signal::derive(move || error.get().filter(|_| answered.with(|a| a.as_ref().is_none_or(|v| value.with(|now| now == v)))))
}

/// A labelled input. `error` is shown under it and marks it invalid for assistive technology; when
/// an error is set, the input takes the focus, so a screen reader reads its label and then the
/// error (not in a preview, where many are drawn at once).
#[component]
pub fn Field(
    id: &'static str,
    label: &'static str,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional)] autocomplete: Option<&'static str>,
    /// The on-screen keyboard to offer ("numeric" for codes).
    #[prop(optional)]
    inputmode: Option<&'static str>,
    #[prop(optional, into)] hint: Option<String>,
    #[prop(optional)] required: bool,
    value: RwSignal<String>,
    #[prop(optional, into)] error: Signal<Option<String>>,
    /// Ids of further elements that describe the field (a strength meter).
    #[prop(optional)]
    described_by: Option<String>,
) -> impl IntoView {
    let input_id = scoped_id(id);
    // The error is read with the field, which it describes, as the focus moves there. When the
    // focus is in the field already (Enter pressed in it), moving it there reads nothing: the error
    // line then comes as an alert instead (away for a tenth of a second, so the same error again is
    // announced again too), and the keyboard stays where it is (a phone's too).
    let alert = RwSignal::new(false);
    let away = RwSignal::new(false);
    if use_context::<PreviewScope>().is_none() {
        let input_id = input_id.clone();
        Effect::new(move |_| {
            if error.with(Option::is_none) {
                return;
            }
            if crate::browser::dom::has_focus(&input_id) {
                alert.set(true);
                leave_a_moment(away);
            } else {
                alert.set(false);
                crate::browser::dom::focus(&input_id);
            }
        });
    }
    let error = while_unchanged(error, value);
    let hint_id = format!("{input_id}-hint");
    let error_id = format!("{input_id}-error");
    let has_hint = hint.is_some();
    let described = {
        let (hint_id, error_id) = (hint_id.clone(), error_id.clone());
        move || {
            let mut ids = Vec::new();
            if let Some(extra) = &described_by {
                ids.push(extra.clone());
            }
            if has_hint {
                ids.push(hint_id.clone());
            }
            if error.get().is_some() {
                ids.push(error_id.clone());
            }
            (!ids.is_empty()).then(|| ids.join(" "))
        }
    };
    view! {
        <div class="field">
            <label for=input_id.clone()>{label}</label>
            <input
                id=input_id
                name=id
                type=kind
                autocomplete=autocomplete
                inputmode=inputmode
                required=required
                aria-invalid=move || error.get().is_some().then_some("true")
                aria-describedby=described
                // (its first value in the page's HTML too: `bind:value` only sets the property, so
                // a value the page came with, a name asked for with a sign-up link, was missing
                // until the bundle ran; never a password, which stays out of attributes)
                value=(kind != "password").then(|| value.get_untracked())
                bind:value=value
            />
            {hint.map(|h| view! { <p class="field-hint" id=hint_id.clone()>{h}</p> })}
            {move || error.get().filter(|_| !away.get()).map(|e| view! {
                <p class="field-error" id=error_id.clone() role=move || alert.get().then_some("alert")>{e}</p>
            })}
        </div>
    }
}

/// Set by the previews page around each example, so ids stay unique and sections do not become
/// duplicate landmarks when a component is drawn many times on one page.
#[derive(Clone, Debug)]
pub struct PreviewScope(pub String);

/// `id`, prefixed inside a preview.
pub fn scoped_id(id: &str) -> String {
    match use_context::<PreviewScope>() {
        Some(PreviewScope(p)) => format!("{p}-{id}"),
        None => id.to_string(),
    }
}

/// A section card titled by an `<h2>`: a named region on a page, a plain group inside a preview.
#[component]
pub fn Card(
    /// The section's id (so `/settings/security#connected-accounts` lands on it), and the base for
    /// the heading's.
    id: &'static str,
    title: &'static str,
    /// Extra content beside the title (badges, actions).
    #[prop(optional)]
    header_extra: Option<ViewFn>,
    children: Children,
) -> impl IntoView {
    let section_id = scoped_id(id);
    let heading_id = scoped_id(&format!("{id}-heading"));
    let header = view! {
        <div class="card-header">
            <h2 id=heading_id.clone()>{title}</h2>
            {header_extra.map(|f| f.run())}
        </div>
    };
    if use_context::<PreviewScope>().is_some() {
        view! { <div class="card" id=section_id role="group" aria-labelledby=heading_id>{header}{children()}</div> }.into_any()
    } else {
        view! { <section class="card" id=section_id aria-labelledby=heading_id>{header}{children()}</section> }.into_any()
    }
}

/// A panel that opens in place of the button that opened it (which takes the focus with it, to
/// the page) takes the keyboard focus once drawn: the element with the id `id`, which must be
/// focusable (`tabindex="-1"` for a group, so a screen reader reads its name and then its content
/// in order). Not in a preview, where many are drawn at once.
pub fn focus_when_drawn(id: String) {
    if use_context::<PreviewScope>().is_none() {
        Effect::new(move |_| {
            let id = id.clone();
            request_animation_frame(move || crate::browser::dom::focus(&id));
        });
    }
}

/// A modal dialog's focus, for the dialog whose element has the id `dialog` (unique per dialog):
/// once it is on the page, everything else is inert (`dom::isolate`: Tab and a screen reader stay
/// in the dialog) and `focus_in` moves focus into it; when it closes, the page is live again and
/// focus goes back to what had it when the dialog opened (`dom::mark_focus`, `dom::return_focus`).
/// (A dialog drawn in a preview leaves the previews page live.)
pub fn dialog_focus(dialog: String, focus_in: impl Fn() + 'static) {
    let back = dialog.clone();
    let modal = use_context::<PreviewScope>().is_none();
    Effect::new(move |_| {
        crate::browser::dom::mark_focus(&dialog);
        if modal {
            crate::browser::dom::isolate(&dialog);
        }
        focus_in()
    });
    on_cleanup(move || {
        crate::browser::dom::release(&back);
        crate::browser::dom::return_focus(&back);
    });
}
