//! Runtime configuration: Leptos.toml, then environment variables on top.
//!
//! Every key `[section] key` can be overridden by `GATEHOUSE_SECTION_KEY` (upper case), e.g.
//! `GATEHOUSE_SITE_ADDR=0.0.0.0:8080`. `DATABASE_URL` overrides `database.url`. Only the sections
//! in [`SECTIONS`] are configuration: other `GATEHOUSE_*` variables (`GATEHOUSE_CONFIG`, the
//! scripts' `GATEHOUSE_PGPORT` and `GATEHOUSE_E2E_PORT`) are left alone, while an unknown key inside
//! a known section is an error.
use std::path::Path;

use domain::config::{Argon2Config, SessionPolicy, ThrottlePolicy};
use serde::Deserialize;

mod sections;

pub use sections::{
    DatabaseConfig, DemoConfig, GeoIpConfig, LimitsConfig, PasskeysConfig, PasswordConfig, PreviewsConfig, SecretsConfig, SiteConfig,
};

/// The sections of the configuration file: a `GATEHOUSE_<SECTION>_<KEY>` variable is a
/// configuration key only when `<SECTION>` is one of these (the fields of [`Config`]).
pub const SECTIONS: &[&str] =
    &["site", "database", "session", "argon2", "password", "passkeys", "throttle", "secrets", "previews", "demo", "geoip", "limits", "google", "github", "email"];

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
    /// Sign-in with Google (off while its client id is empty).
    #[serde(default)]
    pub google: domain::auth::providers::GoogleConfig,
    /// Sign-in with GitHub (off while its client id is empty).
    #[serde(default)]
    pub github: domain::auth::providers::GitHubConfig,
    /// Outgoing email: the SMTP relay, the sender address, where links point.
    #[serde(default)]
    pub email: domain::email::EmailConfig,
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
        // (variable, key) of keys the environment added (not in the file), to name them in errors
        let mut added = Vec::new();
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
            // GATEHOUSE_CONFIG (the file itself), GATEHOUSE_PGPORT, GATEHOUSE_E2E_PORT… are not keys
            if !SECTIONS.contains(&section.as_str()) {
                continue;
            }
            let table = doc
                .entry(section.clone())
                .or_insert_with(|| toml::Value::Table(Default::default()))
                .as_table_mut()
                .ok_or_else(|| ConfigError::Invalid(format!("[{section}] is not a table")))?;
            // Keep the type of the value the file has (numbers stay numbers).
            let parsed = match table.get(&field) {
                Some(toml::Value::String(_)) | None if !looks_typed(&value) => toml::Value::String(value),
                // credentials live only in the environment and are text, even when all digits
                None if is_credential(&field) => toml::Value::String(value),
                Some(toml::Value::String(_)) => toml::Value::String(value),
                _ => format!("v = {value}")
                    .parse::<toml::Table>()
                    .ok()
                    .and_then(|mut t| t.remove("v"))
                    .unwrap_or(toml::Value::String(value)),
            };
            if !table.contains_key(&field) {
                added.push((key, field.clone()));
            }
            table.insert(field, parsed);
        }
        let mut cfg: Config = toml::Value::Table(doc).try_into().map_err(|e: toml::de::Error| {
            // Name the variable when it brought in the unknown key (a typo such as GATEHOUSE_SITE_ADDRR).
            let mut message = e.to_string().trim_end().to_string();
            for (var, field) in &added {
                if message.contains(&format!("unknown field `{field}`")) {
                    message.push_str(&format!(" (set by the environment variable {var})"));
                }
            }
            ConfigError::Invalid(message)
        })?;
        cfg.passkeys.origin = normalize_origin("[passkeys] origin", &cfg.passkeys.origin)?;
        for origin in &mut cfg.site.allowed_origins {
            *origin = normalize_origin("[site] allowed_origins", origin)?;
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// The site's public origin, `scheme://host[:port]` exactly as browsers send it in `Origin`:
    /// `[passkeys] origin`. State-changing requests must come from it (or from `[site]
    /// allowed_origins`), and its scheme decides whether responses carry HSTS: behind a
    /// TLS-terminating proxy the server itself only sees plain http, so the configured origin, not
    /// the request, says whether the site is https.
    pub fn public_origin(&self) -> &str {
        &self.passkeys.origin
    }

    /// What composing email needs (links start at `[email] public_origin`, else `[passkeys] origin`).
    pub fn email_settings(&self) -> Result<domain::email::EmailSettings, String> {
        domain::email::EmailSettings::new(&self.email, self.public_origin())
    }

    /// Whether the public origin is https (then every response carries Strict-Transport-Security).
    pub fn is_https(&self) -> bool {
        self.public_origin().starts_with("https://")
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.database.url.is_empty() {
            return Err(ConfigError::Invalid("no database: set DATABASE_URL or [database] url".into()));
        }
        self.session.validate().map_err(ConfigError::Invalid)?;
        self.throttle.validate().map_err(ConfigError::Invalid)?;
        self.limits.validate().map_err(ConfigError::Invalid)?;
        self.email_settings().map_err(ConfigError::Invalid)?;
        if self.email.tls == domain::email::TlsMode::None && !is_loopback_host(&self.email.smtp_host) {
            return Err(ConfigError::Invalid(format!(
                "[email] tls = \"none\" sends mail (and any SMTP password) in the clear: only allowed to a loopback \
                 relay, not {:?}. Use \"starttls\" or \"tls\".",
                self.email.smtp_host
            )));
        }
        if self.demo.enabled && (self.demo.email.is_empty() || self.demo.password.is_empty()) {
            return Err(ConfigError::Invalid("[demo] needs an email and a password when enabled".into()));
        }
        // The demo password is printed in the README: anyone who can reach the server could sign in.
        if self.demo.enabled && !self.site.addr.ip().to_canonical().is_loopback() {
            return Err(ConfigError::Invalid(format!(
                "[demo] enabled is for development only: refusing to create demo accounts with a known password \
                 while listening on {} (a non-loopback address). Set GATEHOUSE_DEMO_ENABLED=false.",
                self.site.addr
            )));
        }
        // Behind a reverse proxy the server listens on loopback while anyone who can reach the
        // proxy reaches it: the public origin and the trusted proxies say so.
        let public_host = url::Url::parse(self.public_origin()).ok().and_then(|u| u.host_str().map(|h| h.trim_matches(['[', ']']).to_string()));
        let reachable = if !public_host.as_deref().is_some_and(is_loopback_host) {
            Some(format!("for the public origin {}", self.public_origin()))
        } else if !self.site.trusted_proxies.is_empty() {
            Some("behind a proxy ([site] trusted_proxies)".to_string())
        } else {
            None
        };
        if let Some(reachable) = reachable.filter(|_| self.demo.enabled) {
            return Err(ConfigError::Invalid(format!(
                "[demo] enabled is for development only: refusing to create demo accounts with a known password \
                 {reachable}, which others can reach. Set GATEHOUSE_DEMO_ENABLED=false."
            )));
        }
        Ok(())
    }
}

