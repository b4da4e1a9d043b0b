//! The page's address: going to another one, and the query parameters the page keeps in it.

/// Loads `path` (a full navigation, not the router's).
pub fn go_to(path: &str) {
    if let Some(w) = web_sys::window() {
        let _ = w.location().assign(path);
    }
}

/// Loads `path` in place of this page's history entry (Back skips this page), as a server's
/// redirect would.
pub fn go_to_instead(path: &str) {
    if let Some(w) = web_sys::window() {
        let _ = w.location().replace(path);
    }
}

/// Takes the query parameters `names` out of the page's address, keeping the others and the
/// fragment, without loading anything (`replace_address`): what they said has been shown, and a
/// reload must not say it again.
pub fn forget_in_address(names: &[&str]) {
    rewrite_query(|pairs| pairs.retain(|p| !names.contains(&name_of(p).as_str())));
}

/// A query pair's name as the router reads it (percent-decoded: `%61ctivity` is `activity`).
fn name_of(pair: &str) -> String {
    let raw = pair.split('=').next().unwrap_or("").replace('+', " ");
    js_sys::decode_uri_component(&raw).ok().and_then(|n| n.as_string()).unwrap_or(raw)
}

/// Puts `name=value` in the page's address (`None`, or an empty value: takes it out), keeping the
/// other parameters and the fragment, without loading anything (`replace_address`): a reload, or
/// the address sent to someone, shows the page as it is now. `value` is one of the page's own
/// words (no escaping).
pub fn set_in_address(name: &str, value: Option<&str>) {
    rewrite_query(|pairs| {
        pairs.retain(|p| name_of(p) != name);
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            pairs.push(format!("{name}={v}"));
        }
    });
}

/// Rewrites the address's query parameters with `change`, when it changes them.
fn rewrite_query(change: impl FnOnce(&mut Vec<String>)) {
    let Some(location) = web_sys::window().map(|w| w.location()) else { return };
    let (Ok(path), Ok(search), Ok(hash)) = (location.pathname(), location.search(), location.hash()) else { return };
    let before: Vec<String> = search.trim_start_matches('?').split('&').filter(|p| !p.is_empty()).map(str::to_string).collect();
    let mut pairs = before.clone();
    change(&mut pairs);
    if pairs != before {
        let query = if pairs.is_empty() { String::new() } else { format!("?{}", pairs.join("&")) };
        replace_address(&format!("{path}{query}{hash}"));
    }
}

/// Shows `path` as the page's address without loading it (the history entry is replaced: Back
/// does not return to the old address).
pub fn replace_address(path: &str) {
    if let Some(history) = web_sys::window().and_then(|w| w.history().ok()) {
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(path));
    }
}
