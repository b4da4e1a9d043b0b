//! Recent security activity: the account's security events of the last 90 days, newest first, a
//! page at a time (keyset: "Show more" asks for the events older than the last one shown), filtered
//! by kind, and downloadable as CSV and JSON (the server's /settings/security/activity.{csv,json}).
use leptos::prelude::*;

use super::context::SecurityContext;
use crate::components::{Card, ErrorMessage};
use crate::error::AppError;
use crate::model::{ActivityPageView, ActivityView, ACTIVITY_FILTERS};

/// A page of the signed-in account's security events: `filter` is one of the list's groups (empty:
/// all), `before` the previous page's `next` (empty: the newest page).
///
/// - Auth: signed in (only this account's events, whatever the cursor says).
/// - Effects: none.
/// - Errors: `NotSignedIn`; `Invalid { field: "before" | "filter" }` for a cursor or filter the
///   list did not make; `Unavailable`.
#[server(prefix = "/api", endpoint = "security/activity")]
pub async fn get_activity(filter: String, before: String) -> Result<ActivityPageView, AppError> {
    use crate::server::{auth_for_setup, fail, reject, services};
    let session = auth_for_setup().map_err(reject)?;
    let svc = services()?;
    let filter = parse_filter(&filter).map_err(fail)?;
    let before = Some(before.as_str()).filter(|b| !b.is_empty());
    let page = domain::auth::activity::list(&svc, &session, filter, before).await.map_err(fail)?;
    Ok(ActivityPageView::new(page, svc.clock.now()))
}

/// The group a filter names (empty: every kind).
#[cfg(feature = "ssr")]
pub fn parse_filter(filter: &str) -> Result<Option<domain::kinds::ActivityFilter>, domain::DomainError> {
    if filter.is_empty() {
        return Ok(None);
    }
    domain::kinds::ActivityFilter::parse(filter)
        .map(Some)
        .ok_or(domain::DomainError::Invalid(domain::error::Invalid::ActivityFilter))
}

/// The query parameter of the page's address that names the activity list's filter.
pub const FILTER_IN_ADDRESS: &str = "activity";

/// The section: its filter, the first page (reloaded after every change on the page), and the
/// older pages "Show more" added.
#[derive(Clone, Copy)]
pub struct ActivitySection {
    filter: RwSignal<String>,
    /// The first page of a filter; `None` for every kind, whose first page comes with the page's
    /// overview (one read for the whole page).
    first: crate::resource::PageResource<Result<Option<ActivityPageView>, AppError>>,
    ctx: SecurityContext,
    more: ServerAction<GetActivity>,
    /// The first page and the older ones "Show more" added.
    events: Signal<Vec<ActivityView>>,
    /// There are older events than those shown.
    has_more: Signal<bool>,
    error: Signal<Option<String>>,
    on_filter: Callback<String>,
    on_more: Callback<()>,
    on_download: Callback<String>,
    on_retry: Callback<()>,
    /// Try again asked a filter's page again, and its answer has not come yet.
    retrying: RwSignal<bool>,
    /// A filter was chosen: the card its page brings says how many events it shows (see
    /// `ActivityCard`'s `announce`).
    announce: RwSignal<bool>,
}

