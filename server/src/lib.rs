//! Gatehouse's HTTP server: configuration, state, the router and its middleware.
//! `router(state)` is public so tests can drive the whole stack without a socket.
pub mod activity;
pub mod assets;
mod client_address;
pub mod config;
pub mod limits;
pub mod middleware;
pub mod panics;
pub mod previews;
pub mod providers;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::Router;
use domain::Services;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use sqlx::postgres::PgPoolOptions;
use tower_http::compression::predicate::{DefaultPredicate, NotForContentType, Predicate, SizeAbove};
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::services::ServeDir;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// mimalloc instead of glibc's malloc: a page load allocates and frees thousands of small values
/// (rendering, rows, JSON), where glibc spent ~18% of the server's CPU (perf, signed-in Security &
/// Access page under wrk); and glibc kept the 19 MiB argon2 blocks of a sign-in burst after it.
/// Declared in the library, so the programs built on it allocate as the server does: the server,
/// `make bench`'s in-process sign-in harness and argon2 baseline (server/examples), and the
/// server's tests (not the domain's or the app's).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub use config::Config;

/// Everything a request handler needs; cloning it (each middleware layer does, for every request)
/// is one reference count.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] holds.
pub struct Shared {
    pub services: Services,
    pub geo: Arc<domain::geo::GeoIp>,
    pub config: Arc<Config>,
    pub leptos: LeptosOptions,
    /// Request budgets per client network on the anonymous endpoints.
    pub limits: Arc<limits::RateLimits>,
    /// The built site's file names and how long browsers keep them.
    pub assets: Arc<assets::BuiltAssets>,
    /// When a refused cross-site request was last logged (`middleware::cross_site_check`).
    pub refused_log: middleware::RefusedLog,
}

impl AppState {
    /// Builds the state around a pool (the pool connects lazily, so a server can start while
    /// Postgres is still coming up and recovers by itself when it returns).
    pub fn new(config: Config, db: sqlx::PgPool, clock: domain::clock::Clock) -> Result<Self, domain::DomainError> {
        let hasher = domain::auth::password::PasswordHasher::new(&config.argon2)?;
        let assets = assets::BuiltAssets::load(std::path::Path::new(&config.site.root), &config.site.pkg_dir, &config.site.output_name);
        let leptos = LeptosOptions::builder()
            .output_name(config.site.output_name.clone())
            .site_root(config.site.root.clone())
            .site_pkg_dir(config.site.pkg_dir.clone())
            .site_addr(config.site.addr)
            // (an absolute path: Leptos reads it relative to the binary's folder otherwise)
            .hash_files(assets.hash_file.is_some())
            .hash_file(assets.hash_file.as_ref().map(|p| p.to_string_lossy().into()).unwrap_or_else(|| "hash.txt".into()))
            .build();
        let geo = Arc::new(domain::geo::GeoIp::open(&[&config.geoip.ipv4_database, &config.geoip.ipv6_database]));
        Ok(Self(Arc::new(Shared {
            services: Services {
                db,
                hasher,
                sessions: config.session.clone(),
                throttle: config.throttle.clone(),
                common_passwords: Arc::new(
                    domain::auth::password_policy::CommonPasswords::load(std::path::Path::new(&config.password.common_list))
                        .map_err(|e| domain::DomainError::Internal(format!("{e} (scripts/setup.sh installs it)")))?,
                ),
                keys: Arc::new(
                    domain::auth::two_factor::Keys::from_config(&config.secrets.totp_keys, &config.secrets.backup_code_key)
                        .map_err(|e| domain::DomainError::Internal(format!("{e} (set GATEHOUSE_SECRETS_TOTP_KEYS and GATEHOUSE_SECRETS_BACKUP_CODE_KEY)")))?,
                ),
                device_cookies: Arc::new(
                    domain::auth::device_cookies::DeviceCookieKey::from_config(&config.secrets.device_cookie_key)
                        .map_err(|e| domain::DomainError::Internal(format!("{e} (set GATEHOUSE_SECRETS_DEVICE_COOKIE_KEY)")))?,
                ),
                passkeys: Arc::new(
                    domain::auth::passkeys::ProviderNames::load(std::path::Path::new(&config.passkeys.provider_list))
                        .map_err(|e| format!("{e} (scripts/setup.sh installs it)"))
                        .and_then(|names| {
                            let p = &config.passkeys;
                            domain::auth::passkeys::PasskeyService::new(&p.rp_id, &p.origin, &p.rp_name, names)
                                .map_err(|e| format!("{e} (check [passkeys] rp_id and origin)"))
                        })
                        .map_err(domain::DomainError::Internal)?,
                ),
                providers: Arc::new(
                    domain::auth::providers::Providers::new(&config.google, &config.github, config.public_origin())
                        .map_err(domain::DomainError::Internal)?,
                ),
                email: Arc::new(config.email_settings().map_err(domain::DomainError::Internal)?),
                session_cache: domain::auth::session_cache::SessionCache::new(config.session.cache_policy()),
                after_answer: Default::default(),
                clock,
            },
            geo,
            limits: Arc::new(limits::RateLimits::new(&config.limits)),
            assets: Arc::new(assets),
            refused_log: Default::default(),
            config: Arc::new(config),
            leptos,
        })))
    }
}

