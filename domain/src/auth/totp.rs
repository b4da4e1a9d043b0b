//! Authenticator-app codes (RFC 6238 through totp-rs): SHA-1, 6 digits, 30-second steps, as every
//! authenticator app expects; ±1 step of clock skew at most.
use rand::RngCore;
use time::OffsetDateTime;
use totp_rs::{Algorithm, TOTP};

pub const ISSUER: &str = "Gatehouse";
pub const STEP_SECONDS: i64 = 30;
pub const DIGITS: usize = 6;
/// Secret length: 160 bits, from the OS random generator.
pub const SECRET_BYTES: usize = 20;

/// A fresh secret.
pub fn new_secret() -> Vec<u8> {
    let mut s = vec![0u8; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut s);
    s
}

fn totp(secret: &[u8], account: &str) -> TOTP {
    // ':' separates issuer and account in the otpauth label; an address cannot be allowed to break it
    TOTP::new_unchecked(Algorithm::SHA1, DIGITS, 1, STEP_SECONDS as u64, secret.to_vec(), Some(ISSUER.into()), account.replace(':', ""))
}

/// The `otpauth://totp/Gatehouse:<email>?secret=…&issuer=Gatehouse` URI for the QR code.
pub fn provisioning_uri(secret: &[u8], account: &str) -> String {
    totp(secret, account).get_url()
}

