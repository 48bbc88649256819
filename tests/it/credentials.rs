//! Signed credentials: the W3C eddsa-jcs-2022 test vector reproduced byte for byte, and the
//! registry's credentials checked by an independent verifier that no one here wrote (Digital
//! Bazaar's `@digitalbazaar/vc` with the eddsa-jcs-2022 cryptosuite and the bitstring status
//! list, run offline with pinned packages): valid ones pass; tampered, expired and revoked ones
//! fail; rotation keeps old credentials valid.

use std::path::PathBuf;
use std::process::Command;
use wexqs::domain::KeyCommand;

use serde_json::{Value, json};
use wexqs::credentials::credential;

use crate::helpers::{
    Backend, TestApp, one_line, pdf_text, poppler, sqlite_app_with_award, start_registry, temp_dir,
};

fn vector(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors/eddsa-jcs-2022")
        .join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .to_owned()
}

#[test]
fn the_w3c_eddsa_jcs_2022_vector_is_reproduced_byte_for_byte() {
    let pair: Value = serde_json::from_str(&vector("keyPair.json")).expect("JSON");
    let key =
        credential::parse_secret_multibase(pair["privateKeyMultibase"].as_str().expect("a key"))
            .expect("a secret key");
    assert_eq!(
        credential::public_multibase(&key.verifying_key()),
        pair["publicKeyMultibase"]
    );
    let signed: Value = serde_json::from_str(&vector("signedJCS.json")).expect("JSON");
    let mut unsigned = signed.clone();
    unsigned.as_object_mut().expect("an object").remove("proof");
    assert_eq!(
        String::from_utf8(credential::jcs(&unsigned)).expect("UTF-8"),
        vector("canonDocJCS.txt")
    );
    let proof = &signed["proof"];
    let config: Value = serde_json::from_str(&vector("proofConfigJCS.json")).expect("JSON");
    let hash = credential::hash_data(&unsigned, &config);
    assert_eq!(hex::encode(&hash), vector("combinedHashJCS.txt"));
    let ours = credential::sign(
        &unsigned,
        &key,
        proof["verificationMethod"].as_str().expect("a method"),
        proof["created"].as_str().expect("a time"),
    );
    assert_eq!(ours["proof"]["proofValue"], vector("sigBTC58JCS.txt"));
    assert_eq!(credential::jcs(&ours), credential::jcs(&signed));
    credential::verify_proof(&signed, &key.verifying_key()).expect("the vector verifies");
    // Any one change to the document breaks the signature.
    let mut tampered = signed.clone();
    tampered["credentialSubject"]["alumniOf"] = json!("The School of Exampler");
    assert_eq!(
        credential::verify_proof(&tampered, &key.verifying_key()),
        Err(credential::CredentialError::BadSignature)
    );
}

#[test]
fn a_did_web_names_host_port_and_path() {
    assert_eq!(
        credential::did_web("https://registry.example"),
        "did:web:registry.example"
    );
    assert_eq!(
        credential::did_web("http://127.0.0.1:8080/"),
        "did:web:127.0.0.1%3A8080"
    );
    assert_eq!(
        credential::did_web("https://example.org/wexqs/registry"),
        "did:web:example.org:wexqs:registry"
    );
}

#[test]
fn a_status_list_sets_exactly_the_revoked_bits() {
    let encoded = credential::encode_bitstring(&[0, 7, 8, 131_071]);
    for (i, set) in [
        (0, true),
        (1, false),
        (7, true),
        (8, true),
        (9, false),
        (131_071, true),
        (131_070, false),
    ] {
        assert_eq!(credential::bit_is_set(&encoded, i), Ok(set), "bit {i}");
    }
    assert!(credential::bit_is_set("not-multibase", 0).is_err());
}

