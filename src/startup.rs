//! Startup: the one place that builds a registry from configuration: where its database is, the
//! calendar a new registry starts with, its clock and randomness, the keys folder, and the
//! address it signs for. `wexqs serve`, every other command and the tests start the registry
//! through here (`Config`, `start`); the commands that look after a database without a registry
//! open it here too (`open_maintenance`). The clap types in `cli` only carry the configuration.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, bail};
use rand::RngCore;

use crate::credentials::sealing::{self, SealError, SealingKey};
use crate::domain::calendar::{Calendar, DEFAULT_CALENDAR};
use crate::domain::{AddressCommand, Command, KeyCommand, PublicUrl};
use crate::service::high_water::MarkFile;
use crate::service::{Actor, Clock, Maintenance, Registry, Signing, SystemClock, os_rng};
use crate::store::Store;
pub use crate::store::migrations::Migrations;

/// How many connections a registry's pool holds and how long a query waits for one.
pub use crate::store::Pooling;

/// What a registry is started with. `Config::new` is what every command uses: the system clock,
/// the operating system's randomness and a command's pool; a server asks for a server's pool,
/// and tests for a fixed clock and a seeded random source.
pub struct Config {
    /// The database's URL (see `database_url`).
    pub(crate) database_url: String,
    /// The calendar a new registry starts with (ignored once the registry has events).
    pub(crate) calendar: Calendar,
    pub(crate) pooling: Pooling,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) rng: Box<dyn RngCore + Send>,
    /// The folder of the high-water mark (`service::high_water`), kept outside the database
    /// (`None`: none is kept, as for a registry a test starts in memory).
    pub(crate) state_dir: Option<PathBuf>,
    /// Apply the migrations, or only check the schema is current (`--no-migrate`).
    pub(crate) migrations: Migrations,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact(&self.database_url))
            .field("pooling", &self.pooling)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// The registry at `database_url`, starting with `calendar` if it is new.
    pub fn new(database_url: String, calendar: Calendar) -> Config {
        Config {
            database_url,
            calendar,
            pooling: Pooling::COMMAND,
            clock: Arc::new(SystemClock),
            rng: os_rng(),
            state_dir: None,
            migrations: Migrations::Apply,
        }
    }

    /// Applies the migrations or only checks them, as `migrations` says.
    pub(crate) fn with_migrations(self, migrations: Migrations) -> Config {
        Config { migrations, ..self }
    }

    /// Keeps the high-water mark in `dir`.
    pub(crate) fn with_state_dir(self, dir: PathBuf) -> Config {
        Config {
            state_dir: Some(dir),
            ..self
        }
    }

    pub fn with_pooling(self, pooling: Pooling) -> Config {
        Config { pooling, ..self }
    }

    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Config {
        Config { clock, ..self }
    }

    pub fn with_rng(self, rng: Box<dyn RngCore + Send>) -> Config {
        Config { rng, ..self }
    }
}

/// Opens the database `config` names (migrating it) and starts the registry on it: the one way
/// a registry is started.
pub async fn start(config: Config) -> anyhow::Result<Arc<Registry>> {
    let store = open_store(&config.database_url, config.pooling, config.migrations).await?;
    let mark = match &config.state_dir {
        Some(dir) => Some(
            MarkFile::in_dir(dir)
                .with_context(|| format!("cannot create the state folder {}", dir.display()))?,
        ),
        None => None,
    };
    Ok(Registry::start(store, config.clock, config.rng, &config.calendar, mark).await?)
}

/// The folder of the high-water mark: the one given, or the data folder.
pub(crate) fn state_dir(state_dir: Option<&Path>, data_dir: &Path) -> PathBuf {
    state_dir.map_or_else(|| data_dir.to_path_buf(), Path::to_path_buf)
}

/// Opens the database at `url` (migrating it, or checking its schema, as `migrations` says) to
/// look after it without a registry started on it.
pub async fn open_maintenance(
    url: &str,
    pooling: Pooling,
    migrations: Migrations,
) -> anyhow::Result<Maintenance> {
    Ok(Maintenance::new(
        open_store(url, pooling, migrations).await?,
    ))
}

