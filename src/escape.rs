//! The one escaping rule for every place a stored string is written into: markup (HTML text and
//! attributes, SVG and XML), JSON inside markup, and URLs. Pages rendered by askama escape with
//! the same rule; everything written by hand (the snippets people copy, the oEmbed HTML, baked
//! SVG) goes through these functions. Texts reach here already free of control and bidi
//! characters (`domain::types::printable_text`); a string stored before that rule was complete
//! still cannot make XML invalid: every character XML 1.0 forbids is replaced (markup) or
//! written as a JSON escape (JSON in markup).

/// Whether XML 1.0 forbids `c` anywhere in a document (its `Char` production), even as a
/// character reference: C0 controls but tab, line feed and carriage return, U+FFFE and U+FFFF.
/// (Surrogates cannot be a `char`.)
pub(crate) fn xml_forbidden(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}')
}

/// Text made safe inside HTML or XML, as element text or a quoted attribute value (single or
/// double quotes): `& < > " '` become character references, and a character XML 1.0 forbids
/// becomes U+FFFD (no reference to it would be well-formed).
pub(crate) fn markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if xml_forbidden(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// JSON that can stand inside markup as it is (an HTML `<script>`, an XML CDATA section): `<`,
/// `>` and `&` written as `\u003c`, `\u003e` and `\u0026`, which every JSON reader reads back as
/// the same characters, so no value inside can close the element or section around it; a
/// character XML 1.0 forbids is written as its `\uXXXX` escape, the same string to JSON.
pub(crate) fn json_in_markup(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            c if xml_forbidden(c) => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// A text as one URL query or path component (`application/x-www-form-urlencoded`).
pub(crate) fn url_component(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
