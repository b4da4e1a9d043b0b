//! /sign-up: the address (and an optional name) first; the password or passkey is chosen after
//! the emailed link confirms it.
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos_meta::Title;

use super::{links, ProviderChoice};
use crate::auth_api::SignUp;
use crate::components::{ErrorMessage, Field, PageFrame};
use crate::error::AppError;

/// /sign-up
#[component]
pub fn SignUpPage() -> impl IntoView {
    let return_to = super::return_to();
    super::leave_if_signed_in(return_to);
    let sign_in_href = super::keeping_return_to("/sign-in", return_to);
    let action = ServerAction::<SignUp>::new();
    let asked = RwSignal::new(String::new());
    let sent_to = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        if let Some(Ok(())) = action.value().get() {
            sent_to.set(Some(asked.get_untracked()));
        }
    });
    let error = Signal::derive(move || action.value().get().and_then(|r| r.err()).map(|e| e.to_string()));
    let error_field = Signal::derive(move || match action.value().get() {
        Some(Err(AppError::Invalid { field, .. })) => ["email", "display_name"].into_iter().find(|f| *f == field),
        _ => None,
    });
    let on_submit = Callback::new(move |a: NewAccount| {
        asked.set(a.email.trim().to_string());
        action.dispatch(SignUp { email: a.email, display_name: a.display_name });
    });
    let on_again = Callback::new(move |_| {
        action.value().set(None);
        sent_to.set(None);
    });
    view! {
        <Title text="Create an account · Gatehouse"/>
        <PageFrame>
            <div class="auth-card">
                <h1>"Create your Gatehouse account"</h1>
                {move || match sent_to.get() {
                    Some(email) => view! { <links::CheckInbox sent=links::Sent::SignUp email on_again/> }.into_any(),
                    None => view! { <SignUpForm pending=action.pending() error error_field on_submit/> }.into_any(),
                }}
                {ProviderChoice::new(true).view(true)}
                <p class="auth-footer">"Already have an account? " <a href=sign_in_href>"Sign in instead"</a></p>
            </div>
        </PageFrame>
    }
}

/// What the sign-up form submits.
#[derive(Clone, Debug, PartialEq)]
pub struct NewAccount {
    pub email: String,
    pub display_name: String,
}

/// Email and optional display name; the password (or passkey) is chosen after the address is
/// confirmed, from the emailed link.
#[component]
pub fn SignUpForm(
    #[prop(into)] pending: Signal<bool>,
    #[prop(optional, into)] error: Signal<Option<String>>,
    /// The field `error` is about ("email", "display_name"): said under that field, which takes
    /// the focus, instead of above the form.
    #[prop(optional, into)]
    error_field: Signal<Option<&'static str>>,
    on_submit: Callback<NewAccount>,
) -> impl IntoView {
    let email = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let on_field = move |field: &'static str| Signal::derive(move || error.get().filter(|_| error_field.get() == Some(field)));
    let above = Signal::derive(move || error.get().filter(|_| error_field.get().is_none()));
    // A refusal said above the form (too much pasted at once, too many sign-ups) after Continue
    // leaves the keyboard in the form, on the email: Continue, disabled while the request ran, had
    // dropped the focus to the page. After Enter in a field, the keyboard stays in that field.
    // (A field's own refusal takes the focus to that field: `Field`.)
    if use_context::<crate::components::PreviewScope>().is_none() {
        Effect::new(move |_| {
            if above.with(Option::is_some) {
                crate::browser::dom::focus_if_lost("email");
            }
        });
    }
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        on_submit.run(NewAccount { email: email.get_untracked(), display_name: name.get_untracked() });
    };
    view! {
        <form method="post" class="stack" novalidate on:submit=submit aria-busy=move || pending.get().then_some("true")>
            <ErrorMessage message=above pending/>
            <Field id="email" label="Email" kind="email" autocomplete="username" required=true value=email error=on_field("email")/>
            <Field id="display_name" label="Display name (optional)" autocomplete="name" value=name error=on_field("display_name")/>
            <p class="muted">"We'll email you a link to confirm the address. Then you choose your password."</p>
            <div class="form-actions">
                <button type="submit" class="btn btn-primary" disabled=move || pending.get()>
                    {move || if pending.get() { "Sending link…" } else { "Continue" }}
                </button>
            </div>
        </form>
    }
}
