//! The password policy for new passwords: the rules shared with the browser (`policy::password`:
//! length in code points after NFC, nothing built from the account, the site or the words every
//! guesser tries first, nothing merely repetitive), then the list of common and leaked passwords,
//! which is far too large to ship to the browser.
use crate::auth::password::normalize;
use crate::error::PasswordRejection;
use crate::ids::UserId;
use crate::secret::Password;
use crate::DomainError;

/// Refuses, as a new password, the one "This wasn't me" turned off (`users.reported_password_hash`):
/// whoever signed in may know it; and those in use at or after the reported sign-in before it
/// (`reported_earlier_password_hashes`: they signed in with one, then changed it; or the owner
/// reset it meanwhile). One more hash for each, only for an account with such passwords.
pub async fn refuse_reported(svc: &crate::Services, user: &crate::db::users::UserRow, password: &Password) -> Result<(), DomainError> {
    let turned_off = user.reported_password_hash.iter().map(|h| (h, PasswordRejection::Reported));
    let earlier = user.reported_earlier_password_hashes.iter().map(|h| (h, PasswordRejection::ReportedEarlier));
    for (hash, why) in turned_off.chain(earlier) {
        if svc.hasher.verify(password, Some(hash)).await? {
            return Err(DomainError::PasswordRejected(why));
        }
    }
    Ok(())
}

/// Checks a new password against the policy: the shared rules (`policy::password::assess`), then
/// the list of common and leaked passwords.
pub fn check_policy(password: &Password, ctx: &policy::password::Context, common: &CommonPasswords) -> Result<(), DomainError> {
    let normalized = normalize(password);
    let verdict = policy::password::assess(normalized.expose(), ctx);
    if !verdict.is_acceptable() {
        return Err(DomainError::PasswordRejected(PasswordRejection::Rule(verdict)));
    }
    if common.contains(normalized.expose()) {
        return Err(DomainError::PasswordRejected(PasswordRejection::Leaked));
    }
    Ok(())
}

/// `check_policy` again in the caller's transaction, which holds the account's row (`user_id`): the
/// length a password needs depends on whether the account has an authenticator, and `ctx` (and the
/// hashing after it) read that before the lock. If it changed meanwhile (turned off: the password
/// may now be too short to be the only factor), the rules apply to the account as it is now, so
/// the answer is the one a request a moment later would get.
pub async fn check_policy_under_lock(
    conn: &mut sqlx::PgConnection,
    user_id: UserId,
    password: &Password,
    ctx: &policy::password::Context<'_>,
    common: &CommonPasswords,
) -> Result<(), DomainError> {
    let has_second_factor = crate::db::two_factor::enabled_at(&mut *conn, user_id).await?.is_some();
    if has_second_factor == ctx.has_second_factor {
        return Ok(());
    }
    check_policy(password, &policy::password::Context { has_second_factor, ..ctx.clone() }, common)
}

/// Common and leaked passwords, checked by exact match after NFC normalisation: one sorted text
/// file (one password per line, byte order), binary-searched in memory (~4 MB for 488,000 entries).
pub struct CommonPasswords {
    text: String,
    /// Start and end of each line in `text`, in sorted order.
    lines: Vec<(u32, u32)>,
}

impl std::fmt::Debug for CommonPasswords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CommonPasswords({} entries)", self.lines.len())
    }
}

impl CommonPasswords {
    /// Reads the list; an unreadable or empty file is an error (the server refuses to start).
    pub fn load(path: &std::path::Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read the common-password list {}: {e}", path.display()))?;
        let list = Self::from_text(text);
        if list.lines.is_empty() {
            return Err(format!("the common-password list {} is empty", path.display()));
        }
        Ok(list)
    }

    pub fn from_text(text: String) -> Self {
        let mut lines = Vec::new();
        let mut start = 0usize;
        for line in text.split_inclusive('\n') {
            let end = start + line.trim_end_matches(['\n', '\r']).len();
            if end > start {
                lines.push((start as u32, end as u32));
            }
            start += line.len();
        }
        let mut list = Self { text, lines };
        if !list.lines.windows(2).all(|w| list.get(w[0]) <= list.get(w[1])) {
            let mut lines = std::mem::take(&mut list.lines);
            lines.sort_by(|a, b| list.get(*a).cmp(list.get(*b)));
            list.lines = lines;
        }
        list
    }

