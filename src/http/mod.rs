//! HTTP (actix-web): the route table, shared by the server and the tests, and the server itself.
//! Handlers are thin: parse, call the service, shape the answer.

pub mod accept;
pub mod access;
pub mod admin;
pub mod applications;
pub mod award_changes;
pub mod client;
pub mod docs;
pub mod embed;
pub mod error;
pub mod exports;
pub mod extract;
pub mod feeds;
pub mod freshness;
pub mod guard;
pub mod images;
pub mod lifecycle;
pub mod log;
pub mod metrics;
pub mod pages;
pub mod prefix;
pub mod prepared;
pub mod programme;
pub mod public;
pub mod receipts;
pub mod search;
pub mod shared;
pub mod site;
pub mod transport;
pub mod views;
pub mod webhooks;

use std::net::TcpListener;
use std::sync::Arc;

use actix_cors::Cors;
use actix_web::dev::Service as _;
use actix_web::http::{Method, header};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{App, HttpResponse, web};

use crate::error_codes::ErrorCode;
use crate::service::Registry;
use error::ApiError;
pub use extract::{find_award, parse_number};
pub use shared::{answers_version, award_max_age, client_holds, conditional, not_modified};

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub registry: Arc<Registry>,
    /// The base URL people reach the registry at, without a trailing slash.
    pub public_url: String,
    /// The OpenAPI document as JSON, converted once from `openapi/openapi.yaml`.
    pub openapi_json: String,
    /// Rendered images, shared by the workers.
    pub images: Arc<images::ImageCache>,
    /// Answers about awards, prepared once per change and shared by the workers.
    pub prepared: Arc<prepared::Prepared>,
    /// The latest signature of each open data export, kept until what it reflects changes.
    pub export_signatures: Arc<exports::ExportSignatures>,
    /// The API docs page, rendered once from the OpenAPI document.
    pub docs_html: String,
    /// The framework applications are judged against.
    pub framework: Arc<crate::domain::framework::Framework>,
    /// Requests a second each client address may make to public routes (none: no limit).
    pub rate_limit: Option<Arc<RateLimiter>>,
    /// Turns for checking presented credentials (`crate::limits::MAX_CONCURRENT_VERIFICATIONS`).
    pub verifications: Arc<tokio::sync::Semaphore>,
    /// How webhook targets are checked (`wexqs serve`'s webhook options).
    pub webhooks: Arc<crate::service::webhooks::WebhookSettings>,
    /// The bounds on connections and bodies (`wexqs serve`'s options).
    pub limits: crate::limits::Limits,
    /// Room for the bodies being read at once, a permit a byte (`Limits::body_budget`).
    pub bodies: Arc<tokio::sync::Semaphore>,
    /// Failed admin attempts per client address (`Limits::admin_failures_per_minute`).
    pub admin_failures: Option<Arc<guard::FailureLimiter>>,
    /// The connections open, counted by address (`Limits::max_connections`).
    pub connections: Arc<transport::Connections>,
    /// Serving or draining, and the requests in flight (`lifecycle`).
    pub lifecycle: Arc<lifecycle::Lifecycle>,
    /// The proxies whose word on the client's address is taken (`--trusted-proxies`).
    pub trusted_proxies: Arc<client::TrustedProxies>,
    /// The request series (none: metrics are off, and nothing is counted).
    pub metrics: Option<Arc<metrics::HttpMetrics>>,
}

/// The per-client-address limiter of public routes.
pub type RateLimiter = governor::DefaultKeyedRateLimiter<std::net::IpAddr>;

/// The API description, as written.
pub const OPENAPI_YAML: &str = include_str!("../../openapi/openapi.yaml");

impl AppState {
    pub fn new(registry: Arc<Registry>, public_url: &str) -> AppState {
        let mut spec: serde_json::Value = serde_norway::from_str(OPENAPI_YAML)
            .expect("openapi/openapi.yaml is valid YAML (tested)");
        let public_url = public_url.trim_end_matches('/');
        // The document says where its paths are served: the public URL, with its path.
        spec["servers"] = serde_json::json!([{ "url": public_url }]);
        AppState {
            registry,
            public_url: public_url.to_owned(),
            docs_html: docs::render_docs(&spec, prefix::base_path(public_url)),
            openapi_json: spec.to_string(),
            images: Arc::default(),
            prepared: Arc::default(),
            export_signatures: Arc::default(),
            rate_limit: None,
            webhooks: Arc::default(),
            limits: crate::limits::Limits::one_address(),
            bodies: Arc::new(tokio::sync::Semaphore::new(
                crate::limits::Limits::one_address().body_budget,
            )),
            admin_failures: None,
            connections: Arc::default(),
            lifecycle: Arc::default(),
            trusted_proxies: Arc::default(),
            metrics: None,
            verifications: Arc::new(tokio::sync::Semaphore::new(
                crate::limits::MAX_CONCURRENT_VERIFICATIONS,
            )),
            framework: Arc::new(
                crate::domain::framework::Framework::parse(
                    crate::domain::framework::SAMPLE_FRAMEWORK,
                )
                .expect("the shipped framework is valid (tested)"),
            ),
        }
    }

