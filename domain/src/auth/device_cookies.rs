//! Device cookies (OWASP, "Slow Down Online Guessing Attacks with Device Cookies"): a browser that
//! has fully signed in to an account (or, on an account without an authenticator app, reset its
//! password through the emailed link: `email_links::reset_password`) gets a signed, long-lived
//! cookie naming that account and a random nonce. Its guesses are then counted on that device's own throttle row, and everyone
//! else's on the account's untrusted row, so an attacker who knows the email can slow down or lock
//! only the untrusted path: the owner's own browsers keep signing in.
//!
//! A browser that reset the password of an account with an authenticator app gets a proven entry
//! instead (`ThrottlePath::Proven`): its guesses count on the account's one proven row, shared
//! with every browser signing in through the account's Google or GitHub identity. Strangers cannot
//! lock that row, so the owner on a new device still gets in after Forgot password or with a
//! provider; and however often someone holding the mailbox resets, their code guesses meet one
//! row's limits (a reset's own trusted row would give each reset a fresh budget of code guesses).
//!
//! One cookie holds up to [`MAX_ACCOUNTS`] entries (one per account signed in from this browser),
//! each `base64url(user id ‖ nonce ‖ issued ‖ HMAC-SHA-256(key, label ‖ user id ‖ nonce ‖ issued))`
//! (`issued`: when the account's entry was last renewed, by a full sign-in, in Unix microseconds),
//! joined by `.`. An entry is only ever trusted for the account it names and only with a valid
//! MAC, so a forged entry, or one copied from another account's cookie, counts as untrusted. The
//! cookie is not a session: nothing signs in with it.
//!
//! A trusted browser also signs in without an unfamiliar-sign-in alert, but only while its entry
//! is as new as the account's last reset of its devices (`users.devices_reset_at`: "This wasn't
//! me", a password reset or change, …; see [`known_since`]; a password reset's own entry is dated
//! just before it, so it never is): an intruder's browser keeps its throttle row, never the
//! owner's trust; and at a sign-in's first step, only until the account's password or
//! authenticator app changes (`path`'s `fresh_from`): then it counts on the account's one stale
//! path, so entries collected while someone knew the old password give no budgets of their own
//! against the new one.
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::ids::UserId;
use crate::secret::DeviceCookie;

/// Accounts remembered per browser; the oldest entry is dropped beyond this.
pub const MAX_ACCOUNTS: usize = 5;
/// How long a browser stays trusted after its last full sign-in (the cookie's Max-Age).
pub const LIFETIME_DAYS: i64 = 365;
/// How long a proven entry counts after the reset that gave it: the reset proves the mailbox that
/// day, not for ever (someone who read the mailbox once cannot go on using, or locking, the proven
/// path after the owner took it back). A full sign-in replaces it with the browser's own path.
pub const PROVEN_HOURS: i64 = 24;

/// How much earlier than its change a password reset or change dates the entry it gives the browser
/// (so that entry is no known device's for alerts: `known_since`, which compares with the reset of
/// the account's devices at the same moment; it still counts as fresh for the throttle).
pub const RESET_ENTRY_EARLIER: time::Duration = time::Duration::microseconds(1);

const LABEL: &[u8] = b"gatehouse device cookie v2";
/// A proven entry's label (`ThrottlePath::Proven`): a browser that reset the password of an account
/// with an authenticator app. (No label is a prefix of another's.)
const PROVEN_LABEL: &[u8] = b"gatehouse proven browser v1";
const NONCE_LEN: usize = 16;
const ENTRY_LEN: usize = 16 + NONCE_LEN + 8 + 32;

/// The server key that signs device cookies (`[secrets] device_cookie_key`), and passkey sign-ins
/// in flight (see [`sign`](Self::sign)). `Debug` is redacted.
#[derive(Clone)]
pub struct DeviceCookieKey(Vec<u8>);

impl std::fmt::Debug for DeviceCookieKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeviceCookieKey([redacted])")
    }
}

