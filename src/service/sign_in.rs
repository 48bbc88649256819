//! Signing in to the console with OpenID Connect: the registry is a confidential relying party
//! of one provider, using the authorization code flow with PKCE (S256), `state` and `nonce`.
//! `begin` keeps the sign-in (its `state` by hash, its nonce and PKCE verifier) and gives the
//! provider's address to send the browser to; `finish` takes the sign-in back once, checks the
//! `iss` the provider answered with (RFC 9207), exchanges the code, verifies the ID token (its
//! signature by the provider's published keys, `iss`, `aud`, expiry and the nonce) and opens a
//! session for the person if they are on the staff list.
//!
//! Invariants: the redirect URI is built from the registry's recorded public address, never a
//! request's `Host`; the client that talks to the provider follows no redirects and gives up
//! after `PROVIDER_TIMEOUT`; no secret (the client secret, a code, a token) reaches a message.

use std::time::Duration;

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse as _,
};

use super::tokens::hash_secret;
use super::{Registry, ServiceError};
use crate::error_codes::ErrorCode;
use crate::store::SignInRow;

/// How long a person has at the provider before the sign-in they began is forgotten.
pub(crate) const SIGN_IN_WINDOW_MS: i64 = 10 * 60 * 1000;

/// How long the registry waits for the provider (discovery, keys, the code's exchange).
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

/// The path of the console's callback under the public URL.
pub(crate) const CALLBACK_PATH: &str = "/console/auth/callback";

/// The provider and this registry's registration with it.
#[derive(Clone)]
pub struct OidcSettings {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
}

impl std::fmt::Debug for OidcSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcSettings")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// The relying party: the settings, the redirect URI and the HTTP client for the provider.
#[derive(Debug, Clone)]
pub struct SignIn {
    settings: OidcSettings,
    issuer: IssuerUrl,
    redirect: RedirectUrl,
    http: reqwest::Client,
}

/// How a finished sign-in ended.
#[derive(Debug)]
pub(crate) enum SignedIn {
    /// A session was opened: its id (for the cookie) and where to go.
    Session { id: String, return_to: String },
    /// The provider vouched for someone who is not on the staff list.
    NotListed {
        subject: String,
        name: Option<String>,
    },
}

impl SignIn {
    /// The relying party for `settings`, its redirect URI under `public_url` (the registry's
    /// recorded address).
    pub fn new(settings: OidcSettings, public_url: &str) -> Result<SignIn, String> {
        let issuer = IssuerUrl::new(settings.issuer.clone())
            .map_err(|e| format!("the OpenID issuer {:?} is not a URL: {e}", settings.issuer))?;
        let callback = format!("{}{CALLBACK_PATH}", public_url.trim_end_matches('/'));
        let redirect = RedirectUrl::new(callback.clone())
            .map_err(|e| format!("the console's redirect URI {callback:?} is not a URL: {e}"))?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(PROVIDER_TIMEOUT)
            .connect_timeout(PROVIDER_TIMEOUT)
            .build()
            .map_err(|e| format!("the HTTP client for the identity provider: {e}"))?;
        Ok(SignIn {
            settings,
            issuer,
            redirect,
            http,
        })
    }

    /// The issuer people on the staff list are identified at by default.
    pub fn issuer(&self) -> &str {
        &self.settings.issuer
    }

    /// The redirect URI registered at the provider.
    pub fn redirect_uri(&self) -> &str {
        self.redirect.as_str()
    }

    async fn client(&self) -> Result<ProviderClient, ServiceError> {
        let metadata = CoreProviderMetadata::discover_async(self.issuer.clone(), &self.http)
            .await
            .map_err(|e| provider_unavailable(&format!("its discovery document: {e}")))?;
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.settings.client_id.clone()),
            Some(ClientSecret::new(self.settings.client_secret.clone())),
        )
        .set_redirect_uri(self.redirect.clone());
        Ok(ProviderClient { client })
    }

    /// Begins a sign-in that will return to `return_to` (a console path): where to send the
    /// browser.
    pub(crate) async fn begin(
        &self,
        registry: &Registry,
        return_to: &str,
    ) -> Result<String, ServiceError> {
        let provider = self.client().await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = provider
            .client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge)
            .url();
        registry
            .log
            .store
            .begin_sign_in(&SignInRow {
                state_hash: hash_secret(state.secret()),
                nonce: nonce.secret().clone(),
                pkce_verifier: verifier.secret().clone(),
                return_to: return_to.to_owned(),
                created_at: registry.now().timestamp_millis(),
            })
            .await?;
        Ok(url.to_string())
    }

    /// Finishes the sign-in `state` names with the provider's `code` (and its `iss`), opening a
    /// session if the person is on the staff list.
    pub(crate) async fn finish(
        &self,
        registry: &Registry,
        code: &str,
        state: &str,
        iss: Option<&str>,
    ) -> Result<SignedIn, ServiceError> {
        let pending = registry
            .log
            .store
            .take_sign_in(&hash_secret(state))
            .await?
            .ok_or_else(|| refused("the sign-in is unknown or was already used; start again"))?;
        if registry.now().timestamp_millis() - pending.created_at > SIGN_IN_WINDOW_MS {
            return Err(refused(
                "the sign-in took longer than ten minutes; start again",
            ));
        }
        let provider = self.client().await?;
        // RFC 9207: an answer that says which provider it is from must name ours. (With one
        // provider there is no mix-up to fear from an answer that does not say; its ID token's
        // `iss` is checked below either way.)
        if iss.is_some_and(|iss| iss != self.issuer.as_str()) {
            return Err(refused(
                "the answer names another identity provider than the one the sign-in began at",
            ));
        }
        let exchange = provider
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| provider_unavailable(&format!("it has no token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier));
        let tokens = exchange
            .request_async(&self.http)
            .await
            .map_err(|e| refused(&format!("the identity provider refused the code: {e}")))?;
        let id_token = tokens
            .id_token()
            .ok_or_else(|| refused("the identity provider sent no ID token"))?;
        let claims = id_token
            .claims(
                &provider.client.id_token_verifier(),
                &Nonce::new(pending.nonce),
            )
            .map_err(|e| refused(&format!("the ID token does not hold: {e}")))?;
        let subject = claims.subject().as_str();
        match registry.staff_by_identity(&self.settings.issuer, subject) {
            Some(member) => Ok(SignedIn::Session {
                id: registry.open_session(&member).await?,
                return_to: pending.return_to,
            }),
            None => Ok(SignedIn::NotListed {
                subject: subject.to_owned(),
                name: claims
                    .name()
                    .and_then(|n| n.get(None))
                    .map(|n| n.as_str().to_owned()),
            }),
        }
    }
}

/// The provider's client, as discovered.
struct ProviderClient {
    client: CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    >,
}

fn refused(message: &str) -> ServiceError {
    ServiceError::Invalid {
        code: ErrorCode::SignInRefused,
        message: format!("sign-in refused: {message}"),
    }
}

fn provider_unavailable(what: &str) -> ServiceError {
    ServiceError::Invalid {
        code: ErrorCode::IdentityProviderUnavailable,
        message: format!("the identity provider could not be used: {what}"),
    }
}
