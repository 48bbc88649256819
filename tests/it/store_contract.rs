//! The event store's contract, one suite run against SQLite and against PostgreSQL.

use std::collections::BTreeSet;

use wexqs::domain::{Event, OrganisationId, OrganisationKind, Region};
use wexqs::store::{
    AppendRequest, AwardRow, EventStore, IdempotencyRecord, NewEvent, OrganisationRow,
    RegisterQuery, Store, StoreError, Write, check_log,
};

use crate::helpers::on_both_databases;

fn token_event(stream: &str) -> NewEvent {
    NewEvent::new(
        Event::ApiTokenRevoked {
            token_id: stream.to_owned(),
        },
        uuid::Uuid::new_v4(),
        "2026-11-24T12:00:00Z".into(),
        "test".into(),
    )
}

fn request(streams: &[&str], expected: &[(&str, Option<i64>)]) -> AppendRequest {
    AppendRequest {
        events: streams.iter().map(|s| token_event(s)).collect(),
        expected: expected
            .iter()
            .map(|(s, v)| (format!("token-{s}"), *v))
            .collect(),
        ..AppendRequest::default()
    }
}

async fn append_one(store: &Store, r: AppendRequest) -> Result<wexqs::store::Appended, StoreError> {
    store
        .append_batch(vec![r])
        .await
        .expect("the batch commits")
        .pop()
        .expect("one result")
}

async fn positions_are_dense_and_the_chain_verifies(store: Store) {
    let a = append_one(&store, request(&["a", "b"], &[]))
        .await
        .expect("appended");
    let b = append_one(&store, request(&["a"], &[]))
        .await
        .expect("appended");
    assert_eq!(
        a.events.iter().map(|e| e.position).collect::<Vec<_>>(),
        vec![0, 1]
    );
    assert_eq!(b.events[0].position, 2);
    assert_eq!(
        b.events[0].stream_version, 1,
        "the second event of stream a"
    );
    let head = store.head().await.expect("the head");
    assert_eq!(head.size, 3);
    assert_eq!(head.chain_hash, b.events[0].chain_hash);
    let check = check_log(&store, |_| {}).await.expect("verified");
    assert_eq!(check.problem, None);
    assert_eq!(check.size, 3);
    // The Merkle tree's hashes are stored with the events: the leaves, and the complete subtree.
    let leaves = store.tree_hashes(0).await.expect("level 0");
    let all: Vec<Vec<u8>> = store
        .read(0, 10)
        .await
        .expect("read")
        .into_iter()
        .map(|e| e.leaf_hash)
        .collect();
    assert_eq!(leaves, all);
    let level1 = store.tree_hashes(1).await.expect("level 1");
    let l0: [u8; 32] = all[0].as_slice().try_into().expect("32 bytes");
    let l1: [u8; 32] = all[1].as_slice().try_into().expect("32 bytes");
    assert_eq!(
        level1,
        vec![wexqs::transparency::merkle::node_hash(&l0, &l1).to_vec()]
    );
    assert!(store.tree_hashes(2).await.expect("level 2").is_empty());
    let read = store.read(1, 10).await.expect("read");
    assert_eq!(read.len(), 2);
    assert_eq!(read[0], a.events[1]);
    // Payloads are canonical JSON (RFC 8785): keys sorted, no spaces.
    let payload = String::from_utf8(read[0].payload.clone()).expect("UTF-8");
    assert!(
        payload.starts_with("{\"actor\":\"test\",\"data\":"),
        "{payload}"
    );
}

async fn a_retried_append_returns_its_first_result(store: Store) {
    let r = request(&["a"], &[]);
    let first = append_one(&store, r.clone()).await.expect("appended");
    let again = append_one(&store, r).await.expect("replayed");
    assert!(again.replayed);
    assert_eq!(again.events, first.events);
    assert_eq!(store.head().await.expect("head").size, 1);
}

