//! Webhooks and API tokens in the console: a token made there shown once, listed by name, then
//! revoked; a webhook's secret shown once, and its deletion only after the confirm step.

use super::console_app;
use crate::helpers::{Backend, on_both_databases};

on_both_databases!(backend: a_token_made_in_the_console_is_shown_once_listed_by_name_and_revoked, a_webhook_made_in_the_console_shows_its_secret_once_and_is_deleted_after_a_confirm_step);

async fn a_token_made_in_the_console_is_shown_once_listed_by_name_and_revoked(backend: Backend) {
    let Some(app) = console_app(backend).await else {
        return;
    };
    let page = app.get(&app.admin.1, "/console/integrations").await;
    assert_eq!(page.status, 200);
    let before = app.last_position().await;
    let made = app
        .post(
            &app.admin.1,
            "/console/integrations/tokens",
            &[
                ("form_token", &page.form_token()),
                ("name", "Nightly reporting job"),
                ("role", "reviewer"),
            ],
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    assert!(made.body.contains("it is not shown again"));
    let start = made
        .body
        .find("value=\"wexqs_")
        .expect("the token is shown")
        + 7;
    let end = made.body[start..].find('"').unwrap() + start;
    let token = made.body[start..end].to_owned();
    assert_eq!(
        app.appended_after(before).await,
        vec![("api_token_created".to_owned(), app.admin_actor())]
    );
    // The token works on the API, and the list names it without showing it again.
    let api = app
        .http
        .get(format!("{}/v1/admin/organisations", app.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 200);
    let list = app.get(&app.admin.1, "/console/integrations").await;
    assert!(list.body.contains("Nightly reporting job"));
    assert!(!list.body.contains(&token));
    assert!(!list.body.contains("not shown again"));

    let token_id = token.split('_').nth(1).unwrap();
    let before = app.last_position().await;
    let revoked = app
        .post(
            &app.admin.1,
            &format!("/console/integrations/tokens/{token_id}/revoke"),
            &[("form_token", &list.form_token())],
        )
        .await;
    assert_eq!(revoked.status, 303);
    assert_eq!(
        app.appended_after(before).await,
        vec![("api_token_revoked".to_owned(), app.admin_actor())]
    );
    let list = app.get(&app.admin.1, "/console/integrations").await;
    assert!(
        !list
            .body
            .contains(&format!("/console/integrations/tokens/{token_id}/revoke"))
    );
    let api = app
        .http
        .get(format!("{}/v1/admin/organisations", app.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 401);
}

async fn a_webhook_made_in_the_console_shows_its_secret_once_and_is_deleted_after_a_confirm_step(
    backend: Backend,
) {
    let Some(app) = console_app(backend).await else {
        return;
    };
    let page = app.get(&app.admin.1, "/console/integrations").await;
    let before = app.last_position().await;
    let made = app
        .post(
            &app.admin.1,
            "/console/integrations/webhooks",
            &[
                ("form_token", &page.form_token()),
                ("url", "http://127.0.0.1:9/hooks/registry"),
                ("event_types", "award.issued"),
                ("event_types", "award.revoked"),
            ],
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    assert!(made.body.contains("it is not shown again"));
    assert!(made.body.contains("Signing secret"));
    let appended = app.appended_after(before).await;
    assert_eq!(
        appended,
        vec![("webhook_subscribed".to_owned(), app.admin_actor())]
    );
    let list = app.get(&app.admin.1, "/console/integrations").await;
    assert!(list.body.contains("http://127.0.0.1:9"));
    assert!(list.body.contains("award.issued, award.revoked"));
    assert!(!list.body.contains("not shown again"));
    let start = list.body.find("/console/integrations/webhooks/").unwrap();
    let end = list.body[start..].find("/delete").unwrap() + start;
    let delete = format!("{}/delete", &list.body[start..end]);

    // The confirm step, then the deletion; without the confirmation nothing is deleted.
    let confirm = app.get(&app.admin.1, &delete).await;
    assert_eq!(confirm.status, 200);
    assert!(confirm.body.contains("Delete the subscription"));
    let before = app.last_position().await;
    let unconfirmed = app
        .post(
            &app.admin.1,
            &delete,
            &[("form_token", &confirm.form_token())],
        )
        .await;
    assert_eq!(unconfirmed.status, 303);
    assert!(unconfirmed.location.ends_with(&delete));
    assert!(app.appended_after(before).await.is_empty());
    let deleted = app
        .post(
            &app.admin.1,
            &delete,
            &[("form_token", &confirm.form_token()), ("confirm", "yes")],
        )
        .await;
    assert_eq!(deleted.status, 303);
    assert_eq!(
        app.appended_after(before).await,
        vec![("webhook_deleted".to_owned(), app.admin_actor())]
    );
    let list = app.get(&app.admin.1, "/console/integrations").await;
    assert!(list.body.contains("No webhook subscription."));
}
