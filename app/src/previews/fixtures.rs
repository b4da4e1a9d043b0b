//! Example data for the previews: sessions, passkeys, codes, a stand-in QR code.
use crate::model::{BackupCodesView, DeviceKind, EnrolmentView, Moment, PasskeyView, SessionView, TwoFactorView};

pub(super) fn tf_on(left: i64) -> TwoFactorView {
    TwoFactorView {
        enabled: Some(moment("3 days ago", "2026-11-20 09:12 UTC")),
        backup_codes: Some(BackupCodesView { generated: moment("3 days ago", "2026-11-20 09:12 UTC"), left, total: 10 }),
        required: false,
        passkey_session: false,
    }
}

pub(super) fn passkey(id: &str, name: &str, provider: Option<&str>, synced: bool, last_used: Option<Moment>) -> PasskeyView {
    PasskeyView {
        id: id.into(),
        name: name.into(),
        provider: provider.map(String::from),
        synced,
        created: moment("2 months ago", "2026-09-14 18:03 UTC"),
        last_used,
        sessions: 0,
    }
}

/// `passkeys_several`, the first of which two other sessions signed in with.
pub(super) fn passkeys_signed_in_elsewhere() -> Vec<PasskeyView> {
    let mut keys = passkeys_several();
    keys[0].sessions = 2;
    keys
}

pub(super) fn passkeys_several() -> Vec<PasskeyView> {
    vec![
        passkey("p1", "iCloud Keychain", Some("iCloud Keychain"), true, Some(moment("2 hours ago", "2026-11-23 10:41 UTC"))),
        passkey("p2", "Google Password Manager", Some("Google Password Manager"), true, Some(moment("5 days ago", "2026-11-18 07:15 UTC"))),
        passkey("p3", "Blue YubiKey", Some("YubiKey 5 Series"), false, None),
        passkey("p4", "Windows Hello", Some("Windows Hello"), false, Some(moment("3 weeks ago", "2026-11-01 16:20 UTC"))),
    ]
}

pub(super) fn sample_codes() -> Vec<String> {
    ["7hq4k-mwx2p", "c9tnz-3ragv", "pk5ue-8yhdw", "x2mfq-jt6ns", "4vbwc-ezk9r", "nq7ha-5pxtm", "d3ysj-w8kfe", "uh6rn-2cqzb", "g8tpx-vm4ak", "zr5ew-9nhjc"]
        .map(String::from)
        .to_vec()
}

/// A stand-in QR code for the previews (the real one is drawn on the server from the secret).
pub(super) fn sample_enrolment() -> EnrolmentView {
    // three finder squares and a scatter of modules: enough to judge the layout
    let finder = |x: usize, y: usize| {
        format!(
            "<path d=\"M{x} {y}h7v7h-7zM{a} {b}v5h5v-5zM{c} {d}h3v3h-3z\" fill-rule=\"evenodd\"/>",
            a = x + 1, b = y + 1, c = x + 2, d = y + 2
        )
    };
    let cells: String = (0..21 * 21)
        .map(|i| (i % 21, i / 21))
        .filter(|&(x, y)| !((x < 8 && y < 8) || (x > 12 && y < 8) || (x < 8 && y > 12)))
        .filter(|&(x, y)| (x * 37 + y * 91 + x * y * 13) % 7 < 3)
        .map(|(x, y)| format!("<rect x=\"{}\" y=\"{}\" width=\"1\" height=\"1\"/>", x + 2, y + 2))
        .collect::<String>()
        + &finder(2, 2)
        + &finder(16, 2)
        + &finder(2, 16);
    EnrolmentView {
        qr_svg: format!("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 25 25\"><rect width=\"25\" height=\"25\" fill=\"#fff\"/><g fill=\"#000\">{cells}</g></svg>"),
        manual_key: "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ".into(),
        setup: "preview".into(),
        change: false,
    }
}

/// The example account's email (the strength meter refuses passwords built from it).
pub(super) const EMAIL: &str = "ada@example.test";

pub(super) fn moment(relative: &str, exact: &str) -> Moment {
    // "2026-11-20 09:12 UTC" → "2026-11-20T09:12:00Z"
    let iso = format!("{}:00Z", exact.trim_end_matches(" UTC").replacen(' ', "T", 1));
    Moment { relative: relative.into(), exact: exact.into(), iso, age: None }
}

