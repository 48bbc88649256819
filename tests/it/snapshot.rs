//! Snapshots of the documents the registry publishes (the credential, problem bodies, the Atom
//! feed, the calendar, the OpenAPI document), kept in `tests/it/snapshots/` and compared with
//! insta. What legitimately differs from run to run is replaced by a name in brackets before
//! the comparison: the server's address, the ids and numbers drawn at random (each known one by
//! its own name, so a snapshot still says which award a link is to), and signatures. Times come
//! from the registry's fixed clock and stay as they are.

/// Snapshot settings that replace each `(value, name)` in `known` by `name` (and the host and
/// port of a known `http://` address by `[host]`), a signing key's id by `[key]`, and any other
/// UUID by `[uuid]`.
pub fn settings(known: &[(&str, &str)]) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    for (value, name) in known {
        settings.add_filter(&escape(value), *name);
    }
    for (value, _) in known {
        if let Some(host) = value.strip_prefix("http://") {
            settings.add_filter(&escape(host), "[host]");
        }
    }
    settings.add_filter("#key-[0-9a-f]{16}", "#key-[key]");
    settings.add_filter(
        "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        "[uuid]",
    );
    settings
}

/// `value` as a regular expression that matches it literally.
fn escape(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}
