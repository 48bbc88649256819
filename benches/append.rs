//! Append throughput of the batching writer, as ratios against baselines measured in the same
//! run: N appends one after another (each waits for its commit), the same N appends from 64
//! concurrent clients (64 tasks, each looping over its share; the writer groups them into shared
//! transactions), and a plain batched insert of the same event rows (multi-row `INSERT`s with
//! sqlx directly, in transactions of the group size the writer reached; no hashing, locking or
//! stream versions). On a fresh SQLite file with `synchronous=FULL`, and on PostgreSQL when
//! `WEXQS_BENCH_PG` names a database URL.
//!
//! `cargo bench --bench append` (N defaults to 2,048; `WEXQS_BENCH_N` changes it).

use std::sync::Arc;
use std::time::Instant;

use sqlx::QueryBuilder;
use wexqs::domain::calendar::Calendar;
use wexqs::domain::{Command, OrganisationCommand, OrganisationKind, Region};
use wexqs::service::{Actor, Registry, seeded_rng};
use wexqs::startup::{self, Config};
use wexqs::store::{EventStore, Store, StoredEvent};

/// How many clients send appends at once.
const CLIENTS: usize = 64;

fn command(registry: &Registry, i: usize) -> Command {
    Command::Organisation(OrganisationCommand::Register {
        organisation_id: registry.new_organisation_id(),
        name: format!("Bench Trust {i}").parse().expect("a name"),
        ods_code: None,
        region: Region::London,
        kind: OrganisationKind::Other,
    })
}

async fn fresh(url: &str) -> Arc<Registry> {
    let calendar = Calendar::parse("{}").expect("an empty calendar");
    startup::start(Config::new(url.to_owned(), calendar).with_rng(seeded_rng(7)))
        .await
        .expect("start")
}

async fn sequential(registry: &Registry, n: usize) -> f64 {
    let start = Instant::now();
    for i in 0..n {
        registry
            .execute(&Actor::cli(), command(registry, i), None)
            .await
            .expect("appended");
    }
    n as f64 / start.elapsed().as_secs_f64()
}

async fn concurrent(registry: Arc<Registry>, n: usize) -> f64 {
    let start = Instant::now();
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let registry = registry.clone();
            tokio::spawn(async move {
                for i in (client..n).step_by(CLIENTS) {
                    let c = command(&registry, i);
                    registry
                        .execute(&Actor::cli(), c, None)
                        .await
                        .expect("appended");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("ran");
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// The same event rows inserted plainly: `group` rows a transaction, in multi-row statements
/// (a macro, since sqlx's query builder is spelled once per driver).
macro_rules! raw_insert {
    ($db:ty, $pool:expr, $events:expr, $group:expr) => {{
        // Well under both databases' limits on bound parameters (12 a row).
        const ROWS_PER_STATEMENT: usize = 1_000;
        let events: &[StoredEvent] = $events;
        let start = Instant::now();
        for transaction in events.chunks($group.max(1)) {
            let mut tx = $pool.begin().await.expect("a transaction");
            for rows in transaction.chunks(ROWS_PER_STATEMENT) {
                let mut insert = QueryBuilder::<$db>::new(
                    "INSERT INTO events (position, event_id, stream_id, stream_version, \
                     event_type, schema_version, payload, recorded_at, actor, visibility, \
                     leaf_hash, chain_hash) ",
                );
                insert.push_values(rows, |mut row, e| {
                    row.push_bind(e.position as i64)
                        .push_bind(e.event_id.to_string())
                        .push_bind(e.stream_id.clone())
                        .push_bind(e.stream_version)
                        .push_bind(e.event_type.clone())
                        .push_bind(e.schema_version)
                        .push_bind(e.payload.clone())
                        .push_bind(e.recorded_at.clone())
                        .push_bind(e.actor.clone())
                        .push_bind(e.visibility.as_str())
                        .push_bind(e.leaf_hash.clone())
                        .push_bind(e.chain_hash.clone());
                });
                insert.build().execute(&mut *tx).await.expect("inserted");
            }
            tx.commit().await.expect("committed");
        }
        events.len() as f64 / start.elapsed().as_secs_f64()
    }};
}

async fn every_event(store: &Store) -> Vec<StoredEvent> {
    let mut events = Vec::new();
    loop {
        let page = store.read(events.len() as u64, 2_000).await.expect("read");
        if page.is_empty() {
            return events;
        }
        events.extend(page);
    }
}

async fn run(label: &str, urls: &[String; 3], n: usize) {
    let a = fresh(&urls[0]).await;
    let one_at_a_time = sequential(&a, n).await;
    let b = fresh(&urls[1]).await;
    let grouped = concurrent(b.clone(), n).await;
    let (transactions, appends) = b.writer_stats();
    let per_transaction = appends as f64 / transactions.max(1) as f64;
    let events = every_event(wexqs::testing::store(&b)).await;
    let group = (events.len() as f64 / transactions.max(1) as f64).round() as usize;
    let raw = match Store::open(&urls[2]).await.expect("open the raw store") {
        Store::Sqlite(s) => raw_insert!(sqlx::Sqlite, s.pool(), &events, group),
        Store::Postgres(s) => raw_insert!(sqlx::Postgres, s.pool(), &events, group),
    };
    println!(
        "{label}: one at a time {one_at_a_time:.0} appends/s; {CLIENTS} concurrent {grouped:.0} \
         appends/s ({appends} appends in {transactions} transactions, {per_transaction:.1} per \
         transaction); plain batched insert of the same {} rows, {group} a transaction, {raw:.0} \
         rows/s",
        events.len(),
    );
    println!(
        "{label}: concurrent/one at a time {:.1}x; concurrent/plain insert {:.2}x",
        grouped / one_at_a_time,
        grouped / raw,
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::var("WEXQS_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_048);
    let dir = tempfile::tempdir().expect("a folder");
    let sqlite = |name: &str| format!("sqlite://{}", dir.path().join(name).display());
    run(
        "sqlite",
        &[sqlite("a.db"), sqlite("b.db"), sqlite("c.db")],
        n,
    )
    .await;
    if let Ok(admin) = std::env::var("WEXQS_BENCH_PG") {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .expect("PostgreSQL");
        let base = admin
            .rsplit_once('/')
            .map_or(admin.as_str(), |(b, _)| b)
            .to_owned();
        let mut urls: [String; 3] = Default::default();
        for (url, side) in urls.iter_mut().zip(["a", "b", "c"]) {
            let name = format!("wexqs_bench_{side}_{}", std::process::id());
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .await
                .expect("a bench database");
            *url = format!("{base}/{name}");
        }
        run("postgres", &urls, n).await;
        for url in urls {
            let name = url.rsplit('/').next().unwrap_or_default().to_owned();
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut conn)
                .await;
        }
    }
}
