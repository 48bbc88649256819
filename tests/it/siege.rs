//! Four attacks at once on `wexqs serve` as an operator runs it, under the file limit of 1,024 a
//! process gets by default, on a register of 5,000 awards: bodies trickling a byte a second (to
//! `POST /v1/verify` and to an admin route), clients that ask for the register's export and never
//! read it, 900 unauthenticated 4 MiB admin `POST`s at once, and searches matching nothing at the
//! allowed rate. Meanwhile a client from another address asks `/healthz`, an award's verification
//! and `POST /v1/verify` with its credential, over and over: every answer must come within a
//! second, and the server's resident memory must stay within `MEMORY_BOUND` of what it held
//! before. Each attack's outcomes are counted, and each must have been met (refused, cut off or
//! served within its bounds), so the test cannot pass because an attack never ran.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::helpers::{Backend, KillOnDrop, fresh_db, spawn_server, start_server, temp_dir, text};

/// Awards in the register: enough that a search matching nothing would scan for long.
const AWARDS: usize = 5_000;

/// How long the legitimate client asks while every attack runs: longer than the server's body
/// deadline (`Limits::body_timeout`, 10 s), so slow bodies are cut off within it.
const SIEGE: Duration = Duration::from_secs(13);

/// How long a refused or cut-off attacker waits before it connects again.
const RETRY: Duration = Duration::from_secs(5);

/// The most a legitimate answer may take under attack.
const PROMPT: Duration = Duration::from_secs(1);

/// The most the server's resident memory may grow under the attacks, over what it held before:
/// the budget of bodies read at once (`Limits::body_budget`, 64 MiB) and 64 KiB for each of the
/// 768 connections it holds at most (`Limits::max_connections`: the HTTP parser's buffers and
/// what an answer not yet read holds), 112 MiB in all. RELIABILITY.md, "Exhaustion".
const MEMORY_BOUND_KB: u64 = 64 * 1024 + 768 * 64;

/// What one attack's connections came to ("401", "408", "503", "closed", …), counted.
#[derive(Debug, Clone, Default)]
struct Tally(Arc<Mutex<BTreeMap<String, usize>>>);

impl Tally {
    fn add(&self, outcome: impl Into<String>) {
        let mut counts = self.0.lock().expect("a tally");
        *counts.entry(outcome.into()).or_insert(0) += 1;
    }

    fn count(&self, outcome: &str) -> usize {
        self.0
            .lock()
            .expect("a tally")
            .get(outcome)
            .copied()
            .unwrap_or(0)
    }

    fn total(&self) -> usize {
        self.0.lock().expect("a tally").values().sum()
    }

    fn counts(&self) -> BTreeMap<String, usize> {
        self.0.lock().expect("a tally").clone()
    }
}

/// A connection to `server` from `source` (any address of 127.0.0.0/8, which the loopback
/// interface answers on): the server's per-address bounds tell attackers and client apart.
async fn connect_from(source: Ipv4Addr, server: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(IpAddr::V4(source), 0))?;
    socket.connect(server).await
}

/// The status of the answer read from `stream` ("401"), "closed" when the stream ends without
/// one, or the read error's kind.
async fn status_of(stream: &mut (impl AsyncRead + Unpin)) -> String {
    let mut head = Vec::new();
    let mut buf = [0u8; 64];
    while head.len() < 12 {
        match stream.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) => return format!("{:?}", e.kind()),
        }
    }
    match head.strip_prefix(b"HTTP/1.1 ") {
        Some(rest) if rest.len() >= 3 => text(&rest[..3]),
        _ => "closed".to_owned(),
    }
}

