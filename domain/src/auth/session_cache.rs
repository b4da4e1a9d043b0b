//! Sessions this instance checked recently, kept in memory so a signed-in request need not ask
//! Postgres again, without giving up immediate revocation.
//!
//! Postgres announces every change that can end a session or change what a request learns from it
//! (revoked, token rotated, re-verified, the account's address, second factor or plan changed) on
//! the channel [`CHANNEL`], at commit (migration `20261202000013_session_changes.sql`). A listener
//! task ([`SessionCache::listen`]) forgets the account's sessions on each announcement. The cache
//! is used only while that listener's connection is up and has been heard from recently: before it
//! connects, after it drops, and while it reconnects, every request asks Postgres, so a lost
//! announcement can never keep a revoked session alive.
//!
//! A read that started before an announcement never stores what it read after it: every
//! invalidation moves an epoch on, and [`SessionCache::store`] only stores under the epoch its
//! read began in (checked under the same lock).
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::db::sessions::LiveSessionRow;
use crate::ids::UserId;

/// The channel the triggers announce on (payload: the account's id, or `*` for every account).
pub const CHANNEL: &str = "gatehouse_sessions";
/// The listener's connection is named so operators (and tests) can find it in `pg_stat_activity`.
pub const LISTENER_NAME: &str = "gatehouse-session-listener";

/// How the cache behaves; the defaults suit production.
#[derive(Clone, Debug)]
pub struct CachePolicy {
    /// How long one check is trusted (announcements end it sooner).
    pub ttl: Duration,
    /// Most sessions kept; when full, the cache starts over.
    pub capacity: usize,
    /// How often the listener proves its connection works (a notification it sends itself).
    pub heartbeat: Duration,
    /// Without hearing anything on the connection for this long, the cache is not used.
    pub silence: Duration,
    /// Wait before connecting again after the connection dropped.
    pub reconnect_after: Duration,
}

impl Default for CachePolicy {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(30),
            capacity: 100_000,
            heartbeat: Duration::from_secs(5),
            silence: Duration::from_secs(12),
            reconnect_after: Duration::from_secs(1),
        }
    }
}

struct Entry {
    row: LiveSessionRow,
    stored: Instant,
}

struct Inner {
    /// The listener's connection is up (set only by the listener task).
    listening: bool,
    /// When the connection was last heard from (any notification, including its own heartbeat).
    heard: Instant,
    /// Moves on at every invalidation; a store carries the epoch its read began in.
    epoch: u64,
    entries: HashMap<[u8; 32], Entry>,
}

/// See the module documentation. Shared by every request of an instance (`Services`).
pub struct SessionCache {
    policy: CachePolicy,
    inner: Mutex<Inner>,
}

/// The epoch a database read began in (see [`SessionCache::store`]).
#[derive(Clone, Copy, Debug)]
pub struct ReadTicket(Option<u64>);

