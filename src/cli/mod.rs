//! The `wexqs` command line: clap's types and the dispatch, one file per command group (serve,
//! address, keys, tokens, applications, log and audit, import and demo, verify, backup and
//! restore). Each command
//! is a thin adapter over the service, started through `startup`; results go to standard
//! output, progress and logs to standard error.

mod address;
mod applications;
mod backup;
mod console;
mod keys;
mod lifecycle;
mod log;
mod metrics;
mod proxy;
mod register;
mod serve;
mod staff;
mod tokens;
mod verify;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use crate::domain::Command as DomainCommand;
use crate::domain::PublicUrl;
use crate::service::{Actor, Maintenance, Registry, Role};
use crate::startup::{self, Config, NoKey, Pooling, Unrecorded};

use log::LogAction;

#[derive(Debug, Parser)]
#[command(
    name = "wexqs",
    version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("WEXQS_COMMIT"), ")"),
    about = "The public registry of NHS England's Work Experience Quality Standard awards"
)]
struct Cli {
    /// How log lines on standard error are written: text, or one JSON object a line.
    #[arg(
        long,
        global = true,
        env = "WEXQS_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    log_format: crate::logging::LogFormat,
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
    /// folder. TLS: ?sslmode=verify-full&sslrootcert=CA.pem. No password here on the command
    /// line: use --database-password-file, PGPASSWORD or a password file (PGPASSFILE, ~/.pgpass).
    #[arg(
        long,
        env = "DATABASE_URL",
        hide_env_values = true,
        help_heading = "Database"
    )]
    database_url: Option<String>,
    /// A file holding the PostgreSQL role's password (one trailing newline ignored), read at
    /// start: kept out of the command line, the environment and the URL.
    #[arg(long, env = "WEXQS_DATABASE_PASSWORD_FILE", help_heading = "Database")]
    database_password_file: Option<PathBuf>,
    /// Folder of the high-water mark: the latest checkpoint the registry published, kept
    /// outside the database so that a restore or rollback behind it is noticed (writable;
    /// default: the data folder).
    #[arg(long, env = "WEXQS_STATE_DIR", help_heading = "Database")]
    state_dir: Option<PathBuf>,
    /// Do not migrate the database: check that its schema is current and stop, saying so, if it
    /// is not (run `wexqs migrate` as the deploy step; the service's role then needs data
    /// rights only).
    #[arg(long, env = "WEXQS_NO_MIGRATE", help_heading = "Database")]
    no_migrate: bool,
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
    /// folder. May be read-only (systemd credentials, a Kubernetes secret volume) except for
    /// the commands that make keys.
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
    Serve(Box<serve::ServeArgs>),
    /// The registry's public address, which every credential names: show it, or move the
    /// registry to another.
    Address {
        #[command(subcommand)]
        action: address::AddressAction,
    },
    /// Manage the signing keys (their public halves are published as events and in did.json).
    Keys {
        #[command(subcommand)]
        action: keys::KeyAction,
    },
    /// Apply the database migrations and exit: the deploy step before instances of a new
    /// release start (with --no-migrate: only check the schema is current).
    Migrate {
        #[command(flatten)]
        db: DbArgs,
    },
    /// The people allowed into the console: add, list, set-role, remove.
    Staff {
        #[command(subcommand)]
        action: staff::StaffAction,
    },
    /// Create, list or revoke admin API tokens.
    Tokens {
        #[command(subcommand)]
        action: tokens::TokenAction,
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
        /// (from its did:web) and the status list it names (http or https); and ask the
        /// register itself about the award (its verification answer), which must say valid.
        #[arg(long)]
        online: bool,
        /// Check as of this time (RFC 3339, such as 2027-01-01T00:00:00Z) rather than now.
        #[arg(long)]
        at: Option<String>,
    },
    /// Applications: check a manifest against the framework, record drop-ins, submit, decide.
    Applications {
        #[command(subcommand)]
        action: applications::ApplicationAction,
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
        action: log::LogAction,
    },
    /// Copy the database while servers run (SQLite: VACUUM INTO; PostgreSQL: pg_dump in custom
    /// format), check the copy as `log verify` does, and write FILE.manifest.json beside it. The
    /// signing keys are not in the database: back up the keys folder separately.
    Backup {
        #[command(flatten)]
        db: DbArgs,
        /// The copy to write (never overwritten); its manifest is FILE.manifest.json.
        #[arg(long)]
        to: PathBuf,
    },
    /// Put a backup (checked against its manifest) in place as the database. Stop every server
    /// and command using the database first: a database open elsewhere is refused.
    Restore {
        #[command(flatten)]
        db: DbArgs,
        /// The backup written by `wexqs backup` (its manifest beside it).
        #[arg(long)]
        from: PathBuf,
        /// Replace a database that already holds a registry (SQLite: the old file is kept
        /// beside it as FILE.replaced-TIME).
        #[arg(long)]
        replace: bool,
    },
}

/// The command line's definition (for tests that read every command's help).
pub fn definition() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

