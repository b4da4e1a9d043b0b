//! The HTML shell, the router and the not-found page.
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};

use crate::components::PageFrame;
#[cfg(feature = "previews")]
use crate::previews::PreviewsPage;
// A build without the previews (make release: ~19 KB of the bundle, brotli) keeps the route, so the
// server and the bundle list the same routes, and answers it as any unknown address.
#[cfg(not(feature = "previews"))]
use NotFound as PreviewsPage;
use crate::security::SecurityPage;
use crate::sign_in::link_pages::{FinishSignUpPage, ForgotPasswordPage, ResetPasswordPage};
use crate::sign_in::not_me::NotMePage;
use crate::sign_in::{SignInPage, SignUpPage};

/// Where the built site's files are (URL paths): `/pkg/gatehouse.css`, `.js`, `.wasm` in a
/// development build, named after their content in a release build. The server reads the names
/// from the build's `hash.txt` once, at start-up (Leptos' `HashedStylesheet` and
/// `HydrationScripts` read the file on every page).
#[derive(Clone, Debug, PartialEq)]
pub struct SiteFiles {
    pub stylesheet: String,
    /// The JS glue, which loads the wasm bundle.
    pub script: String,
    pub wasm: String,
}

/// The document around the app, rendered on the server for every page.
pub fn shell(files: SiteFiles) -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::server::set_page_headers();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                // (named after their content in a release build: see server/src/assets.rs)
                <link rel="stylesheet" href=files.stylesheet/>
                <link rel="icon" type="image/svg+xml" href="/favicon.svg"/>
                <HoldFormsUntilHydrated/>
                <HydrateAfterLoad script=files.script wasm=files.wasm/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Holds back a form sent before the page is hydrated (Enter in the password field while the
/// bundle still loads): the forms are sent by the app; the browser's own submission (a post to the
/// page's address, `method="post"`, so never a field in the URL) gets only the page saying that
/// JavaScript is needed (`server::middleware::no_script`), which is for browsers without it. Once
/// hydrated (`frontend` marks `<html data-hydrated>`) the app's own handlers take over.
#[component]
fn HoldFormsUntilHydrated() -> impl IntoView {
    let code = r#"document.addEventListener("submit", (event) => { if (!document.documentElement.hasAttribute("data-hydrated")) event.preventDefault(); }, true);"#;
    view! { <script type="module" nonce=use_nonce()>{code}</script> }
}

/// Loads the wasm bundle and hydrates the page once the page has loaded and the browser is idle:
/// Leptos' `HydrationScripts` without its preload hints, so the bundle (about 340 KB) is not
/// fetched alongside the HTML and CSS the first paint needs. Lighthouse's mobile run (simulated
/// slow 4G) put the largest paint at 3.5 s behind the preloaded bundle, the first paint at 1.0 s.
/// Until then the page is there to read; forms sent early are held (`HoldFormsUntilHydrated`).
#[component]
fn HydrateAfterLoad(script: String, wasm: String) -> impl IntoView {
    // (the paths are the server's own, `/pkg/<name>[.<hash>].<ext>` with a hash of letters,
    // digits, `_` and `-`: Rust's `{:?}` quoting of them is a valid JavaScript string)
    let code = format!(
        r#"(function (js, wasm) {{
	const hydrate = () => import(js).then((mod) => mod.default({{ module_or_path: wasm }}).then(() => mod.hydrate()));
	const whenIdle = () => ("requestIdleCallback" in window ? window.requestIdleCallback(hydrate, {{ timeout: 2000 }}) : setTimeout(hydrate, 0));
	if (document.readyState === "complete") whenIdle(); else window.addEventListener("load", whenIdle, {{ once: true }});
}})({script:?}, {wasm:?});"#
    );
    view! { <script type="module" nonce=use_nonce()>{code}</script> }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    crate::components::provide_half_minutes();
    // (in the browser, once hydrated: where focus goes back to when a dialog closes)
    Effect::new(|_| crate::browser::dom::track_focus());
    view! {
        <Router>
            <Routes fallback=NotFound>
                <Route path=path!("/sign-in") view=SignInPage/>
                <Route path=path!("/sign-up") view=SignUpPage/>
                // The emailed links' pages check their link before they answer, whole (one short
                // read): streamed, the page came as "Checking your link…" and a script to swap the
                // rest in, so a browser without JavaScript (or before the bundle ran) never saw it.
                <Route path=path!("/sign-up/finish") view=FinishSignUpPage ssr=SsrMode::Async/>
                <Route path=path!("/forgot-password") view=ForgotPasswordPage/>
                <Route path=path!("/reset-password") view=ResetPasswordPage ssr=SsrMode::Async/>
                <Route path=path!("/this-wasnt-me") view=NotMePage ssr=SsrMode::Async/>
                <Route path=path!("/settings/security") view=SecurityPage ssr=SsrMode::Async/>
                <Route path=path!("/previews") view=PreviewsPage/>
            </Routes>
        </Router>
    }
}

#[component]
fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        res.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Page not found · Gatehouse"/>
        <PageFrame>
            <div class="error-page">
                <h1>"Page not found"</h1>
                <p>"There is nothing at this address."</p>
                // (a page load: see "It was me" on the This wasn't me page)
                <p><a href="/settings/security" rel="external">"Go to Security & Access"</a></p>
            </div>
        </PageFrame>
    }
}