    fn get(&self, (start, end): (u32, u32)) -> &str {
        &self.text[start as usize..end as usize]
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Exact match (the caller normalises).
    pub fn contains(&self, password: &str) -> bool {
        self.lines.binary_search_by(|r| self.get(*r).cmp(password)).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::password::MAX_LENGTH;

    fn ctx(email: &str) -> policy::password::Context<'_> {
        policy::password::Context { email, display_name: None, has_second_factor: false }
    }

    /// The list `scripts/setup.sh` installs (`make test` runs it first).
    fn installed() -> CommonPasswords {
        let path = testkit::data_file("passwords/common-passwords.txt");
        CommonPasswords::load(std::path::Path::new(&path)).unwrap_or_else(|e| panic!("{e}: run scripts/setup.sh (it installs {path})"))
    }

    #[test]
    fn the_installed_list_is_large_and_matches_exactly() {
        let list = installed();
        assert!(list.len() >= 100_000, "{} entries", list.len());
        for common in ["manchesterunited", "qwertyuiopasdfgh", "1qaz2wsx3edc4rfv", "baseball", "iloveyou"] {
            assert!(list.contains(common), "{common}");
        }
        assert!(!list.contains("correct horse battery staple"));
        assert!(!list.contains("MANCHESTERUNITED"), "exact match: no case folding");
    }

    #[test]
    fn policy_counts_code_points_refuses_leaked_passwords_and_explains_itself() {
        // two entries of the installed list (the_installed_list_is_large_and_matches_exactly)
        let list = CommonPasswords::from_text("baseball\nmanchesterunited\n".into());
        let check = |pw: &str, email: &str| check_policy(&Password::new(pw), &ctx(email), &list);
        let err = check("short one", "ada@example.test").unwrap_err();
        assert!(matches!(err, DomainError::PasswordRejected(PasswordRejection::Rule(policy::password::Verdict::TooShort { min: 15, have: 9 }))), "{err}");
        // 15 code points of multi-byte characters are enough, after NFC: "e" + combining acute
        // is one character
        assert!(check("déjà vu à l'hôt", "ada@example.test").is_ok());
        assert!(check("de\u{301}ja\u{300} vu a\u{300} l'ho\u{302}t", "ada@example.test").is_ok());
        assert!(check("de\u{301}ja\u{300} vu a\u{300} l'ho\u{302}", "ada@example.test").is_err());
        // repeated or sequential: refused with the reason
        let repeated = check("password password password", "ada@example.test").unwrap_err();
        assert!(matches!(repeated, DomainError::PasswordRejected(PasswordRejection::Rule(policy::password::Verdict::Predictable))), "{repeated}");
        assert!(check("all lower case words here", "ada@example.test").is_ok());
        assert!(check(&"x".repeat(MAX_LENGTH + 1), "ada@example.test").is_err());
        assert!(check("adalovelace-2024-!!!", "adalovelace@example.test").is_err());
        // built from the words every guesser tries first: the shared rules refuse it, list or not
        let common = check("password123password", "ada@example.test").unwrap_err();
        assert!(matches!(common, DomainError::PasswordRejected(PasswordRejection::Rule(policy::password::Verdict::CommonWords))), "{common}");
        // in the list: refused with the reason
        let leaked = check("manchesterunited", "ada@example.test").unwrap_err();
        assert!(matches!(leaked, DomainError::PasswordRejected(PasswordRejection::Leaked)), "{leaked}");
        // with a second factor, 8 characters are enough, but still not a leaked one
        let mfa = policy::password::Context { email: "ada@example.test", display_name: None, has_second_factor: true };
        assert!(check_policy(&Password::new("purple tractor"), &mfa, &list).is_ok());
        assert!(check_policy(&Password::new("baseball"), &mfa, &list).is_err());
    }

    #[test]
    fn an_unsorted_list_is_sorted_on_load() {
        let list = CommonPasswords::from_text("zebra12345\nalpha12345\r\nmango12345\n\n".into());
        assert_eq!(list.len(), 3);
        assert!(list.contains("alpha12345") && list.contains("mango12345") && list.contains("zebra12345"));
        assert!(!list.contains("") && !list.contains("alpha"));
    }
}
