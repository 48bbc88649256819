//! The console's programme, cycles, import, audit and staff pages through real HTTP, signed in
//! through the test door (`wexqs::testing::console_session`): each page renders for a reviewer
//! and an admin, each change appends the same event the API would under the person's name
//! (`staff:ID`), a reviewer's change is refused with nothing appended, and the import, audit
//! and last-admin journeys end as the pages say.

mod browser;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_DISPOSITION, CONTENT_TYPE, COOKIE};

use crate::helpers::{Backend, TestApp, on_both_databases};
use browser::{Browser, actor_of, console_app, events_since};

on_both_databases!(backend:
    every_page_renders_for_a_reviewer_and_an_admin_and_only_an_admin_sees_the_forms,
    a_programme_change_shows_its_effect_first_then_is_recorded_under_the_persons_name,
    a_cycle_is_scheduled_from_the_console_under_the_persons_name,
    an_import_is_previewed_with_every_problem_then_appended_once,
    the_audit_trail_filters_by_person_date_and_award_and_downloads_as_safe_csv,
    staff_are_added_changed_and_removed_but_never_the_last_admin,
    the_audit_trail_pages_back_through_the_log_without_repeating_an_event,
);

async fn every_page_renders_for_a_reviewer_and_an_admin_and_only_an_admin_sees_the_forms(
    backend: Backend,
) {
    let Some((app, admin, reviewer)) = console_app(backend).await else {
        return;
    };
    let as_admin = Browser::signed_in(&app, &admin).await;
    let as_reviewer = Browser::signed_in(&app, &reviewer).await;
    for path in [
        "/console/programme",
        "/console/cycles",
        "/console/staff",
        "/console/audit",
    ] {
        let page = as_reviewer.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path} for a reviewer");
        assert!(
            !page
                .body
                .contains("method=\"post\" action=\"/console/programme/pause"),
            "{path}"
        );
        let page = as_admin.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path} for an admin");
    }
    assert!(
        as_admin
            .get("/console/programme")
            .await
            .body
            .contains("See the effect")
    );
    assert!(
        !as_reviewer
            .get("/console/programme")
            .await
            .body
            .contains("See the effect")
    );
    assert!(
        as_admin
            .get("/console/staff")
            .await
            .body
            .contains("Add to the staff list")
    );
    assert!(
        !as_reviewer
            .get("/console/staff")
            .await
            .body
            .contains("Add to the staff list")
    );
    assert_eq!(as_admin.get("/console/import").await.status, StatusCode::OK);
    assert_eq!(
        as_reviewer.get("/console/import").await.status,
        StatusCode::FORBIDDEN
    );
    let staff = as_reviewer.get("/console/staff").await.body;
    assert!(
        staff.contains("Ada Admin") && staff.contains("Rhys Reviewer"),
        "{staff}"
    );
}

async fn a_programme_change_shows_its_effect_first_then_is_recorded_under_the_persons_name(
    backend: Backend,
) {
    let Some((app, admin, reviewer)) = console_app(backend).await else {
        return;
    };
    let as_admin = Browser::signed_in(&app, &admin).await;
    let as_reviewer = Browser::signed_in(&app, &reviewer).await;
    // The shipped calendar has the programme paused from 1 January 2026.
    let size = app.registry.size();
    let resume = [
        ("effective_from", "2026-12-01"),
        ("reason", "Funding restored"),
    ];
    let preview = as_admin
        .submit("/console/programme/resume/preview", &resume)
        .await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    assert!(
        preview
            .body
            .contains("From 1 December 2026 awards can be made and cycles scheduled again."),
        "{}",
        preview.body
    );
    assert!(
        preview.body.contains("value=\"Funding restored\""),
        "the confirm form carries the fields"
    );
    assert_eq!(app.registry.size(), size, "a preview appends nothing");
    let refused = as_reviewer
        .submit("/console/programme/resume", &resume)
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.registry.size(),
        size,
        "a reviewer's change appends nothing"
    );
    let done = as_admin.submit("/console/programme/resume", &resume).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(
        events_since(&app, size).await,
        vec![("programme_resumed".to_owned(), actor_of(&admin))]
    );
    let page = as_reviewer.get("/console/programme").await.body;
    assert!(
        page.contains("Funding restored")
            && page.contains("(ahead)")
            && page.contains("Ada Admin<br>"),
        "the history says who recorded the change: {page}"
    );

    let size = app.registry.size();
    let fields = [
        ("effective_from", "2026-12-10"),
        ("reason", "Funding review"),
    ];
    let preview = as_admin
        .submit("/console/programme/pause/preview", &fields)
        .await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    assert!(
        preview
            .body
            .contains("From 10 December 2026 no award can be made and no cycle scheduled")
            && preview
                .body
                .contains("existing awards stay valid until they expire"),
        "{}",
        preview.body
    );
    let done = as_admin.submit("/console/programme/pause", &fields).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(
        events_since(&app, size).await,
        vec![("programme_paused".to_owned(), actor_of(&admin))]
    );

    // The domain's refusal, in words, on the page, with the person's words kept.
    let again = as_admin
        .submit(
            "/console/programme/pause",
            &[("effective_from", "2026-12-11"), ("reason", "Twice")],
        )
        .await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        again.body.contains("The change was not made") && again.body.contains("value=\"Twice\""),
        "{}",
        again.body
    );
    let previewed = as_admin
        .submit(
            "/console/programme/pause/preview",
            &[("effective_from", "2026-12-12"), ("reason", "Thrice")],
        )
        .await;
    assert_eq!(
        previewed.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a refusal is said at the preview"
    );
    assert!(
        !previewed.body.contains("check before you confirm"),
        "{}",
        previewed.body
    );
    let bad_date = as_admin
        .submit(
            "/console/programme/sunset/preview",
            &[("effective_from", "next week"), ("reason", "End")],
        )
        .await;
    assert_eq!(bad_date.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad_date.body.contains("YYYY-MM-DD"), "{}", bad_date.body);
    assert_eq!(app.registry.size(), size + 1);
}

