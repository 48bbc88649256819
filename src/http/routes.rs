//! The routes of every file put together, shared by the server and the tests: each file of
//! handlers declares its routes (`ROUTES`, a method, a path and a handler each), and this file
//! makes one resource a path (a method it does not take is a 405 naming those it does). Here
//! too: the framework's own refusals of a query, a path or a body as problem+json, and the 404
//! of a path no route has.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use super::error::ApiError;
use super::route::Route;
use super::{
    access, admin, admin_lists, applications, award_changes, awards, docs, embed, exports, feeds,
    images, log, pages, programme, public, site, webhooks,
};
use crate::error_codes::ErrorCode;
use crate::limits::MAX_BODY;

/// Every file's routes, by resource: an award and what is under it, the public answers, the
/// pages people read, the transparency log, the feeds and exports, then the admin routes. (The
/// console's pages, which are not the API, are `console::TABLES`, added beside these.)
const TABLES: &[&[Route]] = &[
    awards::ROUTES,
    public::ROUTES,
    images::ROUTES,
    pages::ROUTES,
    embed::ROUTES,
    docs::ROUTES,
    site::ROUTES,
    applications::ROUTES,
    log::ROUTES,
    feeds::ROUTES,
    exports::ROUTES,
    admin::ROUTES,
    admin_lists::ROUTES,
    award_changes::ROUTES,
    programme::ROUTES,
    webhooks::ROUTES,
];

/// Every route as (method, path), the method in lower case: the OpenAPI test checks the
/// document against this list.
pub fn routes() -> impl Iterator<Item = (&'static str, &'static str)> {
    TABLES
        .iter()
        .flat_map(|table| table.iter())
        .map(|route| (route.method, route.path))
}

/// Every console route as (method, path): not part of the API or its document.
pub fn console_routes() -> impl Iterator<Item = (&'static str, &'static str)> {
    super::console::TABLES
        .iter()
        .flat_map(|table| table.iter())
        .map(|route| (route.method, route.path))
}

/// One resource a path, with a route for each of its methods: a method it does not take is a
/// 405 naming those it does. The resources with fixed paths come first, then those with
/// parameters: the router tries each in turn, and a fixed path is a string comparison where a
/// pattern is a regular expression run. No fixed path matches a pattern, so the order changes
/// no answer. The paths under each of `SCOPES` are one scope, tried as a whole by its prefix
/// (a string comparison) before the rest: a request for an award's answer tries a dozen
/// resources, not a hundred and twenty. A path a scope's prefix takes that none of its
/// resources matches is the application's 404, as before.
fn add_resources(cfg: &mut web::ServiceConfig) {
    let mut resources: Vec<(&'static str, Vec<&'static str>, Vec<actix_web::Route>)> = Vec::new();
    let console = super::console::TABLES.iter().flat_map(|table| table.iter());
    for route in TABLES.iter().flat_map(|table| table.iter()).chain(console) {
        let served = (route.serve)(route_for(route.method));
        match resources.iter_mut().find(|(p, _, _)| *p == route.path) {
            Some((_, methods, routes)) => {
                methods.push(route.method);
                routes.push(served);
            }
            None => resources.push((route.path, vec![route.method], vec![served])),
        }
    }
    resources.sort_by_key(|(path, _, _)| path.contains('{'));
    for prefix in SCOPES {
        let mut scope = web::scope(prefix);
        for (path, methods, routes) in resources.extract_if(.., |(path, _, _)| {
            path.strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        }) {
            scope = scope.service(resource(&path[prefix.len()..], path, &methods, routes));
        }
        cfg.service(scope);
    }
    for (path, methods, routes) in resources {
        cfg.service(resource(path, path, &methods, routes));
    }
}

/// The prefixes whose paths are a scope of their own (`add_resources`): the console's pages,
/// the admin routes, an award's answers and the transparency log's.
const SCOPES: [&str; 4] = ["/console", "/v1/admin", "/v1/awards", "/v1/log"];

/// The resource of `template` (matched as `path` within its scope) with a route for each of
/// `methods`, and a 405 naming them for any other.
fn resource(
    path: &str,
    template: &'static str,
    methods: &[&'static str],
    routes: Vec<actix_web::Route>,
) -> actix_web::Resource {
    let allow = allow_of(methods);
    let mut resource = web::resource(path).app_data(access::RouteTemplate(template));
    for route in routes {
        resource = resource.route(route);
    }
    resource.default_service(web::to(move || method_not_allowed(allow.clone())))
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
    add_resources(cfg);
    cfg.default_service(web::to(site::no_such_route));
}