pub(super) fn session(id: &str, browser: &str, os: &str, kind: DeviceKind, ip: &str, ago: &str, current: bool) -> SessionView {
    SessionView {
        id: id.into(),
        browser: browser.into(),
        label: format!("{browser} on {os}{}", if ip == "203.0.113.24" { " in Berlin" } else { "" }),
        os: os.into(),
        kind,
        user_agent: String::new(),
        location: match ip {
            "127.0.0.1" => "Local network".into(),
            "203.0.113.24" => "Berlin, Land Berlin, Germany".into(),
            _ => "Unknown".into(),
        },
        ip: ip.into(),
        method: "Password".into(),
        signed_in: moment("3 days ago", "2026-11-20 09:12 UTC"),
        last_active: moment(ago, "2026-11-23 10:00 UTC"),
        current,
        new_device: id == "2",
        backup_code: false,
    }
}

/// Unusual rows: a very long browser/OS description and an agent nobody could read.
pub(super) fn sessions_unusual() -> Vec<SessionView> {
    let mut long = session("4", "Samsung Internet for Android Enterprise Edition 27", "Android 16 (Galaxy Z Fold Special Edition)", DeviceKind::Tablet, "198.51.100.99", "1 day ago", false);
    long.location = "Llanfairpwllgwyngyll, Wales, United Kingdom of Great Britain and Northern Ireland".into();
    let unknown = session("5", "Unknown browser", "Unknown OS", DeviceKind::Unknown, "2001:db8::1", "3 days ago", false);
    vec![session("1", "Chrome 156", "Linux", DeviceKind::Desktop, "127.0.0.1", "just now", true), long, unknown]
}

pub(super) fn sessions_many() -> Vec<SessionView> {
    vec![
        session("1", "Chrome 156", "Linux", DeviceKind::Desktop, "127.0.0.1", "just now", true),
        session("2", "Safari 19", "iPhone", DeviceKind::Phone, "203.0.113.24", "2 hours ago", false),
        session("3", "Firefox 140", "Windows 10", DeviceKind::Desktop, "198.51.100.7", "5 days ago", false),
    ]
}

/// The re-verification window of the default configuration (`[session] reverify_window_minutes`).
pub(super) const REVERIFY_WINDOW_MINUTES: u64 = 10;

/// The two providers, offered for real (`local: false`).
pub(super) const BOTH: [crate::model::ProviderOption; 2] = [
    crate::model::ProviderOption { kind: crate::model::ProviderKind::Google, local: false },
    crate::model::ProviderOption { kind: crate::model::ProviderKind::GitHub, local: false },
];

/// Google and GitHub connected, another session signed in with GitHub.
pub(super) fn connected_github_signed_in_elsewhere() -> crate::model::ConnectedAccountsView {
    let mut c = connected(Some("ada@example.com"), Some("@ada-lovelace"), true);
    if let Some(github) = c.rows[1].connected.as_mut() {
        github.last_used = Some(moment("3 days ago", "2026-11-20 18:30 UTC"));
        github.sessions = 1;
    }
    c
}

/// The Connected accounts section: `google` / `github` connected as that account (or not).
pub(super) fn connected(google: Option<&str>, github: Option<&str>, can_disconnect: bool) -> crate::model::ConnectedAccountsView {
    use crate::model::{ConnectedAccountView, ConnectedAccountsView, ConnectedView};
    let row = |provider: crate::model::ProviderOption, account: Option<&str>, used: bool| ConnectedAccountView {
        provider,
        can_disconnect,
        connected: account.map(|a| ConnectedView {
            account: a.into(),
            // (a GitHub login comes with the account's email there)
            email: a.starts_with('@').then(|| "ada@example.com".into()),
            connected: moment("2 weeks ago", "2026-11-09 10:30 UTC"),
            last_used: used.then(|| moment("1 hour ago", "2026-11-23 11:02 UTC")),
            sessions: 0,
            made_the_account: false,
        }),
    };
    ConnectedAccountsView { rows: vec![row(BOTH[0], google, true), row(BOTH[1], github, false)] }
}

pub(super) fn sign_in_prompt(place: Option<&str>) -> crate::model::SignInPromptView {
    crate::model::SignInPromptView {
        id: "a1".into(),
        device: "Chrome 131 on Windows 10".into(),
        place: place.map(String::from),
        location: match place {
            Some(p) => format!("{p}, Land Berlin, Germany"),
            None => "Unknown".into(),
        },
        ip: "203.0.113.77".into(),
        method: "a password".into(),
        at: moment("2 hours ago", "2026-11-23 10:05 UTC"),
    }
}

