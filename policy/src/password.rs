//! Password rules (NIST SP 800-63B-4 §3.1.1.2): length in Unicode code points, no composition rules,
//! nothing built from the account's own details or the site's name, and (from the same section's
//! blocklist) nothing merely repetitive or sequential: "aaaa…", "abcd…", "1234…", one word said
//! again and again, or only spaces and invisible characters, and nothing built from the handful of
//! words that head every list of guessed passwords ("password123password", "qwerty-letmein-1").
//! The server also refuses the whole lists of common and leaked passwords by exact match.

/// Fewest characters when the password is the account's only factor.
pub const MIN_LENGTH: usize = 15;
/// Fewest characters when the account also has a second factor.
pub const MIN_LENGTH_WITH_SECOND_FACTOR: usize = 8;
/// Most characters accepted (checked before any hashing).
pub const MAX_LENGTH: usize = 256;
/// What is left of a password once the account's details, or the words every guesser tries first,
/// are taken out must have at least this many letters or digits.
const MIN_OWN_CHARACTERS: usize = 8;

/// What the rules know about the account.
#[derive(Clone, Debug, Default)]
pub struct Context<'a> {
    pub email: &'a str,
    pub display_name: Option<&'a str>,
    pub has_second_factor: bool,
}

/// Why a password is refused, or how strong an accepted one looks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    TooShort { min: usize, have: usize },
    TooLong,
    FromContext,
    /// Repeated or sequential characters, one piece said again and again, or nothing visible.
    Predictable,
    /// Built from the words every guesser tries first ("password", "qwerty", "letmein"…).
    CommonWords,
    /// Accepted by these rules (the server also checks lists of leaked passwords).
    Acceptable { strong: bool },
}

impl Verdict {
    pub fn is_acceptable(&self) -> bool {
        matches!(self, Verdict::Acceptable { .. })
    }

    /// The sentence a person reads when the password is refused.
    pub fn message(&self) -> Option<String> {
        match self {
            Verdict::TooShort { min, have } => Some(format!(
                "Use at least {min} characters (you have {have}). A few unrelated words make a strong, memorable password."
            )),
            Verdict::TooLong => Some(format!("Use at most {MAX_LENGTH} characters.")),
            Verdict::FromContext => Some(
                "Don't build your password from your email address, your name or the site's name; choose something else."
                    .into(),
            ),
            Verdict::Predictable => Some(
                "Avoid repeated or sequential characters (like aaaa, abcd or 1234) and saying the same word again and again; choose something less predictable."
                    .into(),
            ),
            Verdict::CommonWords => Some(
                "Don't build your password from the words every guesser tries first (like password, qwerty or letmein); a few unrelated words of your own are stronger."
                    .into(),
            ),
            Verdict::Acceptable { .. } => None,
        }
    }
}

/// The fewest characters for this account.
pub fn min_length(ctx: &Context) -> usize {
    if ctx.has_second_factor {
        MIN_LENGTH_WITH_SECOND_FACTOR
    } else {
        MIN_LENGTH
    }
}

/// Applies the rules. Length is counted in code points (the server counts after NFC).
pub fn assess(password: &str, ctx: &Context) -> Verdict {
    let have = password.chars().count();
    if have > MAX_LENGTH {
        return Verdict::TooLong;
    }
    let min = min_length(ctx);
    if have < min {
        return Verdict::TooShort { min, have };
    }
    if built_from_context(password, ctx) {
        return Verdict::FromContext;
    }
    if predictable(password) {
        return Verdict::Predictable;
    }
    if built_from_common_words(password, ctx) {
        return Verdict::CommonWords;
    }
    Verdict::Acceptable { strong: have >= min + 5 }
}

/// Characters that show nothing: zero-width spaces and joiners, direction marks and controls,
/// word joiners, the byte order mark, the soft hyphen, fillers and blanks that look like a space
/// (Hangul fillers, the blank Braille pattern), variation selectors and tag characters.
fn invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{2800}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{E0000}'..='\u{E007F}'
            | '\u{E0100}'..='\u{E01EF}'
    )
}

