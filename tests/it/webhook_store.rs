//! The webhook tables' contract, run on SQLite and PostgreSQL: a subscription is made, changed
//! and removed only with the event that records it (all or nothing); a lease is held by one
//! instance until it runs out; the cursor moves only by the holder and only from where it was;
//! a backoff and a disabled subscription keep it from being claimed; the history keeps the
//! latest attempts and no more.

use wexqs::domain::Event;
use wexqs::store::webhooks::{DeliveryRow, Failure, WebhookRow};
use wexqs::store::{AppendRequest, EventStore, NewEvent, Store, StoreError, Write};

use crate::helpers::on_both_databases;

const ID: &str = "wh_contract";

/// Appends `event` with `write`: the append's error, if any.
async fn append(store: &Store, event: Event, write: Write) -> Result<(), StoreError> {
    let request = AppendRequest {
        events: vec![NewEvent::new(
            event,
            uuid::Uuid::new_v4(),
            "2026-11-24T12:00:00Z".into(),
            "token:admin".into(),
        )],
        writes: vec![write],
        ..AppendRequest::default()
    };
    match store.append_batch(vec![request]).await {
        Err(e) => Err(e),
        Ok(mut results) => results.pop().expect("one result").map(|_| ()),
    }
}

fn subscription() -> WebhookRow {
    WebhookRow {
        id: ID.into(),
        url: "https://receiver.example/hook".into(),
        event_types: r#"["award.issued"]"#.into(),
        sealed_secret: b"sealed one".to_vec(),
        created_at: "2026-11-24T12:00:00Z".into(),
        created_by: "token:admin".into(),
        status: "active".into(),
        disabled_reason: None,
        next_position: 0,
        failures: 0,
        next_attempt_at: 0,
        sealed_previous_secret: None,
        previous_secret_until: 0,
    }
}

fn attempt(n: u32) -> DeliveryRow {
    DeliveryRow {
        subscription_id: ID.into(),
        position: 0,
        message_id: format!("msg_0_{ID}"),
        event_type: "award.issued".into(),
        attempted_at: "2026-11-24T12:00:00Z".into(),
        attempt: n,
        status_code: Some(500),
        cause: Some("status".into()),
        error: Some("the receiver answered 500".into()),
        delivered: false,
        duration_ms: 3,
    }
}

async fn claimed(store: &Store, owner: &str, now: i64, log_size: u64) -> Vec<String> {
    store
        .claim_webhooks(owner, now, now + 1_000, log_size)
        .await
        .expect("claimed")
        .into_iter()
        .map(|w| w.id)
        .collect()
}

/// One holder at a time, until the lease runs out; the cursor moves only from where it is.
async fn one_holder_at_a_time_until_the_lease_runs_out(store: &Store, log: u64) {
    assert_eq!(claimed(store, "one", 1_000, log).await, [ID]);
    assert!(claimed(store, "two", 1_500, log).await.is_empty(), "held");
    assert!(!store.advance_webhook(ID, "two", 0, 3, 2_000).await.unwrap());
    assert!(store.advance_webhook(ID, "one", 0, 3, 2_000).await.unwrap());
    assert!(
        !store.advance_webhook(ID, "one", 0, 4, 2_000).await.unwrap(),
        "only from where the cursor is"
    );
    assert_eq!(store.webhook(ID).await.unwrap().unwrap().next_position, 3);
}

/// A failure gives the lease back and waits out its backoff.
async fn a_failure_gives_the_lease_back_and_backs_off(store: &Store, log: u64) {
    let failure = Failure {
        failures: 1,
        next_attempt_at: 5_000,
        disable: None,
    };
    assert!(!store.fail_webhook(ID, "two", 3, &failure).await.unwrap());
    assert!(store.fail_webhook(ID, "one", 3, &failure).await.unwrap());
    assert!(
        claimed(store, "two", 3_000, log).await.is_empty(),
        "backing off"
    );
    assert_eq!(claimed(store, "two", 5_000, log).await, [ID]);
    store.release_webhook(ID, "two").await.unwrap();
}

