//! The Merkle tree against the transparency-dev RFC 6962/9162 test vectors (every valid one
//! accepted, every corrupted one rejected), and proofs checked for every index and size up to
//! 1,000.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::{Value, json};
use wexqs::transparency::merkle::{Tree, leaf_hash, verify_consistency, verify_inclusion};

use crate::helpers::{TestApp, sqlite_app};

fn b64(v: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(v.as_str().unwrap_or_default())
        .expect("base64")
}

/// Each of `hashes` decoded from base64.
fn b64_all(hashes: &[Value]) -> Vec<Vec<u8>> {
    hashes.iter().map(b64).collect()
}

/// The proof that leaf `index` is in the tree's first `size` leaves, as the verifier takes it.
fn inclusion_proof(tree: &Tree, index: u64, size: u64) -> Vec<Vec<u8>> {
    let proof = tree.inclusion_proof(index, size).expect("a proof");
    proof.iter().map(|h| h.to_vec()).collect()
}

/// The proof that the tree's first `first` leaves begin its first `size`, as the verifier
/// takes it.
fn consistency_proof(tree: &Tree, first: u64, size: u64) -> Vec<Vec<u8>> {
    let proof = tree.consistency_proof(first, size).expect("a proof");
    proof.iter().map(|h| h.to_vec()).collect()
}

fn vectors(kind: &str) -> Vec<(PathBuf, Value)> {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, Value)>) {
        for entry in std::fs::read_dir(dir).expect("a vector folder") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "json") {
                let v = serde_json::from_str(&std::fs::read_to_string(&path).expect("read"))
                    .expect("JSON");
                out.push((path, v));
            }
        }
    }
    let mut out = Vec::new();
    walk(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/vectors/merkle/testdata")
            .join(kind),
        &mut out,
    );
    out
}

/// Every test vector of `kind` put to `verify` (with its proof decoded): the valid ones are
/// accepted and the ones marked `wantErr` rejected.
fn assert_every_vector_judged<E: std::fmt::Debug>(
    kind: &str,
    verify: impl Fn(&Value, &[Vec<u8>]) -> Result<(), E>,
) {
    let all = vectors(kind);
    assert!(all.len() > 50, "{} vectors", all.len());
    for (path, v) in all {
        let proof = v["proof"]
            .as_array()
            .map(|p| b64_all(p))
            .unwrap_or_default();
        let result = verify(&v, &proof);
        assert_eq!(
            result.is_err(),
            v["wantErr"] == true,
            "{}: {result:?}",
            path.display()
        );
    }
}

#[test]
fn every_valid_inclusion_vector_is_accepted_and_every_corrupted_one_rejected() {
    assert_every_vector_judged("inclusion", |v, proof| {
        verify_inclusion(
            v["leafIdx"].as_u64().expect("an index"),
            v["treeSize"].as_u64().expect("a size"),
            &b64(&v["leafHash"]),
            proof,
            &b64(&v["root"]),
        )
    });
}

#[test]
fn every_valid_consistency_vector_is_accepted_and_every_corrupted_one_rejected() {
    assert_every_vector_judged("consistency", |v, proof| {
        verify_consistency(
            v["size1"].as_u64().expect("a size"),
            v["size2"].as_u64().expect("a size"),
            proof,
            &b64(&v["root1"]),
            &b64(&v["root2"]),
        )
    });
}

#[test]
fn the_classic_eight_leaf_tree_has_the_known_root() {
    // RFC 6962's test leaves: "", 0x00, 0x10, 0x2021, 0x3031, 0x40414243, ...
    let leaves: [&[u8]; 8] = [
        b"",
        &[0x00],
        &[0x10],
        &[0x20, 0x21],
        &[0x30, 0x31],
        &[0x40, 0x41, 0x42, 0x43],
        &[0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57],
        &[
            0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d,
            0x6e, 0x6f,
        ],
    ];
    let tree = Tree::from_leaves(leaves.iter().map(|l| leaf_hash(l)));
    assert_eq!(
        hex::encode(tree.root(8).expect("a root")),
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
    );
}

#[test]
fn proofs_verify_for_every_index_and_size_up_to_1000() {
    const N: u64 = 1000;
    let tree = Tree::from_leaves((0..N).map(|i| leaf_hash(&i.to_be_bytes())));
    let roots: Vec<Vec<u8>> = (0..=N)
        .map(|s| tree.root(s).expect("a root").to_vec())
        .collect();
    for size in 1..=N {
        for index in 0..size {
            let proof = inclusion_proof(&tree, index, size);
            let leaf = leaf_hash(&index.to_be_bytes());
            verify_inclusion(index, size, &leaf, &proof, &roots[size as usize])
                .unwrap_or_else(|e| panic!("inclusion {index} in {size}: {e}"));
        }
        for first in 1..=size {
            let proof = consistency_proof(&tree, first, size);
            verify_consistency(
                first,
                size,
                &proof,
                &roots[first as usize],
                &roots[size as usize],
            )
            .unwrap_or_else(|e| panic!("consistency {first} → {size}: {e}"));
        }
    }
    // And a wrong leaf or a wrong old root never verifies.
    let proof = inclusion_proof(&tree, 5, 10);
    assert!(verify_inclusion(5, 10, &leaf_hash(b"other"), &proof, &roots[10]).is_err());
    let proof = consistency_proof(&tree, 7, 10);
    assert!(verify_consistency(7, 10, &proof, &roots[6], &roots[10]).is_err());
}

