//! The domain's rows as view types (server only: `domain` is not in the browser build). Times are
//! said relative to `now`, on the server, so server rendering and hydration show the same text.
use domain::auth::{accounts::PasswordStatus, passkeys::PasskeyList, sessions::SessionSummary, two_factor};
use domain::devices;
use domain::config::Lifetimes;
use domain::geo::GeoIp;
use domain::auth::connected_accounts::Connections;
use domain::kinds::{Provider, SignInMethod};
use domain::plan::Plan;
use time::OffsetDateTime;

use super::{
    ConnectedAccountView, ConnectedAccountsView, ConnectedView, ProviderKind, ProviderOption,
};
use super::{ActivityPageView, ActivityView, NotMeView, SignInPromptView};
use super::{BackupCodesView, DeviceKind, Moment, PasskeyView, PasskeysView, PasswordView, SessionView, TwoFactorView};
use crate::time_fmt::{ago, exact, iso, span};

impl Moment {
    /// `at`, seen from `now`.
    pub fn at(now: OffsetDateTime, at: OffsetDateTime) -> Self {
        Moment { relative: ago(now, at), exact: exact(at), iso: iso(at), age: Some((now - at).whole_seconds()) }
    }
}

impl PasswordView {
    pub fn new(status: &PasswordStatus, now: OffsetDateTime) -> Self {
        PasswordView { has_password: status.has_password, changed: status.changed_at.map(|t| Moment::at(now, t)) }
    }
}

impl TwoFactorView {
    /// `required`: the organisation requires a second factor; `passkey_session`: this session
    /// signed in with a passkey.
    pub fn new(status: &two_factor::Status, required: bool, passkey_session: bool, now: OffsetDateTime) -> Self {
        TwoFactorView {
            enabled: status.enabled_at.map(|t| Moment::at(now, t)),
            backup_codes: status.codes_generated_at.map(|at| BackupCodesView {
                generated: Moment::at(now, at),
                left: status.codes_left,
                total: status.codes_total,
            }),
            required,
            passkey_session,
        }
    }
}

impl From<Provider> for ProviderKind {
    fn from(p: Provider) -> Self {
        match p {
            Provider::Google => ProviderKind::Google,
            Provider::GitHub => ProviderKind::GitHub,
        }
    }
}

impl From<ProviderKind> for Provider {
    fn from(p: ProviderKind) -> Self {
        match p {
            ProviderKind::Google => Provider::Google,
            ProviderKind::GitHub => Provider::GitHub,
        }
    }
}

impl ProviderOption {
    /// The providers this server offers, in the domain's order.
    pub fn list(enabled: &[(Provider, bool)]) -> Vec<Self> {
        enabled.iter().map(|&(p, local)| ProviderOption { kind: p.into(), local }).collect()
    }
}

impl ConnectedAccountsView {
    /// A row per offered provider, and per connected one the server no longer offers (so it can
    /// still be disconnected).
    pub fn new(c: &Connections, now: OffsetDateTime) -> Self {
        let mut offered = ProviderOption::list(&c.providers);
        let offered_count = offered.len();
        for account in &c.connected {
            if !offered.iter().any(|o| Provider::from(o.kind) == account.provider) {
                offered.push(ProviderOption { kind: account.provider.into(), local: false });
            }
        }
        ConnectedAccountsView {
            rows: offered
                .into_iter()
                .enumerate()
                .map(|(i, provider)| ConnectedAccountView {
                    can_disconnect: c.sign_in_methods > 1 || i >= offered_count,
                    connected: c.connected.iter().find(|a| ProviderKind::from(a.provider) == provider.kind).map(|a| ConnectedView {
                        // (GitHub's people know their login, and its email may be one GitHub chose;
                        // none kept: the row says "No email address on record", not "Connected"
                        // beside the Connected badge)
                        account: a.login.as_ref().map(|l| format!("@{l}")).or_else(|| a.email.clone()).unwrap_or_default(),
                        email: a.login.as_ref().and(a.email.clone()),
                        connected: Moment::at(now, a.connected_at),
                        last_used: a.last_used_at.map(|t| Moment::at(now, t)),
                        sessions: a.sessions,
                        made_the_account: c.sign_in_methods == 1 && now - a.connected_at < time::Duration::minutes(15),
                    }),
                    provider,
                })
                .collect(),
        }
    }
}

