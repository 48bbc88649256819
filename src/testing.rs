//! Doors into the registry's insides for the integration tests and the benches, behind the
//! `testing` feature (which only the package's own dev-dependency on itself turns on, so no
//! build of the binary has them): the raw store under a registry, and an append that skips the
//! domain's decisions, for the tests that check what is stored and the benches that fill it;
//! and a console session opened without an identity provider, for the console's page tests.

use crate::service::{Registry, ServiceError};
use crate::store::{AppendRequest, Appended, Store};

/// The store `registry` writes to, for reading or tampering with what it holds.
pub fn store(registry: &Registry) -> &Store {
    registry.store()
}

/// Appends `request` as it is, through the registry's one writer, without deciding it.
pub async fn append(registry: &Registry, request: AppendRequest) -> Result<Appended, ServiceError> {
    registry.append(request).await
}

/// Opens a console session for `member` as a sign-in would, without an identity provider: the
/// value of the session cookie.
pub async fn console_session(
    registry: &Registry,
    member: &crate::domain::staff::StaffMember,
) -> String {
    registry
        .open_session(member)
        .await
        .expect("a test session opens")
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