/// The database URL schemes the registry accepts.
const ACCEPTED_SCHEMES: &str = "postgres://, postgresql:// or sqlite://";

/// The database's URL: the one given, if its scheme is one the registry speaks; otherwise the
/// SQLite database in `data_dir` (the folder created, mode 0700, if need be).
pub(crate) fn database_url(database_url: Option<&str>, data_dir: &Path) -> anyhow::Result<String> {
    if let Some(url) = database_url {
        let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("postgres" | "postgresql" | "sqlite") => return Ok(url.to_owned()),
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
    // Readable by its owner alone when it is made here (the database file and its `-wal` and
    // `-shm` files are made 0600 by the store).
    crate::service::backup::create_private_dir(data_dir)
        .with_context(|| format!("cannot create the data folder {}", data_dir.display()))?;
    Ok(format!(
        "sqlite://{}",
        data_dir.join("registry.db").display()
    ))
}

/// Refuses `url` when it carries a password and was given on the command line (`args`, the
/// process's arguments): there every user of the machine can read it (`ps`, `/proc`).
pub(crate) fn refuse_password_on_command_line(
    url: &str,
    args: impl IntoIterator<Item = String>,
) -> anyhow::Result<()> {
    if !url_has_password(url) {
        return Ok(());
    }
    let on_command_line = args
        .into_iter()
        .any(|a| a == url || a.strip_prefix("--database-url=") == Some(url));
    if on_command_line {
        bail!(
            "--database-url {} carries a password on the command line, where any user of this \
             machine can read it: leave the password out of the URL and give it with \
             --database-password-file FILE (or WEXQS_DATABASE_PASSWORD_FILE), the PGPASSWORD \
             environment variable, or a password file (PGPASSFILE or ~/.pgpass)",
            redact(url)
        );
    }
    Ok(())
}

/// Whether `url` names a password: in its user-info, or as a `password=` (or the client key's
/// `sslpassword=`) parameter.
fn url_has_password(url: &str) -> bool {
    match url::Url::parse(url) {
        Ok(parsed) => {
            parsed.password().is_some()
                || parsed
                    .query_pairs()
                    .any(|(k, _)| k == "password" || k == "sslpassword")
        }
        // Not a URL `url` can read: its redacted form tells whether it hides a secret.
        Err(_) => redact(url) != url,
    }
}

/// `url` with the password read from `file` (`--database-password-file`): the file's text
/// without one trailing newline. Refused for SQLite, for an empty password, and for a URL that
/// carries a password already.
pub(crate) fn with_password_from_file(url: &str, file: &Path) -> anyhow::Result<String> {
    const OPTION: &str = "--database-password-file (WEXQS_DATABASE_PASSWORD_FILE)";
    let text = std::fs::read_to_string(file).with_context(|| {
        format!(
            "cannot read the database password file {} given by {OPTION}",
            file.display()
        )
    })?;
    let password = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(&text);
    if password.is_empty() {
        bail!(
            "the database password file {} given by {OPTION} is empty",
            file.display()
        );
    }
    let mut parsed = url::Url::parse(url)
        .with_context(|| format!("the database URL {} cannot be read", redact(url)))?;
    if !matches!(parsed.scheme(), "postgres" | "postgresql") {
        bail!(
            "{OPTION} is for PostgreSQL; the database is {}",
            redact(url)
        );
    }
    if url_has_password(url) {
        bail!(
            "the database URL {} carries a password and {OPTION} gives another: give one",
            redact(url)
        );
    }
    parsed
        .set_password(Some(password))
        .map_err(|()| anyhow::anyhow!("the database URL {} takes no password", redact(url)))?;
    Ok(parsed.to_string())
}

/// Opens the store at `url` (migrating it or checking its schema), with `pooling`.
async fn open_store(url: &str, pooling: Pooling, migrations: Migrations) -> anyhow::Result<Store> {
    match Store::open_for(url, pooling, migrations).await {
        Ok(store) => Ok(store),
        Err(e) if e.outage() == Some(crate::store::Outage::Tls) => Err(anyhow::Error::new(e)
            .context(format!(
                "cannot open the database ({}): TLS failed, so no secure connection was made. \
                 The server offers no TLS where sslmode requires it, or its certificate is not \
                 signed by the authority in sslrootcert (or the system's), or is not for the host \
                 name in the URL (OPERATIONS.md, \"TLS to PostgreSQL\")",
                redact(url)
            ))),
        Err(e) => Err(anyhow::Error::new(e))
            .with_context(|| format!("cannot open the database ({})", redact(url))),
    }
}

/// The calendar a new registry starts with: the file given, or the one shipped.
pub fn read_calendar(path: Option<&Path>) -> anyhow::Result<Calendar> {
    let text = match path {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the calendar {}", path.display()))?,
        None => DEFAULT_CALENDAR.to_owned(),
    };
    Calendar::parse(&text).context("the calendar file is not valid")
}

/// No calendar: for a command that records none (a new registry opened by it gets its calendar
/// from the first command that takes --calendar).
pub(crate) fn no_calendar() -> Calendar {
    Calendar {
        _about: None,
        dates_as_of: None,
        cycles: Vec::new(),
        changes: Vec::new(),
    }
}

/// The keys folder (the one given, or `keys` in the data folder). A folder that is there is
/// used as it is: one the platform provides (systemd credentials, a Kubernetes secret volume) is
/// read-only, and the key files themselves are checked when loaded. One that is not is created
/// readable by its owner alone.
pub(crate) fn keys_dir(keys_dir: Option<&Path>, data_dir: &Path) -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = keys_dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| data_dir.join("keys"));
    if !dir.is_dir() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("cannot create the keys folder {}", dir.display()))?;
    }
    Ok(dir)
}

