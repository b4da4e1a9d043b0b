//! Test support shared by `domain/tests`, `server/tests` and `server/examples/sign_in_bench.rs`:
//! a software passkey authenticator, the base32 decoding an authenticator app does, the test
//! secrets, the data files `scripts/setup.sh` installs, and (feature `server`) the server tests'
//! configuration and a request through the router, and (feature `idp`) a fake Google and GitHub
//! for the sign-in-with tests. A dev-dependency only.
pub mod authenticator;
#[cfg(feature = "idp")]
pub mod idp;
#[cfg(feature = "server")]
pub mod server;

pub use authenticator::SoftAuthenticator;

/// The password every test account signs up with.
pub const PW: &str = "correct horse battery staple";

/// Test-only `[secrets]`: the TOTP secrets' key (id `test1`), the backup codes' HMAC key and the
/// device cookies' key. Never used outside tests.
pub const TOTP_KEYS: &str = "test1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
pub const BACKUP_CODE_KEY: &str = "c2VydmVyIGtleSBmb3IgYmFja3VwIGNvZGVzLCB0ZXN0cyBvbmx5IQ==";
pub const DEVICE_COOKIE_KEY: &str = "ZGV2aWNlIGNvb2tpZSBrZXkgZm9yIHRlc3RzIG9ubHkhIQ==";

/// The path of a file under the checkout's `.data/` folder (which `scripts/setup.sh` fills), e.g.
/// `data_file("passwords/common-passwords.txt")`. Panics, naming the file and the command that
/// makes it, when it is missing.
pub fn data_file(relative: &str) -> String {
    let path = format!("{}/../.data/{relative}", manifest_dir());
    assert!(std::path::Path::new(&path).is_file(), "{path} is missing: run scripts/setup.sh (it installs .data/{relative})");
    path
}

/// The folder of the package under test (every package sits one level below the checkout), read
/// when the test runs (cargo and nextest say it): the path compiled in is that of the checkout that
/// built it, and checkouts share one target folder (`scripts/env.sh`), so a test binary built by
/// another checkout would read that checkout's files.
pub fn manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into())
}

/// The secret behind a TOTP manual key (RFC 4648 base32, upper case, no padding), decoded the way
/// an authenticator app reads it. Spaces between groups are ignored.
pub fn base32_decode(key: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut n, mut out) = (0u64, 0, Vec::new());
    for c in key.bytes().filter(|c| *c != b' ') {
        let value = ALPHABET.iter().position(|x| *x == c).unwrap_or_else(|| panic!("not base32: {key:?}"));
        bits = (bits << 5) | value as u64;
        n += 5;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}


/// The token of the link to `path` in an email's plain-text part (`…{path}?token=XYZ`): how the
/// tests follow an emailed link, as a person would. Tokens are base64url, never percent-encoded.
pub fn link_token(text: &str, path: &str) -> Option<String> {
    text.split_whitespace().find_map(|word| {
        let (_, rest) = word.split_once(&format!("{path}?token="))?;
        let token: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
        (!token.is_empty()).then_some(token)
    })
}

/// The SQL that reads the newest queued message to an address (`$1`): its text part.
pub const NEWEST_MAIL_TEXT: &str = "SELECT text_body FROM email_outbox WHERE to_address = $1 ORDER BY created_at DESC, id LIMIT 1";
