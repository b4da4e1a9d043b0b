//! Design-system primitives and the page frame.
//! A form's field and messages are `form`, the in-page confirmation `confirm` (both re-exported
//! here); a section hydrated in a task of its own, `later`.
use leptos::prelude::*;

use crate::model::{Moment, Viewer};
use crate::time_fmt::LocalTime;
use leptos::either::Either;

mod confirm;
mod form;
pub mod later;

pub use confirm::{escape_cancels, sign_out_sessions_choice, signed_out_with_it, ConfirmPanel};
pub(crate) use form::away_after_each_answer;
pub use form::{clear, while_unchanged, ErrorMessage, Field, Redrawing, StatusMessage};

/// Skip link, site header (with the account menu when signed in) and `<main>`.
#[component]
pub fn PageFrame(
    /// The signed-in person; `None` on the sign-in pages.
    #[prop(optional)]
    viewer: Option<Viewer>,
    /// Called by the header's Sign out button.
    #[prop(optional)]
    on_sign_out: Option<Callback<()>>,
    #[prop(optional, into)] signing_out: Signal<bool>,
    children: Children,
) -> impl IntoView {
    view! {
        // rel="external": the browser's own fragment navigation moves focus to <main>; the
        // router's client-side navigation would not.
        <a class="skip-link" href="#main" rel="external">"Skip to content"</a>
        <SiteHeader viewer on_sign_out signing_out/>
        <main id="main" class="page" tabindex="-1">
            {children()}
        </main>
    }
}

/// The top bar: brand, and when signed in the account's email and a Sign out button.
#[component]
pub fn SiteHeader(
    viewer: Option<Viewer>,
    on_sign_out: Option<Callback<()>>,
    #[prop(into)] signing_out: Signal<bool>,
) -> impl IntoView {
    // (not "/": the server sends that on, but the router, which draws a link's page itself, has
    // no page there and drew "Page not found")
    let home = if viewer.is_some() { crate::nav::HOME } else { "/sign-in" };
    view! {
        <header class="site-header">
            <a class="brand" href=home>"Gatehouse"</a>
            {viewer.map(|v| {
                let label = v.display_name.clone().unwrap_or_else(|| v.email.clone());
                let button = view! {
                        <button
                            type="button"
                            class="btn btn-secondary btn-sm"
                            disabled=move || signing_out.get()
                            on:click=move |_| {
                                if let Some(cb) = on_sign_out {
                                    cb.run(())
                                }
                            }
                        >
                            "Sign out"
                        </button>
                };
                let email = view! { <span class="account-email" title=v.email.clone()>{label}</span> };
                // Inside a preview the menu is drawn many times: a group, not more "Account" landmarks.
                if use_context::<PreviewScope>().is_some() {
                    view! { <div class="account-nav" role="group" aria-label="Account">{email}{button}</div> }.into_any()
                } else {
                    view! { <nav class="account-nav" aria-label="Account">{email}{button}</nav> }.into_any()
                }
            })}
        </header>
    }
}

/// A relative time with the exact timestamp on hover.
#[component]
pub fn TimeAgo(moment: Moment) -> impl IntoView {
    let exact = exact_here(&moment);
    // past 30 days it is a date ("on 3 Mar 2026"), which is the reader's day too
    let relative = if crate::time_fmt::is_date(&moment.relative) {
        Either::Left(said_here(&moment.iso, &moment.relative, LocalTime::on_date))
    } else {
        Either::Right(aging(&moment))
    };
    // Focusable, and the exact time shows as a tooltip on hover and on keyboard focus (CSS).
    view! {
        <time datetime=moment.iso title=exact.clone() data-exact=exact tabindex="0">
            {relative}
        </time>
    }
}

/// Half a minute more of the page running in the browser: how many have passed (0 until it runs,
/// and always on the server). Provided by `App`; what says how long ago something was reads it.
#[derive(Clone, Copy)]
pub struct HalfMinutes(pub ReadSignal<u32>);

/// Counts `HalfMinutes` in the browser, for the page's lifetime.
pub fn provide_half_minutes() {
    let (count, set_count) = signal(0u32);
    provide_context(HalfMinutes(count));
    Effect::new(move |_| {
        let handle = set_interval_with_handle(move || set_count.update(|n| *n += 1), std::time::Duration::from_secs(30)).ok();
        on_cleanup(move || {
            if let Some(h) = handle {
                h.clear();
            }
        });
    });
}

