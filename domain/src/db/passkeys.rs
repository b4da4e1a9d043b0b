//! Passkeys and unfinished WebAuthn ceremonies. Every query about a passkey names its account, so
//! an id from the browser can never reach another account's passkey.
use sqlx::types::Json;
use sqlx::PgExecutor;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::alerts::LockedForSignIn;
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
}

/// The account's passkeys as the section lists them, oldest first (as `list`).
pub async fn list_shown(db: impl PgExecutor<'_>, user_id: UserId) -> Result<Vec<ListedPasskey>, sqlx::Error> {
    sqlx::query_as!(
        ListedPasskey,
        "SELECT id, name, aaguid, backup_eligible, created_at, last_used_at
           FROM passkeys WHERE user_id = $1 ORDER BY created_at, id",
        user_id.0,
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

/// The passkey an answer to a sign-in names, if it is `user_id`'s, unless the ceremony
/// `ceremony_id` has finished already: `Err(())` then. One statement; it writes nothing (an answer
/// is only recorded once it has been verified, by `record_sign_in`).
pub async fn find_for_sign_in(
    db: impl PgExecutor<'_>,
    ceremony_id: Uuid,
    user_id: UserId,
    credential_id: &[u8],
) -> Result<Result<Option<PasskeyRow>, ()>, sqlx::Error> {
    let r = sqlx::query!(
        r#"SELECT EXISTS (SELECT 1 FROM passkey_sign_ins_finished WHERE ceremony_id = $1) AS "finished!",
                  p.id AS "id?: PasskeyId", p.user_id AS "user_id?: UserId",
                  p.credential AS "credential?: Json<serde_json::Value>", p.name AS "name?", p.aaguid,
                  p.backup_eligible AS "backup_eligible?", p.backed_up AS "backed_up?",
                  p.created_at AS "created_at?", p.last_used_at
           FROM (SELECT 1) one
           LEFT JOIN passkeys p ON p.user_id = $2 AND p.credential_id = $3"#,
        ceremony_id,
        user_id.0,
        credential_id,
    )
    .fetch_one(db)
    .await?;
    if r.finished {
        return Ok(Err(()));
    }
    Ok(Ok(match (r.id, r.user_id, r.credential, r.name, r.backup_eligible, r.backed_up, r.created_at) {
        (Some(id), Some(user_id), Some(credential), Some(name), Some(backup_eligible), Some(backed_up), Some(created_at)) => Some(PasskeyRow {
            id,
            user_id,
            credential,
            name,
            aaguid: r.aaguid,
            backup_eligible,
            backed_up,
            created_at,
            last_used_at: r.last_used_at,
        }),
        _ => None,
    }))
}

/// A verified passkey sign-in to record: its ceremony (the id and expiry its cookie carried), the
/// passkey's use, and the sign-in throttle path (`sign_in_throttles.device`) it starts again.
pub struct SignInUse<'a> {
    pub ceremony_id: Uuid,
    pub ceremony_expires_at: OffsetDateTime,
    pub user_id: UserId,
    pub passkey_id: PasskeyId,
    /// The updated credential (counter, backup state), when it changed.
    pub credential: Option<serde_json::Value>,
    pub backed_up: Option<bool>,
    pub throttle_path: &'a [u8],
    pub now: OffsetDateTime,
}

/// What became of a verified passkey sign-in's record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignInRecorded {
    /// Recorded; the account's row is locked for the sign-in until the transaction ends.
    Recorded(LockedForSignIn),
    /// The ceremony finished before (its id is recorded): nothing changed.
    AlreadyFinished,
    /// The passkey is no longer the account's (removed meanwhile): roll back.
    PasskeyGone,
}