    /// Bounds connections and bodies as `limits` say.
    pub fn with_limits(mut self, limits: crate::limits::Limits) -> AppState {
        self.limits = limits;
        self.bodies = Arc::new(tokio::sync::Semaphore::new(limits.body_budget));
        self.admin_failures = guard::failure_limiter(limits.admin_failures_per_minute);
        self.connections = Arc::new(transport::Connections::default());
        self
    }

    /// Drains for at most `timeout` when the server is stopped (`lifecycle`).
    pub fn with_shutdown_timeout(mut self, timeout: std::time::Duration) -> AppState {
        self.lifecycle = Arc::new(lifecycle::Lifecycle::new(timeout));
        self
    }

    /// Takes the client's address from `Forwarded` / `X-Forwarded-For` when the peer is one of
    /// `proxies`.
    pub fn with_trusted_proxies(mut self, proxies: client::TrustedProxies) -> AppState {
        self.trusted_proxies = Arc::new(proxies);
        self
    }

    /// Counts and times requests into `metrics` (`http::metrics`).
    pub fn with_metrics(mut self, metrics: Arc<metrics::HttpMetrics>) -> AppState {
        self.metrics = Some(metrics);
        self
    }

    /// Checks webhook targets as `settings` say.
    pub fn with_webhooks(
        mut self,
        settings: crate::service::webhooks::WebhookSettings,
    ) -> AppState {
        self.webhooks = Arc::new(settings);
        self
    }

    /// Limits each client address to `per_second` requests a second on public routes, with
    /// bursts of up to five seconds' worth (0: no limit).
    pub fn with_rate_limit(mut self, per_second: u32) -> AppState {
        self.rate_limit = std::num::NonZeroU32::new(per_second).map(|n| {
            let burst = n.saturating_mul(std::num::NonZeroU32::new(5).expect("5 is not zero"));
            Arc::new(governor::RateLimiter::keyed(
                governor::Quota::per_second(n).allow_burst(burst),
            ))
        });
        self
    }
}

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
    post "/v1/admin/awards/{certificate_number}/suspend" => admin::suspend,
    post "/v1/admin/awards/{certificate_number}/reinstate" => admin::reinstate,
    post "/v1/admin/awards/{certificate_number}/revoke" => admin::revoke,
    post "/v1/admin/awards/{certificate_number}/amend" => admin::amend_award,
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

pub use crate::limits::MAX_BODY;

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

/// Counts a request from `ip` against `limiter`: `None` while it is within its rate, else the
/// seconds to wait. Addresses not seen lately are forgotten once there are many.
fn wait_of(limiter: &RateLimiter, ip: std::net::IpAddr) -> Option<u64> {
    let wait = limiter.check_key(&ip).err()?;
    use governor::clock::{Clock, DefaultClock};
    if limiter.len() > 100_000 {
        limiter.retain_recent();
    }
    Some(wait.wait_time_from(DefaultClock::default().now()).as_secs() + 1)
}

/// Serves the registry on `listener` (its own accept loop and workers, `accept`) until `shutdown`
/// resolves, then drains: no connection is taken after, and the process waits for those open to
/// close, `Lifecycle::timeout` less a second at most.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    workers: usize,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let open = state.connections.clone();
    let draining = state.lifecycle.clone();
    // Past the drain's time the workers drop what is left; the second kept back lets the
    // process release what it holds (webhook leases) and exit within the timeout.
    let drain_time = draining
        .timeout
        .saturating_sub(std::time::Duration::from_secs(1))
        .max(std::time::Duration::from_secs(1));
    let workers = accept::Workers::start(workers, &state)?;
    let listener_closed = accept::start(listener, &workers, &state)?;
    shutdown.await;
    // Not ready at once, so a load balancer sends no more; the accept loop closes the listener
    // as the drain begins, and the requests in flight finish while idle connections close.
    draining.begin_drain();
    tracing::info!(
        "shutting down: readiness is 503, no new connections are taken, and requests in flight finish (at most {} s)",
        draining.timeout.as_secs()
    );
    lifecycle::report_drain(draining.clone(), open.clone());
    let _ = listener_closed.await;
    let started = std::time::Instant::now();
    while open.open() > 0 {
        if started.elapsed() >= drain_time {
            tracing::warn!(
                "shutting down: the drain took its whole {} s; the connections still open were closed",
                drain_time.as_secs()
            );
            break;
        }
        tokio::time::sleep(DRAIN_POLL).await;
    }
    // The workers' queues close with `workers`, and each drops what it still holds.
    drop(workers);
    Ok(())
}

/// How often the drain looks whether the last connection has closed.
const DRAIN_POLL: std::time::Duration = std::time::Duration::from_millis(20);

/// The application: the routes behind the middleware every request passes through.
fn app(
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
            // A request that still carries the public URL's path is answered as if the proxy
            // had stripped it (`prefix`), before anything looks at the path.
            prefix::strip(&base, &mut req);
            // Admin routes are for the programme team's tools, never a browser on another
            // site: without its Origin and preflight headers, a request gets no CORS headers and
            // a preflight is an OPTIONS like any other, which no route takes.
            if req.path().starts_with("/v1/admin/") {
                let headers = req.headers_mut();
                headers.remove(header::ORIGIN);
                headers.remove(header::ACCESS_CONTROL_REQUEST_METHOD);
                headers.remove(header::ACCESS_CONTROL_REQUEST_HEADERS);
            }
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
