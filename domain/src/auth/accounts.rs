//! Sign up, sign in and change password.
use time::OffsetDateTime;

use crate::auth::password::check_policy;
use crate::auth::sessions::{self, AuthSession, ClientInfo};
use crate::db;
use crate::error::unique_violation;
use crate::ids::UserId;
use crate::secret::{Password, SessionToken};
use crate::{DomainError, Services};

/// Longest display name accepted.
pub const MAX_DISPLAY_NAME: usize = 100;

/// Trimmed and lower-cased: the identity used for look-ups and uniqueness.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// A plausible address: one `@`, something on both sides, a dot in the domain, no spaces, ≤ 254.
pub fn validate_email(email: &str) -> Result<(), DomainError> {
    let e = email.trim();
    let invalid = |m: &str| Err(DomainError::Invalid { field: "email", message: m.into() });
    if e.is_empty() {
        return invalid("Enter your email address.");
    }
    if e.chars().count() > 254 {
        return invalid("That email address is too long.");
    }
    let mut parts = e.splitn(2, '@');
    let (local, domain) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if local.is_empty()
        || domain.is_empty()
        || domain.contains('@')
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || e.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return invalid("Enter an email address like name@example.com.");
    }
    Ok(())
}

/// Creates an account with a password and signs it in.
pub async fn sign_up(
    svc: &Services,
    email: &str,
    display_name: Option<&str>,
    password: &Password,
    client: &ClientInfo,
) -> Result<(UserId, SessionToken), DomainError> {
    let user_id = create_account(svc, email, display_name, password, client).await?;
    let token = sessions::start(svc, user_id, "password", client).await?;
    Ok((user_id, token))
}

/// Creates an account with a password, without signing it in (the demo account, seeding).
pub async fn create_account(
    svc: &Services,
    email: &str,
    display_name: Option<&str>,
    password: &Password,
    client: &ClientInfo,
) -> Result<UserId, DomainError> {
    validate_email(email)?;
    let display_name = display_name.map(str::trim).filter(|s| !s.is_empty());
    if let Some(name) = display_name {
        if name.chars().count() > MAX_DISPLAY_NAME {
            return Err(DomainError::Invalid {
                field: "display_name",
                message: format!("Use at most {MAX_DISPLAY_NAME} characters for your name."),
            });
        }
    }
    check_policy(password, email)?;
    let normalized = normalize_email(email);
    // Cheap early answer for the common case; the unique constraint is the real guard.
    if db::users::find_by_email(&svc.db, &normalized).await?.is_some() {
        return Err(DomainError::EmailTaken);
    }
    let hash = svc.hasher.hash(password).await?;
    let now = svc.clock.now();
    let user_id = UserId::new();
    let mut tx = svc.db.begin().await?;
    db::users::insert(&mut *tx, user_id, email.trim(), &normalized, display_name, Some(&hash), now)
        .await
        .map_err(|e| match unique_violation(&e) {
            Some("users_email_normalized_key") => DomainError::EmailTaken,
            _ => e.into(),
        })?;
    db::events::record(&mut *tx, user_id, None, "account_created", client, now).await?;
    tx.commit().await?;
    Ok(user_id)
}

/// Checks an email and password. Unknown account, account without a password and wrong password
/// all answer `InvalidCredentials`, after the same amount of hashing work.
pub async fn sign_in(
    svc: &Services,
    email: &str,
    password: &Password,
    client: &ClientInfo,
) -> Result<SessionToken, DomainError> {
    let normalized = normalize_email(email);
    let user = if normalized.is_empty() || normalized.len() > 254 {
        None
    } else {
        db::users::find_by_email(&svc.db, &normalized).await?
    };
    let stored = user.as_ref().and_then(|u| u.password_hash.as_deref());
    let ok = svc.hasher.verify(password, stored).await?;
    match user {
        Some(u) if ok => {
            let token = sessions::start(svc, u.id, "password", client).await?;
            db::events::record(&svc.db, u.id, None, "signed_in", client, svc.clock.now()).await?;
            Ok(token)
        }
        _ => Err(DomainError::InvalidCredentials),
    }
}

/// What the Password section shows.
#[derive(Clone, Debug)]
pub struct PasswordStatus {
    pub has_password: bool,
    pub changed_at: Option<OffsetDateTime>,
}

pub async fn password_status(svc: &Services, auth: &AuthSession) -> Result<PasswordStatus, DomainError> {
    let user = db::users::find(&svc.db, auth.user_id).await?.ok_or(DomainError::Unauthenticated)?;
    Ok(PasswordStatus { has_password: user.password_hash.is_some(), changed_at: user.password_changed_at })
}

/// Changes the password after checking the current one. In one transaction: the new hash is stored,
/// every other session is revoked, the current session gets a fresh token (returned, for the cookie)
/// and the change is recorded. A failure part-way changes nothing.
pub async fn change_password(
    svc: &Services,
    auth: &AuthSession,
    current: &Password,
    new: &Password,
    client: &ClientInfo,
) -> Result<SessionToken, DomainError> {
    let user = db::users::find(&svc.db, auth.user_id).await?.ok_or(DomainError::Unauthenticated)?;
    if user.password_hash.is_none() {
        return Err(DomainError::Invalid {
            field: "current_password",
            message: "This account has no password yet.".into(),
        });
    }
    if !svc.hasher.verify(current, user.password_hash.as_deref()).await? {
        return Err(DomainError::Invalid {
            field: "current_password",
            message: "Your current password is not correct.".into(),
        });
    }
    check_policy(new, &user.email)?;
    if svc.hasher.verify(new, user.password_hash.as_deref()).await? {
        return Err(DomainError::PasswordRejected("Choose a password different from your current one.".into()));
    }
    let hash = svc.hasher.hash(new).await?;
    let now = svc.clock.now();
    let (token, token_hash) = sessions::new_token();
    let mut tx = svc.db.begin().await?;
    db::users::set_password(&mut *tx, auth.user_id, &hash, now).await?;
    db::sessions::revoke_others(&mut *tx, auth.user_id, auth.session_id, now, "password_changed").await?;
    db::sessions::rotate_token(&mut *tx, auth.user_id, auth.session_id, &token_hash, now).await?;
    db::events::record(&mut *tx, auth.user_id, Some(auth.session_id), "password_changed", client, now).await?;
    tx.commit().await?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_case_folded() {
        assert_eq!(normalize_email("  Ada@Example.TEST "), "ada@example.test");
    }

    #[test]
    fn email_validation_explains() {
        assert!(validate_email("ada@example.test").is_ok());
        assert!(validate_email("  ada@example.test  ").is_ok());
        for bad in ["", "ada", "ada@", "@example.test", "ada@example", "a b@example.test", "a@b@c.d", "ada@.test"] {
            assert!(validate_email(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(validate_email(&format!("{}@example.test", "a".repeat(250))).is_err());
    }

    #[test]
    fn min_length_constant_matches_the_policy() {
        assert_eq!(crate::auth::password::MIN_LENGTH, 15);
    }
}
