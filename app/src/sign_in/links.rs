//! The parts of the pages emailed links open (`link_pages`) and of the forms that send those
//! emails: "Check your inbox", the "Forgot password?" form, choosing a password, the sign-up's
//! passkey, a link that cannot be used, and which other account this browser is signed in to.
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::{ErrorMessage, Field};
use crate::error::LinkIssue;
use crate::security::password::StrengthMeter;

/// The answer to a sign-up or a "Forgot password?" request: the same whether or not the address
/// has an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sent {
    SignUp,
    Reset,
}

/// "Check your inbox": what was sent, to which address, and what to do if nothing arrives.
/// "try another address" runs `on_again`, which draws the address form in its place, and puts the
/// keyboard in that form's address field (the button pressed is gone with this answer).
#[component]
pub fn CheckInbox(sent: Sent, #[prop(into)] email: String, on_again: Callback<()>) -> impl IntoView {
    let (headline, body) = match sent {
        Sent::SignUp => (
            "Check your inbox to finish creating your account.",
            "We sent a link to the address below. Open it within an hour to choose how you'll sign in.",
        ),
        Sent::Reset => (
            "If an account uses this address, we sent a link.",
            "Open it within an hour to choose a new password. It works once. We send at most three links an hour: if no new one arrives, the newest you have still works.",
        ),
    };
    // (the form it replaces had the focus: the keyboard and a screen reader go on from here)
    let id = crate::components::scoped_id("check-inbox");
    crate::components::focus_when_drawn(id.clone());
    view! {
        <div class="check-inbox stack" id=id role="status" tabindex="-1">
            <p class="check-inbox-headline"><strong>{headline}</strong></p>
            <p>{body}</p>
            <p class="check-inbox-address">{email}</p>
            <p class="muted">"Nothing after a few minutes? Check your spam folder, or "
                <button type="button" class="btn btn-link btn-inline" on:click=move |_| {
                    on_again.run(());
                    request_animation_frame(|| crate::browser::dom::focus_field("email"));
                }>"try another address"</button>
                "."
            </p>
        </div>
    }
}

/// "Forgot password?": the address to send a link to.
#[component]
pub fn ForgotPasswordForm(
    #[prop(into)] pending: Signal<bool>,
    #[prop(optional, into)] error: Signal<Option<String>>,
    /// `error` is about the email: said under its field, which takes the focus.
    #[prop(optional, into)]
    email_error: Signal<bool>,
    on_submit: Callback<String>,
) -> impl IntoView {
    let email = RwSignal::new(String::new());
    let at_field = Signal::derive(move || error.get().filter(|_| email_error.get()));
    let above = Signal::derive(move || error.get().filter(|_| !email_error.get()));
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        on_submit.run(email.get_untracked());
    };
    view! {
        <form method="post" class="stack" novalidate on:submit=submit aria-busy=move || pending.get().then_some("true")>
            <p>"Enter the email address of your account. We'll send a link to choose a new password."</p>
            <ErrorMessage message=above/>
            <Field id="email" label="Email" kind="email" autocomplete="username" required=true value=email error=at_field/>
            <div class="form-actions">
                <button type="submit" class="btn btn-primary" disabled=move || pending.get()>
                    {move || if pending.get() { "Sending…" } else { "Send link" }}
                </button>
            </div>
        </form>
    }
}

/// What choosing a password through a link is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasswordPurpose {
    /// The last step of a sign-up.
    FinishSignUp,
    /// A reset link for an account with a password.
    Reset,
    /// A reset link for an account without one.
    SetFirst,
}

/// The password form of a link's page, with the strength meter (the same rules as the server).
#[component]
pub fn ChoosePasswordForm(
    purpose: PasswordPurpose,
    #[prop(into)] email: String,
    #[prop(optional, into)] display_name: Option<String>,
    #[prop(optional)] has_second_factor: bool,
    /// Start with this typed (previews of the meter).
    #[prop(optional, into)]
    initial: String,
    #[prop(into)] pending: Signal<bool>,
    /// A failure about no field in particular: above the form.
    #[prop(optional, into)]
    error: Signal<Option<String>>,
    /// The password refused by the rules: under the field, which takes the focus (a screen reader
    /// reads its label, then this).
    #[prop(optional, into)]
    password_error: Signal<Option<String>>,
    /// Fields of the page's own drawn first, inside the form (finishing a sign-up: the display
    /// name), so Enter in them submits it as in any other field.
    #[prop(optional)]
    lead: Option<ViewFn>,
    on_submit: Callback<String>,
) -> impl IntoView {
    use policy::password::{MIN_LENGTH, MIN_LENGTH_WITH_SECOND_FACTOR};
    let password = RwSignal::new(initial);
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        on_submit.run(password.get_untracked());
    };
    let meter_id = crate::components::scoped_id("password-strength");
    // (the meter says "Not accepted" while the password is the one the server refused)
    let refusal = crate::components::while_unchanged(password_error, password);
    let min = if has_second_factor { MIN_LENGTH_WITH_SECOND_FACTOR } else { MIN_LENGTH };
    let (label, hint, button, busy) = match purpose {
        PasswordPurpose::FinishSignUp => (
            "Password",
            format!("At least {min} characters. Spaces are welcome: a few unrelated words work well."),
            "Create account",
            "Creating account…",
        ),
        PasswordPurpose::Reset => (
            "New password",
            format!("At least {min} characters. Saving it signs you out everywhere."),
            "Save new password",
            "Saving…",
        ),
        PasswordPurpose::SetFirst => (
            "New password",
            format!("At least {min} characters. Saving it signs you out everywhere."),
            "Set password",
            "Saving…",
        ),
    };
    view! {
        <form method="post" class="stack" novalidate on:submit=submit aria-busy=move || pending.get().then_some("true")>
            <ErrorMessage message=error/>
            {lead.map(|lead| lead.run())}
            <div class="field">
                <span class="field-label">"Email"</span>
                <p class="field-static">{email.clone()}</p>
            </div>
            // lets password managers save the new password under the right account
            <input type="email" name="username" autocomplete="username" value=email.clone() hidden=true readonly=true/>
            <Field id="password" label=label kind="password" autocomplete="new-password" required=true hint=hint value=password
                described_by=meter_id.clone() error=password_error/>
            <StrengthMeter id=meter_id password email display_name has_second_factor refusal/>
            <div class="form-actions">
                <button type="submit" class="btn btn-primary" disabled=move || pending.get()>
                    {move || if pending.get() { busy } else { button }}
                </button>
            </div>
        </form>
    }
}

