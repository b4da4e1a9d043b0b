//! /previews: every section component and form in its states, in light and dark, and at phone
//! width, for designers and for the screenshot tests. Off unless `previews.enabled` is set.
mod access;
mod auth;
mod fixtures;

use leptos::context::Provider;
use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::{PageFrame, PreviewScope, SiteHeader};
use crate::model::{EnrolmentView, PasskeyView, PasskeysView, PasswordView, ProviderKind, TwoFactorView, VerificationView, Viewer};
use crate::security::passkeys::{PasskeyPanel, PasskeysCard, RemovePasskeyConfirm, RenameDialog};
use crate::security::password::PasswordCard;
use crate::security::reverify::{ReverifyDialog, ReverifyFailed, VerifiedBanner};
use crate::sign_in::providers::ProviderOutcome;
use crate::security::two_factor::{CopyStatus, TwoFactorCard, TwoFactorPanel};
use crate::security::activity::ActivityCard;
use crate::security::sign_in_prompt::{SecuredNotice, SignInPromptCard};
use access::AccessPreviews;
use auth::AuthPreviews;
use fixtures::{
    activity_mixed, activity_unusual, sign_in_prompt, moment, passkey, passkeys_several, passkeys_signed_in_elsewhere, sample_codes, sample_enrolment, tf_on, EMAIL,
    REVERIFY_WINDOW_MINUTES,
};

/// One example: light and dark, side by side.
#[component]
fn State(slug: &'static str, caption: &'static str, #[prop(optional)] phone: bool, view: ViewFn) -> impl IntoView {
    let themes = ["light", "dark"];
    themes
        .into_iter()
        .map(|theme| {
            let full = format!("{slug}-{theme}");
            let scope = full.clone();
            let view = view.clone();
            let class = if phone { format!("theme-{theme} preview-phone") } else { format!("theme-{theme}") };
            view! {
                <figure class="preview-state" data-preview=full>
                    <figcaption>{format!("{caption} · {theme}")}</figcaption>
                    <div class=class>
                        <Scoped scope view/>
                    </div>
                </figure>
            }
        })
        .collect_view()
}

/// Every email kind (`email_outbox.kind`) and what it says, as the server renders it at
/// `/previews/emails/{kind}`.
const EMAILS: &[(&str, &str)] = &[
    ("confirm_sign_up", "Finish creating your account"),
    ("account_exists", "Sign-up with an address that has an account"),
    ("password_reset", "Reset your password"),
    ("password_reset_after_report", "A new password after \"This wasn't me\""),
    ("password_reset_while_off", "Forgot password while a report keeps the password off"),
    ("password_reset_done", "Your password was reset"),
    ("unfamiliar_sign_in", "New sign-in from an unfamiliar device"),
    ("security_notice", "Security notice (a credential changed)"),
    ("security_notice_copied_passkey", "Security notice (a copied passkey refused)"),
];

/// One email kind, light and dark: the server's rendering, framed.
#[component]
fn EmailState(kind: &'static str, caption: &'static str) -> impl IntoView {
    ["light", "dark"]
        .into_iter()
        .map(|theme| {
            let slug = format!("email-{}-{theme}", kind.replace('_', "-"));
            view! {
                <figure class="preview-state" data-preview=slug>
                    <figcaption>{format!("{caption} · {theme}")}</figcaption>
                    <iframe class="email-preview" src=format!("/previews/emails/{kind}?scheme={theme}")
                        title=format!("Email: {caption} ({theme})")></iframe>
                </figure>
            }
        })
        .collect_view()
}

/// Draws `view` with its own `PreviewScope`, provided to it alone (`Provider` makes a child owner;
/// `provide_context` here put it on the page's owner, so every later state, and any part drawn
/// later, such as a closure's, read the last scope given: the gallery repeated
/// `reload-failed-dark-…` ids across the Password section's states).
#[component]
fn Scoped(scope: String, view: ViewFn) -> impl IntoView {
    view! { <Provider value=PreviewScope(scope)>{view.run()}</Provider> }
}

#[component]
fn Preview(id: &'static str, title: &'static str, children: Children) -> impl IntoView {
    view! {
        <section class="preview" aria-labelledby=format!("preview-{id}")>
            <h2 id=format!("preview-{id}")>{title}</h2>
            <div class="preview-grid">{children()}</div>
        </section>
    }
}