async fn a_stale_expected_version_is_a_conflict_and_writes_nothing(store: Store) {
    append_one(&store, request(&["a"], &[("a", None)]))
        .await
        .expect("a new stream");
    let refused = append_one(&store, request(&["a"], &[("a", None)])).await;
    assert!(
        matches!(refused, Err(StoreError::Conflict { .. })),
        "{refused:?}"
    );
    append_one(&store, request(&["a"], &[("a", Some(0))]))
        .await
        .expect("the right version");
    // In one batch: the refused request is skipped alone, the others keep dense positions.
    let results = store
        .append_batch(vec![
            request(&["b"], &[("b", None)]),
            request(&["a"], &[("a", Some(0))]),
            request(&["c"], &[("c", None)]),
        ])
        .await
        .expect("the batch commits");
    assert!(results[0].is_ok() && results[1].is_err() && results[2].is_ok());
    let positions: Vec<u64> = store
        .read(0, 100)
        .await
        .expect("read")
        .iter()
        .map(|e| e.position)
        .collect();
    assert_eq!(positions, vec![0, 1, 2, 3]);
    assert_eq!(
        check_log(&store, |_| {}).await.expect("verified").problem,
        None
    );
}

async fn an_idempotency_key_replays_and_refuses_another_request(store: Store) {
    let idem = |hash: &str| IdempotencyRecord {
        scope: "token:x".into(),
        key: "key-1".into(),
        request_hash: hash.into(),
    };
    let mut r = request(&["a"], &[]);
    r.idempotency = Some(idem("h1"));
    let first = append_one(&store, r).await.expect("appended");
    let mut again = request(&["a"], &[]);
    again.idempotency = Some(idem("h1"));
    let replay = append_one(&store, again).await.expect("replayed");
    assert!(replay.replayed);
    assert_eq!(replay.events, first.events);
    let mut other = request(&["a"], &[]);
    other.idempotency = Some(idem("h2"));
    assert!(matches!(
        append_one(&store, other).await,
        Err(StoreError::IdempotencyKeyReused)
    ));
    let (hash, events) = store
        .idempotent("token:x", "key-1")
        .await
        .expect("looked up")
        .expect("found");
    assert_eq!(hash, "h1");
    assert_eq!(events, first.events);
    assert_eq!(store.head().await.expect("head").size, 1);
}

async fn an_append_is_all_or_nothing(store: Store) {
    append_one(&store, request(&["a"], &[]))
        .await
        .expect("appended");
    let head = store.head().await.expect("head");
    // An award row for an organisation that does not exist breaks a foreign key mid-append.
    let mut bad = request(&["b", "c"], &[]);
    bad.writes
        .push(Write::Award(award_row("NOPE", "missing-organisation")));
    let result = store.append_batch(vec![bad]).await;
    assert!(matches!(result, Err(StoreError::Backend(_))), "{result:?}");
    assert_eq!(store.head().await.expect("head"), head);
    assert_eq!(store.read(0, 100).await.expect("read").len(), 1);
    assert_eq!(store.projections().await.expect("rows"), (vec![], vec![]));
}

fn organisation_row(id: &str, name: &str) -> OrganisationRow {
    OrganisationRow {
        organisation_id: id.into(),
        name: name.into(),
        search_key: wexqs::domain::types::search_key(name),
        ods_code: None,
        region: "london".into(),
        kind: "other".into(),
    }
}

fn award_row(number: &str, organisation_id: &str) -> AwardRow {
    AwardRow {
        certificate_number: number.into(),
        compact_number: number.replace('-', ""),
        organisation_id: organisation_id.into(),
        organisation_name: "Saint Mary's Hospice".into(),
        search_key: "saint marys hospice".into(),
        ods_code: Some("ZZ1".into()),
        region: "london".into(),
        level: "gold".into(),
        awarded_on: "2025-01-01".into(),
        valid_until: "2026-12-31".into(),
        expires_on: "2027-01-01".into(),
        standing: "active".into(),
        issuer_name: "NHS England".into(),
    }
}

