//! The domain's layers, checked from its source: `db/*` reaches only plain types (never a
//! capability), the plain types reach neither `db` nor `auth`, and no module depends on itself
//! through others (the crate root, which only declares modules and `Services`, aside). Each file is
//! read as written (`crate::…` paths in `use` lines and in code); `#[cfg(test)]` blocks are skipped.
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module path ("auth::sessions", "db", "kinds") → the modules its non-test code names.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(&testkit::manifest_dir()).join("src");
    let mut files = Vec::new();
    collect(&src, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(&src, f)).collect();
    let mut graph = BTreeMap::new();
    for file in &files {
        let module = module_of(&src, file);
        let text = std::fs::read_to_string(file).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        let mut deps = BTreeSet::new();
        for path in crate_paths(code) {
            if let Some(target) = resolve(&modules, &path) {
                if target != module {
                    deps.insert(target);
                }
            }
        }
        graph.insert(module, deps);
    }
    graph
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/auth/sessions.rs` → "auth::sessions"; `src/db/mod.rs` → "db"; `src/lib.rs` → "" (root).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let parts: Vec<&str> = parts.iter().map(String::as_str).filter(|p| *p != "mod" && *p != "lib").collect();
    parts.join("::")
}

/// Every path after `crate::`, with `use` groups expanded (`crate::auth::{x, y::Z}` gives
/// `auth::x` and `auth::y::Z`).
fn crate_paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        expand("", rest, &mut out);
    }
    out
}

fn expand(prefix: &str, text: &str, out: &mut Vec<String>) {
    let end = text.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).unwrap_or(text.len());
    let path = text[..end].trim_end_matches(':');
    let full = if prefix.is_empty() { path.to_string() } else if path.is_empty() { prefix.to_string() } else { format!("{prefix}::{path}") };
    if text[end..].starts_with('{') {
        let group = &text[end + 1..];
        let mut depth = 0;
        let mut start = 0;
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    expand(&full, group[start..i].trim(), out);
                    return;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand(&full, group[start..i].trim(), out);
                    start = i + 1;
                }
                _ => {}
            }
        }
    } else {
        out.push(full.strip_suffix("::self").unwrap_or(&full).to_string());
    }
}

/// The deepest module a path names (`auth::sessions::new_token` → "auth::sessions"); `None` for
/// items of the crate root (`Services`, the re-exported `DomainError` is `error`).
fn resolve(modules: &BTreeSet<String>, path: &str) -> Option<String> {
    let segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    if segments.first() == Some(&"DomainError") {
        return Some("error".into());
    }
    (1..=segments.len()).rev().map(|n| segments[..n].join("::")).find(|m| modules.contains(m))
}

fn layer(module: &str) -> &str {
    module.split("::").next().unwrap_or("")
}

#[test]
fn db_modules_use_only_ids_kinds_and_plain_request_types() {
    let allowed = ["db", "ids", "plan", "kinds", "request", "devices", "config", "secret_box", "error"];
    for (module, deps) in graph().iter().filter(|(m, _)| layer(m) == "db") {
        for dep in deps {
            assert!(allowed.contains(&layer(dep)), "{module} must not use {dep}: db/* sits below the capabilities");
        }
    }
}

#[test]
fn plain_types_use_neither_the_database_nor_the_capabilities() {
    for (module, deps) in graph().iter().filter(|(m, _)| ["ids", "plan", "kinds", "request", "devices", "secret", "clock"].contains(&m.as_str())) {
        for dep in deps {
            assert!(!["db", "auth"].contains(&layer(dep)), "{module} must not use {dep}");
        }
    }
}

#[test]
fn no_module_depends_on_itself_through_others() {
    let graph = graph();
    // depth-first search with the path kept, so a cycle is reported as the modules it goes through
    fn visit<'g>(g: &'g BTreeMap<String, BTreeSet<String>>, m: &'g str, path: &mut Vec<&'g str>, done: &mut BTreeSet<&'g str>) {
        if let Some(at) = path.iter().position(|p| *p == m) {
            let mut cycle = path[at..].to_vec();
            cycle.push(m);
            panic!("import cycle: {}", cycle.join(" → "));
        }
        if !done.insert(m) {
            return;
        }
        path.push(m);
        for dep in g.get(m).into_iter().flatten() {
            if !dep.is_empty() {
                visit(g, dep, path, done);
            }
        }
        path.pop();
    }
    let mut done = BTreeSet::new();
    for m in graph.keys().filter(|m| !m.is_empty()) {
        visit(&graph, m, &mut Vec::new(), &mut done);
    }
    assert!(graph.contains_key("auth::sessions") && graph["auth::accounts"].contains("auth::sessions"), "the graph was read");
}

#[test]
fn the_checker_sees_groups_and_inline_paths() {
    let paths = crate_paths("use crate::auth::{self, sessions::{new_token, SignedIn}};\nlet x = crate::db::users::find(db);");
    assert_eq!(paths, ["auth", "auth::sessions::new_token", "auth::sessions::SignedIn", "db::users::find"]);
}
