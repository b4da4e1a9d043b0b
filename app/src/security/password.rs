//! Password section: whether the account has a password, Change password (current + new) or Set
//! password (after re-verification), with a strength meter from the rules the server enforces.
use leptos::ev::SubmitEvent;
use leptos::prelude::*;

use policy::password::{MAX_LENGTH, MIN_LENGTH, MIN_LENGTH_WITH_SECOND_FACTOR};

use super::context::{shown_error, Change, SecurityContext, Sensitive};
use crate::components::{Card, ErrorMessage, Field, StatusMessage, TimeAgo};
use crate::error::AppError;
use crate::model::{PasswordView, SecurityOverview};

/// Changes the password. Signs out every other session of the account; this session gets a new
/// token and stays signed in.
///
/// - Auth: signed in; the current password is the proof of identity.
/// - Effects: new hash, other sessions revoked, fresh session cookie, `password_changed` event —
///   all in one transaction; this browser's device cookie renewed (it keeps its own throttle path).
/// - Errors: `NotSignedIn`, `Invalid { field: "current_password" }`, `PasswordRejected`,
///   `RateLimited` (429), `Busy` (503), `Unavailable`.
/// - Rate limit: per client network, shared with sign-in (`[limits] password_*`); then the
///   throttle of this browser's path; hashing bounded by `[argon2]`.
#[server(prefix = "/api", endpoint = "security/password/change")]
pub async fn change_password(current_password: String, new_password: String) -> Result<(), AppError> {
    use crate::server::{auth, client, fail, reject, services, set_device_cookie, set_session_cookie};
    use domain::secret::Password;
    let session = auth().map_err(reject)?;
    let svc = services()?;
    let changed = domain::auth::accounts::change_password(
        &svc,
        &session,
        &Password::new(current_password),
        &Password::new(new_password),
        &client(),
    )
    .await
    .map_err(fail)?;
    set_session_cookie(&changed.token);
    set_device_cookie(&changed.device);
    Ok(())
}

/// Gives a password to an account that has none (signed up with Google or GitHub, or passkeys only).
/// Signs out every other session; this one gets a new token and stays signed in.
///
/// - Auth: signed in and recently verified.
/// - Effects: the hash, other sessions revoked, fresh session cookie, `password_set` event — in one
///   transaction; this browser's device cookie renewed (it keeps its own throttle path).
/// - Errors: `ReverifyRequired` (the page asks, then retries; also when the window ended or End now
///   committed while the request waited to hash: checked again in the transaction), `Invalid`
///   (already has one),
///   `PasswordRejected`, `RateLimited` (429), `Busy` (503), `Unavailable`.
/// - Rate limit: per client network, shared with sign-in (`[limits] password_*`); hashing bounded
///   by `[argon2]`.
#[server(prefix = "/api", endpoint = "security/password/set")]
pub async fn set_password(new_password: String) -> Result<(), AppError> {
    use crate::server::{auth, client, fail, reject, services, set_device_cookie, set_session_cookie};
    let session = auth().map_err(reject)?;
    let svc = services()?;
    let set = domain::auth::accounts::set_password(&svc, &session, &domain::secret::Password::new(new_password), &client())
        .await
        .map_err(fail)?;
    set_session_cookie(&set.token);
    set_device_cookie(&set.device);
    Ok(())
}

/// The Password section on the page: Change password, or Set password (re-verified first), made
/// once per visit.
#[derive(Clone, Copy)]
pub struct PasswordSection {
    ctx: SecurityContext,
    change: Change<ChangePassword>,
    set: Sensitive<SetPassword>,
}

impl PasswordSection {
    pub fn new() -> Self {
        let ctx = expect_context::<SecurityContext>();
        PasswordSection { ctx, change: ctx.change(), set: Sensitive::of(ctx.reverify, ctx.change()) }
    }