/// "Use a passkey instead": finishing a sign-up without a password. Explains itself where the
/// browser cannot create passkeys.
#[component]
pub fn SignUpPasskey(
    #[prop(into)] supported: Signal<bool>,
    #[prop(into)] pending: Signal<bool>,
    #[prop(optional, into)] error: Signal<Option<String>>,
    on_click: Callback<()>,
) -> impl IntoView {
    view! {
        <div class="passkey-sign-in stack">
            <p class="divider" aria-hidden="true"><span>"or"</span></p>
            <ErrorMessage message=error/>
            {move || if supported.get() {
                view! {
                    // (not `disabled` while the device is asked: a disabled button drops the
                    // keyboard's focus, and a cancelled prompt would leave it on the page)
                    <button type="button" class="btn btn-secondary btn-block" aria-disabled=move || pending.get().then_some("true")
                        on:click=move |_| if !pending.get_untracked() { on_click.run(()) }>
                        {move || if pending.get() { "Waiting for your passkey…" } else { "Use a passkey instead" }}
                    </button>
                    <p class="muted">"Sign in with your fingerprint, face or screen lock, and no password."</p>
                }.into_any()
            } else {
                view! { <p class="muted passkey-unsupported">{crate::browser::UNSUPPORTED}</p> }.into_any()
            }}
        </div>
    }
}

/// A link that cannot be used: why, and the way forward.
#[component]
pub fn LinkProblem(
    issue: LinkIssue,
    /// The way on (with Sign in beside it, unless it is Sign in); for `UsedSignedIn`, Security &
    /// Access instead, alone.
    again_href: &'static str,
    again_label: &'static str,
    /// Instead of what the issue's page says under its heading (`LinkIssue::report_sentence` for
    /// "This wasn't me").
    #[prop(optional)]
    sentence: Option<&'static str>,
    /// It replaced the page's form (the link was used up meanwhile, in another tab): the keyboard
    /// goes to its heading, where a screen reader starts reading.
    #[prop(optional)]
    replaced_form: bool,
) -> impl IntoView {
    let heading = crate::components::scoped_id("link-problem-title");
    if replaced_form {
        crate::components::focus_when_drawn(heading.clone());
    }
    // the page's title says it too ("This link was already used", not the page's "Choose a new
    // password"), as the first thing a screen reader reads (not in a preview: that page has its own)
    let titled = use_context::<crate::components::PreviewScope>().is_none();
    view! {
        {titled.then(|| view! { <Title text=format!("{} · Gatehouse", issue.title())/> })}
        <div class="link-problem stack">
            <h1 id=heading tabindex="-1">{issue.title()}</h1>
            <p>{sentence.unwrap_or(issue.under_title())}</p>
            <div class="form-actions">
                // (a browser with a session goes to Security & Access: starting again, a new link or
                // signing in would only send it there)
                {if issue == LinkIssue::UsedSignedIn {
                    view! { <a class="btn btn-primary" href=crate::nav::HOME>"Go to Security & Access"</a> }.into_any()
                } else {
                    view! {
                        <a class="btn btn-primary" href=again_href>{again_label}</a>
                        {(again_href != "/sign-in").then(|| view! { <a class="btn btn-secondary" href="/sign-in">"Sign in"</a> })}
                    }.into_any()
                }}
            </div>
        </div>
    }
}

/// Says which other account this browser is signed in to, and what the page's button does to it
/// (`then`), before the person presses it.
#[component]
pub fn SignedInElsewhere(account: Option<String>, then: &'static str) -> impl IntoView {
    account.map(|a| view! {
        <p class="notice notice-info">"You're signed in as " <strong>{a}</strong> " in this browser. " {then}</p>
    })
}
