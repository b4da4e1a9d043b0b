//! "Was this you?": at the top of the page while an unfamiliar sign-in (another session's) is
//! unanswered. Yes dismisses it; No, secure my account ends that session and every other one, then
//! opens Change password (re-verifying first when needed), in one step.
use leptos::prelude::*;

use super::context::{shown_error, Change, SecurityContext, Sensitive};
use crate::components::{ErrorMessage, TimeAgo};
use crate::error::AppError;
use crate::model::{taken_back_sentence, ways_in_sentence, SecuredView, SecurityOverview, SignInPromptView};

/// "Yes, it was me": the prompt goes away.
///
/// - Auth: signed in, from another session than the one asked about.
/// - Effects: the alert is answered; a `sign_in_confirmed` event.
/// - Errors: `NotFound` for an unknown id, another account's alert, an answered one, or the alert
///   about this very session alike; `Unavailable`.
#[server(prefix = "/api", endpoint = "security/sign-in-alert/confirm")]
pub async fn confirm_sign_in(alert_id: String) -> Result<(), AppError> {
    use crate::server::{auth, client, fail, reject, services};
    let session = auth().map_err(reject)?;
    let id = uuid::Uuid::parse_str(&alert_id).map_err(|_| reject(AppError::NotFound))?;
    domain::auth::alerts::confirm(&services()?, &session, id, &client()).await.map_err(fail)
}

/// "No, secure my account": ends the asked-about session and every other one (this one stays), and
/// removes the passkeys, connected accounts and authenticator app that the asked-about session, an
/// earlier unanswered alert's, or any later one (never this one) added. Answers how many sessions
/// ended and what was removed; the page then opens Change password.
///
/// - Auth: signed in and recently verified (like every ending of sessions), from another session
///   than the one asked about.
/// - Effects: the alert and the account's earlier unanswered ones are answered; other sessions
///   revoked; what those sessions and later ones added deleted, each with its event and notice
///   email; pending second steps forgotten; a `sign_in_reported` event.
/// - Errors: `ReverifyRequired` (the page asks, then retries); `NotFound` as for `confirm_sign_in`;
///   `Unavailable`.
#[server(prefix = "/api", endpoint = "security/sign-in-alert/secure")]
pub async fn secure_account(alert_id: String) -> Result<SecuredView, AppError> {
    use crate::server::{auth, client, fail, reject, services};
    let session = auth().map_err(reject)?;
    let id = uuid::Uuid::parse_str(&alert_id).map_err(|_| reject(AppError::NotFound))?;
    let secured = domain::auth::alerts::secure_account(&services()?, &session, id, &client()).await.map_err(fail)?;
    Ok(SecuredView {
        ended: secured.ended,
        taken_back: crate::model::taken_back_words(&secured.taken_back),
        ways_in: crate::model::taken_back_words(&secured.ways_in),
    })
}

/// The prompt on the page: its two answers, made once per visit.
#[derive(Clone, Copy)]
pub struct SignInPromptSection {
    confirm: Change<ConfirmSignIn>,
    secure: Sensitive<SecureAccount>,
    /// What "No" did, for the message after it, and whether the account has a password.
    secured: RwSignal<Option<(SecuredView, bool)>>,
    /// "Yes" was answered: said where the prompt was (it goes with the page's refresh).
    confirmed: RwSignal<bool>,
}

/// What the page says after "Yes, it was me".
pub const CONFIRMED: &str = "Thanks. That sign-in is marked as yours; a new one from elsewhere will be asked about again.";

impl SignInPromptSection {
    pub fn new() -> Self {
        let ctx = expect_context::<SecurityContext>();
        let section = SignInPromptSection {
            confirm: ctx.change(),
            secure: Sensitive::of(ctx.reverify, ctx.change()),
            secured: RwSignal::new(None),
            confirmed: RwSignal::new(false),
        };
        let secure = section.secure;
        let secured = section.secured;
        let (confirm, confirmed) = (section.confirm, section.confirmed);
        // Yes: said, and the keyboard goes to what was said (the answered prompt leaves the page)
        Effect::new(move |_| {
            if let Some(Ok(())) = confirm.value().get() {
                confirmed.set(true);
                crate::browser::dom::focus_after_redraw(&crate::components::scoped_id("sign-in-confirmed"));
            }
        });
        // No: once the sessions ended, the next step is a new password (an account without one
        // is told to check its passkeys and connected accounts instead: a password would only add
        // a way in)
        Effect::new(move |_| {
            if let Some(Ok(done)) = secure.action.value().get() {
                let has_password = ctx.shown.with_untracked(|o| o.as_ref().is_some_and(|o| o.password.has_password));
                secured.set(Some((done, has_password)));
                if has_password {
                    ctx.open_password();
                }
            }
        });
        section
    }

    /// What an answer said ("Thanks for confirming", or what "No" ended and removed): drawn once
    /// for the visit, apart from the prompt, which leaves with the reload after the answer (drawn
    /// with it, the sentence was put on the page twice, and read twice).
    pub fn said(self) -> impl IntoView {
        let SignInPromptSection { secured, confirmed, .. } = self;
        view! {
            {move || secured.get().map(|(secured, has_password)| view! { <SecuredNotice secured has_password/> })}
            {move || confirmed.get().then(|| view! {
                <p class="notice notice-success sign-in-confirmed" id=crate::components::scoped_id("sign-in-confirmed") role="status">{CONFIRMED}</p>
            })}
        }
    }