/// `scheme://host[:port]` as a browser serialises it in `Origin` (lower case, no default port, no
/// trailing slash), or an error naming the setting when `value` is not an http(s) origin.
fn normalize_origin(setting: &str, value: &str) -> Result<String, ConfigError> {
    let invalid = |why: &str| {
        ConfigError::Invalid(format!("{setting} {value:?} is not an origin ({why}); write scheme://host[:port], e.g. https://example.com"))
    };
    let url = url::Url::parse(value).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https"));
    }
    if !url.username().is_empty() || url.password().is_some() || url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("it has more than a scheme, a host and a port"));
    }
    Ok(url.origin().ascii_serialization())
}

fn is_loopback_host(host: &str) -> bool {
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn is_credential(field: &str) -> bool {
    field.ends_with("password") || field.ends_with("secret") || field.ends_with("username")
}

fn looks_typed(v: &str) -> bool {
    v == "true" || v == "false" || v.parse::<i64>().is_ok() || v.starts_with('[')
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = include_str!("../../../Leptos.toml");

    #[test]
    fn plaintext_smtp_is_refused_unless_the_relay_is_on_loopback() {
        let base = [("DATABASE_URL".to_string(), "postgres://x/y".to_string())];
        let with = |host: &str| {
            let mut env = base.to_vec();
            env.push(("GATEHOUSE_EMAIL_TLS".into(), "none".into()));
            env.push(("GATEHOUSE_EMAIL_SMTP_HOST".into(), host.into()));
            Config::from_toml(FILE, env)
        };
        for host in ["127.0.0.1", "localhost", "::1"] {
            assert!(with(host).is_ok(), "{host}");
        }
        let err = with("smtp.example.com").unwrap_err().to_string();
        assert!(err.contains("in the clear") && err.contains("smtp.example.com"), "{err}");
        let cfg = Config::from_toml(FILE, base.to_vec()).unwrap();
        assert_eq!(cfg.email.tls, domain::email::TlsMode::Starttls, "the committed file sends over TLS");
        assert!(!format!("{:?}", Config::from_toml(FILE, [base.to_vec(), vec![("GATEHOUSE_EMAIL_SMTP_PASSWORD".into(), "hunter2x".into())]].concat()).unwrap().email).contains("hunter2x"));
        // an all-digit password is still text
        let digits = Config::from_toml(FILE, [base.to_vec(), vec![("GATEHOUSE_EMAIL_SMTP_PASSWORD".into(), "12345678".into())]].concat()).unwrap();
        assert_eq!(digits.email.smtp_password, "12345678");
    }

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

    fn env(vars: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut env = vec![("DATABASE_URL".to_string(), "postgres://x/y".to_string())];
        env.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        env
    }

    #[test]
    fn the_committed_file_read_as_is_has_demo_accounts_and_previews_off() {
        let cfg = Config::from_toml(FILE, env(&[])).unwrap();
        assert!(!cfg.demo.enabled, "demo accounts have a published password");
        assert!(!cfg.previews.enabled);
        assert_eq!(cfg.public_origin(), "http://localhost:3000");
    }

    #[test]
    fn a_non_loopback_address_with_demo_accounts_refuses_to_start() {
        let demo_at = |addr: &str| Config::from_toml(FILE, env(&[("GATEHOUSE_DEMO_ENABLED", "true"), ("GATEHOUSE_SITE_ADDR", addr)]));
        let err = demo_at("0.0.0.0:8080").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid configuration: [demo] enabled is for development only: refusing to create demo accounts with a \
             known password while listening on 0.0.0.0:8080 (a non-loopback address). Set GATEHOUSE_DEMO_ENABLED=false."
        );
        for addr in ["[::]:3000", "192.168.1.20:3000", "[2001:db8::1]:3000", "[::ffff:10.0.0.1]:3000"] {
            assert!(demo_at(addr).is_err(), "{addr}");
        }
        for addr in ["127.0.0.1:3000", "127.0.0.2:3000", "[::1]:3000", "[::ffff:127.0.0.1]:3000"] {
            assert!(demo_at(addr).unwrap().demo.enabled, "{addr} is loopback");
        }
        // without demo accounts any address is fine
        let cfg = Config::from_toml(FILE, env(&[("GATEHOUSE_SITE_ADDR", "0.0.0.0:8080")])).unwrap();
        assert!(!cfg.demo.enabled);
    }

    /// Behind a reverse proxy the server listens on loopback, yet anyone who reaches the proxy
    /// reaches it: a public origin that is not this machine, or any trusted proxy, refuses the demo
    /// accounts too (their password is published).
    #[test]
    fn demo_accounts_refuse_to_start_behind_a_proxy_or_for_a_public_origin_on_a_loopback_address() {
        let demo_with = |extra: &[(&str, &str)]| {
            Config::from_toml(FILE, env(&[&[("GATEHOUSE_DEMO_ENABLED", "true"), ("GATEHOUSE_SITE_ADDR", "127.0.0.1:3000")], extra].concat()))
        };
        let err = demo_with(&[("GATEHOUSE_PASSKEYS_ORIGIN", "https://gatehouse.example.com")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid configuration: [demo] enabled is for development only: refusing to create demo accounts with a \
             known password for the public origin https://gatehouse.example.com, which others can reach. Set \
             GATEHOUSE_DEMO_ENABLED=false."
        );
        assert!(demo_with(&[("GATEHOUSE_SITE_TRUSTED_PROXIES", r#"["127.0.0.1"]"#)]).is_err(), "behind a local proxy");
        // development on this machine keeps them
        for origin in ["http://localhost:3000", "http://127.0.0.1:3000", "http://[::1]:3000"] {
            assert!(demo_with(&[("GATEHOUSE_PASSKEYS_ORIGIN", origin)]).unwrap().demo.enabled, "{origin}");
        }
    }

    #[test]
    fn the_scripts_gatehouse_variables_are_not_configuration_keys() {
        let vars = [("GATEHOUSE_E2E_PORT", "41000"), ("GATEHOUSE_PGPORT", "1"), ("GATEHOUSE_CONFIG", "/etc/gatehouse.toml")];
        let cfg = Config::from_toml(FILE, env(&vars)).unwrap();
        assert_eq!(cfg.site.addr.to_string(), "127.0.0.1:3000");
    }

    #[test]
    fn a_typo_in_a_key_of_a_known_section_is_an_error_naming_it() {
        let err = Config::from_toml(FILE, env(&[("GATEHOUSE_SITE_ADDRR", "0.0.0.0:8080")])).unwrap_err().to_string();
        assert!(err.contains("`addrr`") && err.contains("GATEHOUSE_SITE_ADDRR"), "{err}");
    }

    #[test]
    fn the_known_sections_are_exactly_those_of_the_committed_file() {
        let doc: toml::Table = FILE.parse().unwrap();
        let mut in_file: Vec<&str> = doc.keys().map(String::as_str).collect();
        let mut known = SECTIONS.to_vec();
        in_file.sort_unstable();
        known.sort_unstable();
        assert_eq!(in_file, known);
    }

    #[test]
    fn the_public_origin_is_normalised_and_must_be_an_origin() {
        let with_origin = |o: &str| Config::from_toml(FILE, env(&[("GATEHOUSE_PASSKEYS_ORIGIN", o)]));
        let cfg = with_origin("HTTPS://Gatehouse.Example:443/").unwrap();
        assert_eq!(cfg.public_origin(), "https://gatehouse.example");
        assert!(cfg.is_https());
        let cfg = with_origin("http://localhost:3000/").unwrap();
        assert_eq!(cfg.public_origin(), "http://localhost:3000");
        assert!(!cfg.is_https());
        for bad in ["https://example.com/app", "https://example.com?x=1", "ftp://example.com", "example.com", "https://u:p@example.com"] {
            let err = with_origin(bad).unwrap_err().to_string();
            assert!(err.contains("[passkeys] origin") && err.contains("is not an origin"), "{bad}: {err}");
        }
        let cfg = Config::from_toml(FILE, env(&[("GATEHOUSE_SITE_ALLOWED_ORIGINS", "[\"https://Other.Example:443\"]")])).unwrap();
        assert_eq!(cfg.site.allowed_origins, vec!["https://other.example".to_string()]);
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
        assert_eq!((cfg.argon2.max_concurrent, cfg.argon2.max_queue), (0, domain::config::Argon2Config::default().max_queue));
        // 0 is one hash per core
        assert_eq!(cfg.argon2.concurrent_hashes(), std::thread::available_parallelism().unwrap().get());
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
