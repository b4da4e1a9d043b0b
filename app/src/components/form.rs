//! A form's parts: the labelled field, and the lines that answer the form (an error, announced at
//! once; a polite status).
use leptos::either::Either;
use leptos::prelude::*;

use super::{scoped_id, PreviewScope};

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
    /// Its id, for a field the sentence is about (`Field`'s `refused_above`).
    #[prop(optional)]
    id: Option<&'static str>,
) -> impl IntoView {
    let id = id.map(scoped_id);
    let away = match pending {
        Some(pending) => away_after_each_answer(pending, move || message.with_untracked(Option::is_some)),
        None => RwSignal::new(false),
    };
    // (`try_`: a drawing the page has just replaced may run once more after its owner, and `away`,
    // were disposed, when the answer that replaced it also changed `message`: a filter's page
    // redraws the activity card and says why it failed)
    move || {
        let m = message.try_get().flatten()?;
        Some(if away.try_get().unwrap_or_default() {
            Either::Right(id.clone().map(|id| view! { <span id=id hidden></span> }))
        } else {
            Either::Left(view! { <p class="form-error" role="alert" id=id.clone()>{m}</p> })
        })
    }
}

/// Set for a tenth of a second (`leave_a_moment`) each time `pending` ends (a request answered)
/// while `said()`. Meanwhile a line with an id leaves an empty, hidden element with that id in its
/// place: the field it describes never points at nothing.
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

/// A polite status message (role=status), e.g. after a successful change. On a page that is read
/// again and drawn anew after each change (Security & Access, which provides [`Redrawing`]), it waits
/// for that drawing.
#[component]
pub fn StatusMessage(#[prop(into)] message: Signal<Option<String>>) -> impl IntoView {
    let redrawing = use_context::<Redrawing>();
    // (a sentence already shown stays through another section's redrawing: drawn again, it would
    // be read out again)
    let shown = Memo::new(move |before: Option<&Option<String>>| {
        let now = message.get();
        let waits = now.is_some() && before.is_none_or(|b| *b != now) && redrawing.is_some_and(|r| r.0.get());
        if waits {
            before.cloned().flatten()
        } else {
            now
        }
    });
    move || shown.get().map(|m| view! { <p class="notice notice-success" role="status">{m}</p> })
}

/// While true, the page is being read again after a change and will draw the changed section anew:
/// what the change says ([`StatusMessage`]) waits to be drawn with it.
#[derive(Clone, Copy)]
pub struct Redrawing(pub Signal<bool>);

/// Empties `signal` if it holds something: setting it wakes what reads it even to the `None` it
/// had, and a field woken that way takes an earlier answer still standing for an answer about
/// what is typed now (`while_unchanged`).
pub fn clear<T, S>(signal: S)
where
    S: WithUntracked<Value = Option<T>> + Set<Value = Option<T>>,
{
    if signal.with_untracked(Option::is_some) {
        signal.set(None);
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
    /// A one-field form's error, said above the form (`ErrorMessage` with this id: an alert, said
    /// again on each answer) and about this field: it marks the field invalid and describes it,
    /// until its value changes. (The form keeps the focus on the field itself.)
    #[prop(optional, into)]
    refused_above: Option<(Signal<Option<String>>, &'static str)>,
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
    let (above, above_id) = match refused_above {
        Some((above, id)) => (while_unchanged(above, value), Some(scoped_id(id))),
        None => (Signal::from(None::<String>), None),
    };
    // A new password can be shown as it is typed (NIST SP 800-63B: offer to display the secret):
    // there is no second field to repeat it in, so a typo would otherwise go unseen into the
    // account. (A checkbox, as Google's: its state is said as it is, and its name is its own.)
    let revealable = kind == "password" && autocomplete == Some("new-password");
    let shown = RwSignal::new(false);
    // Hidden again when a form is sent: a password manager offers to save what was a password
    // field, and the password is not left on the screen
    if revealable {
        Effect::new(move |_| {
            if shown.get() {
                let sent = window_event_listener(leptos::ev::submit, move |_| {
                    shown.try_set(false);
                });
                on_cleanup(move || sent.remove());
            }
        });
    }
    let reveal_id = format!("{input_id}-show");
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
            if let Some(id) = above_id.as_ref().filter(|_| above.with(Option::is_some)) {
                ids.push(id.clone());
            }
            (!ids.is_empty()).then(|| ids.join(" "))
        }
    };
    let input = view! {
        <input
            id=input_id.clone()
            name=id
            type=move || if shown.get() { "text" } else { kind }
            // (a password shown as text is still a password: no spelling service, capitals
            // or autocorrection, and a phone's keyboard does not learn it; Safari's
            // `autocorrect` is no attribute the view knows, so it is added below)
            spellcheck=(kind == "password").then_some("false")
            autocapitalize=(kind == "password").then_some("none")
            autocomplete=autocomplete
            inputmode=inputmode
            required=required
            aria-invalid=move || (error.with(Option::is_some) || above.with(Option::is_some)).then_some("true")
            aria-describedby=described
            // (its first value in the page's HTML too: `bind:value` only sets the property, so
            // a value the page came with, a name asked for with a sign-up link, was missing
            // until the bundle ran; never a password, which stays out of attributes)
            value=(kind != "password").then(|| value.get_untracked())
            bind:value=value
        />
    }
    .add_any_attr(leptos::tachys::html::attribute::custom::custom_attribute("autocorrect", (kind == "password").then_some("off")));
    view! {
        <div class="field">
            <label for=input_id.clone()>{label}</label>
            {input}
            {revealable.then(|| view! {
                <label class="field-reveal" for=reveal_id.clone()>
                    <input type="checkbox" id=reveal_id.clone() aria-controls=input_id.clone() bind:checked=shown/>
                    "Show password"
                </label>
            })}
            {hint.map(|h| view! { <p class="field-hint" id=hint_id.clone()>{h}</p> })}
            {move || error.get().map(|e| if away.get() {
                Either::Right(view! { <span id=error_id.clone() hidden></span> })
            } else {
                Either::Left(view! { <p class="field-error" id=error_id.clone() role=move || alert.get().then_some("alert")>{e}</p> })
            })}
        </div>
    }
}