    pub fn view(self, o: &SecurityOverview) -> impl IntoView {
        let PasswordSection { ctx, change, set } = self;
        // (each `pending()` makes a memo: made once here, not on every read)
        let (changing, setting) = (change.pending(), set.action.pending());
        let pending = Signal::derive(move || changing.get() || setting.get());
        let error = Signal::derive(move || shown_error(change.value().get()).or_else(|| shown_error(set.action.value().get())));
        // the field an error is about: the current password that was wrong, the new one refused
        let error_field = Signal::derive(move || {
            let failed = |v: Option<Result<(), AppError>>| v.and_then(Result::err);
            match failed(change.value().get()).or_else(|| failed(set.action.value().get())) {
                Some(AppError::Invalid { field, .. }) if field == "current_password" => Some("current_password"),
                Some(AppError::PasswordRejected(_)) => Some("new_password"),
                _ => None,
            }
        });
        let success = Signal::derive(move || {
            if let Some(Ok(())) = change.value().get() {
                Some("Password changed. Your other sessions were signed out.".to_string())
            } else if let Some(Ok(())) = set.action.value().get() {
                Some("Password set. You can now sign in with your email and password; your other sessions were signed out.".to_string())
            } else {
                None
            }
        });
        let on_submit = Callback::new(move |c: PasswordChange| {
            if c.current.is_empty() && ctx.shown.with_untracked(|o| o.as_ref().is_some_and(|o| !o.password.has_password)) {
                set.dispatch(SetPassword { new_password: c.new });
            } else {
                change.dispatch(ChangePassword { current_password: c.current, new_password: c.new });
            }
        });
        view! {
            <PasswordCard
                status=o.password.clone()
                email=o.viewer.email.clone()
                display_name=o.viewer.display_name.clone().unwrap_or_default()
                has_second_factor=o.two_factor.enabled.is_some()
                held=super::two_factor::TwoFactorSection::first(o)
                no_other_way=no_other_way(o)
                open=ctx.password_open
                focus=ctx.password_focus
                pending
                error
                error_field
                success
                on_submit
            />
        }
    }
}

/// The account has no passkey and no connected account: without a password nothing signs in to
/// it. ("This wasn't me" can leave an account so: it removes what the reported sign-in used.)
pub fn no_other_way(o: &SecurityOverview) -> bool {
    !o.verification.has_passkey && o.verification.providers.is_empty()
}

/// What the password form submits (`current` is empty when setting a first password).
#[derive(Clone, Debug, PartialEq)]
pub struct PasswordChange {
    pub current: String,
    pub new: String,
}

/// How the new password measures up against the rules, while the person types. The server checks
/// the same rules, and lists of leaked passwords too (not shipped to the browser).
#[component]
pub fn StrengthMeter(
    id: String,
    #[prop(into)] password: Signal<String>,
    email: String,
    display_name: Option<String>,
    /// With a second factor, the rules ask for fewer characters (as the server's do).
    #[prop(optional)]
    has_second_factor: bool,
    /// The server's refusal of the password as it stands (leaked, say: its field says why;
    /// `components::while_unchanged`): the meter says "Not accepted", not "Good" beside it.
    #[prop(optional, into)]
    refusal: Signal<Option<String>>,
) -> impl IntoView {
    use policy::password::{assess, Context, Verdict};
    let refused = move || refusal.with(Option::is_some);
    let verdict = Memo::new(move |_| {
        let pw = password.get();
        (!pw.is_empty()).then(|| {
            assess(&pw, &Context { email: &email, display_name: display_name.as_deref(), has_second_factor })
        })
    });
    let level = move || match verdict.get() {
        _ if refused() => 1,
        None => 0,
        Some(Verdict::Acceptable { strong: true }) => 4,
        Some(Verdict::Acceptable { strong: false }) => 3,
        Some(_) => 1,
    };
    let text = move || match verdict.get() {
        _ if refused() => "Not accepted: choose another.".into(),
        None => String::new(),
        Some(Verdict::TooShort { min, have }) => {
            let more = min - have;
            format!("Too short: {more} more character{}.", if more == 1 { "" } else { "s" })
        }
        Some(Verdict::TooLong) => format!("Too long: at most {MAX_LENGTH} characters."),
        Some(Verdict::FromContext) => "Built from your email, your name or the site's name.".into(),
        Some(Verdict::Predictable) => "Too predictable: repeated or sequential characters.".into(),
        Some(Verdict::CommonWords) => "Too predictable: built from words every guesser tries first.".into(),
        Some(Verdict::Acceptable { strong: false }) => "Good. We'll also check it isn't a known leaked password.".into(),
        Some(Verdict::Acceptable { strong: true }) => "Strong. We'll also check it isn't a known leaked password.".into(),
    };
    // A screen reader hears the verdict when it changes, not each keystroke's count ("Too short:
    // 13 more characters", "12 more"…): the line itself is read with the field (it describes it).
    let kind = Memo::new(move |_| match verdict.get() {
        _ if refused() => "Not accepted.",
        None => "",
        Some(Verdict::TooShort { .. }) => "Too short.",
        Some(Verdict::TooLong) => "Too long.",
        Some(Verdict::FromContext) => "Built from your email, your name or the site's name.",
        Some(Verdict::Predictable | Verdict::CommonWords) => "Too predictable.",
        Some(Verdict::Acceptable { strong: false }) => "Good.",
        Some(Verdict::Acceptable { strong: true }) => "Strong.",
    });
    view! {
        <div class="strength" data-level=level>
            <meter min="0" max="4" low="2" high="3" optimum="4" value=level aria-hidden="true"></meter>
            <p id=id class="strength-text">{text}</p>
            <p class="visually-hidden" aria-live="polite">{kind}</p>
        </div>
    }
}

