//! Each route against its physical limit: the registry's answer captured (status, headers and
//! body) and replayed from memory by the bare actix-web server (`benches/bare.rs`), both pinned
//! to the server core with one worker, loaded in alternating rounds by the same wrk.

use std::path::Path;
use std::process::Command;

use super::measure::{Process, start_bare, wrk};
use super::report::thousands;
use crate::json::Json;
use crate::shell::{Result, free_port, output, say};

/// Headers that differ between two answers of the same bytes: the time they were sent.
const PER_ANSWER: [&str; 1] = ["date"];

/// A request target with curl as wrk makes it: no `Accept`, no `User-Agent`; the header block
/// and the body written to `stem.head` and `stem.body` in `folder`.
fn fetch(url: &str, folder: &Path, stem: &str) -> Result {
    let head = folder.join(format!("{stem}.head"));
    let body = folder.join(format!("{stem}.body"));
    output(
        Command::new("curl")
            .args([
                "-sS",
                "--max-time",
                "30",
                "-H",
                "Accept:",
                "-H",
                "User-Agent:",
            ])
            .arg("-D")
            .arg(&head)
            .arg("-o")
            .arg(&body)
            .arg(url),
    )?;
    Ok(())
}

/// The status line and headers of a `-D` file, without those that change every answer, sorted:
/// what two servers sending the same bytes agree on.
fn lasting_headers(folder: &Path, stem: &str) -> Result<Vec<String>> {
    let path = folder.join(format!("{stem}.head"));
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let block = text
        .rsplit("\r\n\r\n")
        .find(|b| !b.trim().is_empty())
        .unwrap_or_default();
    let mut lines: Vec<String> = block
        .split("\r\n")
        .map(|l| match l.split_once(':') {
            Some((name, value)) => format!("{}:{}", name.to_ascii_lowercase(), value.trim_end()),
            None => l.trim_end().to_owned(),
        })
        .filter(|l| !PER_ANSWER.iter().any(|h| l.starts_with(&format!("{h}:"))))
        .collect();
    lines.sort();
    Ok(lines)
}

/// Captures every route's answer from the registry at `base` into `folder`, with the index the
/// bare server reads.
pub(super) fn capture(base: &str, routes: &[(&str, String)], folder: &Path) -> Result {
    std::fs::create_dir_all(folder).map_err(|e| format!("{}: {e}", folder.display()))?;
    let mut index = String::new();
    for (i, (_, target)) in routes.iter().enumerate() {
        let stem = format!("r{i}");
        fetch(&format!("{base}{target}"), folder, &stem)?;
        index.push_str(&format!("{target}\t{stem}\n"));
    }
    let path = folder.join("index");
    std::fs::write(&path, index).map_err(|e| format!("{}: {e}", path.display()))
}

/// The replaying server, checked: each route's answer from it has the registry's status,
/// headers and body.
pub(super) fn replay(
    bare: &Path,
    routes: &[(&str, String)],
    folder: &Path,
) -> Result<(Process, String)> {
    let port = free_port()?;
    let server = start_bare(bare, port, Some(folder))?;
    let base = format!("http://127.0.0.1:{port}");
    for (i, (name, target)) in routes.iter().enumerate() {
        let (ours, again) = (format!("r{i}"), format!("again{i}"));
        fetch(&format!("{base}{target}"), folder, &again)?;
        let read = |stem: &str| {
            let path = folder.join(format!("{stem}.body"));
            std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))
        };
        if read(&ours)? != read(&again)? {
            return Err(format!("the replayed {name} ({target}) sent another body"));
        }
        let (want, got) = (
            lasting_headers(folder, &ours)?,
            lasting_headers(folder, &again)?,
        );
        if want != got {
            return Err(format!(
                "the replayed {name} ({target}) sent other headers:\nregistry: {want:?}\nreplay:   {got:?}"
            ));
        }
    }
    Ok((server, base))
}

/// The median of some figures (the upper one of an even count).
pub(super) fn median(mut figures: Vec<f64>) -> f64 {
    figures.sort_by(f64::total_cmp);
    figures.get(figures.len() / 2).copied().unwrap_or(0.0)
}

/// One route loaded on the registry and on the replay in turn, `rounds` times (alternating
/// which goes first): each round's rates and their ratio, and the medians.
pub(super) fn alternate(
    ours: &str,
    limit: &str,
    seconds: u64,
    rounds: usize,
    connections: u32,
) -> Result<Json> {
    wrk(ours, 1, connections, None)?; // warm
    wrk(limit, 1, connections, None)?;
    let (mut our_rps, mut limit_rps, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let mut latency = Json::object();
    for round in 0..rounds {
        let (o, l) = if round % 2 == 0 {
            let o = wrk(ours, seconds, connections, None)?;
            (o, wrk(limit, seconds, connections, None)?)
        } else {
            let l = wrk(limit, seconds, connections, None)?;
            (wrk(ours, seconds, connections, None)?, l)
        };
        our_rps.push(o.num("rps"));
        limit_rps.push(l.num("rps"));
        ratios.push(o.num("rps") / l.num("rps"));
        latency = o;
    }
    let ratio = median(ratios.clone());
    say(format!(
        "  {} req/s against the same bytes from memory {} req/s = {ratio:.2}x (rounds: {})",
        thousands(median(our_rps.clone())),
        thousands(median(limit_rps.clone())),
        ratios
            .iter()
            .map(|r| format!("{r:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Ok(Json::object()
        .with("rps", median(our_rps))
        .with(
            "p50_ms",
            latency.get("p50_ms").map(|_| latency.num("p50_ms")),
        )
        .with(
            "p99_ms",
            latency.get("p99_ms").map(|_| latency.num("p99_ms")),
        )
        .with("same_bytes_rps", median(limit_rps))
        .with("same_bytes_ratio", ratio)
        .with("same_bytes_ratios", ratios))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_of_an_odd_and_an_even_count() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 3.0);
        assert_eq!(median(Vec::new()), 0.0);
    }
}
