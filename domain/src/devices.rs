//! What a user agent says about the device, read by a maintained parser (woothee), never by hand.

/// Kind of device, for the icon.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceKind {
    Desktop,
    Phone,
    Tablet,
    Unknown,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    /// "Firefox 140", or "Unknown browser".
    pub browser: String,
    /// Browser name without version, "Firefox", for sentences.
    pub browser_name: String,
    /// "Windows 10", "iPhone", or "Unknown OS".
    pub os: String,
    pub kind: DeviceKind,
    /// The operating system without its version ("Windows", "Mac", "iPhone"): with the browser's
    /// name, what makes a device familiar, so an OS update is not a "new device".
    pub os_family: String,
}

pub fn describe(user_agent: Option<&str>) -> Device {
    let unknown = Device {
        browser: "Unknown browser".into(),
        browser_name: "Unknown browser".into(),
        os: "Unknown OS".into(),
        kind: DeviceKind::Unknown,
        os_family: "Unknown OS".into(),
    };
    let Some(ua) = user_agent.filter(|u| !u.trim().is_empty()) else { return unknown };
    let Some(r) = woothee::parser::Parser::new().parse(ua) else { return unknown };
    // (woothee's names for any agent it takes for a robot, "misc crawler", or for a script's
    // library, "HTTP Library", are its jargon: a script or an unusual browser reads as an unknown
    // browser)
    let known = |s: &str| !s.is_empty() && s != "UNKNOWN" && s != "misc crawler" && s != "HTTP Library";
    let name = r.name.to_string();
    let major = r.version.split('.').next().unwrap_or_default().to_string();
    let browser = match (known(&name), known(&major)) {
        (true, true) => format!("{name} {major}"),
        (true, false) => name.clone(),
        _ => "Unknown browser".into(),
    };
    // ("Windows UNKNOWN Ver": a Windows woothee cannot date is Windows)
    let os = r.os.trim_end_matches(" UNKNOWN Ver").to_string();
    let os_version = r.os_version.to_string();
    let os = if !known(&os) {
        "Unknown OS".into()
    } else if known(&os_version) && !os.contains(&os_version) && os.starts_with("Mac") {
        format!("{os} {os_version}")
    } else {
        os
    };
    // (the family, which says whether a device was seen before, as it always was: "Mac")
    let os_family = os.split_whitespace().next().unwrap_or("Unknown OS").to_string();
    // Apple's name, "macOS", for woothee's "Mac OSX", and no version: browsers on every macOS since
    // 11 say 10.15.7 (Apple froze it), so the version would be wrong for nearly every Mac
    let os = if os.starts_with("Mac OSX") { "macOS".to_string() } else { os };
    let kind = match r.category {
        "pc" => DeviceKind::Desktop,
        "smartphone" | "mobilephone" if os.contains("iPad") => DeviceKind::Tablet,
        "smartphone" | "mobilephone" => DeviceKind::Phone,
        _ if os.contains("iPad") => DeviceKind::Tablet,
        _ => DeviceKind::Unknown,
    };
    Device { browser_name: if known(&name) { name } else { "Unknown browser".into() }, browser, os, kind, os_family }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_agents() {
        let ff = describe(Some("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0"));
        assert_eq!(ff.browser, "Firefox 140");
        assert!(ff.os.starts_with("Windows"), "{ff:?}");
        assert_eq!(ff.kind, DeviceKind::Desktop);
        let ff11 = describe(Some("Mozilla/5.0 (Windows NT 6.1; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0"));
        assert_eq!((ff.os_family.as_str(), ff11.os_family.as_str()), ("Windows", "Windows"), "an OS update is the same device");
        let iphone = describe(Some(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
        ));
        assert!(iphone.browser.starts_with("Safari"), "{iphone:?}");
        assert_eq!(iphone.os, "iPhone");
        assert_eq!(iphone.kind, DeviceKind::Phone);
        // Apple's name, without the version browsers froze at 10.15.7; the same family as before
        let mac = describe(Some(
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
        ));
        assert_eq!((mac.browser.as_str(), mac.os.as_str(), mac.os_family.as_str()), ("Safari 17", "macOS", "Mac"), "{mac:?}");
        assert_eq!(mac.kind, DeviceKind::Desktop);
        let chrome = describe(Some("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"));
        assert_eq!(chrome.browser, "Chrome 156");
        assert_eq!(chrome.os, "Linux");
    }

    #[test]
    fn unknown_agents_never_give_empty_text() {
        for ua in [None, Some(""), Some("curl/8.0"), Some("???")] {
            let d = describe(ua);
            assert!(!d.browser.is_empty() && !d.os.is_empty(), "{ua:?} → {d:?}");
        }
        assert_eq!(describe(None).browser, "Unknown browser");
        // an agent woothee takes for a robot: no "misc crawler" on the page
        let odd = describe(Some("h2-probe/1.0 (+https://example.test/bot)"));
        assert_eq!((odd.browser.as_str(), odd.browser_name.as_str()), ("Unknown browser", "Unknown browser"), "{odd:?}");
        // a script's library, and a Windows woothee cannot date: no "HTTP Library", no "UNKNOWN Ver"
        let script = describe(Some("curl/8.5.0"));
        assert_eq!((script.browser.as_str(), script.os.as_str()), ("Unknown browser", "Unknown OS"), "{script:?}");
        let windows = describe(Some("Mozilla/5.0 (Windows; Trident/7.0; rv:11.0) like Gecko"));
        assert_eq!(windows.os, "Windows", "{windows:?}");
    }
}
