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
use crate::domain::PublicUrl;
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

/// Where the registry's database is: what every command that reads the register needs.
#[derive(Debug, Clone, Args)]
struct DbArgs {
    /// Folder for the SQLite database and the development signing key.
    #[arg(
        long,
        env = "WEXQS_DATA_DIR",
        default_value = "wexqs-data",
        help_heading = "Database"
    )]
    data_dir: PathBuf,
    /// postgres://USER@HOST/DB (or postgresql://) or sqlite://PATH; default: SQLite in the data
    /// folder.
    #[arg(long, env = "DATABASE_URL", help_heading = "Database")]
    database_url: Option<String>,
}

/// What a command that writes to the register needs: its database, and the calendar a registry
/// starts with if this command is the first to write to it.
#[derive(Debug, Clone, Args)]
struct RegistryArgs {
    #[command(flatten)]
    db: DbArgs,
    /// The programme calendar a new registry starts with (JSON); ignored once the registry has
    /// events. Default: the shipped one.
    #[arg(long, env = "WEXQS_CALENDAR", help_heading = "Database")]
    calendar: Option<PathBuf>,
}

/// What a command that manages or uses the signing keys needs.
#[derive(Debug, Clone, Args)]
struct KeysArgs {
    #[command(flatten)]
    registry: RegistryArgs,
    /// Folder of the Ed25519 signing keys (PKCS#8 PEM, mode 0600); default: keys/ in the data
    /// folder. A registry with no key gets a development key there.
    #[arg(long, env = "WEXQS_KEYS_DIR", help_heading = "Signing")]
    keys_dir: Option<PathBuf>,
}

