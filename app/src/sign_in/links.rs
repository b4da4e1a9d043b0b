//! The pages emailed links open, and the forms that send those emails: "Check your inbox",
//! "Forgot password?", finishing a sign-up, choosing a new password. Opening a link's page changes
//! nothing (mail scanners open links); only its form does.
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::auth_api::{FinishSignUp, ForgotPassword, ResetPassword};
use crate::components::{ErrorMessage, Field, PageFrame};
use crate::error::{AppError, LinkIssue};
use crate::model::{ResetLinkView, SignUpLinkView};
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
                    <button type="button" class="btn btn-secondary btn-block" disabled=move || pending.get()
                        on:click=move |_| on_click.run(())>
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
                <a class="btn btn-primary" href=again_href>{again_label}</a>
                {(again_href != "/sign-in").then(|| view! { <a class="btn btn-secondary" href="/sign-in">"Sign in"</a> })}
            </div>
        </div>
    }
}

/// The link's problem, once a submission of its form was refused for it (the form was drawn while
/// the link worked; another tab used it up since): the page then says so as on opening it, with
/// its way on (Sign in, Start again, Get a new link), instead of a sentence above a form that can
/// no longer work.
fn link_gone(failure: Signal<Option<AppError>>) -> Signal<Option<LinkIssue>> {
    Signal::derive(move || failure.with(|f| f.as_ref().and_then(link_issue)))
}

fn token() -> Memo<String> {
    let query = use_query_map();
    Memo::new(move |_| query.read().get("token").unwrap_or_default())
}

/// /forgot-password
#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    let action = ServerAction::<ForgotPassword>::new();
    let sent_to = RwSignal::new(None::<String>);
    let asked = RwSignal::new(String::new());
    Effect::new(move |_| {
        if let Some(Ok(())) = action.value().get() {
            sent_to.set(Some(asked.get_untracked()));
        }
    });
    let error = Signal::derive(move || action.value().get().and_then(|r| r.err()).map(|e| e.to_string()));
    let email_error =
        Signal::derive(move || matches!(action.value().get(), Some(Err(AppError::Invalid { ref field, .. })) if field == "email"));
    let on_submit = Callback::new(move |email: String| {
        asked.set(email.trim().to_string());
        action.dispatch(ForgotPassword { email });
    });
    let on_again = Callback::new(move |_| {
        action.value().set(None);
        sent_to.set(None);
    });
    view! {
        <Title text="Forgot password · Gatehouse"/>
        <PageFrame>
            <div class="auth-card">
                <h1>"Reset your password"</h1>
                {move || match sent_to.get() {
                    Some(email) => view! { <CheckInbox sent=Sent::Reset email on_again/> }.into_any(),
                    None => view! { <ForgotPasswordForm pending=action.pending() error email_error on_submit/> }.into_any(),
                }}
                <p class="auth-footer">"Remembered it? " <a href="/sign-in">"Sign in"</a></p>
            </div>
        </PageFrame>
    }
}

/// A password form's failure, as (above the form, at the password field): the password refused by
/// the rules is the field's. A link that can no longer be used is neither (`link_gone`: the page
/// replaces the form). Memos: the form's fields hear only a change of their own message, so the
/// answer that replaces the form does not also wake the fields it takes away (each would read its
/// own signals after they were disposed).
fn split_password_error(failure: Signal<Option<AppError>>) -> (Signal<Option<String>>, Signal<Option<String>>) {
    let at_field = |e: &AppError| matches!(e, AppError::PasswordRejected(_));
    let own = move || failure.get().filter(|e| link_issue(e).is_none());
    (
        Memo::new(move |_| own().filter(|e| !at_field(e)).map(|e| e.to_string())).into(),
        Memo::new(move |_| own().filter(at_field).map(|e| e.to_string())).into(),
    )
}