impl PasskeysView {
    pub fn new(list: &PasskeyList, now: OffsetDateTime) -> Self {
        PasskeysView {
            can_remove: list.can_remove(),
            items: list
                .passkeys
                .iter()
                .map(|p| PasskeyView {
                    id: p.id.to_string(),
                    name: p.name.clone(),
                    provider: p.provider.clone(),
                    synced: p.synced,
                    created: Moment::at(now, p.created_at),
                    last_used: p.last_used_at.map(|t| Moment::at(now, t)),
                    sessions: p.sessions,
                })
                .collect(),
        }
    }
}

impl From<devices::DeviceKind> for DeviceKind {
    fn from(kind: devices::DeviceKind) -> Self {
        match kind {
            devices::DeviceKind::Desktop => DeviceKind::Desktop,
            devices::DeviceKind::Phone => DeviceKind::Phone,
            devices::DeviceKind::Tablet => DeviceKind::Tablet,
            devices::DeviceKind::Unknown => DeviceKind::Unknown,
        }
    }
}

impl SessionView {
    /// One session, its device read from the user agent and its place from the IP address (`geo`:
    /// the server's geo-IP database, if it has one).
    pub fn new(s: SessionSummary, now: OffsetDateTime, geo: Option<&GeoIp>) -> Self {
        let device = devices::describe(s.user_agent.as_deref());
        let location = match (s.ip.as_deref(), geo) {
            (Some(ip), Some(g)) => g.locate(ip),
            (ip, _) => GeoIp::none().locate(ip.unwrap_or("")),
        };
        // (the browser as the row names it, "Chrome 156": the question about a row reads as the row)
        let label = format!("{} on {}", device.browser, device.os);
        SessionView {
            id: s.id.to_string(),
            label: match location.place {
                Some(place) => format!("{label} in {place}"),
                None => label,
            },
            browser: device.browser,
            os: device.os,
            kind: device.kind.into(),
            user_agent: s.user_agent.unwrap_or_default(),
            location: location.text,
            ip: s.ip.unwrap_or_else(|| "Unknown".into()),
            method: match s.auth_method {
                SignInMethod::Password => "Password".into(),
                SignInMethod::PasswordAndAuthenticator => "Password + authenticator app".into(),
                SignInMethod::PasswordAndBackupCode => "Password + backup code".into(),
                SignInMethod::Passkey => match s.passkey_name {
                    Some(name) => format!("Passkey “{name}”"),
                    None => "Passkey (since removed)".into(),
                },
                SignInMethod::Google => "Google".into(),
                SignInMethod::GoogleAndAuthenticator => "Google + authenticator app".into(),
                SignInMethod::GoogleAndBackupCode => "Google + backup code".into(),
                SignInMethod::GitHub => "GitHub".into(),
                SignInMethod::GitHubAndAuthenticator => "GitHub + authenticator app".into(),
                SignInMethod::GitHubAndBackupCode => "GitHub + backup code".into(),
            },
            signed_in: Moment::at(now, s.created_at),
            last_active: Moment::at(now, s.last_seen_at),
            current: s.current,
            new_device: s.new_device,
            backup_code: s.auth_method.used_backup_code(),
        }
    }
}

/// "Devices are signed out after 14 days without activity, and 30 days after signing in.", or on
/// a paid plan "On your organisation's Enterprise plan, devices are …".
pub fn session_lifetime(plan: Plan, lifetimes: Lifetimes) -> String {
    let rule = format!("signed out after {} without activity, and {} after signing in.", span(lifetimes.idle), span(lifetimes.absolute));
    match plan {
        Plan::Free => format!("Devices are {rule}"),
        plan => format!("On your organisation's {plan} plan, devices are {rule}"),
    }
}

