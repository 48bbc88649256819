//! The load benchmark's figures as people read them (a table a register size) and as JSON.

use std::path::Path;

use super::SERVER_CPU;
use super::measure::load_cpu;
use crate::json::Json;
use crate::shell::Result;

/// `1234567.8` as `1,234,568`.
pub fn thousands(n: f64) -> String {
    let digits = format!("{:.0}", n.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0.0 && digits != "0" {
        format!("-{out}")
    } else {
        out
    }
}

pub fn report(bare: &Json, runs: &[Json]) {
    println!(
        "\nbaseline: bare actix-web JSON route {} req/s (server on cpu {SERVER_CPU}, wrk -t1 -c32 \
         on cpu {})\n",
        thousands(bare.num("rps")),
        load_cpu()
    );
    let none = Json::object();
    for run in runs {
        let database = match run.get("database") {
            Some(Json::Text(db)) => db.as_str(),
            _ => "",
        };
        println!("## {} awards, {database}", thousands(run.num("awards")));
        println!(
            "{:<18} {:>9} {:>11} {:>8} {:>7} {:>7} {:>7} {:>9} {:>9}",
            "path",
            "req/s",
            "same bytes",
            "x same",
            "x bare",
            "p50 ms",
            "p99 ms",
            "@half p50",
            "@half p99"
        );
        let routes = run.get("routes").unwrap_or(&none);
        for (name, r) in routes.fields() {
            let half = r.get("at_half_peak").unwrap_or(&none);
            let times = |key: &str| {
                r.get(key)
                    .map_or(String::new(), |_| format!("{:.2}x", r.num(key)))
            };
            let limit = r
                .get("same_bytes_rps")
                .map_or(String::new(), |_| thousands(r.num("same_bytes_rps")));
            println!(
                "{name:<18} {:>9} {limit:>11} {:>8} {:>7} {:>7.2} {:>7.2} {:>9.2} {:>9.2}",
                thousands(r.num("rps")),
                times("same_bytes_ratio"),
                times("ratio"),
                r.num("p50_ms"),
                r.num("p99_ms"),
                half.num("p50_ms"),
                half.num("p99_ms")
            );
        }
        if let Some(post) = routes.get("POST /v1/verify") {
            println!(
                "POST /v1/verify: {}/s a core vs the npm verifier {}/s a core = {:.1}x",
                thousands(post.num("rps")),
                thousands(post.num("npm_per_second")),
                post.num("ratio")
            );
        }
        let section = |key: &str| run.get(key).unwrap_or(&none);
        let import = section("import");
        println!(
            "import: {:.1} s ({} awards/s), peak {:.0} MB",
            import.num("seconds"),
            thousands(import.num("awards_per_second")),
            import.num("peak_mb")
        );
        println!(
            "rebuild: {:.1} s, peak {:.0} MB; log verify: {:.1} s, peak {:.0} MB",
            section("rebuild").num("seconds"),
            section("rebuild").num("peak_mb"),
            section("log_verify").num("seconds"),
            section("log_verify").num("peak_mb")
        );
        println!(
            "the server logged {} lines at info, its metrics scraped every second",
            thousands(run.num("log_lines"))
        );
        let memory = section("server_mb");
        println!(
            "server memory: {:.0} MB after start, {:.0} MB after load, peak {:.0} MB",
            memory.num("after_start"),
            memory.num("after_load"),
            memory.num("peak")
        );
        for (fmt, e) in section("exports").fields() {
            println!(
                "export {fmt}: {:.1} MB; {} downloads at once grew the server by {:.1} MB = \
                 {:.2}x one export; first byte {:.2} s cold, {:.3} s warm",
                e.num("export_mb"),
                e.num("clients"),
                e.num("rss_growth_mb"),
                e.num("ratio"),
                e.num("cold_first_byte_s"),
                e.num("warm_first_byte_s")
            );
        }
        println!();
    }
}

pub fn write_json(path: &Path, figures: &Json) -> Result {
    std::fs::write(path, figures.pretty()).map_err(|e| format!("{}: {e}", path.display()))
}
