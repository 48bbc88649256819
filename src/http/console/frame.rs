//! What every console page shares: the frame around it (the base path, who is signed in, the
//! form token every form carries, the section shown as current), the answer a page is sent in
//! (never cached, never indexed), redirects after a change, and the pages that refuse.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header;
use askama::Template;

use super::session::Session;
use crate::http::AppState;

/// The frame of a page for a signed-in person.
#[derive(Debug, Clone)]
pub(crate) struct Frame {
    /// The public URL's path, which every address on the page starts with.
    pub(crate) base: String,
    pub(crate) name: String,
    pub(crate) role: &'static str,
    pub(crate) is_admin: bool,
    pub(crate) form_token: String,
    /// The section the page is in (`dashboard`, `organisations`, `awards`, …).
    pub(crate) section: &'static str,
}

impl Frame {
    pub(crate) fn new(state: &AppState, session: &Session, section: &'static str) -> Frame {
        Frame {
            base: crate::http::prefix::base_path(&state.public_url).to_owned(),
            name: session.member.name.as_str().to_owned(),
            role: session.member.role.as_str(),
            is_admin: session.actor.role == crate::service::Role::Admin,
            form_token: session.form_token.clone(),
            section,
        }
    }

    /// `aria-current` for the navigation link of `section`.
    pub(crate) fn current(&self, section: &str) -> &'static str {
        if self.section == section {
            "page"
        } else {
            "false"
        }
    }
}

/// A console page: HTML, never cached or stored by anything between.
pub(crate) fn page(status: StatusCode, template: &impl Template) -> HttpResponse {
    match template.render() {
        Ok(body) => html(status, body),
        Err(e) => {
            tracing::error!(error = %e, "a console page could not be rendered");
            message(
                StatusCode::INTERNAL_SERVER_ERROR,
                "",
                "Something went wrong",
                "The page could not be shown. Nothing was changed. It has been logged; try again.",
            )
        }
    }
}

fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Robots-Tag", "noindex"))
        .body(body)
}

/// After a change, the page that shows it (303: the browser asks for it with GET).
pub(crate) fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

#[derive(Template)]
#[template(path = "console/message.html")]
struct MessagePage<'a> {
    base: &'a str,
    headline: &'a str,
    explanation: &'a str,
}

/// A page that says, in words, why the console cannot go on (a refusal, an error).
pub(crate) fn message(
    status: StatusCode,
    base: &str,
    headline: &str,
    explanation: &str,
) -> HttpResponse {
    let page = MessagePage {
        base,
        headline,
        explanation,
    };
    match page.render() {
        Ok(body) => html(status, body),
        Err(_) => html(
            status,
            crate::escape::markup(&format!("{headline}. {explanation}")),
        ),
    }
}
