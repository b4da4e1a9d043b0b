//! Hydrating the page a section at a time (`components::later::Later`): the tasks that hydrate
//! the sections put off, and an executor that holds what hydration starts until they have run.
//!
//! `hydrate_body` hydrates the page (`leptos::mount::hydrate_body`); each `Later` section met on
//! the way gives `later` its hydration, which runs in a task of its own, in page order (timers of
//! the same delay fire in the order they were set). The futures that hydration starts (each
//! effect's first run, among others) are held until every such task has run, then run in the
//! order they came, `BATCH` to a task, as they would have run straight after a hydration done in
//! one go. So a `Later` section is hydrated from the state the server drew it from: an effect that
//! changes what it shows (Passkeys' "This browser can't use passkeys") has not run yet, and
//! redraws it once it has. Then `then` runs (the page is marked hydrated).
use leptos::prelude::*;
use std::cell::{Cell, RefCell};
use std::time::Duration;

type Held = std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>;

/// Held futures run per task: their first steps are short (an effect's first run), and a few
/// dozen of them stay well inside the 50 ms that make a task long on a slow phone.
const BATCH: usize = 24;

thread_local! {
    /// sections whose hydration has not run yet
    static WAITING: Cell<usize> = const { Cell::new(0) };
    /// while the page hydrates: the futures started meanwhile, not run yet
    static HELD: RefCell<Option<Vec<Held>>> = const { RefCell::new(None) };
    static THEN: RefCell<Option<Box<dyn FnOnce()>>> = const { RefCell::new(None) };
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
    // (set before Leptos would set its own, which it then leaves as it is)
    let _ = any_spawner::Executor::init_local_custom_executor(HoldWhileHydrating);
    HELD.with(|held| *held.borrow_mut() = Some(Vec::new()));
    THEN.with(|t| *t.borrow_mut() = Some(Box::new(then)));
    leptos::mount::hydrate_body(app);
    set_timeout(next, Duration::ZERO);
}

/// Runs `hydrate` in a task of its own, after the page's hydration.
pub fn later(hydrate: Box<dyn FnOnce()>) {
    WAITING.with(|w| w.set(w.get() + 1));
    set_timeout(
        move || {
            hydrate();
            WAITING.with(|w| w.set(w.get() - 1));
            if WAITING.with(Cell::get) == 0 {
                set_timeout(next, Duration::ZERO);
            }
        },
        Duration::ZERO,
    );
}

/// Once no section waits: the held futures, `BATCH` to a task, in the order they came (what they
/// start is held in turn, after the others); once none is left, `then`.
fn next() {
    if WAITING.with(Cell::get) > 0 {
        return; // (the last one's task comes back here)
    }
    let held = HELD.with(|held| match &mut *held.borrow_mut() {
        Some(held) => held.drain(..held.len().min(BATCH)).collect::<Vec<_>>(),
        None => Vec::new(),
    });
    if !held.is_empty() {
        for fut in held {
            wasm_bindgen_futures::spawn_local(fut);
        }
        set_timeout(next, Duration::ZERO);
        return;
    }
    HELD.with(|held| *held.borrow_mut() = None);
    if let Some(then) = THEN.with(|t| t.borrow_mut().take()) {
        then();
    }
}
