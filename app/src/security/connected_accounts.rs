//! Connected accounts section: a row per provider (Google, GitHub). Not connected → Connect (after
//! re-verification; the browser goes to the provider and comes back here). Connected → the provider
//! account's email or login, when it was connected and last used to sign in, and Disconnect
//! (re-verified and confirmed; never the account's last way to sign in). Also re-verification with
//! a connected provider.
use leptos::prelude::*;

use super::context::{shown_error, shown_error_or_gone, RefusedLastMethod, SecurityContext, Sensitive};
use crate::browser::dom;
use crate::components::{Card, ConfirmPanel, ErrorMessage, StatusMessage, TimeAgo};
use crate::error::AppError;
use crate::model::{ConnectedAccountView, ConnectedAccountsView, ProviderKind, SecurityOverview};
use crate::sign_in::providers::{outcome_in_address, ProviderMark, ProviderOutcome, Tone};

/// Begins connecting `provider` to this account: answers the provider's authorization URL, where
/// the browser goes next; the provider sends it back to `/auth/<provider>/callback`, which links
/// the identity and returns here.
///
/// - Auth: signed in and recently verified.
/// - Effects: a provider flow bound to this browser (flow cookie) and to this session, single use,
///   10 minutes.
/// - Errors: `ReverifyRequired`, `Invalid { field: "provider" }` (already connected, not offered,
///   unreachable), `Unavailable`.
#[server(prefix = "/api", endpoint = "security/connected-accounts/connect")]
pub async fn connect_provider(provider: ProviderKind) -> Result<String, AppError> {
    use crate::server::{auth, fail_for, flow_cookie, reject, services, set_flow_cookie};
    let session = auth().map_err(reject)?;
    let started = domain::auth::connected_accounts::begin_connect(&services()?, &session, provider.into(), flow_cookie().as_ref())
        .await
        .map_err(fail_for(provider))?;
    set_flow_cookie(&started.cookie);
    Ok(started.url)
}

/// Disconnects the account's `provider` identity: it can no longer sign in to this account. With
/// `sign_out_sessions`, the account's other sessions that signed in with it end too (this one
/// stays). Answers how many sessions ended.
///
/// - Auth: signed in and recently verified.
/// - Effects: the link is deleted, so are sign-ins through it still waiting for their second step;
///   with `sign_out_sessions`, the other live sessions it started are revoked
///   (`provider_disconnected`; otherwise they stay); a `provider_disconnected` event.
/// - Errors: `NotFound` (not connected), `Invalid { field: LAST_SIGN_IN_METHOD }` when it is the
///   account's last way to sign in (checked with the account row locked), `ReverifyRequired`, `Unavailable`.
#[server(prefix = "/api", endpoint = "security/connected-accounts/disconnect")]
pub async fn disconnect_provider(provider: ProviderKind, #[server(default)] sign_out_sessions: bool) -> Result<u64, AppError> {
    use crate::server::{auth, client, fail_for, reject, services};
    let session = auth().map_err(reject)?;
    domain::auth::connected_accounts::disconnect(&services()?, &session, provider.into(), sign_out_sessions, &client())
        .await
        .map_err(fail_for(provider))
}

/// Begins confirming it is the person with a connected provider (re-verification): answers the
/// provider's authorization URL; its callback re-verifies this session and returns here.
///
/// - Auth: signed in (also while the organisation still requires a second factor).
/// - Effects: a provider flow bound to this browser and session, single use, 10 minutes.
/// - Errors: `Invalid { field: "provider" }` (not connected, unreachable), `Unavailable`.
#[server(prefix = "/api", endpoint = "security/reverify/provider/begin")]
pub async fn begin_provider_reverify(provider: ProviderKind) -> Result<String, AppError> {
    use crate::server::{auth_for_setup, fail_for, flow_cookie, reject, services, set_flow_cookie};
    let session = auth_for_setup().map_err(reject)?;
    let started = domain::auth::connected_accounts::begin_reverify(&services()?, &session, provider.into(), flow_cookie().as_ref())
        .await
        .map_err(fail_for(provider))?;
    set_flow_cookie(&started.cookie);
    Ok(started.url)
}

