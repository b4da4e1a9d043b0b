//! Device cookies (OWASP, "Slow Down Online Guessing Attacks with Device Cookies"): a browser that
//! has fully signed in to an account gets a signed, long-lived cookie naming that account and a
//! random nonce. Its guesses are then counted on that device's own throttle row, and everyone
//! else's on the account's untrusted row, so an attacker who knows the email can slow down or lock
//! only the untrusted path: the owner's own browsers keep signing in.
//!
//! One cookie holds up to [`MAX_ACCOUNTS`] entries (one per account signed in from this browser),
//! each `base64url(user id ‖ nonce ‖ HMAC-SHA-256(key, label ‖ user id ‖ nonce))`, joined by `.`.
//! An entry is only ever trusted for the account it names and only with a valid MAC, so a forged
//! entry, or one copied from another account's cookie, counts as untrusted. The cookie is not a
//! session: nothing signs in with it.
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use uuid::Uuid;

use crate::ids::UserId;
use crate::secret::DeviceCookie;

/// Accounts remembered per browser; the oldest entry is dropped beyond this.
pub const MAX_ACCOUNTS: usize = 5;
/// How long a browser stays trusted after its last full sign-in (the cookie's Max-Age).
pub const LIFETIME_DAYS: i64 = 365;

const LABEL: &[u8] = b"gatehouse device cookie v1";
const NONCE_LEN: usize = 16;
const ENTRY_LEN: usize = 16 + NONCE_LEN + 32;

/// The server key that signs device cookies (`[secrets] device_cookie_key`), and passkey sign-ins
/// in flight (see [`sign`](Self::sign)). `Debug` is redacted.
#[derive(Clone)]
pub struct DeviceCookieKey(Vec<u8>);

impl std::fmt::Debug for DeviceCookieKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeviceCookieKey([redacted])")
    }
}

/// A browser's throttle path for one account: its own device row, or the account's untrusted row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThrottlePath {
    /// No valid device cookie for this account.
    Untrusted,
    /// A valid device cookie for this account, by its nonce.
    Device([u8; NONCE_LEN]),
}

impl ThrottlePath {
    /// The `device` column of `sign_in_throttles`: empty for the untrusted path.
    pub fn key(&self) -> &[u8] {
        match self {
            Self::Untrusted => &[],
            Self::Device(nonce) => nonce,
        }
    }

    pub fn is_trusted(&self) -> bool {
        matches!(self, Self::Device(_))
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

    fn mac(&self, user: &[u8; 16], nonce: &[u8; NONCE_LEN]) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(LABEL);
        mac.update(user);
        mac.update(nonce);
        mac.finalize().into_bytes().into()
    }

    /// A MAC under this key of a value the server hands a browser to give back unchanged, for a use
    /// other than device cookies (passkey sign-ins in flight). Each use has its own `label`, and no
    /// label is a prefix of another's or of the device cookies' own, so a value signed for one use
    /// is never valid for another.
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

