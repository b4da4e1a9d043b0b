//! Names people type (their display name, a passkey's): what is kept of them, and how long a
//! passkey's may be. The browser checks a passkey's name before the device makes the passkey, so
//! a name the server would refuse never costs a passkey the server does not keep.

/// Longest passkey name, in characters, as `without_hidden_characters` leaves it.
pub const PASSKEY_NAME_MAX: usize = 64;

/// A name someone typed, trimmed and without the characters that do not show: control characters
/// (Postgres refuses NUL in text, which answered a sign-up with 500), the bidirectional
/// overrides that would make a name read as another, and the invisible spaces that make two
/// names that look alike differ (zero width space, word joiner, byte order mark). The joiners
/// stay: emoji sequences and words in Persian or Hindi need them. A run of spaces reads as one, so
/// it is kept as one ("My   laptop" is "My laptop", in the list, the activity and the emails).
pub fn without_hidden_characters(name: &str) -> String {
    // (a tab or a line break pasted into a name separates words, as a space does: "Work⏎laptop"
    // is "Work laptop", not "Worklaptop")
    let hidden = |c: &char| {
        (c.is_control() && !c.is_whitespace())
            || matches!(c, '\u{200B}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
    };
    let shown: String = name.chars().filter(|c| !hidden(c)).collect();
    shown.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether two passkey names read the same, letter case aside (an account's passkeys never do).
pub fn same_passkey_name(a: &str, b: &str) -> bool {
    without_hidden_characters(a).to_lowercase() == without_hidden_characters(b).to_lowercase()
}

/// Whether a passkey name is too long (the server refuses it with the same rule).
pub fn passkey_name_too_long(name: &str) -> bool {
    without_hidden_characters(name).chars().count() > PASSKEY_NAME_MAX
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_of_spaces_is_kept_as_one() {
        assert_eq!(without_hidden_characters("  My   laptop \u{00A0}🔑 "), "My laptop 🔑");
        assert!(same_passkey_name("My  laptop", "my laptop"));
    }

    #[test]
    fn a_tab_or_a_line_break_separates_words_as_a_space_does() {
        assert_eq!(without_hidden_characters("Work\nlaptop"), "Work laptop");
        assert_eq!(without_hidden_characters("Tab\tin\r\nname\u{0B}"), "Tab in name");
        // other control characters still go without a trace
        assert_eq!(without_hidden_characters("Lap\u{0}to\u{7}p"), "Laptop");
    }

    #[test]
    fn a_passkey_name_is_measured_in_characters_without_what_does_not_show() {
        assert!(!passkey_name_too_long(&"é".repeat(PASSKEY_NAME_MAX)));
        assert!(passkey_name_too_long(&"é".repeat(PASSKEY_NAME_MAX + 1)));
        assert!(!passkey_name_too_long(&format!("  {}\u{202E}\n", "x".repeat(PASSKEY_NAME_MAX))));
        // emoji sequences keep their zero-width joiners
        assert_eq!(without_hidden_characters(" 👩\u{200D}💻 laptop "), "👩\u{200D}💻 laptop");
        // invisible spaces would make a name that looks like another differ from it
        assert_eq!(without_hidden_characters("Work\u{200B} laptop\u{2060}\u{FEFF}"), "Work laptop");
    }

    #[test]
    fn passkey_names_read_the_same_in_any_letter_case() {
        assert!(same_passkey_name("Work laptop", " WORK Laptop\u{200B} "));
        assert!(same_passkey_name("Ölçü", "ÖLÇÜ"));
        assert!(!same_passkey_name("Work laptop", "Work laptop 2"));
    }
}
