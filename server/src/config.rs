//! Runtime configuration: Leptos.toml, then environment variables on top.
//!
//! Every key `[section] key` can be overridden by `GATEHOUSE_SECTION_KEY` (upper case), e.g.
//! `GATEHOUSE_SITE_ADDR=0.0.0.0:8080`. `DATABASE_URL` overrides `database.url`.
use std::net::SocketAddr;
use std::path::Path;

use domain::config::{Argon2Config, SessionPolicy, ThrottlePolicy};
use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub site: SiteConfig,
    #[serde(default)]
    pub database: DatabaseConfig,
    #[serde(default)]
    pub session: SessionPolicy,
    #[serde(default)]
    pub argon2: Argon2Config,
    pub password: PasswordConfig,
    pub passkeys: PasskeysConfig,
    #[serde(default)]
    pub throttle: ThrottlePolicy,
    pub secrets: SecretsConfig,
    #[serde(default)]
    pub previews: PreviewsConfig,
    #[serde(default)]
    pub demo: DemoConfig,
    #[serde(default)]
    pub geoip: GeoIpConfig,
    #[serde(default)]
    pub limits: LimitsConfig,
}

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
    /// Unfinished passkey sign-ins (5 minutes each) allowed per client network…
    pub passkey_ceremonies_per_network: u32,
    /// …and in all.
    pub passkey_ceremonies_total: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            password_per_minute: 10,
            password_burst: 20,
            passkey_per_minute: 30,
            passkey_burst: 30,
            passkey_ceremonies_per_network: 20,
            passkey_ceremonies_total: 10_000,
        }
    }
}

impl LimitsConfig {
    fn validate(&self) -> Result<(), String> {
        let all = [
            self.password_per_minute,
            self.password_burst,
            self.passkey_per_minute,
            self.passkey_burst,
            self.passkey_ceremonies_per_network,
            self.passkey_ceremonies_total,
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
    /// scheme, host or port fail.
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
    /// Origins (scheme://host:port) allowed to send state-changing requests, besides the
    /// request's own Host. Needed behind a proxy that rewrites Host.
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

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Reads the file, applies `GATEHOUSE_*` and `DATABASE_URL` from the environment.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
        Self::from_toml(&text, std::env::vars())
    }

    pub fn from_toml(text: &str, env: impl IntoIterator<Item = (String, String)>) -> Result<Self, ConfigError> {
        let mut doc: toml::Table = text.parse().map_err(|e: toml::de::Error| ConfigError::Invalid(e.to_string()))?;
        for (key, value) in env {
            let target = if key == "DATABASE_URL" {
                Some(("database".to_string(), "url".to_string()))
            } else {
                key.strip_prefix("GATEHOUSE_").and_then(|rest| {
                    let rest = rest.to_ascii_lowercase();
                    let (section, field) = rest.split_once('_')?;
                    Some((section.to_string(), field.to_string()))
                })
            };
            let Some((section, field)) = target else { continue };
            if section == "config" {
                continue; // GATEHOUSE_CONFIG names the file itself
            }
            let table = doc
                .entry(section.clone())
                .or_insert_with(|| toml::Value::Table(Default::default()))
                .as_table_mut()
                .ok_or_else(|| ConfigError::Invalid(format!("[{section}] is not a table")))?;
            // Keep the type of the value the file has (numbers stay numbers).
            let parsed = match table.get(&field) {
                Some(toml::Value::String(_)) | None if !looks_typed(&value) => toml::Value::String(value),
                Some(toml::Value::String(_)) => toml::Value::String(value),
                _ => format!("v = {value}")
                    .parse::<toml::Table>()
                    .ok()
                    .and_then(|mut t| t.remove("v"))
                    .unwrap_or(toml::Value::String(value)),
            };
            table.insert(field, parsed);
        }
        let cfg: Config = toml::Value::Table(doc)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid(e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.database.url.is_empty() {
            return Err(ConfigError::Invalid("no database: set DATABASE_URL or [database] url".into()));
        }
        self.session.validate().map_err(ConfigError::Invalid)?;
        self.throttle.validate().map_err(ConfigError::Invalid)?;
        self.limits.validate().map_err(ConfigError::Invalid)?;
        if self.demo.enabled && (self.demo.email.is_empty() || self.demo.password.is_empty()) {
            return Err(ConfigError::Invalid("[demo] needs an email and a password when enabled".into()));
        }
        Ok(())
    }
}

fn looks_typed(v: &str) -> bool {
    v == "true" || v == "false" || v.parse::<i64>().is_ok() || v.starts_with('[')
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = include_str!("../../Leptos.toml");

    #[test]
    fn the_committed_file_parses_and_env_overrides_it() {
        let env = vec![
            ("DATABASE_URL".to_string(), "postgres://x/y".to_string()),
            ("GATEHOUSE_SITE_ADDR".to_string(), "0.0.0.0:8080".to_string()),
            ("GATEHOUSE_PREVIEWS_ENABLED".to_string(), "false".to_string()),
            ("GATEHOUSE_SESSION_ENTERPRISE_IDLE_TIMEOUT_MINUTES".to_string(), "30".to_string()),
            ("GATEHOUSE_SITE_ALLOWED_ORIGINS".to_string(), "[\"https://a.example\"]".to_string()),
        ];
        let cfg = Config::from_toml(FILE, env).unwrap();
        assert_eq!(cfg.database.url, "postgres://x/y");
        assert_eq!(cfg.site.addr.to_string(), "0.0.0.0:8080");
        assert!(!cfg.previews.enabled);
        assert_eq!(cfg.session.enterprise_idle_timeout_minutes, 30);
        // the documented defaults: stricter on Enterprise
        assert_eq!(cfg.session.lifetimes(domain::plan::Plan::Free).absolute.whole_days(), 30);
        assert_eq!(cfg.session.lifetimes(domain::plan::Plan::Enterprise).absolute.whole_days(), 7);
        assert_eq!(cfg.site.allowed_origins, vec!["https://a.example".to_string()]);
        // OWASP argon2id parameters by default
        assert_eq!((cfg.argon2.memory_kib, cfg.argon2.iterations, cfg.argon2.parallelism), (19_456, 2, 1));
    }

    #[test]
    fn the_committed_limits_are_the_documented_defaults_and_zero_is_refused() {
        let url = || ("DATABASE_URL".to_string(), "postgres://x/y".to_string());
        let cfg = Config::from_toml(FILE, vec![url()]).unwrap();
        let (file, defaults) = (&cfg.limits, LimitsConfig::default());
        assert_eq!(
            (file.password_per_minute, file.password_burst, file.passkey_per_minute, file.passkey_burst),
            (defaults.password_per_minute, defaults.password_burst, defaults.passkey_per_minute, defaults.passkey_burst)
        );
        assert_eq!(
            (file.passkey_ceremonies_per_network, file.passkey_ceremonies_total),
            (defaults.passkey_ceremonies_per_network, defaults.passkey_ceremonies_total)
        );
        assert_eq!((cfg.argon2.max_concurrent, cfg.argon2.max_queue), (4, domain::config::Argon2Config::default().max_queue));
        let off = vec![url(), ("GATEHOUSE_LIMITS_PASSWORD_BURST".to_string(), "0".to_string())];
        let err = Config::from_toml(FILE, off).unwrap_err();
        assert!(err.to_string().contains("[limits]"), "{err}");
    }

    #[test]
    fn a_missing_database_is_a_clear_error() {
        let err = Config::from_toml(FILE, Vec::<(String, String)>::new()).unwrap_err();
        assert!(err.to_string().contains("DATABASE_URL"), "{err}");
    }
}