/// The provisioning URI as a QR code (SVG markup, dark modules on white, with a quiet zone).
pub fn qr_svg(uri: &str) -> String {
    match qrcode::QrCode::with_error_correction_level(uri.as_bytes(), qrcode::EcLevel::M) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color>()
            .min_dimensions(200, 200)
            .dark_color(qrcode::render::svg::Color("#000000"))
            .light_color(qrcode::render::svg::Color("#ffffff"))
            .quiet_zone(true)
            .build()
            .split_once("<svg")
            .map(|(_, rest)| format!("<svg{rest}"))
            .unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Which setup a key belongs to, for the page to send back with the code: the first 8 bytes of
/// the key's SHA-256, in hex. (The page shows the key itself; this tells nothing more.)
pub fn setup_tag(secret: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(secret)[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// The base32 key in groups of four, for typing in by hand.
pub fn manual_key(secret: &[u8]) -> String {
    let b32 = totp(secret, "").get_secret_base32();
    b32.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join(" ")
}

/// The 30-second step `at` falls in.
pub fn step_at(at: OffsetDateTime) -> i64 {
    at.unix_timestamp().div_euclid(STEP_SECONDS)
}

/// The code for a step.
pub fn code_for_step(secret: &[u8], step: i64) -> String {
    totp(secret, "").generate((step * STEP_SECONDS) as u64)
}

/// What was typed, without its spaces, and with full-width digits ("１２３４５６", as a Japanese or
/// Chinese keyboard types them) as the digits they are.
fn typed_digits(input: &str) -> String {
    input
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '\u{FF10}'..='\u{FF19}' => char::from(b'0' + (c as u32 - 0xFF10) as u8),
            c => c,
        })
        .collect()
}

/// Six digits, spaces allowed ("123 456", full-width "１２３ ４５６" too); anything else is not a code.
pub fn normalize_code(input: &str) -> Option<String> {
    let digits = typed_digits(input);
    (digits.len() == DIGITS && digits.chars().all(|c| c.is_ascii_digit())).then_some(digits)
}

/// Refuses a code that cannot be right before it is checked or counted: an empty one, one of
/// digits only but fewer than a code has ("12": cut short, not wrong), and one no code looks like
/// ("abcdef", "1234567": a backup code or a slip, not a wrong code). Each is said as such, and
/// costs no try (the format tells nothing about the secret).
pub(crate) fn refuse_unfinished(input: &str) -> Result<(), crate::DomainError> {
    use crate::error::Invalid;
    let digits = typed_digits(input);
    if digits.is_empty() {
        return Err(crate::DomainError::Invalid(Invalid::AuthenticatorCodeMissing));
    }
    if !digits.chars().all(|c| c.is_ascii_digit()) || digits.len() > DIGITS {
        return Err(crate::DomainError::Invalid(Invalid::AuthenticatorCodeMalformed));
    }
    if digits.len() < DIGITS {
        return Err(crate::DomainError::Invalid(Invalid::AuthenticatorCodeShort));
    }
    Ok(())
}

/// The step (now, one before, one after) whose code this is, if any. The caller accepts it only
/// if it is later than the last step used.
pub fn matching_step(secret: &[u8], code: &str, now: OffsetDateTime) -> Option<i64> {
    let code = normalize_code(code)?;
    let now = step_at(now);
    [now, now - 1, now + 1]
        .into_iter()
        .find(|s| bool::from(subtle::ConstantTimeEq::ct_eq(code_for_step(secret, *s).as_bytes(), code.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn the_uri_is_what_authenticator_apps_expect() {
        let secret = b"12345678901234567890".to_vec();
        let uri = provisioning_uri(&secret, "ada@example.test");
        assert!(uri.starts_with("otpauth://totp/Gatehouse:ada%40example.test?"), "{uri}");
        assert!(uri.contains("secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ") && uri.contains("issuer=Gatehouse"), "{uri}");
        assert!(!uri.contains("digits=") && !uri.contains("algorithm="), "defaults: SHA1, 6 digits, 30 s");
        assert_eq!(manual_key(&secret), "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ");
        assert_eq!(new_secret().len(), 20);
        assert_ne!(new_secret(), new_secret());
    }

    #[test]
    fn the_qr_code_is_an_svg() {
        let svg = qr_svg("otpauth://totp/Gatehouse:ada%40example.test?secret=GEZDGNBVGY3TQOJQ&issuer=Gatehouse");
        assert!(svg.contains("<svg") && svg.contains("</svg>"));
    }

    #[test]
    fn rfc_6238_vector() {
        // RFC 6238 appendix B, SHA-1, T = 59 s → 94287082 (8 digits); the last 6 are 287082
        let secret = b"12345678901234567890";
        assert_eq!(code_for_step(secret, 1), "287082");
    }

    #[test]
    fn one_step_of_skew_either_way_and_no_more() {
        let secret = b"12345678901234567890";
        let now = datetime!(2026-11-23 12:00:10 UTC);
        let s = step_at(now);
        assert_eq!(matching_step(secret, &code_for_step(secret, s), now), Some(s));
        assert_eq!(matching_step(secret, &code_for_step(secret, s - 1), now), Some(s - 1));
        assert_eq!(matching_step(secret, &code_for_step(secret, s + 1), now), Some(s + 1));
        assert_eq!(matching_step(secret, &code_for_step(secret, s - 2), now), None);
        assert_eq!(matching_step(secret, &code_for_step(secret, s + 2), now), None);
        // spaces are fine, anything else is not a code
        let c = code_for_step(secret, s);
        assert_eq!(matching_step(secret, &format!("{} {}", &c[..3], &c[3..]), now), Some(s));
        assert_eq!(normalize_code("12345"), None);
        assert_eq!(normalize_code("12345a"), None);
        assert_eq!(normalize_code("1234567"), None);
        // full-width digits, as a Japanese or Chinese keyboard types them, are the same code
        let wide: String = c.chars().map(|d| char::from_u32(d as u32 - '0' as u32 + 0xFF10).unwrap()).collect();
        assert_eq!(matching_step(secret, &wide, now), Some(s));
        assert_eq!(refuse_unfinished(&wide).ok(), Some(()));
        assert_eq!(normalize_code("１２３"), None);
        // (other digits of other scripts are not taken: ٠١٢٣٤٥ is refused as no code)
        assert_eq!(normalize_code("٠١٢٣٤٥"), None);
    }

    /// What cannot be a code is said as what it is, before anything is checked or counted.
    #[test]
    fn what_no_code_looks_like_is_said_as_such() {
        use crate::error::Invalid;
        let said = |input: &str| match refuse_unfinished(input) {
            Err(crate::DomainError::Invalid(i)) => Some(i),
            _ => None,
        };
        assert_eq!(said(" "), Some(Invalid::AuthenticatorCodeMissing));
        assert_eq!(said("123"), Some(Invalid::AuthenticatorCodeShort));
        for malformed in ["abcdef", "1234567", "12345a", "abc"] {
            assert_eq!(said(malformed), Some(Invalid::AuthenticatorCodeMalformed), "{malformed}");
        }
        assert_eq!(said("123 456"), None, "a code, to check");
    }
}