/// Records a verified passkey sign-in in one statement: its ceremony as finished (the id, kept
/// until the clean-up, see `delete_expired_ceremonies`, so it never finishes again), the passkey's
/// use (last-used time, counter, backup state) and the throttle path's fresh start; and locks the
/// account's row for the sign-in (`alerts::lock_for_sign_in`). Run it in the sign-in's
/// transaction: of two finishes of one ceremony at once, the second waits for the account's row
/// and then finds the first's id recorded. Only verified answers get here, so the table holds real
/// sign-ins only.
///
/// The account's row is locked first (`finished`, and so `used`, wait for `account`), the order a
/// removal takes them in (`lock_account`, then `delete`) and `sign_in_if_familiar` too: a sign-in
/// with a passkey being removed waits for the removal and finds the passkey gone, instead of each
/// holding the row the other needs until Postgres ends one of them as a deadlock.
pub async fn record_sign_in(db: impl PgExecutor<'_>, u: &SignInUse<'_>) -> Result<SignInRecorded, sqlx::Error> {
    let r = sqlx::query!(
        r#"WITH account AS (
             SELECT first_signed_in_at FROM users WHERE id = $3 FOR NO KEY UPDATE
         ),
         finished AS (
             INSERT INTO passkey_sign_ins_finished (ceremony_id, expires_at) SELECT $1, $2 FROM account
             ON CONFLICT ON CONSTRAINT passkey_sign_ins_finished_pkey DO NOTHING
             RETURNING 1
         ),
         used AS (
             UPDATE passkeys SET last_used_at = $5,
                    credential = COALESCE($6, credential),
                    backed_up = COALESCE($7, backed_up)
             WHERE user_id = $3 AND id = $4 AND EXISTS (SELECT 1 FROM finished)
             RETURNING 1
         ),
         throttle_reset AS (
             DELETE FROM sign_in_throttles WHERE user_id = $3 AND device = $8 AND EXISTS (SELECT 1 FROM used)
         )
         SELECT EXISTS (SELECT 1 FROM finished) AS "finished!", EXISTS (SELECT 1 FROM used) AS "used!",
                EXISTS (SELECT 1 FROM account WHERE first_signed_in_at IS NOT NULL) AS "signed_in_before!""#,
        u.ceremony_id,
        u.ceremony_expires_at,
        u.user_id.0,
        u.passkey_id.0,
        u.now,
        u.credential,
        u.backed_up,
        u.throttle_path,
    )
    .fetch_one(db)
    .await?;
    Ok(match (r.finished, r.used) {
        (false, _) => SignInRecorded::AlreadyFinished,
        (true, false) => SignInRecorded::PasskeyGone,
        (true, true) => SignInRecorded::Recorded(LockedForSignIn { signed_in_before: r.signed_in_before }),
    })
}

/// What became of [`sign_in_if_familiar`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FamiliarSignIn {
    /// Signed in: the ceremony finished, the passkey's use recorded, the session started and its
    /// event appended, in this one statement.
    SignedIn,
    /// Not familiar as far as this statement could tell: nothing changed. The sign-in goes the
    /// whole way instead (`record_sign_in` and `activity::signed_in`, one transaction).
    Unfamiliar,
    /// The ceremony finished before: nothing changed.
    AlreadyFinished,
    /// The passkey is no longer the account's (removed meanwhile): nothing changed.
    PasskeyGone,
}