impl ActivitySection {
    pub fn new() -> Self {
        let ctx = expect_context::<SecurityContext>();
        // The filter the address names (`?activity=sign_ins`, written there when one is chosen): a
        // reload, Back to the page, or the address sent on shows the same list, as a security
        // log's filter does. One the list does not have leaves the address, and the list shows
        // every kind.
        let named = leptos_router::hooks::use_query_map().with_untracked(|q| q.get(FILTER_IN_ADDRESS));
        let known = named.clone().filter(|f| !f.is_empty() && ACTIVITY_FILTERS.iter().any(|(v, _)| v == f));
        if named.is_some() && known.is_none() {
            Effect::new(|_| crate::browser::dom::forget_in_address(&[FILTER_IN_ADDRESS]));
        }
        let filter = RwSignal::new(known.clone().unwrap_or_default());
        // Every kind's first page comes with the page's overview (read with it, at the page's load
        // and after each change); once another filter was chosen, coming back to every kind
        // fetches it afresh like any filter, so it is never older than what a filter shows.
        let filtered = StoredValue::new(known.is_some());
        // ("Try again" after a filter's page failed: the same filter, asked again; `retrying` until
        // its answer comes, which disables Try again)
        let retry = RwSignal::new(0u32);
        let retrying = RwSignal::new(false);
        let first = crate::resource::page_resource(move || (filter.get(), ctx.changes(), retry.get()), move |(f, _, _)| async move {
            if f.is_empty() && !filtered.get_value() {
                Ok(None)
            } else {
                let page = get_activity(f, String::new()).await.map(Some);
                retrying.try_set(false);
                page
            }
        });
        let more = ServerAction::<GetActivity>::new();
        ctx.leave_when_signed_out(*more);
        let older = RwSignal::new(Vec::<ActivityView>::new());
        // after "Show more": the cursor its page gave (None: that was the last page)
        let next = RwSignal::new(None::<Option<String>>);
        let first_page = move || match first.get()? {
            Ok(Some(page)) => Some(page),
            Ok(None) => ctx.shown.with(|o| o.as_ref().map(|o| o.activity.clone())),
            Err(_) => None,
        };
        let events = Signal::derive(move || {
            let mut all = first_page().map(|p| p.events).unwrap_or_default();
            all.extend(older.get());
            all
        });
        let cursor = Signal::derive(move || next.get().unwrap_or_else(|| first_page().and_then(|p| p.next)));
        let has_more = Signal::derive(move || cursor.get().is_some());
        // A filter's first page that failed (offline, say) leaves the card, its filter and its
        // downloads where they were, saying so with "Try again" (it replaced the whole card with
        // the sentence alone, and only a reload brought it back); so does a "Show more" that failed.
        let first_failed = Signal::derive(move || matches!(first.get(), Some(Err(_))));
        let error = Signal::derive(move || {
            let first = first.get().and_then(|r| r.err());
            first.or_else(|| more.value().get().and_then(|r| r.err())).filter(|e| *e != AppError::NotSignedIn).map(|e| e.to_string())
        });
        let announce = RwSignal::new(false);
        let on_filter = Callback::new(move |f: String| {
            filtered.set_value(true);
            announce.set(true);
            crate::browser::dom::set_in_address(FILTER_IN_ADDRESS, Some(&f));
            filter.set(f)
        });
        // the filter and cursor the last "Show more" asked with: its answer is added only while the
        // list still ends there (not after another filter or a new first page came meanwhile)
        let asked = StoredValue::new(None::<(String, String)>);
        let on_more = Callback::new(move |_| {
            if let Some(before) = cursor.get_untracked() {
                let f = filter.get_untracked();
                asked.set_value(Some((f.clone(), before.clone())));
                more.dispatch(GetActivity { filter: f, before });
            }
        });
        // (every signal and callback lives as long as the page's visit, not one drawing of it: the
        // card is drawn again after each change while the old drawing may still be reading them)
        // A download asked for: to sign-in ("You were signed out of this device") when this
        // session has ended elsewhere, as every other action of the page does. (A plain link would
        // save whatever came back: the sign-in page, as "sign-in.html".)
        let on_download = Callback::new(move |href: String| {
            leptos::task::spawn_local(async move {
                match crate::auth_api::current_session().await {
                    Ok(None) => ctx.ended(),
                    _ => crate::browser::dom::download(&href),
                }
            });
        });
        // so does another filter's first page
        Effect::new(move |_| {
            if let Some(Err(AppError::NotSignedIn)) = first.get() {
                ctx.ended();
            }
        });
        let on_retry = Callback::new(move |_| {
            if first_failed.get_untracked() {
                retrying.set(true);
                retry.update(|n| *n += 1);
            } else {
                on_more.run(());
            }
        });
        let section = ActivitySection { filter, first, ctx, more, events, has_more, error, on_filter, on_more, on_download, on_retry, retrying, announce };
        // a new first page (another filter, or a change: the overview's page too) starts the list
        // again
        Effect::new(move |_| {
            first.track();
            ctx.shown.track();
            older.set(Vec::new());
            next.set(None);
            more.value().set(None);
        });
        Effect::new(move |_| {
            if let Some(Ok(page)) = more.value().get() {
                let still = cursor.get_untracked().map(|c| (filter.get_untracked(), c));
                if asked.get_value() == still {
                    older.update(|o| o.extend(page.events));
                    next.set(Some(page.next));
                }
            }
        });
        section
    }