/// A browser's throttle path for one account: its own device row, the account's row for browsers
/// that proved its mailbox or a linked sign-in provider, or the account's untrusted row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThrottlePath {
    /// No valid device cookie for this account.
    Untrusted,
    /// A browser that never fully signed in to this account but proved more than its address: it
    /// chose the account's password through an emailed reset link (a proven entry in its cookie),
    /// or is signing in with the account's Google or GitHub identity. One row per account, shared
    /// by every such browser: strangers who know only the address cannot lock it, and however many
    /// resets or provider sign-ins someone holding the mailbox or the identity makes, their code
    /// guesses on it meet one path's limits.
    Proven,
    /// A valid device cookie for this account, by its nonce.
    Device([u8; NONCE_LEN]),
    /// At a sign-in's first step, a valid entry renewed before the account's password was chosen or
    /// its authenticator app set up: one row per account, shared by every such browser. Whoever once
    /// signed in fully may have collected any number of entries, and this way they are one budget of
    /// guesses at the new password, not one each; strangers who never signed in cannot reach the
    /// row, so they cannot lock the owner's other browsers out after she changed her password.
    Stale,
}

/// The `device` key of the proven path's row (the untrusted row's is empty, a device's 16 bytes).
const PROVEN_KEY: &[u8] = b"proven";
/// The `device` key of the stale path's row.
const STALE_KEY: &[u8] = b"stale";

impl ThrottlePath {
    /// The `device` column of `sign_in_throttles`: empty for the untrusted path.
    pub fn key(&self) -> &[u8] {
        match self {
            Self::Untrusted => &[],
            Self::Proven => PROVEN_KEY,
            Self::Stale => STALE_KEY,
            Self::Device(nonce) => nonce,
        }
    }

    /// The path a `key` names (as stored with a pending sign-in); an unknown key is untrusted.
    pub fn from_key(key: &[u8]) -> Self {
        match <[u8; NONCE_LEN]>::try_from(key) {
            Ok(nonce) => Self::Device(nonce),
            Err(_) if key == PROVEN_KEY => Self::Proven,
            Err(_) if key == STALE_KEY => Self::Stale,
            Err(_) => Self::Untrusted,
        }
    }

    pub fn is_trusted(&self) -> bool {
        matches!(self, Self::Device(_))
    }

    /// Only browsers that once fully signed in to the account count on it (their own path, or the
    /// stale one): waiting there may be said as such, since it tells nothing about accounts.
    pub fn signed_in_before(&self) -> bool {
        matches!(self, Self::Device(_) | Self::Stale)
    }

    /// For the log: "device" (a trusted browser's own path), "stale", "proven" or "untrusted".
    pub fn name(&self) -> &'static str {
        match self {
            Self::Untrusted => "untrusted",
            Self::Proven => "proven",
            Self::Stale => "stale",
            Self::Device(_) => "device",
        }
    }
}