/// A verified passkey sign-in from a familiar place, in one statement and no transaction (the
/// statements of `record_sign_in`, `events::insert_sign_in` and the throttle's fresh start
/// together): a familiar sign-in raises no alert, so nothing has to follow it. The account's row is
/// locked first, as `record_sign_in` and a removal do, so of those only one at a time goes on;
/// then the passkey's (which must still be there: after a removal that went first there is
/// nothing to lock, and nothing changes), then the ceremony's id.
///
/// Whoever changes what counts as familiar changes it here too, in `activity::signed_in` and in
/// `events::insert_sign_in`; this statement must never call familiar what those would not.
///
/// Familiar means what `activity::signed_in` decides: the account never signed in before
/// (`first_signed_in_at`, read from the locked row), or `known_device`, or its sign-ins since
/// `since` came from this network and (when known) this country. Those sign-ins are read from the
/// statement's snapshot, which predates the lock: a sign-in that committed while this one waited
/// is missing from it. Sign-ins are only ever added within that window (the retention task
/// deletes older ones only), so a missing one can make a familiar sign-in look unfamiliar, never
/// the reverse; such a sign-in changes nothing here and goes the whole way, which decides with
/// everything committed before it.
#[allow(clippy::too_many_arguments)]
pub async fn sign_in_if_familiar(
    db: impl PgExecutor<'_>,
    u: &SignInUse<'_>,
    session: &crate::db::events::NewSession<'_>,
    event: &crate::db::events::NewEvent<'_>,
    client: &crate::request::ClientInfo,
    known_device: bool,
    since: OffsetDateTime,
) -> Result<FamiliarSignIn, sqlx::Error> {
    debug_assert_eq!(event.kind, crate::kinds::EventKind::SignedIn);
    debug_assert_eq!(event.session_id, Some(session.id), "the event is the session's sign-in");
    debug_assert_eq!(session.passkey_id, Some(u.passkey_id), "the session records the passkey");
    let c = crate::db::events::Stored::of(event, client);
    let device_key = crate::db::events::device_key(client);
    let r = sqlx::query!(
        r#"WITH account AS (
             SELECT first_signed_in_at IS NOT NULL AS signed_in_before FROM users WHERE id = $3 FOR NO KEY UPDATE
         ),
         familiar AS (
             SELECT 1 FROM account
             WHERE NOT signed_in_before OR $9
                OR (CASE WHEN $19::text IS NULL
                         THEN EXISTS (SELECT 1 FROM security_events WHERE user_id = $3 AND kind = 'signed_in' AND network IS NULL
                                      AND created_at >= $10)
                         ELSE EXISTS (SELECT 1 FROM security_events WHERE user_id = $3 AND kind = 'signed_in' AND network = $19
                                      AND created_at >= $10)
                    END
                    AND ($20::text IS NULL OR EXISTS (SELECT 1 FROM security_events WHERE user_id = $3 AND kind = 'signed_in'
                            AND created_at >= $10 AND country = $20)))
         ),
         live AS (
             SELECT 1 FROM passkeys WHERE user_id = $3 AND id = $4 AND EXISTS (SELECT 1 FROM familiar) FOR NO KEY UPDATE
         ),
         finished AS (
             INSERT INTO passkey_sign_ins_finished (ceremony_id, expires_at) SELECT $1, $2 FROM live
             ON CONFLICT ON CONSTRAINT passkey_sign_ins_finished_pkey DO NOTHING
             RETURNING 1
         ),
         used AS (
             UPDATE passkeys SET last_used_at = $5,
                    credential = COALESCE($6, credential),
                    backed_up = COALESCE($7, backed_up)
             WHERE user_id = $3 AND id = $4 AND EXISTS (SELECT 1 FROM finished)
             RETURNING 1
         ),
         throttle_reset AS (
             DELETE FROM sign_in_throttles WHERE user_id = $3 AND device = $8 AND EXISTS (SELECT 1 FROM used)
         ),
         session AS (
             INSERT INTO sessions (id, user_id, token_hash, created_at, last_seen_at, verified_at, ip, user_agent,
                                   auth_method, device_key, country, passkey_id, new_device)
             SELECT $11, $3, $12, $5, $5, $5, $17, $18, $15, $13, $20, $4,
                    EXISTS (SELECT 1 FROM sessions WHERE user_id = $3)
                    AND (NOT EXISTS (SELECT 1 FROM sessions WHERE user_id = $3 AND device_key = $13)
                         OR ($20::text IS NOT NULL AND NOT EXISTS (SELECT 1 FROM sessions WHERE user_id = $3 AND country = $20)))
             FROM used
             RETURNING 1
         ),
         first_sign_in AS (
             UPDATE users SET first_signed_in_at = $5 WHERE id = $3 AND first_signed_in_at IS NULL AND EXISTS (SELECT 1 FROM session)
         ),
         inserted AS (
             INSERT INTO security_events (id, user_id, session_id, kind, method, detail, ip, user_agent, network, country, location, created_at)
             SELECT $14, $3, $11, 'signed_in', $15, $16, $17, $18, $19, $20, $21, $5 FROM session
             RETURNING 1
         )
         SELECT EXISTS (SELECT 1 FROM familiar) AS "familiar!", EXISTS (SELECT 1 FROM live) AS "live!",
                EXISTS (SELECT 1 FROM finished) AS "finished!", EXISTS (SELECT 1 FROM inserted) AS "signed_in!""#,
        u.ceremony_id,
        u.ceremony_expires_at,
        u.user_id.0,
        u.passkey_id.0,
        u.now,
        u.credential,
        u.backed_up,
        u.throttle_path,
        known_device,
        since,
        session.id.0,
        &session.token_hash[..],
        device_key,
        crate::ids::EventId::new().0,
        event.method.map(crate::kinds::SignInMethod::as_str),
        c.detail,
        c.ip,
        c.user_agent,
        c.network,
        c.country,
        c.location,
    )
    .fetch_one(db)
    .await?;
    Ok(match (r.familiar, r.live, r.finished) {
        (false, ..) => FamiliarSignIn::Unfamiliar,
        (true, false, _) => FamiliarSignIn::PasskeyGone,
        (true, true, false) => FamiliarSignIn::AlreadyFinished,
        (true, true, true) => {
            debug_assert!(r.signed_in, "a recorded use starts its session");
            FamiliarSignIn::SignedIn
        }
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