/// What a process does in a registry whose log has no signing key yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoKey {
    /// Refuse to start, saying how to make one (`wexqs serve`): a key made quietly here would
    /// become the production key.
    Refuse,
    /// Sign nothing: what the command records is signed by the first `serve` with a key.
    Unsigned,
    /// Make a development key and publish it (the demo).
    Development,
}

/// The active key from the keys folder `dir`; in a registry with none, what `no_key` says.
pub(crate) async fn active_key(
    registry: &Registry,
    dir: PathBuf,
    no_key: NoKey,
) -> anyhow::Result<Option<(ed25519_dalek::SigningKey, String, PathBuf)>> {
    if let Some(id) = registry.active_key_id() {
        let path = crate::credentials::keys::path_of(&dir, &id);
        let key = crate::credentials::keys::load(&path).with_context(|| {
            format!(
                "the active signing key {id} cannot be loaded from {}: copy its file there from the keys folder it was made in (README, \"Signing keys\")",
                path.display()
            )
        })?;
        return Ok(Some((key, id, dir)));
    }
    match no_key {
        NoKey::Refuse => bail!(
            "this registry has no signing key yet, so it cannot sign credentials or checkpoints. Run 'wexqs keys init' once, with the same database and keys folder ({}), to make one and publish it, then start 'wexqs serve' again (README, \"Signing keys\"); 'wexqs serve --demo' makes a development key for a demo",
            dir.display()
        ),
        NoKey::Unsigned => {
            tracing::warn!(
                "this registry has no signing key yet: what this command records is signed once 'wexqs keys init' has made one and 'wexqs serve' starts"
            );
            Ok(None)
        }
        NoKey::Development => {
            let (key, id) = crate::credentials::keys::generate_in(&dir, &mut rand::rngs::OsRng)?;
            tracing::warn!(
                key_id = %id,
                folder = %dir.display(),
                "the demo has no signing key: generated a development signing key (for a demo only; a registry in use makes its key with 'wexqs keys init')"
            );
            publish_key(registry, &key, &id).await?;
            Ok(Some((key, id, dir)))
        }
    }
}

