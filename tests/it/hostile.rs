//! Hostile input, as an attacker sends it: a decompression bomb to the unauthenticated verifier,
//! names written to break out of every place they are shown (and copied from), text that reads
//! differently than it is, dates and cursors out of range, admin routes called from a browser,
//! and requests the HTTP parser refuses on its own. Each test reproduces a finding of the attack
//! review and failed before its fix.

use std::io::Write as _;
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{TestApp, answers_within, pdf_text, raw_exchange, sqlite_app, temp_dir};

/// Names an organisation may have that are markup, quotes, CDATA ends, the baked SVG's own
/// closing tag, or one 200-character word: each must be shown as text, never read as markup.
const HOSTILE_NAMES: &[&str] = &[
    r#"Probe "><img src=x onerror=alert(1)> Trust"#,
    "<script>alert('x')</script> Hospital",
    "O'Brien & Partners <Health> Trust",
    "Data ]]> Trust",
    "Fake </openbadges:credential> Trust",
    "Quote' onmouseover='alert(1) Trust",
    "Longwordhospitalfoundationtrustandpartnersofthenorthernregionwithmanywordsrunningtogetherwithoutanyspacesatallsothatnolinebreakcanfallbetweenthemanywhereinthewholenamewhichisexactlytwohundredcharacter",
];

/// Texts no escaping can make safe to read: control characters, bidi overrides and isolates,
/// invisible characters and line separators.
const DECEPTIVE_TEXTS: &[&str] = &[
    "Evil \u{202E}tsurT SHN Trust",
    "Isolate \u{2066}Trust\u{2069} Hospital",
    "Bell\u{7} Trust",
    "Escape\u{1b}[31m Trust",
    "Zero\u{200B}Width Trust",
    "Not a \u{FFFE} character Trust",
    "Not a \u{FFFF} character Trust",
    "Soft\u{AD}hyphen Trust",
    "Tagged \u{E0041}\u{E007F} Trust",
    "Filler \u{3164} Trust",
    "Nonchar \u{FDD0} Trust",
];