/// Fewer than 8 visible characters (the rest spaces or invisible ones) or fewer than 4 different
/// ones ("aaaa…", "abab…"); one piece said again and again, give or take two characters at the end
/// ("password password password", "Tractor-Tractor-Tractor", "password-password-password1": letters
/// and digits only); or at most three runs of one character or of consecutive ones ("abcdefgh",
/// "12345678901234567890" — 9 then 0 counts as consecutive —, "zyxw", "aaaa1234bbbb"). Spaces and
/// case are left out.
fn predictable(password: &str) -> bool {
    let chars: Vec<char> =
        password.chars().filter(|c| !c.is_whitespace() && !c.is_control() && !invisible(*c)).flat_map(char::to_lowercase).collect();
    let mut distinct = chars.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if chars.len() < MIN_LENGTH_WITH_SECOND_FACTOR || distinct.len() < 4 {
        return true;
    }
    if repeated(&chars.iter().copied().filter(|c| c.is_alphanumeric()).collect::<Vec<_>>()) {
        return true;
    }
    let step = |a: char, b: char| -> Option<i64> {
        let d = b as i64 - a as i64;
        match (a, b, d) {
            (_, _, -1..=1) => Some(d),
            ('9', '0', _) => Some(1),
            ('0', '9', _) => Some(-1),
            _ => None,
        }
    };
    let mut runs = 1;
    let mut current: Option<i64> = None;
    for pair in chars.windows(2) {
        match (step(pair[0], pair[1]), current) {
            (Some(d), None) => current = Some(d),
            (Some(d), Some(c)) if d == c => {}
            _ => {
                runs += 1;
                current = None;
            }
        }
    }
    runs <= 3
}

/// One piece, said at least twice, then at most two other characters.
fn repeated(chars: &[char]) -> bool {
    let n = chars.len();
    (1..=n / 2).any(|p| {
        let same = p + (p..n).take_while(|&i| chars[i] == chars[i - p]).count();
        same >= 2 * p && n - same <= 2
    })
}

/// Words a password must not be made of: the email, its parts, the name's words, the site's name.
fn context_words(ctx: &Context) -> Vec<String> {
    let email = ctx.email.trim().to_lowercase();
    let mut words = vec![email.clone(), "gatehouse".to_string()];
    let (local, domain) = email.split_once('@').unwrap_or((email.as_str(), ""));
    words.push(local.to_string());
    words.extend(local.split(|c: char| !c.is_alphanumeric()).map(str::to_string));
    // the domain's labels but its last (the TLD)
    let labels: Vec<&str> = domain.split('.').collect();
    words.extend(labels.iter().take(labels.len().saturating_sub(1)).map(|s| s.to_string()));
    if let Some(name) = ctx.display_name {
        let name = name.to_lowercase();
        words.extend(name.split(|c: char| !c.is_alphanumeric()).map(str::to_string));
        words.push(name.chars().filter(|c| c.is_alphanumeric()).collect());
    }
    let mut words: Vec<String> = words.into_iter().filter(|w| w.chars().count() >= 3).collect();
    // longest first, so "ada.lovelace" goes before "ada"
    words.sort_by_key(|w| std::cmp::Reverse(w.chars().count()));
    words.dedup();
    words
}

/// True when taking the account's details (and the site's name) out of the password leaves fewer
/// than 8 letters or digits of its own.
fn built_from_context(password: &str, ctx: &Context) -> bool {
    let mut rest = password.to_lowercase();
    let mut used = false;
    for w in context_words(ctx) {
        if rest.contains(&w) {
            rest = rest.replace(&w, "");
            used = true;
        }
    }
    used && rest.chars().filter(|c| c.is_alphanumeric()).count() < MIN_OWN_CHARACTERS
}

/// Words that head every list of guessed passwords and are part of no ordinary word (keyboard
/// rows and walks included), lower case: taken out wherever they are. Longest first, so
/// "qwertyuiop" goes before "qwerty". Kept short: it ships to the browser.
const COMMON_ANYWHERE: &[&str] = &[
    "1q2w3e4r5t", "qwertyuiop", "1qaz2wsx", "zaq12wsx", "passw0rd", "p@ssw0rd", "password", "iloveyou", "trustno1",
    "changeme", "letmein", "1q2w3e", "qazwsx", "asdfgh", "zxcvbn", "qwerty", "qwertz", "azerty", "abc123", "asdf", "zxcv",
];

