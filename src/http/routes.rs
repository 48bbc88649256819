//! The route table, shared by the server and the tests: each route's method, path and handler,
//! one resource a path (a method it does not take is a 405 naming those it does), the framework's
//! own refusals of a query, a path or a body as problem+json, and the 404 of a path no route has.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use super::error::ApiError;
use super::{
    access, admin, applications, award_changes, docs, embed, exports, feeds, images, log, pages,
    programme, public, receipts, site, webhooks,
};
use crate::error_codes::ErrorCode;
use crate::limits::MAX_BODY;

macro_rules! route_table {
    ($( $method:ident $path:literal => $handler:path ),* $(,)?) => {
        /// Every route: (method, path). The OpenAPI test checks the document against this list.
        pub const ROUTES: &[(&str, &str)] = &[ $( (stringify!($method), $path) ),* ];

        /// One resource a path, with a route for each of its methods: a method it does not
        /// take is a 405 naming those it does. The resources with fixed paths come first,
        /// then those with parameters: the router tries each in turn, and a fixed path is a
        /// string comparison where a pattern is a regular expression run. No fixed path
        /// matches a pattern, so the order changes no answer.
        fn register_routes(cfg: &mut web::ServiceConfig) {
            let mut resources: Vec<(&'static str, Vec<&'static str>, Vec<actix_web::Route>)> =
                Vec::new();
            $( {
                let route = route_for(stringify!($method)).to($handler);
                match resources.iter_mut().find(|(p, _, _)| *p == $path) {
                    Some((_, methods, routes)) => {
                        methods.push(stringify!($method));
                        routes.push(route);
                    }
                    None => resources.push(($path, vec![stringify!($method)], vec![route])),
                }
            } )*
            resources.sort_by_key(|(path, _, _)| path.contains('{'));
            for (path, methods, routes) in resources {
                let allow = allow_of(&methods);
                let mut resource = web::resource(path).app_data(access::RouteTemplate(path));
                for route in routes {
                    resource = resource.route(route);
                }
                cfg.service(resource.default_service(web::to(move || {
                    method_not_allowed(allow.clone())
                })));
            }
        }
    };
}

/// A route for a method; every GET route answers HEAD too (caches and `curl -I` use it).
fn route_for(method: &str) -> actix_web::Route {
    use actix_web::guard;
    match method {
        "get" => web::route().guard(guard::Any(guard::Get()).or(guard::Head())),
        "delete" => web::delete(),
        _ => web::post(),
    }
}

