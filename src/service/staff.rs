//! The staff list, through the same writer as every other command: add, change a role, remove
//! (the rules are `domain::decide`'s), the list read from memory, and a signed-in member of
//! staff turned into the actor their console actions are recorded under (`staff:ID`).

use rand::Rng;

use super::{Actor, Outcome, Registry, Role, ServiceError};
use crate::domain::staff::{Email, Issuer, StaffAdded, StaffId, StaffMember, StaffRole, Subject};
use crate::domain::{Command, Name, StaffCommand};

/// The prefix of a signed-in person's actor id: `staff:` and their staff id.
pub(crate) const STAFF_ACTOR_PREFIX: &str = "staff:";

/// Someone to add to the staff list, already made of valid values.
#[derive(Debug, Clone)]
pub struct NewStaff {
    pub issuer: Issuer,
    pub subject: Subject,
    pub name: Name,
    pub email: Email,
    pub role: StaffRole,
}

impl Registry {
    /// Every member of staff, admins first, then by name.
    pub fn staff(&self) -> Vec<StaffMember> {
        let mut staff: Vec<StaffMember> =
            self.read_cache(|c| c.state.staff.values().cloned().collect());
        staff.sort_by(|a, b| {
            (a.role != StaffRole::Admin, a.name.as_str().to_lowercase())
                .cmp(&(b.role != StaffRole::Admin, b.name.as_str().to_lowercase()))
        });
        staff
    }

    /// The member of staff with this id, if listed.
    pub fn staff_member(&self, id: &StaffId) -> Option<StaffMember> {
        self.read_cache(|c| c.state.staff.get(id).cloned())
    }

    /// The member of staff a provider's identity belongs to, if listed.
    pub(crate) fn staff_by_identity(&self, issuer: &str, subject: &str) -> Option<StaffMember> {
        self.read_cache(|c| {
            c.state
                .staff
                .values()
                .find(|m| m.issuer.as_str() == issuer && m.subject.as_str() == subject)
                .cloned()
        })
    }

    /// Adds someone to the staff list; their new id.
    pub async fn add_staff(&self, actor: &Actor, new: NewStaff) -> Result<StaffId, ServiceError> {
        let staff_id = self.new_staff_id();
        let command = Command::Staff(StaffCommand::Add(StaffAdded {
            staff_id: staff_id.clone(),
            issuer: new.issuer,
            subject: new.subject,
            name: new.name,
            email: new.email,
            role: new.role,
        }));
        self.execute(actor, command, None).await?;
        Ok(staff_id)
    }

    pub async fn set_staff_role(
        &self,
        actor: &Actor,
        staff_id: StaffId,
        role: StaffRole,
    ) -> Result<Outcome, ServiceError> {
        let command = Command::Staff(StaffCommand::SetRole { staff_id, role });
        self.execute(actor, command, None).await
    }

    /// Takes someone off the staff list and ends every session they have.
    pub async fn remove_staff(
        &self,
        actor: &Actor,
        staff_id: StaffId,
    ) -> Result<Outcome, ServiceError> {
        let id = staff_id.as_str().to_owned();
        let outcome = self
            .execute(
                actor,
                Command::Staff(StaffCommand::Remove { staff_id }),
                None,
            )
            .await?;
        self.log.store.end_sessions_of(&id).await?;
        Ok(outcome)
    }

    /// The name of the person or token an event's actor id stands for, where known: a member
    /// of staff (`staff:ID`) by the staff list.
    pub(crate) fn actor_name(&self, actor: &str) -> Option<String> {
        let id: StaffId = actor.strip_prefix(STAFF_ACTOR_PREFIX)?.parse().ok()?;
        self.staff_member(&id).map(|m| m.name.as_str().to_owned())
    }

    fn new_staff_id(&self) -> StaffId {
        let id: [u8; 6] = self
            .rng
            .lock()
            .expect("the random source's lock is never poisoned")
            .r#gen();
        hex::encode(id)
            .parse()
            .expect("twelve hexadecimal digits are a staff id")
    }
}

/// The actor a member of staff's console actions are recorded under, with their role now.
pub(crate) fn staff_actor(member: &StaffMember) -> Actor {
    Actor {
        id: format!("{STAFF_ACTOR_PREFIX}{}", member.staff_id.as_str()),
        role: match member.role {
            StaffRole::Admin => Role::Admin,
            StaffRole::Reviewer => Role::Reviewer,
        },
    }
}
