//! `wexqs keys`: make the first key, generate, prepare, list, rotate and revoke the registry's
//! signing keys, and sign again what a compromised key signed.

use crate::domain::KeyCommand;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;

use super::*;
use crate::startup::publish_key;

#[derive(Debug, Subcommand)]
pub(super) enum KeyAction {
    /// Make the registry's first signing key and publish it (once, before the first `serve`).
    Init {
        #[command(flatten)]
        keys: KeysArgs,
    },
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
    /// Generate a key into the keys folder without publishing it; prints its id. Copy its file
    /// to every instance's keys folder, then `wexqs keys rotate --to ID`.
    Prepare {
        #[command(flatten)]
        keys: KeysArgs,
    },
    /// Publish a new key and retire the active one in one append (what it signed stays valid):
    /// every instance signs with the new key from then on, and one that does not have its file
    /// signs nothing until it has.
    Rotate {
        #[command(flatten)]
        keys: KeysArgs,
        /// A key made before with `wexqs keys prepare` (by its id); default: a new one.
        #[arg(long)]
        to: Option<String>,
    },
    /// Sign again, with the active key, every award whose current credential the key KEY_ID
    /// signed (after it is revoked as compromised): one credential event each, so that every
    /// holder's download verifies again.
    Resign {
        #[command(flatten)]
        signing: SigningArgs,
        /// The compromised key's id, as `wexqs keys list` prints it.
        key_id: String,
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
        KeyAction::Init { keys } => init(keys).await?,
        KeyAction::Generate { keys } => {
            let registry = keys.registry.registry().await?;
            generate(&registry, &keys).await?;
        }
        KeyAction::Prepare { keys } => {
            let (_, id) =
                crate::credentials::keys::generate_in(&keys.keys_dir()?, &mut rand::rngs::OsRng)?;
            println!("{id}");
        }
        KeyAction::List { db } => list(db).await?,
        KeyAction::Rotate { keys, to } => rotate(keys, to).await?,
        KeyAction::Resign { signing, key_id } => resign(signing, key_id).await?,
        KeyAction::Revoke {
            db,
            key_id,
            compromised_since,
            reason,
        } => revoke(db, key_id, compromised_since, reason).await?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `wexqs keys init`: the registry's first key, in the keys folder and published, with the key
/// webhook secrets are sealed with beside it (made if absent); prints the signing key's id.
/// Refused when the registry has an active key already.
async fn init(keys: KeysArgs) -> anyhow::Result<()> {
    let registry = keys.registry.registry().await?;
    if let Some(active) = registry.active_key_id() {
        anyhow::bail!(
            "this registry has a signing key already ({active}); 'wexqs keys rotate' replaces it"
        );
    }
    let dir = keys.keys_dir()?;
    crate::credentials::sealing::sealing_key(&dir)
        .with_context(|| format!("cannot make the webhook sealing key in {}", dir.display()))?;
    generate(&registry, &keys).await
}

/// `wexqs keys generate`: a new key in the keys folder, published; prints its id.
async fn generate(registry: &Registry, keys: &KeysArgs) -> anyhow::Result<()> {
    let (key, id) =
        crate::credentials::keys::generate_in(&keys.keys_dir()?, &mut rand::rngs::OsRng)?;
    publish_key(registry, &key, &id).await?;
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

/// `wexqs keys rotate`: a new key (or the prepared one `to`) published and the active one
/// retired, in one append.
async fn rotate(keys: KeysArgs, to: Option<String>) -> anyhow::Result<()> {
    let registry = keys.registry.registry().await?;
    let old = registry
        .active_key_id()
        .context("there is no active key to rotate ('wexqs keys init' makes the first)")?;
    let (key, id) = match to {
        Some(id) => {
            let path = crate::credentials::keys::path_of(&keys.keys_dir()?, &id);
            let key = crate::credentials::keys::load(&path)
                .with_context(|| format!("the prepared key {id} ('wexqs keys prepare')"))?;
            anyhow::ensure!(
                crate::credentials::keys::key_id(&key) == id,
                "{} holds another key than {id}",
                path.display()
            );
            (key, id)
        }
        None => crate::credentials::keys::generate_in(&keys.keys_dir()?, &mut rand::rngs::OsRng)?,
    };
    let at = registry
        .now()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    registry
        .execute_all(
            &Actor::cli(),
            vec![
                DomainCommand::Key(KeyCommand::Add {
                    key_id: id.clone(),
                    public_key_multibase: crate::credentials::keys::public_multibase(&key),
                }),
                DomainCommand::Key(KeyCommand::Retire {
                    key_id: old.clone(),
                    at,
                }),
            ],
            None,
        )
        .await?;
    eprintln!(
        "retired {old}; {id} signs from now on. An instance whose keys folder lacks {id}.pem signs nothing until the file is copied there"
    );
    println!("{id}");
    Ok(())
}

/// `wexqs keys resign`: every award whose current credential `key_id` signed, signed again with
/// the active key; prints how many.
async fn resign(signing: SigningArgs, key_id: String) -> anyhow::Result<()> {
    let registry = signing.registry().await?;
    if registry.active_key_id().as_deref() == Some(key_id.as_str()) {
        anyhow::bail!(
            "{key_id} is the active key: rotate to a new key first ('wexqs keys rotate'), then sign again what {key_id} signed"
        );
    }
    anyhow::ensure!(
        registry.signing().is_some(),
        "this command signs with the active key, and none was loaded (see the messages above)"
    );
    let count = registry.resign_credentials_of(&key_id).await?;
    eprintln!("signed again {count} credentials that {key_id} signed");
    println!("{count}");
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
            DomainCommand::Key(KeyCommand::Revoke {
                key_id: key_id.clone(),
                compromised_since: since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                reason: reason
                    .parse()
                    .context("a reason of 3 to 2,000 characters")?,
            }),
            None,
        )
        .await?;
    eprintln!(
        "revoked {key_id} as compromised since {since}; 'wexqs keys resign {key_id}' signs again, with the active key, every credential it signed"
    );
    Ok(())
}
