//! `wexqs address`: show the registry's recorded address, or move it.

use crate::domain::AddressCommand;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;

use super::*;

#[derive(Debug, Subcommand)]
pub(super) enum AddressAction {
    /// Print the recorded public address (nothing recorded: exit 1).
    Show {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Move the registry to another public address, recorded as an event: every award's
    /// credential is re-signed for it; copies people hold of the earlier ones keep naming the
    /// old address. Restart every server afterwards.
    Set {
        #[command(flatten)]
        db: DbArgs,
        /// The new base URL, such as https://wexqs.example.org.
        public_url: String,
        /// Why the registry moves (3 to 2,000 characters): public and permanent, in the public log
        /// for everyone to read for good; write nothing private.
        #[arg(long)]
        reason: String,
        /// Folder of the signing keys, as for `serve`; default: keys/ in the data folder.
        #[arg(long, env = "WEXQS_KEYS_DIR", help_heading = "Signing")]
        keys_dir: Option<PathBuf>,
    },
}

pub(super) async fn address_command(action: AddressAction) -> anyhow::Result<ExitCode> {
    match action {
        AddressAction::Show { db } => {
            let registry = db.registry().await?;
            match registry.public_url() {
                Some(url) => println!("{url}"),
                None => {
                    eprintln!(
                        "no address is recorded yet: the first 'wexqs serve' records the one it is reached at"
                    );
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        AddressAction::Set {
            db,
            public_url,
            reason,
            keys_dir,
        } => {
            let public_url: PublicUrl = public_url.parse()?;
            if let Some(why) = crate::http::prefix::refusal(public_url.as_str()) {
                anyhow::bail!("cannot move the registry to {public_url}: {why}");
            }
            let reason = reason
                .parse()
                .context("--reason says why the registry moves")?;
            let keys = KeysArgs {
                registry: RegistryArgs {
                    db: db.clone(),
                    calendar: None,
                },
                keys_dir,
            };
            let registry = db.registry().await?;
            // The new address's credentials are signed in the same append, with the active key.
            if let Some((key, key_id, dir)) = keys.active_key(&registry).await? {
                registry.set_signing(startup::signing(key_id, key, &public_url, Some(dir)));
            }
            let outcome = registry
                .execute(
                    &Actor::cli(),
                    DomainCommand::Address(AddressCommand::Change {
                        public_url: public_url.clone(),
                        reason,
                    }),
                    None,
                )
                .await?;
            println!("{public_url}");
            eprintln!(
                "the registry is now reached at {public_url}: {} credentials re-signed for it; restart every server",
                outcome.events.len().saturating_sub(1)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