impl DeviceCookieKey {
    /// Base64, at least 32 bytes.
    pub fn from_config(b64: &str) -> Result<Self, String> {
        let key = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|_| "[secrets] device_cookie_key is not base64".to_string())?;
        if key.len() < 32 {
            return Err("[secrets] device_cookie_key must be at least 32 bytes".into());
        }
        Ok(Self(key))
    }

    /// A MAC under this key of a value the server hands a browser to give back unchanged: a device
    /// cookie's entry (under `LABEL`), a passkey sign-in in flight. Each use has its own `label`,
    /// and no label is a prefix of another's, so a value signed for one use is never valid for
    /// another.
    pub(crate) fn sign(&self, label: &[u8], payload: &[u8]) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(label);
        mac.update(payload);
        mac.finalize().into_bytes().into()
    }

    /// Whether `tag` is [`sign`](Self::sign)'s MAC of `payload` under `label` (compared in constant
    /// time).
    pub(crate) fn verify(&self, label: &[u8], payload: &[u8], tag: &[u8]) -> bool {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(label);
        mac.update(payload);
        mac.verify_slice(tag).is_ok()
    }

    /// The valid entries of a cookie, in the cookie's order.
    fn entries(&self, cookie: Option<&DeviceCookie>) -> Vec<Entry> {
        let Some(cookie) = cookie else { return Vec::new() };
        cookie
            .expose()
            .split('.')
            .take(MAX_ACCOUNTS * 2)
            .filter_map(|entry| {
                let raw = URL_SAFE_NO_PAD.decode(entry).ok()?;
                if raw.len() != ENTRY_LEN {
                    return None;
                }
                let (signed, tag) = raw.split_at(ENTRY_LEN - 32);
                let proven = if self.verify(LABEL, signed, tag) {
                    false
                } else if self.verify(PROVEN_LABEL, signed, tag) {
                    true
                } else {
                    return None;
                };
                let user: [u8; 16] = signed[..16].try_into().ok()?;
                let nonce: [u8; NONCE_LEN] = signed[16..16 + NONCE_LEN].try_into().ok()?;
                let micros = i64::from_be_bytes(signed[16 + NONCE_LEN..].try_into().ok()?);
                let issued = OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000).ok()?;
                Some(Entry { user: UserId(Uuid::from_bytes(user)), nonce, issued, proven })
            })
            .collect()
    }

    /// The cookie's valid entry for `user`'s account (a full sign-in's before a proven one).
    fn entry_for(&self, cookie: Option<&DeviceCookie>, user: UserId) -> Option<Entry> {
        self.entries(cookie).into_iter().filter(|e| e.user == user).min_by_key(|e| e.proven)
    }

    /// The path this browser's attempts on `user`'s account are counted on at `now` (a proven entry
    /// older than [`PROVEN_HOURS`] counts as none).
    ///
    /// `fresh_from`: at a sign-in's first step, when what it must know last changed (the account's
    /// `secrets_changed_at`: its password chosen or its authenticator app set up). A full sign-in's
    /// entry renewed before then counts on the account's stale path ([`ThrottlePath::Stale`]):
    /// whoever once signed in fully can collect any number of entries, one per cookie-less sign-in,
    /// and each would otherwise be a fresh budget of guesses at the new password (or, with the old
    /// one, of codes) after the owner took the account back. The owner's other browsers share that
    /// path until their next full sign-in renews their entry; strangers cannot reach it. (An entry
    /// given with a change, by a reset or a password change, is dated [`RESET_ENTRY_EARLIER`]
    /// before it, and counts as fresh. A proven entry is one shared path already, and keeps its 24
    /// hours.) `None` for the checks of a signed-in browser, whose session already proves a full
    /// sign-in.
    pub fn path(&self, cookie: Option<&DeviceCookie>, user: UserId, now: OffsetDateTime, fresh_from: Option<OffsetDateTime>) -> ThrottlePath {
        match self.entry_for(cookie, user) {
            Some(Entry { proven: false, issued, .. }) if fresh_from.is_some_and(|from| issued + RESET_ENTRY_EARLIER < from) => ThrottlePath::Stale,
            Some(Entry { proven: false, nonce, .. }) => ThrottlePath::Device(nonce),
            Some(Entry { proven: true, issued, .. }) if now - issued < time::Duration::hours(PROVEN_HOURS) => ThrottlePath::Proven,
            Some(Entry { proven: true, .. }) | None => ThrottlePath::Untrusted,
        }
    }

    /// When this browser's entry for `user`'s account was last renewed (its last full sign-in to
    /// it); `None` without a valid entry. Whether that still counts: [`known_since`].
    pub fn trusted_since(&self, cookie: Option<&DeviceCookie>, user: UserId) -> Option<OffsetDateTime> {
        self.entry_for(cookie, user).filter(|e| !e.proven).map(|e| e.issued)
    }

    /// The cookie to set after a full sign-in to `user`'s account at `now`: this account first
    /// (renewed at `now`, keeping its nonce if the browser already had one, so its throttle row
    /// stays the same), then the other accounts' valid entries as they were, at most
    /// [`MAX_ACCOUNTS`] in all.
    pub fn issue(&self, cookie: Option<&DeviceCookie>, user: UserId, now: OffsetDateTime) -> DeviceCookie {
        let existing = self.entries(cookie);
        let nonce = existing.iter().find(|e| e.user == user && !e.proven).map_or_else(new_nonce, |e| e.nonce);
        self.put_first(existing, Entry { user, nonce, issued: now, proven: false })
    }

    /// The cookie to set after this browser chose the password of `user`'s account (which has an
    /// authenticator app) through an emailed reset link at `now`: a proven entry for the account
    /// (`ThrottlePath::Proven`), first, then the other accounts' entries as they were. It replaces
    /// a full sign-in's entry for the account too: that one is from before the new password, so it
    /// would count on the stale path, which copies of old entries share; the proven path needs the
    /// mailbox or a linked identity.
    pub fn issue_proven(&self, cookie: Option<&DeviceCookie>, user: UserId, now: OffsetDateTime) -> DeviceCookie {
        self.put_first(self.entries(cookie), Entry { user, nonce: new_nonce(), issued: now, proven: true })
    }

    /// `first`, then the valid entries of other accounts from `existing`, at most
    /// [`MAX_ACCOUNTS`] in all.
    fn put_first(&self, existing: Vec<Entry>, first: Entry) -> DeviceCookie {
        let user = first.user;
        let mut out = vec![self.encode(&first)];
        let mut seen = vec![user];
        for e in existing {
            if out.len() == MAX_ACCOUNTS {
                break;
            }
            if !seen.contains(&e.user) {
                seen.push(e.user);
                out.push(self.encode(&e));
            }
        }
        DeviceCookie::from_cookie(out.join("."))
    }

    fn encode(&self, e: &Entry) -> String {
        let micros = i64::try_from(e.issued.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX);
        let mut raw = Vec::with_capacity(ENTRY_LEN);
        raw.extend_from_slice(e.user.0.as_bytes());
        raw.extend_from_slice(&e.nonce);
        raw.extend_from_slice(&micros.to_be_bytes());
        let tag = self.sign(if e.proven { PROVEN_LABEL } else { LABEL }, &raw);
        raw.extend_from_slice(&tag);
        URL_SAFE_NO_PAD.encode(raw)
    }
}