    pub fn view(self) -> impl IntoView {
        let ActivitySection { filter, first, ctx, more, events, has_more, error, on_filter, on_more, on_download, on_retry, retrying, announce } = self;
        view! {
            <Transition fallback=|| view! { <ActivitySkeleton/> }>
                {move || Suspend::new(async move {
                    // (a filter's page that failed: the card stays, saying so: `error`)
                    if let Ok(None) = first.await {
                        // every kind's first page is the overview's, once it comes (one that
                        // failed is the page's to say: at first it draws no sections, and after
                        // a change it keeps what was on screen, this list too, and says so above)
                        let _ = ctx.first_answer().await;
                    }
                    view! {
                        <ActivityCard
                            events
                            has_more
                            filter=filter
                            pending=Signal::derive({
                                let more = more.pending();
                                move || more.get() || retrying.get()
                            })
                            error
                            on_filter
                            on_more
                            on_download
                            on_retry
                            announce
                        />
                    }
                })}
            </Transition>
        }
    }
}

#[component]
fn ActivitySkeleton() -> impl IntoView {
    view! {
        <Card id="activity" title="Recent security activity">
            <p class="skeleton" aria-busy="true">"Loading recent activity…"</p>
        </Card>
    }
}

/// Where a download of the list (with its filter) is.
fn download_href(format: &str, filter: &str) -> String {
    if filter.is_empty() {
        format!("/settings/security/activity.{format}")
    } else {
        format!("/settings/security/activity.{format}?filter={filter}")
    }
}

#[component]
pub fn ActivityCard(
    #[prop(into)] events: Signal<Vec<ActivityView>>,
    /// There are older events ("Show more").
    #[prop(into)]
    has_more: Signal<bool>,
    /// The chosen group ("" for all).
    #[prop(into)]
    filter: Signal<String>,
    #[prop(into)] pending: Signal<bool>,
    #[prop(optional, into)] error: Signal<Option<String>>,
    on_filter: Callback<String>,
    on_more: Callback<()>,
    /// Runs with a download's address instead of the link's own download (the page checks the
    /// session first); without it (previews) the links download as they are.
    #[prop(optional)]
    on_download: Option<Callback<String>>,
    /// Asks again for what failed (`error`): a filter's first page, or "Show more"'s.
    #[prop(optional)]
    on_retry: Option<Callback<()>>,
    /// Set when a filter was chosen: this card, drawn with its page, says how many events it
    /// shows, and takes the flag (the page's other redraws, after any change on it, draw a card
    /// that says nothing).
    #[prop(optional)]
    announce: Option<RwSignal<bool>>,
) -> impl IntoView {
    let download = move |format: &'static str| {
        move |ev: leptos::ev::MouseEvent| {
            let plain = !(ev.ctrl_key() || ev.meta_key() || ev.shift_key() || ev.alt_key());
            if let (Some(run), true) = (on_download, plain) {
                ev.prevent_default();
                run.run(download_href(format, &filter.get_untracked()));
            }
        }
    };
    let select_id = crate::components::scoped_id("activity-filter");
    let label_for = select_id.clone();
    let list_id = crate::components::scoped_id("activity-list");
    // "Show more"'s last page takes the button away: the keyboard goes on at the first event it
    // added (it fell to the section's heading, and the new events had to be found again). While
    // older pages remain, it goes back to the button (disabled while the page loaded, it had
    // dropped the focus to the page). (How many were shown when it was pressed.)
    let more_from = RwSignal::new(None::<usize>);
    let more_id = crate::components::scoped_id("activity-more");
    Effect::new({
        let (list_id, more_id) = (list_id.clone(), more_id.clone());
        move |_| {
            let Some(before) = more_from.get() else { return };
            if events.with(Vec::len) > before {
                more_from.set(None);
                if !has_more.get_untracked() {
                    crate::browser::dom::focus_list_item(&list_id, before);
                } else {
                    // (once it is enabled again, in the same update)
                    let id = more_id.clone();
                    request_animation_frame(move || crate::browser::dom::focus_if_lost(&id));
                }
            }
        }
    });
    // What a screen reader hears when a filter or "Show more" changes the list (the page's first
    // drawing announces nothing): how many events it shows now. Only after one of them here: the
    // card is drawn again after any change on the page, and said "20 events shown" over that
    // change's own sentence. (`try_`: see the list below.)
    let asked = RwSignal::new(announce.is_some_and(|a| a.get_untracked()));
    if let Some(a) = announce {
        a.set(false);
    }
    let shown_count = move || {
        if !asked.try_get().unwrap_or_default() {
            return String::new();
        }
        let n = events.try_with(Vec::len).unwrap_or_default();
        let older = if has_more.try_get().unwrap_or_default() { "; older ones under Show more" } else { "" };
        match n {
            0 => "No events shown.".to_string(),
            1 => format!("1 event shown{older}."),
            n => format!("{n} events shown{older}."),
        }
    };
    view! {
        <Card id="activity" title="Recent security activity">
            <p class="muted">"Sign-ins, sessions ended and changes to how you sign in, over the last 90 days. Locations are approximate."</p>
            <div class="activity-tools">
                <div class="activity-filter">
                    <label for=label_for>"Show"</label>
                    <select id=select_id on:change=move |ev| { asked.set(true); more_from.set(None); on_filter.run(event_target_value(&ev)) }>
                        {ACTIVITY_FILTERS
                            .iter()
                            .map(|(value, label)| view! {
                                <option value=*value selected=move || filter.get() == *value>{*label}</option>
                            })
                            .collect_view()}
                    </select>
                </div>
                <div class="activity-downloads">
                    <a class="btn btn-secondary btn-sm" href=move || download_href("csv", &filter.get()) download="" on:click=download("csv")>"Download CSV"</a>
                    <a class="btn btn-secondary btn-sm" href=move || download_href("json", &filter.get()) download="" on:click=download("json")>"Download JSON"</a>
                </div>
            </div>
            <ErrorMessage message=error/>
            // (`try_`: as the list below)
            {move || on_retry.filter(|_| error.try_with(Option::is_some).unwrap_or_default()).map(|retry| view! {
                <p><button type="button" class="btn btn-secondary btn-sm" disabled=move || pending.try_get().unwrap_or_default()
                    on:click=move |_| retry.run(())>"Try again"</button></p>
            })}
            <p class="visually-hidden" aria-live="polite">{shown_count}</p>
            {move || {
                let list = events.get();
                if list.is_empty() && error.try_with(Option::is_some).unwrap_or_default() {
                    // (nothing came: not "no activity")
                    ().into_any()
                } else if list.is_empty() {
                    // (`try_get`: when a filter's page answers that the session ended, this runs once
                    // more after the card it belongs to was replaced, and its `filter` is gone)
                    let text = if filter.try_get().unwrap_or_default().is_empty() {
                        "No security activity in the last 90 days."
                    } else {
                        "No activity of this kind in the last 90 days."
                    };
                    view! { <p class="empty">{text}</p> }.into_any()
                } else {
                    view! {
                        <ol class="activity-list" id=list_id.clone() aria-label="Security events, newest first">
                            {list.into_iter().map(|a| view! { <ActivityRow activity=a/> }).collect_view()}
                        </ol>
                    }.into_any()
                }
            }}
            <Show when=move || has_more.get()>
                <div class="card-footer">
                    <button type="button" id=more_id.clone() class="btn btn-secondary" disabled=move || pending.try_get().unwrap_or_default() on:click=move |_| {
                        asked.set(true);
                        more_from.set(Some(events.with_untracked(Vec::len)));
                        on_more.run(())
                    }>
                        {move || if pending.try_get().unwrap_or_default() { "Loading…" } else { "Show more" }}
                    </button>
                </div>
            </Show>
        </Card>
    }
}

