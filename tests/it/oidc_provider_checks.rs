//! The test OpenID Provider (`oidc_provider.rs`) is what the console's tests take it for: it
//! publishes its issuer, signs a person in through its pages with PKCE, state and nonce, answers
//! with `iss`, swaps the code for an RS256 ID token carrying the person's claims once, and refuses
//! an authorization request without PKCE.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng as _;
use reqwest::{StatusCode, Url};
use serde_json::Value;
use sha2::Digest as _;

use crate::oidc_provider::OidcProvider;

/// Never requested: `sign_in` stops at the redirect to it.
const REDIRECT_URI: &str = "http://127.0.0.1:9/console/auth/callback";

fn random() -> String {
    URL_SAFE_NO_PAD.encode(rand::thread_rng().r#gen::<[u8; 32]>())
}

async fn discovery(provider: &OidcProvider) -> Value {
    let url = format!("{}/.well-known/openid-configuration", provider.issuer());
    let response = reqwest::get(&url).await.expect("discovery answers");
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("discovery is JSON")
}

/// An authorization request for `openid email profile`; with `challenge`, a PKCE S256 one.
fn authorization_url(
    endpoint: &str,
    client_id: &str,
    state: &str,
    nonce: &str,
    challenge: Option<&str>,
) -> String {
    let mut url = Url::parse(endpoint).expect("the authorization endpoint is a URL");
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("scope", "openid email profile")
        .append_pair("state", state)
        .append_pair("nonce", nonce);
    if let Some(challenge) = challenge {
        url.query_pairs_mut()
            .append_pair("code_challenge", challenge)
            .append_pair("code_challenge_method", "S256");
    }
    url.to_string()
}

/// A JWT's part (0 header, 1 payload) as JSON.
fn jwt_part(jwt: &str, index: usize) -> Value {
    let part = jwt.split('.').nth(index).expect("a JWT has three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
}

#[tokio::test]
async fn the_test_provider_signs_a_person_in_with_pkce_and_gives_an_rs256_id_token_with_their_claims()
 {
    let provider = OidcProvider::start(REDIRECT_URI).await;
    let document = discovery(&provider).await;
    assert_eq!(document["issuer"], provider.issuer());
    assert_eq!(
        document["authorization_response_iss_parameter_supported"],
        true
    );
    assert_eq!(
        document["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        document["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256"])
    );
    let endpoint = document["authorization_endpoint"]
        .as_str()
        .expect("an endpoint");

    let (state, nonce, verifier) = (random(), random(), random());
    let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    let request = authorization_url(
        endpoint,
        provider.client_id(),
        &state,
        &nonce,
        Some(&challenge),
    );
    let location = provider.sign_in(&request, "alice.smith").await;
    let location = Url::parse(&location).expect("the redirect is a URL");
    assert!(
        location.as_str().starts_with(&format!("{REDIRECT_URI}?")),
        "{location}"
    );
    let answer: std::collections::HashMap<String, String> =
        location.query_pairs().into_owned().collect();
    assert_eq!(answer.get("state"), Some(&state), "{location}");
    assert_eq!(
        answer.get("iss").map(String::as_str),
        Some(provider.issuer())
    );
    let code = answer.get("code").expect("a code");

    let secret = std::fs::read_to_string(provider.secret_file()).expect("the secret file");
    assert_eq!(secret, provider.client_secret());
    let token_endpoint = document["token_endpoint"].as_str().expect("an endpoint");
    let exchange = || {
        reqwest::Client::new()
            .post(token_endpoint)
            .basic_auth(provider.client_id(), Some(&secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", REDIRECT_URI),
                ("code_verifier", verifier.as_str()),
            ])
            .send()
    };
    let response = exchange().await.expect("the token endpoint answers");
    assert_eq!(response.status(), StatusCode::OK);
    let tokens: Value = response.json().await.expect("JSON");
    let id_token = tokens["id_token"].as_str().expect("an ID token");
    let header = jwt_part(id_token, 0);
    assert_eq!(header["alg"], "RS256");
    let jwks_uri = document["jwks_uri"].as_str().expect("a JWKS");
    let jwks: Value = reqwest::get(jwks_uri)
        .await
        .expect("the JWKS answers")
        .json()
        .await
        .expect("JSON");
    let key = &jwks["keys"][0];
    assert_eq!((&key["kid"], &key["kty"]), (&header["kid"], &"RSA".into()));
    assert!(key.get("d").is_none(), "the JWKS publishes no private part");
    let claims = jwt_part(id_token, 1);
    assert_eq!(claims["iss"], provider.issuer());
    assert_eq!(claims["sub"], "alice.smith");
    assert_eq!(claims["nonce"], nonce.as_str());
    assert_eq!(claims["aud"], provider.client_id());
    assert_eq!(claims["name"], "Alice Smith");
    assert_eq!(claims["email"], "alice.smith@example.nhs.uk");

    let again = exchange().await.expect("the token endpoint answers");
    assert_eq!(
        again.status(),
        StatusCode::BAD_REQUEST,
        "a code is good once"
    );
    let refusal: Value = again.json().await.expect("JSON");
    assert_eq!(refusal["error"], "invalid_grant");

    let without_pkce = authorization_url(endpoint, provider.client_id(), &state, &nonce, None);
    let refused = provider.sign_in(&without_pkce, "bob").await;
    let refused = Url::parse(&refused).expect("the redirect is a URL");
    let refused: std::collections::HashMap<String, String> =
        refused.query_pairs().into_owned().collect();
    assert_eq!(
        refused.get("error").map(String::as_str),
        Some("invalid_request"),
        "{refused:?}"
    );
}
