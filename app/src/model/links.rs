//! View types of the pages an email links to (a sign-up link, a reset link, "This wasn't me"),
//! and what a report of a sign-in took back, as the page and the Security & Access prompt say it.
use serde::{Deserialize, Serialize};

/// After "This wasn't me": where the reset link went, how long it works, and what was taken back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotMeDoneView {
    pub email: String,
    pub minutes: i64,
    /// The ways to sign in that the reported sign-in (or any since) had added and that are gone
    /// now, as words: "the passkey “Blue key”", "the connected Google account".
    pub taken_back: Vec<String>,
    /// The owner's passkey or connected account that the reported sign-in got in with, gone now
    /// (as words).
    pub ways_in: Vec<String>,
    /// The password was turned off until the link sets a new one (`false`: there was none).
    pub password_turned_off: bool,
    /// The address of another account this browser is signed in to: Sign in would open that one,
    /// so the page offers to sign it out first.
    #[serde(default)]
    pub signed_in_as: Option<String>,
}

/// After "No, secure my account": how many other sessions ended, and what was taken back (as in
/// `NotMeDoneView`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecuredView {
    pub ended: u64,
    pub taken_back: Vec<String>,
    pub ways_in: Vec<String>,
}

/// "Also removed what that sign-in or a later one added: the passkey “Blue key” and the
/// authenticator app with its backup codes." (`None` when nothing was.)
pub fn taken_back_sentence(taken_back: &[String]) -> Option<String> {
    Some(format!("Also removed what that sign-in or a later one added: {}.", and_list(taken_back)?))
}

/// "a", "a and b", "a, b and c"; `None` for none.
pub fn and_list(items: &[String]) -> Option<String> {
    match items {
        [] => None,
        [one] => Some(one.clone()),
        [init @ .., last] => Some(format!("{} and {last}", init.join(", "))),
    }
}

/// "Also removed because that sign-in got in with it: the connected Google account. Secure it
/// before you add it again." (`None` when nothing was.)
pub fn ways_in_sentence(ways_in: &[String]) -> Option<String> {
    let it = if ways_in.len() == 1 { "it" } else { "them" };
    Some(format!("Also removed because that sign-in got in with {it}: {}. Secure {it} before you add {it} again.", and_list(ways_in)?))
}

/// The "This wasn't me" page: the sign-in the link is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotMeView {
    pub device: String,
    pub location: String,
    pub ip: String,
    pub method: String,
    /// "1 December 2026 at 14:05 UTC", as the email said it (the page says it on the reader's
    /// clock once it runs in their browser: `when_iso`).
    pub when: String,
    /// RFC 3339.
    #[serde(default)]
    pub when_iso: String,
    /// The account has a password (which the button turns off).
    pub has_password: bool,
    /// When the sign-in was marked as the owner's ("Yes, it was me"), as `when` says times: the
    /// page says so before its button, which still reports it.
    pub marked_as_yours: Option<String>,
    /// RFC 3339 of `marked_as_yours`.
    #[serde(default)]
    pub marked_as_yours_iso: Option<String>,
    /// That sign-in's session has already ended.
    #[serde(default)]
    pub already_signed_out: bool,
    /// Sessions that signed in since, which the button ends too.
    #[serde(default)]
    pub other_sessions: u64,
    /// What the button removes besides ("the passkey “Blue key”"), as `taken_back_words` says it.
    #[serde(default)]
    pub removes: Vec<String>,
    /// The password was changed or set since (the button turns that one off too).
    #[serde(default)]
    pub password_changed_since: bool,
    /// The address of another account this browser is signed in to: the page says the link is
    /// not about that one.
    #[serde(default)]
    pub signed_in_as: Option<String>,
    /// "Since" reaches back to an earlier new sign-in nobody confirmed, which the button covers
    /// too.
    #[serde(default)]
    pub from_earlier: bool,
}

/// A sign-up link's page: the address it confirms, and the name given when asking.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignUpLinkView {
    pub email: String,
    pub display_name: Option<String>,
    /// The account this browser is signed in to (finishing signs it out here).
    #[serde(default)]
    pub signed_in_as: Option<String>,
}

/// A reset link's page: the account's address; `sets_password` when it has no password yet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResetLinkView {
    pub email: String,
    pub sets_password: bool,
    /// The password rules ask for fewer characters with a second factor (the meter says so too).
    pub has_second_factor: bool,
    /// The account has a password that works now ("Remembered it? Sign in" is offered only then).
    pub has_password: bool,
    /// Another account this browser is signed in to (saving signs it out here).
    #[serde(default)]
    pub signed_in_as: Option<String>,
    /// The account's display name, for the strength meter (the server refuses a password built
    /// from it).
    #[serde(default)]
    pub display_name: Option<String>,
}
