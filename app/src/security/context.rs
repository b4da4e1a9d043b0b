//! What the Security & Access page shares with its sections, through Leptos context: the overview
//! every section draws from (and the way to reload it), the page's Sign out, and the
//! re-verification gate. `SecurityPage` provides it; a section takes it with
//! `expect_context::<SecurityContext>()`.
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use super::overview::get_security_overview;
use crate::auth_api::SignOut;
use crate::error::AppError;
use crate::model::SecurityOverview;

/// Sign-in, saying "You were signed out of this device", then back to this page.
pub const SIGNED_OUT_ELSEWHERE: &str = "/sign-in?return_to=%2Fsettings%2Fsecurity&ended=1";

#[derive(Clone, Copy)]
pub struct SecurityContext {
    /// Everything the page shows, for the signed-in account (reloaded by `refresh`).
    pub overview: crate::resource::PageResource<Result<SecurityOverview, AppError>>,
    /// The newest overview read: what the sections draw (a reload that failed keeps the one on
    /// screen, and the page says so).
    pub shown: Memo<Option<SecurityOverview>>,
    /// What the overview is keyed on: one more after each successful change.
    changes: RwSignal<u32>,
    /// The `changes` of the last reading that answered.
    answered_for: StoredValue<u32>,
    /// From a change's `refresh` until the page has drawn the reading after it (`drawn`).
    redrawing: RwSignal<bool>,
    /// Sign out (the header's and the Sessions section's Sign out).
    pub sign_out: ServerAction<SignOut>,
    /// Asks the person to confirm it is them before a sensitive change.
    pub reverify: ReverifyGate,
    /// The Password section's form is open (another section may open it: "No, secure my account").
    pub password_open: RwSignal<bool>,
    /// The Password form, while open, takes the keyboard focus when it appears (also after the
    /// overview reloads and redraws it).
    pub password_focus: RwSignal<bool>,
}

impl SecurityContext {
    /// Makes the page's shared pieces and provides them to its sections.
    pub fn provide() -> Self {
        let changes = RwSignal::new(0u32);
        // the `changes` of the last reading that answered (set just before its answer is the
        // resource's value)
        let answered_for = StoredValue::new(0u32);
        let overview = crate::resource::page_resource(move || changes.get(), move |n| async move {
            let answer = get_security_overview().await;
            answered_for.try_set_value(n);
            answer
        });
        // Between a change's answer and the page's drawing of its reading after it, what the change
        // says waits (`StatusMessage`): drawn at once, it was drawn again with the section a moment
        // later, the focus went to each, and a screen reader said it two or three times. Now it is
        // drawn once, in the section as the change left it (see `drawn`).
        let redrawing = RwSignal::new(false);
        provide_context(crate::components::Redrawing(redrawing.into()));
        let ctx = SecurityContext {
            overview,
            // (the resource's value read as its inner `AsyncDerived`: the resource's own reader
            // warns, in debug builds, of a read outside a Transition, which this memo is, though
            // everything that reads the memo is inside the page's)
            shown: Memo::new(move |shown: Option<&Option<SecurityOverview>>| match (*overview).get() {
                Some(Ok(o)) => Some(o),
                _ => shown.cloned().flatten(),
            }),
            changes,
            answered_for,
            redrawing,
            sign_out: ServerAction::new(),
            reverify: ReverifyGate { waiting: RwSignal::new(None) },
            password_open: RwSignal::new(false),
            password_focus: RwSignal::new(false),
        };
        provide_context(ctx);
        ctx
    }

