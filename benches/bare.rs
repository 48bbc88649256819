//! The baselines of the load benchmarks (`cargo xtask load`): a bare actix-web server, built with
//! the same crates and profile as `wexqs`, doing no work a request. A route of the registry is
//! reported as a ratio against it, measured in the same run on the same core.
//!
//! - `/status` answers a fixed 148-byte JSON status: the cheapest answer this stack can give.
//! - With a capture folder, every other request target is answered with **the same bytes** the
//!   registry sent for it (status, headers and body, captured by `cargo xtask load`), from memory:
//!   the physical limit of each route, what the registry would reach if its own work cost nothing.
//!
//! `bare ADDRESS [WORKERS [CAPTURE_FOLDER]]` (for example `bare 127.0.0.1:9000 1 /tmp/capture`).
//! The folder holds `index` (a line a route: the request target, a tab, a file stem) and, for
//! each stem, `STEM.head` (the answer's status line and headers, as curl's `-D` writes them) and
//! `STEM.body`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::{ContentType, HeaderName, HeaderValue};
use actix_web::web::Bytes;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

/// 148 bytes, the size of a short verification status.
const STATUS: &str = r#"{"certificate_number":"WQ7K-4M2X-9PRT-C","status":"valid","level":"silver","valid_until":"2027-06-01","checked_at":"2026-11-25T12:00:00Z","ok":true}"#;

/// Headers actix-web writes itself for every answer (or that describe the connection, not the
/// answer): they are left to it, as they are for the registry.
const WRITTEN_BY_THE_SERVER: [&str; 5] = [
    "content-length",
    "date",
    "transfer-encoding",
    "connection",
    "keep-alive",
];

/// One captured answer, ready to send again.
struct Answer {
    status: StatusCode,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
}

type Answers = Arc<HashMap<String, Answer>>;

async fn status() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(STATUS)
}

/// The captured answer for this request target, as it was sent.
async fn replay(req: HttpRequest, answers: web::Data<Answers>) -> HttpResponse {
    let target = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let Some(answer) = answers.get(target) else {
        return HttpResponse::NotFound().body("no captured answer for this request target");
    };
    let mut response = HttpResponse::build(answer.status);
    for (name, value) in &answer.headers {
        response.append_header((name.clone(), value.clone()));
    }
    response.body(answer.body.clone())
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// The last status line and header block of a curl `-D` file (an interim `100 Continue` may
/// precede the final one).
fn answer(head: &str, body: Vec<u8>) -> Result<Answer, String> {
    let block = head
        .rsplit("\r\n\r\n")
        .find(|b| !b.trim().is_empty())
        .ok_or("an empty header file")?;
    let mut lines = block.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let code = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok())
        .and_then(|c| StatusCode::from_u16(c).ok())
        .ok_or_else(|| format!("no status in {status_line:?}"))?;
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("not a header: {line:?}"))?;
        let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|e| e.to_string())?;
        if WRITTEN_BY_THE_SERVER.contains(&name.as_str()) {
            continue;
        }
        let value = HeaderValue::from_str(value.trim()).map_err(|e| e.to_string())?;
        headers.push((name, value));
    }
    Ok(Answer {
        status: code,
        headers,
        body: Bytes::from(body),
    })
}

fn captured(folder: &Path) -> Result<HashMap<String, Answer>, String> {
    let index = String::from_utf8(read(&folder.join("index"))?).map_err(|e| e.to_string())?;
    let mut answers = HashMap::new();
    for line in index.lines().filter(|l| !l.is_empty()) {
        let (target, stem) = line
            .split_once('\t')
            .ok_or_else(|| format!("an index line is target<TAB>stem, not {line:?}"))?;
        let head = String::from_utf8(read(&folder.join(format!("{stem}.head")))?)
            .map_err(|e| e.to_string())?;
        let body = read(&folder.join(format!("{stem}.body")))?;
        answers.insert(target.to_owned(), answer(&head, body)?);
    }
    Ok(answers)
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let address = args.next().unwrap_or_else(|| "127.0.0.1:9000".to_owned());
    let workers = args.next().and_then(|w| w.parse().ok()).unwrap_or(1);
    let answers: Answers = Arc::new(match args.next() {
        Some(folder) => captured(Path::new(&folder)).map_err(std::io::Error::other)?,
        None => HashMap::new(),
    });
    assert_eq!(STATUS.len(), 148, "the baseline's body is 148 bytes");
    eprintln!(
        "bare baseline on {address} ({} captured answers)",
        answers.len()
    );
    HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(Arc::clone(&answers)))
            .route("/status", web::get().to(status))
            .default_service(web::to(replay))
    })
    .workers(workers)
    .bind(address)?
    .run()
    .await
}
