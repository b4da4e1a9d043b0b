//! A passkey sign-in's reads and writes once the answer names a passkey: finding it (and whether
//! the ceremony finished already) when this instance does not remember it, and recording a
//! verified answer with its session, in one statement from a familiar place
//! (`sign_in_if_familiar`) or in the sign-in's transaction (`record_sign_in`). Both record nothing
//! unless the passkey is still at the revision the answer was checked against
//! (`SignInUse::revision`). The passkeys themselves and unfinished ceremonies are `db::passkeys`.
use sqlx::types::Json;
use sqlx::PgExecutor;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::alerts::LockedForSignIn;
use crate::db::passkeys::PasskeyRow;
use crate::ids::{PasskeyId, UserId};

/// The passkey an answer to a sign-in names, if it is `user_id`'s, with its revision (see
/// `SignInUse::revision`), unless the ceremony `ceremony_id` has finished already: `Err(())` then.
/// One statement; it writes nothing (an answer is only recorded once it has been verified, by
/// `record_sign_in` or `sign_in_if_familiar`).
pub async fn find_for_sign_in(
    db: impl PgExecutor<'_>,
    ceremony_id: Uuid,
    user_id: UserId,
    credential_id: &[u8],
) -> Result<Result<Option<(PasskeyRow, i64)>, ()>, sqlx::Error> {
    let r = sqlx::query!(
        r#"SELECT EXISTS (SELECT 1 FROM passkey_sign_ins_finished WHERE ceremony_id = $1) AS "finished!",
                  p.id AS "id?: PasskeyId", p.user_id AS "user_id?: UserId",
                  p.credential AS "credential?: Json<serde_json::Value>", p.name AS "name?", p.aaguid,
                  p.backup_eligible AS "backup_eligible?", p.backed_up AS "backed_up?",
                  p.created_at AS "created_at?", p.last_used_at, p.revision AS "revision?"
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
    Ok(Ok(match (r.id, r.user_id, r.credential, r.name, r.backup_eligible, r.backed_up, r.created_at, r.revision) {
        (Some(id), Some(user_id), Some(credential), Some(name), Some(backup_eligible), Some(backed_up), Some(created_at), Some(revision)) => Some((PasskeyRow {
            id,
            user_id,
            credential,
            name,
            aaguid: r.aaguid,
            backup_eligible,
            backed_up,
            created_at,
            last_used_at: r.last_used_at,
        }, revision)),
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
    /// The passkey's revision (`passkeys.revision`: every change to its row makes a new one) that
    /// the answer was verified against. Nothing is recorded unless it is still the passkey's, so
    /// an answer checked against a passkey as it was before a change (another instance counted a
    /// use, say, and this one remembered it from before: `auth::passkeys::known`) never signs in.
    pub revision: i64,
    /// The updated credential (counter, backup state), when it changed.
    pub credential: Option<serde_json::Value>,
    pub backed_up: Option<bool>,
    pub throttle_path: &'a [u8],
    pub now: OffsetDateTime,
}

/// What became of a verified passkey sign-in's record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignInRecorded {
    /// Recorded; the account's row is locked for the sign-in until the transaction ends. With the
    /// passkey's new revision.
    Recorded(LockedForSignIn, i64),
    /// The ceremony finished before (its id is recorded): nothing changed.
    AlreadyFinished,
    /// The passkey is no longer the account's (removed meanwhile): roll back.
    PasskeyGone,
    /// The passkey changed since the revision the answer was verified against: nothing changed;
    /// check the answer again against the passkey as it is now.
    Changed,
}

/// Records a verified passkey sign-in in one statement: its ceremony as finished (the id, kept
/// until the clean-up, see `delete_expired_ceremonies`, so it never finishes again), the passkey's
/// use (last-used time, counter, backup state) and the throttle path's fresh start; and locks the
/// account's row for the sign-in (`alerts::lock_for_sign_in`). Run it in the sign-in's
/// transaction: of two finishes of one ceremony at once, the second waits for the account's row
/// and then finds the first's id recorded (or the passkey at a new revision, which the first
/// moved on: `Changed`). Only verified answers get here, so the table holds real sign-ins only.
///
/// The account's row is locked first (`live`, and so `finished` and `used`, wait for `account`),
/// the order a removal takes them in (`lock_account`, then `delete`) and `sign_in_if_familiar` too:
/// a sign-in with a passkey being removed waits for the removal and finds the passkey gone, instead
/// of each holding the row the other needs until Postgres ends one of them as a deadlock. Then the
/// passkey's, whose revision must still be `u.revision` for anything to be recorded.
pub async fn record_sign_in(db: impl PgExecutor<'_>, u: &SignInUse<'_>) -> Result<SignInRecorded, sqlx::Error> {
    let r = sqlx::query!(
        r#"WITH account AS (
             SELECT first_signed_in_at, devices_reset_at FROM users WHERE id = $3 FOR NO KEY UPDATE
         ),
         live AS (
             SELECT revision FROM passkeys WHERE user_id = $3 AND id = $4 AND EXISTS (SELECT 1 FROM account) FOR NO KEY UPDATE
         ),
         finished AS (
             INSERT INTO passkey_sign_ins_finished (ceremony_id, expires_at) SELECT $1, $2 FROM live WHERE revision = $9
             ON CONFLICT ON CONSTRAINT passkey_sign_ins_finished_pkey DO NOTHING
             RETURNING 1
         ),
         used AS (
             UPDATE passkeys SET last_used_at = $5,
                    credential = COALESCE($6, credential),
                    backed_up = COALESCE($7, backed_up)
             WHERE user_id = $3 AND id = $4 AND EXISTS (SELECT 1 FROM finished)
             RETURNING revision
         ),
         throttle_reset AS (
             DELETE FROM sign_in_throttles WHERE user_id = $3 AND device = $8 AND EXISTS (SELECT 1 FROM used)
         )
         SELECT (SELECT revision FROM live) AS "current_revision?", EXISTS (SELECT 1 FROM finished) AS "finished!",
                (SELECT revision FROM used) AS "new_revision?",
                EXISTS (SELECT 1 FROM account WHERE first_signed_in_at IS NOT NULL) AS "signed_in_before!",
                (SELECT devices_reset_at FROM account) AS "devices_reset_at?""#,
        u.ceremony_id,
        u.ceremony_expires_at,
        u.user_id.0,
        u.passkey_id.0,
        u.now,
        u.credential,
        u.backed_up,
        u.throttle_path,
        u.revision,
    )
    .fetch_one(db)
    .await?;
    Ok(match (r.current_revision, r.finished, r.new_revision) {
        (None, ..) => SignInRecorded::PasskeyGone,
        (Some(current), ..) if current != u.revision => SignInRecorded::Changed,
        (Some(_), false, _) => SignInRecorded::AlreadyFinished,
        (Some(_), true, Some(revision)) => {
            SignInRecorded::Recorded(LockedForSignIn { signed_in_before: r.signed_in_before, devices_reset_at: r.devices_reset_at }, revision)
        }
        // the passkey's row is locked: what `live` found, `used` updates
        (Some(_), true, None) => return Err(sqlx::Error::Protocol("record_sign_in: the locked passkey was not updated".into())),
    })
}

/// What became of [`sign_in_if_familiar`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FamiliarSignIn {
    /// Signed in: the ceremony finished, the passkey's use recorded (its new revision here), the
    /// session started and its event appended, in this one statement.
    SignedIn(i64),
    /// Not familiar as far as this statement could tell: nothing changed. The sign-in goes the
    /// whole way instead (`record_sign_in` and `activity::signed_in`, one transaction).
    Unfamiliar,
    /// The ceremony finished before: nothing changed.
    AlreadyFinished,
    /// The passkey is no longer the account's (removed meanwhile): nothing changed.
    PasskeyGone,
    /// The passkey changed since the revision the answer was verified against: nothing changed;
    /// check the answer again against the passkey as it is now.
    Changed,
}

/// A verified passkey sign-in from a familiar place, in one statement and no transaction (the
/// statements of `record_sign_in`, `events::insert_sign_in` and the throttle's fresh start
/// together): a familiar sign-in raises no alert, so nothing has to follow it. The account's row is
/// locked first, as `record_sign_in` and a removal do, so of those only one at a time goes on;
/// then the passkey's (which must still be there: after a removal that went first there is
/// nothing to lock, and nothing changes), whose revision must still be `u.revision`, then the
/// ceremony's id.
///
/// Whoever changes what counts as familiar changes it here too, in `activity::signed_in` and in
/// `events::insert_sign_in`; this statement must never call familiar what those would not.
///
/// Familiar means what `activity::signed_in` decides: the account never signed in before
/// (`first_signed_in_at`, read from the locked row), or a known device (`known_device_since`, this
/// browser's entry for the account, newer than the locked row's `devices_reset_at`: see
/// `device_cookies::known_since`), or its sign-ins since
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
    known_device_since: Option<OffsetDateTime>,
    since: OffsetDateTime,
) -> Result<FamiliarSignIn, sqlx::Error> {
    debug_assert_eq!(event.kind, crate::kinds::EventKind::SignedIn);
    debug_assert_eq!(event.session_id, Some(session.id), "the event is the session's sign-in");
    debug_assert_eq!(session.passkey_id, Some(u.passkey_id), "the session records the passkey");
    let c = crate::db::events::Stored::of(event, client);
    let device_key = crate::db::events::device_key(client);
    let r = sqlx::query!(
        r#"WITH account AS (
             SELECT first_signed_in_at IS NOT NULL AS signed_in_before, devices_reset_at FROM users WHERE id = $3 FOR NO KEY UPDATE
         ),
         familiar AS (
             SELECT 1 FROM account
             WHERE NOT signed_in_before
                -- a known device (device_cookies::known_since)
                OR ($9::timestamptz IS NOT NULL AND (devices_reset_at IS NULL OR $9 >= devices_reset_at))
                OR (CASE WHEN $19::text IS NULL
                         THEN EXISTS (SELECT 1 FROM sign_in_history WHERE user_id = $3 AND network IS NULL
                                      AND created_at >= $10)
                         ELSE EXISTS (SELECT 1 FROM sign_in_history WHERE user_id = $3 AND network = $19
                                      AND created_at >= $10)
                    END
                    AND ($20::text IS NULL OR EXISTS (SELECT 1 FROM sign_in_history WHERE user_id = $3
                            AND created_at >= $10 AND country = $20)))
         ),
         live AS (
             SELECT revision FROM passkeys WHERE user_id = $3 AND id = $4 AND EXISTS (SELECT 1 FROM familiar) FOR NO KEY UPDATE
         ),
         finished AS (
             INSERT INTO passkey_sign_ins_finished (ceremony_id, expires_at) SELECT $1, $2 FROM live WHERE revision = $22
             ON CONFLICT ON CONSTRAINT passkey_sign_ins_finished_pkey DO NOTHING
             RETURNING 1
         ),
         used AS (
             UPDATE passkeys SET last_used_at = $5,
                    credential = COALESCE($6, credential),
                    backed_up = COALESCE($7, backed_up)
             WHERE user_id = $3 AND id = $4 AND EXISTS (SELECT 1 FROM finished)
             RETURNING revision
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
         SELECT EXISTS (SELECT 1 FROM familiar) AS "familiar!", (SELECT revision FROM live) AS "current_revision?",
                EXISTS (SELECT 1 FROM finished) AS "finished!", (SELECT revision FROM used) AS "new_revision?",
                EXISTS (SELECT 1 FROM inserted) AS "signed_in!""#,
        u.ceremony_id,
        u.ceremony_expires_at,
        u.user_id.0,
        u.passkey_id.0,
        u.now,
        u.credential,
        u.backed_up,
        u.throttle_path,
        known_device_since,
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
        u.revision,
    )
    .fetch_one(db)
    .await?;
    Ok(match (r.familiar, r.current_revision, r.finished, r.new_revision) {
        (false, ..) => FamiliarSignIn::Unfamiliar,
        (true, None, ..) => FamiliarSignIn::PasskeyGone,
        (true, Some(current), ..) if current != u.revision => FamiliarSignIn::Changed,
        (true, Some(_), false, _) => FamiliarSignIn::AlreadyFinished,
        (true, Some(_), true, Some(revision)) => {
            debug_assert!(r.signed_in, "a recorded use starts its session");
            FamiliarSignIn::SignedIn(revision)
        }
        // the passkey's row is locked: what `live` found, `used` updates (had it not, the
        // ceremony's id would be recorded without a session: an error, not a refusal)
        (true, Some(_), true, None) => return Err(sqlx::Error::Protocol("sign_in_if_familiar: the locked passkey was not updated".into())),
    })
}
