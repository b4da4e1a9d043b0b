//! Key rotation's re-seal step: every stored TOTP secret re-encrypted under the first key of
//! `[secrets] totp_keys`, so that older keys can be removed.
use super::aad;
use crate::db;
use crate::ids::{SessionId, UserId};
use crate::secret_box::Sealed;
use crate::{DomainError, Services};

/// Stored secrets read and re-sealed per round trip.
const RESEAL_BATCH: i64 = 500;

/// What [`reseal_all`] did, counting enabled authenticators and enrolments in progress together.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResealReport {
    /// Secrets re-encrypted under the first key.
    pub resealed: u64,
    /// Secrets that already used the first key when the run began.
    pub already_current: u64,
    /// Secrets that changed between being read and re-sealed (set up anew, or removed, by someone
    /// at that moment): left as they are. A second run covers any still under an old key.
    pub skipped: u64,
}

/// Key rotation's re-seal step: re-encrypts every stored TOTP secret (enabled authenticators and
/// enrolments in progress) under the first key of `[secrets] totp_keys`, so that older keys can be
/// removed from the list. Rows are read in batches; each is replaced by one conditional UPDATE that
/// applies only if the row still holds exactly what was read, so a concurrent change is never
/// overwritten. Safe to run while servers run, and again (a second run re-seals nothing).
///
/// Errors: a secret sealed under a key the configuration no longer lists (nothing is lost: put the
/// key back after the first one and run again), or one that fails to open (tampered with).
pub async fn reseal_all(svc: &Services) -> Result<ResealReport, DomainError> {
    let boxed = &svc.keys.totp;
    let current = boxed.sealing_key_id();
    let (credentials, enrolments) = db::two_factor::count_sealed_under(&svc.db, current).await?;
    let mut report = ResealReport { already_current: (credentials + enrolments) as u64, ..Default::default() };
    let reseal = |row: &db::two_factor::StoredSecret| -> Result<(Sealed, Sealed), DomainError> {
        if !boxed.has_key(&row.key_id) {
            return Err(DomainError::Internal(format!(
                "a stored TOTP secret is sealed under the key {:?}, which [secrets] totp_keys no longer lists; \
                 list it again after the first key, then re-seal",
                row.key_id
            )));
        }
        let old = row.sealed();
        let new = boxed.reseal(&old, &aad(row.user_id)).map_err(|_| {
            DomainError::Internal(format!("the stored TOTP secret of account {} does not open under its key {:?}", row.user_id, row.key_id))
        })?;
        Ok((old, new))
    };

    let mut after = UserId(uuid::Uuid::nil());
    loop {
        let rows = db::two_factor::credentials_sealed_under_other_keys(&svc.db, current, after, RESEAL_BATCH).await?;
        for row in &rows {
            let (old, new) = reseal(row)?;
            if db::two_factor::reseal_credential(&svc.db, row.user_id, &old, &new).await? {
                report.resealed += 1;
            } else {
                report.skipped += 1;
            }
            after = row.user_id;
        }
        if (rows.len() as i64) < RESEAL_BATCH {
            break;
        }
    }

    let mut after = SessionId(uuid::Uuid::nil());
    loop {
        let rows = db::two_factor::enrolments_sealed_under_other_keys(&svc.db, current, after, RESEAL_BATCH).await?;
        for row in &rows {
            let session_id = row.session_id.ok_or_else(|| DomainError::Internal("an enrolment without a session".into()))?;
            let (old, new) = reseal(row)?;
            if db::two_factor::reseal_enrolment(&svc.db, row.user_id, session_id, &old, &new).await? {
                report.resealed += 1;
            } else {
                report.skipped += 1;
            }
            after = session_id;
        }
        if (rows.len() as i64) < RESEAL_BATCH {
            break;
        }
    }
    Ok(report)
}
