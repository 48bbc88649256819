//! Backups and restores of the registry's database. `backup` takes a consistent copy while
//! servers write (SQLite's `VACUUM INTO`, one read transaction; PostgreSQL's `pg_dump` in custom
//! format, one snapshot), checks the copy as `wexqs log verify` checks a log (every hash, the
//! tree, every checkpoint) before keeping it, and writes its manifest beside it
//! (`FILE.manifest.json`: the log's size and root, the latest checkpoint, the copy's SHA-256, the
//! keys' fingerprints). `restore` puts a copy whose bytes match its manifest in place, only when
//! nothing has the database open, and touches neither the keys folder nor anything kept beside
//! it: the server started next runs its start-up checks on it as on any database. Every file is
//! written readable by its owner alone under a temporary name and renamed into place, so a
//! failure leaves no half-written copy. The signing keys are not in the database, so never in a
//! backup: the manifest says so.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::{LogSummary, Maintenance, ServiceError};
use crate::store::{Store, postgres_database};

/// The manifest's format, named in it.
pub(crate) const MANIFEST_FORMAT: &str = "wexqs-backup/1";

/// What the manifest says of the keys, in every manifest.
pub(crate) const KEYS_NOTE: &str = "The signing keys are not in this backup: they live in the keys \
folder (--keys-dir, by default keys/ in the data folder), outside the database. Back that \
folder up separately, and keep it as safe as the keys themselves; the fingerprints above name \
the keys this log knows.";

/// A backup's manifest, written as JSON beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub(crate) format: String,
    /// When the copy was taken (RFC 3339, UTC).
    pub(crate) created_at: String,
    /// The version of `wexqs` that took it.
    pub(crate) wexqs_version: String,
    /// `sqlite` (a SQLite database file) or `postgres` (a `pg_dump` custom-format archive).
    pub(crate) database: String,
    /// The copy's file name (the manifest sits beside it).
    pub(crate) file: String,
    pub(crate) bytes: u64,
    /// The SHA-256 of the copy's bytes, in hex.
    pub(crate) sha256: String,
    pub(crate) log: ManifestLog,
    /// The latest checkpoint the copy holds, if the log has one.
    pub(crate) latest_checkpoint: Option<ManifestCheckpoint>,
    /// Every key the log has published: its id (a fingerprint of the public key), public half
    /// and status.
    pub(crate) keys: Vec<ManifestKey>,
    /// Always false: the keys are backed up separately.
    pub(crate) keys_included: bool,
    pub(crate) keys_note: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ManifestLog {
    /// How many events the copy's log holds.
    pub(crate) size: u64,
    /// The root of its Merkle tree (RFC 9162), base64 as in a checkpoint.
    pub(crate) root: String,
    /// The chain hash of its last event, in hex (as `wexqs log verify` prints it).
    pub(crate) chain_hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ManifestCheckpoint {
    pub(crate) size: u64,
    pub(crate) root: String,
    pub(crate) signed_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ManifestKey {
    pub(crate) key_id: String,
    pub(crate) public_key_multibase: String,
    pub(crate) status: String,
}

/// Why a backup or a restore did not happen; nothing is left half-written by any of them.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BackupError {
    #[error("{0} already exists: a backup never overwrites a file; name another or move it away")]
    Exists(PathBuf),
    #[error("cannot {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "cannot run {tool} ({source}): it comes with PostgreSQL's client tools (Debian: postgresql-client)"
    )]
    ToolMissing {
        tool: &'static str,
        source: std::io::Error,
    },
    #[error("{tool} failed ({status}): {stderr}")]
    Tool {
        tool: &'static str,
        status: String,
        stderr: String,
    },
    #[error("the copy does not verify, so it was not kept: at position {position}, {what}")]
    CopyDiverges { position: u64, what: String },
    #[error("the manifest {path}: {what}")]
    Manifest { path: PathBuf, what: String },
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<crate::store::StoreError> for BackupError {
    fn from(e: crate::store::StoreError) -> Self {
        BackupError::Service(e.into())
    }
}

/// What a long step reports as it goes: a stage (with its length, 0 when unknown) and how far
/// it has got.
pub(crate) trait Progress {
    fn stage(&mut self, what: &str, length: u64);
    fn at(&mut self, done: u64);
}

/// Where the manifest of the copy `file` is: `FILE.manifest.json`.
pub(crate) fn manifest_path(file: &Path) -> PathBuf {
    with_suffix(file, ".manifest.json")
}

