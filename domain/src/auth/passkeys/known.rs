//! The passkeys this instance signed in with recently, kept in memory so that the next sign-in with
//! one need not read it from Postgres before checking the answer's signature: a passkey sign-in
//! makes one round trip fewer (`make bench`, measure 2).
//!
//! Nothing here is trusted on its own. What is remembered is public (the credential's public key,
//! its counter and flags, the passkey's id, owner and name) and may be out of date: another
//! instance counted a use, the passkey was renamed or removed. So each entry carries the passkey's
//! revision (`passkeys.revision`, moved on by every change to what is remembered here, migration
//! `20261204000018_passkey_revisions.sql`: whoever adds to `KnownPasskey` adds to its trigger), and the statement that records a sign-in records
//! nothing unless that is still the passkey's revision, under the passkey's lock
//! (`db::passkey_sign_ins`). An answer checked against an old revision is checked again against
//! the passkey as it is now, so a counter that went backwards (a cloned authenticator) is caught
//! exactly as without this memory.
use std::collections::HashMap;
use std::sync::Mutex;

use uuid::Uuid;
use webauthn_rs::prelude::Passkey;

use crate::ids::{PasskeyId, UserId};

/// Most passkeys remembered; when full, the memory starts over (as the session cache does).
pub const CAPACITY: usize = 50_000;

/// A passkey as it was at `revision`.
#[derive(Clone, Debug)]
pub struct KnownPasskey {
    pub id: PasskeyId,
    pub user_id: UserId,
    pub name: String,
    pub credential: Passkey,
    pub revision: i64,
}

/// The remembered passkeys, by the account and credential id an answer names.
#[derive(Debug, Default)]
pub struct KnownPasskeys {
    entries: Mutex<HashMap<(Uuid, Vec<u8>), KnownPasskey>>,
}

impl KnownPasskeys {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<(Uuid, Vec<u8>), KnownPasskey>> {
        // a panic while the map was held leaves nothing half-done in it (one insert or removal)
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The passkey `credential_id` of account `user`, as last remembered.
    pub fn get(&self, user: Uuid, credential_id: &[u8]) -> Option<KnownPasskey> {
        self.entries().get(&(user, credential_id.to_vec())).cloned()
    }

    /// Remembers a passkey as a sign-in just recorded it (at the revision that recording made).
    pub(crate) fn remember(&self, credential_id: &[u8], known: KnownPasskey) {
        let mut entries = self.entries();
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert((known.user_id.0, credential_id.to_vec()), known);
    }

    /// Forgets a passkey (it changed, was removed, or an answer failed against it).
    pub(crate) fn forget(&self, user: Uuid, credential_id: &[u8]) {
        self.entries().remove(&(user, credential_id.to_vec()));
    }

    pub fn len(&self) -> usize {
        self.entries().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
