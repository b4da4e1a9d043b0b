//! Passkeys section: New passkey (after re-verification, named in the page), the list with
//! provider, Synced badge, created and last used, Rename (a dialog) and Remove (confirmed and
//! re-verified; never the last way to sign in). Also re-verification with a passkey.
use leptos::ev::SubmitEvent;
use leptos::prelude::*;

use crate::components::{Card, ConfirmPanel, ErrorMessage, Field, StatusMessage, TimeAgo};
use crate::error::AppError;
use crate::model::{PasskeyView, PasskeysView};

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
/// - Effects: the passkey's name.
/// - Errors: `NotFound` (unknown id, or another account's passkey alike), `Invalid { field: "name" }`,
///   `Unavailable`.
#[server(prefix = "/api", endpoint = "security/passkeys/rename")]
pub async fn rename_passkey(id: String, name: String) -> Result<String, AppError> {
    use crate::server::{auth, fail, reject, services};
    let session = auth().map_err(reject)?;
    domain::auth::passkeys::rename(&services()?, &session, passkey_id(&id)?, &name).await.map_err(fail)
}

/// Removes one of the account's passkeys; it can no longer sign in.
///
/// - Auth: signed in and recently verified.
/// - Effects: the passkey is deleted (sessions it started stay); a `passkey_removed` event.
/// - Errors: `NotFound` (unknown id, or another account's passkey alike), `Invalid` when it is the
///   account's last way to sign in, `ReverifyRequired`, `Unavailable`.
#[server(prefix = "/api", endpoint = "security/passkeys/remove")]
pub async fn remove_passkey(id: String) -> Result<(), AppError> {
    use crate::server::{auth, client, fail, reject, services};
    let session = auth().map_err(reject)?;
    domain::auth::passkeys::remove(&services()?, &session, passkey_id(&id)?, &client()).await.map_err(fail)
}

/// Starts confirming it is the person with one of their passkeys (re-verification).
///
/// - Auth: signed in.
/// - Effects: a stored re-verification ceremony for this session (5 minutes).
/// - Errors: `Invalid` (no passkey), `Unavailable`.
#[server(prefix = "/api", endpoint = "security/reverify/passkey/begin")]
pub async fn begin_passkey_reverify() -> Result<String, AppError> {
    use crate::server::{auth_for_setup as auth, fail, reject, services};
    let session = auth().map_err(reject)?;
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
    use crate::server::{auth_for_setup as auth, client, fail, reject, services, set_session_cookie};
    let session = auth().map_err(reject)?;
    let done = domain::auth::passkeys::finish_reverify(&services()?, &session, &credential, &client()).await.map_err(fail)?;
    set_session_cookie(&done.token);
    Ok(())
}

/// The browser half between two server calls failed or was refused.
#[derive(Clone, Debug, PartialEq)]
pub enum FlowError {
    /// The server wants a recent re-verification first.
    Reverify,
    /// Say this (`None`: say nothing, e.g. the request was replaced).
    Say(Option<String>),
}

impl From<AppError> for FlowError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::ReverifyRequired => FlowError::Reverify,
            e => FlowError::Say(Some(e.to_string())),
        }
    }
}

/// New passkey, start to end: server options, the browser's prompt, the server's check. Answers
/// the new passkey's name.
pub async fn add_passkey(name: String) -> Result<String, FlowError> {
    let options = begin_passkey_registration().await?;
    let credential = crate::webauthn::create(&options).await.map_err(|e| FlowError::Say(e.message("Adding the passkey")))?;
    Ok(finish_passkey_registration(credential, name).await?)
}

/// Re-verification with a passkey, start to end.
pub async fn reverify_with_passkey() -> Result<(), FlowError> {
    #[cfg(feature = "hydrate")]
    {
        let options = begin_passkey_reverify().await?;
        let credential = crate::webauthn::get_assertion(&options, None)
            .await
            .map_err(|e| FlowError::Say(e.message("Confirming with your passkey")))?;
        Ok(finish_passkey_reverify(credential).await?)
    }
    #[cfg(not(feature = "hydrate"))]
    Err(FlowError::Say(Some(crate::webauthn::UNSUPPORTED.to_string())))
}

/// Which panel of the section is open (owned by the page, so a refresh of its data keeps it).
#[derive(Clone, Debug, PartialEq, Default)]
pub enum PasskeyPanel {
    #[default]
    None,
    /// Naming the new passkey before the browser's prompt.
    Naming,
    /// Renaming this passkey (id).
    Renaming(String),
    /// Confirming the removal of this passkey (id).
    Removing(String),
}