/// Runs the command line; the exit code says whether it worked.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let format = cli.log_format;
    crate::logging::init_logging(format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            crate::logging::say_error(format, &format!("cannot start the runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let code = match runtime.block_on(run(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            // A configured URL's password or token never reaches the terminal or a log.
            crate::logging::say_error(format, &startup::redact(&causes(&e)));
            ExitCode::FAILURE
        }
    };
    // What the runtime's tasks log as they stop is written out too.
    drop(runtime);
    crate::logging::flush();
    code
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

impl DbArgs {
    /// The database's URL, with the password from --database-password-file if one is given. A
    /// password written in --database-url on the command line (where every user of the machine
    /// can read it) is refused.
    fn url(&self) -> anyhow::Result<String> {
        let url = startup::database_url(self.database_url.as_deref(), &self.data_dir)?;
        if let Some(given) = &self.database_url {
            startup::refuse_password_on_command_line(given, std::env::args())?;
        }
        match &self.database_password_file {
            Some(file) => startup::with_password_from_file(&url, file),
            None => Ok(url),
        }
    }

    /// The database, opened (and migrated) to be looked after without a registry.
    async fn maintenance(&self) -> anyhow::Result<Maintenance> {
        startup::open_maintenance(&self.url()?, Pooling::COMMAND, self.migrations()).await
    }

    /// Whether opening the database migrates it (`--no-migrate`).
    fn migrations(&self) -> startup::Migrations {
        if self.no_migrate {
            startup::Migrations::CheckOnly
        } else {
            startup::Migrations::Apply
        }
    }

    /// The registry, for a command that records no calendar: a new registry opened by it gets
    /// its calendar from the first command that takes --calendar.
    async fn registry(&self) -> anyhow::Result<Arc<Registry>> {
        startup::start(
            Config::new(self.url()?, startup::no_calendar())
                .with_state_dir(self.state_dir())
                .with_migrations(self.migrations()),
        )
        .await
    }

    /// The folder of the high-water mark.
    fn state_dir(&self) -> PathBuf {
        startup::state_dir(self.state_dir.as_deref(), &self.data_dir)
    }
}

impl RegistryArgs {
    async fn registry(&self) -> anyhow::Result<Arc<Registry>> {
        self.registry_pooled(Pooling::COMMAND).await
    }

    async fn registry_pooled(&self, pooling: Pooling) -> anyhow::Result<Arc<Registry>> {
        let calendar = startup::read_calendar(self.calendar.as_deref())?;
        startup::start(
            Config::new(self.db.url()?, calendar)
                .with_pooling(pooling)
                .with_state_dir(self.db.state_dir())
                .with_migrations(self.db.migrations()),
        )
        .await
    }
}

impl KeysArgs {
    fn keys_dir(&self) -> anyhow::Result<PathBuf> {
        startup::keys_dir(self.keys_dir.as_deref(), &self.registry.db.data_dir)
    }

    /// The active key (a registry with none has none to give).
    async fn active_key(
        &self,
        registry: &Registry,
    ) -> anyhow::Result<Option<(ed25519_dalek::SigningKey, String, PathBuf)>> {
        startup::active_key(registry, self.keys_dir()?, NoKey::Unsigned).await
    }
}

impl SigningArgs {
    fn given_public_url(&self) -> anyhow::Result<Option<PublicUrl>> {
        self.public_url
            .as_deref()
            .map(|u| {
                u.parse::<PublicUrl>()
                    .with_context(|| format!("--public-url {:?}", startup::redact(u)))
            })
            .transpose()
    }

    async fn registry(&self) -> anyhow::Result<Arc<Registry>> {
        self.registry_pooled(Unrecorded::Command, NoKey::Unsigned, Pooling::COMMAND)
            .await
    }

    /// The registry, signing for the address its log records (`startup::sign_for`).
    async fn registry_pooled(
        &self,
        unrecorded: Unrecorded,
        no_key: NoKey,
        pooling: Pooling,
    ) -> anyhow::Result<Arc<Registry>> {
        let given = self.given_public_url()?;
        let registry = self.keys.registry.registry_pooled(pooling).await?;
        startup::sign_for(
            &registry,
            given,
            unrecorded,
            no_key,
            self.keys.keys_dir.as_deref(),
            &self.keys.registry.db.data_dir,
        )
        .await?;
        Ok(registry)
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
        Command::Serve(args) => serve::serve_command(*args).await?,
        Command::Address { action } => return address::address_command(action).await,
        Command::Keys { action } => return keys::keys_command(action).await,
        Command::Applications { action } => {
            return applications::applications_command(action).await;
        }
        Command::Audit { url, state } => return log::audit_command(&url, state.as_deref()).await,
        Command::Verify {
            file,
            did,
            status_list,
            online,
            at,
        } => {
            return verify::verify_command(
                &file,
                did.as_deref(),
                status_list.as_deref(),
                online,
                at.as_deref(),
            )
            .await;
        }
        Command::Migrate { db } => {
            let size = db.maintenance().await?.size().await?;
            if db.no_migrate {
                eprintln!("the schema is current; the log holds {size} events");
            } else {
                eprintln!("migrations applied; the log holds {size} events");
            }
        }
        Command::Tokens { action } => tokens::run(action).await?,
        Command::Staff { action } => staff::run(action).await?,
        Command::Rebuild { db, check } => return log::rebuild(db, check).await,
        Command::Import { signing, file } => return register::import_command(signing, &file).await,
        Command::ExpireDue { registry } => {
            let registry = registry.registry().await?;
            let n = registry.expire_due().await?;
            println!("recorded {n} passed expiries");
        }
        Command::Demo { signing } => register::demo(signing).await?,
        Command::Log {
            action: LogAction::Verify { db },
        } => return log::verify(db).await,
        Command::Backup { db, to } => return backup::backup_command(db, &to).await,
        Command::Restore { db, from, replace } => {
            return backup::restore_command(db, &from, replace).await;
        }
        Command::Log {
            action: LogAction::Reenter { db, from },
        } => return log::reenter(db, &from).await,
    }
    Ok(ExitCode::SUCCESS)
}

fn read_json(path: &Path) -> anyhow::Result<serde_json::Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}
