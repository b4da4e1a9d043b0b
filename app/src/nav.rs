//! Navigation helpers shared by server and browser.

/// Where a signed-in person lands by default.
pub const HOME: &str = "/settings/security";

/// Returns `candidate` if it is a path on this site, otherwise `HOME`. Refuses anything a browser
/// could read as another origin: absolute URLs, scheme-relative `//host`, backslash tricks
/// (`/\host`), encoded slashes at the start, control characters and other schemes, and `.` or
/// `..` segments (`/x/../..//host` is `//host` once a browser resolves it: no address of this
/// site has them). Leptos' action-error parameters (`__err`, `__path`) are dropped from its query:
/// the page would show their text, which anyone could write into a sign-in link, as its own error
/// right after the sign-in ("Your account is locked, call …"; the server drops them from links
/// from other sites, but a return address is followed from this one).
pub fn safe_return_to(candidate: Option<&str>) -> String {
    let Some(c) = candidate.map(str::trim).filter(|c| !c.is_empty()) else {
        return HOME.to_string();
    };
    let ok = c.starts_with('/')
        && !c.starts_with("//")
        && !c.contains('\\')
        && !c.chars().any(|ch| ch.is_control() || ch.is_whitespace())
        && !c.to_ascii_lowercase().starts_with("/%2f")
        && !c.to_ascii_lowercase().starts_with("/%5c")
        && c.len() <= 2048
        && !has_dot_segment(c);
    if ok { without_action_error(c) } else { HOME.to_string() }
}

/// `url` without the query parameters Leptos reads as an action's error (`__err`, `__path`, the
/// name percent-encoded or not).
fn without_action_error(url: &str) -> String {
    let (before_fragment, fragment) = url.split_once('#').map_or((url, None), |(a, f)| (a, Some(f)));
    let Some((path, query)) = before_fragment.split_once('?') else { return url.to_string() };
    let is_action_error = |pair: &&str| {
        let name = pair.split('=').next().unwrap_or_default().replace('+', " ");
        let name = percent_encoding::percent_decode_str(&name).decode_utf8_lossy();
        name == "__err" || name == "__path"
    };
    let kept: Vec<&str> = query.split('&').filter(|pair| !is_action_error(pair)).collect();
    let mut out = path.to_string();
    if !kept.is_empty() {
        out.push('?');
        out.push_str(&kept.join("&"));
    }
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

/// The path (before `?` or `#`) has a `.` or `..` segment, a dot written as `%2e` too.
fn has_dot_segment(url: &str) -> bool {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    path.split('/').any(|segment| {
        let segment = segment.to_ascii_lowercase().replace("%2e", ".");
        segment == "." || segment == ".."
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_site_paths_are_kept() {
        assert_eq!(safe_return_to(Some("/settings/security?tab=1")), "/settings/security?tab=1");
        assert_eq!(safe_return_to(Some("/previews")), "/previews");
        assert_eq!(safe_return_to(Some("/settings/security?q=../x#a/..")), "/settings/security?q=../x#a/..", "dots after the path");
        for hostile in [
            "https://evil.example/",
            "//evil.example/x",
            "/\\evil.example",
            "\\\\evil.example",
            "javascript:alert(1)",
            "/%2F%2Fevil.example",
            "/%5cevil.example",
            "/\tevil",
            " //evil.example",
            "evil.example",
            "/x/../..//evil.example",
            "/./..//evil.example",
            "/x/%2e%2E/%2e%2e//evil.example",
        ] {
            assert_eq!(safe_return_to(Some(hostile)), HOME, "{hostile:?}");
        }
        assert_eq!(safe_return_to(None), HOME);
        assert_eq!(safe_return_to(Some("")), HOME);
    }

    /// A sign-in link can name where to go next, but not an error for that page to show.
    #[test]
    fn an_actions_error_is_never_carried_to_the_next_page() {
        let planted = "/settings/security?__path=%2Fapi%2Fsecurity%2Freverify%2Fend&__err=eyJQYXNzd29yZFJlamVjdGVkIjp9";
        assert_eq!(safe_return_to(Some(planted)), "/settings/security");
        assert_eq!(safe_return_to(Some("/settings/security?a=1&%5F%5Ferr=x&b=2#top")), "/settings/security?a=1&b=2#top", "encoded name");
        assert_eq!(safe_return_to(Some("/settings/security?__errand=1&path=2")), "/settings/security?__errand=1&path=2", "other names kept");
    }
}