/// The `Allow` header of a path served with `methods` (every GET answers HEAD too).
pub fn allow_of(methods: &[&str]) -> String {
    methods
        .iter()
        .map(|m| match *m {
            "get" => "GET, HEAD",
            "delete" => "DELETE",
            _ => "POST",
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A route asked with a method it does not take: 405 with the methods it does take in `Allow`
/// (RFC 9110), not the 404 an unknown route gets.
async fn method_not_allowed(allow: String) -> HttpResponse {
    let problem = ApiError::new(
        ErrorCode::MethodNotAllowed,
        format!("this route takes {allow} only; see /openapi.json"),
    );
    let mut response = actix_web::ResponseError::error_response(&problem);
    response.headers_mut().insert(
        header::ALLOW,
        header::HeaderValue::from_str(&allow).expect("method names are header values"),
    );
    response
}

route_table! {
    get "/v1/awards/{certificate_number}" => public::award,
    get "/v1/awards/{certificate_number}/verification" => public::verification,
    post "/v1/verify" => public::check_presented,
    get "/v1/register" => public::register,
    get "/v1/awards/{certificate_number}/credential" => public::credential,
    get "/v1/awards/{certificate_number}/logo.svg" => images::logo_svg,
    get "/v1/awards/{certificate_number}/logo.png" => images::logo_png,
    get "/v1/awards/{certificate_number}/certificate.pdf" => images::certificate_pdf,
    get "/v1/awards/{certificate_number}/badge.svg" => embed::badge_svg,
    get "/v1/awards/{certificate_number}/qr.svg" => images::qr_svg,
    get "/v1/awards/{certificate_number}/qr.png" => images::qr_png,
    get "/achievements/{level}" => pages::achievement,
    get "/v1/achievements/{level}" => public::achievement,
    get "/achievements/{level}/logo.svg" => images::level_logo_svg,
    get "/achievements/{level}/logo.png" => images::level_logo_png,
    get "/v1/status-lists/{list_id}" => public::status_list,
    get "/.well-known/did.json" => public::did_json,
    get "/did.json" => public::did_json,
    get "/v1/programme" => public::programme,
    get "/" => pages::index,
    get "/verify/{certificate_number}" => pages::verify_page,
    get "/embed/{certificate_number}" => embed::embed_page,
    get "/embed.js" => embed::embed_js,
    get "/oembed" => embed::oembed,
    get "/docs" => docs::docs,
    get "/accessibility" => site::accessibility,
    get "/privacy" => site::privacy,
    get "/favicon.ico" => images::favicon,
    get "/assets/site.css" => pages::site_css,
    get "/healthz" => public::healthz,
    get "/readyz" => public::readyz,
    get "/openapi.json" => public::openapi,
    post "/v1/admin/organisations" => admin::create_organisation,
    get "/v1/admin/organisations/{organisation_id}" => admin::get_organisation,
    post "/v1/admin/organisations/{organisation_id}/amend" => admin::amend_organisation,
    post "/v1/admin/awards" => admin::issue_award,
    post "/v1/admin/awards/import" => admin::import_awards,
    post "/v1/admin/awards/{certificate_number}/suspend" => award_changes::suspend,
    post "/v1/admin/awards/{certificate_number}/reinstate" => award_changes::reinstate,
    post "/v1/admin/awards/{certificate_number}/revoke" => award_changes::revoke,
    post "/v1/admin/awards/{certificate_number}/amend" => award_changes::amend_award,
    post "/v1/admin/programme/pause" => programme::pause,
    post "/v1/admin/programme/resume" => programme::resume,
    post "/v1/admin/programme/sunset" => programme::sunset,
    post "/v1/admin/programme/cycles" => programme::schedule_cycle,
    post "/v1/admin/expiries" => admin::expire_due,
    get "/v1/admin/events" => admin::events,
    post "/v1/admin/organisations/{organisation_id}/drop-ins" => applications::record_drop_in,
    post "/v1/admin/applications" => applications::submit,
    get "/v1/admin/applications/{application_id}" => applications::get,
    post "/v1/admin/applications/{application_id}/decision" => applications::decide,
    get "/v1/framework" => applications::framework,
    get "/v1/log/checkpoint" => log::checkpoint,
    get "/v1/log/key" => log::key,
    get "/v1/log/proofs/inclusion" => log::inclusion,
    get "/v1/log/proofs/consistency" => log::consistency,
    get "/v1/log/entries" => log::entries,
    get "/v1/awards/{certificate_number}/receipt" => receipts::receipt,
    get "/v1/feed.atom" => feeds::feed,
    get "/v1/organisations/{organisation_id}/feed.atom" => feeds::organisation_feed,
    get "/v1/awards/{certificate_number}/calendar.ics" => feeds::award_calendar,
    get "/v1/organisations/{organisation_id}/calendar.ics" => feeds::organisation_calendar,
    get "/v1/exports/register.csv" => exports::register_csv,
    get "/v1/exports/register.json" => exports::register_json,
    post "/v1/admin/webhooks" => webhooks::create,
    get "/v1/admin/webhooks" => webhooks::list,
    get "/v1/admin/webhooks/{webhook_id}" => webhooks::show,
    delete "/v1/admin/webhooks/{webhook_id}" => webhooks::delete,
    post "/v1/admin/webhooks/{webhook_id}/rotate-secret" => webhooks::rotate_secret,
    get "/v1/admin/webhooks/{webhook_id}/deliveries" => webhooks::deliveries,
    post "/v1/admin/webhooks/{webhook_id}/replay" => webhooks::replay,
}

/// Registers every route, the body limits and the error shapes on an app.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::PayloadConfig::new(MAX_BODY))
        .app_data(web::QueryConfig::default().error_handler(|err, _| {
            ApiError::new(
                ErrorCode::QueryInvalid,
                format!("the query string is not valid: {err}"),
            )
            .into()
        }))
        .app_data(web::PathConfig::default().error_handler(|err, _| {
            ApiError::new(
                ErrorCode::PathInvalid,
                format!("the path is not valid: {err}"),
            )
            .into()
        }));
    register_routes(cfg);
    cfg.default_service(web::to(site::no_such_route));
}
