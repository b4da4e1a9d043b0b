//! Navigation helpers shared by server and browser.

/// Where a signed-in person lands by default.
pub const HOME: &str = "/settings/security";

/// Returns `candidate` if it is a path on this site, otherwise `HOME`. Refuses anything a browser
/// could read as another origin: absolute URLs, scheme-relative `//host`, backslash tricks
/// (`/\host`), encoded slashes at the start, control characters and other schemes.
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
        && c.len() <= 2048;
    if ok { c.to_string() } else { HOME.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_site_paths_are_kept() {
        assert_eq!(safe_return_to(Some("/settings/security?tab=1")), "/settings/security?tab=1");
        assert_eq!(safe_return_to(Some("/previews")), "/previews");
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
        ] {
            assert_eq!(safe_return_to(Some(hostile)), HOME, "{hostile:?}");
        }
        assert_eq!(safe_return_to(None), HOME);
        assert_eq!(safe_return_to(Some("")), HOME);
    }
}
