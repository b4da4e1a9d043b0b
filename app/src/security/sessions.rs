//! Sessions section: every signed-in device, the current one first with Log out.
use leptos::prelude::*;

use crate::components::{Card, TimeAgo};
use crate::model::SessionView;

#[component]
pub fn SessionsCard(
    sessions: Vec<SessionView>,
    #[prop(into)] pending: Signal<bool>,
    on_log_out: Callback<()>,
) -> impl IntoView {
    let count = sessions.len();
    let body = if sessions.is_empty() {
        view! { <p class="empty">"No active sessions."</p> }.into_any()
    } else {
        view! {
            <ul class="session-list">
                {sessions.into_iter().map(|s| view! { <SessionRow session=s pending on_log_out/> }).collect_view()}
            </ul>
        }
        .into_any()
    };
    view! {
        <Card id="sessions" title="Sessions" header_extra=ViewFn::from(move || view! { <span class="muted">{format!("{count} active")}</span> })>
            <p class="muted">"Places where your account is signed in. If you don't recognise one, change your password."</p>
            {body}
        </Card>
    }
}

#[component]
fn SessionRow(session: SessionView, #[prop(into)] pending: Signal<bool>, on_log_out: Callback<()>) -> impl IntoView {
    let current = session.current;
    view! {
        <li class="session-row">
            <div class="session-icon" aria-hidden="true">
                <svg viewBox="0 0 24 24" width="20" height="20" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">
                    <rect x="3" y="4" width="18" height="12" rx="2"/>
                    <path d="M8 20h8M12 16v4"/>
                </svg>
            </div>
            <div class="session-main">
                <p class="session-device">
                    <span class="session-agent" title=session.device.clone()>{shorten(&session.device, 90)}</span>
                    {current.then(|| view! { " " <span class="badge badge-current">"This device"</span> })}
                </p>
                <p class="session-meta">
                    {session.ip.clone()} " · " {session.method.clone()} " · signed in "
                    <TimeAgo moment=session.signed_in.clone()/> " · "
                    {if current {
                        view! { "active now" }.into_any()
                    } else {
                        view! { "last active " <TimeAgo moment=session.last_active.clone()/> }.into_any()
                    }}
                </p>
            </div>
            <div class="session-actions">
                {current.then(|| view! {
                    <button type="button" class="btn btn-secondary btn-sm" disabled=move || pending.get()
                        on:click=move |_| on_log_out.run(())>
                        "Log out"
                    </button>
                })}
            </div>
        </li>
    }
}

fn shorten(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}