/// Which confirmation is open (owned by the page, so a refresh of its data keeps it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ConnectedPanel {
    #[default]
    None,
    Disconnecting(ProviderKind),
}

/// The Connected accounts section on the page; made once per visit.
#[derive(Clone, Copy)]
pub struct ConnectedAccountsSection {
    connect: Sensitive<ConnectProvider>,
    disconnect: Sensitive<DisconnectProvider>,
    panel: RwSignal<ConnectedPanel>,
    notice: RwSignal<Option<String>>,
    /// The outcome the provider's callback sent the person back with (`?provider=…&provider_outcome=…`).
    returned: Memo<Option<(ProviderKind, crate::sign_in::providers::ProviderOutcome)>>,
    /// The person has since done something else in the section: that outcome is old news.
    moved_on: RwSignal<bool>,
    /// Refused as the only way left to sign in (its confirmation closed).
    refused: RefusedLastMethod,
}

impl ConnectedAccountsSection {
    pub fn new() -> Self {
        let ctx = expect_context::<SecurityContext>();
        let connect = Sensitive::<ConnectProvider>::new(ctx.reverify);
        let disconnect = Sensitive::<DisconnectProvider>::of(ctx.reverify, ctx.change_or_gone());
        let (panel, notice) = (RwSignal::new(ConnectedPanel::None), RwSignal::new(None::<String>));
        let returned = outcome_in_address();
        ctx.leave_when_signed_out(connect.action);
        // Connect: the browser leaves for the provider.
        Effect::new(move |_| {
            if let Some(Ok(url)) = connect.action.value().get() {
                dom::go_to(&url);
            }
        });
        let refused = RefusedLastMethod::new(|o| o.connected_accounts.rows.iter().any(|r| r.connected.is_some() && r.can_disconnect));
        Effect::new(move |_| {
            let answer = disconnect.action.value().get();
            if refused.keep(&answer) {
                panel.set(ConnectedPanel::None);
            }
            if let Some(Ok(ended)) = answer {
                let name = match panel.get_untracked() {
                    ConnectedPanel::Disconnecting(p) => p.name(),
                    ConnectedPanel::None => "The account",
                };
                panel.set(ConnectedPanel::None);
                notice.set(Some(format!("{name} is disconnected. It can no longer sign in to your account{}.", crate::components::signed_out_with_it(ended))));
            }
        });
        // Opening or closing the confirmation starts afresh (a refusal that closed it stays said).
        Effect::new(move |_| {
            if panel.get() != ConnectedPanel::None {
                refused.forget();
            }
            disconnect.action.value().set(None);
        });
        ConnectedAccountsSection { connect, disconnect, panel, notice, returned, moved_on: RwSignal::new(false), refused }
    }