impl SessionCache {
    pub fn new(policy: CachePolicy) -> Arc<Self> {
        Arc::new(Self {
            policy,
            inner: Mutex::new(Inner { listening: false, heard: Instant::now(), epoch: 0, entries: HashMap::new() }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // a panic while holding the lock cannot leave the map half-changed in a way that matters:
        // every operation is a single insert, remove or clear
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn usable(&self, inner: &Inner) -> bool {
        inner.listening && inner.heard.elapsed() < self.policy.silence
    }

    /// Whether requests are being answered from memory (the listener is up and was heard lately).
    pub fn is_active(&self) -> bool {
        let inner = self.lock();
        self.usable(&inner)
    }

    /// The session checked recently under this token hash, if the cache may be used.
    pub fn get(&self, token_hash: &[u8; 32]) -> Option<LiveSessionRow> {
        let inner = self.lock();
        if !self.usable(&inner) {
            return None;
        }
        inner.entries.get(token_hash).filter(|e| e.stored.elapsed() < self.policy.ttl).map(|e| e.row.clone())
    }

    /// Call before reading a session from Postgres; pass the ticket to [`store`](Self::store).
    pub fn ticket(&self) -> ReadTicket {
        let inner = self.lock();
        ReadTicket(self.usable(&inner).then_some(inner.epoch))
    }

    /// Keeps what a read found, unless anything was invalidated since the read began (it may have
    /// read a session just before it was revoked) or the cache may not be used.
    pub fn store(&self, ticket: ReadTicket, token_hash: [u8; 32], row: LiveSessionRow) {
        let mut inner = self.lock();
        if ticket.0 != Some(inner.epoch) || !self.usable(&inner) {
            return;
        }
        if inner.entries.len() >= self.policy.capacity {
            inner.entries.clear();
        }
        inner.entries.insert(token_hash, Entry { row, stored: Instant::now() });
    }

    /// The session was seen active at `at` (its `last_seen_at` was written): the kept copy says so
    /// too, so the next request does not write it again.
    pub fn touched(&self, token_hash: &[u8; 32], at: time::OffsetDateTime) {
        if let Some(e) = self.lock().entries.get_mut(token_hash) {
            e.row.last_seen_at = at;
        }
    }

    /// Forgets every session of the account.
    pub fn forget_account(&self, user_id: UserId) {
        let mut inner = self.lock();
        inner.epoch += 1;
        inner.entries.retain(|_, e| e.row.user_id != user_id);
    }

    /// Forgets every session.
    pub fn forget_all(&self) {
        let mut inner = self.lock();
        inner.epoch += 1;
        inner.entries.clear();
    }

    /// The listener's connection came up or went down: either way, start over.
    fn set_listening(&self, listening: bool) {
        let mut inner = self.lock();
        inner.epoch += 1;
        inner.entries.clear();
        inner.listening = listening;
        inner.heard = Instant::now();
    }

    fn heard(&self) {
        self.lock().heard = Instant::now();
    }

    /// One announcement's payload: an account's id, `*`, or the heartbeat (anything else).
    fn announced(&self, payload: &str) {
        if payload == "*" {
            self.forget_all();
        } else if let Ok(id) = uuid::Uuid::parse_str(payload) {
            self.forget_account(UserId(id));
        }
        self.heard();
    }

    /// Runs for as long as the server does: listens for announcements, proves the connection
    /// works every `heartbeat` (a notification it sends itself through the pool), and reconnects
    /// when it drops or falls silent. The cache is used only between a successful LISTEN and the
    /// first sign of trouble.
    pub async fn listen(self: Arc<Self>, db: sqlx::PgPool) {
        // says so once per outage, not at every attempt
        let mut down = false;
        loop {
            match self.connect(&db).await {
                Ok(mut listener) => {
                    if down {
                        tracing::info!("session cache: listening again; signed-in requests use the cache");
                    }
                    self.set_listening(true);
                    let reason = self.serve(&db, &mut listener).await;
                    self.set_listening(false);
                    tracing::warn!(reason = %reason, "session cache: stopped listening; every request asks Postgres until it is back");
                    down = true;
                }
                Err(e) if !down => {
                    tracing::warn!(error = %e, "session cache: cannot listen; every request asks Postgres");
                    down = true;
                }
                Err(_) => {}
            }
            tokio::time::sleep(self.policy.reconnect_after).await;
        }
    }

    async fn connect(&self, db: &sqlx::PgPool) -> Result<sqlx::postgres::PgListener, sqlx::Error> {
        let mut listener = sqlx::postgres::PgListener::connect_with(db).await?;
        // a lost connection is reported at once (this task reconnects, after starting over)
        listener.eager_reconnect(false);
        listener.listen(CHANNEL).await?;
        // named once listening (what `pg_stat_activity` shows is then a working listener)
        sqlx::query("SELECT set_config('application_name', $1, false)").bind(LISTENER_NAME).execute(&mut listener).await?;
        Ok(listener)
    }

    /// Until the connection fails or falls silent; answers why.
    async fn serve(&self, db: &sqlx::PgPool, listener: &mut sqlx::postgres::PgListener) -> String {
        let mut beat = tokio::time::interval(self.policy.heartbeat);
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                got = listener.try_recv() => match got {
                    Ok(Some(n)) => self.announced(n.payload()),
                    Ok(None) => return "the connection closed".into(),
                    Err(e) => return format!("{e}"),
                },
                _ = beat.tick() => {
                    if !self.is_active() {
                        return "no notification arrived in time".into();
                    }
                    // (a failure here shows as silence at a later tick)
                    let _ = sqlx::query("SELECT pg_notify($1, 'heartbeat')").bind(CHANNEL).execute(db).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::SessionId;
    use crate::kinds::SignInMethod;
    use crate::plan::Plan;
    use time::macros::datetime;

    fn row(user: UserId) -> LiveSessionRow {
        let at = datetime!(2026-12-02 12:00 UTC);
        LiveSessionRow {
            id: SessionId(uuid::Uuid::new_v4()),
            user_id: user,
            created_at: at,
            last_seen_at: at,
            verified_at: at,
            email: "ada@example.test".into(),
            display_name: None,
            plan: Plan::Free,
            has_second_factor: false,
            auth_method: SignInMethod::Password,
        }
    }

    fn listening() -> Arc<SessionCache> {
        let cache = SessionCache::new(CachePolicy::default());
        cache.set_listening(true);
        cache
    }

    #[test]
    fn nothing_is_kept_or_answered_while_not_listening() {
        let cache = SessionCache::new(CachePolicy::default());
        let user = UserId(uuid::Uuid::new_v4());
        cache.store(cache.ticket(), [1; 32], row(user));
        assert!(cache.get(&[1; 32]).is_none());

        let cache = listening();
        cache.store(cache.ticket(), [1; 32], row(user));
        assert!(cache.get(&[1; 32]).is_some());
        // the connection drops: everything is forgotten and nothing is answered from memory
        cache.set_listening(false);
        assert!(cache.get(&[1; 32]).is_none());
        cache.store(cache.ticket(), [1; 32], row(user));
        assert!(cache.get(&[1; 32]).is_none());
    }

    #[test]
    fn a_read_that_began_before_a_revocation_is_not_kept() {
        let cache = listening();
        let user = UserId(uuid::Uuid::new_v4());
        let ticket = cache.ticket();
        // the session is revoked (announced) while the read is under way
        cache.announced(&user.0.to_string());
        cache.store(ticket, [1; 32], row(user));
        assert!(cache.get(&[1; 32]).is_none());
        // a read that began after it is kept
        cache.store(cache.ticket(), [1; 32], row(user));
        assert!(cache.get(&[1; 32]).is_some());
    }

    #[test]
    fn an_announcement_forgets_that_accounts_sessions_only_and_star_forgets_all() {
        let cache = listening();
        let (ada, bob) = (UserId(uuid::Uuid::new_v4()), UserId(uuid::Uuid::new_v4()));
        cache.store(cache.ticket(), [1; 32], row(ada));
        cache.store(cache.ticket(), [2; 32], row(ada));
        cache.store(cache.ticket(), [3; 32], row(bob));
        cache.announced(&ada.0.to_string());
        assert!(cache.get(&[1; 32]).is_none() && cache.get(&[2; 32]).is_none());
        assert!(cache.get(&[3; 32]).is_some());
        cache.announced("heartbeat");
        assert!(cache.get(&[3; 32]).is_some());
        cache.announced("*");
        assert!(cache.get(&[3; 32]).is_none());
    }

    #[test]
    fn a_silent_connection_or_an_old_entry_is_not_trusted() {
        let user = UserId(uuid::Uuid::new_v4());
        let cache = SessionCache::new(CachePolicy { silence: Duration::from_millis(30), ..CachePolicy::default() });
        cache.set_listening(true);
        cache.store(cache.ticket(), [1; 32], row(user));
        assert!(cache.get(&[1; 32]).is_some());
        std::thread::sleep(Duration::from_millis(40));
        assert!(cache.get(&[1; 32]).is_none(), "nothing heard for longer than `silence`");
        cache.heard();
        assert!(cache.get(&[1; 32]).is_some());

        let cache = SessionCache::new(CachePolicy { ttl: Duration::from_millis(30), ..CachePolicy::default() });
        cache.set_listening(true);
        cache.store(cache.ticket(), [1; 32], row(user));
        std::thread::sleep(Duration::from_millis(40));
        assert!(cache.get(&[1; 32]).is_none(), "older than the ttl");
    }
}
