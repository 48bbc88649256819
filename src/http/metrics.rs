//! Prometheus metrics: the request series (each request counted and timed by route template,
//! method and status, from the access middleware, `access::log`), and the separate listener that serves `GET /metrics` (the registry's
//! vital signs from `service::vitals` beside the request series).
//!
//! Invariants: a series' labels come from fixed sets only (the route table's templates, or
//! `unmatched` for any path no route takes; a handful of method names; the status code), so
//! a scan of random paths adds no series. Per request one counter and one histogram are
//! updated, with the time the access line measures and the label the router left on the
//! request: nothing is allocated or formatted.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{HttpResponse, web};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry as Metrics;

use crate::service::Registry;
use crate::service::vitals::{Vitals, WebhookVitals};

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    method: &'static str,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LatencyLabels {
    route: &'static str,
    method: &'static str,
}

/// The request series, shared by every worker.
#[derive(Debug)]
pub(crate) struct HttpMetrics {
    /// Which of the process's `HttpMetrics` this is (a worker's handles are kept by it).
    id: u64,
    requests: Family<RequestLabels, Counter>,
    latency: Family<LatencyLabels, Histogram, fn() -> Histogram>,
    registry: Metrics,
}

/// Latency buckets, in seconds: from half a millisecond (an answer from memory) to ten seconds.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

impl Default for HttpMetrics {
    fn default() -> Self {
        HttpMetrics::new()
    }
}

impl HttpMetrics {
    pub(crate) fn new() -> HttpMetrics {
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<LatencyLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        let mut registry = Metrics::default();
        registry.register(
            "wexqs_http_requests",
            "HTTP requests answered, by route template (`unmatched`: no route), method and status",
            requests.clone(),
        );
        registry.register(
            "wexqs_http_request_duration_seconds",
            "Time from a request's head to its answer's head, by route template and method",
            latency.clone(),
        );
        let start = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let started = Gauge::<i64>::default();
        started.set(start);
        registry.register(
            "wexqs_process_start_time_seconds",
            "When this process started, as unix time",
            started,
        );
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        HttpMetrics {
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            requests,
            latency,
            registry,
        }
    }

    /// Counts one request answered `status` after `elapsed` (`route`: its template, or
    /// `access::UNMATCHED`).
    pub(crate) fn observe(
        &self,
        route: &'static str,
        method: &actix_web::http::Method,
        status: u16,
        elapsed: Duration,
    ) {
        let key = HandleKey {
            metrics: self.id,
            route,
            method: method_label(method),
            status,
        };
        HANDLES.with(|handles| {
            let mut handles = handles.borrow_mut();
            let found = handles.iter().position(|(k, _, _)| *k == key);
            let (_, counter, histogram) = match found {
                Some(i) => &handles[i],
                None => {
                    if handles.len() == HANDLES_KEPT {
                        handles.clear();
                    }
                    handles.push((key, self.counter(key), self.histogram(key)));
                    &handles[handles.len() - 1]
                }
            };
            counter.inc();
            histogram.observe(elapsed.as_secs_f64());
        });
    }

    fn counter(&self, key: HandleKey) -> Counter {
        self.requests
            .get_or_create(&RequestLabels {
                route: key.route,
                method: key.method,
                status: key.status,
            })
            .clone()
    }

    fn histogram(&self, key: HandleKey) -> Histogram {
        self.latency
            .get_or_create(&LatencyLabels {
                route: key.route,
                method: key.method,
            })
            .clone()
    }

    /// The scrape: the request series, then the registry's vital signs, in the OpenMetrics
    /// text format.
    pub(crate) fn render(&self, vitals: &Vitals) -> String {
        let mut out = String::with_capacity(16 * 1024);
        // Writing to a String fails only if an encoder says so; none of ours does.
        let _ = prometheus_client::encoding::text::encode_registry(&mut out, &self.registry);
        let _ =
            prometheus_client::encoding::text::encode_registry(&mut out, &vitals_registry(vitals));
        let _ = prometheus_client::encoding::text::encode_eof(&mut out);
        out
    }
}

/// A series' labels, as a worker keeps the handles to its counter and histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct HandleKey {
    metrics: u64,
    route: &'static str,
    method: &'static str,
    status: u16,
}

/// The most series a worker keeps handles to (then it starts again).
const HANDLES_KEPT: usize = 64;

thread_local! {
    /// Each worker's handles to the series it counted, so a request finds its counter and
    /// histogram by comparing a few words rather than hashing its labels behind the family's
    /// lock. A handle is the series itself (shared), so counting through it counts in it.
    static HANDLES: std::cell::RefCell<Vec<(HandleKey, Counter, Histogram)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// The method as a label from a fixed set.
fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}

/// A per-scrape registry of the vital signs (each value is what it is now; nothing is kept).
/// The families are registered in the order a scrape lists them.
fn vitals_registry(v: &Vitals) -> Metrics {
    let mut r = Metrics::default();
    log_series(&mut r, v);
    if let Some(webhooks) = &v.webhooks {
        webhook_series(&mut r, webhooks);
    }
    database_series(&mut r, v);
    recovery_series(&mut r, v);
    r
}

/// One gauge holding `value`.
fn gauge(registry: &mut Metrics, name: &str, help: &str, value: f64) {
    let g = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
    g.set(value);
    registry.register(name, help, g);
}