/// Takes a consistent copy of the database at `url` (`source` opened on it) into `to`, checks it,
/// and writes its manifest beside it.
pub(crate) async fn backup(
    source: &Maintenance,
    url: &str,
    to: &Path,
    progress: &mut dyn Progress,
) -> Result<Manifest, BackupError> {
    let manifest_file = manifest_path(to);
    for path in [to, manifest_file.as_path()] {
        if path.exists() {
            return Err(BackupError::Exists(path.to_owned()));
        }
    }
    let partial = Partial::create(with_suffix(to, &format!(".partial-{}", tag())))?;
    let (database, summary) = match source.store() {
        Store::Sqlite(store) => {
            progress.stage("copying the database (VACUUM INTO)", 0);
            store.copy_into(&partial.path).await?;
            crate::store::SqliteStore::to_wal(&partial.path).await?;
            let copy = Maintenance::new(Store::open(&sqlite_url(&partial.path)).await?);
            let summary = check_copy(&copy, progress).await;
            copy.close().await;
            crate::store::SqliteStore::settle(&partial.path).await?;
            remove_if_present(&crate::store::lock_path(&partial.path))?;
            ("sqlite", summary?)
        }
        Store::Postgres(_) => {
            progress.stage("copying the database (pg_dump)", 0);
            let target = PgTarget::parse(url)?;
            run_tool(
                "pg_dump",
                &target,
                &[
                    "--format=custom",
                    "--no-password",
                    &format!("--file={}", partial.path.display()),
                ],
            )?;
            (
                "postgres",
                check_archive(&target, &partial.path, progress).await?,
            )
        }
    };
    let (bytes, sha256) = hash_file(&partial.path, progress)?;
    let manifest = manifest_of(database, to, bytes, sha256, &summary);
    partial.keep_as(to)?;
    write_private(&manifest_file, &manifest_json(&manifest))?;
    Ok(manifest)
}

/// Puts the copy `from` (checked against its manifest) in place as the database at `url`.
/// Refused while another process has that database open, and, unless `replace`, when it
/// already holds a log. A SQLite database replaced is kept beside it as `FILE.replaced-TIME`.
pub(crate) async fn restore(
    from: &Path,
    url: &str,
    replace: bool,
    progress: &mut dyn Progress,
) -> Result<Manifest, BackupError> {
    let manifest = read_manifest(from)?;
    let (bytes, sha256) = hash_file(from, progress)?;
    if (bytes, sha256.as_str()) != (manifest.bytes, manifest.sha256.as_str()) {
        return Err(BackupError::Refused(format!(
            "{} is not the copy its manifest describes ({bytes} bytes, SHA-256 {sha256}; the manifest says {} bytes, {}): it was changed or cut short, so it is not restored",
            from.display(),
            manifest.bytes,
            manifest.sha256
        )));
    }
    let postgres = url.starts_with("postgres://") || url.starts_with("postgresql://");
    let kind = if postgres { "postgres" } else { "sqlite" };
    if manifest.database != kind {
        return Err(BackupError::Refused(format!(
            "{} is a {} backup and the database named is {kind}: a backup is restored into the kind of database it was taken from",
            from.display(),
            manifest.database
        )));
    }
    if postgres {
        restore_postgres(from, url, replace, &manifest, progress).await?;
    } else {
        restore_sqlite(from, url, replace, &manifest, progress).await?;
    }
    Ok(manifest)
}

