//! Searches that match nothing, at 50,000 awards: the forgiving look-up by name is drawn from
//! the candidates the register index narrows to, within a fixed budget and off the async
//! workers, so a stream of them at the allowed rate leaves `/healthz` and verification
//! answering promptly, and a misspelt name is still found.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::helpers::{Backend, TestApp, spawn_app_limited};

const TOWNS: [&str; 20] = [
    "Valley",
    "Northfield",
    "Riverside",
    "Ashford",
    "Brookmere",
    "Castleton",
    "Dunmore",
    "Eastwick",
    "Fairhaven",
    "Glenrock",
    "Highcliff",
    "Ironbridge",
    "Kingsley",
    "Lakeside",
    "Moorgate",
    "Newhaven",
    "Oakridge",
    "Pinewood",
    "Queensbury",
    "Redhill",
];
const KINDS: [&str; 5] = [
    "Hospital",
    "Community Health",
    "Mental Health Partnership",
    "Ambulance Service",
    "Hospice",
];

/// A CSV file of `n` awards with names like the register's (a town, a kind of service and a
/// number), one organisation each, valid on the test's day.
pub(crate) fn register_csv(n: usize) -> String {
    let mut text =
        String::from("organisation_name,ods_code,region,kind,level,awarded_on,issuer_name\n");
    for i in 0..n {
        text.push_str(&format!(
            "{} {} {i},,london,nhs_trust,{},2025-{:02}-{:02},\n",
            TOWNS[i % TOWNS.len()],
            KINDS[(i / TOWNS.len()) % KINDS.len()],
            ["bronze", "silver", "gold"][i % 3],
            1 + i % 12,
            1 + i % 28
        ));
    }
    text
}

/// Imports `n` awards with names like those of the register (a town, a kind of service and a
/// number), one organisation each, valid on the test's day.
async fn import_named_awards(app: &TestApp, n: usize) {
    use wexqs::service::Actor;
    use wexqs::service::import::{import_commands, read_csv};
    let text = register_csv(n);
    let rows = read_csv(text.as_bytes()).expect("the rows parse");
    let summary = import_commands(&app.registry, &Actor::cli(), rows, None, |_| {})
        .await
        .expect("the import succeeds");
    assert_eq!(summary.issued.len(), n);
}

/// How long `path` takes to answer 200.
async fn probe(client: &reqwest::Client, url: String) -> Duration {
    let started = Instant::now();
    let response = client.get(&url).send().await.expect("the server answers");
    assert_eq!(response.status(), 200, "{url}");
    response.bytes().await.expect("the body");
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stream_of_searches_matching_nothing_leaves_healthz_and_verification_prompt() {
    const AWARDS: usize = 50_000;
    const RATE: u32 = 20;
    let Some(app) = spawn_app_limited(Backend::Sqlite, RATE).await else {
        return;
    };
    import_named_awards(&app, AWARDS).await;
    let number = app.registry.fuzzy_matches("northfield hospital 1", 1)[0]
        .0
        .clone();

    // The near matches found before are still found at this size: a slip in each word.
    let started = Instant::now();
    let near = app.json("/v1/register?q=Northfeld+Hospitel+401").await;
    eprintln!(
        "a search with near matches only, at {AWARDS} awards: {:?}",
        started.elapsed()
    );
    assert_eq!(near["near_matches"], true, "{near}");
    let names: Vec<&str> = near["did_you_mean"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|m| m["organisation_name"].as_str())
        .collect();
    assert!(names.contains(&"Northfield Hospital 401"), "{names:?}");

    // Half the allowed rate of searches matching nothing, each new (no cache helps), each
    // sharing common words with thousands of names, sent whether or not the last was answered.
    let app = Arc::new(app);
    let flood = {
        let app = app.clone();
        tokio::spawn(async move {
            let mut sent = Vec::new();
            for i in 0..60 {
                let app = app.clone();
                sent.push(tokio::spawn(async move {
                    let path = format!("/v1/register?q=valley+hospital+community+xq{i}");
                    app.get(&path).await.status().as_u16()
                }));
                tokio::time::sleep(Duration::from_millis(1000 / u64::from(RATE / 2))).await;
            }
            let mut answers = Vec::new();
            for s in sent {
                answers.push(s.await.expect("the search task"));
            }
            answers
        })
    };
    let client = reqwest::Client::new();
    let mut slowest = (Duration::ZERO, Duration::ZERO);
    let mut probes = 0;
    while !flood.is_finished() {
        let health = probe(&client, app.url("/healthz")).await;
        let verified = probe(
            &client,
            app.url(&format!("/v1/awards/{number}/verification")),
        )
        .await;
        slowest = (slowest.0.max(health), slowest.1.max(verified));
        probes += 1;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let answers = flood.await.expect("the flood");
    eprintln!(
        "{probes} probes under the flood: /healthz at most {:?}, verification at most {:?}",
        slowest.0, slowest.1
    );
    assert!(probes >= 5, "only {probes} probes ran during the flood");
    assert!(
        answers.iter().all(|s| *s == 200),
        "every search is answered: {answers:?}"
    );
    assert!(
        slowest.0 < Duration::from_secs(1) && slowest.1 < Duration::from_secs(1),
        "under a stream of searches matching nothing, /healthz took up to {:?} and a \
         verification up to {:?}",
        slowest.0,
        slowest.1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn near_matches_from_the_index_are_those_a_scan_of_every_award_finds() {
    use wexqs::domain::search::{name_matches, query_words};
    use wexqs::domain::types::search_key;
    let Some(app) = crate::helpers::spawn_app(Backend::Sqlite).await else {
        return;
    };
    import_named_awards(&app, 600).await;
    let awards = crate::helpers::all_awards(&app.registry);
    for q in [
        "northfeld hospitel",
        "valey hospise 80",
        "ashfrd community helth",
        "kingsly",
        "redhil ambulanse service 19",
        "queensbury mental",
        "pinewod",
        "lakeside hosp",
    ] {
        let wanted = query_words(q);
        let mut scanned: Vec<(String, String)> = awards
            .iter()
            .filter(|a| name_matches(&wanted, &search_key(a.organisation_name.as_str())))
            .map(|a| {
                (
                    a.certificate_number.to_string(),
                    a.organisation_name.to_string(),
                )
            })
            .collect();
        scanned.sort_by(|x, y| x.1.cmp(&y.1).then(x.0.cmp(&y.0)));
        scanned.truncate(10);
        assert!(!scanned.is_empty(), "{q:?} has near matches");
        assert_eq!(
            app.registry.fuzzy_matches(&search_key(q), 10),
            scanned,
            "{q:?}"
        );
    }
}
