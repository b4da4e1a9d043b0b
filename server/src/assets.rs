//! The built site's files under `/pkg` (the wasm bundle, its JS glue, the CSS) and how they are
//! cached.
//!
//! A release build (`make release`) names each file after its content (`gatehouse.<hash>.wasm`,
//! cargo-leptos' `hash-files`), lists the hashes in `<site root>/hash.txt`, and stores brotli and
//! gzip copies beside each file (`.br`, `.gz`, cargo-leptos' `--precompress`). Such a file never
//! changes under its name, so browsers keep it for a year without asking again
//! (`immutable`); the server picks the precompressed copy the browser accepts. A development build
//! has plain names and no `hash.txt`: its files are revalidated on every use (`no-cache`).
use std::path::{Path, PathBuf};

/// `Cache-Control` of a file whose name carries its content's hash.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` of a file that may change under its name: keep, but ask before each use.
pub const REVALIDATE: &str = "no-cache";

/// What the built site's `hash.txt` says (nothing in a development build).
#[derive(Clone, Debug)]
pub struct BuiltAssets {
    /// `<site root>/hash.txt`, when the build hashed its file names.
    pub hash_file: Option<PathBuf>,
    /// The URL paths of the stylesheet, the JS glue and the wasm bundle
    /// (`/pkg/gatehouse.<hash>.css` or `/pkg/gatehouse.css`, …), which every page names.
    pub files: app::SiteFiles,
    /// URL paths of the files named after their content.
    hashed: Vec<String>,
}

impl BuiltAssets {
    /// Reads `<root>/hash.txt` (`js: <hash>`, `wasm: <hash>`, `css: <hash>` lines), if there is one.
    pub fn load(root: &Path, pkg_dir: &str, output_name: &str) -> Self {
        let hash_file = std::path::absolute(root.join("hash.txt")).unwrap_or_else(|_| root.join("hash.txt"));
        let text = std::fs::read_to_string(&hash_file).ok();
        Self::parse(text.as_deref(), pkg_dir, output_name, hash_file)
    }

    fn parse(text: Option<&str>, pkg_dir: &str, output_name: &str, hash_file: PathBuf) -> Self {
        let mut hashed = Vec::new();
        let plain = |ext: &str| format!("/{pkg_dir}/{output_name}.{ext}");
        let mut files = app::SiteFiles { stylesheet: plain("css"), script: plain("js"), wasm: plain("wasm") };
        for (ext, hash) in text.unwrap_or_default().lines().filter_map(|l| l.split_once(':')) {
            let (ext, hash) = (ext.trim(), hash.trim());
            if hash.is_empty() || !hash.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                continue;
            }
            let path = format!("/{pkg_dir}/{output_name}.{hash}.{ext}");
            match ext {
                "css" => files.stylesheet = path.clone(),
                "js" => files.script = path.clone(),
                "wasm" => files.wasm = path.clone(),
                _ => {}
            }
            hashed.push(path);
        }
        Self { hash_file: (!hashed.is_empty()).then_some(hash_file), files, hashed }
    }

    /// `Cache-Control` for a file under `/pkg` that was found.
    pub fn cache_control(&self, path: &str) -> &'static str {
        if self.hashed.iter().any(|p| p == path) {
            IMMUTABLE
        } else {
            REVALIDATE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_release_builds_hashed_files_are_immutable_and_everything_else_is_revalidated() {
        let text = "js: AbC-1_x\nwasm: ZZ9\ncss: q7\n";
        let assets = BuiltAssets::parse(Some(text), "pkg", "gatehouse", "/site/hash.txt".into());
        assert_eq!(assets.files.stylesheet, "/pkg/gatehouse.q7.css");
        assert_eq!(assets.files.script, "/pkg/gatehouse.AbC-1_x.js");
        assert_eq!(assets.files.wasm, "/pkg/gatehouse.ZZ9.wasm");
        assert_eq!(assets.hash_file.as_deref(), Some(Path::new("/site/hash.txt")));
        assert_eq!(assets.cache_control("/pkg/gatehouse.AbC-1_x.js"), IMMUTABLE);
        assert_eq!(assets.cache_control("/pkg/gatehouse.ZZ9.wasm"), IMMUTABLE);
        assert_eq!(assets.cache_control("/pkg/gatehouse.q7.css"), IMMUTABLE);
        // an older build's file, or a plain name, may change: ask each time
        assert_eq!(assets.cache_control("/pkg/gatehouse.old.wasm"), REVALIDATE);
        assert_eq!(assets.cache_control("/pkg/gatehouse.wasm"), REVALIDATE);

        let dev = BuiltAssets::parse(None, "pkg", "gatehouse", "/site/hash.txt".into());
        assert_eq!(dev.files.stylesheet, "/pkg/gatehouse.css");
        assert_eq!(dev.files.script, "/pkg/gatehouse.js");
        assert_eq!(dev.files.wasm, "/pkg/gatehouse.wasm");
        assert_eq!(dev.hash_file, None);
        assert_eq!(dev.cache_control("/pkg/gatehouse.wasm"), REVALIDATE);
        // a hash that is not a plain token is ignored (it would end up in a URL)
        let odd = BuiltAssets::parse(Some("css: ../x\n"), "pkg", "gatehouse", "/site/hash.txt".into());
        assert_eq!(odd.files.stylesheet, "/pkg/gatehouse.css");
    }
}
