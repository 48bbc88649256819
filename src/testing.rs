//! Doors into the registry's insides for the integration tests and the benches, behind the
//! `testing` feature (which only the package's own dev-dependency on itself turns on, so no
//! build of the binary has them): the raw store under a registry, how many catch-ups it has
//! begun, and an append that skips the domain's decisions, for the tests that check what is
//! stored and the benches that fill it; a console session opened without an identity provider, the console switched on, and
//! webhooks that can be made (a test sealing key, private targets allowed).

use crate::service::{Registry, ServiceError};
use crate::store::{AppendRequest, Appended, Store};

/// The store `registry` writes to, for reading or tampering with what it holds.
pub fn store(registry: &Registry) -> &Store {
    registry.store()
}

/// How many catch-ups (reads of the log from the database into memory) `registry` has begun.
pub fn catch_ups_begun(registry: &Registry) -> u64 {
    registry.catch_ups_begun()
}

/// The log as a registry holds it in memory (`memory`): two registries that have folded the
/// same log hold the same.
#[derive(Debug, PartialEq)]
pub struct Memory {
    pub state: crate::domain::State,
    /// Each stream's version, by name.
    pub versions: Vec<(String, i64)>,
    pub chain: Vec<u8>,
    /// The root of the tree over every entry's leaf hash.
    pub root: Option<[u8; 32]>,
    /// When each entry was recorded (unix seconds).
    pub recorded_at: Vec<i64>,
    /// Where the log stopped following from its entries, if it did.
    pub broken: Option<String>,
}

/// The log as `registry` holds it in memory.
pub fn memory(registry: &Registry) -> Memory {
    registry.memory()
}

/// Appends `request` as it is, through the registry's one writer, without deciding it.
pub async fn append(registry: &Registry, request: AppendRequest) -> Result<Appended, ServiceError> {
    registry.append(request).await
}

/// A session for `member`, as signing in would open it: the value of the console's cookie.
pub async fn console_session(
    registry: &Registry,
    member: &crate::domain::staff::StaffMember,
) -> String {
    registry
        .open_session(member)
        .await
        .expect("the test's database takes a session")
}

/// The console switched on for a registry served at `public_url`, signing in at an identity
/// provider that is never contacted unless someone signs in.
pub fn console(public_url: &str) -> crate::http::console::Console {
    let settings = crate::service::sign_in::OidcSettings {
        issuer: "https://id.example.test".to_owned(),
        client_id: "wexqs-console".to_owned(),
        client_secret: "not a secret".to_owned(),
    };
    crate::http::console::Console::new(
        crate::service::sign_in::SignIn::new(settings, public_url)
            .expect("the test's issuer and public URL are URLs"),
        crate::service::sessions::SessionPolicy::default(),
        10,
    )
}

/// `state` able to make webhook subscriptions: their secrets sealed with `sealing`, and targets
/// on private addresses (the tests' own receivers) allowed.
pub fn with_test_webhooks(
    state: crate::http::AppState,
    sealing: crate::credentials::sealing::SealingKey,
) -> crate::http::AppState {
    state.with_webhooks(crate::service::webhooks::WebhookSettings {
        allow_private_targets: true,
        sealing: Some(std::sync::Arc::new(sealing)),
        ..Default::default()
    })
}