    /// "Was this you?", while a sign-in waits for its answer.
    pub fn view(self, o: &SecurityOverview) -> impl IntoView {
        let SignInPromptSection { confirm, secure, .. } = self;
        // (each `pending()` makes a memo: made once here, not on every read)
        let (confirming, securing) = (confirm.pending(), secure.action.pending());
        let pending = Signal::derive(move || confirming.get() || securing.get());
        let error = Signal::derive(move || shown_error(confirm.value().get()).or_else(|| shown_error(secure.action.value().get())));
        view! {
            {o.prompt.clone().map(|prompt| {
                let id = prompt.id.clone();
                let id2 = prompt.id.clone();
                view! {
                    <SignInPromptCard
                        prompt
                        pending
                        error
                        on_yes=Callback::new(move |_| { confirm.dispatch(ConfirmSignIn { alert_id: id.clone() }); })
                        on_no=Callback::new(move |_| secure.dispatch(SecureAccount { alert_id: id2.clone() }))
                        held=super::two_factor::TwoFactorSection::first(o)
                    />
                }
            })}
        }
    }
}

/// After "No, secure my account": "Signed out of 2 other sessions. Also removed what that sign-in or
/// a later one added: the passkey “Blue key”. Now choose a new password below." (Without a
/// password: check the passkeys and connected accounts instead.)
#[component]
pub fn SecuredNotice(secured: SecuredView, has_password: bool) -> impl IntoView {
    let SecuredView { ended, taken_back, ways_in } = secured;
    let removed = taken_back_sentence(&taken_back).map(|s| format!(" {s}")).unwrap_or_default();
    let removed = removed + &ways_in_sentence(&ways_in).map(|s| format!(" {s}")).unwrap_or_default();
    let next = if has_password {
        "Now choose a new password below."
    } else {
        "Now check the passkeys and connected accounts below, and remove any you don't recognise."
    };
    let message = format!("{}{removed} {next}", signed_out_words(ended));
    view! { <p class="notice notice-success sign-in-secured" role="status">{message}</p> }
}

/// How many other sessions "No, secure my account" ended, as its notice says it.
fn signed_out_words(ended: u64) -> String {
    match ended {
        // (the reported sign-in had ended already, and nothing else was signed in)
        0 => "No other session was signed in.".to_string(),
        1 => "Signed out of 1 other session.".to_string(),
        n => format!("Signed out of {n} other sessions."),
    }
}

/// "New sign-in: Chrome 131 on Windows 10, near Berlin, 2 hours ago. Was this you?"
#[component]
pub fn SignInPromptCard(
    prompt: SignInPromptView,
    #[prop(into)] pending: Signal<bool>,
    #[prop(optional, into)] error: Signal<Option<String>>,
    on_yes: Callback<()>,
    on_no: Callback<()>,
    /// The organisation requires two-step verification and this session has not met it: the
    /// answers wait (the server refuses them until then), and the card says what can be done now.
    #[prop(optional)]
    held: bool,
) -> impl IntoView {
    let held_id = crate::components::scoped_id("sign-in-prompt-held");
    let held_by = held.then(|| held_id.clone());
    let near = match &prompt.place {
        Some(place) => format!(", near {place}"),
        None => String::new(),
    };
    let title_id = crate::components::scoped_id("sign-in-prompt-title");
    // a named region on the page; a plain group inside a preview (where it appears twice). Its
    // name is short (a landmark list reads it): the heading says the rest.
    let role = if use_context::<crate::components::PreviewScope>().is_some() { "group" } else { "region" };
    view! {
        <section class="sign-in-prompt" aria-label="New sign-in: was this you?" role=role>
            <h2 id=title_id class="sign-in-prompt-title">
                {format!("New sign-in: {}{near}, ", prompt.device)} <TimeAgo moment=prompt.at.clone()/> ". Was this you?"
            </h2>
            <p class="muted sign-in-prompt-detail">
                {
                    let from = if prompt.location == "Unknown" { "an unknown location".to_string() } else { prompt.location.clone() };
                    format!("Signed in with {} from {from} (IP address {}).", prompt.method, prompt.ip)
                }
            </p>
            <ErrorMessage message=error/>
            {held.then(|| view! {
                <p class="notice notice-warning" id=held_id.clone()>"Your organisation requires two-step verification first: set it up below, then answer here. If this wasn't you, you can already sign that device out under Sessions."</p>
            })}
            <div class="form-actions">
                <button type="button" class="btn btn-secondary" disabled=move || pending.get() || held aria-describedby=held_by.clone()
                    on:click=move |_| on_yes.run(())>
                    "Yes, it was me"
                </button>
                <button type="button" class="btn btn-danger" disabled=move || pending.get() || held aria-describedby=held_by.clone()
                    on:click=move |_| on_no.run(())>
                    "No, secure my account"
                </button>
            </div>
            <div class="muted sign-in-prompt-help">
                <p>"“No, secure my account”:"</p>
                <ul>
                    <li>"signs out every device but this one;"</li>
                    <li>"removes the passkeys, connected accounts and authenticator app that sign-in added (and any other new sign-in you haven't confirmed, or a later one);"</li>
                    <li>"then asks you for a new password."</li>
                </ul>
            </div>
        </section>
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn securing_the_account_says_how_many_sessions_it_signed_out_and_never_zero() {
        assert_eq!(super::signed_out_words(0), "No other session was signed in.");
        assert_eq!(super::signed_out_words(1), "Signed out of 1 other session.");
        assert_eq!(super::signed_out_words(3), "Signed out of 3 other sessions.");
    }
}
