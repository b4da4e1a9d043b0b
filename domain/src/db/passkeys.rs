//! Passkeys and unfinished WebAuthn ceremonies (a sign-in's own reads and writes: `passkey_sign_ins`).
//! Every query about a passkey names its account, so
//! an id from the browser can never reach another account's passkey.
use sqlx::types::Json;
use sqlx::PgExecutor;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::ids::{PasskeyId, SessionId, UserId};
use crate::kinds::CeremonyKind;

/// A stored passkey. `credential` is webauthn-rs's serialised `Passkey`.
#[derive(Clone, Debug)]
pub struct PasskeyRow {
    pub id: PasskeyId,
    pub user_id: UserId,
    pub credential: Json<serde_json::Value>,
    pub name: String,
    pub aaguid: Option<Uuid>,
    pub backup_eligible: bool,
    pub backed_up: bool,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
}

pub struct NewPasskey<'a> {
    pub id: PasskeyId,
    pub user_id: UserId,
    pub credential_id: &'a [u8],
    pub credential: serde_json::Value,
    pub name: &'a str,
    pub aaguid: Option<Uuid>,
    pub backup_eligible: bool,
    pub backed_up: bool,
    pub created_at: OffsetDateTime,
    /// The session that added it (`None`: made with its new account).
    pub added_by: Option<SessionId>,
}

/// Stores a new passkey; `false` when its credential id is already registered (to any account).
pub async fn insert(db: impl PgExecutor<'_>, p: &NewPasskey<'_>) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!(
        "INSERT INTO passkeys (id, user_id, credential_id, credential, name, aaguid, backup_eligible, backed_up, created_at, added_by_session)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (credential_id) DO NOTHING",
        p.id.0,
        p.user_id.0,
        p.credential_id,
        &p.credential,
        p.name,
        p.aaguid,
        p.backup_eligible,
        p.backed_up,
        p.created_at,
        p.added_by.map(|s| s.0),
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// A passkey as the Passkeys section lists it: no key material (the stored credential is
/// webauthn-rs's serialised `Passkey`, which only a ceremony needs).
/// (also read as JSON, in `db::overview`)
#[derive(Clone, Debug, serde::Deserialize)]
pub struct ListedPasskey {
    pub id: PasskeyId,
    pub name: String,
    pub aaguid: Option<Uuid>,
    pub backup_eligible: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    /// Live sessions (created after and seen after the cut-offs) that signed in with it, the
    /// viewing session left out.
    pub sessions: i64,
}

/// The account's passkeys as the section lists them to the session `viewer`, oldest first (as
/// `list`); `created_after` and `seen_after`: the cut-offs of a live session (`revoke_live`).
pub async fn list_shown(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    viewer: SessionId,
    created_after: OffsetDateTime,
    seen_after: OffsetDateTime,
) -> Result<Vec<ListedPasskey>, sqlx::Error> {
    sqlx::query_as!(
        ListedPasskey,
        r#"SELECT p.id, p.name, p.aaguid, p.backup_eligible, p.created_at, p.last_used_at,
                  (SELECT count(*) FROM sessions s
                    WHERE s.passkey_id = p.id AND s.user_id = $1 AND s.id <> $2 AND s.revoked_at IS NULL
                      AND s.created_at > $3 AND s.last_seen_at > $4) AS "sessions!"
           FROM passkeys p WHERE p.user_id = $1 ORDER BY p.created_at, p.id"#,
        user_id.0,
        viewer.0,
        created_after,
        seen_after,
    )
    .fetch_all(db)
    .await
}

/// The account's passkeys, oldest first.
pub async fn list(db: impl PgExecutor<'_>, user_id: UserId) -> Result<Vec<PasskeyRow>, sqlx::Error> {
    sqlx::query_as!(
        PasskeyRow,
        r#"SELECT id, user_id, credential AS "credential: Json<serde_json::Value>", name, aaguid, backup_eligible, backed_up,
                  created_at, last_used_at
           FROM passkeys WHERE user_id = $1 ORDER BY created_at, id"#,
        user_id.0,
    )
    .fetch_all(db)
    .await
}

/// The account's passkeys as a re-verification begins: each one's id, stored credential and
/// revision (`passkeys.revision`), read together.
pub async fn list_with_revisions(db: impl PgExecutor<'_>, user_id: UserId) -> Result<Vec<(PasskeyId, serde_json::Value, i64)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT id, credential AS "credential: Json<serde_json::Value>", revision
           FROM passkeys WHERE user_id = $1 ORDER BY created_at, id"#,
        user_id.0,
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (PasskeyId(r.id), r.credential.0, r.revision)).collect())
}