impl SignInPromptView {
    pub fn new(a: domain::auth::alerts::AlertedSignIn, now: OffsetDateTime) -> Self {
        SignInPromptView {
            id: a.id.to_string(),
            device: a.device,
            place: a.place,
            location: a.location,
            ip: a.ip.unwrap_or_else(|| "unknown".into()),
            method: a.method,
            at: Moment::at(now, a.at),
        }
    }
}

impl ActivityView {
    pub fn new(a: domain::auth::activity::Activity, now: OffsetDateTime) -> Self {
        ActivityView {
            id: a.id.to_string(),
            kind: a.kind.as_str().into(),
            sentence: a.sentence,
            at: Moment::at(now, a.at),
            device: if a.user_agent.is_some() { a.device } else { String::new() },
            user_agent: a.user_agent.unwrap_or_default(),
            location: a.location.unwrap_or_default(),
            ip: a.ip.unwrap_or_default(),
        }
    }
}

impl ActivityPageView {
    pub fn new(page: domain::auth::activity::ActivityPage, now: OffsetDateTime) -> Self {
        ActivityPageView { events: page.events.into_iter().map(|a| ActivityView::new(a, now)).collect(), next: page.next }
    }
}

impl NotMeView {
    pub fn new(link: domain::auth::alerts::NotMeLink) -> Self {
        let a = link.sign_in;
        NotMeView {
            has_password: link.has_password,
            device: a.device,
            location: a.location,
            ip: a.ip.unwrap_or_else(|| "unknown".into()),
            method: a.method,
            when: domain::email::format_when(a.at),
            when_iso: crate::time_fmt::iso(a.at),
            marked_as_yours: link.marked_as_yours.map(domain::email::format_when),
            marked_as_yours_iso: link.marked_as_yours.map(crate::time_fmt::iso),
            already_signed_out: link.since.already_signed_out,
            other_sessions: link.since.other_sessions,
            removes: taken_back_words(&link.since.removes),
            password_changed_since: link.since.password_changed_since,
            from_earlier: link.since.from_earlier,
            signed_in_as: None,
        }
    }
}

/// What a report took back, as words for `NotMeDoneView` and `SecuredView`.
pub fn taken_back_words(taken_back: &[domain::auth::alerts::TakenBack]) -> Vec<String> {
    use domain::auth::alerts::TakenBack;
    taken_back
        .iter()
        .map(|t| match t {
            TakenBack::Passkey(name) => format!("the passkey “{name}”"),
            TakenBack::Provider(p) => format!("the connected {} account", p.name()),
            TakenBack::Authenticator => "the authenticator app with its backup codes".to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;
    use time::Duration;

    #[test]
    fn a_moment_read_again_later_is_the_same_moment_and_another_instant_is_not() {
        let at = datetime!(2026-12-06 06:00 UTC);
        let first = Moment::at(at + Duration::minutes(2), at);
        let later = Moment::at(at + Duration::minutes(9), at);
        assert_eq!((first.relative.as_str(), later.relative.as_str()), ("2 minutes ago", "9 minutes ago"));
        // (so a section whose times only aged is not drawn again after a change elsewhere)
        assert_eq!(first, later);
        assert_ne!(first, Moment::at(at + Duration::minutes(9), at + Duration::seconds(1)));
    }

    #[test]
    fn a_time_on_a_utc_clock_reads_as_the_email_said_it() {
        // the "This wasn't me" page says the email's time on the reader's clock: in UTC, the same words
        let at = datetime!(2026-12-01 14:05 UTC);
        let here = crate::time_fmt::LocalTime { year: 2026, month: 12, day: 1, hour: 14, minute: 5, offset_minutes: 0 };
        assert_eq!(here.written(), domain::email::format_when(at));
        assert_eq!(here.written(), "1 December 2026 at 14:05 UTC");
    }
}
