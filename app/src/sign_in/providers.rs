//! "Continue with Google / GitHub": the buttons (with provider marks drawn here, no remote images),
//! and the calm sentences for how a provider flow ended. The callback (server) sends the person back
//! with `?provider=<slug>&provider_outcome=<code>`; the page says the sentence. The sentences are
//! here, not in `server/errors.rs`, because the page renders them from the address in the browser
//! too; the server's errors for the same failures use these very sentences.
use leptos::prelude::*;

use crate::model::{ProviderKind, ProviderOption};

/// How a flow through a provider ended, when it is worth a sentence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderOutcome {
    NotConfigured,
    Cancelled,
    Refused,
    Unreachable,
    UnknownState,
    Expired,
    EmailInUse,
    NoEmail,
    EmailNotVerified,
    Locked,
    LinkedElsewhere,
    AlreadyConnected,
    NotLinked,
    SessionChanged,
    VerificationEnded,
    NotFresh,
    /// The return came while the client's network had spent its budget of sign-in attempts (the
    /// flow was not used: starting again after a moment works).
    Busy,
    /// Something failed on our side (logged under a reference).
    Failed,
    /// Success: the provider is now connected.
    Connected,
    /// Success: a sign-in with the provider made a new account (no account had this identity).
    NewAccount,
}

impl ProviderOutcome {
    pub const ALL: [ProviderOutcome; 20] = [
        Self::NotConfigured,
        Self::Cancelled,
        Self::Refused,
        Self::Unreachable,
        Self::UnknownState,
        Self::Expired,
        Self::EmailInUse,
        Self::NoEmail,
        Self::EmailNotVerified,
        Self::Locked,
        Self::LinkedElsewhere,
        Self::AlreadyConnected,
        Self::NotLinked,
        Self::SessionChanged,
        Self::VerificationEnded,
        Self::NotFresh,
        Self::Busy,
        Self::Failed,
        Self::Connected,
        Self::NewAccount,
    ];

    /// In the address: `provider_outcome=<code>`.
    pub fn code(self) -> &'static str {
        match self {
            Self::NotConfigured => "not_configured",
            Self::Cancelled => "cancelled",
            Self::Refused => "refused",
            Self::Unreachable => "unreachable",
            Self::UnknownState => "unknown_state",
            Self::Expired => "expired",
            Self::EmailInUse => "email_in_use",
            Self::NoEmail => "no_email",
            Self::EmailNotVerified => "email_not_verified",
            Self::Locked => "locked",
            Self::LinkedElsewhere => "linked_elsewhere",
            Self::AlreadyConnected => "already_connected",
            Self::NotLinked => "not_linked",
            Self::SessionChanged => "session_changed",
            Self::VerificationEnded => "verification_ended",
            Self::NotFresh => "not_fresh",
            Self::Busy => "busy",
            Self::Failed => "failed",
            Self::Connected => "connected",
            Self::NewAccount => "new_account",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.code() == code)
    }

    /// How the page says it: good news and a cancel are statuses (a cancel is the person's own
    /// choice, nothing to alarm them about); the rest are problems (alerts).
    pub fn tone(self) -> Tone {
        match self {
            Self::Connected | Self::NewAccount => Tone::Success,
            Self::Cancelled => Tone::Info,
            _ => Tone::Problem,
        }
    }

    /// What the person reads.
    pub fn sentence(self, provider: ProviderKind) -> String {
        let name = provider.name();
        match self {
            Self::NotConfigured => format!("Signing in with {name} isn't available here."),
            Self::Cancelled => format!("You cancelled at {name}. Nothing was changed."),
            Self::Refused => format!("{name} didn't confirm who you are. Please try again."),
            Self::Unreachable => format!("{name} can't be reached right now. Please try again in a moment."),
            // (a sign-in, a connection or a re-verification: the flow is not known, so neither is which)
            Self::UnknownState => format!(
                "That return from {name} can't be used: it was used already, or was started again in another tab or browser. Nothing was changed. Start again if you still need to."
            ),
            // (a sign-in, a connection or a re-verification alike)
            Self::Expired => format!("You were at {name} for longer than 10 minutes, so that return can't be used. Nothing was changed. Please start again."),
            Self::EmailInUse => format!(
                "An account already uses the email address of this {name} account. Sign in to that account the way you set it up (its password, a passkey, or another provider), then connect {name} from Security & Access."
            ),
            Self::NoEmail => format!("Your {name} account shares no email address, so no account can be made with it. Add one at {name}, or create an account with a password."),
            Self::EmailNotVerified => format!(
                "{name} hasn't verified the email address of this account, so no account can be made with it. Verify it at {name}, or create an account with a password."
            ),
            Self::Locked => format!("Sign-in to this account is paused on this browser after too many wrong codes or passwords. Wait a while, then try {name} again."),
            Self::LinkedElsewhere => format!("This {name} account is already connected to another Gatehouse account. Disconnect it there first."),
            Self::AlreadyConnected => format!("A {name} account is already connected. Disconnect it first to connect another."),
            Self::NotLinked => format!("That {name} account isn't connected to your account."),
            Self::SessionChanged => {
                format!("This browser was signed out, or signed in to another account, while you were at {name}. Nothing was changed.")
            }
            Self::VerificationEnded => format!(
                "Your confirmation that it's you ran out while you were at {name}, so {name} wasn't connected. Connect it again: we'll ask you to confirm it's you first."
            ),
            Self::NotFresh => format!("{name} didn't ask you to sign in again, so it can't confirm it's you. Try again, and sign in at {name} when it asks."),
            Self::Busy => format!(
                "Too many sign-in attempts came from your network just now, so we couldn't finish with {name}. Nothing was changed. Wait a moment, then try again."
            ),
            Self::Failed => format!("Something went wrong on our side while finishing with {name}. Please try again."),
            Self::Connected => format!("{name} is connected. You can now sign in with it."),
            Self::NewAccount => format!(
                "Welcome to Gatehouse. This new account was made with your {name} account: sign in with {name} next time, or add a password or a passkey here. Already had an account? Sign out, sign in to it, and connect {name} there."
            ),
        }
    }
}

