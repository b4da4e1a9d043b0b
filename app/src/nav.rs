//! Navigation helpers shared by server and browser.

/// Where a signed-in person lands by default.
pub const HOME: &str = "/settings/security";

/// Returns `candidate` if it is a path on this site, otherwise `HOME`. Refuses anything a browser
/// could read as another origin: absolute URLs, scheme-relative `//host`, backslash tricks
/// (`/\host`), encoded slashes at the start, control characters and other schemes, and `.` or
/// `..` segments (`/x/../..//host` is `//host` once a browser resolves it: no address of this
/// site has them).
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
    if ok { c.to_string() } else { HOME.to_string() }
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
}