async fn projections_are_written_with_their_events_and_searched(store: Store) {
    let mut r = request(&["a"], &[]);
    r.writes = vec![
        Write::Organisation(organisation_row("org-1", "Saint Mary's Hospice")),
        Write::Award(award_row("AAAA-BBBB-CCCC-DDDD", "org-1")),
        Write::Award(AwardRow {
            standing: "revoked".into(),
            compact_number: "EEEEFFFF".into(),
            region: "midlands".into(),
            level: "bronze".into(),
            ..award_row("EEEE-FFFF", "org-1")
        }),
    ];
    append_one(&store, r).await.expect("appended");
    let (orgs, awards) = store.projections().await.expect("rows");
    assert_eq!(orgs.len(), 1);
    assert_eq!(awards.len(), 2);
    let search = |q: RegisterQuery| {
        let store = store.clone();
        async move { store.search(&q).await.expect("searched") }
    };
    let base = RegisterQuery {
        today: "2026-11-24".into(),
        limit: 10,
        ..RegisterQuery::default()
    };
    let (_, total) = search(RegisterQuery {
        search_key: Some("mary".into()),
        ..base.clone()
    })
    .await;
    assert_eq!(total, 2);
    let (rows, total) = search(RegisterQuery {
        status: Some("valid".into()),
        ..base.clone()
    })
    .await;
    assert_eq!(
        (total, rows[0].certificate_number.as_str()),
        (1, "AAAA-BBBB-CCCC-DDDD")
    );
    let (_, total) = search(RegisterQuery {
        status: Some("expired".into()),
        today: "2027-01-01".into(),
        ..base.clone()
    })
    .await;
    assert_eq!(total, 1);
    let (rows, _) = search(RegisterQuery {
        region: Some("midlands".into()),
        level: Some("bronze".into()),
        ..base.clone()
    })
    .await;
    assert_eq!(rows[0].standing, "revoked");
    let (_, total) = search(RegisterQuery {
        ods_code: Some("ZZ1".into()),
        search_key: Some("no such words".into()),
        ..base.clone()
    })
    .await;
    assert_eq!(total, 2, "the ODS code matches even when the words do not");
    let (rows, total) = search(RegisterQuery {
        limit: 1,
        offset: 1,
        ..base.clone()
    })
    .await;
    assert_eq!((rows.len(), total), (1, 2));

    // Replacing the projections gives exactly the rows given.
    let replacement = (
        vec![organisation_row("org-2", "Other Trust")],
        vec![award_row("GGGG-HHHH", "org-2")],
    );
    store
        .replace_projections(replacement.0.clone(), replacement.1.clone())
        .await
        .expect("replaced");
    assert_eq!(store.projections().await.expect("rows"), replacement);
}

async fn concurrent_writers_never_duplicate_or_skip_a_position(store: Store) {
    append_one(&store, request(&["hot"], &[("hot", None)]))
        .await
        .expect("appended");
    let mut tasks = Vec::new();
    for i in 0..50 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            // Half contend for one stream at one version, half write their own streams.
            let r = if i % 2 == 0 {
                request(&["hot"], &[("hot", Some(0))])
            } else {
                let own = format!("own-{i}");
                request(&[own.as_str()], &[])
            };
            append_one(&store, r).await
        }));
    }
    let mut won = 0;
    let mut conflicts = 0;
    for (i, t) in tasks.into_iter().enumerate() {
        match t.await.expect("the task ran") {
            Ok(_) => won += 1,
            Err(StoreError::Conflict { .. }) if i % 2 == 0 => conflicts += 1,
            Err(e) => panic!("task {i}: {e}"),
        }
    }
    assert_eq!(
        won, 26,
        "one contender and the 25 writers of their own streams"
    );
    assert_eq!(conflicts, 24);
    let events = store.read(0, 1000).await.expect("read");
    let positions: BTreeSet<u64> = events.iter().map(|e| e.position).collect();
    assert_eq!(positions, (0..27).collect::<BTreeSet<u64>>());
    assert_eq!(
        check_log(&store, |_| {}).await.expect("verified").problem,
        None
    );
}