    pub fn view(self, o: &SecurityOverview) -> impl IntoView {
        let ConnectedAccountsSection { connect, disconnect, panel, notice, returned, moved_on, refused } = self;
        let on_connect = Callback::new(move |provider: ProviderKind| {
            notice.set(None);
            refused.forget();
            moved_on.set(true);
            connect.dispatch(ConnectProvider { provider });
        });
        let on_disconnect = Callback::new(move |(provider, sign_out_sessions): (ProviderKind, bool)| {
            notice.set(None);
            moved_on.set(true);
            disconnect.dispatch(DisconnectProvider { provider, sign_out_sessions });
        });
        // a pending Connect keeps its buttons disabled until the browser has left
        // (each `pending()` makes a memo: made once here, not on every read)
        let (connect_pending, disconnect_pending) = (connect.action.pending(), disconnect.action.pending());
        let connecting = Signal::derive(move || connect_pending.get() || matches!(connect.action.value().get(), Some(Ok(_))));
        let pending = Signal::derive(move || connecting.get() || disconnect_pending.get());
        // (what the provider's return said, until the next Connect or Disconnect: "You cancelled at
        // GitHub" beside "Google is disconnected" read as if both had just happened). One that says
        // the provider is connected only when the account has it: the address is anyone's to write,
        // and a link made to say "Google is connected" when it is not would mislead.
        let connected: Vec<ProviderKind> = o.connected_accounts.rows.iter().filter(|r| r.connected.is_some()).map(|r| r.provider.kind).collect();
        // ("a new account, made with GitHub" only on an account GitHub made minutes ago)
        let made: Option<ProviderKind> =
            o.connected_accounts.rows.iter().find(|r| r.connected.as_ref().is_some_and(|c| c.made_the_account)).map(|r| r.provider.kind);
        let holds = move |k: &ProviderKind, o: &ProviderOutcome| match o {
            ProviderOutcome::Connected | ProviderOutcome::AlreadyConnected => connected.contains(k),
            ProviderOutcome::NewAccount => made == Some(*k),
            _ => true,
        };
        let said = move |tone: Tone| {
            returned.get().filter(|(k, o)| o.tone() == tone && !moved_on.get() && holds(k, o)).map(|(k, o)| o.sentence(k))
        };
        let (said_problem, said_info) = (said.clone(), said.clone());
        let error = Signal::derive(move || {
            shown_error(connect.action.value().get())
                .or_else(|| refused.get())
                .or_else(|| shown_error_or_gone(disconnect.action.value().get(), "That account was already disconnected."))
                .or_else(|| said_problem(Tone::Problem))
        });
        let info = Signal::derive(move || said_info(Tone::Info));
        let notice = Signal::derive(move || notice.get().or_else(|| said(Tone::Success)));
        view! {
            <ConnectedAccountsCard status=o.connected_accounts.clone() pending error notice info panel on_connect on_disconnect
                held=super::two_factor::TwoFactorSection::first(o)/>
        }
    }
}

/// The Connected accounts card (props only, previewed on /previews). Shown only when the server
/// offers a provider or the account has one connected.
#[component]
pub fn ConnectedAccountsCard(
    status: ConnectedAccountsView,
    #[prop(into)] pending: Signal<bool>,
    #[prop(optional, into)] error: Signal<Option<String>>,
    #[prop(optional, into)] notice: Signal<Option<String>>,
    /// A calm note (role=status): cancelled at the provider.
    #[prop(optional, into)]
    info: Signal<Option<String>>,
    panel: RwSignal<ConnectedPanel>,
    on_connect: Callback<ProviderKind>,
    /// Disconnects a provider, and signs out the sessions that signed in with it (true).
    on_disconnect: Callback<(ProviderKind, bool)>,
    /// The organisation requires two-step verification and it is not set up yet: Connect and
    /// Disconnect wait for that (the server refuses them until then), and the card says so.
    #[prop(optional)]
    held: bool,
) -> impl IntoView {
    if status.rows.is_empty() {
        return ().into_any();
    }
    let local = status.rows.iter().any(|r| r.provider.local);
    let held_id = crate::components::scoped_id("connected-held");
    let held_by = held.then(|| held_id.clone());
    view! {
        <Card id="connected-accounts" title="Connected accounts">
            <p class="muted">"Sign in with an account you already have elsewhere. Gatehouse never sees your password there."</p>
            {held.then(|| view! {
                <p class="muted" id=held_id.clone()>"Your organisation requires two-step verification first. Set it up above; then you can connect and disconnect accounts here."</p>
            })}
            <StatusMessage message=notice/>
            {move || info.get().map(|m| view! { <p class="notice notice-info" role="status">{m}</p> })}
            <ErrorMessage message=error/>
            <ul class="connected-list">
                {status.rows.into_iter().map(|row| view! {
                    <ConnectedRow row pending panel on_connect on_disconnect held_by=held_by.clone()/>
                }).collect_view()}
            </ul>
            {local.then(|| view! {
                <p class="muted provider-local">"Development: a local stand-in provider on this machine answers for Google and GitHub."</p>
            })}
        </Card>
    }
    .into_any()
}