/// A lazily connecting pool with the configured limits.
pub fn pool(config: &Config) -> Result<sqlx::PgPool, sqlx::Error> {
    PgPoolOptions::new()
        .max_connections(config.database.max_connections)
        // sqlx checks a connection with a round trip when it goes back to the pool; checking every
        // one again when it is taken out was a third of a signed-in page's round trips to Postgres.
        // Only a connection that sat idle for a second or more is checked (sqlx's own recipe): one
        // that broke meanwhile (a Postgres restart) is dropped and another is taken. One that broke
        // within a second of its last use (a restart under load, `pg_terminate_backend`) is still
        // handed out, and its request is answered 503 "temporarily unavailable" once; the pool
        // then drops it. (make bench's transaction count waits out that second for this reason.)
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= Duration::from_secs(1) {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
        .acquire_timeout(Duration::from_secs(config.database.acquire_timeout_seconds))
        .connect_lazy(&config.database.url)
}

/// The whole application: pages, server functions under /api, static files, middleware.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(app::App);
    let leptos = state.leptos.clone();
    let files = state.assets.files.clone();
    // the built files, with the brotli or gzip copy a release build stores beside each
    let pkg = std::path::Path::new(&state.config.site.root).join(&state.config.site.pkg_dir);
    let pkg = tower::ServiceBuilder::new()
        .layer(axum::middleware::from_fn(built_files_only))
        .service(ServeDir::new(pkg).precompressed_br().precompressed_gzip());
    let pages = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        // an address under /api that names no server function: the API's own 404 (JSON, as its
        // other errors), not the not-found page's HTML (the server functions' routes come first)
        .route("/api/{*rest}", axum::routing::any(api_not_found))
        .nest_service(&format!("/{}", state.config.site.pkg_dir), pkg)
        // (each page renders with the nonce the request was given: middleware::security_headers)
        .leptos_routes_with_context(&leptos, routes, app::server::provide_nonce, {
            let files = files.clone();
            move || app::shell(files.clone())
        })
        .fallback({
            let not_found = leptos_axum::file_and_error_handler_with_context(app::server::provide_nonce, move |_| app::shell(files.clone()));
            move |uri: axum::http::Uri, state: axum::extract::State<leptos::config::LeptosOptions>, req: axum::extract::Request| {
                // Only the site's own top-level files (favicon.svg) are looked up: the lookup
                // decodes the path, so `/%70kg/…` and `/pkg%2F…` reached the built files past
                // `built_files_only`, and a 300-character name logged an ERROR for anyone to send.
                // Any other address is the not-found page, for the path as asked.
                let lookup = if top_level_file(uri.path()) { uri } else { axum::http::Uri::from_static("/-") };
                not_found(lookup, state, req)
            }
        })
        .with_state(leptos)
        // where Google and GitHub send the browser back
        .merge(Router::new().route("/auth/{provider}/callback", get(providers::callback)).with_state(state.clone()))
        // each email kind as sent, framed by the component previews
        .merge(Router::new().route("/previews/emails/{kind}", get(previews::email)).with_state(state.clone()))
        // Recent security activity as CSV or JSON
        .merge(Router::new().route("/settings/security/{file}", get(activity::download)).with_state(state.clone()));

    pages
        // innermost first: rate limits (per client network, which the session middleware
        // resolved), session resolution, then the cross-site check, then headers
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::no_script::form_sent_without_javascript))
        .layer(axum::middleware::from_fn_with_state(state.clone(), limits::rate_limit))
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::session))
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::cross_site_check))
        .layer(DefaultBodyLimit::max(state.config.site.max_body_bytes))
        // 413 on a declared Content-Length over the limit, before any handler (or hashing) runs,
        // said as the server functions' `TooLarge`
        .layer(RequestBodyLimitLayer::new(state.config.site.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::explain_too_large))
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::security_headers))
        // (inside the compression, which reads its mark)
        .layer(axum::middleware::from_fn(middleware::keep_secrets_uncompressed))
        .layer(compression())
        .layer(PropagateRequestIdLayer::x_request_id())
        // each request's span names its method and path, never its query: links carry their
        // token there (`/reset-password?token=…`), provider callbacks their code (`?code=…`)
        .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::extract::Request| {
            tracing::debug_span!("request", method = %req.method(), path = %req.uri().path())
        }))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