/// HTML text with its character references read (named ones askama and we write, and numeric).
fn unescape_html(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let Some(end) = after.find(';').filter(|&e| e <= 8) else {
            out.push('&');
            rest = after;
            continue;
        };
        let entity = &after[..end];
        let c = match entity {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match c {
            Some(c) => {
                out.push(c);
                rest = &after[end + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The attributes of a snippet that must be exactly one `<iframe …></iframe>` element: each
/// value double-quoted, with no quote or angle bracket inside (so nothing can close it), read.
fn iframe_attributes(snippet: &str) -> Vec<(String, String)> {
    let inner = snippet
        .strip_prefix("<iframe ")
        .and_then(|s| s.strip_suffix("></iframe>"))
        .unwrap_or_else(|| panic!("the snippet is one iframe element: {snippet}"));
    let mut attributes = Vec::new();
    let mut rest = inner.trim();
    while !rest.is_empty() {
        let (name, after) = rest
            .split_once("=\"")
            .unwrap_or_else(|| panic!("an attribute name=\"value\" in {snippet}"));
        let (value, after) = after
            .split_once('"')
            .unwrap_or_else(|| panic!("a closed attribute value in {snippet}"));
        assert!(
            !name.contains(['<', '>', '"', '\'', ' ']) && !value.contains(['<', '>']),
            "a name or value that breaks out of the element in {snippet}"
        );
        attributes.push((name.to_owned(), unescape_html(value)));
        rest = after.trim_start();
    }
    attributes
}

fn assert_iframe_snippet(snippet: &str, name: &str) {
    let attributes = iframe_attributes(snippet);
    let names: Vec<&str> = attributes.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["src", "title", "width", "height", "style"],
        "{snippet}"
    );
    assert_eq!(attributes[1].1, format!("WEx QS award of {name}"));
}

/// The text a person copies from a snippet box on the verification page.
fn copied_snippet(page: &str, id: &str) -> String {
    let open = format!("<textarea id=\"{id}\" readonly>");
    let start = page.find(&open).expect("the snippet box") + open.len();
    let end = start + page[start..].find("</textarea>").expect("a closed box");
    unescape_html(&page[start..end])
}

fn strings_in(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|v| strings_in(v, out)),
        Value::Object(o) => o.values().for_each(|v| strings_in(v, out)),
        _ => {}
    }
}

fn without_space(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Every surface that shows the award's organisation name shows exactly `name`, as text.
async fn check_every_surface(app: &TestApp, number: &str, name: &str) {
    let markup = name.contains(['<', '>', '"', '\'', '&']);

    // The public record and the verification answer carry the name as it is.
    for path in [
        format!("/v1/awards/{number}"),
        format!("/v1/awards/{number}/verification"),
    ] {
        let body: Value = app.read_json(&path).await;
        let mut strings = Vec::new();
        strings_in(&body, &mut strings);
        assert!(strings.iter().any(|s| s == name), "{path} names {name:?}");
    }

    // Pages: never the raw name where it holds markup; the text reads as the name.
    for path in [
        format!("/verify/{number}"),
        format!("/embed/{number}"),
        format!("/?q={number}"),
    ] {
        let page = app.text(&path).await;
        if markup {
            assert!(!page.contains(name), "{path} holds {name:?} unescaped");
        }
        assert!(unescape_html(&page).contains(name), "{path} shows {name:?}");
    }

    // What a site owner copies from the snippet boxes, and what oEmbed hands a CMS.
    let page = app.text(&format!("/verify/{number}")).await;
    assert_iframe_snippet(&copied_snippet(&page, "snippet-iframe"), name);
    for id in ["snippet-script", "snippet-badge"] {
        let copied = copied_snippet(&page, id);
        assert!(!copied.contains(name) || !markup, "{id} holds {name:?}");
    }
    let oembed: Value = app
        .request(reqwest::Method::GET, "/oembed")
        .query(&[("url", app.url(&format!("/verify/{number}")))])
        .send()
        .await
        .expect("oembed answers")
        .json()
        .await
        .expect("JSON");
    assert_iframe_snippet(oembed["html"].as_str().expect("html"), name);
    assert_eq!(
        oembed["title"].as_str().map(|t| t.starts_with(name)),
        Some(true)
    );

    // The baked SVG is well-formed XML and the registry reads its own bake back; so the PNG.
    let svg = app.text(&format!("/v1/awards/{number}/logo.svg")).await;
    resvg::usvg::Tree::from_str(&svg, &resvg::usvg::Options::default())
        .unwrap_or_else(|e| panic!("the baked SVG for {name:?} is not well-formed: {e}"));
    let png = app
        .get_answer(&format!("/v1/awards/{number}/logo.png"))
        .await
        .body;
    let credential = app
        .get_answer(&format!("/v1/awards/{number}/credential"))
        .await
        .body;
    for (content_type, body) in [
        ("image/svg+xml", svg.into_bytes()),
        ("image/png", png),
        ("application/json", credential),
    ] {
        let report: Value = app
            .post_verify(content_type, body)
            .await
            .json()
            .await
            .expect("JSON");
        assert_eq!(
            report["verdict"], "valid",
            "{content_type} of {name:?}: {report}"
        );
    }

    // The PDF shows every character of the name.
    let pdf = app
        .get_answer(&format!("/v1/awards/{number}/certificate.pdf"))
        .await
        .body;
    assert!(
        without_space(&pdf_text(&pdf, &[])).contains(&without_space(name)),
        "the PDF shows all of {name:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_names_from_create_amend_and_import_are_text_on_every_surface() {
    let app = sqlite_app().await;

    for (i, name) in HOSTILE_NAMES.iter().enumerate() {
        // Created with the name.
        let organisation = app.organisation(name, None).await;
        let number = app.award(&organisation, "gold", "2025-06-02").await;
        check_every_surface(&app, &number, name).await;

        // Amended to the name, on the organisation and on an award.
        let plain = app.organisation(&format!("Plain Trust {i}"), None).await;
        let number = app.award(&plain, "silver", "2025-06-03").await;
        let amended = app
            .admin_post(
                &format!("/v1/admin/awards/{number}/amend"),
                json!({"organisation_name": name, "reason": "the name was misspelt"}),
            )
            .await;
        assert_eq!(amended.status(), 200, "amending to {name:?}");
        check_every_surface(&app, &number, name).await;
        let amended = app
            .admin_post(
                &format!("/v1/admin/organisations/{plain}/amend"),
                json!({"name": name, "reason": "the name was misspelt"}),
            )
            .await;
        assert!(
            amended.status().is_success(),
            "amending {plain} to {name:?}"
        );
    }

    // Imported from CSV, quoted as a spreadsheet writes it.
    let mut csv = csv::Writer::from_writer(Vec::new());
    csv.write_record([
        "organisation_name",
        "ods_code",
        "region",
        "kind",
        "level",
        "awarded_on",
        "issuer_name",
    ])
    .expect("a header");
    let imported_name =
        |name: &str| format!("{} Imported", name.chars().take(190).collect::<String>());
    for name in HOSTILE_NAMES {
        csv.write_record([
            &imported_name(name),
            "",
            "london",
            "",
            "bronze",
            "2025-03-01",
            "",
        ])
        .expect("a row");
    }
    let body = csv.into_inner().expect("the CSV");
    let imported: Value = app
        .as_admin()
        .import_csv(body)
        .await
        .json()
        .await
        .expect("JSON");
    let numbers = imported["certificate_numbers"]
        .as_array()
        .unwrap_or_else(|| panic!("imported: {imported}"));
    assert_eq!(numbers.len(), HOSTILE_NAMES.len());
    for (number, name) in numbers.iter().zip(HOSTILE_NAMES) {
        let number = number.as_str().expect("a number");
        check_every_surface(&app, number, &imported_name(name)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deceptive_text_is_refused_everywhere_it_can_enter() {
    let app = sqlite_app().await;
    let organisation = app.organisation("Honest Trust", None).await;
    let number = app.award(&organisation, "gold", "2025-06-02").await;
    let size_before = app.registry.size();

    for text in DECEPTIVE_TEXTS {
        let attempts = [
            (
                "/v1/admin/organisations".to_owned(),
                json!({"name": text, "region": "london"}),
            ),
            (
                format!("/v1/admin/organisations/{organisation}/amend"),
                json!({"name": text, "reason": "a correction"}),
            ),
            (
                format!("/v1/admin/awards/{number}/amend"),
                json!({"organisation_name": text, "reason": "a correction"}),
            ),
            (
                format!("/v1/admin/awards/{number}/suspend"),
                json!({"reason": format!("reason {text}")}),
            ),
            (
                format!("/v1/admin/awards/{number}/revoke"),
                json!({"reason": format!("reason {text}")}),
            ),
            (
                "/v1/admin/awards".to_owned(),
                json!({"organisation_id": organisation, "level": "gold", "awarded_on": "2025-07-01", "issuer_name": text}),
            ),
        ];
        for (path, body) in attempts {
            let response = app.admin_post(&path, body).await;
            let status = response.status().as_u16();
            let problem: Value = response.json().await.expect("problem+json");
            assert!(
                status == 400 || status == 422,
                "{path} took {text:?}: {status} {problem}"
            );
            assert!(
                problem["detail"]
                    .as_str()
                    .is_some_and(|d| d.contains("printable")),
                "{path}: the rule in words: {problem}"
            );
        }
        let mut csv =
            String::from("organisation_name,ods_code,region,kind,level,awarded_on,issuer_name\n");
        csv.push_str(&format!("\"{text}\",,london,,bronze,2024-03-01,\n"));
        let response = app.as_admin().import_csv(csv).await;
        assert_eq!(response.status(), 422, "import took {text:?}");
    }

    // Markup in a framework version, a 1 MiB issuer, and dates no one meant.
    for (body, code) in [
        (
            json!({"organisation_id": organisation, "level": "gold", "awarded_on": "2025-07-01", "framework_version": "<b>v1</b>"}),
            "framework_version_invalid",
        ),
        (
            json!({"organisation_id": organisation, "level": "gold", "awarded_on": "2025-07-01", "issuer_name": "N".repeat(1024 * 1024)}),
            "issuer_name_invalid",
        ),
        (
            json!({"organisation_id": organisation, "level": "gold", "awarded_on": "0000-01-01"}),
            "date_out_of_range",
        ),
        (
            json!({"organisation_id": organisation, "level": "gold", "awarded_on": "1999-12-31"}),
            "date_out_of_range",
        ),
    ] {
        let response = app.admin_post("/v1/admin/awards", body).await;
        assert_eq!(response.status(), 422);
        let problem: Value = response.json().await.expect("problem+json");
        assert_eq!(problem["code"], code, "{problem}");
    }
    let response = app
        .admin_post(
            "/v1/admin/programme/pause",
            json!({"effective_from": "0001-01-01", "reason": "a typing mistake"}),
        )
        .await;
    assert_eq!(response.status(), 422);
    assert_eq!(app.registry.size(), size_before, "nothing was written");
}

/// A PNG whose `openbadgecredential` text chunk inflates to `inflated` bytes of zeros: about a
/// thousandth of that on the wire.
fn bomb_png(inflated: usize) -> Vec<u8> {
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let block = vec![0u8; 1024 * 1024];
    let mut left = inflated;
    while left > 0 {
        let n = left.min(block.len());
        zlib.write_all(&block[..n]).expect("compressed");
        left -= n;
    }
    let compressed = zlib.finish().expect("compressed");
    let mut chunk = b"openbadgecredential\0".to_vec();
    chunk.extend_from_slice(&[1, 0, 0, 0]); // compressed, deflate, no language, no translation
    chunk.extend_from_slice(&compressed);
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, 1, 1);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().expect("a header");
        writer
            .write_chunk(png::chunk::ChunkType(*b"iTXt"), &chunk)
            .expect("the chunk");
        writer.write_image_data(&[0]).expect("a pixel");
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decompression_bomb_is_refused_before_it_is_inflated() {
    let app = sqlite_app().await;

    let bomb = bomb_png(1024 * 1024 * 1024);
    assert!(bomb.len() <= 2 * 1024 * 1024, "{} bytes", bomb.len());
    let response = app.post_verify("image/png", bomb).await;
    assert_eq!(response.status(), 413);
    let problem: Value = response.json().await.expect("problem+json");
    assert_eq!(problem["code"], "credential_too_large", "{problem}");

    // The same bound for an SVG and for plain JSON.
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\"><openbadges:credential><![CDATA[{{\"a\":\"{}\"}}]]></openbadges:credential></svg>",
        "x".repeat(600 * 1024)
    );
    let response = app.post_verify("image/svg+xml", svg.into_bytes()).await;
    assert_eq!(response.status(), 413);
    let json = format!("{{\"a\":\"{}\"}}", "x".repeat(600 * 1024));
    let response = app.post_verify("application/json", json.into_bytes()).await;
    assert_eq!(response.status(), 413);

    // A body declared past the largest any route reads is refused from its Content-Length,
    // unread (one between 2 and 4 MiB is read, thrown away, and refused: credentials.rs).
    let base = app.base().to_owned();
    let answer = tokio::task::spawn_blocking(move || {
        raw_exchange(
            &base,
            b"POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 4194305\r\n\r\n",
        )
    })
    .await
    .expect("joined");
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("\"code\":\"body_too_large\""), "{answer}");

    // Deeply nested JSON is refused, not a stack overflow.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let response = app.post_verify("application/json", deep.into_bytes()).await;
    assert_eq!(response.status(), 400);
}

/// Peak resident memory of a process, in kB (Linux `VmHWM`).
fn peak_rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("the process status")
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_bombs_at_once_leave_memory_flat_and_health_prompt() {
    let data = temp_dir();
    crate::helpers::ensure_key(None, data.path());
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_wexqs"));
    command
        .arg("serve")
        .env("WEXQS_DATA_DIR", data.path())
        .env_remove("DATABASE_URL");
    let (mut server, base) = crate::helpers::spawn_server(command);
    let client = reqwest::Client::new();
    let up = answers_within(&base, Duration::from_secs(20)).await;
    assert!(up, "the server came up");
    let idle = peak_rss_kb(server.id());

    let bomb = bomb_png(2 * 1024 * 1024 * 1024 - 1);
    assert!(bomb.len() <= 2 * 1024 * 1024, "{} bytes", bomb.len());
    let bombs: Vec<_> = (0..10)
        .map(|_| {
            let client = client.clone();
            let url = format!("{base}/v1/verify");
            let bomb = bomb.clone();
            tokio::spawn(async move {
                let started = std::time::Instant::now();
                client
                    .post(url)
                    .header("content-type", "image/png")
                    .body(bomb)
                    .send()
                    .await
                    .map(|r| (r.status().as_u16(), started.elapsed()))
            })
        })
        .collect();
    // While they are in flight, health answers (a generous bound: "not stalled", not a speed).
    let started = std::time::Instant::now();
    let health = client
        .get(format!("{base}/healthz"))
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    let health_took = started.elapsed();
    let mut statuses = Vec::new();
    for b in bombs {
        statuses.push(b.await.expect("joined").expect("answered"));
    }
    let peak = peak_rss_kb(server.id());
    let _ = server.kill();
    let _ = server.wait();
    assert!(
        health.is_ok_and(|r| r.status() == 200),
        "health answered in {health_took:?}"
    );
    eprintln!(
        "ten {} KiB bombs: answers {statuses:?}; health in {health_took:?}; peak RSS {idle} kB idle, {peak} kB after",
        bomb.len() / 1024
    );
    assert!(statuses.iter().all(|&(s, _)| s == 413), "{statuses:?}");
    // The bodies themselves are 20 MiB together; inflating any one would be gigabytes.
    assert!(
        peak.saturating_sub(idle) < 96 * 1024,
        "peak RSS grew from {idle} kB to {peak} kB"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursors_past_the_largest_position_are_refused_not_wrapped() {
    let app = sqlite_app().await;
    for path in [
        "/v1/log/entries?start=9223372036854775808",
        "/v1/log/entries?start=18446744073709551615",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 400, "{path}");
        let problem: Value = response.json().await.expect("problem+json");
        assert_eq!(problem["code"], "position_out_of_range", "{problem}");
    }
    let response = app
        .request(
            reqwest::Method::GET,
            "/v1/admin/events?from=9223372036854775808",
        )
        .bearer_auth(&app.admin)
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 400);
    // The largest position there can be reads nothing (nothing is that far), never position 0.
    let body: Value = app
        .read_json("/v1/log/entries?start=9223372036854775807")
        .await;
    let entries = body["entries"].as_array().expect("entries");
    assert!(entries.is_empty(), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_issuer_name_is_shown_whole_on_the_pdf() {
    let app = sqlite_app().await;
    let organisation = app.organisation("Issuer Test Trust", None).await;
    let issuer = "Healtheducationenglandregionaloffice".repeat(5);
    let issuer = &issuer[..180];
    let response = app
        .admin_post(
            "/v1/admin/awards",
            json!({"organisation_id": organisation, "level": "gold", "awarded_on": "2022-06-01", "issuer_name": issuer}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let number = response.json::<Value>().await.expect("JSON")["certificate_number"]
        .as_str()
        .expect("a number")
        .to_owned();
    let pdf = app
        .get_answer(&format!("/v1/awards/{number}/certificate.pdf"))
        .await
        .body;
    assert!(without_space(&pdf_text(&pdf, &[])).contains(issuer));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_routes_answer_no_browser_from_another_origin_and_public_ones_do() {
    let app = sqlite_app().await;
    for origin in ["https://evil.example", "null"] {
        let preflight = app
            .request(reqwest::Method::OPTIONS, "/v1/admin/awards")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization")
            .send()
            .await
            .expect("answers");
        assert!(
            preflight
                .headers()
                .get("access-control-allow-origin")
                .is_none(),
            "preflight from {origin}: {:?}",
            preflight.headers()
        );
        assert!(
            preflight
                .headers()
                .get("access-control-allow-headers")
                .is_none(),
            "{:?}",
            preflight.headers()
        );
        let get = app
            .request(reqwest::Method::GET, "/v1/admin/events")
            .header("origin", origin)
            .bearer_auth(&app.admin)
            .send()
            .await
            .expect("answers");
        assert!(get.headers().get("access-control-allow-origin").is_none());
    }
    let public = app
        .request(reqwest::Method::GET, "/v1/programme")
        .header("origin", "https://careers.example")
        .send()
        .await
        .expect("answers");
    assert!(
        public
            .headers()
            .get("access-control-allow-origin")
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bearer_scheme_is_read_in_any_case() {
    let app = sqlite_app().await;
    for (scheme, status) in [
        ("bearer", 200),
        ("BEARER", 200),
        ("Bearer", 200),
        ("Basic", 401),
    ] {
        let response = app
            .request(reqwest::Method::GET, "/v1/admin/events")
            .header("authorization", format!("{scheme} {}", app.admin))
            .send()
            .await
            .expect("answers");
        assert_eq!(response.status(), status, "{scheme}");
    }
}

/// Sends raw bytes and reads the whole answer (the server closes after a protocol refusal).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_of_the_http_parser_are_problem_json() {
    let app = sqlite_app().await;
    let base = app.base().to_owned();
    let huge = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(256 * 1024)
    );
    let cases = [
        (huge.into_bytes(), "431", "headers_too_large"),
        (
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n".to_vec(),
            "400",
            "bad_request",
        ),
        (
            b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n".to_vec(),
            "400",
            "bad_request",
        ),
    ];
    for (request, status, code) in cases {
        let base = base.clone();
        let answer = tokio::task::spawn_blocking(move || raw_exchange(&base, &request))
            .await
            .expect("joined");
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status}")),
            "{answer}"
        );
        let lower = answer.to_ascii_lowercase();
        assert!(
            lower.contains("content-type: application/problem+json"),
            "{answer}"
        );
        let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
        let problem: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {answer}"));
        assert_eq!(problem["code"], code);
        assert_eq!(problem["status"].to_string(), status);
    }
    // The server still serves after the refusals.
    assert_eq!(app.get("/healthz").await.status(), 200);
}
