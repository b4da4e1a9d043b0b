//! /this-wasnt-me?token=…: the page an unfamiliar sign-in's email links to. Opening it changes
//! nothing (mail scanners open links); its button signs that device out, removes the ways to sign
//! in it added, turns the password off and emails a link to choose a new one. "It was me" answers
//! the sign-in as the Security & Access page's "Yes, it was me" does. It never signs anyone in.
use crate::time_fmt::LocalTime;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::links::{LinkProblem, SignedInElsewhere};
use crate::auth_api::{ConfirmNotMeLink, ReportNotMe, SignOut};
use crate::components::{ErrorMessage, PageFrame};
use crate::error::AppError;
use crate::model::{NotMeDoneView, NotMeView};

/// /this-wasnt-me
#[component]
pub fn NotMePage() -> impl IntoView {
    let query = use_query_map();
    let token = Memo::new(move |_| query.read().get("token").unwrap_or_default());
    let link = crate::resource::page_resource(move || token.get(), |t| crate::auth_api::not_me_link(t));
    let action = ServerAction::<ReportNotMe>::new();
    let mine = ServerAction::<ConfirmNotMeLink>::new();
    let shown = |e: Option<AppError>| match e {
        Some(AppError::LinkUnusable(_)) | None => None,
        Some(e) => Some(e.to_string()),
    };
    // (the latest answer's: a refused report, then a refused "It was me", says the second; a memo,
    // so an answer that replaces the form does not also wake what it takes away)
    let error: Signal<Option<String>> =
        Memo::new(move |_| shown(mine.value().get().and_then(Result::err)).or_else(|| shown(action.value().get().and_then(Result::err)))).into();
    // What the page shows: the form until an answer replaces it; a link used up or expired since
    // the page was opened (reported from another tab, say) says so, whichever button met it
    let outcome = Memo::new(move |_| {
        let gone = |e: Option<AppError>| match e {
            Some(AppError::LinkUnusable(issue)) => Some(issue),
            _ => None,
        };
        match (action.value().get(), mine.value().get()) {
            (Some(Ok(done)), _) => Outcome::Reported(done),
            (_, Some(Ok(()))) => Outcome::Mine,
            (report, confirm) => match gone(report.and_then(Result::err)).or_else(|| gone(confirm.and_then(Result::err))) {
                Some(issue) => Outcome::Gone(issue),
                None => Outcome::Asking,
            },
        }
    });
    let (reporting, confirming) = (action.pending(), mine.pending());
    let pending = Signal::derive(move || reporting.get() || confirming.get());
    let on_confirm = Callback::new(move |_| {
        mine.value().set(None);
        action.dispatch(ReportNotMe { token: token.get_untracked() });
    });
    let on_mine = Callback::new(move |_| {
        action.value().set(None);
        mine.dispatch(ConfirmNotMeLink { token: token.get_untracked() });
    });
    view! {
        <Title text="This wasn't me · Gatehouse"/>
        <PageFrame>
            <div class="auth-card">
                {move || match outcome.get() {
                    Outcome::Reported(done) => view! { <NotMeDone done/> }.into_any(),
                    Outcome::Mine => view! { <NotMeMine/> }.into_any(),
                    Outcome::Gone(issue) => view! {
                        <LinkProblem issue again_href="/forgot-password" again_label="Reset your password" sentence=issue.report_sentence() replaced_form=true/>
                    }.into_any(),
                    Outcome::Asking => view! {
                        <Suspense fallback=|| view! { <p class="skeleton" aria-busy="true">"Checking your link…"</p> }>
                            {move || Suspend::new(async move {
                                match link.await {
                                    Ok(sign_in) => view! { <NotMeConfirm sign_in pending error on_confirm on_mine/> }.into_any(),
                                    Err(AppError::LinkUnusable(issue)) => view! {
                                        <LinkProblem issue again_href="/forgot-password" again_label="Reset your password" sentence=issue.report_sentence()/>
                                    }.into_any(),
                                    Err(e) => view! { <h1>"Secure your account"</h1> <ErrorMessage message=Some(e.to_string())/> }.into_any(),
                                }
                            })}
                        </Suspense>
                    }.into_any(),
                }}
            </div>
        </PageFrame>
    }
}

/// What the link's page shows once it was opened.
#[derive(Clone, PartialEq)]
enum Outcome {
    Asking,
    Reported(NotMeDoneView),
    Mine,
    Gone(crate::error::LinkIssue),
}