async fn tokens_are_kept_hashed_and_revocable(store: Store) {
    let token = wexqs::store::TokenRow {
        token_id: "abc".into(),
        name: "someone".into(),
        role: "admin".into(),
        secret_hash: "00ff".into(),
        created_at: "2026-11-24T12:00:00Z".into(),
        revoked_at: None,
        last_used_at: None,
    };
    let mut r = request(&["abc"], &[]);
    r.writes.push(Write::TokenCreated(token.clone()));
    append_one(&store, r).await.expect("appended");
    assert_eq!(store.token("abc").await.expect("read"), Some(token));
    let mut r = request(&["abc"], &[]);
    r.writes.push(Write::TokenRevoked {
        token_id: "abc".into(),
        at: "2026-11-25T00:00:00Z".into(),
    });
    append_one(&store, r).await.expect("appended");
    let revoked = store.token("abc").await.expect("read").expect("kept");
    assert_eq!(revoked.revoked_at.as_deref(), Some("2026-11-25T00:00:00Z"));
    assert_eq!(store.token("nope").await.expect("read"), None);
}

/// A batch whose requests depend on each other: a retry and an idempotency key used again (the
/// same request, and another) after their first append, a stale version caused by an earlier
/// request, projection rows written twice, a token created and revoked; and enough events to
/// finish subtrees of several levels from an odd start.
fn dependent_requests() -> Vec<AppendRequest> {
    let idem = |hash: &str| IdempotencyRecord {
        scope: "token:x".into(),
        key: "key-1".into(),
        request_hash: hash.into(),
    };
    let mut keyed = request(&["k"], &[]);
    keyed.idempotency = Some(idem("h1"));
    let mut keyed_again = request(&["k"], &[]);
    keyed_again.idempotency = Some(idem("h1"));
    let mut keyed_other = request(&["k"], &[]);
    keyed_other.idempotency = Some(idem("h2"));
    let first = request(&["a", "a", "b"], &[("a", None)]);
    let mut named = request(&["o"], &[]);
    named.writes = vec![
        Write::Organisation(organisation_row("org-1", "First Name")),
        Write::Award(award_row("AAAA-BBBB", "org-1")),
    ];
    let mut renamed = request(&["o"], &[("o", Some(0))]);
    renamed.writes = vec![
        Write::Organisation(organisation_row("org-1", "Second Name")),
        Write::Award(award_row("AAAA-BBBB", "org-1")),
        Write::Organisation(organisation_row("org-2", "Other")),
    ];
    let mut created = request(&["t"], &[]);
    created.writes = vec![Write::TokenCreated(wexqs::store::TokenRow {
        token_id: "tok".into(),
        name: "someone".into(),
        role: "admin".into(),
        secret_hash: "00ff".into(),
        created_at: "2026-11-24T12:00:00Z".into(),
        revoked_at: None,
        last_used_at: None,
    })];
    let mut revoked = request(&["t"], &[]);
    revoked.writes = vec![Write::TokenRevoked {
        token_id: "tok".into(),
        at: "2026-11-25T00:00:00Z".into(),
    }];
    let mut batch = vec![
        first.clone(),
        keyed,
        request(&["a"], &[("a", None)]),
        first,
        keyed_again,
        keyed_other,
        named,
        renamed,
        created,
        revoked,
        request(&[], &[]),
    ];
    for i in 0..40 {
        let own = format!("many-{}", i % 7);
        batch.push(request(&[own.as_str(), own.as_str()], &[]));
    }
    batch
}

/// What a store holds, every table the append writes.
async fn everything(
    store: &Store,
) -> (
    Vec<wexqs::store::StoredEvent>,
    Vec<Vec<Vec<u8>>>,
    wexqs::store::LogHead,
    (Vec<OrganisationRow>, Vec<AwardRow>),
    Option<wexqs::store::TokenRow>,
    Option<(String, Vec<wexqs::store::StoredEvent>)>,
) {
    let mut levels = Vec::new();
    for level in 0..8 {
        levels.push(store.tree_hashes(level).await.expect("tree hashes"));
    }
    (
        store.read(0, 1_000).await.expect("read"),
        levels,
        store.head().await.expect("head"),
        store.projections().await.expect("rows"),
        store.token("tok").await.expect("token"),
        store.idempotent("token:x", "key-1").await.expect("key"),
    )
}

