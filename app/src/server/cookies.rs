//! Every cookie Gatehouse sets, described once (name, attributes, lifetime) and used both by the
//! server functions (set, read, clear) and by the server's middleware (read the session, clear a
//! stale one). All are `__Host-` (the browser insists on Secure, Path=/ and no Domain), HttpOnly
//! and Secure.
use http::HeaderMap;

/// How far the browser sends a cookie along with requests that start on other sites.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SameSite {
    /// Sent on top-level navigations from other sites (following a link to Gatehouse).
    Lax,
    /// Never sent on requests that start on another site.
    Strict,
}

/// How long a cookie lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lifetime {
    /// The longest session lifetime of the configuration (set per request by the middleware as
    /// `CookieMaxAge`); a day when unknown.
    SessionPolicy,
    Seconds(i64),
}

/// One cookie: its name and attributes.
#[derive(Clone, Copy, Debug)]
pub struct CookieSpec {
    pub name: &'static str,
    pub same_site: SameSite,
    pub lifetime: Lifetime,
}

/// The session: the token whose hash names a row of `sessions`.
pub const SESSION: CookieSpec = CookieSpec { name: "__Host-gatehouse-session", same_site: SameSite::Lax, lifetime: Lifetime::SessionPolicy };

/// The device cookie: which accounts this browser has fully signed in to (signed entries), so its
/// password guesses are counted apart from everyone else's. Long-lived; never a session. Lax, like
/// the flow cookie: a sign-in through Google or GitHub ends with the provider sending the browser
/// back (a top-level navigation from its site), and that request must carry it, or the sign-in
/// would count on the account's shared path (locked by anyone's guesses) and then replace the
/// browser's cookie, forgetting the other accounts it holds. (It only chooses a throttle counter;
/// a request from another site can change nothing with it: every state-changing request must
/// come from this site, and the provider's return is bound to its flow cookie and state.)
pub const DEVICE: CookieSpec = CookieSpec {
    name: "__Host-gatehouse-device",
    same_site: SameSite::Lax,
    lifetime: Lifetime::Seconds(domain::auth::device_cookies::LIFETIME_DAYS * 86_400),
};

/// A sign-in waiting for its second step (this browser only, as long as the pending sign-in).
pub const PENDING: CookieSpec = CookieSpec {
    name: "__Host-gatehouse-pending",
    same_site: SameSite::Strict,
    lifetime: Lifetime::Seconds(domain::auth::two_factor::PENDING_MINUTES * 60),
};

/// A passkey sign-in between its two halves (this browser only, as long as the ceremony).
pub const PASSKEY: CookieSpec = CookieSpec {
    name: "__Host-gatehouse-passkey",
    same_site: SameSite::Strict,
    lifetime: Lifetime::Seconds(domain::auth::passkeys::CEREMONY_MINUTES * 60),
};

/// Binds sign-ins, connections and re-verifications through Google or GitHub to this browser, as
/// long as a flow lasts and as long as an expired one is kept after it: a browser that comes back
/// late is then told it came late, on the page it began from ("longer than 10 minutes"), where a
/// cookie gone with the flow's ten minutes made it "used already, or started again in another
/// tab", which was not true. Lax: the provider sends the browser back with a top-level navigation
/// from its own site, which must carry it.
pub const FLOW: CookieSpec = CookieSpec {
    name: "__Host-gatehouse-flow",
    same_site: SameSite::Lax,
    lifetime: Lifetime::Seconds(
        domain::auth::connected_accounts::FLOW_MINUTES * 60 + domain::db::connected_accounts::EXPIRED_FLOW_KEPT.whole_seconds(),
    ),
};

impl CookieSpec {
    /// The `Set-Cookie` value that stores `value`; `policy_seconds` is the session policy's
    /// lifetime, for cookies that follow it.
    pub fn set(&self, value: &str, policy_seconds: Option<i64>) -> String {
        let max_age = match self.lifetime {
            Lifetime::SessionPolicy => policy_seconds.unwrap_or(86_400),
            Lifetime::Seconds(s) => s,
        };
        self.header(value, max_age)
    }

    /// The `Set-Cookie` value that makes the browser forget the cookie.
    pub fn clear(&self) -> String {
        self.header("", 0)
    }

    /// The cookie's value in a request's `Cookie` headers.
    pub fn read<'h>(&self, headers: &'h HeaderMap) -> Option<&'h str> {
        headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .find(|(k, _)| *k == self.name)
            .map(|(_, v)| v)
    }

    fn header(&self, value: &str, max_age: i64) -> String {
        let same_site = match self.same_site {
            SameSite::Lax => "Lax",
            SameSite::Strict => "Strict",
        };
        format!("{}={value}; Path=/; HttpOnly; Secure; SameSite={same_site}; Max-Age={max_age}", self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cookie_is_host_only_http_only_and_secure() {
        for c in [SESSION, DEVICE, PENDING, PASSKEY, FLOW] {
            assert!(c.name.starts_with("__Host-gatehouse-"), "{}", c.name);
            let set = c.set("v", Some(60));
            assert!(set.contains("; Path=/; HttpOnly; Secure; SameSite="), "{set}");
            let clear = c.clear();
            assert!(clear.starts_with(&format!("{}=; Path=/; HttpOnly; Secure; SameSite=", c.name)) && clear.ends_with("; Max-Age=0"), "{clear}");
        }
    }

    #[test]
    fn lifetimes_come_from_the_policies() {
        assert_eq!(SESSION.set("t", Some(3600)), "__Host-gatehouse-session=t; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=3600");
        assert_eq!(SESSION.set("t", None), "__Host-gatehouse-session=t; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=86400");
        assert_eq!(PENDING.set("p", Some(3600)), "__Host-gatehouse-pending=p; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=300");
        // (the flow's 10 minutes, and the hour an expired one is kept to say it came late)
        assert_eq!(FLOW.set("f", None), "__Host-gatehouse-flow=f; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=4200");
        assert_eq!(DEVICE.set("d", None), "__Host-gatehouse-device=d; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=31536000");
    }

    #[test]
    fn reading_finds_the_named_cookie_among_others() {
        let mut h = HeaderMap::new();
        h.append(http::header::COOKIE, "a=1; __Host-gatehouse-session=abc".parse().unwrap());
        h.append(http::header::COOKIE, "__Host-gatehouse-pending=xyz".parse().unwrap());
        assert_eq!(SESSION.read(&h), Some("abc"));
        assert_eq!(PENDING.read(&h), Some("xyz"));
        assert_eq!(PASSKEY.read(&h), None);
    }
}
