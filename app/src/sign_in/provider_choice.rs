//! The "Continue with …" part of the sign-in and sign-up pages: the offered providers, starting a
//! flow, and the sentence for how an earlier one ended. (The buttons themselves, props only, and
//! the sentences are `providers`.)
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::providers;
use crate::browser::dom;
use crate::error::AppError;

/// The "Continue with …" buttons of the sign-in and sign-up pages: the offered providers (read
/// once), starting a flow (then the browser leaves for the provider), and the sentence for how an
/// earlier one ended (from the address the callback sent the person back to).
#[derive(Clone, Copy)]
pub(super) struct ProviderChoice {
    offered: crate::resource::PageResource<Result<Vec<crate::model::ProviderOption>, AppError>>,
    pending: RwSignal<Option<crate::model::ProviderKind>>,
    error: RwSignal<Option<String>>,
    notice: Memo<Option<(crate::model::ProviderKind, providers::ProviderOutcome)>>,
    /// The page's address: its `return_to` is where the sign-in goes once done, carried through
    /// the provider (read when a button is pressed).
    query: Memo<leptos_router::params::ParamsMap>,
    /// On the sign-up page: a flow that ends badly comes back there, not to sign-in.
    from_sign_up: bool,
}

impl ProviderChoice {
    pub(super) fn new(from_sign_up: bool) -> Self {
        ProviderChoice {
            from_sign_up,
            offered: crate::resource::page_resource(|| (), |_| crate::auth_api::list_providers()),
            pending: RwSignal::new(None),
            error: RwSignal::new(None),
            notice: providers::outcome_in_address(),
            query: use_query_map(),
        }
    }

    /// `divider`: an "or" line above (the sign-in page's passkey button already has one).
    pub(super) fn view(self, divider: bool) -> impl IntoView {
        let ProviderChoice { offered, pending, error, notice, query, from_sign_up } = self;
        let on_choose = Callback::new(move |kind: crate::model::ProviderKind| {
            pending.set(Some(kind));
            error.set(None);
            let return_to = query.read_untracked().get("return_to");
            leptos::task::spawn_local(async move {
                match crate::auth_api::start_provider_sign_in(kind, return_to, from_sign_up).await {
                    Ok(url) => dom::go_to(&url),
                    Err(e) => {
                        error.set(Some(e.to_string()));
                        pending.set(None);
                    }
                }
            });
        });
        use providers::Tone;
        let returned = move |tone: Tone| notice.get().filter(|(_, o)| o.tone() == tone).map(|(k, o)| o.sentence(k));
        let shown = Signal::derive(move || error.get().or_else(|| returned(Tone::Problem)));
        let calm = Signal::derive(move || if error.get().is_some() { None } else { returned(Tone::Info) });
        view! {
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let list = offered.await.unwrap_or_default();
                    (!list.is_empty()).then(|| view! {
                        <div class="provider-sign-in stack">
                            {divider.then(|| view! { <p class="divider" aria-hidden="true"><span>"or"</span></p> })}
                            <providers::ProviderButtons providers=list pending error=shown notice=calm on_choose/>
                        </div>
                    })
                })}
            </Suspense>
        }
    }
}