/// One counter standing at `value`.
fn counter(registry: &mut Metrics, name: &str, help: &str, value: u64) {
    let c = Counter::<u64>::default();
    c.inc_by(value);
    registry.register(name, help, c);
}

/// The log, its checkpoint, its latest entry and the status list served from it.
fn log_series(r: &mut Metrics, v: &Vitals) {
    gauge(
        r,
        "wexqs_log_size",
        "Entries in the log this instance has read",
        v.log_size as f64,
    );
    if let Some(size) = v.checkpoint_size {
        gauge(
            r,
            "wexqs_checkpoint_size",
            "Entries the latest signed checkpoint covers",
            size as f64,
        );
    }
    if let Some(age) = v.checkpoint_age_seconds {
        gauge(
            r,
            "wexqs_checkpoint_age_seconds",
            "Seconds since the latest checkpoint was signed",
            age,
        );
    }
    gauge(
        r,
        "wexqs_checkpoint_failing",
        "1 while the last attempt to sign a checkpoint failed",
        f64::from(u8::from(v.checkpoint_failing)),
    );
    if let Some(age) = v.last_append_age_seconds {
        gauge(
            r,
            "wexqs_last_append_age_seconds",
            "Seconds since the latest log entry was recorded",
            age,
        );
    }
    if let Some(age) = v.status_list_age_seconds {
        gauge(
            r,
            "wexqs_status_list_age_seconds",
            "Seconds since the start of the validity of the status list served now",
            age,
        );
    }
}

/// One series of each family per webhook subscription, labelled with its id.
fn webhook_series(r: &mut Metrics, webhooks: &[WebhookVitals]) {
    #[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
    struct Subscription {
        subscription: String,
    }
    let backlog = Family::<Subscription, Gauge>::default();
    let failures = Family::<Subscription, Gauge>::default();
    let disabled = Family::<Subscription, Gauge>::default();
    for w in webhooks {
        let labels = Subscription {
            subscription: w.id.clone(),
        };
        backlog
            .get_or_create(&labels)
            .set(i64::try_from(w.backlog).unwrap_or(i64::MAX));
        failures
            .get_or_create(&labels)
            .set(i64::from(w.consecutive_failures));
        disabled
            .get_or_create(&labels)
            .set(i64::from(u8::from(w.disabled)));
    }
    r.register(
        "wexqs_webhook_backlog",
        "Log entries after the last one a webhook subscription has been sent",
        backlog,
    );
    r.register(
        "wexqs_webhook_consecutive_failures",
        "Failed deliveries in a row to a webhook subscription",
        failures,
    );
    r.register(
        "wexqs_webhook_disabled",
        "1 when a webhook subscription was disabled after too many failures",
        disabled,
    );
}

/// The database: whether it answers, its connection pool and its errors.
fn database_series(r: &mut Metrics, v: &Vitals) {
    gauge(
        r,
        "wexqs_database_up",
        "1 when the database answered its last look (every second), 0 during an outage",
        f64::from(u8::from(v.database_up)),
    );
    gauge(
        r,
        "wexqs_db_pool_connections",
        "Connections the database pool holds open",
        f64::from(v.pool_size),
    );
    gauge(
        r,
        "wexqs_db_pool_idle_connections",
        "Of them, idle",
        v.pool_idle as f64,
    );
    gauge(
        r,
        "wexqs_db_pool_max_connections",
        "The most connections the pool opens",
        f64::from(v.pool_max),
    );
    counter(
        r,
        "wexqs_db_pool_timeouts",
        "Waits for a pooled database connection that timed out",
        v.pool_timeouts,
    );
    counter(
        r,
        "wexqs_db_errors",
        "Database answers that said it was unavailable (unreachable, full, read-only, I/O error)",
        v.database_errors,
    );
}

/// What recovery watches: a database behind the published log, and the last backup.
fn recovery_series(r: &mut Metrics, v: &Vitals) {
    gauge(
        r,
        "wexqs_behind",
        "1 while the database is behind the published log (writes refused until re-entered)",
        f64::from(u8::from(v.behind)),
    );
    gauge(
        r,
        "wexqs_last_backup_timestamp_seconds",
        "Unix time of the last good `wexqs backup` recorded in the state folder (0: none)",
        v.last_backup_time.unwrap_or(0.0),
    );
}

/// What the metrics listener serves from.
#[derive(Debug, Clone)]
struct Scrape {
    metrics: Arc<HttpMetrics>,
    registry: Arc<Registry>,
    state_dir: Option<PathBuf>,
}

async fn scrape(scrape: web::Data<Scrape>) -> HttpResponse {
    let vitals = scrape.registry.vitals(scrape.state_dir.as_deref()).await;
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(scrape.metrics.render(&vitals))
}

/// Serves `GET /metrics` on `listener` (one worker: a scrape every few seconds is all it
/// answers) until the returned server is stopped. Anything else is a 404.
pub(crate) fn serve_metrics(
    listener: TcpListener,
    metrics: Arc<HttpMetrics>,
    registry: Arc<Registry>,
    state_dir: Option<PathBuf>,
) -> std::io::Result<actix_web::dev::Server> {
    let data = web::Data::new(Scrape {
        metrics,
        registry,
        state_dir,
    });
    Ok(actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(data.clone())
            .route("/metrics", web::get().to(scrape))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run())
}