/// The programme running from today (the shipped calendar pauses it), through the API.
async fn resume_today(app: &TestApp) {
    let response = app
        .admin_post(
            "/v1/admin/programme/resume",
            serde_json::json!({"effective_from": "2026-11-24", "reason": "Running again"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

async fn a_cycle_is_scheduled_from_the_console_under_the_persons_name(backend: Backend) {
    let Some((app, admin, reviewer)) = console_app(backend).await else {
        return;
    };
    let as_admin = Browser::signed_in(&app, &admin).await;
    let as_reviewer = Browser::signed_in(&app, &reviewer).await;
    resume_today(&app).await;
    let size = app.registry.size();
    let fields = [
        ("cycle_id", "2027-spring"),
        ("name", "Spring 2027"),
        ("submissions_open_on", "2027-01-04"),
        ("submission_deadline", "2027-02-26"),
        ("review_from", "2027-03-01"),
        ("review_until", "2027-03-31"),
        ("decisions_from", "2027-04-01"),
        ("decisions_until", "2027-04-30"),
    ];
    assert_eq!(
        as_reviewer.submit("/console/cycles", &fields).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.registry.size(), size);
    let done = as_admin.submit("/console/cycles", &fields).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(
        events_since(&app, size).await,
        vec![("cycle_scheduled".to_owned(), actor_of(&admin))]
    );
    let page = as_reviewer.get("/console/cycles").await.body;
    assert!(
        page.contains("Spring 2027") && page.contains("2027-02-26"),
        "{page}"
    );
}

const HEADER: &str = "organisation_name,ods_code,region,kind,level,awarded_on,issuer_name";

async fn an_import_is_previewed_with_every_problem_then_appended_once(backend: Backend) {
    let Some((app, admin, reviewer)) = console_app(backend).await else {
        return;
    };
    let as_admin = Browser::signed_in(&app, &admin).await;
    let as_reviewer = Browser::signed_in(&app, &reviewer).await;
    let existing = app.organisation("Old Trust", Some("ZQ9")).await;
    app.award(&existing, "silver", "2025-03-01").await;
    let size = app.registry.size();

    let bad = format!(
        "{HEADER}\nGood Trust,ZQ1,london,nhs_trust,gold,2025-01-01,\nTwin Trust,ZQ1,london,nhs_trust,gold,2025-02-01,\nWorse Trust,ZQ3,narnia,nhs_trust,gold,2025-01-01,\nOld Trust,ZQ9,london,nhs_trust,silver,2025-03-01,\n"
    );
    let preview = as_admin.upload("bad.csv", &bad).await;
    assert_eq!(
        preview.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        preview.body
    );
    for words in [
        "Good Trust",
        "Line 3: the ODS code ZQ1 is also on line 2",
        "Line 4: ",
        "Line 5: already in the register",
        "3 of 4 rows cannot be imported",
    ] {
        assert!(
            preview.body.contains(words),
            "{words:?} in {}",
            preview.body
        );
    }
    assert!(
        !preview.body.contains("Confirm: import"),
        "no confirm for a bad file"
    );
    assert_eq!(app.registry.size(), size, "a preview appends nothing");

    let refused = as_reviewer.upload("bad.csv", &bad).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let good = format!(
        "{HEADER}\nGood Trust,ZQ1,london,nhs_trust,gold,2025-01-01,\nOther Trust,ZQ2,london,nhs_trust,bronze,2025-02-01,\r\nThird Trust,,midlands,,silver,2025-02-03,\n"
    );
    let preview = as_admin.upload("good.csv", &good).await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    assert!(
        preview.body.contains("Confirm: import 3 awards"),
        "{}",
        preview.body
    );
    assert_eq!(app.registry.size(), size);
    // The confirm form carries the file as the browser sends it back (line ends as CRLF).
    let carried = good.replace("\r\n", "\n").replace('\n', "\r\n");
    let done = as_admin
        .submit("/console/import", &[("csv", &carried)])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location.as_deref(), Some("/console/import?imported=3"));
    let appended = events_since(&app, size).await;
    assert_eq!(
        appended.iter().filter(|(t, _)| t == "award_issued").count(),
        3
    );
    assert!(
        appended.iter().all(|(_, actor)| *actor == actor_of(&admin)),
        "{appended:?}"
    );
    let size = app.registry.size();

    let again = as_admin.upload("good.csv", &good).await;
    assert!(
        again.body.contains("This file was already imported on"),
        "{}",
        again.body
    );
    let confirmed_again = as_admin.submit("/console/import", &[("csv", &good)]).await;
    assert!(
        confirmed_again.body.contains("already imported on")
            && confirmed_again.body.contains("nothing was added"),
        "{}",
        confirmed_again.body
    );
    assert_eq!(
        app.registry.size(),
        size,
        "the same file appends nothing again"
    );
}

async fn the_audit_trail_filters_by_person_date_and_award_and_downloads_as_safe_csv(
    backend: Backend,
) {
    let Some((app, admin, reviewer)) = console_app(backend).await else {
        return;
    };
    let as_admin = Browser::signed_in(&app, &admin).await;
    let as_reviewer = Browser::signed_in(&app, &reviewer).await;
    resume_today(&app).await;
    let organisation = app.organisation("Audit Trust", Some("ZQ7")).await;
    let number = app.award(&organisation, "gold", "2025-05-01").await;
    let cycle = [
        ("cycle_id", "c1"),
        ("name", "=HYPERLINK(\"http://evil.example\")"),
        ("submissions_open_on", "2027-01-04"),
        ("submission_deadline", "2027-02-26"),
        ("review_from", "2027-03-01"),
        ("review_until", "2027-03-31"),
        ("decisions_from", "2027-04-01"),
        ("decisions_until", "2027-04-30"),
    ];
    assert_eq!(
        as_admin.submit("/console/cycles", &cycle).await.status,
        StatusCode::SEE_OTHER
    );

    let all = as_reviewer.get("/console/audit").await;
    assert_eq!(all.status, StatusCode::OK);
    assert!(
        all.body.contains("Cycle scheduled") && all.body.contains("Ada Admin"),
        "{}",
        all.body
    );
    assert!(all.body.contains("Issued (Gold)"), "{}", all.body);
    assert!(
        all.body.find("Cycle scheduled") < all.body.find("Issued (Gold)"),
        "newest first"
    );

    let by_person = as_reviewer
        .get(&format!("/console/audit?person={}", actor_of(&admin)))
        .await
        .body;
    assert!(
        by_person.contains("Cycle scheduled") && !by_person.contains("Issued (Gold)"),
        "{by_person}"
    );
    let by_name = as_reviewer.get("/console/audit?person=ada").await.body;
    assert!(
        by_name.contains("Cycle scheduled") && !by_name.contains("Issued (Gold)"),
        "{by_name}"
    );
    let by_award = as_reviewer
        .get(&format!("/console/audit?certificate_number={number}"))
        .await
        .body;
    assert!(
        by_award.contains("Issued (Gold)") && !by_award.contains("Cycle scheduled"),
        "{by_award}"
    );
    let before = as_reviewer.get("/console/audit?to=2020-01-01").await.body;
    assert!(before.contains("0 events"), "{before}");
    let bad = as_reviewer.get("/console/audit?from=yesterday").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);

    let response = reqwest::Client::new()
        .get(format!("{}/console/audit.csv?person=Ada", app.api.base()))
        .header(
            COOKIE,
            format!("__Host-wexqs-console={}", as_reviewer.cookie),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        response.headers()[CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let csv = response.text().await.unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 2, "the header and the one event of Ada: {csv}");
    assert!(rows[0].starts_with("log_entry,recorded_at,what"), "{csv}");
    assert!(csv.contains("'=HYPERLINK"), "a formula is defused: {csv}");
    assert!(csv.contains(&actor_of(&admin)), "{csv}");
}

async fn staff_are_added_changed_and_removed_but_never_the_last_admin(backend: Backend) {
    let Some((app, admin, reviewer)) = console_app(backend).await else {
        return;
    };
    let as_admin = Browser::signed_in(&app, &admin).await;
    let as_reviewer = Browser::signed_in(&app, &reviewer).await;
    let size = app.registry.size();
    let new = [
        ("name", "Nia New"),
        ("email", "nia@example.test"),
        ("subject", "nia"),
        ("issuer", "https://id.example.test"),
        ("role", "reviewer"),
    ];
    assert_eq!(
        as_reviewer.submit("/console/staff", &new).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.registry.size(), size);
    let done = as_admin.submit("/console/staff", &new).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(
        events_since(&app, size).await,
        vec![("staff_added".to_owned(), actor_of(&admin))]
    );
    assert!(
        as_admin
            .get("/console/staff")
            .await
            .body
            .contains("value=\"https://id.example.test\""),
        "the issuer defaults to the console's"
    );

    // The only admin cannot make themself a reviewer; the page says why.
    let size = app.registry.size();
    let own_role = format!("/console/staff/{}/role", admin.staff_id.as_str());
    let last = as_admin.submit(&own_role, &[("role", "reviewer")]).await;
    assert_eq!(last.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(last.body.contains("is the last admin"), "{}", last.body);
    let removal = format!("/console/staff/{}/remove", admin.staff_id.as_str());
    let last = as_admin.submit(&removal, &[]).await;
    assert!(last.body.contains("is the last admin"), "{}", last.body);
    assert_eq!(app.registry.size(), size, "nothing appended");

    // A reviewer made admin; then removed, their session ends.
    let promote = format!("/console/staff/{}/role", reviewer.staff_id.as_str());
    assert_eq!(
        as_admin.submit(&promote, &[("role", "admin")]).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        events_since(&app, size).await,
        vec![("staff_role_changed".to_owned(), actor_of(&admin))]
    );
    let remove = format!("/console/staff/{}/remove", reviewer.staff_id.as_str());
    assert_eq!(
        as_admin.submit(&remove, &[]).await.status,
        StatusCode::SEE_OTHER
    );
    let after = as_reviewer.get("/console/staff").await;
    assert_eq!(
        after.status,
        StatusCode::SEE_OTHER,
        "signed out: sent to sign in"
    );
    assert!(after.location.unwrap().contains("/console/sign-in"));
}

async fn the_audit_trail_pages_back_through_the_log_without_repeating_an_event(backend: Backend) {
    let Some((app, _, reviewer)) = console_app(backend).await else {
        return;
    };
    let as_reviewer = Browser::signed_in(&app, &reviewer).await;
    let mut csv = String::from(HEADER);
    for i in 0..40 {
        csv.push_str(&format!(
            "\nPaged Trust {i},PG{i:03},london,nhs_trust,gold,2025-01-01,"
        ));
    }
    let imported = app.as_admin().import_csv(csv).await;
    assert_eq!(imported.status(), StatusCode::CREATED);
    let size = app.registry.size();
    assert!(size > 120, "more events than a page: {size}");

    let entries = |body: &str| -> Vec<u64> {
        body.split("log entry ")
            .skip(1)
            .filter_map(|rest| rest.split('<').next()?.parse().ok())
            .collect()
    };
    let first = as_reviewer.get("/console/audit").await.body;
    let mut seen = entries(&first);
    assert_eq!(seen.len(), 100, "a page is 100 events");
    assert_eq!(seen[0], size - 1, "newest first");
    let marker = "before=";
    let at = first.find(marker).expect("a link to older events") + marker.len();
    let before: u64 = first[at..].split('"').next().unwrap().parse().unwrap();
    let older = as_reviewer
        .get(&format!("/console/audit?before={before}"))
        .await
        .body;
    seen.extend(entries(&older));
    let expected: Vec<u64> = (0..size).rev().collect();
    assert_eq!(seen, expected, "every event once, newest first");
    assert!(!older.contains("rel=\"next\""), "nothing older: {older}");
}