async fn restore_sqlite(
    from: &Path,
    url: &str,
    replace: bool,
    manifest: &Manifest,
    progress: &mut dyn Progress,
) -> Result<(), BackupError> {
    let Some(target) = crate::store::sqlite_file(url)? else {
        return Err(BackupError::Refused(
            "a database in memory cannot be restored into".into(),
        ));
    };
    let io = |what: &'static str, path: &Path| {
        let path = path.to_owned();
        move |source| BackupError::Io { what, path, source }
    };
    if let Some(folder) = target.parent().filter(|f| !f.as_os_str().is_empty()) {
        create_private_dir(folder)?;
    }
    // Held until the copy is in place: no server or command opens the database meanwhile.
    let Some(_lock) = crate::store::lock_exclusively(&target).map_err(io("lock", &target))? else {
        return Err(BackupError::Refused(format!(
            "{} is open in another process (a server or a command): stop every process that uses it, then restore",
            target.display()
        )));
    };
    let present = target.metadata().is_ok_and(|m| m.len() > 0);
    if present && !replace {
        return Err(BackupError::Refused(format!(
            "{} already holds a database: restoring replaces it (it is kept beside it as {}.replaced-TIME); run again with --replace to do so",
            target.display(),
            target.display()
        )));
    }
    let partial = Partial::create(with_suffix(&target, &format!(".restoring-{}", tag())))?;
    {
        let mut input = std::fs::File::open(from).map_err(io("read", from))?;
        let mut output = partial.file()?;
        std::io::copy(&mut input, &mut output).map_err(io("write", &partial.path))?;
        output.sync_all().map_err(io("write", &partial.path))?;
    }
    crate::store::SqliteStore::to_wal(&partial.path).await?;
    let copy = Maintenance::new(Store::open(&sqlite_url(&partial.path)).await?);
    let summary = check_copy(&copy, progress).await;
    copy.close().await;
    crate::store::SqliteStore::settle(&partial.path).await?;
    remove_if_present(&crate::store::lock_path(&partial.path))?;
    same_log(manifest, &summary?)?;
    if present || with_suffix(&target, "-wal").exists() {
        // The database and its write-ahead log move aside together, so the old one stays whole.
        let aside = with_suffix(
            &target,
            &format!(".replaced-{}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ")),
        );
        for suffix in ["", "-wal", "-shm"] {
            let from = with_suffix(&target, suffix);
            if from.exists() {
                let to = with_suffix(&aside, suffix);
                std::fs::rename(&from, &to).map_err(io("move aside", &from))?;
            }
        }
    }
    partial.keep_as(&target)?;
    Ok(())
}

async fn restore_postgres(
    from: &Path,
    url: &str,
    replace: bool,
    manifest: &Manifest,
    progress: &mut dyn Progress,
) -> Result<(), BackupError> {
    let others = postgres_database::other_sessions(url).await?;
    if others > 0 {
        return Err(BackupError::Refused(format!(
            "{others} other sessions are connected to the database: stop every server and command that uses it (and close other clients), then restore"
        )));
    }
    if let Some(size) = postgres_database::log_size(url).await?
        && !replace
    {
        return Err(BackupError::Refused(format!(
            "the database already holds a registry (a log of {size} events): restoring replaces it; run again with --replace to do so"
        )));
    }
    let target = PgTarget::parse(url)?;
    progress.stage("restoring (pg_restore)", 0);
    pg_restore(&target, from)?;
    let restored = Maintenance::new(Store::open(url).await?);
    let summary = check_copy(&restored, progress).await;
    restored.close().await;
    same_log(manifest, &summary?)
}

/// Checks a copy as `wexqs log verify` checks a log, then reads what its manifest records.
async fn check_copy(
    copy: &Maintenance,
    progress: &mut dyn Progress,
) -> Result<LogSummary, BackupError> {
    let size = copy.size().await?;
    progress.stage("checking the copy's log", size);
    let report = copy.check_log(|p| progress.at(p + 1)).await?;
    if let Some((position, what)) = report.problem {
        return Err(BackupError::CopyDiverges { position, what });
    }
    progress.stage("reading the copy's tree and keys", size);
    Ok(copy.summary(|p| progress.at(p + 1)).await?)
}

/// Checks a `pg_dump` archive by restoring it into a scratch database on the same server,
/// dropped afterwards whatever happens.
async fn check_archive(
    source: &PgTarget,
    archive: &Path,
    progress: &mut dyn Progress,
) -> Result<LogSummary, BackupError> {
    let name = format!("wexqs_backup_check_{}", tag());
    postgres_database::create_database(&source.url, &name)
        .await
        .map_err(|e| {
            BackupError::Refused(format!(
                "a PostgreSQL backup is checked by restoring it into a scratch database, and it could not be made ({e}); the role needs CREATEDB"
            ))
        })?;
    let scratch = source.with_database(&name);
    let checked = async {
        progress.stage("checking the copy: restoring it into a scratch database", 0);
        pg_restore(&scratch, archive)?;
        let copy = Maintenance::new(Store::open(&scratch.url).await?);
        let summary = check_copy(&copy, progress).await;
        copy.close().await;
        summary
    }
    .await;
    postgres_database::drop_database(&source.url, &name).await?;
    checked
}

fn pg_restore(target: &PgTarget, archive: &Path) -> Result<(), BackupError> {
    run_tool(
        "pg_restore",
        target,
        &[
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            "--no-password",
            &archive.display().to_string(),
        ],
    )
}

/// Whether a restored copy holds the log its manifest describes.
fn same_log(manifest: &Manifest, summary: &LogSummary) -> Result<(), BackupError> {
    let root = base64(&summary.root);
    if summary.size != manifest.log.size || root != manifest.log.root {
        return Err(BackupError::Refused(format!(
            "the restored log holds {} events with root {root}, and the manifest says {} with root {}",
            summary.size, manifest.log.size, manifest.log.root
        )));
    }
    Ok(())
}