#[component]
pub fn PasskeysCard(
    status: PasskeysView,
    /// The browser can use passkeys (false: the controls explain, the list still works).
    #[prop(into)]
    supported: Signal<bool>,
    #[prop(into)] pending: Signal<bool>,
    #[prop(optional, into)] error: Signal<Option<String>>,
    /// Shown in the rename dialog.
    #[prop(optional, into)]
    rename_error: Signal<Option<String>>,
    #[prop(optional, into)] notice: Signal<Option<String>>,
    panel: RwSignal<PasskeyPanel>,
    /// Starts New passkey with the chosen name (may be empty).
    on_add: Callback<String>,
    on_rename: Callback<(String, String)>,
    on_remove: Callback<String>,
) -> impl IntoView {
    let count = status.items.len();
    let can_remove = status.can_remove;
    let items = status.items.clone();
    let new_name = RwSignal::new(String::new());
    let list = if items.is_empty() {
        view! {
            <p class="empty">"No passkeys yet. A passkey lets you sign in with your fingerprint, face or screen lock, and can't be phished."</p>
        }
        .into_any()
    } else {
        view! {
            <ul class="passkey-list">
                {items.iter().cloned().map(|p| view! { <PasskeyRow passkey=p can_remove pending panel on_remove/> }).collect_view()}
            </ul>
        }
        .into_any()
    };
    let renaming = {
        let items = items.clone();
        move || match panel.get() {
            PasskeyPanel::Renaming(id) => items.iter().find(|p| p.id == id).cloned().map(|p| {
                view! { <RenameDialog passkey=p pending error=rename_error on_save=on_rename on_cancel=Callback::new(move |_| panel.set(PasskeyPanel::None))/> }
            }),
            _ => None,
        }
    };
    // Opening the naming form moves focus into its field (keyboard and screen-reader users land there).
    let name_field = crate::components::scoped_id("passkey_name");
    Effect::new(move |was_naming: Option<bool>| {
        let naming = panel.get() == PasskeyPanel::Naming;
        if naming && was_naming == Some(false) {
            let id = name_field.clone();
            request_animation_frame(move || {
                use leptos::wasm_bindgen::JsCast;
                if let Some(el) = document().get_element_by_id(&id).and_then(|e| e.dyn_into::<leptos::web_sys::HtmlElement>().ok()) {
                    let _ = el.focus();
                }
            });
        }
        naming
    });
    let submit_new = move |ev: SubmitEvent| {
        ev.prevent_default();
        on_add.run(new_name.get_untracked());
    };
    view! {
        <Card id="passkeys" title="Passkeys" header_extra=ViewFn::from(move || view! {
            <span class="muted">{if count == 1 { "1 passkey".to_string() } else { format!("{count} passkeys") }}</span>
        })>
            <p class="muted">"Sign in with your fingerprint, face, screen lock or security key instead of a password. A passkey counts as both steps of two-step verification."</p>
            <StatusMessage message=notice/>
            <ErrorMessage message=error/>
            {list}
            {renaming}
            <div class="card-footer">
                {move || if !supported.get() {
                    view! { <p class="notice notice-info passkey-unsupported">{crate::webauthn::UNSUPPORTED}</p> }.into_any()
                } else if panel.get() == PasskeyPanel::Naming {
                    view! {
                        <form class="stack passkey-naming" novalidate on:submit=submit_new aria-busy=move || pending.get().then_some("true")>
                            <Field id="passkey_name" label="Name (optional)" autocomplete="off" value=new_name
                                hint="Leave it empty to name it after your password manager or device, like “iCloud Keychain”. You can rename it later."/>
                            <div class="form-actions">
                                <button type="submit" class="btn btn-primary" disabled=move || pending.get()>
                                    {move || if pending.get() { "Waiting for your device…" } else { "Continue" }}
                                </button>
                                <button type="button" class="btn btn-secondary" on:click=move |_| {
                                    new_name.set(String::new());
                                    panel.set(PasskeyPanel::None);
                                }>"Cancel"</button>
                            </div>
                        </form>
                    }.into_any()
                } else {
                    view! {
                        <button type="button" class="btn btn-primary" disabled=move || pending.get()
                            on:click=move |_| { new_name.set(String::new()); panel.set(PasskeyPanel::Naming) }>"New passkey"</button>
                    }.into_any()
                }}
            </div>
        </Card>
    }
}

