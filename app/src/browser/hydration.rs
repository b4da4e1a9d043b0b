//! Hydrating the page a section at a time (`components::later::Later`): the tasks that hydrate
//! the sections put off, an executor that holds what hydration starts until they have run, and
//! the clicks that come meanwhile.
//!
//! `hydrate_body` hydrates the page (`leptos::mount::hydrate_body`); each `Later` section met on
//! the way gives `later` its hydration, which runs in a task of its own, in page order (timers of
//! the same delay fire in the order they were set). Until they have all run:
//! - the futures that hydration starts (each effect's first run, among others) are held, then run
//!   in the order they were started, `BATCH` to a task. So a `Later` section is hydrated from the
//!   state the server drew it from: an effect that changes what it shows (Passkeys' "This browser
//!   can't use passkeys") has not run yet, and redraws it once it has;
//! - a click (a tap, or Enter or Space on a button) is held and given again once every section is
//!   hydrated, as a click during a hydration done in one task waited for all of it. Otherwise a
//!   click on a card whose turn had not come would reach no handler and be lost.
//!
//! Then `then` runs (the page is marked hydrated). A page without `Later` sections (every page but
//! Security & Access) hydrates as before: its futures run straight after, in the same task.
use leptos::prelude::*;
use std::cell::{Cell, RefCell};
use std::time::Duration;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

type Held = std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>;

/// Held futures run per task: their first steps are short (an effect's first run), and a few
/// dozen of them stay well inside the 50 ms that make a task long on a slow phone.
const BATCH: usize = 24;

thread_local! {
    /// sections whose hydration has not run yet
    static WAITING: Cell<usize> = const { Cell::new(0) };
    /// while the page hydrates: the futures started meanwhile, not run yet
    static HELD: RefCell<Option<Vec<Held>>> = const { RefCell::new(None) };
    /// clicks that came while sections waited
    static CLICKS: RefCell<Vec<web_sys::HtmlElement>> = const { RefCell::new(Vec::new()) };
    static THEN: RefCell<Option<Box<dyn FnOnce()>>> = const { RefCell::new(None) };
    /// a task running `next` is due (one at a time)
    static NEXT_DUE: Cell<bool> = const { Cell::new(false) };
    /// the click listener is there (installed when the first section is put off)
    static HOLDING_CLICKS: Cell<bool> = const { Cell::new(false) };
}

/// Leptos' executor in the browser (wasm-bindgen's futures, run as microtasks), except that what
/// is started while the page hydrates is held (`HELD`).
struct HoldWhileHydrating;

impl any_spawner::CustomExecutor for HoldWhileHydrating {
    fn spawn(&self, fut: any_spawner::PinnedFuture<()>) {
        self.spawn_local(fut);
    }

    fn spawn_local(&self, fut: any_spawner::PinnedLocalFuture<()>) {
        let Some(fut) = HELD.with(|held| match &mut *held.borrow_mut() {
            Some(held) => {
                held.push(fut);
                None
            }
            None => Some(fut),
        }) else {
            return;
        };
        wasm_bindgen_futures::spawn_local(fut);
    }

    fn poll_local(&self) {}
}

/// Hydrates the page a section at a time, then runs `then`.
pub fn hydrate_body<N: IntoView>(app: impl FnOnce() -> N + 'static, then: impl FnOnce() + 'static) {
    // (set before Leptos would set its own, which it then leaves as it is; `any_spawner` is the
    // copy Leptos uses: app/Cargo.toml)
    let installed = any_spawner::Executor::init_local_custom_executor(HoldWhileHydrating);
    debug_assert!(installed.is_ok(), "the executor that holds what hydration starts was not installed");
    HELD.with(|held| *held.borrow_mut() = Some(Vec::new()));
    leptos::mount::hydrate_body(app);
    if WAITING.with(Cell::get) == 0 {
        // nothing put off: what hydration started runs now, in this task, as it always did
        run(HELD.with(|held| held.borrow_mut().take()).unwrap_or_default());
        then();
        return;
    }
    THEN.with(|t| *t.borrow_mut() = Some(Box::new(then)));
    // (for tests, and anyone curious, as `data-hydrated`: the page's first task has run, and its
    // sections wait for theirs)
    waiting_mark(true);
    next_soon();
}

fn waiting_mark(on: bool) {
    if let Some(html) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.document_element()) {
        let _ = if on { html.set_attribute("data-sections-waiting", "") } else { html.remove_attribute("data-sections-waiting") };
    }
}

/// Runs `hydrate` in a task of its own, after the page's hydration.
pub fn later(hydrate: Box<dyn FnOnce()>) {
    WAITING.with(|w| w.set(w.get() + 1));
    if !HOLDING_CLICKS.replace(true) {
        hold_clicks();
    }
    set_timeout(
        move || {
            hydrate();
            WAITING.with(|w| w.set(w.get() - 1));
            if WAITING.with(Cell::get) == 0 {
                waiting_mark(false);
                for clicked in CLICKS.take() {
                    if clicked.is_connected() {
                        clicked.click();
                    }
                }
                next_soon();
            }
        },
        Duration::ZERO,
    );
}

fn next_soon() {
    if !NEXT_DUE.replace(true) {
        set_timeout(next, Duration::ZERO);
    }
}

/// Once no section waits: the held futures, `BATCH` to a task, in the order they came (what they
/// start is held in turn, after the others); once none is left, `then`.
fn next() {
    NEXT_DUE.set(false);
    if WAITING.with(Cell::get) > 0 {
        return; // (the last one's task asks again)
    }
    let held = HELD.with(|held| match &mut *held.borrow_mut() {
        Some(held) => held.drain(..held.len().min(BATCH)).collect::<Vec<_>>(),
        None => Vec::new(),
    });
    if !held.is_empty() {
        run(held);
        next_soon();
        return;
    }
    HELD.with(|held| *held.borrow_mut() = None);
    if let Some(then) = THEN.with(|t| t.borrow_mut().take()) {
        then();
    }
}

/// Starts held futures, in the order they came.
fn run(held: Vec<Held>) {
    for fut in held {
        wasm_bindgen_futures::spawn_local(fut);
    }
}

/// Holds every click (`CLICKS`) while a section waits: the window's capturing listener, which
/// comes before the page's own (Leptos' are on the elements, or the window's bubbling).
fn hold_clicks() {
    let Some(window) = web_sys::window() else { return };
    let hold = Closure::<dyn Fn(web_sys::Event)>::new(|event: web_sys::Event| {
        if WAITING.with(Cell::get) == 0 || !event.is_trusted() {
            return;
        }
        let Some(clicked) = event.target().and_then(|t| t.dyn_into::<web_sys::HtmlElement>().ok()) else {
            return;
        };
        event.prevent_default();
        event.stop_immediate_propagation();
        CLICKS.with(|c| c.borrow_mut().push(clicked));
    });
    let _ = window.add_event_listener_with_callback_and_bool("click", hold.as_ref().unchecked_ref(), true);
    // (for the page's life: it does nothing once no section waits)
    hold.forget();
}
