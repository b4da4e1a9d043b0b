//! Passkeys and unfinished WebAuthn ceremonies. Every query about a passkey names its account, so
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
}

/// Stores a new passkey; `false` when its credential id is already registered (to any account).
pub async fn insert(db: impl PgExecutor<'_>, p: &NewPasskey<'_>) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!(
        "INSERT INTO passkeys (id, user_id, credential_id, credential, name, aaguid, backup_eligible, backed_up, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
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
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
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

/// The passkey with this credential id, if it belongs to this account.
pub async fn find_by_credential(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    credential_id: &[u8],
) -> Result<Option<PasskeyRow>, sqlx::Error> {
    sqlx::query_as!(
        PasskeyRow,
        r#"SELECT id, user_id, credential AS "credential: Json<serde_json::Value>", name, aaguid, backup_eligible, backed_up,
                  created_at, last_used_at
           FROM passkeys WHERE user_id = $1 AND credential_id = $2"#,
        user_id.0,
        credential_id,
    )
    .fetch_optional(db)
    .await
}

/// After a sign-in: the updated credential (counter, backup state) and the time it was used.
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

/// Renames one of the account's passkeys; `false` when it has no such passkey.
pub async fn rename(db: impl PgExecutor<'_>, user_id: UserId, id: PasskeyId, name: &str) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!("UPDATE passkeys SET name = $3 WHERE user_id = $1 AND id = $2", user_id.0, id.0, name)
        .execute(db)
        .await?;
    Ok(r.rows_affected() == 1)
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

/// Locks the account row, so two removals racing cannot both see "another way to sign in remains".
pub async fn lock_account(db: impl PgExecutor<'_>, user_id: UserId) -> Result<(), sqlx::Error> {
    sqlx::query_scalar!("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", user_id.0).fetch_all(db).await?;
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

/// Who a ceremony belongs to: the session that began it, or (sign-in) the browser holding the token.
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

/// Serialises the sign-in ceremonies begun from one client network until the transaction ends, so
/// its cap is exact however many begins arrive at once.
pub async fn lock_network(db: impl PgExecutor<'_>, network: &str) -> Result<(), sqlx::Error> {
    sqlx::query!("SELECT pg_advisory_xact_lock(hashtext('webauthn_ceremonies.client_network'), hashtext($1))", network)
        .execute(db)
        .await?;
    Ok(())
}

/// An anonymous (sign-in) ceremony to store, unless a cap refuses it.
pub struct NewSignInCeremony<'a> {
    pub token_hash: &'a [u8; 32],
    /// The ceremony this browser held until now (its cookie is replaced): deleted.
    pub replaces: Option<&'a [u8; 32]>,
    /// `ClientNetwork` as text: "203.0.113.5", "2001:db8:1:2::/64" or "unknown".
    pub client_network: &'a str,
    pub state: serde_json::Value,
    pub now: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    /// Live sign-in ceremonies allowed per client network, and in all.
    pub per_network: i64,
    pub total: i64,
}

/// What became of a sign-in ceremony.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignInAdmission {
    Stored,
    /// The network has `per_network` live ceremonies; the first of them ends at `frees_at`.
    NetworkFull { frees_at: OffsetDateTime },
    /// There are `total` live sign-in ceremonies; the first of them ends at `frees_at`.
    TableFull { frees_at: OffsetDateTime },
}

/// Stores a sign-in ceremony if its network has fewer than `per_network` live ones and there are
/// fewer than `total` in all (live: unexpired, not the one replaced), in one statement. Also
/// deletes the ceremony it replaces and the network's expired ones. Run it after `lock_network` in
/// the same transaction: the per-network cap is then exact; the total may be passed by the number
/// of begins running at the same moment on other networks.
pub async fn put_sign_in_ceremony(db: impl PgExecutor<'_>, c: &NewSignInCeremony<'_>) -> Result<SignInAdmission, sqlx::Error> {
    let r = sqlx::query!(
        r#"WITH forgotten AS (
             DELETE FROM webauthn_ceremonies
             WHERE kind = 'sign_in' AND (token_hash = $3 OR (client_network = $4 AND expires_at <= $6))
         ),
         mine AS (
             SELECT count(*) AS n, min(expires_at) AS first_expiry FROM (
                 SELECT expires_at FROM webauthn_ceremonies
                 WHERE client_network = $4 AND expires_at > $6 AND token_hash IS DISTINCT FROM $3
                 ORDER BY expires_at LIMIT $8
             ) m
         ),
         everyone AS (
             SELECT count(*) AS n FROM (
                 SELECT 1 FROM webauthn_ceremonies
                 WHERE kind = 'sign_in' AND expires_at > $6 AND token_hash IS DISTINCT FROM $3
                 LIMIT $9
             ) e
         ),
         stored AS (
             INSERT INTO webauthn_ceremonies (id, kind, token_hash, state, created_at, expires_at, client_network)
             SELECT $1, 'sign_in', $2, $5, $6, $7, $4 FROM mine, everyone WHERE mine.n < $8 AND everyone.n < $9
             RETURNING 1
         )
         SELECT (SELECT count(*) FROM stored) AS "stored!",
                mine.n AS "mine!",
                mine.first_expiry,
                (SELECT min(expires_at) FROM webauthn_ceremonies WHERE kind = 'sign_in' AND expires_at > $6)
         FROM mine"#,
        Uuid::new_v4(),
        &c.token_hash[..],
        c.replaces.map(|h| &h[..]),
        c.client_network,
        &c.state,
        c.now,
        c.expires_at,
        c.per_network,
        c.total,
    )
    .fetch_one(db)
    .await?;
    let (stored, mine, mine_first, any_first) = (r.stored, r.mine, r.first_expiry, r.min);
    Ok(if stored == 1 {
        SignInAdmission::Stored
    } else if mine >= c.per_network {
        SignInAdmission::NetworkFull { frees_at: mine_first.unwrap_or(c.expires_at) }
    } else {
        SignInAdmission::TableFull { frees_at: any_first.unwrap_or(c.expires_at) }
    })
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

/// Forgets ceremonies past their 5 minutes (clean-up task).
pub async fn delete_expired_ceremonies(db: impl PgExecutor<'_>, now: OffsetDateTime) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query!("DELETE FROM webauthn_ceremonies WHERE expires_at <= $1", now).execute(db).await?.rows_affected())
}
