//! Names someone chose, as messages write them: fit for a greeting, and with nothing a mail client
//! would make a link of.

/// A name someone chose, as an email's text says it: whatever in it a mail client would make a
/// link of is written so it does not (`https[:]//evil[.]example`, `help[@]evil[.]example`, as
/// security teams write addresses they warn of). Whoever got into an account could otherwise put
/// a link of their choosing (a passkey named "… https://evil.example/reset") into the genuine
/// security emails the owner gets. Names without one are unchanged ("Dr. Ada", "iPhone 15.2").
pub fn defang_links(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len());
    for (i, &c) in chars.iter().enumerate() {
        let before = i.checked_sub(1).and_then(|j| chars.get(j)).is_some_and(|b| b.is_alphanumeric());
        let after = chars.get(i + 1);
        match c {
            ':' if chars.get(i + 1..i + 3) == Some(&['/', '/'][..]) => out.push_str("[:]"),
            '.' if before && after.is_some_and(|a| a.is_alphabetic()) => out.push_str("[.]"),
            '@' if before && after.is_some_and(|a| a.is_alphanumeric()) => out.push_str("[@]"),
            c => out.push(c),
        }
    }
    out
}

/// A display name fit for a greeting: no control or invisible formatting characters, at most 60
/// characters, a longer one cut with "…". The joiners stay (U+200C, U+200D): they are part of
/// emoji such as 🐻‍❄️ and of words in Persian or Hindi, and show nothing of their own.
pub(super) fn clean_name(name: &str) -> String {
    const MOST: usize = 60;
    let kept: Vec<char> = name
        .chars()
        .filter(|c| {
            !c.is_control()
                && !matches!(*c, '\u{200B}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
        })
        .collect();
    let name: String = if kept.len() > MOST {
        format!("{}…", kept[..MOST - 1].iter().collect::<String>().trim_end())
    } else {
        kept.into_iter().collect()
    };
    name.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_written_so_no_mail_client_makes_a_link_of_them() {
        assert_eq!(defang_links("Work laptop: https://evil.example/reset"), "Work laptop: https[:]//evil[.]example/reset");
        assert_eq!(defang_links("www.evil.example"), "www[.]evil[.]example");
        assert_eq!(defang_links("mail help@evil.example"), "mail help[@]evil[.]example");
        for plain in ["Dr. Ada", "iPhone 15.2", "Ada's phone", "Zoë", "a.", "@home", "ratio 1:2"] {
            assert_eq!(defang_links(plain), plain);
        }
    }

    #[test]
    fn greetings_drop_control_and_invisible_characters() {
        assert_eq!(clean_name("Ada\r\nBcc: x\u{202E}\u{200B}"), "AdaBcc: x");
        assert_eq!(clean_name(&"n".repeat(100)), format!("{}…", "n".repeat(59)), "cut, and said to be");
        assert_eq!(clean_name(&"n".repeat(60)), "n".repeat(60));
        assert_eq!(clean_name("Ada \u{1F43B}\u{200D}\u{2744}\u{FE0F}"), "Ada \u{1F43B}\u{200D}\u{2744}\u{FE0F}", "a polar bear stays one");
    }
}