/// Runs the independent verifier on a bundle; its answer as JSON.
pub(crate) fn independent(bundle: &Value) -> Value {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/verifier");
    assert!(
        root.join("node_modules/@digitalbazaar/vc").exists(),
        "the independent verifier is not installed: run `cargo xtask test`, which installs it (or 'npm ci --prefix tests/interop/verifier')"
    );
    let dir = temp_dir();
    let path = dir.path().join("bundle.json");
    std::fs::write(&path, serde_json::to_vec(bundle).expect("JSON")).expect("written");
    let out = Command::new("node")
        .arg(root.join("verify.mjs"))
        .arg(&path)
        .output()
        .expect("node runs (install Node.js)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// The registry's time, for a bundle checked as of it (the credential and the status list).
pub(crate) fn now_of(app: &TestApp) -> String {
    use wexqs::service::Clock as _;
    app.clock
        .now()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The independent verifier verifies each of `credentials` against the registry's did.json and
/// status list as they are now.
async fn assert_independently_verified<const N: usize>(app: &TestApp, credentials: [&Value; N]) {
    let did = app.json("/.well-known/did.json").await;
    let status_list = app.json("/v1/status-lists/1").await;
    for c in credentials {
        let verdict = independent(&json!({
            "credential": c, "did_document": did, "status_list": status_list,
            "now": now_of(app),
        }));
        assert_eq!(verdict["verified"], true, "{verdict}");
    }
}

pub(crate) async fn bundle(app: &TestApp, number: &str) -> Value {
    json!({
        "credential": app.json(&format!("/v1/awards/{number}/credential")).await,
        "did_document": app.json("/.well-known/did.json").await,
        "status_list": app.json("/v1/status-lists/1").await,
        "now": now_of(app),
    })
}

/// An award issued to a trust: (the served app, the award's certificate number).
async fn gold_award() -> (TestApp, String) {
    sqlite_app_with_award(
        "Thameside Teaching Hospitals NHS Foundation Trust",
        Some("ZA6"),
        "gold",
        "2025-06-01",
    )
    .await
}

/// The credential is an Open Badge in the shape we publish: its types, the issuer (our did:web),
/// validity from and to midnight in London (summer time here), the achievement, an
/// eddsa-jcs-2022 proof and a status list index as a string (no numbers in signed payloads).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_credential_is_an_open_badge_in_the_published_shape() {
    let (app, number) = gold_award().await;
    let response = app.get(&format!("/v1/awards/{number}/credential")).await;
    assert_eq!(
        response.headers().get("content-type").map(|v| v.as_bytes()),
        Some(&b"application/vc+ld+json"[..])
    );
    let credential: Value = response.json().await.expect("JSON");
    let did = credential::did_web(app.base());
    let known = [
        (did.as_str(), "[did]"),
        (app.base(), "[base]"),
        (&number, "[number]"),
    ];
    crate::snapshot::settings(&known).bind(|| {
        insta::assert_json_snapshot!("credential", credential, {
            ".credentialStatus.statusListIndex" => insta::dynamic_redaction(|index, _| {
                assert!(index.as_str().is_some(), "no numbers in signed payloads: {index:?}");
                "[index]"
            }),
            ".credentialStatus.id" => "[status entry]",
            ".proof[].proofValue" => "[signature]",
        });
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_verify_independently_and_fail_when_tampered_expired_or_revoked() {
    let (app, number) = gold_award().await;
    let good = bundle(&app, &number).await;
    let verdict = independent(&good);
    assert_eq!(verdict["verified"], true, "{verdict}");
    assert_eq!(verdict["status_verified"], true, "{verdict}");
    assert_eq!(verdict["revoked"], false, "{verdict}");
    assert_eq!(verdict["expanded"]["credential"], true, "{verdict}");
    assert_eq!(verdict["expanded"]["status_list"], true, "{verdict}");

    let mut tampered = good.clone();
    tampered["credential"]["credentialSubject"]["achievement"]["name"] =
        json!("Work Experience Quality Standard: Platinum");
    let verdict = independent(&tampered);
    assert_eq!(
        verdict["verified"], false,
        "a tampered credential: {verdict}"
    );

    let mut expired = good.clone();
    expired["now"] = json!("2027-06-01T12:00:00Z");
    let verdict = independent(&expired);
    assert_eq!(
        verdict["verified"], false,
        "an expired credential: {verdict}"
    );

    let revoked = app
        .admin_post(
            &format!("/v1/admin/awards/{number}/revoke"),
            json!({"reason": "issued in error"}),
        )
        .await;
    assert_eq!(revoked.status(), 200);
    let after = bundle(&app, &number).await;
    assert_eq!(
        after["credential"], good["credential"],
        "the credential itself is unchanged"
    );
    let index: usize = after["credential"]["credentialStatus"]["statusListIndex"]
        .as_str()
        .and_then(|i| i.parse().ok())
        .expect("an index");
    let list = after["status_list"]["credentialSubject"]["encodedList"]
        .as_str()
        .expect("a list");
    assert_eq!(credential::bit_is_set(list, index), Ok(true));
    let verdict = independent(&after);
    assert_eq!(
        verdict["verified"], false,
        "a revoked credential: {verdict}"
    );
    assert_eq!(verdict["revoked"], true, "{verdict}");
    assert_eq!(
        verdict["status_verified"], true,
        "the list itself is sound: {verdict}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_key_rotation_old_credentials_still_verify() {
    let (app, first) = sqlite_app_with_award(
        "Fylde Coast Community Health NHS Trust",
        None,
        "bronze",
        "2024-12-23",
    )
    .await;
    let old_credential = app.json(&format!("/v1/awards/{first}/credential")).await;

    // Rotate: publish a new key, retire the old one, sign with the new one from now on.
    let old = app.registry.signing().expect("signing");
    let new_key = ed25519_dalek::SigningKey::from_bytes(&[200u8; 32]);
    let new_id = wexqs::credentials::keys::key_id(&new_key);
    app.registry
        .execute_all(
            &wexqs::service::Actor::cli(),
            vec![
                wexqs::domain::Command::Key(KeyCommand::Add {
                    key_id: new_id.clone(),
                    public_key_multibase: wexqs::credentials::keys::public_multibase(&new_key),
                }),
                wexqs::domain::Command::Key(KeyCommand::Retire {
                    key_id: old.key_id.clone(),
                    at: "2026-11-24T12:00:00Z".into(),
                }),
            ],
            None,
        )
        .await
        .expect("rotated");
    app.registry.set_signing(wexqs::service::Signing {
        key_id: new_id.clone(),
        key: new_key,
        ..old.clone()
    });

    let other = app
        .organisation("Pennine Ridge Healthcare NHS Trust", None)
        .await;
    let second = app.award(&other, "silver", "2025-04-01").await;
    let new_credential = app.json(&format!("/v1/awards/{second}/credential")).await;
    assert!(
        new_credential["proof"][0]["verificationMethod"]
            .as_str()
            .is_some_and(|m| m.ends_with(&new_id))
    );
    let did = app.json("/.well-known/did.json").await;
    assert_eq!(did["verificationMethod"].as_array().map(Vec::len), Some(2));
    assert_independently_verified(&app, [&old_credential, &new_credential]).await;
    // An amendment signs a new credential; the old one is kept in the award's history.
    let amended = app
        .admin_post(
            &format!("/v1/admin/awards/{first}/amend"),
            json!({"organisation_name": "Fylde Coast Community Healthcare NHS Trust", "reason": "name as registered"}),
        )
        .await;
    assert_eq!(amended.status(), 200);
    let reissued = app.json(&format!("/v1/awards/{first}/credential")).await;
    assert_ne!(reissued, old_credential);
    assert_eq!(
        reissued["credentialStatus"]["statusListIndex"],
        old_credential["credentialStatus"]["statusListIndex"]
    );
    let number: wexqs::domain::CertificateNumber = first.parse().expect("a number");
    let award = app.registry.award(&number).expect("the award").0;
    let kept = app
        .registry
        .credential_texts(&award)
        .await
        .expect("the credentials' texts");
    assert_eq!(kept.len(), 2);
    assert_eq!(kept[0].value(), old_credential);
}

fn decode_qr(png_bytes: &[u8]) -> String {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut pixels = vec![0; reader.output_buffer_size().expect("a size")];
    let info = reader.next_frame(&mut pixels).expect("a frame");
    let channels = info.color_type.samples();
    let (w, h) = (info.width as usize, info.height as usize);
    let mut image =
        rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| pixels[(y * w + x) * channels]);
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code");
    grids[0].decode().expect("a readable QR code").1
}

async fn bytes(app: &TestApp, path: &str, content_type: &str) -> Vec<u8> {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some(content_type),
        "{path}"
    );
    response.bytes().await.expect("a body").to_vec()
}

/// The credential baked into a logo, as `unbake_png` or `unbake_svg` read it.
fn baked_credential(unbaked: Option<String>) -> Value {
    serde_json::from_str(&unbaked.expect("a baked credential")).expect("JSON")
}

/// The SVG at `path`, which must answer as one.
async fn svg_text(app: &TestApp, path: &str) -> String {
    String::from_utf8(bytes(app, path, "image/svg+xml").await).expect("UTF-8")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baked_logos_carry_the_credential_and_qr_codes_carry_the_verification_url() {
    let (app, number) = sqlite_app_with_award(
        "Severn Vale Ambulance Service NHS Trust",
        None,
        "silver",
        "2025-03-03",
    )
    .await;
    let credential = app.json(&format!("/v1/awards/{number}/credential")).await;

    let png = bytes(&app, &format!("/v1/awards/{number}/logo.png"), "image/png").await;
    let baked = baked_credential(wexqs::credentials::baking::unbake_png(&png).expect("a PNG"));
    assert_eq!(baked, credential);
    let svg = svg_text(&app, &format!("/v1/awards/{number}/logo.svg")).await;
    assert!(svg.contains(
        "<title id=\"wexqs-title\">Work Experience Quality Standard: Silver award</title>"
    ));
    assert!(svg.contains("xmlns:openbadges=\"https://purl.imsglobal.org/ob/v3p0\""));
    let baked_svg =
        baked_credential(wexqs::credentials::baking::unbake_svg(&svg).expect("a readable SVG"));
    assert_eq!(baked_svg, credential);
    assert_independently_verified(&app, [&baked, &baked_svg]).await;
    // The same award and key give the same bytes.
    assert_eq!(
        png,
        bytes(&app, &format!("/v1/awards/{number}/logo.png"), "image/png").await
    );

    let qr = bytes(&app, &format!("/v1/awards/{number}/qr.png"), "image/png").await;
    assert_eq!(decode_qr(&qr), format!("{}/verify/{number}", app.base()));
    let qr_svg = svg_text(&app, &format!("/v1/awards/{number}/qr.svg")).await;
    assert!(
        qr_svg.starts_with("<?xml") || qr_svg.starts_with("<svg"),
        "{qr_svg:.80}"
    );

    let plain = bytes(&app, "/achievements/gold/logo.png", "image/png").await;
    assert_eq!(
        wexqs::credentials::baking::unbake_png(&plain).expect("a PNG"),
        None
    );
    assert_eq!(
        app.get("/achievements/platinum/logo.svg").await.status(),
        404
    );
}

fn failed(report: &Value) -> Vec<String> {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["passed"] == false)
        .map(|c| c["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_verify_names_each_check_and_the_one_that_fails() {
    let (app, number) = sqlite_app_with_award(
        "Cotswold Edge Healthcare NHS Trust",
        None,
        "gold",
        "2025-08-24",
    )
    .await;
    let credential = app.json(&format!("/v1/awards/{number}/credential")).await;
    let png = bytes(&app, &format!("/v1/awards/{number}/logo.png"), "image/png").await;
    let svg = bytes(
        &app,
        &format!("/v1/awards/{number}/logo.svg"),
        "image/svg+xml",
    )
    .await;

    for (content_type, body) in [
        (
            "application/vc+ld+json",
            serde_json::to_vec(&credential).expect("JSON"),
        ),
        ("image/png", png.clone()),
        ("image/svg+xml", svg),
    ] {
        let report: Value = app
            .post_verify(content_type, body)
            .await
            .json()
            .await
            .expect("JSON");
        assert_eq!(report["verdict"], "valid", "{content_type}: {report}");
        let names: Vec<&str> = report["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .map(|c| c["name"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(
            names,
            ["signature", "key", "validity", "status", "registry"]
        );
    }

    let mut tampered = credential.clone();
    tampered["validUntil"] = json!("2099-01-01T00:00:00Z");
    let report: Value = app
        .post_verify(
            "application/json",
            serde_json::to_vec(&tampered).expect("JSON"),
        )
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(report["verdict"], "invalid");
    assert_eq!(failed(&report), ["signature", "registry"]);

    app.admin_post(
        &format!("/v1/admin/awards/{number}/suspend"),
        json!({"reason": "under review"}),
    )
    .await;
    let report: Value = app
        .post_verify("image/png", png.clone())
        .await
        .json()
        .await
        .expect("JSON");
    // Suspended: its status list entry is set, so every verifier refuses it, not only ours.
    assert_eq!(failed(&report), ["status", "registry"], "{report}");
    app.admin_post(
        &format!("/v1/admin/awards/{number}/revoke"),
        json!({"reason": "issued in error"}),
    )
    .await;
    let report: Value = app
        .post_verify("image/png", png)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(failed(&report), ["status", "registry"], "{report}");

    let response = app.post_verify("text/plain", b"hello".to_vec()).await;
    assert_eq!(response.status(), 415);
    let plain = bytes(&app, "/achievements/gold/logo.png", "image/png").await;
    let response = app.post_verify("image/png", plain).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["code"], "credential_unreadable");
    let response = app
        .post_verify("application/json", vec![b' '; 2 * 1024 * 1024 + 1])
        .await;
    assert_eq!(response.status(), 413);
}

/// `POST /v1/verify` of `body` as JSON: the report, or `None` when the body is refused as
/// unreadable (which fails it too).
async fn verify_json(app: &TestApp, body: Vec<u8>) -> Option<Value> {
    let response = app.post_verify("application/json", body).await;
    if response.status() == 400 {
        return None;
    }
    assert_eq!(response.status(), 200);
    Some(response.json().await.expect("JSON"))
}

/// The registry recognises a credential it issued by its canonical hash and does not verify its
/// proof again; that must never let a changed credential through. Once the genuine credential
/// has been checked (and recognised), a change to any one byte, to the proof's value or time, or
/// to a field still fails; whitespace, key order and the proof given as an object rather than a
/// set mean the same document, so they still pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_verify_recognises_only_the_very_credential_issued() {
    let (app, number) = sqlite_app_with_award(
        "Wyre Forest Community Health NHS Trust",
        None,
        "silver",
        "2025-09-12",
    )
    .await;
    let served = app
        .get(&format!("/v1/awards/{number}/credential"))
        .await
        .bytes()
        .await
        .expect("a body")
        .to_vec();
    let credential: Value = serde_json::from_slice(&served).expect("JSON");
    for round in ["first", "recognised"] {
        let report = verify_json(&app, served.clone()).await.expect("read");
        assert_eq!(report["verdict"], "valid", "{round}: {report}");
    }
    // The same credential laid out otherwise (not the served bytes) is the same document.
    let laid_out = serde_json::to_vec_pretty(&credential).expect("JSON");
    assert_ne!(laid_out, served);
    let report = verify_json(&app, laid_out).await.expect("read");
    assert_eq!(report["verdict"], "valid", "laid out otherwise: {report}");

    let changed = |edit: &dyn Fn(&mut Value)| {
        let mut c = credential.clone();
        edit(&mut c);
        serde_json::to_vec(&c).expect("JSON")
    };
    let proof_value = credential["proof"][0]["proofValue"]
        .as_str()
        .expect("a proof value")
        .to_owned();
    // One base58 digit of the signature changed, then its last digit.
    let mut digits: Vec<char> = proof_value.chars().collect();
    digits[5] = if digits[5] == 'A' { 'B' } else { 'A' };
    let first: String = digits.iter().collect();
    let mut digits: Vec<char> = proof_value.chars().collect();
    let last = digits.len() - 1;
    digits[last] = if digits[last] == '2' { '3' } else { '2' };
    let end: String = digits.iter().collect();
    for (what, body, failing) in [
        (
            "a digit of the proof value",
            changed(&|c| c["proof"][0]["proofValue"] = json!(first)),
            vec!["signature"],
        ),
        (
            "the last digit of the proof value",
            changed(&|c| c["proof"][0]["proofValue"] = json!(end)),
            vec!["signature"],
        ),
        (
            "the proof's time",
            changed(&|c| c["proof"][0]["created"] = json!("2025-09-12T00:00:01Z")),
            vec!["signature"],
        ),
        (
            "the name",
            changed(&|c| {
                c["name"] = json!("Wyre Forest Community Health NHS Trust: WEx QS Gold award")
            }),
            vec!["signature", "registry"],
        ),
        (
            "a field added",
            changed(&|c| c["evidence"] = json!([])),
            vec!["signature", "registry"],
        ),
        (
            "the status entry",
            changed(&|c| c["credentialStatus"]["statusListIndex"] = json!("7")),
            vec!["signature", "registry"],
        ),
    ] {
        let report = verify_json(&app, body).await.expect("read");
        assert_eq!(report["verdict"], "invalid", "{what}: {report}");
        assert_eq!(failed(&report), failing, "{what}: {report}");
    }

    // Every 37th byte of the served text changed, one at a time: unreadable or invalid.
    for at in (0..served.len()).step_by(37) {
        let mut body = served.clone();
        body[at] ^= 1;
        if let Some(report) = verify_json(&app, body).await {
            assert_eq!(report["verdict"], "invalid", "byte {at}: {report}");
        }
    }

    // The same document written differently is the same to every check.
    let pretty = serde_json::to_vec_pretty(&credential).expect("JSON");
    let mut object_proof = credential.clone();
    object_proof["proof"] = credential["proof"][0].clone();
    for (what, body) in [
        ("indented", pretty),
        (
            "the proof as an object",
            serde_json::to_vec(&object_proof).expect("JSON"),
        ),
    ] {
        let report = verify_json(&app, body).await.expect("read");
        assert_eq!(report["verdict"], "valid", "{what}: {report}");
    }
    let report = verify_json(&app, served).await.expect("read");
    assert_eq!(report["verdict"], "valid", "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_revoked_as_compromised_invalidates_what_it_signed_from_then_on() {
    let (app, before) = sqlite_app_with_award(
        "Exe Estuary Community Health NHS Trust",
        None,
        "bronze",
        "2025-01-10",
    )
    .await;
    let signing = app.registry.signing().expect("signing");
    // The key is compromised from a moment after the first credential was signed...
    app.clock.set(crate::helpers::at(2026, 11, 25));
    let other = app
        .organisation("Mendip Hills Primary Care Network", None)
        .await;
    let after = app.award(&other, "silver", "2025-05-30").await;
    app.registry
        .execute(
            &wexqs::service::Actor::cli(),
            wexqs::domain::Command::Key(KeyCommand::Revoke {
                key_id: signing.key_id.clone(),
                compromised_since: "2026-11-25T00:00:00Z".into(),
                reason: "the key file was exposed".parse().expect("a reason"),
            }),
            None,
        )
        .await
        .expect("revoked");
    let did = app.json("/.well-known/did.json").await;
    assert_eq!(
        did["assertionMethod"],
        json!([]),
        "a compromised key is no longer trusted"
    );
    let check = |number: String| {
        let app = &app;
        async move {
            let c = app.json(&format!("/v1/awards/{number}/credential")).await;
            let report: Value = app
                .post_verify("application/json", serde_json::to_vec(&c).expect("JSON"))
                .await
                .json()
                .await
                .expect("JSON");
            report
        }
    };
    let old = check(before).await;
    assert_eq!(
        old["verdict"], "valid",
        "signed before the compromise: {old}"
    );
    let new = check(after).await;
    assert_eq!(failed(&new), ["key"], "signed after the compromise: {new}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wexqs_verify_checks_a_credential_offline() {
    let (app, number) = sqlite_app_with_award(
        "Tamar Valley Hospitals NHS Foundation Trust",
        None,
        "gold",
        "2025-11-18",
    )
    .await;
    let dir = temp_dir();
    let save = |name: &str, body: Vec<u8>| {
        let path = dir.path().join(name);
        std::fs::write(&path, body).expect("written");
        path
    };
    let did = save(
        "did.json",
        bytes(&app, "/.well-known/did.json", "application/did+json").await,
    );
    let list = save(
        "list.json",
        bytes(&app, "/v1/status-lists/1", "application/vc+ld+json").await,
    );
    let png = save(
        "logo.png",
        bytes(&app, &format!("/v1/awards/{number}/logo.png"), "image/png").await,
    );
    let run = |file: &std::path::Path, extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_wexqs"))
            .arg("verify")
            .arg(file)
            .arg("--did")
            .arg(&did)
            .arg("--status-list")
            .arg(&list)
            .args(extra)
            .output()
            .expect("wexqs runs")
    };
    // As of the day the status list was signed for (a copy past its validUntil is refused).
    let ok = run(&png, &["--at", "2026-11-24T12:00:00Z"]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    let stdout = String::from_utf8_lossy(&ok.stdout);
    for name in ["signature", "key", "validity", "status"] {
        assert!(stdout.contains(&format!("pass {name}:")), "{stdout}");
    }
    let expired = run(&png, &["--at", "2027-11-18T00:00:00Z"]);
    assert!(!expired.status.success());
    assert!(String::from_utf8_lossy(&expired.stdout).contains("FAIL validity: expired"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pdf_certificate_reads_right_and_its_qr_code_opens_the_verification_page() {
    let (app, number) = sqlite_app_with_award(
        "Norbridge and Wensum University Hospitals NHS Foundation Trust",
        Some("ZA5"),
        "silver",
        "2025-02-21",
    )
    .await;
    let pdf = bytes(
        &app,
        &format!("/v1/awards/{number}/certificate.pdf"),
        "application/pdf",
    )
    .await;
    assert!(pdf.starts_with(b"%PDF-"));
    let text = one_line(&pdf_text(&pdf, &["-layout"]));
    let (award, programme) = app
        .registry
        .award(&number.parse().expect("a number"))
        .expect("the award");
    let issued = award.credentials.last().expect("a credential");
    let credential = app
        .registry
        .credential_text(&award, issued)
        .await
        .expect("its text");
    for expected in [
        "Norbridge and Wensum University Hospitals NHS Foundation Trust".to_owned(),
        "Silver award".to_owned(),
        "Awarded on 21 February 2025".to_owned(),
        "Valid until 20 February 2027".to_owned(),
        format!("Certificate number {number}"),
        "Issued by NHS England".to_owned(),
        format!("{}/verify/{number}", app.base()),
        format!("Signing key: {}", issued.key_id),
        format!(
            "Signature fingerprint: {}",
            wexqs::render::certificate::signature_fingerprint(&credential)
        ),
    ] {
        assert!(
            text.contains(&expected),
            "{expected:?} is not in the PDF's text: {text}"
        );
    }

    let dir = temp_dir();
    let file = dir.path().join("certificate.pdf");
    std::fs::write(&file, &pdf).expect("written");
    let status = Command::new(poppler("pdftoppm"))
        .args(["-r", "150", "-png", "-singlefile"])
        .arg(&file)
        .arg(dir.path().join("page"))
        .status()
        .expect("pdftoppm runs");
    assert!(status.success());
    let page = std::fs::read(dir.path().join("page.png")).expect("a rendered page");
    assert_eq!(decode_qr(&page), format!("{}/verify/{number}", app.base()));

    // The same award, credential and URL give the same bytes.
    let url = format!("{}/verify/{number}", app.base());
    let verdict = wexqs::domain::status_as_of(&award, &programme, app.registry.today());
    let pdf_of = || {
        wexqs::render::certificate::certificate_pdf(&award, issued, &credential, &url, &verdict)
            .expect("a PDF")
    };
    let (once, twice) = (pdf_of(), pdf_of());
    assert_eq!(once, twice);
    assert_eq!(once, pdf);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awards_recorded_before_a_key_existed_get_their_credentials_once_one_does() {
    let db = crate::helpers::fresh_db(Backend::Sqlite)
        .await
        .expect("SQLite is always there");
    let clock = std::sync::Arc::new(wexqs::service::FixedClock::new(crate::helpers::at(
        2026, 11, 24,
    )));
    let registry = start_registry(&db, clock, 5).await;
    wexqs::service::demo::load(&registry)
        .await
        .expect("the demo");
    let awards = crate::helpers::all_awards(&registry);
    assert_eq!(awards.len(), 43, "the demo's awards");
    assert!(awards.iter().all(|a| a.credentials.is_empty()));
    // A key the log has not published: signing needs only the key at hand.
    let key = ed25519_dalek::SigningKey::from_bytes(&[42u8; 32]);
    registry.set_signing(wexqs::startup::signing(
        wexqs::credentials::keys::key_id(&key),
        key,
        &"https://registry.example".parse().expect("a URL"),
        None,
    ));
    assert_eq!(
        registry.issue_missing_credentials().await.expect("signed"),
        43
    );
    let awards = crate::helpers::all_awards(&registry);
    assert!(awards.iter().all(|a| a.credentials.len() == 1));
    assert_eq!(
        registry
            .issue_missing_credentials()
            .await
            .expect("nothing to do"),
        0
    );
    let indexes: std::collections::BTreeSet<String> = awards
        .iter()
        .filter_map(|a| a.status_list_index().map(str::to_owned))
        .collect();
    assert_eq!(
        indexes.len(),
        43,
        "every award has its own status list entry"
    );
}

crate::helpers::on_both_databases!(app: a_credential_changed_in_the_database_is_never_served);

/// A signed credential's text is read from the log when asked for (memory holds where it is,
/// not its 2.5 kB), and what is read is checked against the leaf hash memory holds for its
/// entry. So a credential changed in the database behind the registry's back is refused as the
/// log's inconsistency (a 500 that names nothing inside), never served, baked or recognised;
/// one read before the change was checked then and is served as it was signed.
async fn a_credential_changed_in_the_database_is_never_served(app: TestApp) {
    let read_before = app.organisation("Read Before Trust", None).await;
    let read_before = app.award(&read_before, "gold", "2025-03-01").await;
    let changed = app.organisation("Changed Behind Trust", None).await;
    let changed = app.award(&changed, "silver", "2025-03-01").await;
    let served = app
        .get_answer(&format!("/v1/awards/{read_before}/credential"))
        .await;
    assert_eq!(served.status, 200);

    let store = crate::helpers::open_store(&app._db).await;
    let mut as_signed = None;
    for number in [&read_before, &changed] {
        let award = app
            .registry
            .award(&number.parse().expect("a number"))
            .expect("the award")
            .0;
        let position = award.credentials.last().expect("a credential").position;
        let payload =
            String::from_utf8(crate::tamper::payload(&store, position).await).expect("UTF-8");
        assert!(payload.contains(" Trust"), "the entry holds the credential");
        // The changed award's credential as it was signed, read from the entry itself (asking
        // the registry would keep it in memory).
        let entry: Value = serde_json::from_str(&payload).expect("JSON");
        as_signed = find_credential(&entry).cloned();
        crate::tamper::replace_in_payload(&store, position, " Trust", " Trusk").await;
    }

    for path in [
        format!("/v1/awards/{changed}/credential"),
        format!("/v1/awards/{changed}/logo.png"),
        format!("/v1/awards/{changed}/logo.svg"),
        format!("/v1/awards/{changed}/certificate.pdf"),
    ] {
        let answer = app.get_answer(&path).await;
        assert_eq!(answer.status, 500, "GET {path}");
        assert_eq!(answer.json()["code"], "internal", "GET {path}");
        assert!(
            !String::from_utf8_lossy(&answer.body).contains("Trusk"),
            "GET {path}"
        );
    }
    // Presented as it was signed, it cannot be checked against the changed entry: refused,
    // never called valid or invalid.
    let as_signed = as_signed.expect("the entry holds a credential");
    let refused = app
        .post_verify("application/json", as_signed.to_string().into_bytes())
        .await;
    assert_eq!(refused.status(), 500);
    let refused: Value = refused.json().await.expect("JSON");
    assert_eq!(refused["code"], "internal", "{refused}");
    assert!(refused.get("verdict").is_none(), "{refused}");
    let kept = app
        .get_answer(&format!("/v1/awards/{read_before}/credential"))
        .await;
    assert_eq!(kept.status, 200, "read before the change: served as signed");
    assert_eq!(kept.body, served.body);
    assert!(!String::from_utf8_lossy(&kept.body).contains("Trusk"));
    let report = app
        .post_verify("application/json", served.body.clone())
        .await;
    assert_eq!(report.status(), 200);
    let report: Value = report.json().await.expect("JSON");
    assert_eq!(report["verdict"], "valid", "{report}");
}

/// The first object under a key `credential` in `value`.
fn find_credential(value: &Value) -> Option<&Value> {
    match value {
        Value::Object(map) => map
            .get("credential")
            .filter(|c| c.is_object())
            .or_else(|| map.values().find_map(find_credential)),
        Value::Array(items) => items.iter().find_map(find_credential),
        _ => None,
    }
}