/// Words as common in guessed passwords that are also parts of ordinary ones ("secret" in
/// "secretary", "admin" in "badminton", "dragon" in "dragonfly"): taken out only where they are a
/// whole word (a run of letters of their own).
const COMMON_WHOLE: &[&str] = &[
    "administrator", "football", "baseball", "superman", "princess", "sunshine", "welcome", "monkey", "dragon", "master",
    "shadow", "secret", "admin", "login",
];

/// True when the password is built from the words every guesser tries first: taking them out (and
/// the account's details where they are whole words, "adalovelace-password") leaves fewer than 8
/// letters or digits of its own, or only a run or a repetition ("password12345678",
/// "iloveyou-aaaabbbb": what is left is no more than `predictable` allows alone). A passphrase that
/// only has one among words of its own ("the secret passage", "dragon fruit on tuesday mornings")
/// keeps enough.
fn built_from_common_words(password: &str, ctx: &Context) -> bool {
    let mut rest = password.to_lowercase();
    let mut used = false;
    for w in COMMON_ANYWHERE {
        if rest.contains(w) {
            // (a space, so that what was on either side does not join into a new word)
            rest = rest.replace(w, " ");
            used = true;
        }
    }
    let context = context_words(ctx);
    // what is the password's own, in order: the letters of the words kept, and the digits
    let mut own = String::new();
    let mut word = String::new();
    for c in rest.chars().chain(std::iter::once(' ')) {
        if c.is_alphabetic() {
            word.push(c);
            continue;
        }
        if COMMON_WHOLE.contains(&word.as_str()) {
            used = true;
        } else if !context.iter().any(|w| *w == word) {
            own.push_str(&word);
        }
        word.clear();
        if c.is_alphanumeric() {
            own.push(c);
        }
    }
    used && (own.chars().count() < MIN_OWN_CHARACTERS || predictable(&own))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context<'static> {
        Context { email: "ada.lovelace@example.test", display_name: Some("Ada Lovelace"), has_second_factor: false }
    }

    #[test]
    fn length_depends_on_a_second_factor_and_counts_code_points() {
        let c = ctx();
        assert_eq!(assess(&"x".repeat(14), &c), Verdict::TooShort { min: 15, have: 14 });
        assert!(assess("correct horse b", &c).is_acceptable(), "15 characters");
        let mfa = Context { has_second_factor: true, ..ctx() };
        assert_eq!(assess("seven77", &mfa), Verdict::TooShort { min: 8, have: 7 });
        assert!(assess("eight888", &mfa).is_acceptable());
        // 15 characters in 19 bytes; 14 emoji are 56 bytes but 14 characters
        assert!(assess("déjà vu à l'hôt", &c).is_acceptable());
        assert_eq!(assess(&"🔑".repeat(14), &c), Verdict::TooShort { min: 15, have: 14 });
    }

    #[test]
    fn long_passwords_are_welcome_up_to_the_cap() {
        let c = ctx();
        // (letters chosen by a xorshift: no piece repeats, no runs)
        let mut x: u32 = 2463534242;
        let long: String = (0..256)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (b'a' + (x % 26) as u8) as char
            })
            .collect();
        assert!(assess(&long, &c).is_acceptable(), "256");
        assert_eq!(assess(&format!("{long}x"), &c), Verdict::TooLong);
    }

    #[test]
    fn no_composition_rules() {
        assert!(assess("correct horse battery staple", &ctx()).is_acceptable());
        // no letter, digit or symbol is asked for
        assert!(assess("purple tractors sing at dawn", &ctx()).is_acceptable());
        assert!(assess("948 517 362 804 193", &ctx()).is_acceptable());
        assert!(assess("¡¿«»–—…‽·•¶§†‡※", &ctx()).is_acceptable());
    }

    #[test]
    fn repetitive_or_sequential_passwords_and_invisible_ones_are_refused() {
        let c = ctx();
        for bad in [
            "                    ".to_string(),
            "\u{200B}".repeat(20),
            "aaaaaaaaaaaaaaaaaaaa".into(),
            "abababababababababab".into(),
            "password password password".into(),
            "Tractor-Tractor-Tractor-".into(),
            "abcdefghijklmnopqrst".into(),
            "12345678901234567890".into(),
            "zyxwvutsrqponmlkjihg".into(),
            "aaaaaa12345678bbbbbb".into(),
            "ABCDEFGH ijklmnop".into(),
            "Tractor-Tractor-Tractor".into(),
            "password-password-password1".into(),
            "correct horse correct horse!".into(),
            format!("{}q7#z", " ".repeat(11)),
            format!("{}q7#z9", "\u{3164}".repeat(11)),
        ] {
            assert_eq!(assess(&bad, &c), Verdict::Predictable, "{bad:?}");
        }
        let mfa = Context { has_second_factor: true, ..ctx() };
        assert_eq!(assess("1234abcd", &mfa), Verdict::Predictable);
        for good in ["eight888", "tractor!s", "correct horse b"] {
            assert!(assess(good, &mfa).is_acceptable(), "{good:?}");
        }
    }

    #[test]
    fn passwords_built_from_the_account_or_the_site_are_refused() {
        let c = ctx();
        for bad in ["ada.lovelace@example.test", "adalovelace123456", "Ada.Lovelace2024!!", "gatehousegatehouse", "GateHouse-1234567", "lovelace-example-1"] {
            assert_eq!(assess(bad, &c), Verdict::FromContext, "{bad}");
        }
        // containing a name is fine when enough of the password is its own
        assert!(assess("ada likes purple tractors", &c).is_acceptable());
        assert!(assess("my gatehouse has blue shutters", &c).is_acceptable());
    }

    #[test]
    fn passwords_built_from_the_words_every_guesser_tries_first_are_refused() {
        let c = ctx();
        for bad in ["password123password", "Qwerty-Letmein-2024", "P@ssw0rd!Welcome12", "qwertyuiopasdfghjkl", "iloveyou-sunshine-7"] {
            assert_eq!(assess(bad, &c), Verdict::CommonWords, "{bad}");
        }
        let mfa = Context { has_second_factor: true, ..ctx() };
        assert_eq!(assess("qwertyuiopasdfgh", &mfa), Verdict::CommonWords, "a keyboard walk");
        // with the account's details as whole words around them
        assert_eq!(assess("adalovelace-password", &c), Verdict::CommonWords);
        assert_eq!(assess("Master-Lovelace-1234", &c), Verdict::CommonWords);
        // one common word among words of one's own is fine
        for good in ["my password is purple tractors", "dragon fruit on tuesday mornings", "correct horse battery staple", "the secret passage", "webmaster passkey"] {
            assert!(assess(good, &c).is_acceptable(), "{good}");
        }
        // and so are the ordinary words they are part of
        for good in ["Badminton7", "Passenger77", "Compassion1!", "Secretary#9", "Mastery-42", "Dragonfly99", "blogin2024"] {
            assert!(assess(good, &mfa).is_acceptable(), "{good}");
        }
        // the account's details count as taken out only where they are whole words: "dan" in
        // "dangerous" is the person's own
        let dan = Context { email: "dan@example.test", display_name: None, has_second_factor: false };
        assert!(assess("dangerous password 1", &dan).is_acceptable());
        assert_eq!(assess("dan-password-2024", &dan), Verdict::CommonWords);
        // what is left is only a run or a repetition (the exploratory review's "Good" passwords)
        for bad in ["password12345678", "letmein123456789", "iloveyou12345678", "Password-87654321", "qwerty-aaaabbbbcc", "iloveyou1234abcd"] {
            assert_eq!(assess(bad, &c), Verdict::CommonWords, "{bad}");
        }
        // words of its own beside one still pass
        for good in ["password-tractor-sunrise", "iloveyou mango tuesday 42", "letmein Tr0ub4dor&3x"] {
            assert!(assess(good, &c).is_acceptable(), "{good}");
        }
    }

    #[test]
    fn every_refusal_explains_itself() {
        for v in [Verdict::TooShort { min: 15, have: 3 }, Verdict::TooLong, Verdict::FromContext, Verdict::Predictable, Verdict::CommonWords] {
            assert!(v.message().unwrap().ends_with('.'));
        }
        assert!(Verdict::Acceptable { strong: false }.message().is_none());
    }
}
