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
pub async fn set_plan(svc: &Services, id: OrganizationId, plan: Plan) -> Result<(), DomainError> {
    if db::organizations::set_plan(&svc.db, id, plan).await? {
        Ok(())
    } else {
        Err(DomainError::NotFound)
    }
}

/// Makes the account a member of the organisation.
pub async fn add_member(svc: &Services, id: OrganizationId, user_id: UserId) -> Result<(), DomainError> {
    if db::organizations::set_membership(&svc.db, user_id, Some(id)).await? {
        Ok(())
    } else {
        Err(DomainError::NotFound)
    }
}
