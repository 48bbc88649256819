//! `wexqs tokens`: create and revoke API tokens.

use anyhow::Context as _;
use clap::Subcommand;

use super::*;

#[derive(Debug, Subcommand)]
pub(super) enum TokenAction {
    /// Create a token and print it, alone, on standard output (it is shown only this once).
    Create {
        #[command(flatten)]
        registry: RegistryArgs,
        /// What the token may do: admin (everything) or reviewer (applications only).
        #[arg(long, value_parser = ["admin", "reviewer"])]
        role: String,
        /// Whose token this is (kept private).
        #[arg(long)]
        name: String,
    },
    /// Revoke a token.
    Revoke {
        #[command(flatten)]
        registry: RegistryArgs,
        /// The token's id: the part after `wexqs_`, before the next `_` (printed by
        /// `tokens create` on standard error).
        token_id: String,
    },
}

pub(super) async fn run(action: TokenAction) -> anyhow::Result<()> {
    match action {
        TokenAction::Create {
            registry,
            role,
            name,
        } => {
            let registry = registry.registry().await?;
            let role = Role::parse(&role).context("role is admin or reviewer")?;
            let (id, token) = registry.create_token(&Actor::cli(), &name, role).await?;
            eprintln!(
                "created {} token {id} for {name:?}; it is shown only now:",
                role.as_str()
            );
            println!("{token}");
        }
        TokenAction::Revoke { registry, token_id } => {
            let registry = registry.registry().await?;
            registry.revoke_token(&Actor::cli(), &token_id).await?;
            eprintln!("revoked token {token_id}");
        }
    }
    Ok(())
}
