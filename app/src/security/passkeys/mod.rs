//! Passkeys section: New passkey (after re-verification, named in the page), the list with
//! provider, Synced badge, created and last used, Rename (a dialog) and Remove (confirmed and
//! re-verified; never the last way to sign in). Also re-verification with a passkey.
mod card;

use leptos::prelude::*;

pub use card::{PasskeyPanel, PasskeysCard, RemovePasskeyConfirm, RenameDialog};

use super::context::{shown_error, shown_error_or_gone, Change, RefusedLastMethod, SecurityContext, Sensitive};
use crate::browser::webauthn;
use crate::error::AppError;
use crate::model::SecurityOverview;

#[cfg(feature = "ssr")]
fn passkey_id(id: &str) -> Result<domain::ids::PasskeyId, AppError> {
    uuid::Uuid::parse_str(id).map(domain::ids::PasskeyId).map_err(|_| crate::server::reject(AppError::NotFound))
}

/// Starts adding a passkey: the options for `navigator.credentials.create`, as JSON. The
/// account's passkeys are excluded, so one authenticator cannot register twice.
///
/// - Auth: signed in and recently verified.
/// - Effects: a stored registration ceremony for this session (5 minutes).
/// - Errors: `ReverifyRequired` (the page asks, then starts again), `Unavailable`.
#[server(prefix = "/api", endpoint = "security/passkeys/begin")]
pub async fn begin_passkey_registration() -> Result<String, AppError> {
    use crate::server::{auth, fail, reject, services};
    let session = auth().map_err(reject)?;
    domain::auth::passkeys::begin_registration(&services()?, &session).await.map(|o| o.to_string()).map_err(fail)
}

/// Finishes adding a passkey with the browser's answer (`PublicKeyCredential` as JSON), named
/// `name` (empty: the provider's name, numbered if repeated). Answers the name it got.
///
/// - Auth: signed in and recently verified; the ceremony must be this session's.
/// - Effects: a passkey; a `passkey_added` event; the ceremony is used up.
/// - Errors: `Invalid { field: "passkey" }` (expired ceremony, already registered, failed
///   verification, wrong origin), `Invalid { field: "name" }`, `ReverifyRequired`, `Unavailable`.
#[server(prefix = "/api", endpoint = "security/passkeys/finish")]
pub async fn finish_passkey_registration(credential: String, #[server(default)] name: String) -> Result<String, AppError> {
    use crate::server::{auth, client, fail, reject, services};
    let session = auth().map_err(reject)?;
    domain::auth::passkeys::finish_registration(&services()?, &session, &credential, &name, &client())
        .await
        .map(|p| p.name)
        .map_err(fail)
}

/// Renames one of the account's passkeys.
///
/// - Auth: signed in.
/// - Effects: the passkey's name, and a `passkey_renamed` event (old and new name) when it changed.
/// - Errors: `NotFound` (unknown id, or another account's passkey alike), `Invalid { field: "name" }`,
///   `Unavailable`.
#[server(prefix = "/api", endpoint = "security/passkeys/rename")]
pub async fn rename_passkey(id: String, name: String) -> Result<String, AppError> {
    use crate::server::{auth, client, fail, reject, services};
    let session = auth().map_err(reject)?;
    domain::auth::passkeys::rename(&services()?, &session, passkey_id(&id)?, &name, &client()).await.map_err(fail)
}

/// Removes one of the account's passkeys; it can no longer sign in. With `sign_out_sessions`, the
/// account's other sessions that signed in with it end too (this one stays). Answers how many
/// sessions ended.
///
/// - Auth: signed in and recently verified.
/// - Effects: the passkey is deleted; with `sign_out_sessions`, the other live sessions it started
///   are revoked (`passkey_removed`; otherwise they stay); a `passkey_removed` event.
/// - Errors: `NotFound` (unknown id, or another account's passkey alike), `Invalid` when it is the
///   account's last way to sign in, `ReverifyRequired`, `Unavailable`.
#[server(prefix = "/api", endpoint = "security/passkeys/remove")]
pub async fn remove_passkey(id: String, #[server(default)] sign_out_sessions: bool) -> Result<u64, AppError> {
    use crate::server::{auth, client, fail, reject, services};
    let session = auth().map_err(reject)?;
    domain::auth::passkeys::remove(&services()?, &session, passkey_id(&id)?, sign_out_sessions, &client()).await.map_err(fail)
}

/// Starts confirming it is the person with one of their passkeys (re-verification).
///
/// - Auth: signed in.
/// - Effects: a stored re-verification ceremony for this session (5 minutes).
/// - Errors: `Invalid` (no passkey), `Unavailable`.
#[server(prefix = "/api", endpoint = "security/reverify/passkey/begin")]
pub async fn begin_passkey_reverify() -> Result<String, AppError> {
    use crate::server::{auth_for_setup, fail, reject, services};
    let session = auth_for_setup().map_err(reject)?;
    domain::auth::passkeys::begin_reverify(&services()?, &session).await.map(|o| o.to_string()).map_err(fail)
}