fn new_nonce() -> [u8; NONCE_LEN] {
    let mut n = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut n);
    n
}

/// One account's entry in a device cookie.
struct Entry {
    user: UserId,
    nonce: [u8; NONCE_LEN],
    issued: OffsetDateTime,
    /// A proven entry (`issue_proven`), not a full sign-in's.
    proven: bool,
}

/// Whether a browser whose entry was renewed at `trusted_since` (`DeviceCookieKey::trusted_since`)
/// is still a known device of an account that last reset its devices at `devices_reset_at`: an
/// entry renewed at or after the reset is (the sign-in that follows a reset on the same browser),
/// an older one is not.
pub fn known_since(trusted_since: Option<OffsetDateTime>, devices_reset_at: Option<OffsetDateTime>) -> bool {
    match (trusted_since, devices_reset_at) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(issued), Some(reset)) => issued >= reset,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> DeviceCookieKey {
        DeviceCookieKey(vec![b; 32])
    }

    fn now() -> OffsetDateTime {
        time::macros::datetime!(2026-12-05 06:00 UTC)
    }

    /// At a sign-in's first step, an entry renewed before the account's password was chosen or its
    /// authenticator set up counts on the account's one stale path; renewed since, or an entry
    /// given with the change, on its own.
    #[test]
    fn an_entry_from_before_the_accounts_secrets_changed_has_no_path_of_its_own_at_sign_in() {
        let (k, ada) = (key(1), UserId::new());
        let cookie = k.issue(None, ada, now());
        let (changed, later) = (now() + time::Duration::minutes(1), now() + time::Duration::minutes(5));
        assert_eq!(k.path(Some(&cookie), ada, later, Some(changed)), ThrottlePath::Stale);
        assert_eq!(k.path(Some(&k.issue(None, ada, now())), ada, later, Some(changed)), ThrottlePath::Stale, "every copy shares it");
        assert_eq!(k.path(None, ada, later, Some(changed)), ThrottlePath::Untrusted, "strangers never reach it");
        assert!(k.path(Some(&cookie), ada, later, None).is_trusted(), "a signed-in browser's checks keep it");
        assert!(k.path(Some(&cookie), ada, later, Some(now())).is_trusted(), "renewed at the change");
        assert!(k.path(Some(&cookie), ada, later, Some(now() + RESET_ENTRY_EARLIER)).is_trusted(), "a reset's own entry");
        let just_after = now() + RESET_ENTRY_EARLIER + time::Duration::microseconds(1);
        assert_eq!(k.path(Some(&cookie), ada, later, Some(just_after)), ThrottlePath::Stale);
        // a full sign-in renews it, with its nonce: the same row as before
        let renewed = k.issue(Some(&cookie), ada, later);
        assert_eq!(k.path(Some(&renewed), ada, later, Some(changed)), k.path(Some(&cookie), ada, later, None));
    }

    #[test]
    fn a_browser_is_trusted_only_for_the_account_it_signed_in_to() {
        let (k, ada, bob) = (key(1), UserId::new(), UserId::new());
        let cookie = k.issue(None, ada, now());
        assert!(k.path(Some(&cookie), ada, now(), None).is_trusted());
        assert_eq!(k.path(Some(&cookie), bob, now(), None), ThrottlePath::Untrusted);
        assert_eq!(k.path(None, ada, now(), None), ThrottlePath::Untrusted);
    }

    #[test]
    fn a_forged_or_foreign_cookie_is_untrusted() {
        let (k, ada, bob) = (key(1), UserId::new(), UserId::new());
        // signed with another key
        let other_key = key(2).issue(None, ada, now());
        assert_eq!(k.path(Some(&other_key), ada, now(), None), ThrottlePath::Untrusted);
        // Bob's valid entry with Ada's id swapped in: the MAC no longer matches
        let bobs = k.issue(None, bob, now());
        let mut raw = URL_SAFE_NO_PAD.decode(bobs.expose()).unwrap();
        raw[..16].copy_from_slice(ada.0.as_bytes());
        let swapped = DeviceCookie::from_cookie(URL_SAFE_NO_PAD.encode(raw));
        assert_eq!(k.path(Some(&swapped), ada, now(), None), ThrottlePath::Untrusted);
        for junk in ["", "....", "not base64!", &"A".repeat(96)] {
            assert_eq!(k.path(Some(&DeviceCookie::from_cookie(junk)), ada, now(), None), ThrottlePath::Untrusted, "{junk:?}");
        }
    }

    #[test]
    fn signing_in_again_keeps_the_nonce_and_other_accounts_up_to_five() {
        let k = key(1);
        let users: Vec<UserId> = (0..7).map(|_| UserId::new()).collect();
        let first = k.issue(None, users[0], now());
        let again = k.issue(Some(&first), users[0], now());
        assert_eq!(k.path(Some(&first), users[0], now(), None), k.path(Some(&again), users[0], now(), None), "same nonce, same throttle row");
        let mut cookie = again;
        for u in &users[1..] {
            cookie = k.issue(Some(&cookie), *u, now());
        }
        assert_eq!(cookie.expose().split('.').count(), MAX_ACCOUNTS);
        // the most recent five accounts are remembered, the oldest are not
        assert!(k.path(Some(&cookie), users[6], now(), None).is_trusted() && k.path(Some(&cookie), users[2], now(), None).is_trusted());
        assert_eq!(k.path(Some(&cookie), users[0], now(), None), ThrottlePath::Untrusted);
        assert!(cookie.expose().len() < 500, "fits easily in a cookie");
    }

    #[test]
    fn a_browser_is_a_known_device_only_while_its_entry_is_newer_than_the_accounts_last_reset() {
        let (k, ada) = (key(1), UserId::new());
        let cookie = k.issue(None, ada, now());
        let since = k.trusted_since(Some(&cookie), ada);
        assert_eq!(since, Some(now()));
        assert!(known_since(since, None), "never reset");
        assert!(known_since(since, Some(now() - time::Duration::days(1))), "reset before it signed in");
        assert!(known_since(since, Some(now())), "signed in at the reset itself");
        assert!(!known_since(since, Some(now() + time::Duration::seconds(1))), "reset after it signed in");
        assert!(!known_since(None, None), "no entry");
        // signing in again renews it, with the same throttle row
        let renewed = k.issue(Some(&cookie), ada, now() + time::Duration::days(2));
        assert!(known_since(k.trusted_since(Some(&renewed), ada), Some(now() + time::Duration::days(1))));
        assert_eq!(k.path(Some(&renewed), ada, now(), None), k.path(Some(&cookie), ada, now(), None));
    }

    #[test]
    fn an_entry_with_its_time_moved_on_is_untrusted() {
        let (k, ada) = (key(1), UserId::new());
        let cookie = k.issue(None, ada, now());
        let mut raw = URL_SAFE_NO_PAD.decode(cookie.expose()).unwrap();
        let later = (now() + time::Duration::days(30)).unix_timestamp_nanos() as i64 / 1000;
        raw[32..40].copy_from_slice(&later.to_be_bytes());
        let moved = DeviceCookie::from_cookie(URL_SAFE_NO_PAD.encode(raw));
        assert_eq!(k.trusted_since(Some(&moved), ada), None);
        assert_eq!(k.path(Some(&moved), ada, now(), None), ThrottlePath::Untrusted);
    }

    #[test]
    fn a_proven_entry_counts_on_the_accounts_proven_path_until_a_full_sign_in_gives_the_browser_its_own() {
        let (k, ada, bob) = (key(1), UserId::new(), UserId::new());
        let bobs = k.issue(None, bob, now());
        let proven = k.issue_proven(Some(&bobs), ada, now());
        assert_eq!(k.path(Some(&proven), ada, now(), None), ThrottlePath::Proven);
        assert_eq!(k.trusted_since(Some(&proven), ada), None, "never a known device");
        // for a day: a mailbox read once is no lasting way onto the proven path
        let day = time::Duration::hours(PROVEN_HOURS);
        assert_eq!(k.path(Some(&proven), ada, now() + day - time::Duration::seconds(1), None), ThrottlePath::Proven);
        assert_eq!(k.path(Some(&proven), ada, now() + day, None), ThrottlePath::Untrusted);
        assert_eq!(k.path(Some(&proven), bob, now(), None), k.path(Some(&bobs), bob, now(), None), "other accounts' entries kept");
        // every proven browser shares the account's one row
        assert_eq!(k.path(Some(&k.issue_proven(None, ada, now())), ada, now(), None).key(), b"proven");
        // a full sign-in replaces it with the browser's own path
        let signed_in = k.issue(Some(&proven), ada, now());
        assert!(k.path(Some(&signed_in), ada, now(), None).is_trusted());
        assert_eq!(signed_in.expose().split('.').count(), 2);
        // a reset replaces that entry too (it is from before the new password)
        let reset_again = k.issue_proven(Some(&signed_in), ada, now());
        assert_eq!(k.path(Some(&reset_again), ada, now(), None), ThrottlePath::Proven);
        assert_eq!(reset_again.expose().split('.').count(), 2, "bob's entry kept, ada's one");
        for key in [&[][..], b"proven", b"stale", &[7u8; 16][..]] {
            assert_eq!(ThrottlePath::from_key(key).key(), key);
        }
    }
}
