//! The rules for the staff list: no one listed twice for the same identity, and never without
//! an admin (the last admin can be neither removed nor made a reviewer).

use crate::domain::DomainError;
use crate::domain::command::StaffCommand;
use crate::domain::events::Event;
use crate::domain::staff::{StaffMember, StaffRemoved, StaffRole, StaffRoleChanged, admins};
use crate::domain::state::State;

pub(super) fn decide(state: &State, command: StaffCommand) -> Result<Vec<Event>, DomainError> {
    match command {
        StaffCommand::Add(added) => {
            if let Some(listed) = state
                .staff
                .values()
                .find(|m| m.issuer == added.issuer && m.subject == added.subject)
            {
                return Err(DomainError::StaffAlreadyListed {
                    name: listed.name.as_str().to_owned(),
                });
            }
            if state.staff.contains_key(&added.staff_id) {
                return Err(DomainError::StaffIdTaken(
                    added.staff_id.as_str().to_owned(),
                ));
            }
            Ok(vec![Event::StaffAdded(added)])
        }
        StaffCommand::SetRole { staff_id, role } => {
            let member = member(state, &staff_id)?;
            if member.role == role {
                return Err(DomainError::StaffRoleUnchanged {
                    name: member.name.as_str().to_owned(),
                    role: role.as_str(),
                });
            }
            if role != StaffRole::Admin {
                keep_an_admin(state, member)?;
            }
            Ok(vec![Event::StaffRoleChanged(StaffRoleChanged {
                staff_id,
                role,
            })])
        }
        StaffCommand::Remove { staff_id } => {
            keep_an_admin(state, member(state, &staff_id)?)?;
            Ok(vec![Event::StaffRemoved(StaffRemoved { staff_id })])
        }
    }
}

fn member<'a>(
    state: &'a State,
    staff_id: &crate::domain::staff::StaffId,
) -> Result<&'a StaffMember, DomainError> {
    state
        .staff
        .get(staff_id)
        .ok_or_else(|| DomainError::StaffNotFound(staff_id.as_str().to_owned()))
}

/// Refuses to take `member` away from the admins if they are the last one.
fn keep_an_admin(state: &State, member: &StaffMember) -> Result<(), DomainError> {
    if member.role == StaffRole::Admin && admins(state.staff.values()) == 1 {
        return Err(DomainError::LastAdmin {
            name: member.name.as_str().to_owned(),
        });
    }
    Ok(())
}
