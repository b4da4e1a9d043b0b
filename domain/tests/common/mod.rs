//! Shared set-up for the database tests.
use domain::clock::Clock;
use domain::config::{Argon2Config, SessionPolicy};
use domain::{auth::password::PasswordHasher, Services};
use sqlx::PgPool;
use time::macros::datetime;

pub const PW: &str = "correct horse battery staple";

/// Services on the test database: cheap argon2 parameters, a 60-minute idle and 24-hour absolute
/// lifetime, and a fixed clock the test moves.
pub fn services(db: PgPool) -> Services {
    Services {
        db,
        hasher: PasswordHasher::new(&Argon2Config { memory_kib: 256, iterations: 1, parallelism: 1, max_concurrent: 4 }).unwrap(),
        sessions: SessionPolicy::uniform(60, 24),
        clock: Clock::fixed(datetime!(2026-11-23 12:00 UTC)),
    }
}
