//! `wexqs tokens`: create, list and revoke API tokens.

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
    /// List every token, oldest first: its id, name, role, when it was created, last used and
    /// revoked (never its secret).
    List {
        #[command(flatten)]
        db: DbArgs,
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
        TokenAction::List { db } => list(db).await?,
        TokenAction::Revoke { registry, token_id } => {
            let registry = registry.registry().await?;
            registry.revoke_token(&Actor::cli(), &token_id).await?;
            eprintln!("revoked token {token_id}");
        }
    }
    Ok(())
}

/// `wexqs tokens list`: a table, one token a line, in columns padded to their widest cell.
async fn list(db: DbArgs) -> anyhow::Result<()> {
    let registry = db.registry().await?;
    let tokens = registry.tokens().await?;
    if tokens.is_empty() {
        eprintln!("no API tokens yet ('wexqs tokens create' makes one)");
        return Ok(());
    }
    let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_owned());
    let mut rows =
        vec![["ID", "NAME", "ROLE", "CREATED", "LAST USED", "REVOKED"].map(str::to_owned)];
    rows.extend(tokens.iter().map(|t| {
        [
            t.id.clone(),
            // A name is written as given; a control character in it would break the table.
            t.name
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect(),
            t.role.clone(),
            t.created_at.clone(),
            or_dash(&t.last_used_at),
            or_dash(&t.revoked_at),
        ]
    }));
    print!("{}", table(&rows));
    Ok(())
}

/// `rows` as lines of columns two spaces apart, each as wide as its widest cell (counted in
/// characters), the last column unpadded.
fn table<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0usize; N];
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}
