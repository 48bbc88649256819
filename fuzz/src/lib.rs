//! The checks the fuzz targets run, one per parser of outside bytes. Each takes any bytes and
//! must return without panicking, hanging or allocating without bound; where a parser has a
//! property that must hold for every input it accepts, the check asserts it. The integration
//! tests replay the committed seeds and every crash found through these same functions on
//! stable Rust (`tests/it/fuzz_regressions.rs`), so a fixed crash stays fixed without the fuzzer.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde_json::Value;
use wexqs::domain::CertificateNumber;
use wexqs::domain::applications::{Manifest, eligibility};
use wexqs::domain::framework::{Framework, SAMPLE_FRAMEWORK};

/// A check of one parser: any bytes in, a panic for a broken property.
pub type Check = fn(&[u8]);

/// Every check by the name of its fuzz target (and of its folders under `seeds/` and
/// `regressions/`).
pub const CHECKS: &[(&str, Check)] = &[
    ("certificate_number", certificate_number),
    ("credential_json", credential_json),
    ("baked_png", baked_png),
    ("baked_svg", baked_svg),
    ("import_csv", import_csv),
    ("evidence_manifest", evidence_manifest),
];

/// A fixed "now" for the checks that depend on the time, so a run is repeatable.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0)
        .single()
        .expect("a valid fixed time")
}

/// `CertificateNumber::from_str`: whatever it accepts prints as four groups of four, reads back
/// as itself (grouped, compact and lower case), and any one character changed is refused.
pub fn certificate_number(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = CertificateNumber::suggest(text);
    let Ok(number) = CertificateNumber::from_str(text) else {
        return;
    };
    let printed = number.as_str();
    assert_eq!(printed.len(), 19, "{printed:?} is four groups of four");
    assert_eq!(
        CertificateNumber::from_str(printed).ok().as_ref(),
        Some(&number)
    );
    assert_eq!(
        CertificateNumber::from_str(&number.compact()).ok().as_ref(),
        Some(&number)
    );
    assert_eq!(
        CertificateNumber::from_str(&printed.to_ascii_lowercase())
            .ok()
            .as_ref(),
        Some(&number)
    );
    // A single mistyped character (to another character of the alphabet) is always caught.
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let bytes = printed.as_bytes();
    let position = usize::from(data.first().copied().unwrap_or(0)) % bytes.len();
    let replacement = ALPHABET[usize::from(data.last().copied().unwrap_or(1)) % ALPHABET.len()];
    if bytes[position] != b'-' && bytes[position] != replacement {
        let mut typo = bytes.to_vec();
        typo[position] = replacement;
        let typo = String::from_utf8(typo).expect("ASCII stays UTF-8");
        assert!(
            CertificateNumber::from_str(&typo).is_err(),
            "{typo:?}, one character away from {printed:?}, was accepted"
        );
    }
}

/// A presented credential (`POST /v1/verify` as JSON, `wexqs verify FILE.json`): read it, run
/// every named check against a fixed DID document and status list, and canonicalise it (JCS,
/// RFC 8785); canonical bytes are JSON that canonicalises to themselves.
pub fn credential_json(data: &[u8]) {
    let Ok(presented) = wexqs::credentials::check::extract("application/json", data) else {
        return;
    };
    check_presented(&presented);
    let canonical = wexqs::credentials::credential::jcs(&presented);
    let reread: Value =
        serde_json::from_slice(&canonical).expect("canonical JSON is JSON that parses");
    assert_eq!(
        wexqs::credentials::credential::jcs(&reread),
        canonical,
        "canonicalisation is idempotent"
    );
    // The status list's bitstring, as `wexqs verify --status-list FILE` reads a list it is
    // given (its signature is checked first, but by a key the same caller provides).
    if let Some(encoded) = presented
        .pointer("/credentialSubject/encodedList")
        .and_then(Value::as_str)
    {
        let index = presented
            .pointer("/credentialStatus/statusListIndex")
            .and_then(Value::as_str)
            .and_then(|i| i.parse::<usize>().ok())
            .unwrap_or(0);
        let _ = wexqs::credentials::credential::bit_is_set(encoded, index);
    }
}

/// A baked PNG (`POST /v1/verify` as `image/png`, `wexqs verify FILE.png`).
pub fn baked_png(data: &[u8]) {
    let _ = wexqs::credentials::baking::unbake_png(data);
    if let Ok(presented) = wexqs::credentials::check::extract("image/png", data) {
        check_presented(&presented);
    }
}

/// A baked SVG (`POST /v1/verify` as `image/svg+xml`, `wexqs verify FILE.svg`).
pub fn baked_svg(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = wexqs::credentials::baking::unbake_svg(text);
    }
    if let Ok(presented) = wexqs::credentials::check::extract("image/svg+xml", data) {
        check_presented(&presented);
    }
}

/// An import CSV (`POST /v1/admin/awards/import` as `text/csv`, `wexqs import FILE.csv`): the
/// rows, then each row's fields; a bad row is an error with a line, never a panic.
pub fn import_csv(data: &[u8]) {
    match wexqs::service::import::read_csv(data) {
        Ok(rows) => assert!(
            rows.accepted() + rows.errors().len() >= rows.len(),
            "a refused row says why"
        ),
        Err(errors) => assert!(!errors.is_empty(), "a refused file says why"),
    }
}

/// An evidence manifest (`POST /v1/admin/applications`, `wexqs applications check FILE`): read
/// it and run the eligibility checklist at every level, on a fixed day.
pub fn evidence_manifest(data: &[u8]) {
    let Ok(manifest) = serde_json::from_slice::<Manifest>(data) else {
        return;
    };
    let framework = Framework::parse(SAMPLE_FRAMEWORK).expect("the shipped framework parses");
    let on = NaiveDate::from_ymd_opt(2025, 9, 10).expect("a valid fixed date");
    let checked = eligibility(&framework, &manifest, on);
    assert_eq!(checked.levels.len(), 3, "a checklist for every level");
}

/// The named checks of a presented credential, against a DID document and a status list that
/// are well formed but not the credential's own (the fuzzer cannot forge a signature).
fn check_presented(presented: &Value) {
    use std::sync::OnceLock;
    static FIXTURES: OnceLock<(Value, Value)> = OnceLock::new();
    let (did, list) = FIXTURES.get_or_init(|| {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let did = wexqs::credentials::credential::did_web("https://registry.example");
        let document = wexqs::credentials::credential::did_document(
            &did,
            &[wexqs::credentials::credential::PublishedKey {
                key_id: "key-1".into(),
                public_key_multibase: wexqs::credentials::credential::public_multibase(
                    &key.verifying_key(),
                ),
                trusted: true,
            }],
        );
        let unsigned = wexqs::credentials::credential::status_list(
            &[3],
            &did,
            "NHS England",
            "https://registry.example",
            wexqs::credentials::credential::status_list_period(now()),
        );
        let list = wexqs::credentials::credential::sign(
            &unsigned,
            &key,
            &format!("{did}#key-1"),
            "2025-01-01T00:00:00Z",
        );
        (document, list)
    });
    let report = wexqs::credentials::check::check_credential(
        presented,
        Some(did),
        Some(list),
        &|_| None,
        now(),
        None,
    );
    assert_eq!(
        report.verdict == "valid",
        report.checks.iter().all(|c| c.passed),
        "the verdict is valid exactly when every check passed"
    );
}
