//! The pages emailed links open (finishing a sign-up, choosing a new password) and "Forgot
//! password?", built from the forms in `links`. Opening a link's page changes nothing (mail
//! scanners open links); only its form does, and a form refused because its link was used up
//! meanwhile gives way to the link's own problem page.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::links::{CheckInbox, ChoosePasswordForm, ForgotPasswordForm, LinkProblem, PasswordPurpose, Sent, SignUpPasskey, SignedInElsewhere};
use crate::auth_api::{FinishSignUp, ForgotPassword, ResetPassword};
use crate::components::{clear, ErrorMessage, Field, PageFrame};
use crate::error::{AppError, LinkIssue};
use crate::model::{ResetLinkView, SignUpLinkView};

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
/// own signals after they were disposed). The field's message is said anew by each answer
/// (`answers`, the action's version): see `each_answer`.
fn split_password_error(failure: Signal<Option<AppError>>, answers: RwSignal<usize>) -> (Signal<Option<String>>, Signal<Option<String>>) {
    let at_field = |e: &AppError| matches!(e, AppError::PasswordRejected(_));
    let own = move || failure.get().filter(|e| link_issue(e).is_none());
    (
        Memo::new(move |_| own().filter(|e| !at_field(e)).map(|e| e.to_string())).into(),
        each_answer(answers, move || own().filter(at_field).map(|e| e.to_string())),
    )
}

/// A field's refusal, heard again on each answer that refuses it, the same sentence too: a second
/// leaked password refused as the first was is a refusal of the new one (`while_unchanged` hides a
/// field's error once its value changed, until the field hears an answer again; a memo of the
/// sentence alone stayed quiet, and the second refusal showed nothing, with the meter back to
/// "Strong"). A memo of the sentence and the answer's number, so nothing else wakes the field.
fn each_answer(answers: RwSignal<usize>, message: impl Fn() -> Option<String> + Send + Sync + 'static) -> Signal<Option<String>> {
    let said = Memo::new(move |_| message().map(|m| (answers.get(), m)));
    Signal::derive(move || said.get().map(|(_, m)| m))
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
    let name_refused = |e: &AppError| e.is_about("display_name");
    let failure = Signal::derive(move || action.value().get().and_then(|r| r.err()));
    let (error, password_error) = split_password_error(Signal::derive(move || failure.get().filter(|e| !name_refused(e))), action.version());
    // (refused on the passkey's way: the same field, the same sentence)
    let passkey_name_error = RwSignal::new(None::<String>);
    let name_error = {
        let by_password = each_answer(action.version(), move || failure.get().filter(name_refused).map(|e| e.to_string()));
        Signal::derive(move || by_password.get().or_else(|| passkey_name_error.get()))
    };
    // the name field's value, once the link's page has drawn it (typed when the link was asked for,
    // by whoever asked: the owner keeps or changes it here, before the account exists)
    let chosen_name: StoredValue<Option<RwSignal<String>>> = StoredValue::new(None);
    let chosen = move || chosen_name.get_value().map(|n| n.get_untracked());
    let passkey_error = RwSignal::new(None::<String>);
    let on_submit = Callback::new(move |password: String| {
        // (each way's answer replaces the other's: one refusal said, not two; only when there is
        // one, as clearing wakes the field, which would then take the password's earlier refusal
        // of a name for one of the name now typed)
        clear(passkey_error);
        clear(passkey_name_error);
        action.dispatch(FinishSignUp { token: token.get_untracked(), password, display_name: chosen() });
    });
    let passkeys_supported = RwSignal::new(true);
    Effect::new(move |_| passkeys_supported.set(crate::browser::webauthn::supported()));
    let passkey_pending = RwSignal::new(false);
    let passkey_gone = RwSignal::new(None::<LinkIssue>);
    let password_gone = link_gone(failure);
    let gone = Signal::derive(move || password_gone.get().or(passkey_gone.get()));
    let on_passkey = Callback::new(move |_| {
        passkey_pending.set(true);
        clear(passkey_error);
        clear(passkey_name_error);
        clear(action.value());
        leptos::task::spawn_local(async move {
            let token = token.get_untracked();
            let result = async {
                // (the link's problem is said once the rest of the answer is, which it replaces)
                let refused = |e: AppError| match link_issue(&e) {
                    Some(issue) => Err(issue),
                    None => Ok(Some(e)),
                };
                let options = crate::auth_api::begin_sign_up_passkey(token.clone(), chosen()).await.map_err(refused)?;
                let credential = crate::browser::webauthn::create(&options, None)
                    .await
                    .map_err(|e| Ok(e.message("Creating the passkey").map(|m| AppError::Invalid { field: "passkey".into(), message: m })))?;
                crate::auth_api::finish_sign_up_passkey(token, credential).await.map_err(refused)
            }
            .await;
            match result {
                Ok(to) => crate::browser::dom::go_to(&to),
                Err(Ok(refusal)) => {
                    // (a name refused by its rule is said at its field, as on the password's way)
                    match refusal {
                        Some(e) if name_refused(&e) => passkey_name_error.set(Some(e.to_string())),
                        refusal => passkey_error.set(refusal.map(|e| e.to_string())),
                    }
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
                                // (the name inside the password form: Enter in it creates the account, as
                                // in the password field; a passkey sign-up takes it too)
                                <ChoosePasswordForm purpose=PasswordPurpose::FinishSignUp email display_name=display_name.unwrap_or_default()
                                    pending=action.pending() error password_error on_submit
                                    lead=ViewFn::from(move || view! {
                                        <Field id="display_name" label="Display name (optional)" autocomplete="name" value=name error=name_error
                                            hint="We greet you by it in the emails we send. Whoever asked for this link typed it: change it if it isn't yours."/>
                                    })/>
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


/// /reset-password?token=…: choose a new password (or a first one).
#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let token = token();
    let link = crate::resource::page_resource(move || token.get(), |t| crate::auth_api::reset_link(t));
    let action = ServerAction::<ResetPassword>::new();
    let failure = Signal::derive(move || action.value().get().and_then(|r| r.err()));
    let (error, password_error) = split_password_error(failure, action.version());
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
                            Ok(ResetLinkView { email, sets_password, has_second_factor, has_password, signed_in_as, display_name }) => {
                                let purpose = if sets_password { PasswordPurpose::SetFirst } else { PasswordPurpose::Reset };
                                view! {
                                    <h1>{if sets_password { "Set a password" } else { "Choose a new password" }}</h1>
                                    <SignedInElsewhere account=signed_in_as then="Saving the password signs that one out in this browser."/>
                                    <ChoosePasswordForm purpose email display_name=display_name.unwrap_or_default() has_second_factor pending=action.pending() error password_error on_submit/>
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
