//! Typed ids, so a session id can never be passed where a user id is expected.
use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($name:ident) => {
        id_type!($name, Uuid::new_v4());
    };
    ($name:ident, $make:expr) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
        #[sqlx(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            pub fn new() -> Self {
                Self($make)
            }
        }

        /// A stored id back (the query macros convert a `uuid` column into the field's type).
        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(UserId);
id_type!(SessionId);
// An event's id orders the events of one instant as they were recorded (UUID v7: time, then a
// counter this process keeps increasing): the several events of one transaction share its
// `created_at`, and the activity list breaks that tie by id, newest first. With random ids, "Signed
// in with GitHub", "Created the account", "Connected GitHub" came in any order.
id_type!(EventId, Uuid::now_v7());
id_type!(OrganizationId);
id_type!(PasskeyId);

#[cfg(test)]
mod tests {
    use super::EventId;

    #[test]
    fn event_ids_made_one_after_another_increase() {
        let ids: Vec<EventId> = (0..10_000).map(|_| EventId::new()).collect();
        assert!(ids.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