/// The passkey with this credential id, if it belongs to this account, with its revision, locked
/// until the transaction ends (after the account's row, the order a sign-in takes them in): a
/// re-verification checks that the passkey is still as it began with (the revision), then writes
/// the counter its answer carried, and a sign-in recorded between the two would otherwise have
/// its own higher counter overwritten by a lower one (a copy of the key could then go unnoticed).
pub async fn lock_by_credential(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    credential_id: &[u8],
) -> Result<Option<(PasskeyRow, i64)>, sqlx::Error> {
    let row = sqlx::query!(
        r#"WITH account AS (SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE)
           SELECT id, user_id, credential AS "credential: Json<serde_json::Value>", name, aaguid, backup_eligible, backed_up,
                  created_at, last_used_at, revision
           FROM passkeys WHERE user_id = $1 AND credential_id = $2 AND EXISTS (SELECT 1 FROM account)
           FOR NO KEY UPDATE"#,
        user_id.0,
        credential_id,
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| {
        let passkey = PasskeyRow {
            id: PasskeyId(r.id),
            user_id: UserId(r.user_id),
            credential: r.credential,
            name: r.name,
            aaguid: r.aaguid,
            backup_eligible: r.backup_eligible,
            backed_up: r.backed_up,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
        };
        (passkey, r.revision)
    }))
}

/// After a re-verification: the updated credential (counter, backup state) and the time it was
/// used (in the transaction that read it with [`lock_by_credential`]).
pub async fn record_use(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    id: PasskeyId,
    credential: Option<serde_json::Value>,
    backed_up: Option<bool>,
    now: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE passkeys SET last_used_at = $3,
                credential = COALESCE($4, credential),
                backed_up = COALESCE($5, backed_up)
         WHERE user_id = $1 AND id = $2",
        user_id.0,
        id.0,
        now,
        credential,
        backed_up,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Renames one of the account's passkeys; answers the name it had, or `None` when it has no such
/// passkey.
pub async fn rename(db: impl PgExecutor<'_>, user_id: UserId, id: PasskeyId, name: &str) -> Result<Option<String>, sqlx::Error> {
    // (the name it had, read under the row's lock: two renames at once each see the other's)
    sqlx::query_scalar!(
        r#"WITH old AS (SELECT id, name FROM passkeys WHERE user_id = $1 AND id = $2 FOR UPDATE)
           UPDATE passkeys p SET name = $3 FROM old WHERE p.id = old.id
           RETURNING old.name AS "old_name!""#,
        user_id.0,
        id.0,
        name
    )
    .fetch_optional(db)
    .await
}

/// Deletes one of the account's passkeys; answers its name, or `None` when it has no such passkey.
pub async fn delete(db: impl PgExecutor<'_>, user_id: UserId, id: PasskeyId) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!("DELETE FROM passkeys WHERE user_id = $1 AND id = $2 RETURNING name", user_id.0, id.0)
        .fetch_optional(db)
        .await
}

/// The names of the account's passkeys (for numbering a default name).
pub async fn names(db: impl PgExecutor<'_>, user_id: UserId) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!("SELECT name FROM passkeys WHERE user_id = $1", user_id.0).fetch_all(db).await
}

/// The names of the account's passkeys other than `id`.
pub async fn names_of_others(db: impl PgExecutor<'_>, user_id: UserId, id: PasskeyId) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!("SELECT name FROM passkeys WHERE user_id = $1 AND id <> $2", user_id.0, id.0).fetch_all(db).await
}

/// Locks the account row, so two removals racing cannot both see "another way to sign in remains".
/// Transactions that end several sessions or remove a way to sign in take it before those rows
/// (the account's row, then its sessions, passkeys, links; "This wasn't me" and "No, secure my
/// account" lock the alert they answer first, then the account): two of them never hold what the
/// other waits for. (Re-verifying and turning the authenticator app on or off change one session
/// or credential and record an event without it: no cycle with these.) `FOR NO KEY UPDATE`, not `FOR UPDATE`: it still excludes every other holder, but
/// not the key-share lock each insert that names the account takes (an event, an email), so a
/// transaction that holds a session or passkey row and then records its event never waits for
/// the account behind a removal that will wait for that row (a deadlock).
pub async fn lock_account(db: impl PgExecutor<'_>, user_id: UserId) -> Result<(), sqlx::Error> {
    sqlx::query_scalar!("SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE", user_id.0).fetch_all(db).await?;
    Ok(())
}

/// How many ways to sign in the account has: its password (if any), its passkeys and its
/// connected accounts at the `providers` this server offers (a link to a provider that is no longer
/// configured cannot sign in).
pub async fn sign_in_methods(db: impl PgExecutor<'_>, user_id: UserId, providers: &[String]) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT (SELECT count(*) FROM users WHERE id = $1 AND password_hash IS NOT NULL)
              + (SELECT count(*) FROM passkeys WHERE user_id = $1)
              + (SELECT count(*) FROM connected_accounts WHERE user_id = $1 AND provider = ANY($2)) AS "methods!""#,
        user_id.0,
        providers,
    )
    .fetch_one(db)
    .await
}

