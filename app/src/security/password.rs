//! Password section: whether the account has a password, and Change password.
use leptos::ev::SubmitEvent;
use leptos::prelude::*;

use crate::components::{Card, ErrorMessage, Field, StatusMessage, TimeAgo};
use crate::error::AppError;
use crate::model::PasswordView;

/// Changes the password. Signs out every other session of the account; this session gets a new
/// token and stays signed in.
///
/// - Auth: signed in; the current password is the proof of identity.
/// - Effects: new hash, other sessions revoked, fresh session cookie, `password_changed` event —
///   all in one transaction.
/// - Errors: `NotSignedIn`, `Invalid { field: "current_password" }`, `PasswordRejected`, `Unavailable`.
/// - Rate limit: password hashing is bounded by the hasher's concurrency limit.
#[server(prefix = "/api", endpoint = "security/password/change")]
pub async fn change_password(current_password: String, new_password: String) -> Result<(), AppError> {
    use crate::server::{auth, client, fail, reject, services, set_session_cookie};
    use domain::secret::Password;
    let session = auth().map_err(reject)?;
    let svc = services()?;
    let token = domain::auth::accounts::change_password(
        &svc,
        &session,
        &Password::new(current_password),
        &Password::new(new_password),
        &client(),
    )
    .await
    .map_err(fail)?;
    set_session_cookie(&token);
    Ok(())
}

/// What the change-password form submits.
#[derive(Clone, Debug, PartialEq)]
pub struct PasswordChange {
    pub current: String,
    pub new: String,
}

#[component]
pub fn PasswordCard(
    status: PasswordView,
    /// Show the form open (previews).
    #[prop(optional)]
    initially_open: bool,
    #[prop(into)] pending: Signal<bool>,
    #[prop(optional, into)] error: Signal<Option<String>>,
    #[prop(optional, into)] success: Signal<Option<String>>,
    on_submit: Callback<PasswordChange>,
) -> impl IntoView {
    let open = RwSignal::new(initially_open);
    let current = RwSignal::new(String::new());
    let new = RwSignal::new(String::new());
    // A successful change closes the form and forgets what was typed.
    Effect::new(move |_| {
        if success.get().is_some() {
            open.set(false);
            current.set(String::new());
            new.set(String::new());
        }
    });
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        on_submit.run(PasswordChange { current: current.get_untracked(), new: new.get_untracked() });
    };
    let summary = match (&status.has_password, &status.changed) {
        (true, Some(changed)) => view! {
            <p><strong>"Password set"</strong><span class="muted">" · last changed " <TimeAgo moment=changed.clone()/></span></p>
        }
        .into_any(),
        (true, None) => view! { <p><strong>"Password set"</strong></p> }.into_any(),
        (false, _) => view! {
            <p><strong>"No password set"</strong><span class="muted">" · you sign in another way"</span></p>
        }
        .into_any(),
    };
    let has_password = status.has_password;
    view! {
        <Card id="password" title="Password" header_extra=ViewFn::from(move || view! {
            {move || (has_password && !open.get()).then(|| view! {
                <button type="button" class="btn btn-secondary" on:click=move |_| open.set(true)>
                    "Change password"
                </button>
            })}
        })>
            {summary}
            <StatusMessage message=success/>
            <Show when=move || open.get()>
                <form class="stack" novalidate on:submit=submit aria-busy=move || pending.get().then_some("true")>
                    <ErrorMessage message=error/>
                    <Field id="current_password" label="Current password" kind="password" autocomplete="current-password" required=true value=current/>
                    <Field
                        id="new_password"
                        label="New password"
                        kind="password"
                        autocomplete="new-password"
                        required=true
                        hint="At least 15 characters. Changing it signs you out everywhere else."
                        value=new
                    />
                    <div class="form-actions">
                        <button type="submit" class="btn btn-primary" disabled=move || pending.get()>
                            {move || if pending.get() { "Updating…" } else { "Update password" }}
                        </button>
                        <button type="button" class="btn btn-secondary" on:click=move |_| {
                            open.set(false);
                            current.set(String::new());
                            new.set(String::new());
                        }>"Cancel"</button>
                    </div>
                </form>
            </Show>
        </Card>
    }
}