/// The problem of the page's link that `e` says it has: it was used up meanwhile (another tab),
/// or, a sign-up's, the address got an account another way since.
fn link_issue(e: &AppError) -> Option<LinkIssue> {
    match e {
        AppError::LinkUnusable(issue) => Some(*issue),
        AppError::EmailTaken => Some(LinkIssue::AccountExists),
        _ => None,
    }
}

/// /sign-up/finish?token=…: the last step of a sign-up.
#[component]
pub fn FinishSignUpPage() -> impl IntoView {
    let token = token();
    let link = crate::resource::page_resource(move || token.get(), |t| crate::auth_api::sign_up_link(t));
    let action = ServerAction::<FinishSignUp>::new();
    // the name refused by its rule is said at its field, not above the password form
    let name_refused = |e: &AppError| matches!(e, AppError::Invalid { field, .. } if field == "display_name");
    let failure = Signal::derive(move || action.value().get().and_then(|r| r.err()));
    let (error, password_error) = split_password_error(Signal::derive(move || failure.get().filter(|e| !name_refused(e))));
    let name_error: Signal<Option<String>> = Memo::new(move |_| failure.get().filter(name_refused).map(|e| e.to_string())).into();
    // the name field's value, once the link's page has drawn it (typed when the link was asked for,
    // by whoever asked: the owner keeps or changes it here, before the account exists)
    let chosen_name: StoredValue<Option<RwSignal<String>>> = StoredValue::new(None);
    let chosen = move || chosen_name.get_value().map(|n| n.get_untracked());
    let on_submit = Callback::new(move |password: String| {
        action.dispatch(FinishSignUp { token: token.get_untracked(), password, display_name: chosen() });
    });
    let passkeys_supported = RwSignal::new(true);
    Effect::new(move |_| passkeys_supported.set(crate::browser::webauthn::supported()));
    let passkey_pending = RwSignal::new(false);
    let passkey_error = RwSignal::new(None::<String>);
    let passkey_gone = RwSignal::new(None::<LinkIssue>);
    let password_gone = link_gone(failure);
    let gone = Signal::derive(move || password_gone.get().or(passkey_gone.get()));
    let on_passkey = Callback::new(move |_| {
        passkey_pending.set(true);
        passkey_error.set(None);
        leptos::task::spawn_local(async move {
            let token = token.get_untracked();
            let result = async {
                // (the link's problem is said once the rest of the answer is, which it replaces)
                let refused = |e: AppError| match link_issue(&e) {
                    Some(issue) => Err(issue),
                    None => Ok(Some(e.to_string())),
                };
                let options = crate::auth_api::begin_sign_up_passkey(token.clone(), chosen()).await.map_err(refused)?;
                let credential = crate::browser::webauthn::create(&options).await.map_err(|e| Ok(e.message("Creating the passkey")))?;
                crate::auth_api::finish_sign_up_passkey(token, credential).await.map_err(refused)
            }
            .await;
            match result {
                Ok(to) => crate::browser::dom::go_to(&to),
                Err(Ok(message)) => {
                    passkey_error.set(message);
                    passkey_pending.set(false);
                }
                Err(Err(issue)) => passkey_gone.set(Some(issue)),
            }
        });
    });
    view! {
        <Title text="Finish creating your account · Gatehouse"/>
        <PageFrame>
            <div class="auth-card">
                <Show when=move || gone.get().is_none() fallback=move || {
                    let issue = gone.get().unwrap_or(LinkIssue::Used);
                    let (again_href, again_label) = finish_sign_up_way_on(issue);
                    view! { <LinkProblem issue again_href again_label replaced_form=true/> }
                }>
                <Suspense fallback=|| view! { <p class="skeleton" aria-busy="true">"Checking your link…"</p> }>
                    {move || Suspend::new(async move {
                        match link.await {
                            Ok(SignUpLinkView { email, display_name, signed_in_as }) => {
                                let name = RwSignal::new(display_name.clone().unwrap_or_default());
                                chosen_name.set_value(Some(name));
                                view! {
                                <h1>"Finish creating your account"</h1>
                                // (nothing is stored until then: opening the link changes nothing)
                                <p>"One step left: choose how you'll sign in, with a password or a passkey. Your account is created when you do."</p>
                                <SignedInElsewhere account=signed_in_as then="Creating this account signs that one out in this browser."/>
                                // (the name, then the password form, as far apart as the form's own fields)
                                <div class="stack">
                                    <Field id="display_name" label="Display name (optional)" autocomplete="name" value=name error=name_error
                                        hint="We greet you by it in the emails we send. Whoever asked for this link typed it: change it if it isn't yours."/>
                                    <ChoosePasswordForm purpose=PasswordPurpose::FinishSignUp email display_name=display_name.unwrap_or_default()
                                        pending=action.pending() error password_error on_submit/>
                                </div>
                                <SignUpPasskey supported=passkeys_supported pending=passkey_pending error=passkey_error on_click=on_passkey/>
                            }.into_any()
                            }
                            Err(AppError::LinkUnusable(issue)) => {
                                let (again_href, again_label) = finish_sign_up_way_on(issue);
                                view! { <LinkProblem issue again_href again_label/> }.into_any()
                            }
                            Err(e) => view! { <h1>"Finish creating your account"</h1> <ErrorMessage message=Some(e.to_string())/> }.into_any(),
                        }
                    })}
                </Suspense>
                </Show>
            </div>
        </PageFrame>
    }
}

