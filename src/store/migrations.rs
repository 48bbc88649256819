//! The schema's migrations: applied at start (the default), or only checked (`--no-migrate`,
//! for a service whose database role has data rights only, with `wexqs migrate` run by the
//! owner as the deploy step). Either way a database a newer release has migrated is refused
//! with what it has, what this release knows and what to do, unless every migration this
//! release does not know is an expansion (`NNNN_expand_*.sql`, ARCHITECTURE.md "Migrations"),
//! which a release one behind runs on unchanged.

use std::collections::HashMap;

use sqlx::migrate::{Migration, Migrator};

/// What opening a database does with its schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Migrations {
    /// Apply the migrations not yet applied (the role needs the right to change the schema).
    #[default]
    Apply,
    /// Change nothing: refuse a schema that is not current, saying to run `wexqs migrate`.
    CheckOnly,
}

/// A migration recorded in the database as applied.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct Applied {
    pub(crate) version: i64,
    pub(crate) description: String,
    pub(crate) success: bool,
    pub(crate) checksum: Vec<u8>,
}

/// Why a database's schema is not one this release runs on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    #[error(
        "the database's schema is not current: {} of this release's migrations {} not applied \
         ({}); run `wexqs migrate` with the database owner's rights (the deploy step), then start \
         again, or start without --no-migrate",
        pending.len(),
        if pending.len() == 1 { "is" } else { "are" },
        pending.join(", ")
    )]
    NotCurrent { pending: Vec<String> },
    #[error(
        "the database was migrated by a newer release: it has schema version {database} \
         (migrations {}), and this release knows versions up to {known}; deploy the newer \
         release (or a later one), or, to go back to this one, restore the backup taken before \
         the upgrade (OPERATIONS.md, \"Upgrades\")",
        unknown.join(", ")
    )]
    Newer {
        database: i64,
        known: i64,
        unknown: Vec<String>,
    },
    #[error(
        "migration {0} failed part-way when it was applied and the database is left as it \
         stopped; repair it by hand or restore the backup taken before the upgrade"
    )]
    Dirty(String),
    #[error(
        "migration {0} is not the one applied to this database (its text differs): this release \
         and the database's schema do not belong together"
    )]
    Changed(String),
}

/// A migration's name as its file has it: `0008_expand_notes`.
fn name(version: i64, description: &str) -> String {
    format!("{version:04}_{}", description.replace(' ', "_"))
}

/// An expansion: a migration that only adds (tables, nullable columns, indexes), which a
/// release that does not know it runs on unchanged. Told by its name, `NNNN_expand_*.sql`
/// (sqlx records the description with spaces for underscores).
pub(crate) fn is_expansion(description: &str) -> bool {
    description.starts_with("expand ") || description.starts_with("expand_")
}

/// Judges the migrations `applied` to a database against those this release `known`s: `Ok`
/// with whether some applied are unknown expansions (to be passed over when applying), or why
/// this release cannot run on it. With `mode` `CheckOnly`, a known migration not applied is
/// refused too.
pub(crate) fn assess(
    known: &[Migration],
    applied: &[Applied],
    mode: Migrations,
) -> Result<bool, SchemaError> {
    if let Some(dirty) = applied.iter().find(|a| !a.success) {
        return Err(SchemaError::Dirty(name(dirty.version, &dirty.description)));
    }
    let known_by_version: HashMap<i64, &Migration> = known
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .map(|m| (m.version, m))
        .collect();
    let newest_known = known_by_version.keys().copied().max().unwrap_or(0);
    let unknown: Vec<&Applied> = applied
        .iter()
        .filter(|a| !known_by_version.contains_key(&a.version))
        .collect();
    if unknown.iter().any(|a| !is_expansion(&a.description)) {
        return Err(SchemaError::Newer {
            database: applied.iter().map(|a| a.version).max().unwrap_or(0),
            known: newest_known,
            unknown: unknown
                .iter()
                .map(|a| name(a.version, &a.description))
                .collect(),
        });
    }
    for a in applied {
        if let Some(m) = known_by_version.get(&a.version)
            && *m.checksum != *a.checksum
        {
            return Err(SchemaError::Changed(name(a.version, &a.description)));
        }
    }
    if mode == Migrations::CheckOnly {
        let mut pending: Vec<&&Migration> = known_by_version
            .values()
            .filter(|m| !applied.iter().any(|a| a.version == m.version))
            .collect();
        pending.sort_by_key(|m| m.version);
        if !pending.is_empty() {
            return Err(SchemaError::NotCurrent {
                pending: pending
                    .iter()
                    .map(|m| name(m.version, &m.description))
                    .collect(),
            });
        }
    }
    Ok(!unknown.is_empty())
}

/// The query listing what `_sqlx_migrations` records (the same on both databases).
pub(crate) const APPLIED: &str =
    "SELECT version, description, success, checksum FROM _sqlx_migrations ORDER BY version";

/// Runs `migrator` on `pool` as `mode` says, once `applied` (what the database records, empty
/// when it has never been migrated) has been judged.
pub(crate) async fn run<'a, A>(
    mut migrator: Migrator,
    applied: &[Applied],
    mode: Migrations,
    conn: A,
) -> Result<(), super::StoreError>
where
    A: sqlx::Acquire<'a>,
    <A::Connection as std::ops::Deref>::Target: sqlx::migrate::Migrate,
{
    let unknown_expansions = assess(&migrator.migrations, applied, mode)?;
    if mode == Migrations::Apply {
        // Unknown migrations are all expansions by now: pass over them.
        migrator.set_ignore_missing(unknown_expansions);
        migrator.run(conn).await?;
    }
    Ok(())
}
