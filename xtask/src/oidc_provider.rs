//! `cargo xtask oidc-provider`: a real OpenID Provider on 127.0.0.1 for trying the console's
//! sign-in by hand: the one the tests use (tests/oidc/provider.mjs, panva's oidc-provider, pinned
//! npm package), with one confidential client whose secret is kept in a file under the target
//! folder (made once, random, reused by later runs so a running console keeps working). Any
//! login name signs in as that subject. Runs in the foreground until Ctrl-C.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::json;
use crate::shell::{Result, apt_install, found, say, shown, target_dir};
use crate::test::npm_ci;

pub const HELP: &str = "\
cargo xtask oidc-provider [--port N] [--redirect-uri URI]... [--client-id ID]: a test OpenID
Provider on 127.0.0.1 for trying the console's sign-in locally (any login name signs in as
that subject; never for production). Runs until Ctrl-C.

    --port N            where it listens (default 9400); its issuer is http://127.0.0.1:N
    --redirect-uri URI  the console's callback, repeatable
                        (default http://127.0.0.1:8080/console/auth/callback)
    --client-id ID      the client's id (default wexqs-console)

The client secret is kept in target/console-demo/client-secret (made on the first run).";

const FOLDER: &str = "tests/oidc";
const DEFAULT_PORT: u16 = 9400;
const DEFAULT_REDIRECT_URI: &str = "http://127.0.0.1:8080/console/auth/callback";
const DEFAULT_CLIENT_ID: &str = "wexqs-console";

struct Options {
    port: u16,
    redirect_uris: Vec<String>,
    client_id: String,
}

fn options(args: &[String]) -> Result<Options> {
    let mut options = Options {
        port: DEFAULT_PORT,
        redirect_uris: Vec::new(),
        client_id: DEFAULT_CLIENT_ID.to_owned(),
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let value = args
            .next()
            .cloned()
            .ok_or_else(|| format!("{arg} needs a value (see `cargo xtask oidc-provider --help`)"));
        match arg.as_str() {
            "--port" => {
                let port = value?;
                options.port = port
                    .parse()
                    .ok()
                    .filter(|port| *port > 0)
                    .ok_or_else(|| format!("--port takes a port number, not {port:?}"))?;
            }
            "--redirect-uri" => options.redirect_uris.push(value?),
            "--client-id" => options.client_id = value?,
            other => {
                return Err(format!(
                    "oidc-provider takes no {other:?} (see `cargo xtask oidc-provider --help`)"
                ));
            }
        }
    }
    if options.redirect_uris.is_empty() {
        options.redirect_uris.push(DEFAULT_REDIRECT_URI.to_owned());
    }
    Ok(options)
}

pub fn main(args: &[String]) -> Result {
    let options = options(args)?;
    if !(found("node") && found("npm")) {
        apt_install(&["nodejs", "npm"])?;
    }
    npm_ci(Path::new(FOLDER))?;
    let secret_file = client_secret_file()?;
    let secret = std::fs::read_to_string(&secret_file)
        .map_err(|e| format!("reading {}: {e}", secret_file.display()))?;

    let mut provider = Command::new("node");
    provider
        .arg(Path::new(FOLDER).join("provider.mjs"))
        .args(["--port", &options.port.to_string()])
        .args(["--client-id", &options.client_id]);
    for uri in &options.redirect_uris {
        provider.args(["--redirect-uri", uri]);
    }
    // The secret through the environment, not the command line, where `ps` would show it.
    provider
        .env("OIDC_CLIENT_SECRET", secret.trim())
        .stdout(Stdio::piped());
    say(shown(&provider));
    let mut child = provider
        .spawn()
        .map_err(|e| format!("`{}` could not start: {e}", shown(&provider)))?;
    // Kept open until the provider ends, so it never writes to a closed pipe.
    let mut stdout = child.stdout.take().map(BufReader::new);
    let mut first_line = String::new();
    if let Some(stdout) = stdout.as_mut() {
        let _ = stdout.read_line(&mut first_line);
    }
    let Some(issuer) = json::string_at(&first_line, "issuer") else {
        let status = child.wait().map_err(|e| e.to_string())?;
        return Err(format!(
            "the provider did not start ({status}; its words above)"
        ));
    };
    println!(
        "\nA test OpenID Provider is listening (Ctrl-C stops it).

    issuer              {issuer}
    client id           {client_id}
    client secret file  {secret_file}
    redirect URIs       {uris}

Any login name signs in (any password): the login becomes the subject (`sub`), with a name and
an email made from it (alice.smith: \"Alice Smith\", alice.smith@example.nhs.uk). In another
terminal, put someone on the staff list and start the registry with its console:

    cargo run --release -- staff add --issuer {issuer} --subject alice \\
      --name \"Alice Admin\" --email alice@example.nhs.uk --role admin
    cargo run --release -- serve --demo --oidc-issuer {issuer} \\
      --oidc-client-id {client_id} --oidc-client-secret-file {secret_file}

then open http://127.0.0.1:8080/console and sign in as alice.",
        client_id = options.client_id,
        secret_file = secret_file.display(),
        uris = options.redirect_uris.join(" "),
    );
    let status = child
        .wait()
        .map_err(|e| format!("waiting for the provider: {e}"))?;
    drop(stdout);
    if status.success() {
        Ok(())
    } else {
        Err(format!("the provider stopped ({status})"))
    }
}

/// target/console-demo/client-secret: 32 random bytes as hex, readable by its owner alone, made
/// when missing and kept otherwise.
fn client_secret_file() -> Result<PathBuf> {
    let dir = target_dir().join("console-demo");
    std::fs::create_dir_all(&dir).map_err(|e| format!("making {}: {e}", dir.display()))?;
    let path = dir.join("client-secret");
    if path.is_file() {
        return Ok(path);
    }
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut random| random.read_exact(&mut bytes))
        .map_err(|e| format!("reading /dev/urandom: {e}"))?;
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .and_then(|mut file| file.write_all(hex.as_bytes()))
        .map_err(|e| format!("writing {}: {e}", path.display()))?;
    Ok(path)
}