/// What a command that signs credentials needs: the keys, and the address it signs for.
#[derive(Debug, Clone, Args)]
struct SigningArgs {
    #[command(flatten)]
    keys: KeysArgs,
    /// The base URL people reach the registry at (links, QR codes, credential ids, the issuer's
    /// did:web, the log's origin). Recorded in the registry by the first `serve` (default:
    /// http:// and the bound address); after that it must be the recorded one or left out
    /// (`wexqs address set` moves a registry).
    #[arg(long, env = "WEXQS_PUBLIC_URL", help_heading = "Signing")]
    public_url: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the registry over HTTP.
    Serve {
        #[command(flatten)]
        signing: SigningArgs,
        /// Address to listen on.
        #[arg(long, env = "WEXQS_BIND", default_value = "127.0.0.1:8080")]
        bind: String,
        /// Load the demo register first if the register has no organisations (with a register
        /// that has some, it loads nothing and says so).
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
    /// The registry's public address, which every credential names: show it, or move the
    /// registry to another.
    Address {
        #[command(subcommand)]
        action: AddressAction,
    },
    /// Manage the signing keys (their public halves are published as events and in did.json).
    Keys {
        #[command(subcommand)]
        action: KeyAction,
    },
    /// Apply the database migrations and exit.
    Migrate {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Create or revoke admin API tokens.
    Tokens {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Rebuild the projection tables from the log.
    Rebuild {
        #[command(flatten)]
        db: DbArgs,
        /// Only compare the tables with a replay of the log; change nothing.
        #[arg(long)]
        check: bool,
    },
    /// Import existing awards from a CSV file, all or nothing.
    Import {
        #[command(flatten)]
        signing: SigningArgs,
        /// CSV with the header organisation_name,ods_code,region,kind,level,awarded_on,issuer_name
        file: PathBuf,
    },
    /// Record as events the award expiries that have passed.
    ExpireDue {
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Load the demo register (42 fictional organisations) into an empty register.
    Demo {
        #[command(flatten)]
        signing: SigningArgs,
    },
    /// Check a credential (JSON) or a baked logo (PNG, SVG): against a saved did.json and
    /// status list, or, with --online, against the ones its issuer publishes. Exit 0: every
    /// check that ran passed (the last line says if any could not run); 1: a check failed.
    Verify {
        /// The credential (.json) or baked image (.png, .svg).
        file: PathBuf,
        /// The issuer's DID document (saved from /.well-known/did.json).
        #[arg(long, required_unless_present = "online")]
        did: Option<PathBuf>,
        /// The status list (saved from the URL in the credential's credentialStatus, such as
        /// /v1/status-lists/1); without it (or --online) the revocation status is not checked.
        #[arg(long)]
        status_list: Option<PathBuf>,
        /// Fetch what was not given from the credential's own addresses: the issuer's did.json
        /// (from its did:web) and the status list it names (http or https).
        #[arg(long)]
        online: bool,
        /// Check as of this time (RFC 3339, such as 2027-01-01T00:00:00Z) rather than now.
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
enum AddressAction {
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
        /// Why the registry moves (3 to 2,000 characters; kept in the public log).
        #[arg(long)]
        reason: String,
        /// Folder of the signing keys, as for `serve`; default: keys/ in the data folder.
        #[arg(long, env = "WEXQS_KEYS_DIR", help_heading = "Signing")]
        keys_dir: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum TokenAction {
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

#[derive(Debug, Subcommand)]
enum KeyAction {
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
        /// Why the key is revoked (3 to 2,000 characters; kept in the public log).
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
enum ApplicationAction {
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

#[derive(Debug, Subcommand)]
enum LogAction {
    /// Recompute every hash of the local log and report the first divergence.
    Verify {
        #[command(flatten)]
        db: DbArgs,
    },
}

/// The command line's definition (for tests that read every command's help).
pub fn definition() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
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
            eprintln!("error: {}", causes(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, each said once: a cause whose words an outer message already
/// carries (many errors repeat their source in their own message) is left out.
fn causes(error: &anyhow::Error) -> String {
    let mut said: Vec<String> = Vec::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if !said.iter().any(|s| s.contains(&text)) {
            said.push(text);
        }
    }
    said.join(": ")
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

/// The database URL schemes the registry accepts.
const ACCEPTED_SCHEMES: &str = "postgres://, postgresql:// or sqlite://";

impl DbArgs {
    fn url(&self) -> anyhow::Result<String> {
        if let Some(url) = &self.database_url {
            let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
            match scheme.as_deref() {
                Some("postgres" | "postgresql" | "sqlite") => return Ok(url.clone()),
                Some(other) => bail!(
                    "the database URL {} has the scheme {other}://, which this registry does not speak; accepted: {ACCEPTED_SCHEMES}",
                    redact(url)
                ),
                None => bail!(
                    "the database URL {} has no scheme; accepted: {ACCEPTED_SCHEMES}",
                    redact(url)
                ),
            }
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

    /// The registry, for a command that records no calendar: a new registry opened by it gets
    /// its calendar from the first command that takes --calendar.
    async fn registry(&self) -> anyhow::Result<Arc<Registry>> {
        let none = Calendar {
            about: None,
            dates_as_of: None,
            cycles: Vec::new(),
            changes: Vec::new(),
        };
        let store = self.open().await?;
        Ok(Registry::start(store, Arc::new(SystemClock), os_rng(), &none).await?)
    }
}

impl RegistryArgs {
    fn calendar(&self) -> anyhow::Result<Calendar> {
        let text = match &self.calendar {
            Some(path) => std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the calendar {}", path.display()))?,
            None => DEFAULT_CALENDAR.to_owned(),
        };
        Calendar::parse(&text).context("the calendar file is not valid")
    }

    async fn registry(&self) -> anyhow::Result<Arc<Registry>> {
        self.registry_pooled(Pooling::COMMAND).await
    }

    async fn registry_pooled(&self, pooling: Pooling) -> anyhow::Result<Arc<Registry>> {
        let calendar = self.calendar()?;
        let store = self.db.open_pooled(pooling).await?;
        Ok(Registry::start(store, Arc::new(SystemClock), os_rng(), &calendar).await?)
    }
}

impl KeysArgs {
    fn keys_dir(&self) -> anyhow::Result<PathBuf> {
        let dir = self
            .keys_dir
            .clone()
            .unwrap_or_else(|| self.registry.db.data_dir.join("keys"));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create the keys folder {}", dir.display()))?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot restrict the keys folder {}", dir.display()))?;
        Ok(dir)
    }

    /// The active key (or, in a registry with none, a new development key, published).
    async fn active_key(
        &self,
        registry: &Registry,
    ) -> anyhow::Result<(ed25519_dalek::SigningKey, String, PathBuf)> {
        let dir = self.keys_dir()?;
        let active = registry.with_state(|s| s.active_key().map(|k| k.key_id.clone()));
        match active {
            Some(id) => {
                let path = crate::credentials::keys::path_of(&dir, &id);
                let key = crate::credentials::keys::load(&path).with_context(|| {
                    format!(
                        "the active signing key {id} cannot be loaded from {}",
                        path.display()
                    )
                })?;
                Ok((key, id, dir))
            }
            None => {
                let (key, id) =
                    crate::credentials::keys::generate_in(&dir, &mut rand::rngs::OsRng)?;
                tracing::warn!(
                    key_id = %id,
                    folder = %dir.display(),
                    "no signing key was configured: generated a development signing key (for development only; manage production keys with 'wexqs keys')"
                );
                publish_key(registry, &key, &id).await?;
                Ok((key, id, dir))
            }
        }
    }
}

/// Which address a process signs for when the registry has none recorded yet.
#[derive(Debug, Clone, Copy)]
enum Unrecorded {
    /// A server: record the one it is reached at (`--public-url`, or http:// and its address).
    Serve(std::net::SocketAddr),
    /// Any other command: sign nothing without an address (the first serve signs what is
    /// missing), unless `--public-url` is given, which is then recorded.
    Command,
}

impl SigningArgs {
    fn given_public_url(&self) -> anyhow::Result<Option<PublicUrl>> {
        self.public_url
            .as_deref()
            .map(|u| {
                u.parse::<PublicUrl>()
                    .with_context(|| format!("--public-url {u:?}"))
            })
            .transpose()
    }

    async fn registry(&self) -> anyhow::Result<Arc<Registry>> {
        self.registry_pooled(Unrecorded::Command, Pooling::COMMAND)
            .await
    }

    /// The registry, signing for the address its log records: the one given must be that one;
    /// with none recorded, see `Unrecorded`.
    async fn registry_pooled(
        &self,
        unrecorded: Unrecorded,
        pooling: Pooling,
    ) -> anyhow::Result<Arc<Registry>> {
        let given = self.given_public_url()?;
        let registry = self.keys.registry.registry_pooled(pooling).await?;
        let recorded = registry.with_state(|s| s.public_url.clone());
        let recorded_already = recorded.is_some();
        let address = match (recorded, given) {
            (Some(recorded), Some(given)) if recorded != given => {
                bail!(
                    "this registry is recorded as reached at {recorded}: its credentials, did:web and log origin name that address, and --public-url {given} (or WEXQS_PUBLIC_URL) differs. Leave --public-url out to use {recorded}; to move the registry to {given}, run 'wexqs address set {given} --reason \"...\"' first (README, \"Moving the registry\")"
                );
            }
            (Some(recorded), _) => Some(recorded),
            (None, Some(given)) => Some(given),
            (None, None) => match unrecorded {
                Unrecorded::Serve(bound) => Some(
                    format!("http://{bound}")
                        .parse::<PublicUrl>()
                        .context("the bound address as a URL")?,
                ),
                Unrecorded::Command => None,
            },
        };
        let (key, key_id, dir) = self.keys.active_key(&registry).await?;
        match address {
            Some(address) => {
                registry.set_signing(Signing {
                    key_id,
                    key,
                    public_url: address.to_string(),
                    did: crate::credentials::credential::did_web(address.as_str()),
                    keys_dir: Some(dir),
                });
                // Recorded with the key at hand: credentials signed before for another address
                // (by a version that did not record one) are re-signed in the same append.
                if !recorded_already {
                    record_address(&registry, &address).await?;
                }
            }
            None => tracing::warn!(
                "the registry has no public address recorded yet (it has never been served): awards recorded now get their signed credentials when 'wexqs serve' first starts, or give --public-url to record the address now"
            ),
        }
        Ok(registry)
    }
}

/// Records `address` as the registry's (another process may have recorded it first: then it
/// must be the same).
async fn record_address(registry: &Registry, address: &PublicUrl) -> anyhow::Result<()> {
    registry
        .execute(
            &Actor::cli(),
            DomainCommand::RecordRegistryAddress {
                public_url: address.clone(),
            },
            None,
        )
        .await?;
    tracing::info!(public_url = %address, "recorded the registry's public address");
    Ok(())
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
                public_key_multibase: crate::credentials::keys::public_multibase(key),
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
            signing,
            bind,
            demo,
            workers,
            rate_limit,
        } => {
            serve_command(signing, bind, demo, workers, rate_limit).await?;
        }
        Command::Address { action } => return address_command(action).await,
        Command::Keys { action } => return keys_command(action).await,
        Command::Applications { action } => return applications_command(action).await,
        Command::Audit { url, state } => return audit_command(&url, state.as_deref()).await,
        Command::Verify {
            file,
            did,
            status_list,
            online,
            at,
        } => {
            return verify_command(
                &file,
                did.as_deref(),
                status_list.as_deref(),
                online,
                at.as_deref(),
            )
            .await;
        }
        Command::Migrate { db } => {
            let s = db.open().await?;
            let head = s.head().await?;
            eprintln!("migrations applied; the log holds {} events", head.size);
        }
        Command::Tokens { action } => match action {
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
        },
        Command::Rebuild { db, check } => {
            let s = db.open().await?;
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
        Command::Import { signing, file } => return import_command(signing, &file).await,
        Command::ExpireDue { registry } => {
            let registry = registry.registry().await?;
            let n = registry.expire_due().await?;
            println!("recorded {n} passed expiries");
        }
        Command::Demo { signing } => {
            let registry = signing.registry().await?;
            if registry.with_state(|s| !s.organisations.is_empty()) {
                bail!(
                    "the register already has organisations; the demo loads only into an empty one"
                );
            }
            let outcome = crate::service::demo::load(&registry).await?;
            println!(
                "loaded the demo register: {} events, {} awards",
                outcome.events.len(),
                outcome.issued().len()
            );
        }
        Command::Log {
            action: LogAction::Verify { db },
        } => {
            let s = db.open().await?;
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

async fn import_command(signing: SigningArgs, file: &Path) -> anyhow::Result<ExitCode> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let rows = match crate::service::import::parse_csv(&text) {
        Ok(rows) => rows,
        Err(errors) => return Ok(report_rows(&errors)),
    };
    let registry = signing.registry().await?;
    let progress = bar(rows.len() as u64 * 2, "checking rows");
    let result =
        crate::service::import::import_commands(&registry, &Actor::cli(), rows, None, |n| {
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

fn report_rows(errors: &[crate::service::import::RowError]) -> ExitCode {
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
    use crate::transparency::audit::{AuditState, Finding, audit};
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
    let mut tree = crate::transparency::merkle::Tree::new();
    crate::store::scan(store, 0, |e| {
        state.apply(e.position, &e.envelope()?.event);
        let leaf: crate::transparency::merkle::Hash =
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
            crate::credentials::credential::parse_public_multibase(&k.public_key_multibase)
                .map(|key| {
                    crate::transparency::note::open(
                        &c.note,
                        &crate::transparency::note::verifier_key(origin, &key),
                    )
                    .is_ok()
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
            registry,
            organisation_id,
            on,
        } => {
            let registry = registry.registry().await?;
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
            registry,
            manifest,
            organisation_id,
            cycle_id,
            level,
        } => {
            let registry = registry.registry().await?;
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
            signing,
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
            let registry = signing.registry().await?;
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

async fn verify_command(
    file: &Path,
    did: Option<&Path>,
    status_list: Option<&Path>,
    online: bool,
    at: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let body = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let content_type = match file.extension().and_then(|e| e.to_str()) {
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        _ => "application/json",
    };
    let presented = crate::credentials::verify::extract(content_type, &body)?;
    let did = match (did, online) {
        (Some(path), _) => read_json(path)?,
        (None, true) => fetch_json(&did_json_url(&presented)?).await?,
        (None, false) => bail!("give --did did.json (saved from the issuer) or --online"),
    };
    let list = match (status_list, online) {
        (Some(path), _) => Some(read_json(path)?),
        (None, true) => Some(fetch_json(&status_list_url(&presented)?).await?),
        (None, false) => None,
    };
    let now = match at {
        Some(t) => chrono::DateTime::parse_from_rfc3339(t)
            .context("--at is an RFC 3339 time, such as 2027-01-01T00:00:00Z")?
            .with_timezone(&chrono::Utc),
        None => chrono::Utc::now(),
    };
    let report = crate::credentials::verify::check_credential(
        &presented,
        Some(&did),
        list.as_ref(),
        &|_| None,
        now,
        None,
    );
    let mut not_checked = Vec::new();
    let mut failed = false;
    for c in &report.checks {
        if c.name == "status" && list.is_none() {
            println!(
                "not checked {}: no status list given; pass --status-list FILE (saved from the URL in the credential's credentialStatus) or --online to fetch it",
                c.name
            );
            not_checked.push(c.name);
            continue;
        }
        failed |= !c.passed;
        println!(
            "{} {}: {}",
            if c.passed { "pass" } else { "FAIL" },
            c.name,
            c.detail
        );
    }
    if failed {
        println!("invalid");
        Ok(ExitCode::FAILURE)
    } else if not_checked.is_empty() {
        println!("valid");
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "valid as far as checked: every check that ran passed; not checked: {}",
            not_checked.join(", ")
        );
        Ok(ExitCode::SUCCESS)
    }
}

/// Where the issuer of `credential` publishes its did.json: its `issuer.url`, which must be the
/// address its did:web names.
fn did_json_url(credential: &serde_json::Value) -> anyhow::Result<String> {
    let issuer = credential.get("issuer");
    let did = issuer
        .and_then(|i| i.get("id"))
        .and_then(serde_json::Value::as_str)
        .context("the credential names no issuer id")?;
    let url = issuer
        .and_then(|i| i.get("url"))
        .and_then(serde_json::Value::as_str)
        .context("the credential's issuer has no url to fetch its did.json from")?;
    let url: PublicUrl = url
        .parse()
        .with_context(|| format!("the issuer's url {url:?}"))?;
    if crate::credentials::credential::did_web(url.as_str()) != did {
        bail!("the issuer's url {url} is not the address its DID {did} names; not fetched");
    }
    Ok(format!("{url}/.well-known/did.json"))
}

/// The status list `credential` names (http or https).
fn status_list_url(credential: &serde_json::Value) -> anyhow::Result<String> {
    let url = credential
        .get("credentialStatus")
        .and_then(|s| s.get("statusListCredential"))
        .and_then(serde_json::Value::as_str)
        .context("the credential names no status list (credentialStatus.statusListCredential)")?;
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        bail!("the status list {url} is not an http(s) URL; not fetched");
    }
    Ok(url.to_owned())
}

async fn fetch_json(url: &str) -> anyhow::Result<serde_json::Value> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .context("an HTTP client")?;
    let response = client
        .get(url)
        .send()
        .await
        .with_context(|| format!("cannot fetch {url}"))?
        .error_for_status()
        .with_context(|| format!("cannot fetch {url}"))?;
    eprintln!("fetched {url}");
    response
        .json()
        .await
        .with_context(|| format!("{url} did not answer JSON"))
}

async fn keys_command(action: KeyAction) -> anyhow::Result<ExitCode> {
    match action {
        KeyAction::Generate { keys } => {
            let registry = keys.registry.registry().await?;
            let (key, id) =
                crate::credentials::keys::generate_in(&keys.keys_dir()?, &mut rand::rngs::OsRng)?;
            publish_key(&registry, &key, &id).await?;
            println!("{id}");
        }
        KeyAction::List { db } => {
            let registry = db.registry().await?;
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
        KeyAction::Rotate { keys } => {
            let registry = keys.registry.registry().await?;
            let old = registry
                .with_state(|s| s.active_key().map(|k| k.key_id.clone()))
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
        }
        KeyAction::Revoke {
            db,
            key_id,
            compromised_since,
            reason,
        } => {
            let registry = db.registry().await?;
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
    signing: SigningArgs,
    bind: String,
    demo: bool,
    workers: Option<usize>,
    rate_limit: u32,
) -> anyhow::Result<()> {
    let listener =
        std::net::TcpListener::bind(&bind).with_context(|| format!("cannot listen on {bind}"))?;
    let address = listener.local_addr()?;
    let registry = signing
        .registry_pooled(Unrecorded::Serve(address), Pooling::SERVER)
        .await?;
    let public_url = registry
        .signing()
        .map(|s| s.public_url)
        .context("a server always has an address to sign for")?;
    tracing::info!(
        store = registry.store().kind(),
        events = registry.size(),
        "opened the registry"
    );
    if demo {
        if registry.with_state(|s| s.organisations.is_empty()) {
            let outcome = crate::service::demo::load(&registry).await?;
            tracing::info!(awards = outcome.issued().len(), "loaded the demo register");
        } else {
            tracing::warn!(
                "--demo loads nothing: the register already has organisations (the demo loads only into an empty one; use another --data-dir or database for a fresh demo)"
            );
        }
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
    if signing.public_url.is_none() && public_url != format!("http://{address}") {
        tracing::info!(
            "the registry is recorded as reached at {public_url}, which its links and credentials name ('wexqs address set' moves it)"
        );
    }
    tracing::info!("serving the registry on http://{address} (public URL {public_url})");
    let state = AppState::new(registry, &public_url).with_rate_limit(rate_limit);
    let workers =
        workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    serve(listener, state, workers, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

async fn address_command(action: AddressAction) -> anyhow::Result<ExitCode> {
    match action {
        AddressAction::Show { db } => {
            let registry = db.registry().await?;
            match registry.with_state(|s| s.public_url.clone()) {
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
            if registry.with_state(|s| s.active_key().is_some()) {
                let (key, key_id, dir) = keys.active_key(&registry).await?;
                registry.set_signing(Signing {
                    key_id,
                    key,
                    public_url: public_url.to_string(),
                    did: crate::credentials::credential::did_web(public_url.as_str()),
                    keys_dir: Some(dir),
                });
            }
            let outcome = registry
                .execute(
                    &Actor::cli(),
                    DomainCommand::ChangeRegistryAddress {
                        public_url: public_url.clone(),
                        reason,
                    },
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
