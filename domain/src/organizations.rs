//! Organisations and their plans. There is no admin console yet: organisations are created by the
//! demo set-up and by tests, and the plan is what the rest of the domain reads.
use crate::db;
use crate::ids::{OrganizationId, UserId};
use crate::plan::Plan;
use crate::{DomainError, Services};

/// Creates an organisation on `plan`.
pub async fn create(svc: &Services, name: &str, plan: Plan) -> Result<OrganizationId, DomainError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(DomainError::Invalid(crate::error::Invalid::OrganisationName));
    }
    let id = OrganizationId::new();
    db::organizations::insert(&svc.db, id, name, plan, svc.clock.now()).await?;
    Ok(id)
}

/// Changes an organisation's plan. Its members' sessions follow the new plan's lifetimes on their
/// next request (lifetimes are checked against the plan every time, not copied onto sessions).
/// Moved to Enterprise, a member who has the authenticator app keeps only the sessions that proved
/// a second factor (and the one that set the app up): the others end in the same transaction
/// (`revoke_members_without_second_factor`). Members without the app are held to setting it up,
/// which ends theirs (`two_factor::finish_enrolment`). The members' rows are locked first, the
/// order of every transaction that locks an account and its organisation.
pub async fn set_plan(svc: &Services, id: OrganizationId, plan: Plan) -> Result<(), DomainError> {
    let mut tx = svc.db.begin().await?;
    db::organizations::lock_members(&mut *tx, id).await?;
    if !db::organizations::set_plan(&mut *tx, id, plan).await? {
        return Err(DomainError::NotFound);
    }
    db::sessions::revoke_members_without_second_factor(&mut *tx, id, svc.clock.now()).await?;
    tx.commit().await?;
    Ok(())
}

/// Makes the account a member of the organisation. Joining one on Enterprise with the
/// authenticator app on ends the account's sessions that proved no second factor, as `set_plan`
/// does; the organisation's plan is read with its row held, so a move to Enterprise in flight is
/// waited for.
pub async fn add_member(svc: &Services, id: OrganizationId, user_id: UserId) -> Result<(), DomainError> {
    let mut tx = svc.db.begin().await?;
    if !db::organizations::set_membership(&mut *tx, user_id, Some(id)).await? {
        return Err(DomainError::NotFound);
    }
    if db::organizations::plan_held(&mut *tx, user_id).await? == Plan::Enterprise {
        db::sessions::revoke_members_without_second_factor(&mut *tx, id, svc.clock.now()).await?;
    }
    tx.commit().await?;
    Ok(())
}