#[component]
pub fn PreviewsPage() -> impl IntoView {
    let noop_pw = Callback::new(|_| {});
    let noop = Callback::new(|_: ()| {});
    let noop_text = Callback::new(|_: String| {});
    let tf_off = TwoFactorView { enabled: None, backup_codes: None, required: false, passkey_session: false };
    let two_factor = move |status: TwoFactorView, open: TwoFactorPanel| {
        ViewFn::from(move || {
            let panel = RwSignal::new(open.clone());
            view! {
                <TwoFactorCard status=status.clone() email=EMAIL panel pending=false
                    on_begin=noop on_change=noop on_confirm=noop_text on_regenerate=noop on_disable=noop/>
            }
        })
    };
    let has_pw = PasswordView { has_password: true, changed: Some(moment("3 days ago", "2026-11-20 09:12 UTC")) };
    // The change form with a new password typed in, for the strength meter's states.
    let typing = {
        let s = has_pw.clone();
        move |new: &'static str| {
            let s = s.clone();
            ViewFn::from(move || view! {
                <PasswordCard status=s.clone() email=EMAIL initially_open=true initial_new=new pending=false on_submit=noop_pw/>
            })
        }
    };
    let no_pw = PasswordView { has_password: false, changed: None };
    let noop_pair = Callback::new(|_: (String, String)| {});
    let noop_remove = Callback::new(|_: (String, bool)| {});
    let passkeys = move |items: Vec<PasskeyView>, can_remove: bool, open: PasskeyPanel, supported: bool, error: Option<&'static str>| {
        ViewFn::from(move || {
            let panel = RwSignal::new(open.clone());
            view! {
                <PasskeysCard status=PasskeysView { items: items.clone(), can_remove } supported pending=false
                    error=error.map(String::from) panel on_add=noop_text on_rename=noop_pair on_remove=noop_remove/>
            }
        })
    };
    // (Enterprise, signed in without a second factor; with one passkey, or none)
    let passkeys_held = move |one: bool| {
        ViewFn::from(move || {
            let panel = RwSignal::new(PasskeyPanel::None);
            let items = if one { vec![passkey("p1", "iCloud Keychain", Some("iCloud Keychain"), true, None)] } else { vec![] };
            view! {
                <PasskeysCard status=PasskeysView { items, can_remove: true } supported=true pending=false held=true
                    panel on_add=noop_text on_rename=noop_pair on_remove=noop_remove/>
            }
        })
    };
    let viewer = Viewer { email: "ada@example.com".into(), display_name: Some("Ada Lovelace".into()) };
    let noop_provider = Callback::new(|_: ProviderKind| {});
    view! {
        <Title text="Component previews · Gatehouse"/>
        <PageFrame>
            <div class="page-header">
                <h1>"Component previews"</h1>
                <p class="lead">"Every section component in its states, in light and dark themes."</p>
            </div>
            <nav aria-label="Components">
                <ul class="preview-index">
                    <li><a href="#preview-header">"Site header"</a></li>
                    <li><a href="#preview-sign-in">"Sign-in form"</a></li>
                    <li><a href="#preview-sign-up">"Sign-up form"</a></li>
                    <li><a href="#preview-links">"Emailed links"</a></li>
                    <li><a href="#preview-emails">"Emails"</a></li>
                    <li><a href="#preview-password">"Password section"</a></li>
                    <li><a href="#preview-reverify">"Re-verification"</a></li>
                    <li><a href="#preview-two-factor">"Two-step verification"</a></li>
                    <li><a href="#preview-passkeys">"Passkeys"</a></li>
                    <li><a href="#preview-connected-accounts">"Connected accounts"</a></li>
                    <li><a href="#preview-sessions">"Sessions section"</a></li>
                    <li><a href="#preview-coming-soon">"Coming soon"</a></li>
                    <li><a href="#preview-page">"Security & Access page"</a></li>
                </ul>
            </nav>

            <Preview id="header" title="Site header">
                <State slug="header-signed-in" caption="Signed in" view=ViewFn::from({
                    let viewer = viewer.clone();
                    move || view! { <SiteHeader viewer=Some(viewer.clone()) on_sign_out=None signing_out=false/> }
                })/>
                <State slug="header-signed-out" caption="Signed out" view=ViewFn::from(|| view! { <SiteHeader viewer=None on_sign_out=None signing_out=false/> })/>
            </Preview>

            <AuthPreviews/>

            <Preview id="sign-in-prompt" title="Was this you?">
                <State slug="sign-in-prompt" caption="New sign-in near a known place" view=ViewFn::from(move || view! {
                    <SignInPromptCard prompt=sign_in_prompt(Some("Berlin")) pending=false on_yes=noop on_no=noop/>
                })/>
                <State slug="sign-in-prompt-held" caption="Enterprise, before two-step verification is set up: the answers wait" view=ViewFn::from(move || view! {
                    <SignInPromptCard prompt=sign_in_prompt(Some("Berlin")) pending=false held=true on_yes=noop on_no=noop/>
                })/>
                <State slug="sign-in-prompt-unknown" caption="Unknown location, phone width" phone=true view=ViewFn::from(move || view! {
                    <SignInPromptCard prompt=sign_in_prompt(None) pending=false on_yes=noop on_no=noop/>
                })/>
                <State slug="sign-in-prompt-error" caption="Answer failed" view=ViewFn::from(move || view! {
                    <SignInPromptCard prompt=sign_in_prompt(Some("Berlin")) pending=false
                        error=Some("Gatehouse is having trouble reaching its database. Try again in a moment.".to_string()) on_yes=noop on_no=noop/>
                })/>
                <State slug="sign-in-prompt-secured" caption="No: sessions ended, what that sign-in added removed" phone=true view=ViewFn::from(move || view! {
                    <SecuredNotice secured=crate::model::SecuredView {
                        ended: 2,
                        taken_back: vec!["the passkey “Chrome on Windows”".into(), "the connected GitHub account".into()],
                        ways_in: vec!["the passkey “Phone”".into()],
                    } has_password=true/>
                })/>
                <State slug="sign-in-prompt-secured-no-password" caption="No, on an account without a password" view=ViewFn::from(move || view! {
                    <SecuredNotice secured=crate::model::SecuredView { ended: 1, taken_back: Vec::new(), ways_in: Vec::new() } has_password=false/>
                })/>
            </Preview>

            <Preview id="activity" title="Recent security activity">
                <State slug="activity-empty" caption="Nothing in 90 days" view=ViewFn::from(move || view! {
                    <ActivityCard events=Vec::new() has_more=false filter=String::new() pending=false on_filter=noop_text on_more=noop/>
                })/>
                <State slug="activity-mixed" caption="A page of mixed events, more to load" view=ViewFn::from(move || view! {
                    <ActivityCard events=activity_mixed() has_more=true filter=String::new() pending=false on_filter=noop_text on_more=noop/>
                })/>
                <State slug="activity-unusual" caption="Long device and account names, unknown locations" view=ViewFn::from(move || view! {
                    <ActivityCard events=activity_unusual() has_more=false filter=String::new() pending=false on_filter=noop_text on_more=noop/>
                })/>
                <State slug="activity-failed" caption="A filter's page could not be fetched" view=ViewFn::from(move || view! {
                    <ActivityCard events=Vec::new() has_more=false filter="credentials".to_string() pending=false
                        error=Some("We couldn't reach Gatehouse. Check your connection and try again.".to_string())
                        on_filter=noop_text on_more=noop on_retry=noop/>
                })/>
                <State slug="activity-phone" caption="Phone width" phone=true view=ViewFn::from(move || view! {
                    <ActivityCard events=activity_mixed() has_more=true filter=String::new() pending=true on_filter=noop_text on_more=noop/>
                })/>
            </Preview>

            <Preview id="emails" title="Emails">
                {EMAILS.iter().map(|(kind, caption)| view! { <EmailState kind=*kind caption=*caption/> }).collect_view()}
            </Preview>

            <Preview id="password" title="Password section">
                <State slug="password-set" caption="Has a password" view=ViewFn::from({
                    let s = has_pw.clone();
                    move || view! { <PasswordCard status=s.clone() email=EMAIL pending=false on_submit=noop_pw/> }
                })/>
                <State slug="password-held" caption="Enterprise, before two-step verification is set up: Change password waits for it" view=ViewFn::from({
                    let s = has_pw.clone();
                    move || view! { <PasswordCard status=s.clone() email=EMAIL pending=false held=true on_submit=noop_pw/> }
                })/>
                <State slug="password-none" caption="No password (signed up with Google or GitHub)" view=ViewFn::from({
                    let s = no_pw.clone();
                    move || view! { <PasswordCard status=s.clone() email=EMAIL pending=false on_submit=noop_pw/> }
                })/>
                <State slug="password-none-no-other-way" caption="No password and nothing else either (\"This wasn't me\" removed the Google account it had): a warning" view=ViewFn::from({
                    let s = no_pw.clone();
                    move || view! { <PasswordCard status=s.clone() email=EMAIL pending=false no_other_way=true on_submit=noop_pw/> }
                })/>
                <State slug="password-form" caption="Changing" view=ViewFn::from({
                    let s = has_pw.clone();
                    move || view! { <PasswordCard status=s.clone() email=EMAIL initially_open=true pending=false on_submit=noop_pw/> }
                })/>
                <State slug="password-set-form" caption="Setting a first password" view=ViewFn::from({
                    let s = no_pw.clone();
                    move || view! {
                        <PasswordCard status=s.clone() email=EMAIL initially_open=true initial_new="purple tractors sing" pending=false on_submit=noop_pw/>
                    }
                })/>
                <State slug="password-error" caption="Wrong current password" view=ViewFn::from({
                    let s = has_pw.clone();
                    move || view! {
                        <PasswordCard status=s.clone() email=EMAIL initially_open=true pending=false
                            error=Some("Your current password is not correct.".to_string()) error_field=Some("current_password") on_submit=noop_pw/>
                    }
                })/>
                <State slug="password-leaked" caption="Leaked password" view=ViewFn::from({
                    let s = has_pw.clone();
                    move || view! {
                        <PasswordCard status=s.clone() email=EMAIL initially_open=true initial_new="manchesterunited" pending=false
                            error=Some("This password is in lists of leaked passwords; choose another.".to_string()) error_field=Some("new_password")
                            on_submit=noop_pw/>
                    }
                })/>
                <State slug="password-too-short" caption="Strength: too short" view=typing("tractor")/>
                <State slug="password-from-context" caption="Strength: built from the email" view=typing("ada@example.test2024")/>
                <State slug="password-common-words" caption="Strength: built from common words" view=typing("password123password")/>
                <State slug="password-strong" caption="Strength: strong" view=typing("purple tractors sing at dawn")/>
                <State slug="password-pending" caption="Pending" view=ViewFn::from({
                    let s = has_pw.clone();
                    move || view! { <PasswordCard status=s.clone() email=EMAIL initially_open=true pending=true on_submit=noop_pw/> }
                })/>
                <State slug="password-changed" caption="Changed" view=ViewFn::from({
                    // (changed just now, as the page then says)
                    let s = PasswordView { has_password: true, changed: Some(moment("just now", "2026-11-23 12:41 UTC")) };
                    move || view! {
                        <PasswordCard status=s.clone() email=EMAIL pending=false
                            success=Some("Password changed. Your other sessions were signed out.".to_string()) on_submit=noop_pw/>
                    }
                })/>
            </Preview>

            <Preview id="reverify" title="Re-verification">
                <State slug="verified-banner" caption="Verified, counting down" view=ViewFn::from(move || view! {
                    <VerifiedBanner status=VerificationView { seconds_left: 480, has_password: true, has_passkey: false, providers: vec![], window_minutes: REVERIFY_WINDOW_MINUTES } pending=false on_end=noop/>
                })/>
                // (8 minutes, as above: the count goes down while the previews test runs, and its
                // words are masked; 10 to 9 would change their width, and the text after them)
                <State slug="verified-with-provider" caption="Back from confirming with Google" view=ViewFn::from(move || view! {
                    <VerifiedBanner status=VerificationView { seconds_left: 480, has_password: false, has_passkey: false, providers: vec![ProviderKind::Google], window_minutes: REVERIFY_WINDOW_MINUTES } pending=false
                        confirmed=Some("You confirmed it's you with Google. Make your change again.".to_string()) on_end=noop/>
                })/>
                <State slug="reverify-failed-cancelled" caption="Back from Google, cancelled there" view=ViewFn::from(move || view! {
                    <ReverifyFailed kind=ProviderKind::Google said=ProviderOutcome::Cancelled/>
                })/>
                <State slug="reverify-failed-not-linked" caption="Back from Google, signed in there with another account" view=ViewFn::from(move || view! {
                    <ReverifyFailed kind=ProviderKind::Google said=ProviderOutcome::NotLinked/>
                })/>
                <State slug="verified-end-failed" caption="End now could not reach the server" view=ViewFn::from(move || view! {
                    <VerifiedBanner status=VerificationView { seconds_left: 480, has_password: true, has_passkey: false, providers: vec![], window_minutes: REVERIFY_WINDOW_MINUTES } pending=false
                        error=Some("We couldn't reach Gatehouse. Check your connection and try again.".to_string()) on_end=noop/>
                })/>
                <State slug="reverify-dialog" caption="Confirm it's you" view=ViewFn::from(move || view! {
                    <div class="preview-modal"><ReverifyDialog window_minutes=REVERIFY_WINDOW_MINUTES has_password=true pending=false on_confirm=noop_text on_cancel=noop/></div>
                })/>
                <State slug="reverify-error" caption="Wrong password" view=ViewFn::from(move || view! {
                    <div class="preview-modal">
                        <ReverifyDialog window_minutes=REVERIFY_WINDOW_MINUTES has_password=true pending=false error=Some("That password is not correct.".to_string()) about_field=true on_confirm=noop_text on_cancel=noop/>
                    </div>
                })/>
                <State slug="reverify-passkey" caption="Password or passkey" view=ViewFn::from(move || view! {
                    <div class="preview-modal"><ReverifyDialog window_minutes=REVERIFY_WINDOW_MINUTES has_password=true has_passkey=true on_passkey=noop pending=false on_confirm=noop_text on_cancel=noop/></div>
                })/>
                <State slug="reverify-passkey-only" caption="Passkey only (no password)" view=ViewFn::from(move || view! {
                    <div class="preview-modal"><ReverifyDialog window_minutes=REVERIFY_WINDOW_MINUTES has_password=false has_passkey=true on_passkey=noop pending=false on_confirm=noop_text on_cancel=noop/></div>
                })/>
                <State slug="reverify-provider-only" caption="Connected account only (no password, no passkey)" view=ViewFn::from(move || view! {
                    <div class="preview-modal"><ReverifyDialog window_minutes=REVERIFY_WINDOW_MINUTES has_password=false
                        providers=vec![ProviderKind::Google, ProviderKind::GitHub] on_provider=noop_provider pending=false on_confirm=noop_text on_cancel=noop/></div>
                })/>
                <State slug="reverify-password-or-provider" caption="Password or a connected account" view=ViewFn::from(move || view! {
                    <div class="preview-modal"><ReverifyDialog window_minutes=REVERIFY_WINDOW_MINUTES has_password=true
                        providers=vec![ProviderKind::GitHub] on_provider=noop_provider pending=false on_confirm=noop_text on_cancel=noop/></div>
                })/>
                <State slug="reverify-code-only" caption="Authenticator app only (password turned off)" view=ViewFn::from(move || view! {
                    <div class="preview-modal"><ReverifyDialog window_minutes=REVERIFY_WINDOW_MINUTES has_password=false
                        has_authenticator=true on_code=noop_text pending=false on_confirm=noop_text on_cancel=noop/></div>
                })/>
                <State slug="reverify-no-password" caption="Nothing to confirm with" view=ViewFn::from(move || view! {
                    <div class="preview-modal"><ReverifyDialog window_minutes=REVERIFY_WINDOW_MINUTES has_password=false pending=false on_confirm=noop_text on_cancel=noop/></div>
                })/>
            </Preview>

            <Preview id="two-factor" title="Two-step verification">
                <State slug="two-factor-off" caption="Off" view=two_factor(tf_off.clone(), TwoFactorPanel::None)/>
                <State slug="two-factor-required" caption="Required by the organisation (Enterprise)" view=two_factor(
                    TwoFactorView { required: true, ..tf_off.clone() }, TwoFactorPanel::None)/>
                <State slug="two-factor-on" caption="On, all backup codes left" view=two_factor(tf_on(10), TwoFactorPanel::None)/>
                <State slug="two-factor-on-required" caption="On, required by the organisation: Turn off says why it is off" view=two_factor(
                    TwoFactorView { required: true, ..tf_on(10) }, TwoFactorPanel::None)/>
                <State slug="two-factor-few" caption="Few backup codes left" view=two_factor(tf_on(2), TwoFactorPanel::None)/>
                <State slug="two-factor-none-left" caption="No backup codes left" view=two_factor(tf_on(0), TwoFactorPanel::None)/>
                <State slug="two-factor-enrolling" caption="Setting up: QR code and key" view=two_factor(tf_off.clone(), TwoFactorPanel::Enrolling(sample_enrolment()))/>
                <State slug="two-factor-enrolling-error" caption="Setting up: wrong code" view=ViewFn::from(move || {
                    let panel = RwSignal::new(TwoFactorPanel::Enrolling(sample_enrolment()));
                    view! {
                        <TwoFactorCard status=TwoFactorView { enabled: None, backup_codes: None, required: false, passkey_session: false } email=EMAIL panel pending=false
                            error=Some("That code is not right. Check the app shows Gatehouse and your email, and enter the current code.".to_string())
                            code_refused=true on_begin=noop on_change=noop on_confirm=noop_text on_regenerate=noop on_disable=noop/>
                    }
                })/>
                <State slug="two-factor-changing" caption="Changing the app: QR code and key for the new one" view=two_factor(
                    tf_on(10), TwoFactorPanel::Enrolling(EnrolmentView { change: true, ..sample_enrolment() }))/>
                <State slug="two-factor-codes" caption="Backup codes, shown once" view=two_factor(tf_on(10), TwoFactorPanel::Codes(sample_codes()))/>
                <State slug="two-factor-codes-signed-out" caption="Set up on Enterprise: other sessions without a code signed out" view=ViewFn::from(move || {
                    let panel = RwSignal::new(TwoFactorPanel::Codes(sample_codes()));
                    view! {
                        <TwoFactorCard status=TwoFactorView { required: true, ..tf_on(10) } email=EMAIL panel pending=false
                            notice=Some(crate::security::two_factor::signed_out_without_code(2))
                            on_begin=noop on_change=noop on_confirm=noop_text on_regenerate=noop on_disable=noop/>
                    }
                })/>
                <State slug="two-factor-copied" caption="After Copy: copied, or the browser refused" phone=true view=ViewFn::from(move || view! {
                    <CopyStatus copied=Signal::stored(Some(true)) what="Backup codes"/>
                    <CopyStatus copied=Signal::stored(Some(false)) what="Backup codes"/>
                })/>
                <State slug="two-factor-confirm-off" caption="Confirming turn off" view=two_factor(tf_on(10), TwoFactorPanel::ConfirmDisable)/>
            </Preview>

            <Preview id="passkeys" title="Passkeys">
                <State slug="passkeys-none" caption="None yet" view=passkeys(vec![], true, PasskeyPanel::None, true, None)/>
                <State slug="passkeys-held" caption="Enterprise, signed in without a second factor: New passkey, Rename and Remove wait" view=passkeys_held(true)/>
                <State slug="passkeys-held-none" caption="The same with no passkey yet: New passkey waits" view=passkeys_held(false)/>
                <State slug="passkeys-one" caption="One, synced, never used" view=passkeys(
                    vec![passkey("p1", "iCloud Keychain", Some("iCloud Keychain"), true, None)], true, PasskeyPanel::None, true, None)/>
                <State slug="passkeys-several" caption="Several providers" view=passkeys(passkeys_several(), true, PasskeyPanel::None, true, None)/>
                <State slug="passkeys-last-method" caption="The only way to sign in (no password)" view=passkeys(
                    vec![passkey("p1", "Pixel 9", Some("Google Password Manager"), true, Some(moment("1 minute ago", "2026-11-23 12:40 UTC")))],
                    false, PasskeyPanel::None, true, None)/>
                <State slug="passkeys-long-names" caption="Long names, unknown provider" view=passkeys(vec![
                    passkey("p1", "The security key on my grandmother's kitchen keyring, the blue one", None, false, None),
                    passkey("p2", "Passkey", None, false, Some(moment("21 days ago", "2026-11-02 11:00 UTC"))),
                ], true, PasskeyPanel::None, true, None)/>
                <State slug="passkeys-naming" caption="New passkey: naming it" view=passkeys(passkeys_several(), true, PasskeyPanel::Naming, true, None)/>
                <State slug="passkeys-already" caption="Same device twice" view=passkeys(passkeys_several(), true, PasskeyPanel::Naming, true,
                    Some("This device or password manager already has a passkey for your account. Use it, or choose another one."))/>
                <State slug="passkeys-confirm-remove" caption="Confirming a removal" view=passkeys(passkeys_several(), true, PasskeyPanel::Removing("p3".into()), true, None)/>
                <State slug="passkeys-confirm-remove-sessions" caption="Confirming a removal: two other sessions signed in with it"
                    view=passkeys(passkeys_signed_in_elsewhere(), true, PasskeyPanel::Removing("p1".into()), true, None)/>
                <State slug="passkeys-confirm-keep-sessions" caption="The same confirmation, the box unticked" view=ViewFn::from(move || view! {
                    <RemovePasskeyConfirm id="p1" name="iCloud Keychain" sessions=2 sign_out=RwSignal::new(false) pending=false
                        on_confirm=noop on_cancel=noop/>
                })/>
                <State slug="passkeys-name-too-long" caption="New passkey: name too long" view=ViewFn::from(move || {
                    let panel = RwSignal::new(PasskeyPanel::Naming);
                    let typed = "The security key on my grandmother's kitchen keyring, the blue one with the dent";
                    view! {
                        <PasskeysCard status=PasskeysView { items: passkeys_several(), can_remove: true } supported=true pending=false panel
                            refused_name=(typed.to_string(), format!("Use at most {} characters.", policy::names::PASSKEY_NAME_MAX))
                            on_add=noop_text on_rename=noop_pair on_remove=noop_remove/>
                    }
                })/>
                <State slug="passkeys-renamed" caption="Renamed" view=ViewFn::from(move || view! {
                    <PasskeysCard status=PasskeysView { items: passkeys_several(), can_remove: true } supported=true pending=false
                        notice=Some("Renamed to “Blue YubiKey”.".to_string()) panel=RwSignal::new(PasskeyPanel::None)
                        on_add=noop_text on_rename=noop_pair on_remove=noop_remove/>
                })/>
                <State slug="passkeys-already-removed" caption="Removed in another tab meanwhile" view=passkeys(passkeys_several(), true, PasskeyPanel::None, true,
                    Some("That passkey was already removed."))/>
                <State slug="passkeys-rename" caption="Rename dialog" view=ViewFn::from(move || view! {
                    <div class="preview-modal">
                        <RenameDialog passkey=passkey("p3", "Blue YubiKey", Some("YubiKey 5 Series"), false, None) pending=false
                            on_save=noop_pair on_cancel=noop/>
                    </div>
                })/>
                <State slug="passkeys-rename-refused" caption="Rename dialog, the name refused by the server (taken meanwhile in another tab)" view=ViewFn::from(move || view! {
                    <div class="preview-modal">
                        <RenameDialog passkey=passkey("p3", "Blue YubiKey", Some("YubiKey 5 Series"), false, None) pending=false
                            name_refused=Some(crate::error::PASSKEY_NAME_TAKEN.to_string()) on_save=noop_pair on_cancel=noop/>
                    </div>
                })/>
                <State slug="passkeys-unsupported" caption="Browser without passkeys" view=passkeys(passkeys_several(), true, PasskeyPanel::None, false, None)/>
                <State slug="passkeys-phone" caption="Phone width" phone=true view=passkeys(passkeys_several(), true, PasskeyPanel::None, true, None)/>
            </Preview>

            <AccessPreviews/>
        </PageFrame>
    }
}