/// Finishes re-verifying with a passkey: opens the re-verification window.
///
/// - Auth: signed in; the ceremony must be this session's.
/// - Effects: the session's verified time is now and it gets a new token (cookie set; the old one
///   is refused at once); the passkey's last use; a `reverified` event.
/// - Errors: `Invalid { field: "passkey" }`, `Unavailable`.
#[server(prefix = "/api", endpoint = "security/reverify/passkey/finish")]
pub async fn finish_passkey_reverify(credential: String) -> Result<(), AppError> {
    use crate::server::{auth_for_setup, client, fail, reject, services, set_session_cookie};
    let session = auth_for_setup().map_err(reject)?;
    let done = domain::auth::passkeys::finish_reverify(&services()?, &session, &credential, &client()).await.map_err(fail)?;
    set_session_cookie(&done.token);
    Ok(())
}

/// The browser half between two server calls failed or was refused.
#[derive(Clone, Debug, PartialEq)]
pub enum FlowError {
    /// The server wants a recent re-verification first.
    Reverify,
    /// This session ended elsewhere: the page goes to sign-in (`SecurityContext::leave_when_signed_out`).
    SignedOut,
    /// Say this (`None`: say nothing, e.g. the request was replaced).
    Say(Option<String>),
}

impl From<AppError> for FlowError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::ReverifyRequired => FlowError::Reverify,
            AppError::NotSignedIn => FlowError::SignedOut,
            e => FlowError::Say(Some(e.to_string())),
        }
    }
}

/// New passkey, start to end: server options, the browser's prompt, the server's check. Answers
/// the new passkey's name. `abort` stops the browser's prompt (answered `Say(None)`).
pub async fn add_passkey(name: String, abort: Option<&webauthn::Abort>) -> Result<String, FlowError> {
    let options = begin_passkey_registration().await?;
    let credential = webauthn::create(&options, abort).await.map_err(|e| FlowError::Say(e.message("Adding the passkey")))?;
    Ok(finish_passkey_registration(credential, name).await?)
}

/// Re-verification with a passkey, start to end.
pub async fn reverify_with_passkey() -> Result<(), FlowError> {
    let options = begin_passkey_reverify().await?;
    let credential =
        webauthn::get_assertion(&options, None).await.map_err(|e| FlowError::Say(e.message("Confirming with your passkey")))?;
    Ok(finish_passkey_reverify(credential).await?)
}


/// The Passkeys section on the page: New passkey (a browser ceremony between two server calls,
/// re-verified first when needed), Rename and Remove, and which panel is open; made once per
/// visit so that a reload of the overview keeps the panel and the notice.
#[derive(Clone, Copy)]
pub struct PasskeysSection {
    rename: Change<RenamePasskey>,
    remove: Sensitive<RemovePasskey>,
    panel: RwSignal<PasskeyPanel>,
    /// New passkey runs in the browser between two server calls: its own pending/error/notice.
    busy: RwSignal<bool>,
    flow_error: RwSignal<Option<String>>,
    notice: RwSignal<Option<String>>,
    /// Whether this browser can use passkeys: known only once hydrated (SSR assumes it can).
    supported: RwSignal<bool>,
    on_add: Callback<String>,
    /// Removal refused as the only way left to sign in (its confirmation closed).
    refused: RefusedLastMethod,
}

