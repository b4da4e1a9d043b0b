//! Time is passed in, so tests control it.
use std::sync::{Arc, Mutex};
use time::OffsetDateTime;

#[derive(Clone, Default)]
pub struct Clock {
    fixed: Option<Arc<Mutex<OffsetDateTime>>>,
}

impl Clock {
    /// The real wall clock.
    pub fn system() -> Self {
        Self { fixed: None }
    }

    /// A clock that only moves when told to (tests).
    pub fn fixed(at: OffsetDateTime) -> Self {
        Self { fixed: Some(Arc::new(Mutex::new(at))) }
    }

    pub fn now(&self) -> OffsetDateTime {
        match &self.fixed {
            // Postgres keeps microseconds; truncate so values round-trip exactly.
            Some(t) => *t.lock().expect("clock lock"),
            None => {
                let now = OffsetDateTime::now_utc();
                now.replace_microsecond(now.microsecond()).unwrap_or(now)
            }
        }
    }

    /// Moves a fixed clock forward; a no-op on the system clock.
    pub fn advance(&self, by: time::Duration) {
        if let Some(t) = &self.fixed {
            let mut t = t.lock().expect("clock lock");
            *t += by;
        }
    }
}