#[component]
fn PasskeyRow(
    passkey: PasskeyView,
    can_remove: bool,
    #[prop(into)] pending: Signal<bool>,
    panel: RwSignal<PasskeyPanel>,
    on_remove: Callback<String>,
) -> impl IntoView {
    let id = passkey.id.clone();
    let (rename_id, remove_id, confirm_id, confirm_remove) = (id.clone(), id.clone(), id.clone(), id.clone());
    let why_id = crate::components::scoped_id(&format!("passkey-{id}-why"));
    let name = passkey.name.clone();
    let provider = passkey.provider.clone().unwrap_or_else(|| "Unknown provider".to_string());
    view! {
        <li class="passkey-row">
            <div class="passkey-main">
                <div class="passkey-title">
                    <strong class="passkey-name">{passkey.name.clone()}</strong>
                    {passkey.synced.then(|| view! { <span class="badge badge-current" title="Your password manager keeps it on your other devices too">"Synced"</span> })}
                </div>
                <p class="muted passkey-meta">
                    <span class="passkey-provider">{provider}</span>
                    " · Added " <TimeAgo moment=passkey.created.clone()/>
                    " · "
                    {match passkey.last_used.clone() {
                        Some(m) => view! { <span class="passkey-last-used">"Last used " <TimeAgo moment=m/></span> }.into_any(),
                        None => view! { <span class="passkey-last-used">"Never used"</span> }.into_any(),
                    }}
                </p>
                {(!can_remove).then(|| view! { <p class="muted passkey-why" id=why_id.clone()>"This is your only way to sign in. Add a password or another passkey first."</p> })}
            </div>
            <div class="passkey-actions">
                <button type="button" class="btn btn-secondary btn-sm" disabled=move || pending.get()
                    aria-label=format!("Rename {name}")
                    on:click=move |_| panel.set(PasskeyPanel::Renaming(rename_id.clone()))>"Rename"</button>
                <button type="button" class="btn btn-secondary btn-sm"
                    disabled=move || pending.get() || !can_remove
                    aria-label=format!("Remove {}", passkey.name)
                    aria-describedby=(!can_remove).then(|| why_id.clone())
                    on:click=move |_| panel.set(PasskeyPanel::Removing(remove_id.clone()))>"Remove"</button>
            </div>
            {move || (panel.get() == PasskeyPanel::Removing(confirm_id.clone())).then(|| {
                let id = confirm_remove.clone();
                view! {
                    <ConfirmPanel
                        question=format!("Remove the passkey “{}”?", passkey.name)
                        detail="You won't be able to sign in with it any more. Also delete it from your device or password manager."
                        confirm_label="Remove this passkey"
                        pending
                        on_confirm=Callback::new(move |_| on_remove.run(id.clone()))
                        on_cancel=Callback::new(move |_| panel.set(PasskeyPanel::None))/>
                }
            })}
        </li>
    }
}

/// Renames a passkey, in a dialog.
#[component]
pub fn RenameDialog(
    passkey: PasskeyView,
    #[prop(into)] pending: Signal<bool>,
    #[prop(optional, into)] error: Signal<Option<String>>,
    on_save: Callback<(String, String)>,
    on_cancel: Callback<()>,
) -> impl IntoView {
    let name = RwSignal::new(passkey.name.clone());
    let field_id = crate::components::scoped_id("passkey_rename");
    Effect::new(move |_| {
        use leptos::wasm_bindgen::JsCast;
        if let Some(el) = document().get_element_by_id(&field_id).and_then(|e| e.dyn_into::<leptos::web_sys::HtmlInputElement>().ok()) {
            let _ = el.focus();
            el.select();
        }
    });
    let id = passkey.id.clone();
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        on_save.run((id.clone(), name.get_untracked()));
    };
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Escape" {
            on_cancel.run(());
        }
    };
    view! {
        <div class="modal-backdrop">
            <div class="modal" role="dialog" aria-modal="true" aria-labelledby="rename-title" on:keydown=on_key>
                <h2 id="rename-title">"Rename passkey"</h2>
                <form class="stack" novalidate on:submit=submit aria-busy=move || pending.get().then_some("true")>
                    <ErrorMessage message=error/>
                    <Field id="passkey_rename" label="Name" autocomplete="off" required=true value=name
                        hint="Something that tells you where it lives, like “Work laptop” or “Blue YubiKey”."/>
                    <div class="form-actions">
                        <button type="submit" class="btn btn-primary" disabled=move || pending.get()>
                            {move || if pending.get() { "Saving…" } else { "Save" }}
                        </button>
                        <button type="button" class="btn btn-secondary" on:click=move |_| on_cancel.run(())>"Cancel"</button>
                    </div>
                </form>
            </div>
        </div>
    }
}