async fn a_batch_stores_exactly_what_its_requests_store_one_at_a_time(store: Store) {
    let backend = match store.kind() {
        "sqlite" => crate::helpers::Backend::Sqlite,
        _ => crate::helpers::Backend::Postgres,
    };
    let db = crate::helpers::fresh_db(backend)
        .await
        .expect("a second database");
    let alone = crate::helpers::open_store(&db).await;
    // An odd start: the batch's first leaf is a right child.
    let start: Vec<_> = (0..5).map(|_| request(&["s"], &[])).collect();
    let batch = dependent_requests();
    store
        .append_batch(start.clone())
        .await
        .expect("the batch commits");
    let grouped = store
        .append_batch(batch.clone())
        .await
        .expect("the batch commits");
    let mut one_by_one = Vec::new();
    for r in start {
        append_one(&alone, r).await.expect("appended");
    }
    for r in batch {
        one_by_one.push(append_one(&alone, r).await);
    }
    let summary = |results: &[Result<wexqs::store::Appended, StoreError>]| {
        results
            .iter()
            .map(|r| match r {
                Ok(a) => Ok((a.events.clone(), a.replayed)),
                Err(e) => Err(format!("{e:?}")),
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(summary(&grouped), summary(&one_by_one));
    assert!(grouped[3].as_ref().is_ok_and(|a| a.replayed), "a retry");
    assert!(
        grouped[4].as_ref().is_ok_and(|a| a.replayed),
        "a key used again"
    );
    assert!(matches!(grouped[5], Err(StoreError::IdempotencyKeyReused)));
    assert!(matches!(grouped[2], Err(StoreError::Conflict { .. })));
    assert_eq!(everything(&store).await, everything(&alone).await);
    assert_eq!(
        check_log(&store, |_| {}).await.expect("verified").problem,
        None
    );
    let organisations = store.projections().await.expect("rows").0;
    assert_eq!(organisations[0].name, "Second Name");
}

on_both_databases! {
    store:
    positions_are_dense_and_the_chain_verifies,
    a_retried_append_returns_its_first_result,
    a_stale_expected_version_is_a_conflict_and_writes_nothing,
    an_idempotency_key_replays_and_refuses_another_request,
    an_append_is_all_or_nothing,
    projections_are_written_with_their_events_and_searched,
    concurrent_writers_never_duplicate_or_skip_a_position,
    tokens_are_kept_hashed_and_revocable,
    a_batch_stores_exactly_what_its_requests_store_one_at_a_time,
}

#[test]
fn the_organisation_ids_in_events_are_uuids() {
    let e = Event::OrganisationRegistered {
        organisation_id: OrganisationId(uuid::Uuid::nil()),
        name: "A Trust".parse().expect("a name"),
        ods_code: None,
        region: Region::London,
        kind: OrganisationKind::Other,
    };
    assert_eq!(e.stream(), format!("organisation-{}", uuid::Uuid::nil()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_database_on_postgresql_is_dropped_when_its_test_ends() {
    use sqlx::Connection;
    let Some(db) = crate::helpers::fresh_db(crate::helpers::Backend::Postgres).await else {
        return;
    };
    let name = db
        .url
        .rsplit_once('/')
        .expect("a database name")
        .1
        .to_owned();
    let exists = |name: String| async move {
        let admin = std::env::var("WEXQS_TEST_PG")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .expect("connected");
        let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM pg_database WHERE datname = $1")
            .bind(&name)
            .fetch_one(&mut conn)
            .await
            .expect("counted");
        n == 1
    };
    {
        let _store = crate::helpers::open_store(&db).await;
        assert!(exists(name.clone()).await, "created");
    }
    drop(db);
    assert!(!exists(name).await, "dropped with its Db");
}
