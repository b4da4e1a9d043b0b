//! The HTML shell, the router and the not-found page.
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

use crate::components::PageFrame;
use crate::previews::PreviewsPage;
use crate::security::SecurityPage;
use crate::sign_in::links::{FinishSignUpPage, ForgotPasswordPage, ResetPasswordPage};
use crate::sign_in::not_me::NotMePage;
use crate::sign_in::{SignInPage, SignUpPage};

/// The document around the app, rendered on the server for every page. `stylesheet` is its URL
/// path: `/pkg/gatehouse.css` in a development build, named after its content in a release build
/// (the server reads the name from the build's `hash.txt` once, at start-up, where Leptos'
/// `HashedStylesheet` read the file on every page).
pub fn shell(options: LeptosOptions, stylesheet: String) -> impl IntoView {
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
                <link rel="stylesheet" href=stylesheet/>
                <link rel="icon" type="image/svg+xml" href="/favicon.svg"/>
                <HoldFormsUntilHydrated/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Holds back a form sent before the page is hydrated (Enter in the password field while the
/// bundle still loads): the forms are sent by the app, and the browser's own submission would put
/// every field, the password too, in the URL. Once hydrated (`frontend` marks `<html
/// data-hydrated>`) the app's own handlers take over.
#[component]
fn HoldFormsUntilHydrated() -> impl IntoView {
    let code = r#"document.addEventListener("submit", (event) => { if (!document.documentElement.hasAttribute("data-hydrated")) event.preventDefault(); }, true);"#;
    view! { <script type="module" nonce=use_nonce()>{code}</script> }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Router>
            <Routes fallback=NotFound>
                <Route path=path!("/sign-in") view=SignInPage/>
                <Route path=path!("/sign-up") view=SignUpPage/>
                <Route path=path!("/sign-up/finish") view=FinishSignUpPage/>
                <Route path=path!("/forgot-password") view=ForgotPasswordPage/>
                <Route path=path!("/reset-password") view=ResetPasswordPage/>
                <Route path=path!("/this-wasnt-me") view=NotMePage/>
                <Route path=path!("/settings/security") view=SecurityPage/>
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
                <p><a href="/settings/security">"Go to Security & Access"</a></p>
            </div>
        </PageFrame>
    }
}
