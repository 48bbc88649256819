//! `wexqs applications`: check a manifest against the framework, record a drop-in, submit and
//! decide applications.

use crate::domain::{ApplicationCommand, DecideApplication, SubmitApplication};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::Subcommand;

use super::*;

#[derive(Debug, Subcommand)]
pub(super) enum ApplicationAction {
    /// Print the eligibility checklist of an evidence manifest (JSON) at every level, offline.
    Check {
        /// The manifest: {"documents": [...], "commentaries": [...]} (a sample:
        /// data/manifest-sample.json).
        manifest: PathBuf,
        /// The day of submission the evidence is judged on (YYYY-MM-DD); default today.
        #[arg(long)]
        on: Option<chrono::NaiveDate>,
    },
    /// Record a drop-in session an organisation attended.
    DropIn {
        #[command(flatten)]
        registry: RegistryArgs,
        /// The organisation's id (the "id" the admin API returns for it).
        organisation_id: String,
        /// The day it attended (YYYY-MM-DD; not in the future).
        #[arg(long)]
        on: chrono::NaiveDate,
    },
    /// Submit an application with its manifest; prints the application id.
    Submit {
        #[command(flatten)]
        registry: RegistryArgs,
        /// The evidence manifest (JSON), as `applications check` reads it.
        manifest: PathBuf,
        /// The applying organisation's id.
        #[arg(long)]
        organisation_id: String,
        /// The cycle applied in (its cycle_id in GET /v1/programme).
        #[arg(long)]
        cycle_id: String,
        /// The level sought: bronze, silver or gold.
        #[arg(long)]
        level: String,
    },
    /// Decide an application: --award LEVEL or --not-awarded, with --feedback; an award prints
    /// its certificate number and level.
    Decide {
        #[command(flatten)]
        signing: SigningArgs,
        /// The application's id, as `applications submit` printed it.
        application_id: String,
        /// Award at this level (bronze, silver, gold): no higher than sought or supported.
        #[arg(long, conflicts_with = "not_awarded")]
        award: Option<String>,
        /// Decide not to award.
        #[arg(long)]
        not_awarded: bool,
        /// The reviewer's written feedback to the organisation (kept private).
        #[arg(long)]
        feedback: String,
    },
}

fn framework() -> crate::domain::framework::Framework {
    crate::domain::framework::Framework::parse(crate::domain::framework::SAMPLE_FRAMEWORK)
        .expect("the shipped framework is valid (tested)")
}

pub(super) async fn applications_command(action: ApplicationAction) -> anyhow::Result<ExitCode> {
    match action {
        ApplicationAction::Check { manifest, on } => check(&manifest, on)?,
        ApplicationAction::DropIn {
            registry,
            organisation_id,
            on,
        } => drop_in(registry, &organisation_id, on).await?,
        ApplicationAction::Submit {
            registry,
            manifest,
            organisation_id,
            cycle_id,
            level,
        } => return submit(registry, &manifest, &organisation_id, cycle_id, &level).await,
        ApplicationAction::Decide {
            signing,
            application_id,
            award,
            not_awarded,
            feedback,
        } => decide(signing, application_id, award, not_awarded, feedback).await?,
    }
    Ok(ExitCode::SUCCESS)
}

fn read_manifest(path: &Path) -> anyhow::Result<crate::domain::applications::Manifest> {
    serde_json::from_value(read_json(path)?)
        .context("the manifest is not {\"documents\": [...], \"commentaries\": [...]}")
}

/// `wexqs applications check`: the manifest's checklist at every level, offline.
fn check(manifest: &Path, on: Option<chrono::NaiveDate>) -> anyhow::Result<()> {
    let manifest = read_manifest(manifest)?;
    let on = on.unwrap_or_else(|| crate::service::uk_date(chrono::Utc::now()));
    let checked = crate::domain::applications::eligibility(&framework(), &manifest, on);
    for level in &checked.levels {
        println!(
            "{}: {}",
            level.level.title(),
            if level.eligible {
                "eligible"
            } else {
                "not eligible"
            }
        );
        for r in &level.rules {
            let mark = match (r.passed, r.warning) {
                (true, _) => "pass",
                (false, true) => "WARN",
                (false, false) => "FAIL",
            };
            println!("  {mark} {}: {}", r.code, r.message);
        }
    }
    match checked.highest {
        Some(l) => println!("the evidence supports {}", l.title()),
        None => println!("the evidence supports no level"),
    }
    Ok(())
}

/// `wexqs applications drop-in`: records a drop-in the organisation attended.
async fn drop_in(
    registry: RegistryArgs,
    organisation_id: &str,
    on: chrono::NaiveDate,
) -> anyhow::Result<()> {
    let registry = registry.registry().await?;
    registry
        .execute(
            &Actor::cli(),
            DomainCommand::Application(ApplicationCommand::RecordDropIn {
                organisation_id: organisation_id.parse()?,
                attended_on: on,
            }),
            None,
        )
        .await?;
    eprintln!("recorded a drop-in on {on}");
    Ok(())
}

/// `wexqs applications submit`: prints the new application's id, or each evidence rule the
/// manifest fails (exit 1).
async fn submit(
    registry: RegistryArgs,
    manifest: &Path,
    organisation_id: &str,
    cycle_id: String,
    level: &str,
) -> anyhow::Result<ExitCode> {
    let registry = registry.registry().await?;
    let application_id = registry.new_application_id();
    let outcome = registry
        .execute(
            &Actor::cli(),
            DomainCommand::Application(ApplicationCommand::Submit(SubmitApplication {
                application_id: application_id.clone(),
                organisation_id: organisation_id.parse()?,
                cycle_id,
                level_sought: level.parse()?,
                manifest: read_manifest(manifest)?,
                framework: framework(),
            })),
            None,
        )
        .await;
    match outcome {
        Ok(_) => println!("{application_id}"),
        Err(crate::service::ServiceError::Domain(
            crate::domain::DomainError::EvidenceRulesFailed { failures, .. },
        )) => {
            for (code, message) in failures {
                eprintln!("{code}: {message}");
            }
            eprintln!("the application was not submitted");
            return Ok(ExitCode::FAILURE);
        }
        Err(e) => return Err(e.into()),
    }
    Ok(ExitCode::SUCCESS)
}

/// `wexqs applications decide`: an award prints its certificate number and level.
async fn decide(
    signing: SigningArgs,
    application_id: String,
    award: Option<String>,
    not_awarded: bool,
    feedback: String,
) -> anyhow::Result<()> {
    let award = match (award, not_awarded) {
        (Some(level), false) => Some(level.parse()?),
        (None, true) => None,
        _ => bail!("give --award LEVEL or --not-awarded"),
    };
    let registry = signing.registry().await?;
    let number = registry.new_certificate_number();
    registry
        .execute(
            &Actor::cli(),
            DomainCommand::Application(ApplicationCommand::Decide(DecideApplication {
                application_id,
                award,
                certificate_number: number.clone(),
                feedback,
                framework: framework(),
            })),
            None,
        )
        .await?;
    match award {
        Some(level) => println!("{number}\t{}", level.as_str()),
        None => println!("not awarded"),
    }
    Ok(())
}