#[component]
fn ConnectedRow(
    row: ConnectedAccountView,
    #[prop(into)] pending: Signal<bool>,
    panel: RwSignal<ConnectedPanel>,
    on_connect: Callback<ProviderKind>,
    /// Disconnects a provider, and signs out the sessions that signed in with it (true).
    on_disconnect: Callback<(ProviderKind, bool)>,
    /// The id of the card's note that says why its buttons wait (`ConnectedAccountsCard`'s `held`).
    held_by: Option<String>,
) -> impl IntoView {
    let kind = row.provider.kind;
    let held = held_by.is_some();
    let can_disconnect = row.can_disconnect && !held;
    let name = kind.name();
    let why_id = crate::components::scoped_id(&format!("connected-{}-why", kind.slug()));
    let Some(account) = row.connected else {
        return view! {
            <li class="connected-row">
                <div class="connected-main">
                    <div class="connected-title"><ProviderMark kind/><strong>{name}</strong></div>
                    <p class="muted">"Not connected"</p>
                </div>
                <div class="connected-actions">
                    <button type="button" class="btn btn-secondary btn-sm" disabled=move || pending.get() || held
                        aria-label=format!("Connect {name}") aria-describedby=held_by
                        on:click=move |_| on_connect.run(kind)>"Connect"</button>
                </div>
            </li>
        }
        .into_any();
    };
    view! {
        <li class="connected-row">
            <div class="connected-main">
                <div class="connected-title">
                    <ProviderMark kind/><strong>{name}</strong>
                    <span class="badge badge-current">"Connected"</span>
                </div>
                <p class="connected-account">
                    {if account.account.is_empty() { "No email address on record".to_string() } else { account.account.clone() }}
                    {account.email.clone().map(|e| view! { <span class="muted">{format!(" · {e}")}</span> })}
                </p>
                <p class="muted connected-meta">
                    "Connected " <TimeAgo moment=account.connected.clone()/>
                    " · "
                    {match account.last_used.clone() {
                        Some(m) => view! { <span>"Last used to sign in " <TimeAgo moment=m/></span> }.into_any(),
                        None => view! { <span>"Not used to sign in yet"</span> }.into_any(),
                    }}
                </p>
                {(!row.can_disconnect).then(|| view! {
                    <p class="muted connected-why" id=why_id.clone()>"This is your only way to sign in. Set a password or add a passkey first."</p>
                })}
            </div>
            <div class="connected-actions">
                <button type="button" class="btn btn-secondary btn-sm"
                    disabled=move || pending.get() || !can_disconnect
                    aria-label=format!("Disconnect {name}")
                    aria-describedby=held_by.clone().or_else(|| (!can_disconnect).then(|| why_id.clone()))
                    on:click=move |_| panel.set(ConnectedPanel::Disconnecting(kind))>"Disconnect"</button>
            </div>
            {move || (panel.get() == ConnectedPanel::Disconnecting(kind)).then(|| {
                let sign_out = RwSignal::new(true);
                let panel_id = format!("confirm-disconnect-{}", kind.slug());
                view! {
                <ConfirmPanel
                    id=panel_id.clone()
                    question=format!("Disconnect {name}?")
                    detail=if account.account.is_empty() {
                        format!("You won't be able to sign in with this {name} account any more.")
                    } else {
                        let shown = match &account.email {
                            Some(email) => format!("{}, {email}", account.account),
                            None => account.account.clone(),
                        };
                        format!("You won't be able to sign in with this {name} account ({shown}) any more.")
                    }
                    confirm_label=format!("Disconnect {name}")
                    pending
                    choice=crate::components::sign_out_sessions_choice(&panel_id, account.sessions, sign_out, pending)
                    // (the choice as it stands, shown or not: the count is the page's, and a
                    // session that signed in with it since the page loaded, an intruder's perhaps,
                    // ends too unless the person unticked the choice)
                    on_confirm=Callback::new(move |_| on_disconnect.run((kind, sign_out.get_untracked())))
                    on_cancel=Callback::new(move |_| panel.set(ConnectedPanel::None))/>
                }
            })}
        </li>
    }
    .into_any()
}
