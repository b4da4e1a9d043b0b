//! The previews of the pages a person sees before signing in: the sign-in and sign-up forms, the
//! emailed links' pages and "This wasn't me" (out of `mod.rs`, which had grown past 600 lines).
use leptos::prelude::*;

use super::fixtures::*;
use super::{Preview, State};
use crate::error::{AppError, LinkIssue};
use crate::model::ProviderKind;
use crate::sign_in::links::{CheckInbox, ChoosePasswordForm, ForgotPasswordForm, LinkProblem, PasswordPurpose, Sent, SignUpPasskey, SignedInElsewhere};
use crate::sign_in::not_me::{NotMeConfirm, NotMeDone, NotMeMine};
use crate::sign_in::providers::{ProviderButtons, ProviderOutcome, Tone};
use crate::sign_in::{PasskeySignIn, SecondStepCode, SecondStepForm, SignInForm, SignUpForm};

#[component]
pub(super) fn AuthPreviews() -> impl IntoView {
    let noop_creds = Callback::new(|_| {});
    let noop_code = Callback::new(|_: SecondStepCode| {});
    let noop_account = Callback::new(|_| {});
    let noop = Callback::new(|_: ()| {});
    let noop_text = Callback::new(|_: String| {});
    let noop_provider = Callback::new(|_: ProviderKind| {});
    let provider_buttons = move |local: bool, pending: Option<ProviderKind>, said: Option<ProviderOutcome>| {
        ViewFn::from(move || {
            let providers = BOTH.iter().map(|p| crate::model::ProviderOption { local, ..*p }).collect::<Vec<_>>();
            let (kind, tone) = (ProviderKind::Google, said.map(|o| o.tone()));
            let error = said.filter(|_| tone == Some(Tone::Problem)).map(|o| o.sentence(kind));
            let notice = said.filter(|_| tone == Some(Tone::Info)).map(|o| o.sentence(kind));
            view! { <ProviderButtons providers pending error notice on_choose=noop_provider/> }
        })
    };
    view! {
    <Preview id="sign-in" title="Sign-in form">
        <State slug="sign-in-empty" caption="Empty" view=ViewFn::from(move || view! { <SignInForm pending=false on_submit=noop_creds/> })/>
        <State slug="sign-in-error" caption="Error" view=ViewFn::from(move || view! {
            <SignInForm pending=false error=Some("Incorrect email or password.".to_string()) on_submit=noop_creds/>
        })/>
        <State slug="sign-in-pending" caption="Pending" view=ViewFn::from(move || view! { <SignInForm pending=true on_submit=noop_creds/> })/>
        <State slug="sign-in-rate-limited" caption="Too many attempts from the network" view=ViewFn::from(move || view! {
            <SignInForm pending=false error=Some(AppError::RateLimited { retry_after_seconds: 40 }.to_string()) on_submit=noop_creds/>
        })/>
        <State slug="sign-in-busy" caption="Server busy (load shedding)" view=ViewFn::from(move || view! {
            <SignInForm pending=false error=Some(AppError::Busy { retry_after_seconds: 2 }.to_string()) on_submit=noop_creds/>
        })/>
        <State slug="sign-in-signed-out" caption="After signing out" view=ViewFn::from(move || view! {
            <SignInForm pending=false notice=Some("You have been signed out.".to_string()) on_submit=noop_creds/>
        })/>
        <State slug="sign-in-ended" caption="Signed out from elsewhere (revoked, signed out everywhere, password changed): said calmly, not as good news" view=ViewFn::from(move || view! {
            <SignInForm pending=false info=Some("You were signed out of this device. Sign in again to continue.".to_string()) on_submit=noop_creds/>
        })/>
        <State slug="sign-in-phone" caption="Phone width" phone=true view=ViewFn::from(move || view! {
            <SignInForm pending=false error=Some("Incorrect email or password.".to_string()) on_submit=noop_creds/>
        })/>
        <State slug="sign-in-passkey" caption="Sign in with a passkey" view=ViewFn::from(move || view! {
            <PasskeySignIn supported=true pending=false on_click=noop/>
        })/>
        <State slug="sign-in-passkey-cancelled" caption="Passkey prompt cancelled" view=ViewFn::from(move || view! {
            <PasskeySignIn supported=true pending=false notice=Some("Passkey sign-in was cancelled.".to_string()) on_click=noop/>
        })/>
        <State slug="sign-in-passkey-waiting" caption="Waiting for the passkey" view=ViewFn::from(move || view! {
            <PasskeySignIn supported=true pending=true on_click=noop/>
        })/>
        <State slug="sign-in-passkey-unsupported" caption="Browser without passkeys" view=ViewFn::from(move || view! {
            <PasskeySignIn supported=false pending=false on_click=noop/>
        })/>
        <State slug="sign-in-second-step" caption="Second step: authenticator code" view=ViewFn::from(move || view! {
            <SecondStepForm pending=false on_submit=noop_code on_back=noop/>
        })/>
        <State slug="sign-in-second-step-wrong" caption="Second step: wrong code" view=ViewFn::from(move || view! {
            <SecondStepForm pending=false error=Some("That code is not right. Enter the current code from your authenticator app.".to_string())
                about_code=true on_submit=noop_code on_back=noop/>
        })/>
        <State slug="sign-in-second-step-backup" caption="Second step: backup code" phone=true view=ViewFn::from(move || view! {
            <SecondStepForm pending=false backup=true on_submit=noop_code on_back=noop/>
        })/>
        <State slug="sign-in-providers" caption="Continue with Google or GitHub" view=provider_buttons(false, None, None)/>
        <State slug="sign-in-providers-local" caption="Local development provider" view=provider_buttons(true, None, None)/>
        <State slug="sign-in-providers-going" caption="On the way to Google" view=provider_buttons(false, Some(ProviderKind::Google), None)/>
        <State slug="sign-in-providers-cancelled" caption="Back from Google: cancelled" view=provider_buttons(false, None,
            Some(ProviderOutcome::Cancelled))/>
        <State slug="sign-in-providers-email-in-use" caption="Back from Google: email already in use" view=provider_buttons(false, None,
            Some(ProviderOutcome::EmailInUse))/>
        <State slug="sign-in-providers-phone" caption="Phone width" phone=true view=provider_buttons(true, None,
            Some(ProviderOutcome::EmailInUse))/>
    </Preview>

    <Preview id="sign-up" title="Sign-up form">
        <State slug="sign-up-empty" caption="Empty" view=ViewFn::from(move || view! { <SignUpForm pending=false on_submit=noop_account/> })/>
        // (said at the field it is about, as the page does)
        <State slug="sign-up-error" caption="Error" view=ViewFn::from(move || view! {
            <SignUpForm pending=false error=Some("Enter an email address like name@example.com.".to_string()) error_field=Some("email")
                on_submit=noop_account/>
        })/>
        <State slug="sign-up-pending" caption="Pending" view=ViewFn::from(move || view! { <SignUpForm pending=true on_submit=noop_account/> })/>
        <State slug="sign-up-check-inbox" caption="Check your inbox" view=ViewFn::from(move || view! {
            <CheckInbox sent=Sent::SignUp email="ada@example.com" on_again=noop/>
        })/>
        <State slug="sign-up-check-inbox-phone" caption="Check your inbox, phone width" phone=true view=ViewFn::from(move || view! {
            <CheckInbox sent=Sent::SignUp email="ada.lovelace.long.address@analytical-engine.example.com" on_again=noop/>
        })/>
    </Preview>

    <Preview id="links" title="Emailed links">
        <State slug="forgot-password" caption="Forgot password" view=ViewFn::from(move || view! {
            <ForgotPasswordForm pending=false on_submit=noop_text/>
        })/>
        <State slug="forgot-password-sent" caption="Forgot password: link sent" view=ViewFn::from(move || view! {
            <CheckInbox sent=Sent::Reset email="ada@example.com" on_again=noop/>
        })/>
        <State slug="finish-sign-up" caption="Finish sign-up: choose a password" view=ViewFn::from(move || view! {
            <ChoosePasswordForm purpose=PasswordPurpose::FinishSignUp email="ada@example.com" display_name="Ada Lovelace"
                initial="correct horse battery" pending=false on_submit=noop_text/>
        })/>
        <State slug="finish-sign-up-passkey" caption="Finish sign-up: or a passkey" view=ViewFn::from(move || view! {
            <SignUpPasskey supported=true pending=false on_click=noop/>
        })/>
        <State slug="finish-sign-up-passkey-cancelled" caption="Finish sign-up: passkey prompt cancelled" view=ViewFn::from(move || view! {
            <SignUpPasskey supported=true pending=false error=Some("Creating the passkey was cancelled.".to_string()) on_click=noop/>
        })/>
        <State slug="reset-password" caption="Reset: choose a new password" view=ViewFn::from(move || view! {
            <ChoosePasswordForm purpose=PasswordPurpose::Reset email="ada@example.com" pending=false on_submit=noop_text/>
        })/>
        <State slug="reset-password-error" caption="Reset: password refused" view=ViewFn::from(move || view! {
            <ChoosePasswordForm purpose=PasswordPurpose::Reset email="ada@example.com" initial="manchesterunited"
                password_error=Some("This password is in lists of leaked passwords; choose another.".to_string()) pending=false on_submit=noop_text/>
        })/>
        <State slug="reset-password-set-first" caption="Reset link of an account without a password" phone=true view=ViewFn::from(move || view! {
            <ChoosePasswordForm purpose=PasswordPurpose::SetFirst email="ada@example.com" has_second_factor=true pending=true on_submit=noop_text/>
        })/>
        <State slug="reset-password-signed-in-elsewhere" caption="Reset link opened where another account is signed in" view=ViewFn::from(move || view! {
            <SignedInElsewhere account=Some("grace@example.com".to_string()) then="Saving the password signs that one out in this browser."/>
            <ChoosePasswordForm purpose=PasswordPurpose::Reset email="ada@example.com" pending=false on_submit=noop_text/>
        })/>
        <State slug="link-expired" caption="Expired link" view=ViewFn::from(move || view! {
            <LinkProblem issue=LinkIssue::Expired again_href="/forgot-password" again_label="Get a new link"/>
        })/>
        <State slug="link-used" caption="Used link" view=ViewFn::from(move || view! {
            <LinkProblem issue=LinkIssue::Used again_href="/sign-up" again_label="Start again"/>
        })/>
        <State slug="link-used-signed-in" caption="Used sign-up link, in a browser signed in since (Back after finishing)" view=ViewFn::from(move || view! {
            <LinkProblem issue=LinkIssue::UsedSignedIn again_href="/sign-up" again_label="Start again"/>
        })/>
        <State slug="link-account-exists" caption="Sign-up link for an address that has an account now" view=ViewFn::from(move || view! {
            <LinkProblem issue=LinkIssue::AccountExists again_href="/sign-in" again_label="Sign in"/>
        })/>
        <State slug="link-superseded" caption="Reset link after a password change" view=ViewFn::from(move || view! {
            <LinkProblem issue=LinkIssue::Superseded again_href="/forgot-password" again_label="Get a new link"/>
        })/>
        <State slug="link-invalid" caption="Link that isn't valid" phone=true view=ViewFn::from(move || view! {
            <LinkProblem issue=LinkIssue::Invalid again_href="/forgot-password" again_label="Get a new link"/>
        })/>
    </Preview>

    <Preview id="not-me" title="This wasn't me">
        <State slug="not-me-confirm" caption="The sign-in, and the one button" view=ViewFn::from(move || view! {
            <NotMeConfirm sign_in=not_me_view() pending=false on_confirm=noop on_mine=noop/>
        })/>
        <State slug="not-me-marked-as-yours" caption="Marked as yours (here or on the page): said, and still reportable" phone=true view=ViewFn::from(move || view! {
            <NotMeConfirm sign_in=crate::model::NotMeView { marked_as_yours: Some("23 November 2026 at 10:40 UTC".into()), ..not_me_view() } pending=false on_confirm=noop on_mine=noop/>
        })/>
        <State slug="not-me-since" caption="Since the sign-in (and an earlier unconfirmed one): signed out already, a new password, a later session and a passkey (the button undoes them too)" phone=true view=ViewFn::from(move || view! {
            <NotMeConfirm sign_in=crate::model::NotMeView {
                from_earlier: true,
                already_signed_out: true,
                other_sessions: 1,
                removes: vec!["the passkey “Ada's new phone”".into()],
                password_changed_since: true,
                ..not_me_view()
            } pending=false on_confirm=noop on_mine=noop/>
        })/>
        <State slug="not-me-pending" caption="Securing the account" phone=true view=ViewFn::from(move || view! {
            <NotMeConfirm sign_in=not_me_view() pending=true on_confirm=noop on_mine=noop/>
        })/>
        <State slug="not-me-mine" caption="After It was me: marked as yours" phone=true view=ViewFn::from(move || view! { <NotMeMine/> })/>
        <State slug="not-me-done" caption="Done: device signed out, reset link sent" view=ViewFn::from(move || view! {
            <NotMeDone done=not_me_done_view()/>
        })/>
        <State slug="not-me-signed-in-elsewhere" caption="Opened in a browser signed in to another account" phone=true view=ViewFn::from(move || view! {
            <NotMeConfirm sign_in=crate::model::NotMeView { signed_in_as: Some("ben@example.com".into()), ..not_me_view() } pending=false on_confirm=noop on_mine=noop/>
        })/>
        <State slug="not-me-done-signed-in-elsewhere" caption="Done, in a browser signed in to another account: sign that one out first" phone=true view=ViewFn::from(move || view! {
            <NotMeDone done=crate::model::NotMeDoneView { signed_in_as: Some("ben@example.com".into()), ..not_me_done_view() }/>
        })/>
        <State slug="not-me-done-taken-back" caption="Done, and what that sign-in added removed" phone=true view=ViewFn::from(move || view! {
            <NotMeDone done=crate::model::NotMeDoneView {
                taken_back: vec!["the passkey “Chrome on Windows”".into(), "the authenticator app with its backup codes".into()],
                ..not_me_done_view()
            }/>
        })/>
        <State slug="not-me-done-way-in" caption="Done, and the connected account that sign-in got in with removed" phone=true view=ViewFn::from(move || view! {
            <NotMeDone done=crate::model::NotMeDoneView { ways_in: vec!["the connected Google account".into()], ..not_me_done_view() }/>
        })/>
        <State slug="not-me-expired" caption="Expired link" view=ViewFn::from(move || view! {
            <LinkProblem issue=LinkIssue::Expired again_href="/forgot-password" again_label="Reset your password" sentence=LinkIssue::Expired.report_sentence()/>
        })/>
    </Preview>

    }
}