    /// The overview's first answer, awaited without subscribing to it: a `Suspend` that draws
    /// from it is not run again by the reloads after each change (what it drew follows `shown`).
    /// Transition still waits for it on the server and while hydrating.
    pub fn first_answer(&self) -> impl std::future::Future<Output = Result<SecurityOverview, AppError>> + Send + 'static {
        Untracked(std::future::IntoFuture::into_future(self.overview))
    }

    /// Opens Change password (or Set password) and moves the keyboard focus to its first field.
    pub fn open_password(&self) {
        self.password_open.set(true);
        self.password_focus.set(true);
    }

    /// How many changes succeeded so far (sections that load their own data reload on it).
    pub fn changes(&self) -> u32 {
        self.changes.get()
    }

    /// Reloads the overview (after a change that succeeded). The page draws the sections whose
    /// part of it changed anew, and the focus goes to what the changed section says
    /// (`dom::focus_changed_section`, called by `drawn`). Nothing once the page is gone (a change's
    /// answer that came after the person left: its future runs on).
    pub fn refresh(&self) {
        if self.changes.is_disposed() {
            return;
        }
        crate::browser::dom::remember_changed_section();
        self.redrawing.set(true);
        self.changes.update(|n| *n += 1);
    }

    /// The overview answered and the page drew what it changed (the page calls it a frame after
    /// each answer): what a change says is drawn now, in the section's new drawing, and the focus
    /// goes to it (`dom::focus_changed_section`). An answer for an earlier reading changes nothing.
    pub fn drawn(&self) {
        // (in a frame that may come after the page is gone)
        let (Some(asked), Some(answered)) = (self.changes.try_get_untracked(), self.answered_for.try_get_value()) else { return };
        if asked == answered {
            self.redrawing.try_set(false);
            crate::browser::dom::focus_changed_section();
        }
    }

    /// A change (see [`Change`]).
    pub fn change<S>(&self) -> Change<S>
    where
        S: ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
        S::Output: Clone + Send + Sync + 'static,
    {
        self.change_when(false)
    }

    /// A change on one item of a list (revoke, rename, remove, disconnect): the overview is read
    /// again after `NotFound` too, what it acted on being gone (ended or removed in another tab or
    /// browser), so the list is drawn again without it, beside the section's sentence
    /// (`shown_error_or_gone`); and after a refusal to remove the only way left to sign in, which
    /// the page showed as one of two (the other removed elsewhere).
    pub fn change_or_gone<S>(&self) -> Change<S>
    where
        S: ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
        S::Output: Clone + Send + Sync + 'static,
    {
        self.change_when(true)
    }

    fn change_when<S>(&self, or_gone: bool) -> Change<S>
    where
        S: ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
        S::Output: Clone + Send + Sync + 'static,
    {
        let ctx = *self;
        Action::new(move |input: &S| {
            let sent = S::run_on_client(input.clone());
            async move {
                let answer = sent.await;
                // (before the answer is the action's value, so nothing drawn from the value comes
                // before `redrawing`)
                match &answer {
                    Ok(_) => ctx.refresh(),
                    Err(AppError::NotFound) if or_gone => ctx.refresh(),
                    Err(AppError::Invalid { field, .. }) if or_gone && field == crate::error::LAST_SIGN_IN_METHOD => ctx.refresh(),
                    // (the session ended elsewhere: see `ended`)
                    Err(AppError::NotSignedIn) => ctx.ended(),
                    _ => {}
                }
                answer
            }
        })
    }

    /// When `action` finds this session ended elsewhere (signed out, revoked, its password changed
    /// on another device), the page goes to sign-in ("You were signed out of this device"), as a
    /// reload would, instead of showing "Please sign in to continue." beside the button.
    pub fn leave_when_signed_out<S>(&self, action: Change<S>)
    where
        S: ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
        S::Output: Clone + Send + Sync + 'static,
    {
        let ctx = *self;
        Effect::new(move |_| {
            if let Some(Err(AppError::NotSignedIn)) = action.value().get() {
                ctx.ended();
            }
        });
    }

    /// The session ended elsewhere: to sign-in, which says so. (Straight there: reloading the
    /// overview first, which then answers `NotSignedIn` as well, redrew the page as it went, and a
    /// section's old drawing read a value Leptos had already disposed of: a panic in the browser.)
    pub fn ended(&self) {
        crate::browser::dom::go_to(SIGNED_OUT_ELSEWHERE);
    }
}

/// A change made from the page: its server function, and, once it succeeded (a change on an item of
/// a list, `change_or_gone`: also when the item was gone), the overview read again, begun before the
/// answer is the action's value. The page then draws the sections whose part changed anew, and
/// what the change says (`StatusMessage`) waits for that drawing (`redrawing`): drawn at once, it
/// was drawn again with the section a moment later, the focus went to each, and a screen reader
/// said it two or three times.
pub type Change<S> = Action<S, Result<<S as ServerFn>::Output, AppError>>;

/// Re-verification ("sudo mode"): a sensitive change that answers `ReverifyRequired` asks the
/// person to confirm it is them (the dialog is open while one waits), then carries on with it.
#[derive(Clone, Copy)]
pub struct ReverifyGate {
    /// What to run once the person has confirmed; `Some` while the dialog is open.
    waiting: RwSignal<Option<Callback<()>>>,
}

impl ReverifyGate {
    /// Opens the dialog; `again` runs once the person has confirmed it is them.
    pub fn ask(&self, again: Callback<()>) {
        self.waiting.set(Some(again));
    }

    /// The dialog is open (tracked).
    pub fn is_open(&self) -> bool {
        self.waiting.with(Option::is_some)
    }

    /// The person confirmed: closes the dialog and carries on with what was waiting.
    pub fn confirmed(&self) {
        if let Some(again) = self.waiting.get_untracked() {
            self.waiting.set(None);
            again.run(());
        }
    }

    /// Closes the dialog; what was waiting is dropped.
    pub fn cancel(&self) {
        self.waiting.set(None);
    }
}

