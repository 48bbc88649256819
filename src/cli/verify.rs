//! `wexqs verify`: the checks of a presented credential, offline against saved copies of the
//! keys and the status list, or online against the addresses the credential names, where the
//! register's own answer about the award is one more check (`register`).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, bail};

use super::*;
use std::time::Duration;

pub(super) async fn verify_command(
    file: &Path,
    did: Option<&Path>,
    status_list: Option<&Path>,
    online: bool,
    at: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let body = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let content_type = match file.extension().and_then(|e| e.to_str()) {
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        _ => "application/json",
    };
    let presented = crate::credentials::check::extract(content_type, &body)?;
    let did = match (did, online) {
        (Some(path), _) => read_json(path)?,
        (None, true) => fetch_json(&did_json_url(&presented)?).await?,
        (None, false) => bail!("give --did did.json (saved from the issuer) or --online"),
    };
    let list = match (status_list, online) {
        (Some(path), _) => Some(read_json(path)?),
        (None, true) => Some(fetch_json(&status_list_url(&presented)?).await?),
        (None, false) => None,
    };
    let now = match at {
        Some(t) => chrono::DateTime::parse_from_rfc3339(t)
            .context("--at is an RFC 3339 time, such as 2027-01-01T00:00:00Z")?
            .with_timezone(&chrono::Utc),
        None => chrono::Utc::now(),
    };
    let mut report = crate::credentials::check::check_credential(
        &presented,
        Some(&did),
        list.as_ref(),
        &|_| None,
        now,
        None,
    );
    if online {
        report
            .checks
            .push(register_check(&presented, at.map(|_| now)).await);
    }
    let mut not_checked = Vec::new();
    let mut failed = false;
    for c in &report.checks {
        if c.name == "status" && list.is_none() {
            println!(
                "not checked {}: no status list given; pass --status-list FILE (saved from the URL in the credential's credentialStatus) or --online to fetch it",
                c.name
            );
            not_checked.push(c.name);
            continue;
        }
        failed |= !c.passed;
        println!(
            "{} {}: {}",
            if c.passed { "pass" } else { "FAIL" },
            c.name,
            c.detail
        );
    }
    if failed {
        println!("invalid");
        Ok(ExitCode::FAILURE)
    } else if not_checked.is_empty() {
        println!("valid");
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "valid as far as checked: every check that ran passed; not checked: {}",
            not_checked.join(", ")
        );
        Ok(ExitCode::SUCCESS)
    }
}

/// The `register` check: what the registry that issued `credential` answers about its award
/// today (or on the day of `at`), from `GET /v1/awards/{number}/verification` at the issuer's
/// address. It fails unless the register says the award is valid, so that a suspended award
/// fails here whatever a copy of the status list says.
async fn register_check(
    credential: &serde_json::Value,
    at: Option<chrono::DateTime<chrono::Utc>>,
) -> crate::credentials::check::Check {
    let outcome = async {
        let number = crate::credentials::check::certificate_number_of(credential)
            .context("the credential names no certificate number of this scheme")?;
        let mut url = format!(
            "{}/v1/awards/{number}/verification",
            issuer_url(credential)?
        );
        if let Some(t) = at {
            url.push_str(&format!("?at={}", crate::service::uk_date(t)));
        }
        let answer = fetch_json(&url).await?;
        let status = answer
            .get("status")
            .and_then(serde_json::Value::as_str)
            .with_context(|| format!("{url} did not answer a status"))?;
        let reason = answer
            .get("reason")
            .and_then(serde_json::Value::as_str)
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        let since = answer
            .get("status_since")
            .and_then(serde_json::Value::as_str)
            .map(|d| format!(" since {d}"))
            .unwrap_or_default();
        let words = status.replace('_', " ");
        if answer.get("valid").and_then(serde_json::Value::as_bool) == Some(true) {
            Ok(format!("the register says award {number} is {words}"))
        } else {
            Err(anyhow::anyhow!(
                "the register says award {number} is {words}{since}{reason}"
            ))
        }
    }
    .await;
    crate::credentials::check::Check {
        name: "register",
        passed: outcome.is_ok(),
        detail: outcome.unwrap_or_else(|e| format!("{e:#}")),
    }
}

/// The issuer's address: its `issuer.url`, which must be the address its did:web names.
fn issuer_url(credential: &serde_json::Value) -> anyhow::Result<PublicUrl> {
    let issuer = credential.get("issuer");
    let did = issuer
        .and_then(|i| i.get("id"))
        .and_then(serde_json::Value::as_str)
        .context("the credential names no issuer id")?;
    let url = issuer
        .and_then(|i| i.get("url"))
        .and_then(serde_json::Value::as_str)
        .context("the credential's issuer has no url to fetch its did.json from")?;
    let url: PublicUrl = url
        .parse()
        .with_context(|| format!("the issuer's url {url:?}"))?;
    if crate::credentials::credential::did_web(url.as_str()) != did {
        bail!("the issuer's url {url} is not the address its DID {did} names; not fetched");
    }
    Ok(url)
}

/// Where the issuer of `credential` publishes its did.json: where did:web resolution looks,
/// `/.well-known/did.json` at a host's root, `…/did.json` under a path.
fn did_json_url(credential: &serde_json::Value) -> anyhow::Result<String> {
    Ok(crate::credentials::credential::did_document_url(
        issuer_url(credential)?.as_str(),
    ))
}

/// The status list `credential` names (http or https).
fn status_list_url(credential: &serde_json::Value) -> anyhow::Result<String> {
    let url = credential
        .get("credentialStatus")
        .and_then(|s| s.get("statusListCredential"))
        .and_then(serde_json::Value::as_str)
        .context("the credential names no status list (credentialStatus.statusListCredential)")?;
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        bail!("the status list {url} is not an http(s) URL; not fetched");
    }
    Ok(url.to_owned())
}

async fn fetch_json(url: &str) -> anyhow::Result<serde_json::Value> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .context("an HTTP client")?;
    let response = client
        .get(url)
        .send()
        .await
        .with_context(|| format!("cannot fetch {url}"))?
        .error_for_status()
        .with_context(|| format!("cannot fetch {url}"))?;
    eprintln!("fetched {url}");
    response
        .json()
        .await
        .with_context(|| format!("{url} did not answer JSON"))
}