#[test]
fn our_signed_note_reproduces_the_go_sumdb_note_vector_byte_for_byte() {
    let v: Value = serde_json::from_str(
        &std::fs::read_to_string(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("tests/vectors/signed-note/go-sumdb-note.json"),
        )
        .expect("the vector"),
    )
    .expect("JSON");
    let (name, key) =
        wexqs::transparency::note::parse_signer_key(v["signer_key"].as_str().expect("a key"))
            .expect("a signer key");
    let text = v["text"].as_str().expect("text");
    let signed = wexqs::transparency::note::sign(text, &name, &key);
    assert_eq!(signed, v["signed_note"].as_str().expect("a note"));
    assert_eq!(
        wexqs::transparency::note::verifier_key(&name, &key.verifying_key()),
        v["verifier_key"].as_str().expect("a key")
    );
    let verifier = v["verifier_key"].as_str().expect("a key");
    assert_eq!(wexqs::transparency::note::open(&signed, verifier), Ok(text));
    let tampered = signed.replace("cryptography", "cryptographY");
    assert_eq!(
        wexqs::transparency::note::open(&tampered, verifier),
        Err(wexqs::transparency::note::NoteError::BadSignature)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_publishes_signed_checkpoints_and_proofs_that_verify() {
    let app = sqlite_app().await;
    let first = checkpoint_after_award(
        &app,
        "Dales and Moors Community Care NHS Trust",
        "silver",
        "2025-10-20",
    )
    .await;
    let second = checkpoint_after_award(
        &app,
        "Wearside and Tyne Hospitals NHS Foundation Trust",
        "bronze",
        "2025-12-02",
    )
    .await;
    assert!(second > first);
    assert_eq!(app.registry.checkpoint().await.expect("nothing new"), None);

    let key = app.text("/v1/log/key").await;
    let note = app.text("/v1/log/checkpoint").await;
    let body = wexqs::transparency::note::open(&note, key.trim())
        .expect("the checkpoint's signature verifies");
    let (origin, size, root) =
        wexqs::transparency::note::parse_checkpoint(body).expect("a checkpoint");
    assert_eq!(origin, wexqs::transparency::note::origin_for(app.base()));
    assert_eq!(size, second);
    assert_the_entries_hash_to_the_root(&app, size, &root).await;
    assert_the_proofs_verify(&app, (first, second), &root).await;
}

/// The log's `size` entries, public payloads hashed and private ones by their hash alone, make
/// the tree whose root the checkpoint signs.
async fn assert_the_entries_hash_to_the_root(app: &TestApp, size: u64, root: &[u8; 32]) {
    let entries = app
        .json(&format!("/v1/log/entries?start=0&limit={size}"))
        .await;
    let entries = entries["entries"].as_array().expect("entries").clone();
    assert_eq!(entries.len() as u64, size);
    let mut leaves = Vec::new();
    for e in &entries {
        let leaf = b64(&e["leaf_hash"]);
        if e["visibility"] == "public" {
            assert_eq!(
                leaf_hash(e["payload"].as_str().expect("a payload").as_bytes()).to_vec(),
                leaf
            );
        } else {
            assert!(
                e.get("payload").is_none(),
                "private entries show only their hash"
            );
        }
        leaves.push(<[u8; 32]>::try_from(leaf.as_slice()).expect("32 bytes"));
    }
    assert_eq!(&Tree::from_leaves(leaves).root(size).expect("a root"), root);
    assert!(
        entries.iter().any(|e| e["visibility"] == "private"),
        "token events are private"
    );
}

/// Inclusion proofs for the first, a middle and the last entry, and the consistency proof from
/// the checkpoint of `first` to that of `second` entries, verify against `root`; an index past
/// the log is refused.
async fn assert_the_proofs_verify(app: &TestApp, (first, second): (u64, u64), root: &[u8; 32]) {
    let size = second;
    for index in [0, size / 2, size - 1] {
        let p = app
            .json(&format!("/v1/log/proofs/inclusion?index={index}"))
            .await;
        let proof = b64_all(p["proof"].as_array().expect("a proof"));
        verify_inclusion(index, size, &b64(&p["leaf_hash"]), &proof, root)
            .expect("inclusion verifies");
    }
    let c = app
        .json(&format!(
            "/v1/log/proofs/consistency?from={first}&to={second}"
        ))
        .await;
    let proof = b64_all(c["proof"].as_array().expect("a proof"));
    verify_consistency(first, second, &proof, &b64(&c["first_root"]), root)
        .expect("consistency verifies");
    let bad = app
        .get(&format!(
            "/v1/log/proofs/inclusion?index={size}&size={size}"
        ))
        .await;
    assert_eq!(bad.status(), 400);
}

/// Signs a checkpoint of the entries logged since the last one: its size.
async fn new_checkpoint(app: &TestApp) -> u64 {
    let signed = app.registry.checkpoint().await.expect("signed");
    signed.expect("a new checkpoint")
}

/// Registers `name`, issues it a `level` award dated `awarded_on`, and signs a checkpoint of the
/// log so far: its size.
async fn checkpoint_after_award(app: &TestApp, name: &str, level: &str, awarded_on: &str) -> u64 {
    app.as_admin()
        .organisation_with_award(name, level, awarded_on)
        .await;
    new_checkpoint(app).await
}

/// Builds the Go checker (Go's own sumdb/note and sumdb/tlog, from Debian's packages, offline).
fn go_checker() -> PathBuf {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("tlogcheck");
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("gocache");
    let built = std::process::Command::new("go")
        .args(["build", "-o"])
        .arg(&out)
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/tlogcheck/main.go"))
        .env("GO111MODULE", "off")
        .env("GOPATH", "/usr/share/gocode")
        .env("GOCACHE", &cache)
        .env("GOPROXY", "off")
        .output()
        .expect(
            "go runs (Debian's golang-go and golang-golang-x-mod-dev; `cargo xtask test` installs them)",
        );
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    out
}

fn go_check(bundle: &Value) -> Value {
    let file = tempfile::NamedTempFile::new().expect("a file");
    std::fs::write(file.path(), bundle.to_string()).expect("written");
    let run = std::process::Command::new(go_checker())
        .arg(file.path())
        .output()
        .expect("runs");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    serde_json::from_slice(&run.stdout).expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_sumdb_note_and_tlog_accept_our_checkpoints_and_proofs() {
    let app = sqlite_app().await;
    let first = checkpoint_after_award(
        &app,
        "Calder Valley Teaching Hospitals NHS Trust",
        "gold",
        "2025-06-13",
    )
    .await;
    for i in 0..5 {
        app.as_admin()
            .organisation_with_award(&format!("Humber Estuary Trust {i}"), "bronze", "2025-09-07")
            .await;
    }
    let second = new_checkpoint(&app).await;
    let notes: Vec<String> =
        wexqs::store::EventStore::checkpoints(wexqs::testing::store(&app.registry))
            .await
            .expect("checkpoints")
            .into_iter()
            .map(|c| c.note)
            .collect();
    let mut inclusion = Vec::new();
    for (index, size) in [
        (0, first),
        (first - 1, first),
        (0, second),
        (first, second),
        (second - 1, second),
    ] {
        let p: Value = app
            .read_json(&format!(
                "/v1/log/proofs/inclusion?index={index}&size={size}"
            ))
            .await;
        inclusion.push(
            json!({"index": index, "size": size, "leaf": p["leaf_hash"], "proof": p["proof"]}),
        );
    }
    let c: Value = app
        .read_json(&format!(
            "/v1/log/proofs/consistency?from={first}&to={second}"
        ))
        .await;
    let key = app.get("/v1/log/key").await.text().await.expect("a key");
    let bundle = json!({
        "verifier_key": key.trim(),
        "checkpoints": notes,
        "inclusion": inclusion,
        "consistency": {"from": first, "to": second, "proof": c["proof"]},
    });
    let report = go_check(&bundle);
    assert!(
        report["errors"].is_null() || report["errors"] == json!([]),
        "{report}"
    );
    assert_eq!(report["checkpoints_verified"], 2, "{report}");
    assert_eq!(report["inclusion_verified"], 5, "{report}");
    assert_eq!(report["consistency_verified"], true, "{report}");

    // Go rejects a proof with one hash changed, and a checkpoint with one byte changed.
    let mut bad = bundle.clone();
    bad["inclusion"][2]["proof"][0] =
        json!(base64::engine::general_purpose::STANDARD.encode([7u8; 32]));
    bad["checkpoints"][1] = json!(notes[1].replacen('\n', "\n1", 1));
    let report = go_check(&bad);
    assert_eq!(report["checkpoints_verified"], 1, "{report}");
    assert!(
        report["errors"].as_array().is_some_and(|e| e.len() >= 2),
        "{report}"
    );
}
