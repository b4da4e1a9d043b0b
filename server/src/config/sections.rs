//! The sections of the configuration (`[site]`, `[limits]`, …) other than those whose types live in
//! `domain::config`: their fields, defaults and documentation. Loading and overriding is `config`.
use std::net::SocketAddr;

use serde::Deserialize;

/// Anti-automation limits per client network (an IPv4 address, or an IPv6 /64) on the anonymous
/// endpoints, beyond the per-account throttle. See Leptos.toml `[limits]` (one word: environment
/// overrides split GATEHOUSE_<SECTION>_<KEY> at the first underscore).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Sign-in, sign-up and the second step (one budget): requests regained per minute…
    pub password_per_minute: u32,
    /// …and how many may come at once.
    pub password_burst: u32,
    /// Passkey sign-in, begin and finish (one budget): requests regained per minute…
    pub passkey_per_minute: u32,
    /// …and how many may come at once.
    pub passkey_burst: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            password_per_minute: 10,
            password_burst: 20,
            passkey_per_minute: 30,
            passkey_burst: 30,
        }
    }
}

impl LimitsConfig {
    pub(super) fn validate(&self) -> Result<(), String> {
        let all = [
            self.password_per_minute,
            self.password_burst,
            self.passkey_per_minute,
            self.passkey_burst,
        ];
        if all.contains(&0) {
            return Err("[limits] values must be at least 1".into());
        }
        Ok(())
    }
}

/// Keys for secrets at rest. Never logged (Debug is redacted).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsConfig {
    pub totp_keys: String,
    pub backup_code_key: String,
    /// Signs device cookies (base64, 32+ bytes).
    pub device_cookie_key: String,
}

impl std::fmt::Debug for SecretsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretsConfig([redacted])")
    }
}

/// The password policy's data.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordConfig {
    /// Common and leaked passwords, one per line (scripts/setup.sh installs it).
    pub common_list: String,
}

/// Who passkeys are for (the relying party) and how their providers are named.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasskeysConfig {
    /// The site's domain ("example.com"; "localhost" in development). Never an IP address.
    pub rp_id: String,
    /// The exact origin pages are served from ("https://example.com"); ceremonies from any other
    /// scheme, host or port fail. It is also the site's public origin ([`Config::public_origin`]):
    /// normalised when the configuration is read (lower case, no default port, no trailing slash).
    pub origin: String,
    /// Shown by the browser and the authenticator.
    pub rp_name: String,
    /// Provider names by AAGUID (scripts/setup.sh installs it).
    pub provider_list: String,
}

/// Approximate locations of session IPs. Empty or missing files: locations show "Unknown".
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeoIpConfig {
    #[serde(default)]
    pub ipv4_database: String,
    #[serde(default)]
    pub ipv6_database: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    pub addr: SocketAddr,
    pub root: String,
    pub pkg_dir: String,
    pub output_name: String,
    /// Origins (scheme://host:port) allowed to send state-changing requests besides the public
    /// origin (`[passkeys] origin`), e.g. a second public name of the site. Normalised like it.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Proxies (IP addresses) whose `X-Forwarded-For` is believed. From anyone else the header is
    /// ignored, so a client cannot choose the IP recorded for its session.
    #[serde(default)]
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Postgres URL; empty means "use DATABASE_URL".
    #[serde(default)]
    pub url: String,
    pub max_connections: u32,
    /// How long a request waits for a connection before answering "temporarily unavailable".
    pub acquire_timeout_seconds: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self { url: String::new(), max_connections: 10, acquire_timeout_seconds: 3 }
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviewsConfig {
    pub enabled: bool,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoConfig {
    /// Create the demo account at start-up (if missing) and print its credentials.
    pub enabled: bool,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub password: String,
    /// A member of the Enterprise demo organisation (same password); empty for none.
    #[serde(default)]
    pub enterprise_email: String,
}
