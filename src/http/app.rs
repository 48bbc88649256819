//! The application: the routes behind the middleware every request passes through, in the order
//! that matters; the headers every answer carries; the public routes' rate limit.

use actix_cors::Cors;
use actix_web::dev::Service as _;
use actix_web::http::{Method, header};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{App, HttpMessage as _, HttpResponse, web};

use super::error::{self, ApiError};
use super::limiter::{RateLimiter, wait_of};
use super::routes::configure;
use super::state::AppState;
use super::{access, client, exports, freshness, guard, lifecycle, prefix, site};
use crate::error_codes::ErrorCode;

fn cors() -> Cors {
    Cors::default()
        .allow_any_origin()
        .allowed_methods([Method::GET, Method::HEAD, Method::POST])
        .allow_any_header()
        .expose_headers([header::ETAG, header::CACHE_CONTROL, header::RETRY_AFTER])
        .expose_headers([header::LINK])
        // What an export states about itself, so a page on another site can check it.
        .expose_headers([
            exports::LOG_SIZE,
            exports::CHECKPOINT_SIZE,
            exports::CHECKPOINT_ROOT,
            exports::AS_OF,
            exports::SIGNATURE,
            exports::SIGNATURE_KEY,
        ])
        .max_age(86_400)
}

/// The content security policy of every answer but the embed pages: nothing may frame it.
const CSP_NOT_FRAMED: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
/// The content security policy of the embed pages: anyone may frame them.
const CSP_EMBEDDABLE: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors *";

/// The headers every routed response carries: a content security policy that lets only the
/// embed pages be framed (by anyone). Static values: nothing is formatted or checked per request.
fn security_headers(headers: &mut header::HeaderMap, embeddable: bool) {
    use header::HeaderValue;
    let csp = if embeddable {
        CSP_EMBEDDABLE
    } else {
        CSP_NOT_FRAMED
    };
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    if !embeddable {
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
}

/// The headers every response carries, those the stack answers itself included (a CORS
/// preflight): no sniffing, no referrer. A handler's own value stays.
fn default_headers(headers: &mut header::HeaderMap) {
    use header::HeaderValue;
    if !headers.contains_key(header::X_CONTENT_TYPE_OPTIONS) {
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
    }
    if !headers.contains_key(header::REFERRER_POLICY) {
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
    }
}

/// A 429 for a client over its rate on a public route, or nothing to say: a page on the routes
/// people open, problem+json on the API.
fn rate_limited(
    limiter: &RateLimiter,
    req: &actix_web::dev::ServiceRequest,
) -> Option<HttpResponse> {
    let path = req.path();
    if path.starts_with("/v1/admin/") || path == "/healthz" || path == "/readyz" {
        return None;
    }
    let seconds = wait_of(limiter, client::client_ip(req)?)?;
    if let Some(state) = req.app_data::<web::Data<AppState>>()
        && site::for_people(path, req.headers())
    {
        return Some(site::rate_limited_page(path, seconds, &state.public_url));
    }
    let problem = ApiError::new(
        ErrorCode::RateLimited,
        format!("too many requests from this address; try again in {seconds} s"),
    );
    Some(actix_web::ResponseError::error_response(
        &problem.retry_after(seconds),
    ))
}

/// A request as the routes and CORS are to see it, before anything looks at its path.
fn normalise_request(base: &str, req: &mut actix_web::dev::ServiceRequest) {
    // A request that still carries the public URL's path is answered as if the proxy had
    // stripped it (`prefix`).
    prefix::strip(base, req);
    // Admin routes are for the programme team's tools, never a browser on another site:
    // without its Origin and preflight headers, a request gets no CORS headers and a preflight
    // is an OPTIONS like any other, which no route takes.
    // The console's pages are for its own origin alone: whether the browser says a request
    // came from there is kept for `console::session::admit`, then it gets no CORS headers either.
    let console = super::console::session::is_console(req.path());
    if console {
        let same = req
            .app_data::<web::Data<AppState>>()
            .is_some_and(|s| super::console::session::same_origin(req.headers(), &s.public_url));
        req.extensions_mut()
            .insert(super::console::session::SameOrigin(same));
    }
    if console || req.path().starts_with("/v1/admin/") {
        let headers = req.headers_mut();
        headers.remove(header::ORIGIN);
        headers.remove(header::ACCESS_CONTROL_REQUEST_METHOD);
        headers.remove(header::ACCESS_CONTROL_REQUEST_HEADERS);
    }
}

/// The application: the routes behind the middleware every request passes through.
pub(super) fn app(
    state: AppState,
) -> App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    // Four layers, each doing what it must and no more (every layer costs each request a
    // future and a pass over the response): outermost the headers every answer carries and the
    // admin routes' CORS headers removed; then CORS; then the rate limit (a test of an `Option`
    // when there is none); then the security policy and the framework's own errors as
    // problem+json; innermost the catch-up of a read that misses (`freshness`). Around them
    // all, the requests in flight (`lifecycle`), and outermost the client, the request id, the
    // access line and the request series (`access`).
    let limiter = state.rate_limit.clone();
    let base = prefix::base_path(&state.public_url).to_owned();
    App::new()
        .app_data(web::Data::new(state))
        // Innermost: a read catches up with the log when it misses or names a position.
        .wrap(actix_web::middleware::from_fn(freshness::fresh_reads))
        // Then the caller and the body's room and deadline, before any of the body is read.
        .wrap(actix_web::middleware::from_fn(guard::admit))
        .wrap_fn(|req, srv| {
            let embeddable = req.path().starts_with("/embed/");
            let open_data = exports::is_open_data(req.path());
            let fut = srv.call(req);
            async move {
                let mut res = fut.await?;
                security_headers(res.headers_mut(), embeddable);
                exports::licence_link(open_data, res.status(), res.headers_mut());
                let status = res.status();
                if !status.is_client_error() && !status.is_server_error() {
                    return Ok(res.map_into_left_body());
                }
                match error::problem_for_framework_errors(res)? {
                    ErrorHandlerResponse::Response(res) => Ok(res),
                    ErrorHandlerResponse::Future(fut) => fut.await,
                }
            }
        })
        .wrap_fn(move |req, srv| {
            let outcome = match limiter.as_ref().and_then(|l| rate_limited(l, &req)) {
                Some(refusal) => Err(req.into_response(refusal)),
                None => Ok(srv.call(req)),
            };
            async move {
                match outcome {
                    Ok(fut) => fut.await.map(|r| r.map_into_left_body()),
                    Err(refused) => Ok(refused.map_into_right_body()),
                }
            }
        })
        .wrap(cors())
        .wrap_fn(move |mut req, srv| {
            normalise_request(&base, &mut req);
            let fut = srv.call(req);
            async move {
                let mut res = fut.await?;
                default_headers(res.headers_mut());
                Ok(res)
            }
        })
        .wrap(actix_web::middleware::from_fn(lifecycle::track))
        // Outermost: the client's address, the request id, the access line and the metrics.
        .wrap(actix_web::middleware::from_fn(access::log))
        .configure(configure)
}