/// A client that announces `head`'s body and sends it a byte a second, again and again: the
/// answer it gets each time is counted in `tally` ("held" if it was still sending at the end).
async fn slow_body(server: SocketAddr, source: Ipv4Addr, head: String, tally: Tally, stop: Stop) {
    while !stop.is_set() {
        let mut stream = match connect_from(source, server).await {
            Ok(s) => s,
            Err(e) => {
                tally.add(format!("connect: {:?}", e.kind()));
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let _ = stream.write_all(head.as_bytes()).await;
        let (mut reader, mut writer) = stream.split();
        let answer = status_of(&mut reader);
        tokio::pin!(answer);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let outcome = loop {
            tokio::select! {
                status = &mut answer => break status,
                _ = tick.tick() => {
                    if stop.is_set() {
                        break "held".to_owned();
                    }
                    let _ = writer.write_all(b" ").await;
                }
            }
        };
        tally.add(outcome);
        stop.sleep(RETRY).await;
    }
}

/// A client that asks for the register's export fifty times on one connection and reads none
/// of it; refused, it comes back a second later. Counted: "200" for an export being sent when
/// the attack ended, else the refusal.
async fn slow_reader(server: SocketAddr, source: Ipv4Addr, tally: Tally, stop: Stop) {
    let requests = "GET /v1/exports/register.csv HTTP/1.1\r\nHost: x\r\n\r\n".repeat(50);
    while !stop.is_set() {
        let mut stream = match connect_from(source, server).await {
            Ok(s) => s,
            Err(e) => {
                tally.add(format!("connect: {:?}", e.kind()));
                stop.sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let _ = stream.write_all(requests.as_bytes()).await;
        // A look at the first bytes answered, which leaves them unread in the socket.
        let mut head = [0u8; 12];
        let peeked = tokio::time::timeout(Duration::from_secs(5), stream.peek(&mut head)).await;
        let status = match peeked {
            Ok(Ok(12)) if head.starts_with(b"HTTP/1.1 ") => text(&head[9..]),
            Ok(Ok(_)) => "closed".to_owned(),
            Ok(Err(e)) => format!("{:?}", e.kind()),
            Err(_) => "no answer in 5 s".to_owned(),
        };
        if status == "200" {
            while !stop.is_set() {
                stop.sleep(Duration::from_secs(1)).await;
            }
        } else {
            stop.sleep(RETRY).await;
        }
        tally.add(status);
    }
}

/// A client that sends `request` (an admin `POST` without a token and its 4 MiB body) and
/// counts the answer, again a second after each.
async fn flood(
    server: SocketAddr,
    source: Ipv4Addr,
    request: Arc<Vec<u8>>,
    tally: Tally,
    stop: Stop,
) {
    while !stop.is_set() {
        let stream = match connect_from(source, server).await {
            Ok(s) => s,
            Err(e) => {
                tally.add(format!("connect: {:?}", e.kind()));
                stop.sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let (mut reader, mut writer) = stream.into_split();
        // The server may answer and close before the body is sent: the answer is what counts.
        let request = request.clone();
        let sent = async move {
            let _ = writer.write_all(&request).await;
            writer
        };
        let (status, _writer) = tokio::join!(
            async {
                tokio::time::timeout(Duration::from_secs(30), status_of(&mut reader))
                    .await
                    .unwrap_or_else(|_| "no answer in 30 s".to_owned())
            },
            sent
        );
        tally.add(status);
        stop.sleep(RETRY).await;
    }
}

/// Searches matching nothing, each new (no cache helps) and sharing common words with thousands
/// of names, sent at `per_second` whether or not the last was answered.
async fn search_flood(base: String, source: Ipv4Addr, per_second: u64, tally: Tally, stop: Stop) {
    let client = client_from(source, true);
    let mut sent = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(1000 / per_second));
    let mut i = 0;
    while !stop.is_set() {
        tick.tick().await;
        i += 1;
        let (client, tally) = (client.clone(), tally.clone());
        let url = format!("{base}/v1/register?q=valley+hospital+community+xq{i}");
        sent.push(tokio::spawn(async move {
            match client.get(&url).send().await {
                Ok(r) => tally.add(r.status().as_str()),
                Err(e) if e.is_timeout() => tally.add("timed out"),
                Err(_) => tally.add("connection failed"),
            }
        }));
    }
    for s in sent {
        let _ = s.await;
    }
}

/// An HTTP client whose connections come from `source`; with `reuse` false, a new connection
/// for every request, as a new visitor makes.
fn client_from(source: Ipv4Addr, reuse: bool) -> reqwest::Client {
    let builder = reqwest::Client::builder()
        .local_address(IpAddr::V4(source))
        // Far above any bound: a slow answer shows as slow, not as a client timeout.
        .timeout(Duration::from_secs(30));
    let builder = if reuse {
        builder
    } else {
        builder.pool_max_idle_per_host(0)
    };
    builder.build().expect("a client")
}

/// The flag that ends every attack.
#[derive(Debug, Clone, Default)]
struct Stop(Arc<AtomicBool>);

impl Stop {
    fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Sleeps `d`, or less once the flag is set.
    async fn sleep(&self, d: Duration) {
        let until = Instant::now() + d;
        while !self.is_set() && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A field of `/proc/<pid>/status` in kB ("VmRSS", "VmHWM").
fn memory_kb(pid: u32, field: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// CPU time used by process `pid` so far, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, r)| r)
        .split_whitespace()
        .collect();
    fields
        .get(11)
        .and_then(|u| u.parse::<u64>().ok())
        .unwrap_or(0)
        + fields
            .get(12)
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0)
}

/// The files process `pid` holds open.
fn open_files(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
}

/// The soft limit on open files of process `pid`, from `/proc/<pid>/limits`.
fn file_limit(pid: &str) -> (u64, u64) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("its limits");
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("a file limit");
    let mut numbers = line
        .split_whitespace()
        .filter_map(|w| w.parse::<u64>().ok());
    (
        numbers.next().expect("a soft limit"),
        numbers.next().expect("a hard limit"),
    )
}

/// This process may open enough sockets for every attacker at once (about 1,900): its soft
/// limit raised towards its hard one if it is lower (`prlimit`, from util-linux).
fn allow_attackers_files() {
    const NEEDED: u64 = 4096;
    let (soft, hard) = file_limit("self");
    if soft >= NEEDED {
        return;
    }
    assert!(
        hard >= NEEDED,
        "the attack needs {NEEDED} open files and the hard limit is {hard}"
    );
    let status = std::process::Command::new("prlimit")
        .args([
            "--pid",
            &std::process::id().to_string(),
            &format!("--nofile={NEEDED}:{hard}"),
        ])
        .status()
        .expect("prlimit runs (util-linux)");
    assert!(status.success(), "prlimit raises the soft file limit");
}

/// One legitimate round's answers: (what, status, time taken).
async fn legitimate_round(
    client: &reqwest::Client,
    base: &str,
    number: &str,
    credential: &[u8],
) -> Vec<(&'static str, u16, Duration)> {
    let mut answers = Vec::new();
    let started = Instant::now();
    let health = client.get(format!("{base}/healthz")).send().await;
    answers.push(("/healthz", finish(health).await, started.elapsed()));
    let started = Instant::now();
    let verification = client
        .get(format!("{base}/v1/awards/{number}/verification"))
        .send()
        .await;
    answers.push((
        "verification",
        finish(verification).await,
        started.elapsed(),
    ));
    let started = Instant::now();
    let presented = client
        .post(format!("{base}/v1/verify"))
        .header("content-type", "application/json")
        .body(credential.to_vec())
        .send()
        .await;
    answers.push((
        "POST /v1/verify",
        finish(presented).await,
        started.elapsed(),
    ));
    answers
}

/// The status of a whole answer, its body read (0 when none came).
async fn finish(answer: reqwest::Result<reqwest::Response>) -> u16 {
    match answer {
        Ok(r) => {
            let status = r.status().as_u16();
            match r.bytes().await {
                Ok(_) => status,
                Err(_) => 0,
            }
        }
        Err(_) => 0,
    }
}

/// A `wexqs serve` with every bound at its default, under the file limit systemd gives a
/// service, over a registry of `AWARDS` imported awards: the server, its base URL, its process
/// id and its address.
async fn besieged_server(
    db: &crate::helpers::Db,
    dir: &tempfile::TempDir,
) -> (KillOnDrop, String, u32, SocketAddr) {
    // A first start records the address and the signing key; the import then signs every award.
    let (mut first, _) = start_server(db, dir.path()).await;
    first.kill().expect("the server stops");
    first.wait().expect("the server ended");
    let csv = dir.path().join("awards.csv");
    std::fs::write(&csv, crate::search_flood::register_csv(AWARDS)).expect("written");
    let out = crate::helpers::wexqs(db, dir.path(), &["import", csv.to_str().expect("a path")]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let mut command = std::process::Command::new("sh");
    command
        .args(["-c", "ulimit -n 1024 && exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_wexqs"))
        .arg("serve")
        .env("WEXQS_DATA_DIR", dir.path())
        .env("DATABASE_URL", &db.url)
        .env_remove("WEXQS_CALENDAR");
    let (server, base) = spawn_server(command);
    let server = KillOnDrop(server);
    let pid = server.0.id();
    assert_eq!(file_limit(&pid.to_string()).0, 1024);
    assert!(crate::helpers::answers_within(&base, Duration::from_secs(30)).await);
    let address: SocketAddr = base
        .trim_start_matches("http://")
        .parse()
        .expect("an address");

    (server, base, pid, address)
}

/// An award the legitimate client finds, and its credential: (its number, the credential).
async fn an_award_and_its_credential(
    legitimate: &reqwest::Client,
    base: &str,
) -> (String, Vec<u8>) {
    let found: serde_json::Value = legitimate
        .get(format!("{base}/v1/register?q=northfield+hospital+1"))
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON");
    let number = found["items"][0]["certificate_number"]
        .as_str()
        .expect("an award found")
        .to_owned();
    let credential = legitimate
        .get(format!("{base}/v1/awards/{number}/credential"))
        .send()
        .await
        .expect("answers")
        .bytes()
        .await
        .expect("the credential")
        .to_vec();
    (number, credential)
}

/// Every attack at once, each from addresses of its own, until `stop` is set; what each met is
/// counted in its tally.
#[derive(Default)]
struct Attacks {
    stop: Stop,
    bodies: Tally,
    readers: Tally,
    floods: Tally,
    searches: Tally,
}

impl Attacks {
    fn launch(&self, address: SocketAddr, base: &str) -> Vec<tokio::task::JoinHandle<()>> {
        let (bodies, readers, floods, searches, stop) = (
            &self.bodies,
            &self.readers,
            &self.floods,
            &self.searches,
            &self.stop,
        );
        let mut attackers = Vec::new();
        for i in 0..600u16 {
            let source = Ipv4Addr::new(127, 0, 1, (i % 20) as u8);
            // Most to `POST /v1/verify`, announcing the largest credential it reads; some to an
            // admin route, without a token.
            let head = if i % 6 == 0 {
                "POST /v1/admin/organisations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Content-Length: 1000\r\n\r\n"
                .to_owned()
            } else {
                "POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Content-Length: 2000000\r\n\r\n"
                    .to_owned()
            };
            attackers.push(tokio::spawn(slow_body(
                address,
                source,
                head,
                bodies.clone(),
                stop.clone(),
            )));
        }
        for i in 0..100u16 {
            let source = Ipv4Addr::new(127, 0, 2, (i % 5) as u8);
            attackers.push(tokio::spawn(slow_reader(
                address,
                source,
                readers.clone(),
                stop.clone(),
            )));
        }
        let body = vec![b'x'; 4 * 1024 * 1024];
        let mut request = format!(
            "POST /v1/admin/organisations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(&body);
        let request = Arc::new(request);
        for i in 0..900u16 {
            let source = Ipv4Addr::new(127, 0, 3, (i % 10) as u8);
            attackers.push(tokio::spawn(flood(
                address,
                source,
                request.clone(),
                floods.clone(),
                stop.clone(),
            )));
        }
        // At the rate each address is allowed (`wexqs serve --rate-limit`, 20 a second).
        attackers.push(tokio::spawn(search_flood(
            base.to_owned(),
            Ipv4Addr::new(127, 0, 4, 1),
            20,
            searches.clone(),
            stop.clone(),
        )));

        attackers
    }

    /// Each attack ran, and was met.
    fn assert_each_ran_and_was_met(&self) {
        let (bodies, readers, floods, searches) =
            (&self.bodies, &self.readers, &self.floods, &self.searches);
        assert!(
            bodies.count("408") > 0,
            "no slow body was cut off: {:?}",
            bodies.counts()
        );
        assert!(
            bodies.count("401") > 0,
            "no admin slow body was refused: {:?}",
            bodies.counts()
        );
        assert!(
            readers.count("200") > 0,
            "no export was asked for: {:?}",
            readers.counts()
        );
        assert!(
            floods.total() >= 900,
            "the flood sent {} requests",
            floods.total()
        );
        let admitted: usize = ["200", "201", "400", "413", "422"]
            .iter()
            .map(|s| floods.count(s))
            .sum();
        assert_eq!(
            admitted,
            0,
            "an unauthenticated request was read: {:?}",
            floods.counts()
        );
        assert!(
            floods.count("401") > 0 && floods.count("429") > 0,
            "the flood was refused, then limited: {:?}",
            floods.counts()
        );
        assert!(
            searches.count("200") as f64 >= 0.9 * searches.total() as f64
                && searches.total() >= 200,
            "searches at the allowed rate are answered: {:?}",
            searches.counts()
        );
    }
}

/// The server's memory and open files, read every 50 ms until `watching` is set: the most of
/// each (kB resident, files open).
fn watch(pid: u32, watching: Stop) -> tokio::task::JoinHandle<(u64, usize)> {
    tokio::spawn(async move {
        let (mut resident, mut files) = (0, 0);
        while !watching.is_set() {
            resident = resident.max(memory_kb(pid, "VmRSS").unwrap_or(0));
            files = files.max(open_files(pid));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        (resident, files)
    })
}

/// The legitimate client's rounds for the length of the siege: its answers, and how long it
/// asked. It asks from a thread and a runtime of its own, as from a machine of its own: on the
/// attackers' runtime its requests would wait behind theirs in this process (900 of them
/// writing 4 MiB at once every few seconds), not in the server.
async fn besiege(
    base: &str,
    number: &str,
    credential: &[u8],
) -> (Vec<(&'static str, u16, Duration)>, Duration) {
    let (base, number, credential) = (base.to_owned(), number.to_owned(), credential.to_vec());
    tokio::task::spawn_blocking(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            let legitimate = client_from(Ipv4Addr::new(127, 0, 0, 200), false);
            let mut answers = Vec::new();
            let siege = Instant::now();
            while siege.elapsed() < SIEGE {
                answers.extend(legitimate_round(&legitimate, &base, &number, &credential).await);
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            (answers, siege.elapsed())
        })
    })
    .await
    .expect("the legitimate client")
}

// On a machine of two cores shared with other builds (a debug build), the slowest legitimate
// answer took 0.02-0.32 s in 17 runs of 17, nine of them beside two spinning shells (a load
// average of 4 to 7). It took up to 1.15 s, and the bar was met in five runs of six, while
// actix-server's accept loop handed every connection to a worker to be refused there: the
// refused attackers come back together every 5 s, some 1,600 connections, which queued ahead of
// the client's behind busy workers. The registry's own accept loop now refuses them as it takes
// them (`wexqs::http::accept`). RELIABILITY.md, "Exhaustion".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legitimate_client_is_answered_within_a_second_under_four_attacks_at_once() {
    let Some(db) = fresh_db(Backend::Sqlite).await else {
        return;
    };
    allow_attackers_files();
    let began = Instant::now();
    let dir = temp_dir();
    let (_server, base, pid, address) = besieged_server(&db, &dir).await;

    // The legitimate client, from its own address: an award and its credential.
    let legitimate = client_from(Ipv4Addr::new(127, 0, 0, 200), false);
    let (number, credential) = an_award_and_its_credential(&legitimate, &base).await;
    // Before the attack: what the machine itself gives (shown, to tell its noise from the
    // attack's effect).
    let mut calm = Vec::new();
    for _ in 0..5 {
        calm.extend(legitimate_round(&legitimate, &base, &number, &credential).await);
    }
    assert!(calm.iter().all(|(_, s, _)| *s == 200), "{calm:?}");
    let calm_slowest = calm.iter().map(|(_, _, t)| *t).max().unwrap_or_default();
    let resident_before = memory_kb(pid, "VmRSS").expect("the server's memory");
    let cpu_before = (cpu_ticks(pid), cpu_ticks(std::process::id()));

    // Every attack at once, each from addresses of its own.
    let attacks = Attacks::default();
    let attackers = attacks.launch(address, &base);

    // The server's memory and open files, read every 50 ms until the end.
    let watching = Stop::default();
    let watcher = watch(pid, watching.clone());

    // The attack is in place once the server holds hundreds of connections.
    let start = Instant::now();
    while open_files(pid) < 300 && start.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let held_at_start = open_files(pid);
    assert!(
        held_at_start >= 300,
        "the attackers hold {held_at_start} files of the server"
    );

    let (answers, besieged) = besiege(&base, &number, &credential).await;
    attacks.stop.set();
    for a in attackers {
        let _ = tokio::time::timeout(Duration::from_secs(40), a).await;
    }
    watching.set();
    let (resident_peak, files_peak) = watcher.await.expect("the watcher");
    let files_peak = files_peak.max(held_at_start);
    let peak = memory_kb(pid, "VmHWM").expect("the server's peak");
    let slowest = answers.iter().map(|(_, _, t)| *t).max().unwrap_or_default();
    eprintln!(
        "siege: before the attack the slowest of {} answers took {calm_slowest:?}; under attack \
         for {:.1} s, {} legitimate answers, the slowest {slowest:?}; server memory \
         {resident_before} kB resident before, {resident_peak} kB at most during (peak \
         {peak} kB); {held_at_start} files open when the client began, {files_peak} at most; \
         CPU ticks server {}, attackers {}; in all {:.1} s\n\
         slow bodies: {:?}\nslow readers: {:?}\nflood: {:?}\nsearches: {:?}",
        calm.len(),
        besieged.as_secs_f64(),
        answers.len(),
        cpu_ticks(pid) - cpu_before.0,
        cpu_ticks(std::process::id()) - cpu_before.1,
        began.elapsed().as_secs_f64(),
        attacks.bodies.counts(),
        attacks.readers.counts(),
        attacks.floods.counts(),
        attacks.searches.counts(),
    );

    // The legitimate client: every answer, within a second.
    let failed: Vec<_> = answers.iter().filter(|(_, s, _)| *s != 200).collect();
    assert!(failed.is_empty(), "legitimate requests failed: {failed:?}");
    let late: Vec<_> = answers.iter().filter(|(_, _, t)| *t >= PROMPT).collect();
    assert!(
        late.is_empty(),
        "legitimate answers took a second or more: {late:?}"
    );

    // The server's memory stayed within its bound.
    let grown = resident_peak.max(peak).saturating_sub(resident_before);
    assert!(
        grown <= MEMORY_BOUND_KB,
        "the server's memory grew by {grown} kB under attack, over {MEMORY_BOUND_KB} kB"
    );

    attacks.assert_each_ran_and_was_met();
}