// ---- ceremonies ----------------------------------------------------------------------------

/// Who a ceremony belongs to: the session that began it, or (a first passkey at sign-up) the
/// holder of the token. (A sign-in stores no ceremony: the browser's cookie carries it, see
/// `auth::passkeys::begin_sign_in`.)
#[derive(Clone, Copy, Debug)]
pub enum Owner<'a> {
    Session(SessionId),
    Token(&'a [u8; 32]),
}

/// Stores a ceremony's state; a session's earlier unfinished ceremony of the same kind is replaced.
pub async fn put_ceremony(
    db: impl PgExecutor<'_>,
    kind: CeremonyKind,
    owner: Owner<'_>,
    state: serde_json::Value,
    now: OffsetDateTime,
    expires_at: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    let (session_id, token_hash) = match owner {
        Owner::Session(s) => (Some(s), None),
        Owner::Token(t) => (None, Some(&t[..])),
    };
    sqlx::query!(
        "INSERT INTO webauthn_ceremonies (id, kind, session_id, token_hash, state, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (session_id, kind) WHERE session_id IS NOT NULL
         DO UPDATE SET state = EXCLUDED.state, created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at",
        Uuid::new_v4(),
        kind.as_str(),
        session_id.map(|s| s.0),
        token_hash,
        state,
        now,
        expires_at,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Takes (deletes and answers) the owner's unexpired ceremony of this kind: it can be finished once.
pub async fn take_ceremony(
    db: impl PgExecutor<'_>,
    kind: CeremonyKind,
    owner: Owner<'_>,
    now: OffsetDateTime,
) -> Result<Option<serde_json::Value>, sqlx::Error> {
    let row: Option<(serde_json::Value, OffsetDateTime)> = match owner {
        Owner::Session(s) => {
            sqlx::query!("DELETE FROM webauthn_ceremonies WHERE kind = $1 AND session_id = $2 RETURNING state, expires_at", kind.as_str(), s.0)
                .fetch_optional(db)
                .await?
                .map(|r| (r.state, r.expires_at))
        }
        Owner::Token(t) => {
            sqlx::query!("DELETE FROM webauthn_ceremonies WHERE kind = $1 AND token_hash = $2 RETURNING state, expires_at", kind.as_str(), &t[..])
                .fetch_optional(db)
                .await?
                .map(|r| (r.state, r.expires_at))
        }
    };
    Ok(row.filter(|(_, expires_at)| *expires_at > now).map(|(s, _)| s))
}

/// Forgets ceremonies past their 5 minutes, and the ids of finished sign-ins whose ceremony expired
/// more than 5 minutes ago (a cookie that old is refused anyway; the margin covers an instance
/// whose clock is behind the one running the clean-up): the clean-up task.
pub async fn delete_expired_ceremonies(db: impl PgExecutor<'_>, now: OffsetDateTime) -> Result<u64, sqlx::Error> {
    let r = sqlx::query_scalar!(
        r#"WITH ceremonies AS (DELETE FROM webauthn_ceremonies WHERE expires_at <= $1 RETURNING 1),
                finished AS (DELETE FROM passkey_sign_ins_finished WHERE expires_at <= $1 - interval '5 minutes' RETURNING 1)
           SELECT (SELECT count(*) FROM ceremonies) + (SELECT count(*) FROM finished) AS "n!""#,
        now
    )
    .fetch_one(db)
    .await?;
    Ok(r as u64)
}
