//! Hydrating a long page a section at a time (`Later`), so that no single task of the browser's
//! main thread holds up the page for all of them.
//!
//! Hydration made Security & Access's sections interactive in one task of the browser's main
//! thread, together with everything else on the page (about 100 ms on this project's 2-core
//! machine for a first visit, four times that on Lighthouse's simulated phone: a keypress or tap
//! in that time waits). A section wrapped in `Later` is skipped by that walk (its element is
//! already on the page, drawn by the server) and hydrated in a task of its own right after, in
//! page order (`browser::hydration`, which holds what hydration starts until then). The page is
//! marked hydrated (`<html data-hydrated>`, which also releases forms held until then) only once
//! every section is.
//!
//! Only hydration is put off. On the server, and when the browser draws or redraws a section
//! itself (a later change, a page reached without a reload), the view is made at once.
//!
//! The view must be exactly one element (a section's card) on the page's first drawing. It may read
//! resources made before it, but must not make one: after the page's hydration has ended a new
//! resource finds no data from the server and asks again. (A `Transition` of its own, as the
//! activity's, is fine on a page rendered whole: nothing streams in later for its id.) Its state
//! is read when its turn comes: held clicks and held futures (`browser::hydration`) keep it the
//! state the server drew from.
use leptos::prelude::*;
use leptos::tachys::html::attribute::{any_attribute::AnyAttribute, Attribute};
use leptos::tachys::hydration::Cursor;
use leptos::tachys::renderer::{types, CastFrom, Rndr};
use leptos::tachys::ssr::StreamBuilder;
use leptos::tachys::view::add_attr::AddAnyAttr;
use leptos::tachys::view::any_view::{AnyView, AnyViewState};
use leptos::tachys::view::{Mountable, Position, PositionState, Render, RenderHtml};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A view whose hydration is put off to a task of its own (see the module's notes).
pub struct Later(Box<dyn FnOnce() -> AnyView + Send>);

impl Later {
    pub fn new(make: impl FnOnce() -> AnyView + Send + 'static) -> Self {
        Self(Box::new(make))
    }
}

/// The view once made, or (until its turn comes) the server's element it will hydrate.
pub struct LaterState(Rc<RefCell<Slot>>);

enum Slot {
    Waiting(types::Element),
    Made(AnyViewState),
}

impl Render for Later {
    type State = LaterState;

    fn build(self) -> LaterState {
        LaterState(Rc::new(RefCell::new(Slot::Made((self.0)().build()))))
    }

    fn rebuild(self, state: &mut LaterState) {
        let view = (self.0)();
        let mut slot = state.0.borrow_mut();
        match &mut *slot {
            Slot::Made(made) => view.rebuild(made),
            // redrawn before its turn came (its turn is then skipped: `hydrate`): drawn anew in
            // the server's element's place
            Slot::Waiting(el) => {
                let mut made = view.build();
                mount_before(el, &mut made);
                Rndr::remove(el);
                *slot = Slot::Made(made);
            }
        }
    }
}

impl Mountable for LaterState {
    fn unmount(&mut self) {
        match &mut *self.0.borrow_mut() {
            Slot::Waiting(el) => Rndr::remove(el),
            Slot::Made(made) => made.unmount(),
        }
    }

    fn mount(&mut self, parent: &types::Element, marker: Option<&types::Node>) {
        match &mut *self.0.borrow_mut() {
            Slot::Waiting(el) => Rndr::insert_node(parent, el, marker),
            Slot::Made(made) => made.mount(parent, marker),
        }
    }

    fn insert_before_this(&self, child: &mut dyn Mountable) -> bool {
        match &*self.0.borrow() {
            Slot::Waiting(el) => mount_before(el, child),
            Slot::Made(made) => made.insert_before_this(child),
        }
    }

    fn elements(&self) -> Vec<types::Element> {
        match &*self.0.borrow() {
            Slot::Waiting(el) => vec![el.clone()],
            Slot::Made(made) => made.elements(),
        }
    }
}

impl AddAnyAttr for Later {
    type Output<SomeNewAttr: Attribute> = <AnyView as AddAnyAttr>::Output<SomeNewAttr>;

    fn add_any_attr<NewAttr: Attribute>(self, attr: NewAttr) -> Self::Output<NewAttr>
    where
        Self::Output<NewAttr>: RenderHtml,
    {
        (self.0)().add_any_attr(attr)
    }
}

impl RenderHtml for Later {
    type AsyncOutput = AnyView;
    type Owned = Self;
    const MIN_LENGTH: usize = 0;

    fn dry_resolve(&mut self) {
        // (made here, and kept: `resolve` must not make it a second time)
        let mut view = (std::mem::replace(&mut self.0, Box::new(|| ().into_any())))();
        view.dry_resolve();
        self.0 = Box::new(move || view);
    }

    async fn resolve(self) -> AnyView {
        (self.0)().resolve().await
    }

    fn to_html_with_buf(self, buf: &mut String, position: &mut Position, escape: bool, mark_branches: bool, extra_attrs: Vec<AnyAttribute>) {
        (self.0)().to_html_with_buf(buf, position, escape, mark_branches, extra_attrs);
    }

    fn to_html_async_with_buf<const OUT_OF_ORDER: bool>(
        self,
        buf: &mut StreamBuilder,
        position: &mut Position,
        escape: bool,
        mark_branches: bool,
        extra_attrs: Vec<AnyAttribute>,
    ) {
        (self.0)().to_html_async_with_buf::<OUT_OF_ORDER>(buf, position, escape, mark_branches, extra_attrs);
    }

    fn hydrate<const FROM_SERVER: bool>(self, cursor: &Cursor, position: &PositionState) -> LaterState {
        // The cursor steps onto the element as an element's own hydration would, and leaves it
        // there for what follows.
        let before = cursor.current();
        match position.get() {
            Position::FirstChild => cursor.child(),
            Position::Current => {}
            _ => cursor.sibling(),
        }
        let el = types::Element::cast_from(cursor.current());
        debug_assert!(el.is_some(), "`Later` is for a view that is one element (a section's card)");
        let Some(el) = el else {
            // (not an element: hydrated here, as without `Later`)
            cursor.set(before);
            return LaterState(Rc::new(RefCell::new(Slot::Made((self.0)().hydrate::<FROM_SERVER>(cursor, position)))));
        };
        position.set(Position::NextChild);
        let slot = Rc::new(RefCell::new(Slot::Waiting(el)));
        // Under the owner it would have had; skipped when that owner let it go (the section was
        // drawn anew, or the page left) or the slot was drawn anew before its turn.
        let (owner, wanted) = (Owner::current(), Arc::new(AtomicBool::new(true)));
        let still = Arc::clone(&wanted);
        on_cleanup(move || still.store(false, Ordering::Relaxed));
        let (make, waiting) = (self.0, Rc::clone(&slot));
        crate::browser::hydration::later(Box::new(move || {
            let el = match &*waiting.borrow() {
                Slot::Waiting(el) => el.clone(),
                Slot::Made(_) => return,
            };
            if let (true, Some(owner)) = (wanted.load(Ordering::Relaxed), owner) {
                let made = owner.with(|| make().hydrate::<true>(&Cursor::new(el), &PositionState::new(Position::Current)));
                *waiting.borrow_mut() = Slot::Made(made);
            }
        }));
        LaterState(slot)
    }

    fn into_owned(self) -> Self {
        self
    }
}

/// Mounts `child` just before the server's element `el`; false when `el` is not on the page.
fn mount_before(el: &types::Element, child: &mut dyn Mountable) -> bool {
    let Some(parent) = Rndr::get_parent(el).and_then(types::Element::cast_from) else {
        return false;
    };
    let marker: &types::Node = el;
    child.mount(&parent, Some(marker));
    true
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn card() -> AnyView {
        view! { <section id="passkeys" class="card"><h2>"Passkeys"</h2><button>"New passkey"</button></section> }.into_any()
    }

    #[test]
    fn the_server_draws_a_later_section_exactly_as_the_section_itself() {
        assert_eq!(Later::new(card).to_html(), card().to_html());
        assert!(Later::new(card).to_html().starts_with(r#"<section id="passkeys" class="card"><h2>Passkeys</h2><button>New passkey</button>"#));
    }

    #[test]
    fn a_page_rendered_whole_makes_a_later_section_once() {
        // (the server's whole-page render looks for resources first, `dry_resolve`, then draws)
        let made = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&made);
        let mut later = Later::new(move || {
            counted.fetch_add(1, Ordering::Relaxed);
            card()
        });
        later.dry_resolve();
        assert_eq!(later.to_html(), card().to_html());
        assert_eq!(made.load(Ordering::Relaxed), 1);
    }
}