#[component]
pub fn PasswordCard(
    status: PasswordView,
    /// The account's email and name: the meter refuses passwords built from them, as the server does.
    #[prop(into)]
    email: String,
    #[prop(optional, into)] display_name: Option<String>,
    /// The account has a second factor: `MIN_LENGTH_WITH_SECOND_FACTOR` characters are enough.
    #[prop(optional)]
    has_second_factor: bool,
    /// Show the form open (previews).
    #[prop(optional)]
    initially_open: bool,
    /// Whether the form is open, when the page controls it (another section may open it).
    #[prop(optional)]
    open: Option<RwSignal<bool>>,
    /// While true and the form is open, its first field takes the focus whenever it appears.
    #[prop(optional)]
    focus: Option<RwSignal<bool>>,
    /// Start with this new password typed (previews of the meter).
    #[prop(optional, into)]
    initial_new: String,
    #[prop(into)] pending: Signal<bool>,
    #[prop(optional, into)] error: Signal<Option<String>>,
    /// The field `error` is about ("current_password", "new_password"): said under that field,
    /// which takes the focus (a screen reader reads its label, then the error), instead of above
    /// the form.
    #[prop(optional, into)]
    error_field: Signal<Option<&'static str>>,
    #[prop(optional, into)] success: Signal<Option<String>>,
    /// The organisation requires two-step verification and it is not set up yet: the button waits
    /// for that (the server refuses a change until then), and says so.
    #[prop(optional)]
    held: bool,
    /// No passkey and no connected account (`no_other_way`): without a password, nothing signs in
    /// to the account, and the card says so instead of "you sign in another way".
    #[prop(optional)]
    no_other_way: bool,
    on_submit: Callback<PasswordChange>,
) -> impl IntoView {
    let open = open.unwrap_or_else(|| RwSignal::new(initially_open));
    let on_field = move |field: &'static str| Signal::derive(move || error.get().filter(|_| error_field.get() == Some(field)));
    let above = Signal::derive(move || error.get().filter(|_| error_field.get().is_none()));
    let current = RwSignal::new(String::new());
    let new = RwSignal::new(initial_new);
    // (the meter says "Not accepted" while the new password is the one the server refused)
    let refusal = crate::components::while_unchanged(on_field("new_password"), new);
    // A successful change closes the form and forgets what was typed. (Only a success that comes
    // while this card is on the page: the card drawn again later, after another change, with the
    // earlier success still said, must not close a form opened since.)
    Effect::new(move |before: Option<bool>| {
        let succeeded = success.get().is_some();
        if succeeded && before == Some(false) {
            open.set(false);
            current.set(String::new());
            new.set(String::new());
        }
        succeeded
    });
    let has_password = status.has_password;
    if let Some(focus) = focus {
        // While asked and open, every drawing of the form puts the focus on its first field: the
        // page redraws once the change that asked for it has reloaded, however long that takes.
        // The person's next key or pointer press ends the ask, so later redraws (after other
        // changes) leave the focus where they put it.
        Effect::new(move |_| {
            if focus.get() && open.get() {
                set_timeout(
                    move || {
                        if focus.try_get_untracked() == Some(true) {
                            crate::browser::dom::focus_field(if has_password { "current_password" } else { "new_password" });
                        }
                    },
                    std::time::Duration::ZERO,
                );
                let done = move || {
                    focus.try_set(false);
                };
                let keys = window_event_listener(leptos::ev::keydown, move |_| done());
                let pointer = window_event_listener(leptos::ev::pointerdown, move |_| done());
                on_cleanup(move || {
                    keys.remove();
                    pointer.remove();
                });
            }
        });
        // closed (saved or cancelled): no more focus moves
        Effect::new(move |_| {
            if !open.get() {
                focus.set(false);
            }
        });
    }
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        on_submit.run(PasswordChange { current: current.get_untracked(), new: new.get_untracked() });
    };
    let summary = match (&status.has_password, &status.changed) {
        (true, Some(changed)) => view! {
            <p><strong>"Password set"</strong><span class="muted">" · last changed " <TimeAgo moment=changed.clone()/></span></p>
        }
        .into_any(),
        (true, None) => view! { <p><strong>"Password set"</strong></p> }.into_any(),
        // (only "This wasn't me" leaves a change time without a password: it turned the password
        // off, and the account may have no other way to sign in)
        (false, Some(_)) => view! {
            <p><strong>"Password turned off"</strong><span class="muted">" · after you reported a sign-in that wasn't you. Set a new one to sign in with your email again."</span></p>
        }
        .into_any(),
        (false, None) if !no_other_way => view! {
            <p><strong>"No password set"</strong><span class="muted">" · you sign in another way. Add one to sign in with your email too."</span></p>
        }
        .into_any(),
        (false, None) => view! { <p><strong>"No password set"</strong></p> }.into_any(),
    };
    // (a warning, not a muted aside: signing out now would leave only Forgot password)
    let stranded = (!has_password && no_other_way).then(|| view! {
        <p class="notice notice-warning">
            <strong>"You have no way to sign in."</strong>
            " Your account has no password, passkey or connected account. Set a password before you sign out; otherwise only Forgot password on the sign-in page gets you back in."
        </p>
    });
    let action = if has_password { "Change password" } else { "Set password" };
    // Change password's id: the focus goes back to it after Cancel. (Plain data, not a stored
    // value: the header's closure may run once more after a reload has disposed of this card.)
    let opener_id = crate::components::scoped_id("password-open");
    let cancel = {
        let opener_id = opener_id.clone();
        Callback::new(move |()| {
            open.set(false);
            current.set(String::new());
            new.set(String::new());
            // back to Change password, drawn again where the form was opened
            let id = opener_id.clone();
            request_animation_frame(move || crate::browser::dom::focus(&id));
        })
    };
    let meter_id = crate::components::scoped_id("new_password-strength");
    let held_id = crate::components::scoped_id("password-held");
    let held_by = held.then(|| held_id.clone());
    view! {
        <Card id="password" title="Password" header_extra=ViewFn::from(move || {
            let (opener_id, held_by) = (opener_id.clone(), held_by.clone());
            view! {
            {move || (!open.get()).then(|| view! {
                <button type="button" id=opener_id.clone() class="btn btn-secondary" disabled=held aria-describedby=held_by.clone() on:click=move |_| {
                    open.set(true);
                    // (the button goes, and the focus with it: to the form's first field instead)
                    if let Some(focus) = focus {
                        focus.set(true);
                    }
                }>{action}</button>
            })}
            }
        })>
            {summary}
            {stranded}
            // (on the page, not in a tooltip: see Turn off's reason in Two-step verification)
            {held.then(|| view! {
                <p class="muted" id=held_id.clone()>{format!("Your organisation requires two-step verification first. Set it up above; then you can {} here.", if has_password { "change your password" } else { "set a password" })}</p>
            })}
            <StatusMessage message=success/>
            <Show when=move || open.get()>
                <form method="post" class="stack" novalidate on:submit=submit aria-busy=move || pending.get().then_some("true")
                    on:keydown=crate::components::escape_cancels(move || cancel.run(()))>
                    <ErrorMessage message=above/>
                    {has_password.then(|| view! {
                        <Field id="current_password" label="Current password" kind="password" autocomplete="current-password" required=true value=current
                            error=on_field("current_password")/>
                    })}
                    <Field
                        id="new_password"
                        label="New password"
                        kind="password"
                        autocomplete="new-password"
                        required=true
                        hint=if has_second_factor {
                            format!("At least {MIN_LENGTH_WITH_SECOND_FACTOR} characters, as you use two-step verification; longer is stronger. Saving it signs you out everywhere else.")
                        } else {
                            format!("At least {MIN_LENGTH} characters; a few unrelated words work well. Saving it signs you out everywhere else.")
                        }
                        value=new
                        described_by=meter_id.clone()
                        error=on_field("new_password")
                    />
                    <StrengthMeter id=meter_id.clone() password=new email=email.clone() display_name=display_name.clone() has_second_factor refusal/>
                    <div class="form-actions">
                        <button type="submit" class="btn btn-primary" disabled=move || pending.get()>
                            {move || match (pending.get(), has_password) {
                                (true, _) => "Saving…",
                                (false, true) => "Update password",
                                (false, false) => "Set password",
                            }}
                        </button>
                        <button type="button" class="btn btn-secondary" on:click=move |_| cancel.run(())>"Cancel"</button>
                    </div>
                </form>
            </Show>
        </Card>
    }
}
