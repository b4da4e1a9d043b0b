//! The Security & Access page (/settings/security): the frame and its sections.
//!
//! Each section is one module (or folder) that owns its server functions, its state and actions
//! (a `*Section`: made once per visit by the page, so a reload of the overview keeps open panels),
//! and its props-only `*Card` components (previewed on /previews). The page provides what the
//! sections share (`context::SecurityContext`: the overview, its refresh, Sign out, the
//! re-verification gate) and composes them. Adding a section: its module, then a line here to make
//! it and one to place it.
pub mod activity;
pub mod coming_soon;
pub mod connected_accounts;
pub mod context;
pub mod overview;
pub mod passkeys;
pub mod password;
pub mod reverify;
pub mod sessions;
pub mod sign_in_prompt;
pub mod two_factor;

use leptos::prelude::*;
use leptos_meta::Title;

use crate::auth_api::SignOut;
use crate::browser::dom;
use crate::components::PageFrame;
use crate::error::AppError;
use coming_soon::ComingSoonCard;
use connected_accounts::ConnectedAccountsSection;
use context::SecurityContext;
use passkeys::PasskeysSection;
use password::PasswordSection;
use reverify::ReverifySection;
use activity::ActivitySection;
use sessions::SessionsSection;
use sign_in_prompt::SignInPromptSection;
use two_factor::TwoFactorSection;

/// /settings/security
#[component]
pub fn SecurityPage() -> impl IntoView {
    let ctx = SecurityContext::provide();
    let reverify = ReverifySection::new();
    let password = PasswordSection::new();
    let two_factor = TwoFactorSection::new();
    let passkeys = PasskeysSection::new();
    let connected_accounts = ConnectedAccountsSection::new();
    let sessions = SessionsSection::new();
    let activity = ActivitySection::new();
    let prompt = SignInPromptSection::new();
    let overview = ctx.overview;

    // A session that ended elsewhere (signed out, password changed on another device) goes back to
    // sign-in on its next action.
    Effect::new(move |_| {
        if let Some(Err(AppError::NotSignedIn)) = overview.get() {
            dom::go_to(context::SIGNED_OUT_ELSEWHERE);
        }
    });

    // Drawn anew after a change: the focus goes on in the section the change was made in.
    Effect::new(move |_| {
        if let Some(Ok(_)) = overview.get() {
            dom::focus_changed_section();
        }
    });

    let sign_out = ctx.sign_out;
    let on_sign_out = Callback::new(move |_| {
        sign_out.dispatch(SignOut {});
    });
    let signing_out = sign_out.pending();

    view! {
        <Title text="Security & Access · Gatehouse"/>
        <Transition fallback=|| view! { <PageFrame><p class="skeleton" aria-busy="true">"Loading your security settings…"</p></PageFrame> }>
            {move || Suspend::new(async move {
                match overview.await {
                    Ok(o) => {
                    let two_factor_first = TwoFactorSection::first(&o);
                    view! {
                        <PageFrame viewer=o.viewer.clone() on_sign_out signing_out>
                            <nav class="breadcrumb" aria-label="Breadcrumb">
                                <ol>
                                    // (no links: "Settings" led to this very page, the only one there is)
                                    <li>"Settings"</li>
                                    <li>"Account"</li>
                                    <li aria-current="page">"Security & Access"</li>
                                </ol>
                            </nav>
                            <div class="page-header">
                                <h1>"Security & Access"</h1>
                                <p class="lead">"Manage how you sign in and where you are signed in."</p>
                            </div>
                            {prompt.view(&o)}
                            {reverify.banner(&o)}
                            {reverify.dialog(&o)}
                            {two_factor_first.then(|| two_factor.view(&o))}
                            {password.view(&o)}
                            {(!two_factor_first).then(|| two_factor.view(&o))}
                            {passkeys.view(&o)}
                            {connected_accounts.view(&o)}
                            {sessions.view(&o)}
                            {activity.view()}
                            <ComingSoonCard
                                id="api-keys"
                                title="Personal API keys"
                                description="Create keys for scripts and tools that act on your behalf, each with its own scope and expiry."
                            />
                            <ComingSoonCard
                                id="authorized-apps"
                                title="Authorized applications"
                                description="See and revoke the third-party applications you have allowed to access your account."
                            />
                        </PageFrame>
                    }.into_any()
                    }
                    Err(e) => view! {
                        <PageFrame>
                            <div class="error-page">
                                <h1>"Security & Access"</h1>
                                <p role="alert">{e.to_string()}</p>
                                <p><a href="/settings/security">"Try again"</a></p>
                            </div>
                        </PageFrame>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}
