//! Backup codes: 10 single-use codes of 10 characters from a 31-letter alphabet without look-alikes
//! (0/o, 1/l/i): 49.5 bits each, shown as `xxxxx-xxxxx`, typed in any case with or without the
//! hyphen. Stored only as HMAC-SHA-256 under a server key kept apart from the database (NIST
//! 800-63B §3.1.2: look-up secrets under 112 bits need a keyed or slow hash), so a database leak
//! alone cannot be brute-forced, and checking one costs one HMAC and one indexed lookup.
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;

pub const COUNT: usize = 10;
pub const LENGTH: usize = 10;
pub const ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";

/// Fresh codes, formatted for people.
pub fn generate() -> Vec<String> {
    let mut rng = rand::rngs::OsRng;
    (0..COUNT)
        .map(|_| {
            let raw: String = (0..LENGTH).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect();
            format!("{}-{}", &raw[..5], &raw[5..])
        })
        .collect()
}

/// Lower case, without hyphens and spaces; `None` when it cannot be a backup code.
pub fn normalize(input: &str) -> Option<String> {
    let s: String = input.chars().filter(|c| !c.is_whitespace() && *c != '-').collect::<String>().to_lowercase();
    (s.len() == LENGTH && s.bytes().all(|b| ALPHABET.contains(&b))).then_some(s)
}

/// The stored form of a (normalised) code.
pub fn keyed_hash(key: &[u8], normalized: &str) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(normalized.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_at_least_40_bits_and_an_easy_format() {
        let bits = LENGTH as f64 * (ALPHABET.len() as f64).log2();
        assert!(bits >= 40.0, "{bits}");
        let codes = generate();
        assert_eq!(codes.len(), 10);
        for c in &codes {
            assert_eq!(c.len(), 11);
            assert_eq!(&c[5..6], "-");
            assert!(normalize(c).is_some());
        }
        let many: std::collections::HashSet<String> = (0..1000).flat_map(|_| generate()).collect();
        assert_eq!(many.len(), 10_000, "no duplicates in 10,000 codes");
        for ambiguous in [b'0', b'o', b'1', b'l', b'i'] {
            assert!(!ALPHABET.contains(&ambiguous));
        }
    }

    #[test]
    fn typing_is_forgiving_but_exact() {
        assert_eq!(normalize("ABCDE-FGHJK").as_deref(), Some("abcdefghjk"));
        assert_eq!(normalize(" abcde fghjk ").as_deref(), Some("abcdefghjk"));
        assert_eq!(normalize("abcdefghjk").as_deref(), Some("abcdefghjk"));
        assert_eq!(normalize("abcde-fghj"), None, "too short");
        assert_eq!(normalize("abcde-fghj0"), None, "not in the alphabet");
    }

    #[test]
    fn the_stored_form_needs_the_key() {
        let a = keyed_hash(b"key one", "abcdefghjk");
        assert_eq!(a.len(), 32);
        assert_eq!(a, keyed_hash(b"key one", "abcdefghjk"));
        assert_ne!(a, keyed_hash(b"key two", "abcdefghjk"));
        assert_ne!(a, keyed_hash(b"key one", "abcdefghjm"));
    }
}