fn activity(id: &str, kind: &str, sentence: &str, at: (&str, &str), device: &str, location: &str, ip: &str) -> crate::model::ActivityView {
    crate::model::ActivityView {
        id: id.into(),
        kind: kind.into(),
        sentence: sentence.into(),
        at: moment(at.0, at.1),
        device: device.into(),
        user_agent: format!("Mozilla/5.0 ({device})"),
        location: location.into(),
        ip: ip.into(),
    }
}

/// A page of mixed events, newest first.
pub(super) fn activity_mixed() -> Vec<crate::model::ActivityView> {
    vec![
        activity("e1", "signed_in", "Signed in with a passkey (iCloud Keychain)", ("just now", "2026-11-23 12:00 UTC"), "Safari 17 on iPhone", "Berlin, Land Berlin, Germany", "203.0.113.9"),
        activity("e2", "sign_in_alert_sent", "Emailed an alert about a new sign-in (Chrome 131 on Windows 10)", ("2 hours ago", "2026-11-23 10:05 UTC"), "Chrome 131 on Windows 10", "Lisbon, Lisbon, Portugal", "198.51.100.23"),
        activity("e3", "signed_in", "Signed in with a password", ("2 hours ago", "2026-11-23 10:05 UTC"), "Chrome 131 on Windows 10", "Lisbon, Lisbon, Portugal", "198.51.100.23"),
        activity("e4", "sign_in_failed", "Failed sign-in: wrong password", ("3 hours ago", "2026-11-23 09:02 UTC"), "", "", "192.0.2.44"),
        activity("e5", "passkey_added", "Added a passkey (iCloud Keychain)", ("2 days ago", "2026-11-21 18:30 UTC"), "Safari 17 on iPhone", "Berlin, Land Berlin, Germany", "203.0.113.9"),
        activity("e6", "totp_enabled", "Turned on two-step verification (authenticator app)", ("5 days ago", "2026-11-18 08:11 UTC"), "Firefox 140 on Windows 10", "Berlin, Land Berlin, Germany", "203.0.113.9"),
        activity("e7", "session_revoked", "Ended the Safari 17 on iPhone session", ("6 days ago", "2026-11-17 20:45 UTC"), "Firefox 140 on Windows 10", "Local network", "192.168.1.20"),
    ]
}

/// Long device names and connected-account names, and unknown locations.
pub(super) fn activity_unusual() -> Vec<crate::model::ActivityView> {
    vec![
        activity("u1", "signed_in", "Signed in with Google and an authenticator app", ("1 minute ago", "2026-11-23 11:59 UTC"),
            "SuperLongBrowserNameThatNeverEndsAndKeepsGoing 1234567890 on SomeVeryLongOperatingSystemNa…", "Unknown", "2001:db8:85a3:8d3:1319:8a2e:370:7348"),
        activity("u2", "passkey_removed", "Removed a passkey (My extremely long passkey name that somebody typed on a…)", ("4 days ago", "2026-11-19 13:00 UTC"),
            "Unknown browser on Unknown OS", "Unknown", "unknown"),
        // (a GitHub login with a long address, named whole)
        activity("u3", "provider_connected", "Connected GitHub (@grace-hopper-1906 (grace.brewster.hopper.1906@computing-history.example.org))",
            ("6 days ago", "2026-11-17 09:30 UTC"), "Firefox 140 on Windows 10", "Berlin, Land Berlin, Germany", "203.0.113.9"),
    ]
}

/// After "Secure my account": a reset link sent, the password turned off, nothing else removed.
pub(super) fn not_me_done_view() -> crate::model::NotMeDoneView {
    crate::model::NotMeDoneView {
        email: "ada@example.com".into(),
        minutes: 60,
        taken_back: vec![],
        ways_in: vec![],
        password_turned_off: true,
        signed_in_as: None,
    }
}

pub(super) fn not_me_view() -> crate::model::NotMeView {
    crate::model::NotMeView {
        device: "Chrome 131 on Windows 10".into(),
        location: "Lisbon, Lisbon, Portugal".into(),
        ip: "198.51.100.23".into(),
        method: "a password".into(),
        when: "23 November 2026 at 10:05 UTC".into(),
        // (none: a preview says the time as the server would, on every reader's clock alike)
        when_iso: String::new(),
        has_password: true,
        marked_as_yours: None,
        marked_as_yours_iso: None,
        already_signed_out: false,
        other_sessions: 0,
        removes: vec![],
        password_changed_since: false,
        from_earlier: false,
        signed_in_as: None,
    }
}