fn manifest_of(
    database: &str,
    file: &Path,
    bytes: u64,
    sha256: String,
    summary: &LogSummary,
) -> Manifest {
    Manifest {
        format: MANIFEST_FORMAT.to_owned(),
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        wexqs_version: env!("CARGO_PKG_VERSION").to_owned(),
        database: database.to_owned(),
        file: file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        bytes,
        sha256,
        log: ManifestLog {
            size: summary.size,
            root: base64(&summary.root),
            chain_hash: hex::encode(&summary.chain_hash),
        },
        latest_checkpoint: summary
            .latest_checkpoint
            .as_ref()
            .map(|c| ManifestCheckpoint {
                size: c.size,
                root: base64(&c.root),
                signed_at: c.signed_at.clone(),
            }),
        keys: summary
            .keys
            .iter()
            .map(|k| ManifestKey {
                key_id: k.key_id.clone(),
                public_key_multibase: k.public_key_multibase.clone(),
                status: k.status().to_owned(),
            })
            .collect(),
        keys_included: false,
        keys_note: KEYS_NOTE.to_owned(),
    }
}

fn manifest_json(manifest: &Manifest) -> Vec<u8> {
    let mut json =
        serde_json::to_vec_pretty(manifest).expect("a manifest of strings and numbers serialises");
    json.push(b'\n');
    json
}

fn read_manifest(file: &Path) -> Result<Manifest, BackupError> {
    let path = manifest_path(file);
    let fail = |what: String| BackupError::Manifest {
        path: path.clone(),
        what,
    };
    let text = std::fs::read(&path).map_err(|e| {
        fail(format!(
            "cannot be read ({e}); a backup is restored with the manifest 'wexqs backup' wrote beside it"
        ))
    })?;
    let manifest: Manifest =
        serde_json::from_slice(&text).map_err(|e| fail(format!("is not a manifest: {e}")))?;
    if manifest.format != MANIFEST_FORMAT {
        return Err(fail(format!(
            "has the format {:?}; this version reads {MANIFEST_FORMAT:?}",
            manifest.format
        )));
    }
    Ok(manifest)
}

/// The size and SHA-256 (hex) of `path`'s bytes.
fn hash_file(path: &Path, progress: &mut dyn Progress) -> Result<(u64, String), BackupError> {
    let io = |source| BackupError::Io {
        what: "read",
        path: path.to_owned(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let length = file.metadata().map_err(io)?.len();
    progress.stage("computing the copy's SHA-256", length);
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut done = 0u64;
    loop {
        let n = file.read(&mut buffer).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        done += n as u64;
        progress.at(done);
    }
    Ok((done, hex::encode(hasher.finalize())))
}

/// A file being written under a temporary name, readable by its owner alone: removed if it is
/// not kept.
struct Partial {
    path: PathBuf,
    kept: bool,
}

impl Partial {
    fn create(path: PathBuf) -> Result<Partial, BackupError> {
        use std::os::unix::fs::OpenOptionsExt as _;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|source| BackupError::Io {
                what: "create",
                path: path.clone(),
                source,
            })?;
        Ok(Partial { path, kept: false })
    }

    fn file(&self) -> Result<std::fs::File, BackupError> {
        std::fs::OpenOptions::new()
            .write(true)
            .open(&self.path)
            .map_err(|source| BackupError::Io {
                what: "write",
                path: self.path.clone(),
                source,
            })
    }

    /// Flushed to disk and renamed to `to` (the folder flushed too).
    fn keep_as(mut self, to: &Path) -> Result<(), BackupError> {
        let io = |what: &'static str, path: &Path| {
            let path = path.to_owned();
            move |source| BackupError::Io { what, path, source }
        };
        self.file()?.sync_all().map_err(io("write", &self.path))?;
        std::fs::rename(&self.path, to).map_err(io("rename into place", to))?;
        self.kept = true;
        sync_folder_of(to)
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.kept {
            let _ = std::fs::remove_file(&self.path);
            let _ = std::fs::remove_file(crate::store::lock_path(&self.path));
        }
    }
}

/// Writes `bytes` to `path` (which must not exist) readable by its owner alone, whole or not at
/// all.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), BackupError> {
    let partial = Partial::create(with_suffix(path, &format!(".partial-{}", tag())))?;
    partial
        .file()?
        .write_all(bytes)
        .map_err(|source| BackupError::Io {
            what: "write",
            path: partial.path.clone(),
            source,
        })?;
    partial.keep_as(path)
}