/// Disabled: never claimed, until a replay (with its event) enables it again.
async fn disabled_until_a_replay_enables_it_again(store: &Store, log: u64) {
    let disabling = Failure {
        failures: 2,
        next_attempt_at: 6_000,
        disable: Some("disabled after 2 failed deliveries".into()),
    };
    assert_eq!(claimed(store, "one", 5_500, log).await, [ID]);
    assert!(store.fail_webhook(ID, "one", 3, &disabling).await.unwrap());
    let row = store.webhook(ID).await.unwrap().unwrap();
    assert_eq!((row.status.as_str(), row.failures), ("disabled", 2));
    assert!(claimed(store, "one", 1_000_000, log).await.is_empty());
    let replayed = Event::WebhookReplayed {
        webhook_id: ID.into(),
        from_position: 1,
    };
    let replay = Write::WebhookReplay {
        id: ID.into(),
        from: 1,
    };
    append(store, replayed, replay).await.expect("replayed");
    let row = store.webhook(ID).await.unwrap().unwrap();
    assert_eq!(
        (
            row.status.as_str(),
            row.failures,
            row.next_position,
            row.disabled_reason
        ),
        ("active", 0, 1, None)
    );
    assert!(
        claimed(store, "one", 1_000_000, 1).await.is_empty(),
        "nothing owed at the end of the log"
    );
    assert_eq!(claimed(store, "one", 1_000_000, 2).await, [ID]);
}

/// The history keeps the latest attempts, each read back whole.
async fn the_history_keeps_the_latest_attempts(store: &Store) {
    for n in 1..=5 {
        store.record_delivery(&attempt(n), 3).await.unwrap();
    }
    let kept: Vec<u32> = store
        .webhook_deliveries(ID, 100)
        .await
        .unwrap()
        .iter()
        .map(|d| d.attempt)
        .collect();
    assert_eq!(kept, [5, 4, 3]);
    // An attempt reads back whole, its cause included.
    let newest = store.webhook_deliveries(ID, 1).await.unwrap();
    assert_eq!(newest, [attempt(5)]);
}

/// A rotation keeps the secret before it beside the new one.
async fn a_rotation_keeps_the_previous_secret(store: &Store) {
    let rotated = Event::WebhookSecretRotated {
        webhook_id: ID.into(),
        previous_valid_until: "2026-11-25T12:00:00Z".into(),
    };
    let secret = Write::WebhookSecret {
        id: ID.into(),
        sealed_secret: b"sealed two".to_vec(),
        previous_until: 9_000,
    };
    append(store, rotated, secret).await.expect("rotated");
    let row = store.webhook(ID).await.unwrap().unwrap();
    assert_eq!(row.sealed_secret, b"sealed two");
    assert_eq!(
        row.sealed_previous_secret.as_deref(),
        Some(b"sealed one".as_slice())
    );
    assert_eq!(row.previous_secret_until, 9_000);
}

/// Deleted with its history; a change to what is gone appends nothing.
async fn deleted_with_its_history(store: &Store) {
    let deleted = || Event::WebhookDeleted {
        webhook_id: ID.into(),
    };
    let delete = || Write::WebhookDeleted { id: ID.into() };
    append(store, deleted(), delete()).await.expect("deleted");
    assert_eq!(store.webhook(ID).await.unwrap(), None);
    assert!(store.webhook_deliveries(ID, 100).await.unwrap().is_empty());
    // A delivery that was in flight when it went leaves no row behind.
    store.record_delivery(&attempt(6), 3).await.unwrap();
    assert!(store.webhook_deliveries(ID, 100).await.unwrap().is_empty());
    let size = store.head().await.unwrap().size;
    let again = append(store, deleted(), delete()).await;
    assert!(
        matches!(again, Err(StoreError::Conflict { .. })),
        "{again:?}"
    );
    assert_eq!(store.head().await.unwrap().size, size, "all or nothing");
}

async fn webhook_rows_keep_their_leases_cursors_backoffs_and_history(store: Store) {
    let subscribed = Event::WebhookSubscribed {
        webhook_id: ID.into(),
        target: "https://receiver.example".into(),
        event_types: vec!["award.issued".into()],
    };
    append(&store, subscribed, Write::WebhookCreated(subscription()))
        .await
        .expect("made");
    assert_eq!(store.webhook(ID).await.unwrap(), Some(subscription()));
    let log = 5;

    one_holder_at_a_time_until_the_lease_runs_out(&store, log).await;
    a_failure_gives_the_lease_back_and_backs_off(&store, log).await;
    disabled_until_a_replay_enables_it_again(&store, log).await;
    the_history_keeps_the_latest_attempts(&store).await;
    a_rotation_keeps_the_previous_secret(&store).await;
    deleted_with_its_history(&store).await;
}

on_both_databases! {
    store:
    webhook_rows_keep_their_leases_cursors_backoffs_and_history,
}
