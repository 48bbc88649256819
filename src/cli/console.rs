//! `wexqs serve`'s console options: the OpenID Provider the programme team signs in with, this
//! registry's client registration there, and how long sessions last. With no issuer the console
//! is off and `/console` says so.

use std::time::Duration;

use anyhow::Context as _;

use crate::http::console::Console;
use crate::service::sessions::SessionPolicy;
use crate::service::sign_in::{OidcSettings, SignIn};

/// `wexqs serve`'s console options (OPERATIONS.md, "The console").
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ConsoleArgs {
    /// The OpenID Provider's issuer URL (its discovery document is ISSUER/.well-known/
    /// openid-configuration); switches the console on. Register the redirect URI
    /// PUBLIC_URL/console/auth/callback there.
    #[arg(long, env = "WEXQS_OIDC_ISSUER", help_heading = "Console")]
    oidc_issuer: Option<String>,
    /// This registry's client id at the provider.
    #[arg(long, env = "WEXQS_OIDC_CLIENT_ID", help_heading = "Console")]
    oidc_client_id: Option<String>,
    /// A file holding the client secret (its first line), readable only by the service.
    #[arg(long, env = "WEXQS_OIDC_CLIENT_SECRET_FILE", help_heading = "Console")]
    oidc_client_secret_file: Option<std::path::PathBuf>,
    /// Minutes without a request after which a console session ends.
    #[arg(
        long,
        env = "WEXQS_CONSOLE_IDLE_MINUTES",
        default_value_t = 30,
        help_heading = "Console"
    )]
    console_idle_minutes: u64,
    /// Hours after sign-in after which a console session ends, however busy.
    #[arg(
        long,
        env = "WEXQS_CONSOLE_MAX_HOURS",
        default_value_t = 10,
        help_heading = "Console"
    )]
    console_max_hours: u64,
    /// Sign-ins each client address may begin or finish a minute.
    #[arg(
        long,
        env = "WEXQS_CONSOLE_SIGN_INS_PER_MINUTE",
        default_value_t = 10,
        help_heading = "Console"
    )]
    console_sign_ins_per_minute: u32,
}

impl ConsoleArgs {
    /// The console, if an issuer is configured; its redirect URI is under `public_url`, the
    /// registry's recorded address.
    pub(crate) fn console(&self, public_url: &str) -> anyhow::Result<Option<Console>> {
        let Some(issuer) = self.oidc_issuer.as_deref().map(str::trim) else {
            return Ok(None);
        };
        let client_id = self
            .oidc_client_id
            .clone()
            .context("--oidc-issuer needs --oidc-client-id (WEXQS_OIDC_CLIENT_ID): this registry's client id at the provider")?;
        let file = self.oidc_client_secret_file.as_ref().context(
            "--oidc-issuer needs --oidc-client-secret-file (WEXQS_OIDC_CLIENT_SECRET_FILE): a file holding the client secret",
        )?;
        let secret = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read the client secret file {}", file.display()))?;
        let secret = secret.lines().next().unwrap_or_default().trim().to_owned();
        if secret.is_empty() {
            anyhow::bail!("the client secret file {} is empty", file.display());
        }
        if self.console_idle_minutes == 0 || self.console_max_hours == 0 {
            anyhow::bail!("a console session lasts at least a minute idle and an hour in all");
        }
        let sign_in = SignIn::new(
            OidcSettings {
                issuer: issuer.to_owned(),
                client_id,
                client_secret: secret,
            },
            public_url,
        )
        .map_err(anyhow::Error::msg)?;
        tracing::info!(
            issuer,
            redirect_uri = sign_in.redirect_uri(),
            "the console signs people in at its identity provider"
        );
        let policy = SessionPolicy {
            idle: Duration::from_secs(self.console_idle_minutes.saturating_mul(60)),
            absolute: Duration::from_secs(self.console_max_hours.saturating_mul(3600)),
        };
        Ok(Some(Console::new(
            sign_in,
            policy,
            self.console_sign_ins_per_minute,
        )))
    }
}