/// How long ago `moment` was ("5 minutes ago"): as the server said it, then, once the page has
/// run in the browser for half a minute, said again every half minute from its age then and the
/// browser's clock since, so a page left open does not say "just now" for hours (and the reader's
/// clock being off changes nothing). Past 30 days it becomes the date, on the reader's clock, as
/// the server would have said it then ("on 3 Mar 2026"); previews (no age) never change.
pub fn aging(moment: &Moment) -> impl Fn() -> String + Clone + Send + Sync + 'static {
    let (said, age, iso) = (moment.relative.clone(), moment.age, moment.iso.clone());
    let ticks = use_context::<HalfMinutes>();
    // (when this view was made: in the browser, its age was `age` then, give or take the trip)
    let born = crate::browser::clock::now_seconds();
    move || match (age, ticks.map_or(0, |t| t.0.get())) {
        (Some(age), n) if n > 0 => {
            let since = (crate::browser::clock::now_seconds() - born).max(0.0) as i64;
            crate::time_fmt::within_month(time::Duration::seconds(age.saturating_add(since)))
                .or_else(|| crate::browser::clock::local(&iso).map(|t| t.on_date()))
                .unwrap_or_else(|| said.clone())
        }
        _ => said.clone(),
    }
}

/// `moment`'s exact time on the reader's own clock ("2026-03-03 15:05 UTC+1"): see `said_here`.
pub fn exact_here(moment: &Moment) -> impl Fn() -> String + Clone + Send + Sync + 'static {
    said_here(&moment.iso, &moment.exact, LocalTime::exact)
}

/// The moment `iso` said by `say` on the reader's own clock once the page runs in their browser;
/// `utc`, as the server wrote it, until then (the server's page, and while the browser takes it
/// over, which must find the server's text).
pub fn said_here(iso: &str, utc: &str, say: fn(&LocalTime) -> String) -> impl Fn() -> String + Clone + Send + Sync + 'static {
    let (utc, iso) = (utc.to_string(), iso.to_string());
    let local = RwSignal::new(None::<String>);
    Effect::new(move |_| local.set(crate::browser::clock::local(&iso).map(|t| say(&t))));
    // (try_get: a row drawn anew may read once more after its owner is gone)
    move || local.try_get().flatten().unwrap_or_else(|| utc.clone())
}

/// Set by the previews page around each example, so ids stay unique and sections do not become
/// duplicate landmarks when a component is drawn many times on one page.
#[derive(Clone, Debug)]
pub struct PreviewScope(pub String);

/// `id`, prefixed inside a preview.
pub fn scoped_id(id: &str) -> String {
    match use_context::<PreviewScope>() {
        Some(PreviewScope(p)) => format!("{p}-{id}"),
        None => id.to_string(),
    }
}

/// A section card titled by an `<h2>`: a named region on a page, a plain group inside a preview.
#[component]
pub fn Card(
    /// The section's id (so `/settings/security#connected-accounts` lands on it), and the base for
    /// the heading's.
    id: &'static str,
    title: &'static str,
    /// Extra content beside the title (badges, actions).
    #[prop(optional)]
    header_extra: Option<ViewFn>,
    children: Children,
) -> impl IntoView {
    let section_id = scoped_id(id);
    let heading_id = scoped_id(&format!("{id}-heading"));
    let header = view! {
        <div class="card-header">
            <h2 id=heading_id.clone()>{title}</h2>
            {header_extra.map(|f| f.run())}
        </div>
    };
    if use_context::<PreviewScope>().is_some() {
        view! { <div class="card" id=section_id role="group" aria-labelledby=heading_id>{header}{children()}</div> }.into_any()
    } else {
        view! { <section class="card" id=section_id aria-labelledby=heading_id>{header}{children()}</section> }.into_any()
    }
}

/// A panel that opens in place of the button that opened it (which takes the focus with it, to
/// the page) takes the keyboard focus once drawn: the element with the id `id`, which must be
/// focusable (`tabindex="-1"` for a group, so a screen reader reads its name and then its content
/// in order). Not in a preview, where many are drawn at once.
pub fn focus_when_drawn(id: String) {
    if use_context::<PreviewScope>().is_none() {
        Effect::new(move |_| {
            let id = id.clone();
            request_animation_frame(move || crate::browser::dom::focus(&id));
        });
    }
}

/// A modal dialog's focus, for the dialog whose element has the id `dialog` (unique per dialog):
/// once it is on the page, everything else is inert (`dom::isolate`: Tab and a screen reader stay
/// in the dialog) and `focus_in` moves focus into it; when it closes, the page is live again and
/// focus goes back to what had it when the dialog opened (`dom::mark_focus`, `dom::return_focus`).
/// (A dialog drawn in a preview, one of many on that page, leaves the page live and takes no focus:
/// each took it in turn, and the page scrolled to the last one.)
pub fn dialog_focus(dialog: String, focus_in: impl Fn() + 'static) {
    if use_context::<PreviewScope>().is_some() {
        return;
    }
    let back = dialog.clone();
    Effect::new(move |_| {
        crate::browser::dom::mark_focus(&dialog);
        crate::browser::dom::isolate(&dialog);
        focus_in()
    });
    on_cleanup(move || {
        crate::browser::dom::release(&back);
        crate::browser::dom::return_focus(&back);
    });
}