/// A sensitive request: an action that keeps what it last sent, so that when the answer is
/// `ReverifyRequired` the gate can ask and then send the same again.
pub struct Sensitive<S: ServerFn + 'static> {
    pub action: Change<S>,
    last: StoredValue<Option<S>>,
}

impl<S: ServerFn + 'static> Clone for Sensitive<S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S: ServerFn + 'static> Copy for Sensitive<S> {}

impl<S> Sensitive<S>
where
    S: ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
{
    /// One that changes nothing the page shows by itself (Connect, which leaves for the provider;
    /// the start of a setup, which opens its panel; Sign out everywhere, which leaves the page).
    pub fn new(gate: ReverifyGate) -> Self {
        Self::of(gate, Action::new(|input: &S| S::run_on_client(input.clone())))
    }

    /// A sensitive change, made by `SecurityContext::change` or `change_or_gone`.
    pub fn of(gate: ReverifyGate, action: Change<S>) -> Self {
        let last = StoredValue::new(None::<S>);
        Effect::new(move |_| {
            if let Some(Err(AppError::ReverifyRequired)) = action.value().get() {
                gate.ask(Callback::new(move |_| {
                    if let Some(input) = last.get_value() {
                        action.dispatch(input);
                    }
                }));
            }
        });
        Sensitive { action, last }
    }

    /// Sends `input`, and keeps it to send again after re-verification.
    pub fn dispatch(&self, input: S) {
        self.last.set_value(Some(input.clone()));
        self.action.dispatch(input);
    }
}

/// An action's error for the section, except `ReverifyRequired` (the dialog answers that).
pub fn shown_error<T: Clone + Send + Sync + 'static>(value: Option<Result<T, AppError>>) -> Option<String> {
    value.and_then(|r| r.err()).filter(|e| *e != AppError::ReverifyRequired).map(|e| e.to_string())
}

/// `shown_error`, with the section's own sentence for `NotFound`: what the button acted on was
/// ended or removed meanwhile, in another tab or browser ("We couldn't find that." said nothing
/// of the kind; a `change_or_gone` redraws the list without it).
pub fn shown_error_or_gone<T: Clone + Send + Sync + 'static>(value: Option<Result<T, AppError>>, gone: &str) -> Option<String> {
    match value {
        Some(Err(AppError::NotFound)) => Some(gone.to_string()),
        value => shown_error(value),
    }
}

/// A refusal to remove the only way left to sign in: a section closes the confirmation that asked
/// for it (nothing in it can succeed now, and the overview's reload shows the row's button off with
/// its reason) and keeps the sentence in a `RefusedLastMethod` of its own, since closing a panel
/// clears the action's answer. (In the sections' own effects, and this one type for all of them:
/// each effect is its own copy of the framework's code in the browser bundle.)
#[derive(Clone, Copy)]
pub struct RefusedLastMethod(RwSignal<Option<String>>);

impl RefusedLastMethod {
    /// Kept until a panel of the section opens again (`forget`), the section's next request, or
    /// the overview says `removable` again (a password set meanwhile in another section).
    pub fn new(removable: fn(&SecurityOverview) -> bool) -> Self {
        let kept = RwSignal::new(None::<String>);
        // (the overview that lands right after the refusal says not removable: that is why)
        let shown = expect_context::<SecurityContext>().shown;
        Effect::new(move |_| {
            if shown.with(|o| o.as_ref().is_some_and(removable)) && kept.with_untracked(Option::is_some) {
                kept.set(None);
            }
        });
        RefusedLastMethod(kept)
    }

    /// When `answer` is that refusal: keeps its sentence and moves the keyboard to it (it was in
    /// the panel the caller closes), and answers true.
    pub fn keep<T>(self, answer: &Option<Result<T, AppError>>) -> bool {
        let Some(Err(refusal @ AppError::Invalid { field, .. })) = answer else { return false };
        if field != crate::error::LAST_SIGN_IN_METHOD {
            return false;
        }
        let sentence = refusal.to_string();
        self.0.set(Some(sentence.clone()));
        // (after the panel's removal, and the return of the focus it held to the panel's opener)
        request_animation_frame(move || request_animation_frame(move || crate::browser::dom::focus_sentence_in_section(&sentence)));
        true
    }

    pub fn forget(self) {
        if self.0.with_untracked(Option::is_some) {
            self.0.set(None);
        }
    }

    pub fn get(self) -> Option<String> {
        self.0.get()
    }
}

/// A future polled without a reactive observer: awaiting it subscribes nothing.
struct Untracked<F>(F);

impl<F: std::future::Future + Unpin> std::future::Future for Untracked<F> {
    type Output = F::Output;

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<F::Output> {
        untrack(|| std::pin::Pin::new(&mut self.0).poll(cx))
    }
}
