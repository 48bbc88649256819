//! `wexqs keys`: generate, list, rotate and revoke the registry's signing keys.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;

use super::*;
use crate::startup::publish_key;

#[derive(Debug, Subcommand)]
pub(super) enum KeyAction {
    /// Generate a key and publish it; the newest key signs from now on.
    Generate {
        #[command(flatten)]
        keys: KeysArgs,
    },
    /// List every key with its state (active, retired, revoked).
    List {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Generate a key, publish it and retire the active one (what it signed stays valid).
    Rotate {
        #[command(flatten)]
        keys: KeysArgs,
    },
    /// Revoke a key as compromised: what it signed from that time on is no longer trusted.
    Revoke {
        #[command(flatten)]
        db: DbArgs,
        /// The key's id, as `wexqs keys list` prints it.
        key_id: String,
        /// When the key was compromised (RFC 3339, such as 2026-11-24T09:00:00Z); default: now.
        #[arg(long)]
        compromised_since: Option<String>,
        /// Why the key is revoked (3 to 2,000 characters): public and permanent, in the public
        /// log for everyone to read for good; write nothing private.
        #[arg(long)]
        reason: String,
    },
}

pub(super) async fn keys_command(action: KeyAction) -> anyhow::Result<ExitCode> {
    match action {
        KeyAction::Generate { keys } => generate(keys).await?,
        KeyAction::List { db } => list(db).await?,
        KeyAction::Rotate { keys } => rotate(keys).await?,
        KeyAction::Revoke {
            db,
            key_id,
            compromised_since,
            reason,
        } => revoke(db, key_id, compromised_since, reason).await?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `wexqs keys generate`: a new key in the keys folder, published; prints its id.
async fn generate(keys: KeysArgs) -> anyhow::Result<()> {
    let registry = keys.registry.registry().await?;
    let (key, id) =
        crate::credentials::keys::generate_in(&keys.keys_dir()?, &mut rand::rngs::OsRng)?;
    publish_key(&registry, &key, &id).await?;
    println!("{id}");
    Ok(())
}

/// `wexqs keys list`: one line a key: its id, state, public key and since when.
async fn list(db: DbArgs) -> anyhow::Result<()> {
    let registry = db.registry().await?;
    for k in registry.signing_keys() {
        let since = k
            .revoked_since
            .as_deref()
            .or(k.retired_at.as_deref())
            .unwrap_or("");
        println!(
            "{}\t{}\t{}\t{since}",
            k.key_id,
            k.status(),
            k.public_key_multibase
        );
    }
    Ok(())
}

/// `wexqs keys rotate`: a new key published and the active one retired, in one append.
async fn rotate(keys: KeysArgs) -> anyhow::Result<()> {
    let registry = keys.registry.registry().await?;
    let old = registry
        .active_key_id()
        .context("there is no active key to rotate")?;
    let (key, id) =
        crate::credentials::keys::generate_in(&keys.keys_dir()?, &mut rand::rngs::OsRng)?;
    let at = registry
        .now()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    registry
        .execute_all(
            &Actor::cli(),
            vec![
                DomainCommand::AddSigningKey {
                    key_id: id.clone(),
                    public_key_multibase: crate::credentials::keys::public_multibase(&key),
                },
                DomainCommand::RetireSigningKey {
                    key_id: old.clone(),
                    at,
                },
            ],
            None,
        )
        .await?;
    eprintln!("retired {old}; {id} signs from now on");
    println!("{id}");
    Ok(())
}

/// `wexqs keys revoke`: the key revoked as compromised since the time given (or now).
async fn revoke(
    db: DbArgs,
    key_id: String,
    compromised_since: Option<String>,
    reason: String,
) -> anyhow::Result<()> {
    let registry = db.registry().await?;
    let since = match compromised_since {
        Some(s) => chrono::DateTime::parse_from_rfc3339(&s)
            .context("--compromised-since is an RFC 3339 time, such as 2026-11-24T09:00:00Z")?
            .with_timezone(&chrono::Utc),
        None => registry.now(),
    };
    registry
        .execute(
            &Actor::cli(),
            DomainCommand::RevokeSigningKey {
                key_id: key_id.clone(),
                compromised_since: since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                reason: reason
                    .parse()
                    .context("a reason of 3 to 2,000 characters")?,
            },
            None,
        )
        .await?;
    eprintln!("revoked {key_id} as compromised since {since}");
    Ok(())
}
