//! The previews of Security & Access's lower sections, where a person sees what can reach the
//! account (Connected accounts, Sessions, the Coming soon cards) and the page's own states (out of
//! `mod.rs`, which had grown past 450 lines).
use leptos::prelude::*;

use super::fixtures::*;
use super::{Preview, State};
use crate::model::ProviderKind;
use crate::security::coming_soon::ComingSoonCard;
use crate::security::connected_accounts::{ConnectedAccountsCard, ConnectedPanel};
use crate::security::sessions::{Confirm, SessionsCard};
use crate::security::ReloadFailed;
use crate::sign_in::providers::ProviderOutcome;

#[component]
pub(super) fn AccessPreviews() -> impl IntoView {
    let noop = Callback::new(|_: ()| {});
    let noop_provider = Callback::new(|_: ProviderKind| {});
    let noop_disconnect = Callback::new(|_: (ProviderKind, bool)| {});
    let connected_card = move |status: crate::model::ConnectedAccountsView, open: ConnectedPanel, error: Option<String>, notice: Option<String>| {
        ViewFn::from(move || {
            let panel = RwSignal::new(open);
            view! {
                <ConnectedAccountsCard status=status.clone() pending=false error=error.clone() notice=notice.clone() panel
                    on_connect=noop_provider on_disconnect=noop_disconnect/>
            }
        })
    };
    view! {
    <Preview id="connected-accounts" title="Connected accounts">
        <State slug="connected-none" caption="None connected" view=connected_card(connected(None, None, true), ConnectedPanel::None, None, None)/>
        <State slug="connected-one" caption="Google connected" view=connected_card(
            connected(Some("ada@example.com"), None, true), ConnectedPanel::None, None,
            Some(ProviderOutcome::Connected.sentence(ProviderKind::Google)))/>
        <State slug="connected-both" caption="Both connected" view=connected_card(
            connected(Some("ada@example.com"), Some("@ada-lovelace"), true), ConnectedPanel::None, None, None)/>
        <State slug="connected-only-method" caption="The only way to sign in" view=connected_card(
            connected(Some("ada@example.com"), None, false), ConnectedPanel::None, None, None)/>
        <State slug="connected-long-email" caption="A long email address" view=connected_card(
            connected(Some("augusta.ada.king.countess.of.lovelace.analytical.engine@mathematical-society.example.co.uk"), None, true),
            ConnectedPanel::None, None, None)/>
        <State slug="connected-confirm" caption="Confirming a disconnection" view=connected_card(
            connected(Some("ada@example.com"), Some("@ada-lovelace"), true), ConnectedPanel::Disconnecting(ProviderKind::GitHub), None, None)/>
        <State slug="connected-confirm-sessions" caption="Confirming a disconnection: another session signed in with it" view=connected_card(
            connected_github_signed_in_elsewhere(), ConnectedPanel::Disconnecting(ProviderKind::GitHub), None, None)/>
        <State slug="connected-elsewhere" caption="Back from GitHub: linked to another account" view=connected_card(
            connected(Some("ada@example.com"), None, true), ConnectedPanel::None,
            Some(ProviderOutcome::LinkedElsewhere.sentence(ProviderKind::GitHub)), None)/>
        <State slug="connected-held" caption="Enterprise, before two-step verification is set up: the buttons wait for it" view=ViewFn::from(move || {
            let panel = RwSignal::new(ConnectedPanel::None);
            view! {
                <ConnectedAccountsCard status=connected(Some("kim@acme.test"), None, true) pending=false panel held=true
                    on_connect=noop_provider on_disconnect=noop_disconnect/>
            }
        })/>
        <State slug="connected-phone" caption="Phone width" phone=true view=connected_card(
            connected(Some("augusta.ada.king.countess.of.lovelace@example.co.uk"), Some("@ada-lovelace"), true), ConnectedPanel::None, None, None)/>
    </Preview>

    <Preview id="sessions" title="Sessions section">
        <State slug="sessions-empty" caption="Empty" view=ViewFn::from(move || view! { <SessionsCard sessions=vec![] pending=false on_log_out=noop/> })/>
        <State slug="sessions-one" caption="One session" view=ViewFn::from(move || view! {
            <SessionsCard sessions=sessions_many().into_iter().take(1).collect() pending=false on_log_out=noop/>
        })/>
        <State slug="sessions-many" caption="Many sessions, Enterprise plan" view=ViewFn::from(move || view! {
            <SessionsCard sessions=sessions_many() pending=false on_log_out=noop
                lifetime="On your organisation's Enterprise plan, devices are signed out after 12 hours without activity, and 7 days after signing in."/>
        })/>
        <State slug="sessions-unusual" caption="Long names and an unknown agent" view=ViewFn::from(move || view! {
            <SessionsCard sessions=sessions_unusual() pending=false on_log_out=noop/>
        })/>
        <State slug="sessions-confirm-revoke" caption="Confirming a revoke" view=ViewFn::from(move || view! {
            <SessionsCard sessions=sessions_many() pending=false on_log_out=noop confirming=Confirm::Revoke("2".into())/>
        })/>
        <State slug="sessions-confirm-others" caption="Confirming Revoke all others" view=ViewFn::from(move || view! {
            <SessionsCard sessions=sessions_many() pending=false on_log_out=noop confirming=Confirm::Others/>
        })/>
        <State slug="sessions-confirm-everywhere" caption="Confirming Sign out everywhere" phone=true view=ViewFn::from(move || view! {
            <SessionsCard sessions=sessions_many() pending=false on_log_out=noop confirming=Confirm::Everywhere/>
        })/>
        <State slug="sessions-revoked" caption="Revoked" view=ViewFn::from(move || view! {
            <SessionsCard sessions=sessions_many().into_iter().take(2).collect() pending=false on_log_out=noop
                status=Some("Session revoked. That device is signed out.".to_string())/>
        })/>
        <State slug="sessions-already-ended" caption="Revoked in another tab meanwhile" view=ViewFn::from(move || view! {
            <SessionsCard sessions=sessions_many().into_iter().take(2).collect() pending=false on_log_out=noop
                error=Some("That session had already ended.".to_string())/>
        })/>
        <State slug="sessions-pending" caption="Signing out" view=ViewFn::from(move || view! {
            <SessionsCard sessions=sessions_many().into_iter().take(1).collect() pending=true on_log_out=noop/>
        })/>
        <State slug="sessions-phone" caption="Phone width" phone=true view=ViewFn::from(move || view! { <SessionsCard sessions=sessions_many() pending=false on_log_out=noop/> })/>
    </Preview>

    <Preview id="coming-soon" title="Coming soon">
        <State slug="coming-soon" caption="Personal API keys" view=ViewFn::from(|| view! {
            <ComingSoonCard id="api-keys" title="Personal API keys" description="Create keys for scripts and tools that act on your behalf."/>
        })/>
    </Preview>

    <Preview id="page" title="Security & Access page">
        <State slug="reload-failed" caption="Its settings could not be read again after a change" view=ViewFn::from(move || view! {
            <ReloadFailed message="We couldn't reach Gatehouse. Check your connection and try again.".to_string() pending=false on_retry=noop/>
        })/>
    </Preview>
    }
}
