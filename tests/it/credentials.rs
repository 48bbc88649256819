//! Signed credentials: the W3C eddsa-jcs-2022 test vector reproduced byte for byte, and the
//! registry's credentials checked by an independent verifier that no one here wrote (Digital
//! Bazaar's `@digitalbazaar/vc` with the eddsa-jcs-2022 cryptosuite and the bitstring status
//! list, run offline with pinned packages): valid ones pass; tampered, expired and revoked ones
//! fail; rotation keeps old credentials valid.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};
use wexqs::credential;

use crate::helpers::{Backend, TestApp, spawn_app};

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
    credential::verify(&signed, &key.verifying_key()).expect("the vector verifies");
    // Any one change to the document breaks the signature.
    let mut tampered = signed.clone();
    tampered["credentialSubject"]["alumniOf"] = json!("The School of Exampler");
    assert_eq!(
        credential::verify(&tampered, &key.verifying_key()),
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
fn independent(bundle: &Value) -> Value {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("verifier");
    assert!(
        root.join("node_modules/@digitalbazaar/vc").exists(),
        "the independent verifier is not installed: run 'npm ci --prefix verifier' (CI does)"
    );
    let dir = tempfile::tempdir().expect("a folder");
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

async fn get_json(app: &TestApp, path: &str) -> Value {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.expect("JSON")
}

async fn bundle(app: &TestApp, number: &str) -> Value {
    json!({
        "credential": get_json(app, &format!("/v1/awards/{number}/credential")).await,
        "did_document": get_json(app, "/.well-known/did.json").await,
        "status_list": get_json(app, "/v1/status-lists/1").await,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_verify_independently_and_fail_when_tampered_expired_or_revoked() {
    let app = spawn_app(Backend::Sqlite)
        .await
        .expect("SQLite is always there");
    let org = app
        .organisation(
            "Thameside Teaching Hospitals NHS Foundation Trust",
            Some("ZA6"),
        )
        .await;
    let number = app.award(&org, "gold", "2025-06-01").await;

    let response = app.get(&format!("/v1/awards/{number}/credential")).await;
    assert_eq!(
        response.headers().get("content-type").map(|v| v.as_bytes()),
        Some(&b"application/vc+ld+json"[..])
    );
    let good = bundle(&app, &number).await;
    let c = &good["credential"];
    assert_eq!(
        c["type"],
        json!(["VerifiableCredential", "OpenBadgeCredential"])
    );
    assert_eq!(c["issuer"]["id"], credential::did_web(&app.base));
    assert_eq!(c["issuer"]["name"], "NHS England");
    assert_eq!(
        c["validFrom"], "2025-05-31T23:00:00Z",
        "midnight in London in summer time"
    );
    assert_eq!(c["validUntil"], "2027-05-31T23:00:00Z");
    assert_eq!(
        c["credentialSubject"]["achievement"]["name"],
        "Work Experience Quality Standard: Gold"
    );
    assert_eq!(c["proof"]["cryptosuite"], "eddsa-jcs-2022");
    assert!(
        c["credentialStatus"]["statusListIndex"].is_string(),
        "no numbers in signed payloads"
    );

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
    let app = spawn_app(Backend::Sqlite)
        .await
        .expect("SQLite is always there");
    let org = app
        .organisation("Fylde Coast Community Health NHS Trust", None)
        .await;
    let first = app.award(&org, "bronze", "2024-12-23").await;
    let old_credential = get_json(&app, &format!("/v1/awards/{first}/credential")).await;

    // Rotate: publish a new key, retire the old one, sign with the new one from now on.
    let old = app.registry.signing().expect("signing");
    let new_key = ed25519_dalek::SigningKey::from_bytes(&[200u8; 32]);
    let new_id = wexqs::keys::key_id(&new_key);
    app.registry
        .execute_all(
            &wexqs::service::Actor::cli(),
            vec![
                wexqs::domain::Command::AddSigningKey {
                    key_id: new_id.clone(),
                    public_key_multibase: wexqs::keys::public_multibase(&new_key),
                },
                wexqs::domain::Command::RetireSigningKey {
                    key_id: old.key_id.clone(),
                    at: "2026-11-24T12:00:00Z".into(),
                },
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
    let new_credential = get_json(&app, &format!("/v1/awards/{second}/credential")).await;
    assert!(
        new_credential["proof"]["verificationMethod"]
            .as_str()
            .is_some_and(|m| m.ends_with(&new_id))
    );
    let did = get_json(&app, "/.well-known/did.json").await;
    assert_eq!(did["verificationMethod"].as_array().map(Vec::len), Some(2));
    let status_list = get_json(&app, "/v1/status-lists/1").await;
    for c in [&old_credential, &new_credential] {
        let verdict = independent(&json!({
            "credential": c, "did_document": did, "status_list": status_list,
        }));
        assert_eq!(verdict["verified"], true, "{verdict}");
    }
    // An amendment signs a new credential; the old one is kept in the award's history.
    let amended = app
        .admin_post(
            &format!("/v1/admin/awards/{first}/amend"),
            json!({"organisation_name": "Fylde Coast Community Healthcare NHS Trust", "reason": "name as registered"}),
        )
        .await;
    assert_eq!(amended.status(), 200);
    let reissued = get_json(&app, &format!("/v1/awards/{first}/credential")).await;
    assert_ne!(reissued, old_credential);
    assert_eq!(
        reissued["credentialStatus"]["statusListIndex"],
        old_credential["credentialStatus"]["statusListIndex"]
    );
    let number: wexqs::domain::CertificateNumber = first.parse().expect("a number");
    let kept = app
        .registry
        .award(&number)
        .expect("the award")
        .0
        .credentials;
    assert_eq!(kept.len(), 2);
    assert_eq!(kept[0].credential, old_credential);
}