/// Creates `folder` (and its parents) readable by its owner alone, if it is missing.
pub(crate) fn create_private_dir(folder: &Path) -> Result<(), BackupError> {
    use std::os::unix::fs::DirBuilderExt as _;
    if folder.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(folder)
        .map_err(|source| BackupError::Io {
            what: "create the folder",
            path: folder.to_owned(),
            source,
        })
}

fn sync_folder_of(path: &Path) -> Result<(), BackupError> {
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::File::open(folder)
        .and_then(|f| f.sync_all())
        .map_err(|source| BackupError::Io {
            what: "flush the folder",
            path: folder.to_owned(),
            source,
        })
}

fn remove_if_present(path: &Path) -> Result<(), BackupError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(BackupError::Io {
            what: "remove",
            path: path.to_owned(),
            source: e,
        }),
        _ => Ok(()),
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// Eight random hex digits, for temporary names.
fn tag() -> String {
    let mut bytes = [0u8; 4];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    hex::encode(bytes)
}

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A PostgreSQL database, told to PostgreSQL's own tools by its URL without the password and
/// the TLS settings, which go to them in their environment instead (`PGPASSWORD`, `PGSSLMODE`,
/// `PGSSLROOTCERT`, `PGSSLCERT`, `PGSSLKEY`), so no password is ever on a command line and the
/// tools connect as securely as the registry does. What is not in the URL (`PGPASSWORD`,
/// `PGPASSFILE`, `PGSSLMODE` of the registry's own environment) they inherit.
struct PgTarget {
    url: String,
    password: Option<String>,
    /// The TLS parameters taken out of the URL, as libpq's environment variables.
    tls: Vec<(&'static str, String)>,
}

/// The URL parameters (under sqlx's names too) that go to libpq's tools in the environment.
fn tls_variable(parameter: &str) -> Option<&'static str> {
    match parameter {
        "sslmode" | "ssl-mode" => Some("PGSSLMODE"),
        "sslrootcert" | "ssl-root-cert" | "ssl-ca" => Some("PGSSLROOTCERT"),
        "sslcert" | "ssl-cert" => Some("PGSSLCERT"),
        "sslkey" | "ssl-key" => Some("PGSSLKEY"),
        _ => None,
    }
}

impl PgTarget {
    fn parse(url: &str) -> Result<PgTarget, BackupError> {
        let parsed = url::Url::parse(url)
            .map_err(|e| BackupError::Refused(format!("the database URL cannot be read: {e}")))?;
        let mut password = parsed.password().map(percent_decode);
        let mut tls = Vec::new();
        for (key, value) in parsed.query_pairs() {
            if key == "password" {
                password = Some(value.into_owned());
            } else if let Some(variable) = tls_variable(&key) {
                tls.push((variable, value.into_owned()));
            }
        }
        Ok(PgTarget {
            url: url.to_owned(),
            password,
            tls,
        })
    }

    /// The same server and role, another database.
    fn with_database(&self, name: &str) -> PgTarget {
        let mut url = url::Url::parse(&self.url).expect("a URL that parsed once parses again");
        url.set_path(&format!("/{name}"));
        PgTarget {
            url: url.to_string(),
            password: self.password.clone(),
            tls: self.tls.clone(),
        }
    }

    /// The URL without its password and TLS parameters.
    fn bare(&self) -> String {
        let mut url = url::Url::parse(&self.url).expect("a URL that parsed once parses again");
        let _ = url.set_password(None);
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| k != "password" && tls_variable(k).is_none())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if kept.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(kept);
        }
        url.to_string()
    }
}

fn percent_decode(text: &str) -> String {
    form_urlencoded::parse(format!("p={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Runs PostgreSQL's `tool` on `target` with `args`: its error output is the error.
fn run_tool(tool: &'static str, target: &PgTarget, args: &[&str]) -> Result<(), BackupError> {
    let mut command = std::process::Command::new(tool);
    command
        .args(args)
        .arg(format!("--dbname={}", target.bare()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(password) = &target.password {
        command.env("PGPASSWORD", password);
    }
    for (variable, value) in &target.tls {
        command.env(variable, value);
    }
    let output = command
        .output()
        .map_err(|source| BackupError::ToolMissing { tool, source })?;
    if output.status.success() {
        return Ok(());
    }
    Err(BackupError::Tool {
        tool,
        status: output.status.to_string(),
        stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
    })
}
