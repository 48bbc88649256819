//! The baseline of the load benchmarks (`cargo xtask load`): a bare actix-web server answering one
//! JSON route with a fixed 148-byte status, built with the same crates and profile as `wexqs`,
//! so a route of the registry is reported as a ratio against the cheapest answer this stack can
//! give, measured in the same run on the same core.
//!
//! `bare ADDRESS [WORKERS]` (for example `bare 127.0.0.1:9000 1`).

use actix_web::{App, HttpResponse, HttpServer, http::header::ContentType, web};

/// 148 bytes, the size of a short verification status.
const STATUS: &str = r#"{"certificate_number":"WQ7K-4M2X-9PRT-C","status":"valid","level":"silver","valid_until":"2027-06-01","checked_at":"2026-11-25T12:00:00Z","ok":true}"#;

async fn status() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(STATUS)
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let address = args.next().unwrap_or_else(|| "127.0.0.1:9000".to_owned());
    let workers = args.next().and_then(|w| w.parse().ok()).unwrap_or(1);
    assert_eq!(STATUS.len(), 148, "the baseline's body is 148 bytes");
    eprintln!("bare baseline on {address}");
    HttpServer::new(|| App::new().route("/status", web::get().to(status)))
        .workers(workers)
        .bind(address)?
        .run()
        .await
}