/// The sign-in the link is about, and the one button.
#[component]
pub fn NotMeConfirm(
    sign_in: NotMeView,
    #[prop(into)] pending: Signal<bool>,
    #[prop(optional, into)] error: Signal<Option<String>>,
    on_confirm: Callback<()>,
    /// "It was me".
    on_mine: Callback<()>,
) -> impl IntoView {
    let since = since_it(&sign_in);
    // on the reader's own clock once their browser runs the page (the email said UTC)
    let when = crate::components::said_here(&sign_in.when_iso, &sign_in.when, LocalTime::written);
    let marked = sign_in.marked_as_yours.as_deref().map(|utc| {
        crate::components::said_here(sign_in.marked_as_yours_iso.as_deref().unwrap_or_default(), utc, LocalTime::written)
    });
    view! {
        <h1>"Wasn't you? Secure your account"</h1>
        <SignedInElsewhere account=sign_in.signed_in_as.clone() then="This link is about another account's sign-in: reporting it changes nothing for the one signed in here."/>
        <p>"This sign-in to your account was from a device and network it had not used lately:"</p>
        <dl class="facts">
            <dt>"When"</dt><dd>{when}</dd>
            <dt>"Device"</dt><dd>{sign_in.device}</dd>
            <dt>"Approximate location"</dt><dd>{format!("{} (IP address {})", sign_in.location, sign_in.ip)}</dd>
            <dt>"Signed in with"</dt><dd>{sign_in.method}</dd>
        </dl>
        // (someone said it was theirs: the owner, whoever holds an older session (the page's
        // Yes) or whoever reads the mailbox (It was me), so the report stays the owner's to make)
        {marked.map(|at| view! {
            <p class="notice notice-warning">{move || format!("This sign-in was marked as yours on {}. If you didn't do that, or it wasn't you after all, report it here.", at())}</p>
        })}
        {since}
        <p>{what_it_does(sign_in.already_signed_out, sign_in.has_password)}</p>
        <ErrorMessage message=error/>
        <div class="form-actions">
            <button type="button" class="btn btn-danger" disabled=move || pending.get() on:click=move |_| on_confirm.run(())>
                {move || if pending.get() { "Securing your account…" } else { "Secure my account" }}
            </button>
            <button type="button" class="btn btn-secondary" disabled=move || pending.get() on:click=move |_| on_mine.run(())>"It was me"</button>
        </div>
    }
}

/// What the button does, said before it (a device already signed out is not signed out again).
fn what_it_does(already_signed_out: bool, has_password: bool) -> String {
    let out = if already_signed_out { "We'll sign out any sign-in since" } else { "We'll sign that device out at once (and any sign-in since)" };
    let password = if has_password {
        "and stop your password from working, in case they know it. We'll email you a link to choose a new one."
    } else {
        "and email you a link to choose a password."
    };
    format!(
        "{out}, remove any passkey, connected account or authenticator app they added or got in with, {password} Other new sign-ins of the last 14 days that you haven't confirmed are treated the same way."
    )
}

/// What the page says after "It was me" (72: `domain::auth::activity::ALERT_LINK_HOURS`, which a
/// test holds it to).
const MINE: &str = "Thanks. We won't ask about this sign-in again. If you find out later that it wasn't you, this email's link still reports it until it expires, 72 hours after the sign-in.";

/// After "It was me".
#[component]
pub fn NotMeMine() -> impl IntoView {
    // (the button it replaces had the focus)
    let id = crate::components::scoped_id("not-me-mine");
    crate::components::focus_when_drawn(id.clone());
    view! {
        <div class="stack" id=id role="status" tabindex="-1">
            <h1>"Marked as yours"</h1>
            <p>{MINE}</p>
            <div class="form-actions">
                // (a page load, not the router's: the server sends a browser signed in to nothing
                // to sign-in, where the router's page said "You were signed out of this device")
                <a class="btn btn-primary" href="/settings/security" rel="external">"Go to Security & Access"</a>
            </div>
        </div>
    }
}