    /// The valid entries of a cookie, as (account, nonce), in the cookie's order.
    fn entries(&self, cookie: Option<&DeviceCookie>) -> Vec<(UserId, [u8; NONCE_LEN])> {
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
                let user: [u8; 16] = raw[..16].try_into().ok()?;
                let nonce: [u8; NONCE_LEN] = raw[16..16 + NONCE_LEN].try_into().ok()?;
                let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
                mac.update(LABEL);
                mac.update(&user);
                mac.update(&nonce);
                mac.verify_slice(&raw[16 + NONCE_LEN..]).ok()?;
                Some((UserId(Uuid::from_bytes(user)), nonce))
            })
            .collect()
    }

    /// The path this browser's attempts on `user`'s account are counted on.
    pub fn path(&self, cookie: Option<&DeviceCookie>, user: UserId) -> ThrottlePath {
        self.entries(cookie)
            .into_iter()
            .find(|(u, _)| *u == user)
            .map_or(ThrottlePath::Untrusted, |(_, nonce)| ThrottlePath::Device(nonce))
    }

    /// The cookie to set after a full sign-in to `user`'s account: this account first (keeping its
    /// nonce if the browser already had one, so its throttle row stays the same), then the other
    /// accounts' valid entries, at most [`MAX_ACCOUNTS`] in all.
    pub fn issue(&self, cookie: Option<&DeviceCookie>, user: UserId) -> DeviceCookie {
        let existing = self.entries(cookie);
        let nonce = existing.iter().find(|(u, _)| *u == user).map(|(_, n)| *n).unwrap_or_else(|| {
            let mut n = [0u8; NONCE_LEN];
            rand::rngs::OsRng.fill_bytes(&mut n);
            n
        });
        let mut out = vec![self.entry(user, &nonce)];
        let mut seen = vec![user];
        for (u, n) in existing {
            if out.len() == MAX_ACCOUNTS {
                break;
            }
            if !seen.contains(&u) {
                seen.push(u);
                out.push(self.entry(u, &n));
            }
        }
        DeviceCookie::from_cookie(out.join("."))
    }

    fn entry(&self, user: UserId, nonce: &[u8; NONCE_LEN]) -> String {
        let user_bytes = *user.0.as_bytes();
        let mut raw = Vec::with_capacity(ENTRY_LEN);
        raw.extend_from_slice(&user_bytes);
        raw.extend_from_slice(nonce);
        raw.extend_from_slice(&self.mac(&user_bytes, nonce));
        URL_SAFE_NO_PAD.encode(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> DeviceCookieKey {
        DeviceCookieKey(vec![b; 32])
    }

    #[test]
    fn a_browser_is_trusted_only_for_the_account_it_signed_in_to() {
        let (k, ada, bob) = (key(1), UserId::new(), UserId::new());
        let cookie = k.issue(None, ada);
        assert!(k.path(Some(&cookie), ada).is_trusted());
        assert_eq!(k.path(Some(&cookie), bob), ThrottlePath::Untrusted);
        assert_eq!(k.path(None, ada), ThrottlePath::Untrusted);
    }

    #[test]
    fn a_forged_or_foreign_cookie_is_untrusted() {
        let (k, ada, bob) = (key(1), UserId::new(), UserId::new());
        // signed with another key
        let other_key = key(2).issue(None, ada);
        assert_eq!(k.path(Some(&other_key), ada), ThrottlePath::Untrusted);
        // Bob's valid entry with Ada's id swapped in: the MAC no longer matches
        let bobs = k.issue(None, bob);
        let mut raw = URL_SAFE_NO_PAD.decode(bobs.expose()).unwrap();
        raw[..16].copy_from_slice(ada.0.as_bytes());
        let swapped = DeviceCookie::from_cookie(URL_SAFE_NO_PAD.encode(raw));
        assert_eq!(k.path(Some(&swapped), ada), ThrottlePath::Untrusted);
        for junk in ["", "....", "not base64!", &"A".repeat(86)] {
            assert_eq!(k.path(Some(&DeviceCookie::from_cookie(junk)), ada), ThrottlePath::Untrusted, "{junk:?}");
        }
    }

    #[test]
    fn signing_in_again_keeps_the_nonce_and_other_accounts_up_to_five() {
        let k = key(1);
        let users: Vec<UserId> = (0..7).map(|_| UserId::new()).collect();
        let first = k.issue(None, users[0]);
        let again = k.issue(Some(&first), users[0]);
        assert_eq!(k.path(Some(&first), users[0]), k.path(Some(&again), users[0]), "same nonce, same throttle row");
        let mut cookie = again;
        for u in &users[1..] {
            cookie = k.issue(Some(&cookie), *u);
        }
        assert_eq!(cookie.expose().split('.').count(), MAX_ACCOUNTS);
        // the most recent five accounts are remembered, the oldest are not
        assert!(k.path(Some(&cookie), users[6]).is_trusted() && k.path(Some(&cookie), users[2]).is_trusted());
        assert_eq!(k.path(Some(&cookie), users[0]), ThrottlePath::Untrusted);
        assert!(cookie.expose().len() < 500, "fits easily in a cookie");
    }
}
