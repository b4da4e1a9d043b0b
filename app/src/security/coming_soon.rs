//! Cards for sections that do not exist yet.
use leptos::prelude::*;

use crate::components::Card;

#[component]
pub fn ComingSoonCard(id: &'static str, title: &'static str, description: &'static str) -> impl IntoView {
    view! {
        <Card id title header_extra=ViewFn::from(|| view! { <span class="badge badge-soon">"Coming soon"</span> })>
            <p class="muted">{description}</p>
        </Card>
    }
}