/// How an outcome is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    Success,
    Info,
    Problem,
}

/// In the address beside `provider` and `provider_outcome`: the flow was a re-verification ("Confirm
/// it's you"), which Security & Access says at its top, not in Connected accounts.
pub const REVERIFYING: &str = "reverifying";

/// The outcome the page's address names (the callback's `?provider=…&provider_outcome=…`), said
/// once: after hydration the two parameters leave the address (`dom::forget_in_address`; the
/// router keeps its own copy of the query, so the sentence stays until the person moves on), and a
/// reload does not announce it again.
pub fn outcome_in_address() -> Memo<Option<(ProviderKind, ProviderOutcome)>> {
    let query = leptos_router::hooks::use_query_map();
    let outcome = Memo::new(move |_| {
        let q = query.read();
        outcome_from_query(q.get("provider"), q.get("provider_outcome")).filter(|_| q.get(REVERIFYING).is_none())
    });
    // (and the keyboard starts at the sentence, which a screen reader then reads: it arrived with
    // the page, where no live region announces anything)
    Effect::new(move |_| {
        if let Some((kind, said)) = outcome.get_untracked() {
            said_once(kind, said, &["provider", "provider_outcome"]);
        }
    });
    outcome
}

/// Takes `params` out of the page's address and puts the keyboard on the outcome's sentence (in
/// an effect: once hydrated).
fn said_once(kind: ProviderKind, said: ProviderOutcome, params: &[&str]) {
    crate::browser::dom::forget_in_address(params);
    let sentence = said.sentence(kind);
    request_animation_frame(move || crate::browser::dom::focus_sentence(&sentence));
}

/// The outcome of a re-verification at a provider that the page's address names (`provider`,
/// `provider_outcome` and `reverifying`), said once like `outcome_in_address`'s.
pub fn reverify_outcome_in_address() -> Option<(ProviderKind, ProviderOutcome)> {
    let said = leptos_router::hooks::use_query_map().with_untracked(|q| {
        q.get(REVERIFYING).and_then(|_| outcome_from_query(q.get("provider"), q.get("provider_outcome")))
    })?;
    Effect::new(move |_| said_once(said.0, said.1, &["provider", "provider_outcome", REVERIFYING]));
    Some(said)
}

/// The outcome named by the page's address (`provider` and `provider_outcome`), if any.
pub fn outcome_from_query(provider: Option<String>, outcome: Option<String>) -> Option<(ProviderKind, ProviderOutcome)> {
    Some((ProviderKind::from_slug(&provider?)?, ProviderOutcome::from_code(&outcome?)?))
}