/// The built files themselves, nothing else in their folder: a compressed copy is chosen by the
/// request's `Accept-Encoding` (asked for by name it went out compressed a second time, as an
/// unknown type), and wasm-bindgen's type declarations are for editors (`.d.ts` went out as
/// `video/mp2t`).
async fn built_files_only(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    use axum::response::IntoResponse;
    // (no built name has a `%`: an escaped one, `.d%2Ets`, would reach ServeDir decoded)
    let path = req.uri().path();
    if path.contains('%') || [".br", ".gz", ".d.ts"].iter().any(|end| path.ends_with(end)) {
        return (axum::http::StatusCode::NOT_FOUND, "Not found").into_response();
    }
    next.run(req).await
}

/// A name the fallback may look up in the site's folder: one plain file name (letters, digits,
/// `.`, `-`, `_`; not hidden, nothing escaped), as the public assets are.
fn top_level_file(path: &str) -> bool {
    let name = path.strip_prefix('/').unwrap_or_default();
    (1..=64).contains(&name.len())
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// 404 for an unknown address under /api, said as the server functions say it (`AppError::NotFound`).
async fn api_not_found() -> axum::response::Response {
    middleware::error_response(&app::error::AppError::NotFound)
}

/// The smallest answer worth compressing. Below it gzip saves little (a few dozen bytes on a
/// `/api/session` answer) and costs a whole encoder's set-up: zeroing its window and tables is most
/// of a small answer's CPU (callgrind: about 0.44 million instructions
/// per response; a sign-in's JSON answer, `/api/session`, an action's result). A streamed page has
/// no size known in advance and is compressed whatever its size.
pub const SMALLEST_COMPRESSED: u16 = 1024;

/// Pages, API answers, JS and CSS are compressed with gzip for browsers that accept it, at the
/// level that costs least CPU per response (1, nginx's default; zlib-rs's quick strategy): against
/// level 4 the anonymous sign-in page took 15-17% less server CPU (245 -> 203 and 236 -> 201 us per
/// request, wrk, release server) for 8.6% more bytes (the signed-in Security & Access page: 3,651
/// against 3,363 of 10,312). Not brotli: its encoder sets up megabytes of window and
/// tables for every response, which on a 5 KB page costs more than rendering it (measured on the
/// release server, wrk on 2 cores: the sign-in page 4,313/s uncompressed, 3,708/s with gzip, 1,661/s
/// with brotli) for ~10% fewer bytes. The built files keep their brotli copies: `make release`
/// compresses them once, at the highest level, and `/pkg` serves them. Not compressed: the wasm bundle (a release build
/// stores its compressed copies; compressing a development build's on every load would cost more
/// than it saves on loopback), images, the answers that carry a secret (see
/// `middleware::keep_secrets_uncompressed`) and answers under `SMALLEST_COMPRESSED` bytes.
fn compression() -> CompressionLayer<impl Predicate> {
    let predicate = DefaultPredicate::new()
        .and(SizeAbove::new(SMALLEST_COMPRESSED))
        .and(NotForContentType::const_new("application/wasm"))
        .and(|_: http::StatusCode, _: http::Version, _: &http::HeaderMap, ext: &http::Extensions| {
            ext.get::<middleware::Uncompressed>().is_none()
        });
    CompressionLayer::new().no_br().quality(CompressionLevel::Precise(1)).compress_when(predicate)
}

/// Name of the demo Enterprise organisation.
pub const DEMO_ORGANIZATION: &str = "Acme Corp";

/// Creates the demo account, and the Enterprise demo organisation with its member, if they do not
/// exist yet.
pub async fn ensure_demo_account(state: &AppState) -> Result<(), domain::DomainError> {
    use domain::auth::accounts::{create_account, normalize_email};
    let svc = &state.services;
    let demo = &state.config.demo;
    let password = domain::secret::Password::new(demo.password.clone());
    if domain::db::users::find_by_email(&svc.db, &normalize_email(&demo.email)).await?.is_none() {
        create_account(svc, &demo.email, Some("Demo Person"), &password, &Default::default()).await?;
    }
    // demo accounts made before addresses were confirmed start confirmed too
    domain::db::users::mark_demo_emails_verified(&svc.db, &[normalize_email(&demo.email), normalize_email(&demo.enterprise_email)], svc.clock.now())
        .await?;
    if !demo.enterprise_email.is_empty()
        && domain::db::users::find_by_email(&svc.db, &normalize_email(&demo.enterprise_email)).await?.is_none()
    {
        let member = create_account(svc, &demo.enterprise_email, Some("Kim Enterprise"), &password, &Default::default()).await?;
        let org = match domain::db::organizations::find_by_name(&svc.db, DEMO_ORGANIZATION).await? {
            Some(org) => org,
            None => domain::organizations::create(svc, DEMO_ORGANIZATION, domain::plan::Plan::Enterprise).await?,
        };
        domain::organizations::add_member(svc, org, member).await?;
    }
    Ok(())
}