/// The key webhook secrets are sealed with: the keys folder's (`keys_dir`, or `keys` in
/// `data_dir`), made there if it has none and is writable. Secrets an earlier version kept in
/// clear are sealed with it, and it must open every stored secret, or the server does not start
/// (a keys folder other than the one that sealed them). `None`, with a warning, when the folder
/// has none, cannot be written and no subscription exists: webhooks then cannot be made until
/// the operator adds one.
pub(crate) async fn webhook_sealing(
    registry: &Registry,
    keys_folder: Option<&Path>,
    data_dir: &Path,
) -> anyhow::Result<Option<Arc<SealingKey>>> {
    let dir = keys_dir(keys_folder, data_dir)?;
    let key = match sealing::sealing_key(&dir) {
        Ok(key) => key,
        Err(e @ SealError::Absent(_)) if registry.webhooks().await?.is_empty() => {
            tracing::warn!("no webhook can be made until the keys folder has a sealing key: {e}");
            return Ok(None);
        }
        Err(e) => return Err(e).context("webhook secrets cannot be sealed or opened"),
    };
    let sealed = registry.seal_clear_webhook_secrets(&key).await?;
    if sealed > 0 {
        tracing::info!(
            subscriptions = sealed,
            sealing_key = key.fingerprint(),
            "sealed the webhook secrets an earlier version kept in clear"
        );
    }
    let unopened = registry.webhook_secrets_not_opening(&key).await?;
    if !unopened.is_empty() {
        bail!(
            "the webhook secrets of {} subscription(s) ({}) do not open with the sealing key {} \
             ({}): they were sealed with another keys folder's key. Every instance sharing a \
             database needs the same keys folder, {} included: restore the one that sealed \
             them; if that key is lost, so are the secrets, and those subscriptions must be \
             removed and made again (README, \"Webhook secrets at rest\")",
            unopened.len(),
            unopened.join(", "),
            key.fingerprint(),
            sealing::path_in(&dir).display(),
            sealing::FILE_NAME,
        );
    }
    Ok(Some(Arc::new(key)))
}

/// Which address a process signs for when the registry has none recorded yet.
#[derive(Debug, Clone, Copy)]
pub enum Unrecorded {
    /// A server: record the one it is reached at (`--public-url`, or http:// and its address).
    Serve(std::net::SocketAddr),
    /// Any other command: sign nothing without an address (the first serve signs what is
    /// missing), unless `--public-url` is given, which is then recorded.
    Command,
}

/// Sets `registry` signing for the address its log records: the one `given` must be that one;
/// with none recorded, see `Unrecorded`. The key is the active one in the keys folder
/// (`keys_dir`, or `keys` in `data_dir`); with none, see `NoKey`.
pub async fn sign_for(
    registry: &Registry,
    given: Option<PublicUrl>,
    unrecorded: Unrecorded,
    no_key: NoKey,
    keys_folder: Option<&Path>,
    data_dir: &Path,
) -> anyhow::Result<()> {
    let recorded = registry.public_url();
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
    let Some((key, key_id, dir)) =
        active_key(registry, keys_dir(keys_folder, data_dir)?, no_key).await?
    else {
        return Ok(());
    };
    match address {
        Some(address) => {
            registry.set_signing(signing(key_id, key, &address, Some(dir)));
            // Recorded with the key at hand: credentials signed before for another address
            // (by a version that did not record one) are re-signed in the same append.
            if !recorded_already {
                record_address(registry, &address).await?;
            }
        }
        None => tracing::warn!(
            "the registry has no public address recorded yet (it has never been served): awards recorded now get their signed credentials when 'wexqs serve' first starts, or give --public-url to record the address now"
        ),
    }
    Ok(())
}

/// Sets `registry` signing for `address` with `key`, held in memory rather than in a keys
/// folder, publishing it first if the log does not know it. The address is not recorded: for a
/// registry whose address is given by its caller, such as one a test serves on a port of its own.
pub async fn sign_with_key(
    registry: &Registry,
    key: ed25519_dalek::SigningKey,
    address: &PublicUrl,
) -> anyhow::Result<()> {
    let key_id = crate::credentials::keys::key_id(&key);
    if !registry.knows_key(&key_id) {
        publish_key(registry, &key, &key_id).await?;
    }
    registry.set_signing(signing(key_id, key, address, None));
    Ok(())
}

