//! The Passkeys card, its rows and the rename dialog (props only, previewed on /previews).
use leptos::ev::SubmitEvent;
use leptos::prelude::*;

use crate::browser::{dom, UNSUPPORTED};
use crate::components::{sign_out_sessions_choice, Card, ConfirmPanel, ErrorMessage, Field, StatusMessage, TimeAgo};
use crate::model::{PasskeyView, PasskeysView};

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
    /// The server's refusal of the new name, shown at the rename dialog's field.
    #[prop(optional, into)]
    rename_name_error: Signal<Option<String>>,
    #[prop(optional, into)] notice: Signal<Option<String>>,
    panel: RwSignal<PasskeyPanel>,
    /// Starts New passkey with the chosen name (may be empty).
    on_add: Callback<String>,
    on_rename: Callback<(String, String)>,
    /// Removes a passkey (id), and signs out the sessions that signed in with it (true).
    on_remove: Callback<(String, bool)>,
    /// The organisation requires two-step verification and this session has not met it: New
    /// passkey, Rename and Remove wait (the server refuses them until then: a session that proved
    /// one factor may only set up the authenticator app, and a passkey it added would sign in with
    /// both), and the card says so. A passkey the account has already meets it, signed in with.
    #[prop(optional)]
    held: bool,
    /// Previews: the New passkey form as a name refused here leaves it (the name as typed, and its
    /// refusal at the field).
    #[prop(optional)]
    refused_name: Option<(String, String)>,
) -> impl IntoView {
    let count = status.items.len();
    let can_remove = status.can_remove;
    let held_id = crate::components::scoped_id("passkeys-held");
    let held_by = held.then(|| held_id.clone());
    let items = status.items.clone();
    let (typed, refused) = refused_name.unzip();
    let new_name = RwSignal::new(typed.unwrap_or_default());
    // a name the server would refuse is refused here, before the device makes a passkey that the
    // server would then not keep
    let name_error = RwSignal::new(refused);
    let list = if items.is_empty() {
        view! {
            <p class="empty">"No passkeys yet. A passkey lets you sign in with your fingerprint, face or screen lock, and can't be phished."</p>
        }
        .into_any()
    } else {
        view! {
            <ul class="passkey-list">
                {items.iter().cloned().map(|p| view! { <PasskeyRow passkey=p can_remove pending panel on_remove held_by=held_by.clone()/> }).collect_view()}
            </ul>
        }
        .into_any()
    };
    let renaming = {
        let items = items.clone();
        move || match panel.get() {
            PasskeyPanel::Renaming(id) => items.iter().find(|p| p.id == id).cloned().map(|p| {
                let others: Vec<String> = items.iter().filter(|o| o.id != id).map(|o| o.name.clone()).collect();
                view! { <RenameDialog passkey=p others pending error=rename_error name_refused=rename_name_error on_save=on_rename on_cancel=Callback::new(move |_| panel.set(PasskeyPanel::None))/> }
            }),
            _ => None,
        }
    };
    // Opening the naming form moves focus into its field (keyboard and screen-reader users land there).
    let name_field = StoredValue::new(crate::components::scoped_id("passkey_name"));
    Effect::new(move |was_naming: Option<bool>| {
        let naming = panel.get() == PasskeyPanel::Naming;
        if naming && was_naming == Some(false) {
            request_animation_frame(move || name_field.with_value(|id| dom::focus(id)));
        }
        naming
    });
    // Cancel, or Escape in the form: closed, what was typed forgotten, and the keyboard back on
    // New passkey, drawn again where the form was
    let opener = StoredValue::new(crate::components::scoped_id("new-passkey"));
    let cancel_naming = move || {
        new_name.set(String::new());
        name_error.set(None);
        panel.set(PasskeyPanel::None);
        request_animation_frame(move || opener.with_value(|id| dom::focus(id)));
    };
    let names = StoredValue::new(items.iter().map(|p| p.name.clone()).collect::<Vec<_>>());
    let submit_new = move |ev: SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        // (as the server keeps it: composed, so "é" is one character however it was typed)
        let name = crate::browser::text::nfc(&policy::names::without_hidden_characters(&new_name.get_untracked()));
        if policy::names::passkey_name_too_long(&name) {
            // (the field takes the focus with its error)
            name_error.set(Some(format!("Use at most {} characters.", policy::names::PASSKEY_NAME_MAX)));
            return;
        }
        // (the server would number it, "Work laptop 2"; said before the device makes the passkey,
        // the person can choose)
        if names.with_value(|names| names.iter().any(|n| policy::names::same_passkey_name(n, &name))) {
            name_error.set(Some(crate::error::PASSKEY_NAME_TAKEN.to_string()));
            return;
        }
        name_error.set(None);
        on_add.run(name);
    };
    view! {
        <Card id="passkeys" title="Passkeys" header_extra=ViewFn::from(move || view! {
            <span class="muted">{if count == 1 { "1 passkey".to_string() } else { format!("{count} passkeys") }}</span>
        })>
            <p class="muted">"Sign in with your fingerprint, face, screen lock or security key instead of a password. A passkey counts as both steps of two-step verification."</p>
            <StatusMessage message=notice/>
            <ErrorMessage message=error/>
            {list}
            {held.then(|| view! {
                <p class="muted passkeys-held" id=held_id.clone()>{match count {
                    0 => "Your organisation requires two-step verification first. Set it up above; then you can add passkeys here.",
                    1 => "Your organisation requires two-step verification first. Set up an authenticator app above, or sign in with this passkey; then you can add, rename and remove passkeys here.",
                    _ => "Your organisation requires two-step verification first. Set up an authenticator app above, or sign in with one of these passkeys; then you can add, rename and remove passkeys here.",
                }}</p>
            })}
            {renaming}
            <div class="card-footer">
                {move || if !supported.get() {
                    view! { <p class="notice notice-info passkey-unsupported">{UNSUPPORTED}</p> }.into_any()
                } else if panel.get() == PasskeyPanel::Naming {
                    view! {
                        <form method="post" class="stack passkey-naming" novalidate on:submit=submit_new aria-busy=move || pending.get().then_some("true")
                            on:keydown=crate::components::escape_cancels(cancel_naming)>
                            <Field id="passkey_name" label="Name (optional)" autocomplete="off" value=new_name error=name_error
                                hint="Leave it empty to name it after your password manager or device, like “iCloud Keychain”. You can rename it later."/>
                            <div class="form-actions">
                                // (not `disabled` while the device is asked: a disabled button drops
                                // the keyboard's focus; Cancel beside it stops the request)
                                <button type="submit" class="btn btn-primary" aria-disabled=move || pending.get().then_some("true")>
                                    {move || if pending.get() { "Waiting for your device…" } else { "Continue" }}
                                </button>
                                <button type="button" class="btn btn-secondary" on:click=move |_| cancel_naming()>"Cancel"</button>
                            </div>
                        </form>
                    }.into_any()
                } else {
                    view! {
                        <button type="button" id=opener.get_value() class="btn btn-primary" disabled=move || pending.get() || held
                            aria-describedby=held_by.clone() on:click=move |_| { new_name.set(String::new()); name_error.set(None); panel.set(PasskeyPanel::Naming) }>"New passkey"</button>
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
    on_remove: Callback<(String, bool)>,
    /// The id of the card's note that says why Rename and Remove wait (`PasskeysCard`'s `held`).
    held_by: Option<String>,
) -> impl IntoView {
    let held = held_by.is_some();
    let id = passkey.id.clone();
    let sessions = passkey.sessions;
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
                <button type="button" class="btn btn-secondary btn-sm" disabled=move || pending.get() || held
                    aria-label=format!("Rename {name}") aria-describedby=held_by.clone()
                    on:click=move |_| panel.set(PasskeyPanel::Renaming(rename_id.clone()))>"Rename"</button>
                <button type="button" class="btn btn-secondary btn-sm"
                    disabled=move || pending.get() || !can_remove || held
                    aria-label=format!("Remove {}", passkey.name)
                    aria-describedby=held_by.clone().or_else(|| (!can_remove).then(|| why_id.clone()))
                    on:click=move |_| panel.set(PasskeyPanel::Removing(remove_id.clone()))>"Remove"</button>
            </div>
            {move || (panel.get() == PasskeyPanel::Removing(confirm_id.clone())).then(|| {
                let id = confirm_remove.clone();
                let sign_out = RwSignal::new(true);
                view! {
                    <RemovePasskeyConfirm id=id.clone() name=passkey.name.clone() sessions sign_out pending
                        // (the choice as it stands, shown or not: a session that signed in with
                        // this passkey since the page loaded ends too unless it was unticked)
                        on_confirm=Callback::new(move |_| on_remove.run((id.clone(), sign_out.get_untracked())))
                        on_cancel=Callback::new(move |_| panel.set(PasskeyPanel::None))/>
                }
            })}
        </li>
    }
}

/// The confirmation of a passkey's removal, with the choice to also sign out the `sessions` other
/// sessions that signed in with it (`sign_out`: ticked when the card opens it).
#[component]
pub fn RemovePasskeyConfirm(
    /// The passkey's id.
    #[prop(into)]
    id: String,
    #[prop(into)] name: String,
    sessions: u32,
    sign_out: RwSignal<bool>,
    #[prop(into)] pending: Signal<bool>,
    on_confirm: Callback<()>,
    on_cancel: Callback<()>,
) -> impl IntoView {
    let panel_id = format!("confirm-remove-passkey-{id}");
    view! {
        <ConfirmPanel
            id=panel_id.clone()
            question=format!("Remove the passkey “{name}”?")
            detail="You won't be able to sign in with it any more. Also delete it from your device or password manager."
            confirm_label="Remove this passkey"
            pending
            choice=sign_out_sessions_choice(&panel_id, sessions, sign_out, pending)
            on_confirm
            on_cancel/>
    }
}

/// Renames a passkey, in a dialog.
#[component]
pub fn RenameDialog(
    passkey: PasskeyView,
    /// The names of the account's other passkeys (a rename to one of them is refused).
    #[prop(optional)]
    others: Vec<String>,
    #[prop(into)] pending: Signal<bool>,
    #[prop(optional, into)] error: Signal<Option<String>>,
    /// The server refused the name (a rule the dialog could not check, or another passkey took
    /// the name meanwhile): said at the field, which it marks invalid, as the dialog's own checks.
    #[prop(optional, into)]
    name_refused: Signal<Option<String>>,
    on_save: Callback<(String, String)>,
    on_cancel: Callback<()>,
) -> impl IntoView {
    let name = RwSignal::new(passkey.name.clone());
    let field_id = crate::components::scoped_id("passkey_rename");
    let dialog_id = crate::components::scoped_id("rename-dialog");
    let title_id = crate::components::scoped_id("rename-title");
    let labelled_by = title_id.clone();
    // the page behind is inert while it is open; focus moves in when it opens, and back to what
    // opened it (its Rename button) when it closes
    // (the name selected, so typing replaces it: once the field has its value, a frame later)
    crate::components::dialog_focus(dialog_id.clone(), move || {
        let field_id = field_id.clone();
        request_animation_frame(move || dom::focus_and_select(&field_id));
    });
    let (id, current) = (passkey.id.clone(), passkey.name.clone());
    // a name the server would refuse is said at the field, before it is sent (the server's rules)
    let name_error = RwSignal::new(None::<String>);
    let field_error = Signal::derive(move || name_error.get().or_else(|| name_refused.get()));
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        // (compared as the server keeps names: trimmed, without what does not show, a run of
        // spaces as one, then composed, in that order: "e", a zero-width space and an accent is
        // "é" only once the space is gone)
        let typed = crate::browser::text::nfc(&policy::names::without_hidden_characters(&name.get_untracked()));
        if typed == crate::browser::text::nfc(&current) {
            // nothing to rename: Save closes the dialog as Cancel does, with no "Renamed" to hear
            on_cancel.run(());
        } else if typed.is_empty() {
            name_error.set(Some("Enter a name.".to_string()));
        } else if policy::names::passkey_name_too_long(&typed) {
            name_error.set(Some(format!("Use at most {} characters.", policy::names::PASSKEY_NAME_MAX)));
        } else if others.iter().any(|o| policy::names::same_passkey_name(o, &typed)) {
            name_error.set(Some(crate::error::PASSKEY_NAME_TAKEN.to_string()));
        } else {
            crate::components::clear(name_error);
            on_save.run((id.clone(), typed));
        }
    };
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Escape" {
            on_cancel.run(());
        }
    };
    view! {
        <div class="modal-backdrop">
            <div class="modal" id=dialog_id role="dialog" aria-modal="true" aria-labelledby=labelled_by on:keydown=on_key>
                <h2 id=title_id>"Rename passkey"</h2>
                <form method="post" class="stack" novalidate on:submit=submit aria-busy=move || pending.get().then_some("true")>
                    <ErrorMessage message=error/>
                    <Field id="passkey_rename" label="Name" autocomplete="off" required=true value=name error=field_error
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
