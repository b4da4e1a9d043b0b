use sqlx::PgExecutor;
use time::OffsetDateTime;

use crate::ids::{OrganizationId, UserId};
use crate::plan::Plan;

pub async fn insert(
    db: impl PgExecutor<'_>,
    id: OrganizationId,
    name: &str,
    plan: Plan,
    now: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO organizations (id, name, plan, created_at) VALUES ($1, $2, $3, $4)",
        id.0,
        name,
        plan.as_str(),
        now,
    )
    .execute(db)
        .await?;
    Ok(())
}

pub async fn set_plan(db: impl PgExecutor<'_>, id: OrganizationId, plan: Plan) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!("UPDATE organizations SET plan = $2 WHERE id = $1", id.0, plan.as_str()).execute(db).await?;
    Ok(r.rows_affected() == 1)
}

/// Locks the organisation's members' rows (in id order) for the rest of the transaction.
pub async fn lock_members(db: impl PgExecutor<'_>, id: OrganizationId) -> Result<(), sqlx::Error> {
    sqlx::query!("SELECT id FROM users WHERE organization_id = $1 ORDER BY id FOR NO KEY UPDATE", id.0).fetch_all(db).await?;
    Ok(())
}

/// The account's plan, with its organisation's row held (`FOR SHARE`) until the caller's
/// transaction ends: a plan change (`set_plan`) that began first is waited for and read, one that
/// begins after waits for the caller. Free outside any organisation. Take the account's row first
/// (the caller holds it, so its membership cannot change meanwhile), the order of every transaction
/// that locks both. (Nothing here deletes an organisation: a deletion's `ON DELETE SET NULL` would
/// take the two the other way round.)
pub async fn plan_held(db: impl PgExecutor<'_>, user_id: UserId) -> Result<Plan, sqlx::Error> {
    let plan = sqlx::query_scalar!(
        r#"SELECT plan AS "plan: Plan" FROM organizations
           WHERE id = (SELECT organization_id FROM users WHERE id = $1)
           FOR SHARE"#,
        user_id.0,
    )
    .fetch_optional(db)
    .await?;
    Ok(plan.unwrap_or(Plan::Free))
}

pub async fn find_by_name(db: impl PgExecutor<'_>, name: &str) -> Result<Option<OrganizationId>, sqlx::Error> {
    let id = sqlx::query_scalar!("SELECT id FROM organizations WHERE name = $1 ORDER BY created_at LIMIT 1", name)
        .fetch_optional(db)
        .await?;
    Ok(id.map(OrganizationId))
}

/// Puts the account in the organisation (or takes it out, with `None`).
pub async fn set_membership(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    org: Option<OrganizationId>,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!("UPDATE users SET organization_id = $2 WHERE id = $1", user_id.0, org.map(|o| o.0))
        .execute(db)
        .await?;
    Ok(r.rows_affected() == 1)
}