/// What a registry signs with: `key` (the log's key `key_id`) for `address`; with `keys_dir`,
/// the folder a newer active key is loaded from.
pub fn signing(
    key_id: String,
    key: ed25519_dalek::SigningKey,
    address: &PublicUrl,
    keys_dir: Option<PathBuf>,
) -> Signing {
    Signing {
        key_id,
        key,
        public_url: address.to_string(),
        did: crate::credentials::credential::did_web(address.as_str()),
        keys_dir,
    }
}

/// Records `address` as the registry's (another process may have recorded it first: then it
/// must be the same).
async fn record_address(registry: &Registry, address: &PublicUrl) -> anyhow::Result<()> {
    registry
        .execute(
            &Actor::cli(),
            Command::Address(AddressCommand::Record {
                public_url: address.clone(),
            }),
            None,
        )
        .await?;
    tracing::info!(public_url = %address, "recorded the registry's public address");
    Ok(())
}

/// Publishes the public half of `key` as the registry's key `id`.
pub(crate) async fn publish_key(
    registry: &Registry,
    key: &ed25519_dalek::SigningKey,
    id: &str,
) -> anyhow::Result<()> {
    registry
        .execute(
            &Actor::cli(),
            Command::Key(KeyCommand::Add {
                key_id: id.to_owned(),
                public_key_multibase: crate::credentials::keys::public_multibase(key),
            }),
            None,
        )
        .await?;
    Ok(())
}

/// Whether a query or connection-string parameter's value may be a secret: a name holding
/// `pass`, `pwd`, `secret`, `token` or `credential` (`password`, `sslpassword`, `auth_token`,
/// `client_secret`...), or ending in `key` or `auth` (`api_key`, `sslkey`'s path too: hiding a
/// harmless value costs little; showing a secret cannot be undone).
fn secret_parameter(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["pass", "pwd", "secret", "token", "credential"]
        .iter()
        .any(|s| name.contains(s))
        || name.ends_with("key")
        || name.ends_with("auth")
        || name == "authorization"
}

/// A URL (or libpq-style connection string) from configuration made fit for a message, a log
/// line or `--help`: the password of its user-info and the value of every parameter that may
/// hold a secret (`password=`, `sslpassword=`, `token=`...) become `***`. The one function every
/// message naming a configured URL goes through.
pub fn redact(url: &str) -> String {
    let userinfo_hidden = redact_userinfo(url);
    redact_parameters(&userinfo_hidden)
}

/// Every `scheme://user:password@` in `text` with its password as `***`.
fn redact_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(scheme) = rest.find("://") {
        let after = &rest[scheme + 3..];
        // The authority ends at the path, query, fragment or the end of the word.
        let authority_end = after
            .find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace())
            .unwrap_or(after.len());
        out.push_str(&rest[..scheme + 3]);
        match after[..authority_end].rfind('@') {
            Some(at) => {
                match after[..at].split_once(':') {
                    Some((user, _)) => {
                        out.push_str(user);
                        out.push_str(":***");
                    }
                    None => out.push_str(&after[..at]),
                }
                rest = &after[at..];
            }
            None => rest = after,
        }
    }
    out.push_str(rest);
    out
}

/// Every `name=value` in `text` whose name may hold a secret with its value as `***`.
fn redact_parameters(rest: &str) -> String {
    let mut out = String::with_capacity(rest.len());
    // `name=value`, separated by `?`, `&`, `;`, `/` or white space.
    let mut chars = rest.char_indices().peekable();
    let mut start = 0;
    while let Some((i, c)) = chars.next() {
        if c != '=' {
            continue;
        }
        let name_start = rest[..i]
            .rfind(|c: char| matches!(c, '?' | '&' | ';' | '/') || c.is_whitespace())
            .map_or(0, |p| p + 1);
        if !secret_parameter(&rest[name_start..i]) {
            continue;
        }
        let value_end = rest[i + 1..]
            .find(|c: char| matches!(c, '&' | ';' | '#') || c.is_whitespace())
            .map_or(rest.len(), |p| i + 1 + p);
        out.push_str(&rest[start..=i]);
        out.push_str("***");
        start = value_end;
        while chars.peek().is_some_and(|(j, _)| *j < value_end) {
            chars.next();
        }
    }
    out.push_str(&rest[start..]);
    out
}
