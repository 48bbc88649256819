//! `wexqs staff`: the people allowed into the console (an allow-list of identities at the
//! OpenID Provider, each with a name, an e-mail address and a role). Every change is a private
//! event in the log naming who made it; the last admin can be neither removed nor demoted.

use anyhow::Context as _;
use clap::Subcommand;

use super::*;
use crate::domain::staff::{StaffId, StaffMember, StaffRole};
use crate::service::staff::NewStaff;

#[derive(Debug, Subcommand)]
pub(super) enum StaffAction {
    /// Allow someone into the console. Prints their staff id.
    Add {
        #[command(flatten)]
        registry: RegistryArgs,
        /// Their identity provider's issuer URL; default: the one the console signs in with.
        #[arg(long, env = "WEXQS_OIDC_ISSUER")]
        issuer: Option<String>,
        /// Their subject at the provider: the `sub` of their ID token, which the provider's
        /// administrators can tell you (not their e-mail address, which can change).
        #[arg(long)]
        subject: String,
        /// Their name, as the audit trail shows it.
        #[arg(long)]
        name: String,
        /// Their e-mail address, for the programme team to reach them (kept private).
        #[arg(long)]
        email: String,
        /// admin (everything, including the staff list) or reviewer (reads, and decides
        /// applications).
        #[arg(long, value_parser = ["admin", "reviewer"])]
        role: String,
    },
    /// List the staff: id, role, name, e-mail address, issuer and subject.
    List {
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Give a member of staff another role.
    SetRole {
        #[command(flatten)]
        registry: RegistryArgs,
        /// Their staff id (see `wexqs staff list`).
        staff_id: String,
        /// Their role from now on: admin or reviewer.
        #[arg(long, value_parser = ["admin", "reviewer"])]
        role: String,
    },
    /// Take someone off the list; their console sessions end at once.
    Remove {
        #[command(flatten)]
        registry: RegistryArgs,
        /// Their staff id (see `wexqs staff list`).
        staff_id: String,
    },
}

pub(super) async fn run(action: StaffAction) -> anyhow::Result<()> {
    match action {
        StaffAction::Add {
            registry,
            issuer,
            subject,
            name,
            email,
            role,
        } => {
            let issuer = issuer.context(
                "give the identity provider's issuer with --issuer (or WEXQS_OIDC_ISSUER)",
            )?;
            let new = NewStaff {
                issuer: issuer.parse()?,
                subject: subject.parse()?,
                name: name.parse()?,
                email: email.parse()?,
                role: role.parse()?,
            };
            let registry = registry.registry().await?;
            let id = registry.add_staff(&Actor::cli(), new).await?;
            eprintln!("added {name:?} as {role}; their staff id:");
            println!("{id}", id = id.as_str());
        }
        StaffAction::List { registry } => {
            let registry = registry.registry().await?;
            print!("{}", table(&registry.staff()));
        }
        StaffAction::SetRole {
            registry,
            staff_id,
            role,
        } => {
            let id: StaffId = staff_id.parse()?;
            let role: StaffRole = role.parse()?;
            let registry = registry.registry().await?;
            registry.set_staff_role(&Actor::cli(), id, role).await?;
            eprintln!("{staff_id} is now {}", role.as_str());
        }
        StaffAction::Remove { registry, staff_id } => {
            let id: StaffId = staff_id.parse()?;
            let registry = registry.registry().await?;
            registry.remove_staff(&Actor::cli(), id).await?;
            eprintln!("removed {staff_id}; their sessions have ended");
        }
    }
    Ok(())
}

/// The staff as a table, one person a line, tab-separated under a header.
fn table(staff: &[StaffMember]) -> String {
    let mut out = String::from("id\trole\tname\temail\tissuer\tsubject\n");
    for m in staff {
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\n",
            m.staff_id.as_str(),
            m.role.as_str(),
            m.name.as_str(),
            m.email.as_str(),
            m.issuer.as_str(),
            m.subject.as_str()
        ));
    }
    out
}
