//! The one escaping rule for every place a stored string is written into: markup (HTML text and
//! attributes, SVG and XML), JSON inside markup, and URLs. Pages rendered by askama escape with
//! the same rule; everything written by hand (the snippets people copy, the oEmbed HTML, baked
//! SVG) goes through these functions. Texts reach here already free of control and bidi
//! characters (`domain::types::printable_text`), so escaping only has markup to neutralise.

/// Text made safe inside HTML or XML, as element text or a quoted attribute value (single or
/// double quotes): `& < > " '` become character references.
pub fn markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// JSON that can stand inside markup as it is (an HTML `<script>`, an XML CDATA section): `<`,
/// `>` and `&` written as `\u003c`, `\u003e` and `\u0026`, which every JSON reader reads back as
/// the same characters, so no value inside can close the element or section around it.
pub fn json_in_markup(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            c => out.push(c),
        }
    }
    out
}

/// A text as one URL query or path component (`application/x-www-form-urlencoded`).
pub fn url_component(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