impl PasskeysSection {
    pub fn new() -> Self {
        let ctx = expect_context::<SecurityContext>();
        let (rename, remove) = (ctx.change_or_gone::<RenamePasskey>(), Sensitive::<RemovePasskey>::of(ctx.reverify, ctx.change_or_gone()));
        let panel = RwSignal::new(PasskeyPanel::None);
        let (busy, flow_error, notice) = (RwSignal::new(false), RwSignal::new(None::<String>), RwSignal::new(None::<String>));
        let supported = RwSignal::new(true);
        Effect::new(move |_| supported.set(webauthn::supported()));
        Effect::new(move |_| {
            if let Some(Ok(name)) = rename.value().get() {
                panel.set(PasskeyPanel::None);
                notice.set(Some(format!("Renamed to “{name}”.")));
            }
        });
        let refused = RefusedLastMethod::new(|o| o.passkeys.can_remove);
        Effect::new(move |_| {
            let answer = remove.action.value().get();
            if refused.keep(&answer) {
                panel.set(PasskeyPanel::None);
            }
            if let Some(Ok(ended)) = answer {
                panel.set(PasskeyPanel::None);
                notice.set(Some(format!("Passkey removed. It can no longer sign in to your account{}.", crate::components::signed_out_with_it(ended))));
            }
        });
        // New passkey: options from the server, the browser's prompt, the server's check. Asks for
        // re-verification first when needed, then starts again. Cancel (the form closed while the
        // prompt is open) aborts the prompt: the device makes no passkey, and the buttons are
        // free again at once. Each attempt has a number: the answer of one that was cancelled
        // (or replaced by a newer one) changes nothing on the page.
        let add_again = StoredValue::new(None::<Callback<String>>);
        let prompt: StoredValue<Option<webauthn::Abort>, webauthn::AbortStorage> = StoredValue::new_with_storage(None);
        let attempt = StoredValue::new(0u32);
        // (whether there was a prompt to end)
        let end_prompt = move || prompt.try_update_value(|p| p.take()).flatten().map(|open| open.abort()).is_some();
        Effect::new(move |_| {
            if panel.with(|p| *p != PasskeyPanel::Naming) && end_prompt() {
                attempt.update_value(|n| *n += 1);
                busy.set(false);
            }
        });
        // (leaving the page ends the prompt too: the browser takes one passkey request at a time,
        // and one left waiting would refuse the next page's)
        on_cleanup(move || {
            end_prompt();
        });
        let added_notice = move |name: String| notice.set(Some(format!("Passkey “{name}” added. You can sign in with it now.")));
        let on_add = Callback::new(move |name: String| {
            busy.set(true);
            flow_error.set(None);
            notice.set(None);
            attempt.update_value(|n| *n += 1);
            let this = attempt.get_value();
            let abort = webauthn::Abort::new();
            prompt.set_value(abort.clone());
            leptos::task::spawn_local(async move {
                let answer = add_passkey(name.clone(), abort.as_ref()).await;
                if attempt.try_get_value() != Some(this) {
                    // (cancelled after the device had answered: the passkey was added all the same;
                    // the list shows it, and, unless another form is open by now, the page says so)
                    if let Ok(added) = answer {
                        if panel.try_get_untracked() == Some(PasskeyPanel::None) {
                            added_notice(added);
                        }
                        ctx.refresh();
                    }
                    return;
                }
                prompt.set_value(None);
                match answer {
                    Ok(added) => {
                        panel.set(PasskeyPanel::None);
                        added_notice(added);
                        ctx.refresh();
                    }
                    Err(FlowError::Reverify) => ctx.reverify.ask(Callback::new(move |_| {
                        if let Some(again) = add_again.get_value() {
                            again.run(name.clone());
                        }
                    })),
                    Err(FlowError::Say(message)) => flow_error.set(message),
                    Err(FlowError::SignedOut) => crate::browser::dom::go_to(crate::security::context::SIGNED_OUT_ELSEWHERE),
                }
                busy.set(false);
            });
        });
        add_again.set_value(Some(on_add));
        // Opening or closing a panel starts afresh: no error from an earlier attempt. Opening one
        // also takes the last result away ("Passkey “…” added." stayed beside the new form's
        // refusal of a name). (A refusal or a result that closed the panel stays said.)
        Effect::new(move |_| {
            if panel.with(|p| *p != PasskeyPanel::None) {
                refused.forget();
                notice.set(None);
            }
            rename.value().set(None);
            flow_error.set(None);
            remove.action.value().set(None);
        });
        PasskeysSection { rename, remove, panel, busy, flow_error, notice, supported, on_add, refused }
    }

    pub fn view(self, o: &SecurityOverview) -> impl IntoView {
        let PasskeysSection { rename, remove, panel, busy, flow_error, notice, supported, on_add, refused } = self;
        let on_rename = Callback::new(move |(id, name): (String, String)| {
            notice.set(None);
            // (the last refusal goes now, not with the answer: the field would take it for one of
            // the name just sent)
            crate::components::clear(rename.value());
            rename.dispatch(RenamePasskey { id, name });
        });
        let on_remove = Callback::new(move |(id, sign_out_sessions): (String, bool)| {
            notice.set(None);
            remove.dispatch(RemovePasskey { id, sign_out_sessions });
        });
        // (each `pending()` makes a memo: made once here, not on every read)
        let (renaming, removing) = (rename.pending(), remove.action.pending());
        let pending = Signal::derive(move || busy.get() || renaming.get() || removing.get());
        const GONE: &str = "That passkey was already removed.";
        let error =
            Signal::derive(move || flow_error.get().or_else(|| refused.get()).or_else(|| shown_error_or_gone(remove.action.value().get(), GONE)));
        // (a refused name is said at the dialog's field; anything else above its form)
        let name_refused = |answer: &Option<Result<String, AppError>>| matches!(answer, Some(Err(e)) if e.is_about("name"));
        let rename_error =
            Signal::derive(move || rename.value().with(|a| (!name_refused(a)).then(|| shown_error_or_gone(a.clone(), GONE)).flatten()));
        let rename_name_error = Signal::derive(move || rename.value().with(|a| name_refused(a).then(|| shown_error(a.clone())).flatten()));
        view! {
            <PasskeysCard
                status=o.passkeys.clone()
                supported
                pending
                error
                rename_error
                rename_name_error
                notice
                panel
                on_add
                on_rename
                on_remove
                held=super::two_factor::TwoFactorSection::first(o)
            />
        }
    }
}
