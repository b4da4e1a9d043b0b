//! The site's layout: what is built, and where each built file goes.
//!
//! One definition serves both ways of building: `[[workspace.metadata.leptos]]` in the workspace's
//! Cargo.toml, which cargo-leptos reads, is read here too, and cargo-leptos' naming rules are
//! applied to it (the tests below pin them, and check that the server's runtime configuration,
//! Leptos.toml's `[site]`, names the same folders and files).
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The part of a `[[workspace.metadata.leptos]]` entry this build step uses (cargo-leptos' keys).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Project {
    name: String,
    #[serde(default)]
    output_name: String,
    bin_package: String,
    lib_package: String,
    #[serde(default = "default_site_root")]
    site_root: String,
    #[serde(default = "default_pkg_dir")]
    site_pkg_dir: String,
    style_file: Option<String>,
    assets_dir: Option<String>,
    #[serde(default)]
    bin_features: Vec<String>,
    #[serde(default = "yes")]
    bin_default_features: bool,
    #[serde(default)]
    lib_features: Vec<String>,
    #[serde(default = "yes")]
    lib_default_features: bool,
}

fn default_site_root() -> String {
    "target/site".into()
}
fn default_pkg_dir() -> String {
    "pkg".into()
}
fn yes() -> bool {
    true
}

/// Where everything goes, as paths relative to the workspace root (cargo-leptos' rules).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Base name of the built files: `output-name`, or else the project's `name`.
    pub output_name: String,
    /// The crate compiled to wasm for the browser (a cdylib).
    pub lib_package: String,
    pub lib_features: Vec<String>,
    pub lib_default_features: bool,
    /// The crate holding the server binary (a binary of the same name).
    pub bin_package: String,
    pub bin_features: Vec<String>,
    pub bin_default_features: bool,
    /// The served folder (`site-root`).
    pub site_root: PathBuf,
    /// The folder in `site_root` with the bundle and the stylesheet (`site-pkg-dir`).
    pub pkg_dir: String,
    /// The stylesheet, copied to `<pkg>/<output name>.css`.
    pub style_file: Option<PathBuf>,
    /// Files copied as they are into `site_root` (`assets-dir`).
    pub assets_dir: Option<PathBuf>,
}

impl Layout {
    /// The first `[[workspace.metadata.leptos]]` project of a workspace manifest.
    pub fn from_manifest(manifest: &str) -> Result<Self, String> {
        let doc: toml::Table = manifest.parse().map_err(|e| format!("Cargo.toml is not valid TOML: {e}"))?;
        let entry = doc
            .get("workspace")
            .and_then(|w| w.get("metadata"))
            .and_then(|m| m.get("leptos"))
            .and_then(|l| l.as_array())
            .and_then(|projects| projects.first())
            .ok_or("Cargo.toml has no [[workspace.metadata.leptos]] project")?;
        let p: Project = entry
            .clone()
            .try_into()
            .map_err(|e| format!("[[workspace.metadata.leptos]] in Cargo.toml: {e}"))?;
        Ok(Self {
            output_name: if p.output_name.is_empty() { p.name } else { p.output_name },
            lib_package: p.lib_package,
            lib_features: p.lib_features,
            lib_default_features: p.lib_default_features,
            bin_package: p.bin_package,
            bin_features: p.bin_features,
            bin_default_features: p.bin_default_features,
            site_root: PathBuf::from(p.site_root),
            pkg_dir: p.site_pkg_dir,
            style_file: p.style_file.map(PathBuf::from),
            assets_dir: p.assets_dir.map(PathBuf::from),
        })
    }

    /// Reads the layout from `<root>/Cargo.toml`.
    pub fn load(root: &Path) -> Result<Self, String> {
        let path = root.join("Cargo.toml");
        let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::from_manifest(&text)
    }

    /// `<site root>/<pkg>`.
    pub fn pkg_path(&self) -> PathBuf {
        self.site_root.join(&self.pkg_dir)
    }

    /// `<site root>/<pkg>/<output name>.<ext>`: the bundle's `wasm` and `js`, the stylesheet's `css`.
    pub fn pkg_file(&self, ext: &str) -> PathBuf {
        self.pkg_path().join(format!("{}.{ext}", self.output_name))
    }