/// Where a sign-up link that cannot be used sends the person: to sign in, when the account exists
/// now; to start again otherwise.
fn finish_sign_up_way_on(issue: LinkIssue) -> (&'static str, &'static str) {
    match issue {
        LinkIssue::AccountExists => ("/sign-in", "Sign in"),
        _ => ("/sign-up", "Start again"),
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

/// /reset-password?token=…: choose a new password (or a first one).
#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let token = token();
    let link = crate::resource::page_resource(move || token.get(), |t| crate::auth_api::reset_link(t));
    let action = ServerAction::<ResetPassword>::new();
    let failure = Signal::derive(move || action.value().get().and_then(|r| r.err()));
    let (error, password_error) = split_password_error(failure);
    let gone = link_gone(failure);
    let on_submit = Callback::new(move |password: String| {
        action.dispatch(ResetPassword { token: token.get_untracked(), password });
    });
    view! {
        <Title text="Choose a new password · Gatehouse"/>
        <PageFrame>
            <div class="auth-card">
                <Show when=move || gone.get().is_none() fallback=move || view! {
                    <LinkProblem issue=gone.get().unwrap_or(LinkIssue::Used) again_href="/forgot-password" again_label="Get a new link" replaced_form=true/>
                }>
                <Suspense fallback=|| view! { <p class="skeleton" aria-busy="true">"Checking your link…"</p> }>
                    {move || Suspend::new(async move {
                        match link.await {
                            Ok(ResetLinkView { email, sets_password, has_second_factor, has_password, signed_in_as }) => {
                                let purpose = if sets_password { PasswordPurpose::SetFirst } else { PasswordPurpose::Reset };
                                view! {
                                    <h1>{if sets_password { "Set a password" } else { "Choose a new password" }}</h1>
                                    <SignedInElsewhere account=signed_in_as then="Saving the password signs that one out in this browser."/>
                                    <ChoosePasswordForm purpose email has_second_factor pending=action.pending() error password_error on_submit/>
                                    // (only a password that works can be remembered: not one "This
                                    // wasn't me" turned off)
                                    {has_password.then(|| view! { <p class="auth-footer">"Remembered it? " <a href="/sign-in">"Sign in"</a></p> })}
                                }.into_any()
                            }
                            Err(AppError::LinkUnusable(issue)) => view! {
                                <LinkProblem issue again_href="/forgot-password" again_label="Get a new link"/>
                            }.into_any(),
                            Err(e) => view! { <h1>"Choose a new password"</h1> <ErrorMessage message=Some(e.to_string())/> }.into_any(),
                        }
                    })}
                </Suspense>
                </Show>
            </div>
        </PageFrame>
    }
}