/// What happened since the sign-in that the button undoes too, said before it: the owner may
/// have secured the account herself meanwhile, and her later sign-ins, new password and passkeys
/// would go as well (the button cannot tell them from an intruder's).
fn since_it(v: &NotMeView) -> Option<impl IntoView + use<>> {
    let mut lines = Vec::new();
    if v.already_signed_out {
        lines.push("That device is already signed out.".to_string());
    }
    if v.password_changed_since && v.has_password {
        lines.push("Your password was changed. Reporting this turns the new one off too.".to_string());
    }
    match v.other_sessions {
        0 => {}
        1 => lines.push("Another session signed in. Reporting this signs it out too, even if it is yours.".to_string()),
        n => lines.push(format!("{n} other sessions signed in. Reporting this signs them out too, even if they are yours.")),
    }
    if let Some(list) = crate::model::and_list(&v.removes) {
        lines.push(format!("Reporting this also removes {list}."));
    }
    if lines.is_empty() {
        return None;
    }
    let settled = v.already_signed_out && lines.len() > 1;
    Some(view! {
        <div class="notice notice-warning since-sign-in">
            <p>{if v.from_earlier { "Since that sign-in, and an earlier new sign-in you haven't confirmed:" } else { "Since that sign-in:" }}</p>
            <ul>{lines.into_iter().map(|l| view! { <li>{l}</li> }).collect_view()}</ul>
            {settled.then(|| view! {
                <p>"If you secured your account yourself since, you may not need this: check it on Security & Access instead."</p>
            })}
        </div>
    })
}

/// After "Secure my account".
#[component]
pub fn NotMeDone(done: NotMeDoneView) -> impl IntoView {
    let NotMeDoneView { email, minutes, taken_back, ways_in, password_turned_off, signed_in_as } = done;
    let removed = crate::model::taken_back_sentence(&taken_back);
    let ways_in = crate::model::ways_in_sentence(&ways_in);
    let sent = if password_turned_off {
        format!("Your password no longer works, in case whoever signed in knows it. We sent a link to choose a new one to {email}. It works for {minutes} minutes.")
    } else {
        format!("We sent a link to choose a password to {email}. It works for {minutes} minutes.")
    };
    // (the button it replaces had the focus)
    let id = crate::components::scoped_id("not-me-done");
    crate::components::focus_when_drawn(id.clone());
    view! {
        <div class="stack" id=id role="status" tabindex="-1">
            <h1>"That device is signed out"</h1>
            <p>{sent}</p>
            {removed.map(|removed| view! { <p>{removed}</p> })}
            {ways_in.map(|ways_in| view! { <p>{ways_in}</p> })}
            <p>"After that, sign in and review your sessions and two-step verification. If someone could read your email, secure your email account first."</p>
            {match signed_in_as {
                // (Sign in would open the account this browser is signed in to: signing out of it
                // first leads to the sign-in form, "You have been signed out.")
                Some(other) => view! { <SignOutFirst other/> }.into_any(),
                None => view! {
                    <div class="form-actions">
                        <a class="btn btn-primary" href="/sign-in">"Sign in"</a>
                    </div>
                }.into_any(),
            }}
        </div>
    }
}

/// After a report from a browser signed in to another account: says so, and signs that one out
/// on the way to the sign-in form.
#[component]
fn SignOutFirst(other: String) -> impl IntoView {
    let sign_out = ServerAction::<SignOut>::new();
    let pending = sign_out.pending();
    view! {
        <SignedInElsewhere account=Some(other) then="Sign out of it to sign in to your account here."/>
        <ErrorMessage message=Signal::derive(move || sign_out.value().get().and_then(Result::err).map(|e| e.to_string())) pending/>
        <div class="form-actions">
            <button type="button" class="btn btn-primary" disabled=move || pending.get() on:click=move |_| { sign_out.dispatch(SignOut {}); }>
                {move || if pending.get() { "Signing out…" } else { "Sign out and sign in" }}
            </button>
        </div>
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    #[test]
    fn the_button_says_it_signs_the_device_out_only_when_it_is_still_signed_in() {
        assert!(super::what_it_does(false, true).starts_with("We'll sign that device out at once (and any sign-in since), remove any passkey"));
        assert!(super::what_it_does(true, true).starts_with("We'll sign out any sign-in since, remove any passkey"));
        assert!(super::what_it_does(true, false).contains("and email you a link to choose a password. Other new sign-ins"));
    }

    #[test]
    fn after_it_was_me_the_page_says_how_long_the_link_still_reports() {
        let hours = domain::auth::activity::ALERT_LINK_HOURS;
        assert!(super::MINE.contains(&format!("until it expires, {hours} hours after the sign-in")), "{}", super::MINE);
    }
}