    /// The file name cargo gives the lib package's wasm (a cdylib named after the package).
    pub fn cargo_wasm_name(&self) -> String {
        format!("{}.wasm", self.lib_package.replace('-', "_"))
    }

    /// The cargo arguments selecting features: `--no-default-features`, `--features=…`.
    pub fn feature_args(features: &[String], default_features: bool) -> Vec<String> {
        let mut args = Vec::new();
        if !default_features {
            args.push("--no-default-features".to_string());
        }
        if !features.is_empty() {
            args.push(format!("--features={}", features.join(",")));
        }
        args
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace_root() -> PathBuf {
        crate::workspace_root()
    }

    const MINIMAL: &str = r#"
        [workspace]
        [[workspace.metadata.leptos]]
        name = "shop"
        bin-package = "shop-server"
        lib-package = "shop-front"
    "#;

    #[test]
    fn files_are_named_after_the_project_unless_an_output_name_is_given_as_cargo_leptos_does() {
        let layout = Layout::from_manifest(MINIMAL).unwrap();
        assert_eq!(layout.output_name, "shop");
        assert_eq!(layout.pkg_file("wasm"), PathBuf::from("target/site/pkg/shop.wasm"));
        assert_eq!(layout.pkg_file("js"), PathBuf::from("target/site/pkg/shop.js"));
        assert_eq!(layout.pkg_file("css"), PathBuf::from("target/site/pkg/shop.css"));
        assert_eq!(layout.cargo_wasm_name(), "shop_front.wasm");
        assert!(layout.bin_default_features && layout.lib_default_features);

        let named = MINIMAL.replace("name = \"shop\"", "name = \"shop\"\noutput-name = \"store\"\nsite-root = \"out\"\nsite-pkg-dir = \"assets\"");
        let layout = Layout::from_manifest(&named).unwrap();
        assert_eq!(layout.pkg_file("wasm"), PathBuf::from("out/assets/store.wasm"));
    }

    #[test]
    fn a_manifest_without_a_leptos_project_is_refused_with_a_message_naming_the_table() {
        let err = Layout::from_manifest("[workspace]\n").unwrap_err();
        assert_eq!(err, "Cargo.toml has no [[workspace.metadata.leptos]] project");
    }

    #[test]
    fn feature_arguments_are_the_ones_cargo_leptos_passes() {
        assert_eq!(Layout::feature_args(&[], true), Vec::<String>::new());
        assert_eq!(
            Layout::feature_args(&["a".into(), "b".into()], false),
            vec!["--no-default-features".to_string(), "--features=a,b".to_string()]
        );
    }

    /// The server finds the built site through Leptos.toml's `[site]` (root, pkg_dir, output_name)
    /// and the scripts set `LEPTOS_OUTPUT_NAME` for every build: both must name what this layout
    /// (and cargo-leptos) writes, or the page would link a bundle that is not there.
    #[test]
    fn this_workspace_s_layout_is_the_one_the_server_and_the_scripts_use() {
        let root = workspace_root();
        let layout = Layout::load(&root).unwrap();
        assert_eq!(layout.lib_package, "frontend");
        assert_eq!(layout.bin_package, "server");

        let leptos_toml: toml::Table = std::fs::read_to_string(root.join("Leptos.toml")).unwrap().parse().unwrap();
        let site = leptos_toml["site"].as_table().unwrap();
        assert_eq!(site["root"].as_str().unwrap(), layout.site_root.to_str().unwrap());
        assert_eq!(site["pkg_dir"].as_str().unwrap(), layout.pkg_dir);
        assert_eq!(site["output_name"].as_str().unwrap(), layout.output_name);

        let env_sh = std::fs::read_to_string(root.join("scripts/env.sh")).unwrap();
        assert!(
            env_sh.lines().any(|l| l == format!("export LEPTOS_OUTPUT_NAME={}", layout.output_name)),
            "scripts/env.sh must export LEPTOS_OUTPUT_NAME={}",
            layout.output_name
        );
        let style = layout.style_file.as_ref().expect("a style-file");
        assert!(root.join(style).is_file(), "style-file {} is missing", style.display());
        let assets = layout.assets_dir.as_ref().expect("an assets-dir");
        assert!(root.join(assets).is_dir(), "assets-dir {} is missing", assets.display());
    }
}