#[component]
fn ActivityRow(activity: ActivityView) -> impl IntoView {
    // The exact time is on the line, as a security log's times are, so the list is no longer a tab
    // stop per row for a tooltip; past 30 days it is the whole of it, not "on 3 Mar 2026 ·
    // 2026-03-03 09:05 UTC". It is on the reader's own clock once their browser runs the page.
    let at = activity.at.clone();
    let exact = crate::components::exact_here(&at);
    let exact_alone = exact.clone();
    let relative = crate::components::aging(&at);
    // (dated by the server, or aged past 30 days on the open page: its exact time alone)
    let is_dated = {
        let relative = relative.clone();
        move || crate::time_fmt::is_date(&relative())
    };
    let dated_now = is_dated.clone();
    let when = move || if is_dated() { exact_alone() } else { relative() };
    let exact_after = move || (!dated_now()).then(|| format!(" · {}", exact()));
    view! {
        <li class="activity-row" data-kind=activity.kind.clone()>
            <p class="activity-sentence">{activity.sentence.clone()}</p>
            // (what was not known is left out: a sign-out recorded before its device was, a demo
            // account made at start-up)
            <p class="activity-meta">
                <time datetime=at.iso>{when}</time>
                {exact_after}
                {(!activity.device.is_empty()).then(|| view! { " · " <span title=activity.user_agent.clone()>{activity.device.clone()}</span> })}
                {(!activity.location.is_empty()).then(|| format!(" · {}", activity.location))}
                {(!activity.ip.is_empty()).then(|| format!(" · {}", activity.ip))}
            </p>
        </li>
    }
}
