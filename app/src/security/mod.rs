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
use crate::components::later::Later;
use crate::components::PageFrame;
use crate::error::AppError;
use crate::model::SecurityOverview;
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
///
/// The page is drawn once, from the overview's first answer; after that each section is drawn
/// again only when its own part of the overview changes (`drawn_from`). A change in one section
/// leaves the others as they are: their status lines are not read out again by a screen reader,
/// and what was open or typed there stays. (The page used to be drawn whole after every change.)
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
    let shown = ctx.shown;
    // a reload that failed, other than for a session that ended (which leaves the page)
    let reload_error = Memo::new(move |_| match (*overview).get() {
        Some(Err(AppError::NotSignedIn)) | Some(Ok(_)) | None => None,
        Some(Err(e)) => Some(e.to_string()),
    });
    // Try again was pressed, and its answer has not come
    let retrying = RwSignal::new(false);
    Effect::new(move |_| {
        (*overview).track();
        retrying.set(false);
    });
    let two_factor_first = Memo::new(move |_| shown.with(|o| o.as_ref().is_some_and(TwoFactorSection::first)));

    // A session that ended elsewhere (signed out, password changed on another device) goes back to
    // sign-in on its next action.
    Effect::new(move |_| {
        if let Some(Err(AppError::NotSignedIn)) = overview.get() {
            dom::go_to(context::SIGNED_OUT_ELSEWHERE);
        }
    });

    // Drawn anew after a change: the focus goes on in the section the change was made in (and
    // after a reload that failed, which left the section as it was: the page says so above it).
    // (a frame later: the sections it changed are drawn by then)
    Effect::new(move |_| match overview.get() {
        Some(Err(AppError::NotSignedIn)) | None => {}
        Some(_) => request_animation_frame(move || ctx.drawn()),
    });

    let sign_out = ctx.sign_out;
    let on_sign_out = Callback::new(move |_| {
        sign_out.dispatch(SignOut {});
    });
    let signing_out = sign_out.pending();
    let two_factor_view = move || drawn_from(shown, |a, b| a.two_factor == b.two_factor && a.viewer.email == b.viewer.email, Box::new(move |o| two_factor.view(o).into_any()), ALWAYS);

    view! {
        <Title text="Security & Access · Gatehouse"/>
        <Transition fallback=|| view! { <PageFrame><p class="skeleton" aria-busy="true">"Loading your security settings…"</p></PageFrame> }>
            {move || Suspend::new(async move {
                // (the first answer only: later ones redraw the sections that changed, not this)
                match ctx.first_answer().await {
                    Ok(o) => view! {
                        <PageFrame viewer=o.viewer on_sign_out signing_out>
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
                            {move || reload_error.get().map(|message| view! {
                                <ReloadFailed message pending=retrying on_retry=Callback::new(move |_| {
                                    retrying.set(true);
                                    overview.refetch();
                                })/>
                            })}
                            {prompt.said()}
                            {drawn_from(
                                shown,
                                |a, b| a.prompt == b.prompt && TwoFactorSection::first(a) == TwoFactorSection::first(b),
                                Box::new(move |o| prompt.view(o).into_any()),
                                NEVER,
                            )}
                            {drawn_from(shown, |a, b| a.verification == b.verification, Box::new(move |o| reverify.banner(o).into_any()), reverify::ReverifySection::banner_shown)}
                            {drawn_from(
                                shown,
                                |a, b| {
                                    let (x, y) = (&a.verification, &b.verification);
                                    (x.has_password, x.has_passkey, &x.providers, x.window_minutes, a.two_factor.enabled.is_some())
                                        == (y.has_password, y.has_passkey, &y.providers, y.window_minutes, b.two_factor.enabled.is_some())
                                },
                                Box::new(move |o| reverify.dialog(o).into_any()),
                                NEVER,
                            )}
                            {move || two_factor_first.get().then(two_factor_view)}
                            {drawn_from(
                                shown,
                                |a, b| {
                                    a.password == b.password
                                        && a.viewer == b.viewer
                                        && password::no_other_way(a) == password::no_other_way(b)
                                        && a.two_factor.enabled.is_some() == b.two_factor.enabled.is_some()
                                        && TwoFactorSection::first(a) == TwoFactorSection::first(b)
                                },
                                Box::new(move |o| password.view(o).into_any()),
                                ALWAYS,
                            )}
                            {move || (!two_factor_first.get()).then(two_factor_view)}
                            {drawn_from(
                                shown,
                                |a, b| a.passkeys == b.passkeys && TwoFactorSection::first(a) == TwoFactorSection::first(b),
                                Box::new(move |o| passkeys.view(o).into_any()),
                                ALWAYS,
                            )}
                            {drawn_from(
                                shown,
                                |a, b| a.connected_accounts == b.connected_accounts && TwoFactorSection::first(a) == TwoFactorSection::first(b),
                                Box::new(move |o| connected_accounts.view(o).into_any()),
                                NEVER,
                            )}
                            {drawn_from(shown, |a, b| a.sessions == b.sessions && a.session_lifetime == b.session_lifetime, Box::new(move |o| sessions.view(o).into_any()), ALWAYS)}
                            {Later::new(move || activity.view().into_any())}
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
                    }.into_any(),
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

/// A reload of the page's settings after a change failed: the sections keep what they showed,
/// and this says so above them, with a way to read them again.
#[component]
pub fn ReloadFailed(
    message: String,
    /// Try again's answer has not come. When it comes and failed again, the sentence leaves the
    /// alert for a moment and comes back, so a screen reader says it again (the button, and the
    /// keyboard on it, stay).
    #[prop(into)]
    pending: Signal<bool>,
    on_retry: Callback<()>,
) -> impl IntoView {
    let away = crate::components::away_after_each_answer(pending, || true);
    view! {
        <div class="form-error reload-failed" role="alert">
            {move || (!away.get()).then(|| view! { <p>{message.clone()}" What you see below may be out of date."</p> })}
            // (not `disabled` while it runs: a disabled button drops the keyboard's focus)
            <button type="button" class="btn btn-secondary btn-sm" aria-disabled=move || pending.get().then_some("true")
                on:click=move |_| if !pending.get_untracked() { on_retry.run(()) }>
                {move || if pending.get() { "Trying again…" } else { "Try again" }}
            </button>
        </div>
    }
}

/// `drawn_from`'s `one_element`: a section's card, drawn whatever the overview says
const ALWAYS: fn(&SecurityOverview) -> bool = |_| true;
/// a section that may draw nothing, or more than one element
const NEVER: fn(&SecurityOverview) -> bool = |_| false;

/// A section drawn from the overview on screen (`SecurityContext::shown`), and drawn again only when its part of it changes
/// (`same` says whether two overviews agree on that part). Not generic over the part or the view:
/// one copy of this code serves every section (a memo of each section's own part type cost the
/// bundle 38 KB of code before wasm-opt). A section drawn as one element (`one_element` says when:
/// its card, always there) is hydrated in a task of its own (`Later`), after the rest of the page.
fn drawn_from(
    shown: Memo<Option<SecurityOverview>>,
    same: fn(&SecurityOverview, &SecurityOverview) -> bool,
    draw: Box<dyn Fn(&SecurityOverview) -> AnyView + Send + Sync>,
    one_element: fn(&SecurityOverview) -> bool,
) -> impl IntoView {
    // the overview the section was last drawn from, and which drawing is due (one more each time
    // the newest differs from it in the section's part)
    let drawn = StoredValue::new(None::<SecurityOverview>);
    let due = Memo::new(move |before: Option<&u32>| {
        let before = before.copied().unwrap_or(0);
        shown.with(|now| {
            let differs = drawn.with_value(|was| match (was, now) {
                (Some(was), Some(now)) => !same(was, now),
                (was, now) => was.is_some() != now.is_some(),
            });
            if differs {
                drawn.set_value(now.clone());
                before + 1
            } else {
                before
            }
        })
    });
    let draw = std::sync::Arc::new(draw);
    move || {
        // (read, not only tracked: a memo that is never read is never worked out, and so never
        // follows `shown`)
        due.with(|_| ());
        shown.with_untracked(|o| {
            o.as_ref().map(|o| {
                if !one_element(o) {
                    return draw(o);
                }
                let draw = std::sync::Arc::clone(&draw);
                Later::new(move || shown.with_untracked(|o| o.as_ref().map(|o| draw(o)).unwrap_or_else(|| ().into_any()))).into_any()
            })
        })
    }
}