/// A provider's mark, drawn here (decorative: the button's text names the provider).
#[component]
pub fn ProviderMark(kind: ProviderKind) -> impl IntoView {
    match kind {
        // four arcs of a "G" in the provider's colours
        ProviderKind::Google => view! {
            <svg class="provider-mark" viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" focusable="false">
                <path d="M21.6 12.2c0-.7-.1-1.4-.2-2H12v3.8h5.4a4.6 4.6 0 0 1-2 3v2.5h3.2c1.9-1.7 3-4.3 3-7.3z" fill="#4285f4"/>
                <path d="M12 22c2.7 0 5-.9 6.6-2.5l-3.2-2.5c-.9.6-2 1-3.4 1-2.6 0-4.8-1.8-5.6-4.1H3.1v2.6A10 10 0 0 0 12 22z" fill="#34a853"/>
                <path d="M6.4 13.9a6 6 0 0 1 0-3.8V7.5H3.1a10 10 0 0 0 0 9z" fill="#fbbc05"/>
                <path d="M12 6c1.5 0 2.8.5 3.8 1.5l2.9-2.9A10 10 0 0 0 3.1 7.5l3.3 2.6C7.2 7.8 9.4 6 12 6z" fill="#ea4335"/>
            </svg>
        }
        .into_any(),
        // a cat's head in a circle, in the text colour
        ProviderKind::GitHub => view! {
            <svg class="provider-mark" viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" focusable="false">
                <circle cx="12" cy="12" r="11" fill="currentColor"/>
                <path d="M7 8.2 8.3 5l2.4 2a6.6 6.6 0 0 1 2.6 0l2.4-2L17 8.2c.7.9 1 1.9 1 3 0 3-2.4 4.6-6 4.6s-6-1.6-6-4.6c0-1.1.3-2.1 1-3z" fill="var(--surface, #fff)"/>
                <path d="M10 16v3.5M14 16v3.5" stroke="var(--surface, #fff)" stroke-width="1.6" stroke-linecap="round"/>
            </svg>
        }
        .into_any(),
    }
}

/// "Continue with Google", "Continue with GitHub" (one per offered provider), and, when a local
/// development provider stands in, a note saying so.
#[component]
pub fn ProviderButtons(
    providers: Vec<ProviderOption>,
    /// The provider whose sign-in is starting (its button says so; all are disabled).
    #[prop(into)]
    pending: Signal<Option<ProviderKind>>,
    #[prop(optional, into)] error: Signal<Option<String>>,
    /// A calm note (role=status), e.g. after cancelling at the provider.
    #[prop(optional, into)]
    notice: Signal<Option<String>>,
    on_choose: Callback<ProviderKind>,
) -> impl IntoView {
    if providers.is_empty() {
        return ().into_any();
    }
    let local = providers.iter().any(|p| p.local);
    view! {
        <div class="provider-buttons stack">
            <crate::components::ErrorMessage message=error/>
            {move || notice.get().map(|m| view! { <p class="notice notice-info" role="status">{m}</p> })}
            {providers.into_iter().map(|p| {
                let kind = p.kind;
                view! {
                    <button type="button" class=format!("btn btn-secondary btn-block btn-provider btn-{}", kind.slug())
                        disabled=move || pending.get().is_some()
                        on:click=move |_| on_choose.run(kind)>
                        <ProviderMark kind/>
                        <span>{move || if pending.get() == Some(kind) {
                            format!("Going to {}…", kind.name())
                        } else {
                            format!("Continue with {}", kind.name())
                        }}</span>
                    </button>
                }
            }).collect_view()}
            {local.then(|| view! {
                <p class="muted provider-local">"Development: these buttons use a local stand-in provider on this machine, not the real Google or GitHub."</p>
            })}
        </div>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_has_one_code_that_reads_back() {
        for o in ProviderOutcome::ALL {
            assert_eq!(ProviderOutcome::from_code(o.code()), Some(o));
            assert!(o.sentence(ProviderKind::GitHub).contains("GitHub"), "{o:?} names the provider");
        }
        assert_eq!(ProviderOutcome::from_code("nope"), None);
        assert_eq!(outcome_from_query(Some("google".into()), Some("cancelled".into())), Some((ProviderKind::Google, ProviderOutcome::Cancelled)));
        assert_eq!(outcome_from_query(Some("myspace".into()), Some("cancelled".into())), None);
    }
}
