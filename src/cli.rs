//! The `wexqs` command line: serve, migrate, tokens, rebuild, import, expire-due, demo, log
//! verify. Each command is a thin adapter over the service; results go to standard output,
//! progress and logs to standard error.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use crate::domain::Command as DomainCommand;
use crate::domain::calendar::{Calendar, DEFAULT_CALENDAR};
use crate::http::{AppState, serve};
use crate::service::{Actor, Registry, Role, Signing, SystemClock, os_rng, spawn_background};
use crate::store::{EventStore, Pooling, Store, verify_log};

#[derive(Debug, Parser)]
#[command(
    name = "wexqs",
    version,
    about = "The public registry of NHS England's Work Experience Quality Standard awards"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Args)]
struct StoreArgs {
    /// Folder for the SQLite database and the development signing key.
    #[arg(long, env = "WEXQS_DATA_DIR", default_value = "wexqs-data")]
    data_dir: PathBuf,
    /// A PostgreSQL URL (postgres://…) or a SQLite URL; default: SQLite in the data folder.
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,
    /// The programme calendar loaded into a new registry (JSON); default: the shipped one.
    #[arg(long, env = "WEXQS_CALENDAR")]
    calendar: Option<PathBuf>,
    /// The base URL people reach the registry at (links, QR codes, credential ids and the
    /// issuer's did:web); default for serve: http:// and the bound address.
    #[arg(long, env = "WEXQS_PUBLIC_URL")]
    public_url: Option<String>,
    /// Folder of the Ed25519 signing keys (PKCS#8 PEM, mode 0600); default: keys/ in the data
    /// folder. A registry with no key gets a development key there.
    #[arg(long, env = "WEXQS_KEYS_DIR")]
    keys_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the registry over HTTP.
    Serve {
        #[command(flatten)]
        store: StoreArgs,
        /// Address to listen on.
        #[arg(long, env = "WEXQS_BIND", default_value = "127.0.0.1:8080")]
        bind: String,
        /// Load the demo register first if the register has no organisations.
        #[arg(long)]
        demo: bool,
        /// HTTP worker threads (default: one per core).
        #[arg(long, env = "WEXQS_WORKERS")]
        workers: Option<usize>,
        /// Requests a second each client address may make to public routes, with bursts of
        /// five seconds' worth (0: no limit).
        #[arg(long, env = "WEXQS_RATE_LIMIT", default_value_t = 20)]
        rate_limit: u32,
    },
    /// Manage the signing keys (their public halves are published as events and in did.json).
    Keys {
        #[command(subcommand)]
        action: KeyAction,
    },
    /// Apply the database migrations and exit.
    Migrate {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Create or revoke admin API tokens.
    Tokens {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Rebuild the projection tables from the log.
    Rebuild {
        #[command(flatten)]
        store: StoreArgs,
        /// Only compare the tables with a replay of the log; change nothing.
        #[arg(long)]
        check: bool,
    },
    /// Import existing awards from a CSV file, all or nothing.
    Import {
        #[command(flatten)]
        store: StoreArgs,
        /// CSV with the header organisation_name,ods_code,region,kind,level,awarded_on,issuer_name
        file: PathBuf,
    },
    /// Record as events the award expiries that have passed.
    ExpireDue {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Load the demo register (42 fictional organisations) into an empty register.
    Demo {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Check a credential (JSON) or a baked logo (PNG, SVG) offline, against the issuer's
    /// did.json and a status list saved from the registry.
    Verify {
        /// The credential (.json) or baked image (.png, .svg).
        file: PathBuf,
        /// The issuer's DID document (saved from /.well-known/did.json).
        #[arg(long)]
        did: PathBuf,
        /// The status list (saved from /v1/status-lists/1).
        #[arg(long)]
        status_list: Option<PathBuf>,
        /// Check as of this time (RFC 3339) rather than now.
        #[arg(long)]
        at: Option<String>,
    },
    /// Applications: check a manifest against the framework, record drop-ins, submit, decide.
    Applications {
        #[command(subcommand)]
        action: ApplicationAction,
    },
    /// Audit a registry's log over HTTP: recompute its tree from the entries, check the signed
    /// checkpoint and its consistency with the one seen last time (kept in --state).
    Audit {
        /// The registry's base URL.
        url: String,
        /// Where to keep the last accepted checkpoint between audits.
        #[arg(long)]
        state: Option<PathBuf>,
    },
    /// Check the log.
    Log {
        #[command(subcommand)]
        action: LogAction,
    },
}

#[derive(Debug, Subcommand)]
enum TokenAction {
    /// Create a token and print it, alone, on standard output (it is shown only this once).
    Create {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long, value_parser = ["admin", "reviewer"])]
        role: String,
        /// Whose token this is (kept private).
        #[arg(long)]
        name: String,
    },
    /// Revoke a token by its id (the part after `wexqs_`, before the next `_`).
    Revoke {
        #[command(flatten)]
        store: StoreArgs,
        token_id: String,
    },
}

#[derive(Debug, Subcommand)]
enum KeyAction {
    /// Generate a key and publish it; the newest key signs from now on.
    Generate {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List every key with its state (active, retired, revoked).
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Generate a key, publish it and retire the active one (what it signed stays valid).
    Rotate {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke a key as compromised: what it signed from that time on is no longer trusted.
    Revoke {
        #[command(flatten)]
        store: StoreArgs,
        key_id: String,
        /// When the key was compromised (RFC 3339); default: now.
        #[arg(long)]
        compromised_since: Option<String>,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
enum ApplicationAction {
    /// Print the eligibility checklist of an evidence manifest (JSON) at every level, offline.
    Check {
        /// The manifest: {"documents": [...], "commentaries": [...]}.
        manifest: PathBuf,
        /// The day of submission the evidence is judged on (YYYY-MM-DD); default today.
        #[arg(long)]
        on: Option<chrono::NaiveDate>,
    },
    /// Record a drop-in session an organisation attended.
    DropIn {
        #[command(flatten)]
        store: StoreArgs,
        organisation_id: String,
        #[arg(long)]
        on: chrono::NaiveDate,
    },
    /// Submit an application with its manifest; prints the application id.
    Submit {
        #[command(flatten)]
        store: StoreArgs,
        manifest: PathBuf,
        #[arg(long)]
        organisation_id: String,
        #[arg(long)]
        cycle_id: String,
        #[arg(long)]
        level: String,
    },
    /// Decide an application: --award LEVEL or --not-awarded, with --feedback.
    Decide {
        #[command(flatten)]
        store: StoreArgs,
        application_id: String,
        #[arg(long, conflicts_with = "not_awarded")]
        award: Option<String>,
        #[arg(long)]
        not_awarded: bool,
        #[arg(long)]
        feedback: String,
    },
}

#[derive(Debug, Subcommand)]
enum LogAction {
    /// Recompute every hash of the local log and report the first divergence.
    Verify {
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// Runs the command line; the exit code says whether it worked.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WEXQS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,actix_server=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

impl StoreArgs {
    fn url(&self) -> anyhow::Result<String> {
        if let Some(url) = &self.database_url {
            return Ok(url.clone());
        }
        std::fs::create_dir_all(&self.data_dir).with_context(|| {
            format!("cannot create the data folder {}", self.data_dir.display())
        })?;
        Ok(format!(
            "sqlite://{}",
            self.data_dir.join("registry.db").display()
        ))
    }

    async fn open(&self) -> anyhow::Result<Store> {
        self.open_pooled(Pooling::COMMAND).await
    }

    async fn open_pooled(&self, pooling: Pooling) -> anyhow::Result<Store> {
        let url = self.url()?;
        Store::open_pooled(&url, pooling)
            .await
            .with_context(|| format!("cannot open the database ({})", redact(&url)))
    }

    fn calendar(&self) -> anyhow::Result<Calendar> {
        let text = match &self.calendar {
            Some(path) => std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the calendar {}", path.display()))?,
            None => DEFAULT_CALENDAR.to_owned(),
        };
        Calendar::parse(&text).context("the calendar file is not valid")
    }

    async fn registry(&self) -> anyhow::Result<Arc<Registry>> {
        let public_url = self
            .public_url
            .clone()
            .unwrap_or_else(|| "http://127.0.0.1:8080".to_owned());
        self.registry_at(&public_url, Pooling::COMMAND).await
    }

    /// The registry, signing as the registry reached at `public_url`.
    async fn registry_at(
        &self,
        public_url: &str,
        pooling: Pooling,
    ) -> anyhow::Result<Arc<Registry>> {
        let store = self.open_pooled(pooling).await?;
        let calendar = self.calendar()?;
        let registry = Registry::start(store, Arc::new(SystemClock), os_rng(), &calendar).await?;
        self.setup_signing(&registry, public_url).await?;
        Ok(registry)
    }

    fn keys_dir(&self) -> anyhow::Result<PathBuf> {
        let dir = self
            .keys_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("keys"));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create the keys folder {}", dir.display()))?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot restrict the keys folder {}", dir.display()))?;
        Ok(dir)
    }

    /// Loads the active key (or, in a registry with none, generates a development key).
    async fn setup_signing(&self, registry: &Registry, public_url: &str) -> anyhow::Result<()> {
        let dir = self.keys_dir()?;
        let active = registry.with_state(|s| s.active_key().map(|k| k.key_id.clone()));
        let (key, key_id) = match active {
            Some(id) => {
                let path = crate::keys::path_of(&dir, &id);
                let key = crate::keys::load(&path).with_context(|| {
                    format!(
                        "the active signing key {id} cannot be loaded from {}",
                        path.display()
                    )
                })?;
                (key, id)
            }
            None => {
                let (key, id) = crate::keys::generate_in(&dir, &mut rand::rngs::OsRng)?;
                tracing::warn!(
                    key_id = %id,
                    folder = %dir.display(),
                    "no signing key was configured: generated a development signing key (for development only; manage production keys with 'wexqs keys')"
                );
                publish_key(registry, &key, &id).await?;
                (key, id)
            }
        };
        registry.set_signing(Signing {
            key_id,
            key,
            public_url: public_url.trim_end_matches('/').to_owned(),
            did: crate::credential::did_web(public_url),
            keys_dir: Some(dir),
        });
        Ok(())
    }
}

async fn publish_key(
    registry: &Registry,
    key: &ed25519_dalek::SigningKey,
    id: &str,
) -> anyhow::Result<()> {
    registry
        .execute(
            &Actor::cli(),
            DomainCommand::AddSigningKey {
                key_id: id.to_owned(),
                public_key_multibase: crate::keys::public_multibase(key),
            },
            None,
        )
        .await?;
    Ok(())
}

/// A database URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}://{user}:***@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({eta})")
            .expect("a valid progress template")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    bar
}

async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve {
            store,
            bind,
            demo,
            workers,
            rate_limit,
        } => {
            serve_command(store, bind, demo, workers, rate_limit).await?;
        }
        Command::Keys { action } => return keys_command(action).await,
        Command::Applications { action } => return applications_command(action).await,
        Command::Audit { url, state } => return audit_command(&url, state.as_deref()).await,
        Command::Verify {
            file,
            did,
            status_list,
            at,
        } => return verify_command(&file, &did, status_list.as_deref(), at.as_deref()),
        Command::Migrate { store } => {
            let s = store.open().await?;
            let head = s.head().await?;
            eprintln!("migrations applied; the log holds {} events", head.size);
        }
        Command::Tokens { action } => match action {
            TokenAction::Create { store, role, name } => {
                let registry = store.registry().await?;
                let role = Role::parse(&role).context("role is admin or reviewer")?;
                let (id, token) = registry.create_token(&Actor::cli(), &name, role).await?;
                eprintln!(
                    "created {} token {id} for {name:?}; it is shown only now:",
                    role.as_str()
                );
                println!("{token}");
            }
            TokenAction::Revoke { store, token_id } => {
                let registry = store.registry().await?;
                registry.revoke_token(&Actor::cli(), &token_id).await?;
                eprintln!("revoked token {token_id}");
            }
        },
        Command::Rebuild { store, check } => {
            let s = store.open().await?;
            let size = s.head().await?.size;
            let progress = bar(size, "replaying the log");
            if check {
                let state = crate::service::replay(&s, |p| progress.set_position(p + 1)).await?;
                progress.finish_and_clear();
                let expected = crate::projection::all_rows(&state);
                if s.projections().await? == expected {
                    println!("the projections agree with the log ({size} events)");
                } else {
                    println!(
                        "the projections differ from a replay of the log: run 'wexqs rebuild'"
                    );
                    return Ok(ExitCode::FAILURE);
                }
            } else {
                let replayed = Registry::rebuild(&s, |p| progress.set_position(p + 1)).await?;
                progress.finish_and_clear();
                println!("rebuilt the projections from {replayed} events");
            }
        }
        Command::Import { store, file } => return import_command(store, &file).await,
        Command::ExpireDue { store } => {
            let registry = store.registry().await?;
            let n = registry.expire_due().await?;
            println!("recorded {n} passed expiries");
        }
        Command::Demo { store } => {
            let registry = store.registry().await?;
            if registry.with_state(|s| !s.organisations.is_empty()) {
                bail!(
                    "the register already has organisations; the demo loads only into an empty one"
                );
            }
            let outcome = crate::demo::load(&registry).await?;
            println!(
                "loaded the demo register: {} events, {} awards",
                outcome.events.len(),
                outcome.issued().len()
            );
        }
        Command::Log {
            action: LogAction::Verify { store },
        } => {
            let s = store.open().await?;
            let size = s.head().await?.size;
            let progress = bar(size, "checking the log");
            let check = verify_log(&s, |p| progress.set_position(p + 1)).await?;
            progress.finish_and_clear();
            let problem = match check.problem {
                Some(p) => Some(p),
                None => check_checkpoints(&s).await?,
            };
            match problem {
                None => println!(
                    "the log is consistent: {} events, chain hash {}",
                    check.size,
                    hex::encode(&check.head.chain_hash)
                ),
                Some((position, what)) => {
                    println!("the log diverges at position {position}: {what}");
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn import_command(store: StoreArgs, file: &Path) -> anyhow::Result<ExitCode> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let rows = match crate::import::parse_csv(&text) {
        Ok(rows) => rows,
        Err(errors) => return Ok(report_rows(&errors)),
    };
    let registry = store.registry().await?;
    let progress = bar(rows.len() as u64 * 2, "checking rows");
    let result = crate::import::import_commands(&registry, &Actor::cli(), rows, None, |n| {
        progress.set_position(n as u64)
    })
    .await;
    progress.finish_and_clear();
    match result {
        Ok(outcome) => {
            println!(
                "imported {} awards ({} events, up to log position {})",
                outcome.issued().len(),
                outcome.events.len(),
                outcome.last_position().unwrap_or_default()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => Ok(report_rows(&errors)),
    }
}

fn report_rows(errors: &[crate::import::RowError]) -> ExitCode {
    for e in errors {
        eprintln!("line {}: {}: {}", e.line, e.code, e.message);
    }
    eprintln!(
        "{} row(s) cannot be imported; nothing was imported",
        errors.len()
    );
    ExitCode::FAILURE
}

async fn audit_command(url: &str, state: Option<&Path>) -> anyhow::Result<ExitCode> {
    use crate::audit::{AuditState, Finding, audit};
    let last: Option<AuditState> = match state {
        Some(path) if path.exists() => Some(serde_json::from_value(read_json(path)?)?),
        _ => None,
    };
    let progress = bar(0, "reading entries");
    let finding = audit(url, last.as_ref(), |done, total| {
        progress.set_length(total);
        progress.set_position(done);
    })
    .await?;
    progress.finish_and_clear();
    match finding {
        Finding::Consistent { size, root } => {
            use base64::Engine as _;
            let root = base64::engine::general_purpose::STANDARD.encode(root);
            println!("consistent: {size} entries, root {root}, checkpoint signature verified");
            if let Some(path) = state {
                std::fs::write(path, serde_json::to_vec_pretty(&AuditState { size, root })?)
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Finding::Divergence { position, what } => {
            println!("divergence at position {position}: {what}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Checks the stored checkpoints against the local log: each within the log, its root the
/// tree's at that size, its signature by one of the registry's keys. The first problem.
async fn check_checkpoints(store: &Store) -> anyhow::Result<Option<(u64, String)>> {
    // One pass over the log builds both the state (for the keys) and the tree.
    let mut state = crate::domain::State::default();
    let mut tree = crate::merkle::Tree::new();
    crate::store::scan(store, 0, |e| {
        state.apply(e.position, &e.envelope()?.event);
        let leaf: crate::merkle::Hash =
            e.leaf_hash.as_slice().try_into().map_err(|_| {
                crate::store::StoreError::Corrupt("a leaf hash is not 32 bytes".into())
            })?;
        tree.push(leaf);
        Ok(())
    })
    .await?;
    for level in 0..tree.height() {
        let stored = store.tree_hashes(level as u32).await?;
        let expected = tree.level(level);
        if let Some(i) = (0..expected.len())
            .find(|&i| stored.get(i).map(Vec::as_slice) != Some(&expected[i][..]))
        {
            return Ok(Some((
                (i as u64) << level,
                format!(
                    "the stored tree hash at level {level}, index {i} does not follow from the leaves"
                ),
            )));
        }
    }
    for c in store.checkpoints().await? {
        if c.size > tree.size() {
            return Ok(Some((
                tree.size(),
                format!(
                    "the log has {} entries but a checkpoint signed {}: entries were removed",
                    tree.size(),
                    c.size
                ),
            )));
        }
        if tree.root(c.size).map(|r| r.to_vec()) != Some(c.root.clone()) {
            return Ok(Some((
                c.size,
                format!("the checkpoint at size {} does not match the log", c.size),
            )));
        }
        let body = c.note.split("\n\n").next().unwrap_or_default();
        let origin = body.lines().next().unwrap_or_default();
        let signed = state.keys.iter().any(|k| {
            crate::credential::parse_public_multibase(&k.public_key_multibase)
                .map(|key| {
                    crate::note::open(&c.note, &crate::note::verifier_key(origin, &key)).is_ok()
                })
                .unwrap_or(false)
        });
        if !signed {
            return Ok(Some((
                c.size,
                format!(
                    "the checkpoint at size {} is not signed by a registry key",
                    c.size
                ),
            )));
        }
    }
    Ok(None)
}

fn framework() -> crate::domain::applications::Framework {
    crate::domain::applications::Framework::parse(crate::domain::applications::SAMPLE_FRAMEWORK)
        .expect("the shipped framework is valid (tested)")
}

async fn applications_command(action: ApplicationAction) -> anyhow::Result<ExitCode> {
    use crate::domain::applications::{Manifest, eligibility};
    let read_manifest = |path: &Path| -> anyhow::Result<Manifest> {
        serde_json::from_value(read_json(path)?)
            .context("the manifest is not {\"documents\": [...], \"commentaries\": [...]}")
    };
    match action {
        ApplicationAction::Check { manifest, on } => {
            let manifest = read_manifest(&manifest)?;
            let on = on.unwrap_or_else(|| crate::service::uk_date(chrono::Utc::now()));
            let checked = eligibility(&framework(), &manifest, on);
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
        }
        ApplicationAction::DropIn {
            store,
            organisation_id,
            on,
        } => {
            let registry = store.registry().await?;
            registry
                .execute(
                    &Actor::cli(),
                    DomainCommand::RecordDropIn {
                        organisation_id: organisation_id.parse()?,
                        attended_on: on,
                    },
                    None,
                )
                .await?;
            eprintln!("recorded a drop-in on {on}");
        }
        ApplicationAction::Submit {
            store,
            manifest,
            organisation_id,
            cycle_id,
            level,
        } => {
            let registry = store.registry().await?;
            let application_id = registry.new_organisation_id().to_string();
            let outcome = registry
                .execute(
                    &Actor::cli(),
                    DomainCommand::SubmitApplication {
                        application_id: application_id.clone(),
                        organisation_id: organisation_id.parse()?,
                        cycle_id,
                        level_sought: level.parse()?,
                        manifest: read_manifest(&manifest)?,
                        framework: framework(),
                    },
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
        }
        ApplicationAction::Decide {
            store,
            application_id,
            award,
            not_awarded,
            feedback,
        } => {
            let award = match (award, not_awarded) {
                (Some(level), false) => Some(level.parse()?),
                (None, true) => None,
                _ => bail!("give --award LEVEL or --not-awarded"),
            };
            let registry = store.registry().await?;
            let number = registry.new_certificate_number();
            registry
                .execute(
                    &Actor::cli(),
                    DomainCommand::DecideApplication {
                        application_id,
                        award,
                        certificate_number: number.clone(),
                        feedback,
                        framework: framework(),
                    },
                    None,
                )
                .await?;
            match award {
                Some(level) => println!("{number}\t{}", level.as_str()),
                None => println!("not awarded"),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn read_json(path: &Path) -> anyhow::Result<serde_json::Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

fn verify_command(
    file: &Path,
    did: &Path,
    status_list: Option<&Path>,
    at: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let body = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let content_type = match file.extension().and_then(|e| e.to_str()) {
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        _ => "application/json",
    };
    let presented = crate::verify::extract(content_type, &body)?;
    let did = read_json(did)?;
    let list = status_list.map(read_json).transpose()?;
    let now = match at {
        Some(t) => chrono::DateTime::parse_from_rfc3339(t)
            .context("--at is an RFC 3339 time, such as 2027-01-01T00:00:00Z")?
            .with_timezone(&chrono::Utc),
        None => chrono::Utc::now(),
    };
    let report = crate::verify::check_credential(
        &presented,
        Some(&did),
        list.as_ref(),
        &|_| None,
        now,
        None,
    );
    for c in &report.checks {
        println!(
            "{} {}: {}",
            if c.passed { "pass" } else { "FAIL" },
            c.name,
            c.detail
        );
    }
    println!("{}", report.verdict);
    Ok(if report.verdict == "valid" {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn keys_command(action: KeyAction) -> anyhow::Result<ExitCode> {
    match action {
        KeyAction::Generate { store } => {
            let registry = store.registry().await?;
            let (key, id) = crate::keys::generate_in(&store.keys_dir()?, &mut rand::rngs::OsRng)?;
            publish_key(&registry, &key, &id).await?;
            println!("{id}");
        }
        KeyAction::List { store } => {
            let registry = store.registry().await?;
            registry.with_state(|s| {
                for k in &s.keys {
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
            });
        }
        KeyAction::Rotate { store } => {
            let registry = store.registry().await?;
            let old = registry
                .with_state(|s| s.active_key().map(|k| k.key_id.clone()))
                .context("there is no active key to rotate")?;
            let (key, id) = crate::keys::generate_in(&store.keys_dir()?, &mut rand::rngs::OsRng)?;
            let at = registry
                .now()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            registry
                .execute_all(
                    &Actor::cli(),
                    vec![
                        DomainCommand::AddSigningKey {
                            key_id: id.clone(),
                            public_key_multibase: crate::keys::public_multibase(&key),
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
        }
        KeyAction::Revoke {
            store,
            key_id,
            compromised_since,
            reason,
        } => {
            let registry = store.registry().await?;
            let since = match compromised_since {
                Some(s) => chrono::DateTime::parse_from_rfc3339(&s)
                    .context(
                        "--compromised-since is an RFC 3339 time, such as 2026-11-24T09:00:00Z",
                    )?
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
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn serve_command(
    store: StoreArgs,
    bind: String,
    demo: bool,
    workers: Option<usize>,
    rate_limit: u32,
) -> anyhow::Result<()> {
    let listener =
        std::net::TcpListener::bind(&bind).with_context(|| format!("cannot listen on {bind}"))?;
    let address = listener.local_addr()?;
    let public_url = store
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{address}"));
    let registry = store.registry_at(&public_url, Pooling::SERVER).await?;
    tracing::info!(
        store = registry.store().kind(),
        events = registry.size(),
        "opened the registry"
    );
    if demo && registry.with_state(|s| s.organisations.is_empty()) {
        let outcome = crate::demo::load(&registry).await?;
        tracing::info!(awards = outcome.issued().len(), "loaded the demo register");
    }
    let signed = registry.issue_missing_credentials().await?;
    if signed > 0 {
        tracing::info!("signed credentials for {signed} awards that had none");
    }
    spawn_background(
        registry.clone(),
        Duration::from_secs(1),
        Duration::from_secs(3600),
    );
    tracing::info!("serving the registry on http://{address} (public URL {public_url})");
    let state = AppState::new(registry, &public_url).with_rate_limit(rate_limit);
    let workers =
        workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    serve(listener, state, workers, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
