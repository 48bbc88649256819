//! Applications in the console: a manifest uploaded as a file, refused rule by rule with the
//! choices kept, then submitted in the admin's name, queued, checked on screen, and decided by a
//! reviewer, whose award the public pages show.

use wexqs::domain::Level;

use super::console_app;
use crate::helpers::{Backend, on_both_databases};
use crate::helpers::{at, date};

on_both_databases!(backend: an_application_uploaded_refused_rule_by_rule_then_submitted_and_decided_by_a_reviewer);

async fn an_application_uploaded_refused_rule_by_rule_then_submitted_and_decided_by_a_reviewer(
    backend: Backend,
) {
    let Some(app) = console_app(backend).await else {
        return;
    };
    let id = app.register("Applying Trust", "RAP").await;
    let page = app
        .get(&app.admin.1, &format!("/console/organisations/{id}"))
        .await;
    let done = app
        .post(
            &app.admin.1,
            &format!("/console/organisations/{id}/drop-ins"),
            &[
                ("form_token", &page.form_token()),
                ("attended_on", "2025-09-01"),
            ],
        )
        .await;
    assert_eq!(done.status, 303);

    let form = app
        .get(
            &app.admin.1,
            &format!("/console/applications/new?organisation={id}"),
        )
        .await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("enctype=\"multipart/form-data\""));
    let token = form.form_token();
    let submitted = date("2025-09-10");
    let fields = |level: &'static str| {
        [
            ("form_token", token.clone()),
            ("organisation_id", id.clone()),
            ("cycle_id", "2025-26-cycle-2".to_owned()),
            ("level_sought", level.to_owned()),
        ]
    };
    let borrowed = |f: &[(&'static str, String); 4]| -> Vec<(&'static str, String)> { f.to_vec() };

    // Too few documents for gold: refused with the rule in words, the choices kept.
    let thin = crate::applications::manifest(Level::Gold, 5, submitted);
    let before = app.last_position().await;
    let f = borrowed(&fields("gold"));
    let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let refused = app
        .upload(
            &app.admin.1,
            "/console/applications",
            &f,
            &serde_json::to_vec(&thin).unwrap(),
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused
            .body
            .contains("Not met: Enough completed documents for the level.")
    );
    assert!(
        refused
            .body
            .contains("Gold needs at least 12 completed documents")
    );
    assert!(refused.body.contains(&format!("value=\"{id}\" selected")));
    assert!(refused.body.contains("value=\"gold\" selected"));
    assert!(refused.body.contains("manifest.json"));
    // A file that is not a manifest is refused in words too.
    let not_json = app
        .upload(
            &app.admin.1,
            "/console/applications",
            &f,
            b"{\"documents\": 3}",
        )
        .await;
    assert_eq!(not_json.status, 422);
    assert!(not_json.body.contains("is not an evidence manifest"));
    // Without the session's form token nothing is read further.
    let mut forged = f.clone();
    forged[0] = ("form_token", "forged");
    let forged = app
        .upload(
            &app.admin.1,
            "/console/applications",
            &forged,
            &serde_json::to_vec(&thin).unwrap(),
        )
        .await;
    assert_eq!(forged.status, 403);
    // A reviewer may not submit.
    let by_reviewer = app
        .upload(
            &app.reviewer.1,
            "/console/applications",
            &f,
            &serde_json::to_vec(&thin).unwrap(),
        )
        .await;
    assert_eq!(by_reviewer.status, 403);
    assert!(app.appended_after(before).await.is_empty());

    // Enough evidence for silver: submitted in the admin's name.
    let good = crate::applications::manifest(Level::Silver, 8, submitted);
    let f = borrowed(&fields("silver"));
    let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let done = app
        .upload(
            &app.admin.1,
            "/console/applications",
            &f,
            &serde_json::to_vec(&good).unwrap(),
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(
        app.appended_after(before).await,
        vec![("application_submitted".to_owned(), app.admin_actor())]
    );
    let application = done
        .location
        .rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_owned();

    // The queue and the page, for both roles: every rule at the level sought, met, in words.
    for cookie in [&app.admin.1, &app.reviewer.1] {
        let queue = app
            .get(
                cookie,
                "/console/applications?cycle=2025-26-cycle-2&state=awaiting_decision",
            )
            .await;
        assert_eq!(queue.status, 200);
        assert!(
            queue
                .body
                .contains(&format!("/console/applications/{application}"))
        );
        let page = app
            .get(cookie, &format!("/console/applications/{application}"))
            .await;
        assert_eq!(page.status, 200);
        assert!(
            page.body
                .contains("At Silver, the level sought: every rule met")
        );
        assert!(
            page.body
                .contains("Met: Enough completed documents for the level.")
        );
        assert!(page.body.contains("Not met: Enough completed documents")); // at gold
        assert!(page.body.contains("Record the decision"));
    }

    // The reviewer decides in the decision window: a level above the one sought is refused.
    // (Months later, so the reviewer signs in again.)
    app.clock.set(at(2025, 12, 5));
    let member = app.registry.staff_member(&app.reviewer.0).unwrap();
    let reviewer = wexqs::testing::console_session(&app.registry, &member).await;
    let page = app
        .get(&reviewer, &format!("/console/applications/{application}"))
        .await;
    let before = app.last_position().await;
    let refused = app
        .post(
            &reviewer,
            &format!("/console/applications/{application}/decision"),
            &[
                ("form_token", &page.form_token()),
                ("decision", "awarded"),
                ("level", "gold"),
                ("feedback", "Strong commentary throughout."),
            ],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body.contains("The decision was not recorded"));
    assert!(refused.body.contains("Strong commentary throughout."));
    assert!(app.appended_after(before).await.is_empty());
    let done = app
        .post(
            &reviewer,
            &format!("/console/applications/{application}/decision"),
            &[
                ("form_token", &page.form_token()),
                ("decision", "awarded"),
                ("level", "silver"),
                ("feedback", "Strong commentary throughout."),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let appended = app.appended_after(before).await;
    assert!(
        appended
            .iter()
            .any(|(t, a)| t == "application_decided" && *a == app.reviewer_actor()),
        "{appended:?}"
    );
    assert!(
        appended
            .iter()
            .any(|(t, a)| t == "award_issued" && *a == app.reviewer_actor()),
        "{appended:?}"
    );
    let page = app
        .get(&reviewer, &format!("/console/applications/{application}"))
        .await;
    assert!(page.body.contains("Awarded at Silver"));
    let start = page.body.find("/console/awards/").unwrap() + "/console/awards/".len();
    let number = &page.body[start..start + 19];
    // The public page shows the award.
    let public = app
        .http
        .get(format!("{}/verify/{number}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), 200);
    assert!(public.text().await.unwrap().contains("Applying Trust"));
    // And the organisation's page lists it.
    let org = app
        .get(&reviewer, &format!("/console/organisations/{id}"))
        .await;
    assert!(org.body.contains(&format!("/console/awards/{number}")));
}
