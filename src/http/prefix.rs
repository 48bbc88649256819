//! A public URL with a path (`https://host/wexqs`): the path every link, form, asset and
//! `Location` the server writes starts with, and the requests that still carry it.
//!
//! The registry serves at the root of its listener and expects the proxy in front to strip the
//! public URL's path (nginx: `location /wexqs/ { proxy_pass http://up/; }`). A request that
//! arrives with the path still on (`proxy_pass http://up;`) is answered as if it had been
//! stripped, so both proxy set-ups work. That is unambiguous only if no route starts with the
//! path's first segment, so `serve` refuses a public URL whose path does (`https://host/v1`).

use actix_web::dev::ServiceRequest;
use actix_web::http::Uri;

/// The path of `public_url` (no trailing slash): `""` for `https://host`, `"/wexqs"` for
/// `https://host/wexqs`. Every root-relative address the server writes starts with it.
pub fn base_path(public_url: &str) -> &str {
    let rest = public_url
        .split_once("://")
        .map_or(public_url, |(_, rest)| rest)
        .trim_end_matches('/');
    rest.find('/').map_or("", |at| &rest[at..])
}

/// Why the server cannot serve a public URL with this path, if it cannot: a segment a route
/// starts with (the path would be ambiguous when the proxy passes it on), or a `.`/`..` segment
/// (a browser folds it away, so the links would not reach the server).
pub fn refusal(public_url: &str) -> Option<String> {
    let base = base_path(public_url);
    let first = base.split('/').find(|s| !s.is_empty())?;
    if base.split('/').any(|s| s == "." || s == "..") {
        return Some(format!(
            "the public URL's path {base} has a '.' or '..' segment, which browsers fold away"
        ));
    }
    let taken = super::routes()
        .any(|(_, route)| route.trim_start_matches('/').split('/').next() == Some(first))
        || ["did.json", "embed.js"].contains(&first);
    taken.then(|| {
        format!(
            "the public URL's path {base} starts with /{first}, which is also a route of the registry: a request for {base}/… could not be told apart from the route; choose another path (such as /wexqs)"
        )
    })
}

/// `req`'s path without `base` when it starts with it (the proxy passed the public URL's path
/// on); nothing to do otherwise.
pub fn stripped(base: &str, path: &str) -> Option<String> {
    let rest = path.strip_prefix(base)?;
    if rest.is_empty() {
        return Some("/".to_owned());
    }
    rest.starts_with('/').then(|| rest.to_owned())
}

/// Answers a request that still carries the public URL's path as if the proxy had stripped it.
/// Nothing is done when the public URL has no path.
pub(crate) fn strip(base: &str, req: &mut ServiceRequest) {
    if base.is_empty() {
        return;
    }
    let Some(path) = stripped(base, req.path()) else {
        return;
    };
    let path_and_query = match req.uri().query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    let Ok(uri) = path_and_query.parse::<Uri>() else {
        return;
    };
    req.match_info_mut().get_mut().update(&uri);
    req.head_mut().uri = uri;
}
