//! Append throughput of the batching writer, as a ratio against a baseline measured in the same
//! run: N appends one after another (each waits for its commit) versus the same N appends sent
//! concurrently (the writer groups them into shared transactions). Both on a fresh SQLite file
//! with `synchronous=FULL`, and on PostgreSQL when `WEXQS_BENCH_PG` names a database URL.
//!
//! `cargo bench --bench append` (N defaults to 2,000; `WEXQS_BENCH_N` changes it).

use std::sync::Arc;
use std::time::Instant;

use wexqs::domain::calendar::Calendar;
use wexqs::domain::{Command, OrganisationKind, Region};
use wexqs::service::{Actor, Registry, SystemClock, seeded_rng};
use wexqs::store::Store;

fn command(registry: &Registry, i: usize) -> Command {
    Command::RegisterOrganisation {
        organisation_id: registry.new_organisation_id(),
        name: format!("Bench Trust {i}").parse().expect("a name"),
        ods_code: None,
        region: Region::London,
        kind: OrganisationKind::Other,
    }
}

async fn fresh(url: &str) -> Arc<Registry> {
    let store = Store::open(url).await.expect("open the store");
    let calendar = Calendar::parse("{}").expect("an empty calendar");
    Registry::start(store, Arc::new(SystemClock), seeded_rng(7), &calendar)
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
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let registry = registry.clone();
            tokio::spawn(async move {
                let c = command(&registry, i);
                registry
                    .execute(&Actor::cli(), c, None)
                    .await
                    .expect("appended");
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("ran");
    }
    n as f64 / start.elapsed().as_secs_f64()
}

async fn run(label: &str, url_a: &str, url_b: &str, n: usize) {
    let a = fresh(url_a).await;
    let baseline = sequential(&a, n).await;
    let b = fresh(url_b).await;
    let batched = concurrent(b.clone(), n).await;
    let (transactions, appends) = b.writer_stats();
    println!(
        "{label}: one at a time {baseline:.0} appends/s; concurrent {batched:.0} appends/s; \
         ratio {:.1}x; {appends} appends in {transactions} transactions ({:.1} per transaction)",
        batched / baseline,
        appends as f64 / transactions.max(1) as f64
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::var("WEXQS_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let dir = tempfile::tempdir().expect("a folder");
    let sqlite = |name: &str| format!("sqlite://{}", dir.path().join(name).display());
    run("sqlite", &sqlite("a.db"), &sqlite("b.db"), n).await;
    if let Ok(admin) = std::env::var("WEXQS_BENCH_PG") {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .expect("PostgreSQL");
        let base = admin
            .rsplit_once('/')
            .map_or(admin.as_str(), |(b, _)| b)
            .to_owned();
        let mut urls = Vec::new();
        for side in ["a", "b"] {
            let name = format!("wexqs_bench_{side}_{}", std::process::id());
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .await
                .expect("a bench database");
            urls.push(format!("{base}/{name}"));
        }
        run("postgres", &urls[0], &urls[1], n).await;
        for url in urls {
            let name = url.rsplit('/').next().unwrap_or_default().to_owned();
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut conn)
                .await;
        }
    }
}
