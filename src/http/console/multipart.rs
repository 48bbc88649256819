//! A `multipart/form-data` body (RFC 7578) already read whole (at most `limits::MAX_BODY`)
//! taken apart into its fields: the console's one upload (a CSV file and its form token) needs
//! no more than this, and no streaming.

/// One field of the form: its name, the file name a file was sent with, and its bytes.
#[derive(Debug, Clone)]
pub(crate) struct Part {
    pub(crate) name: String,
    pub(crate) filename: Option<String>,
    pub(crate) body: Vec<u8>,
}

/// The boundary a `Content-Type: multipart/form-data; boundary=…` names.
pub(crate) fn boundary(content_type: &str) -> Option<String> {
    let mut params = content_type.split(';');
    let kind = params.next()?.trim();
    if !kind.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"').to_owned())
        .filter(|b| !b.is_empty() && b.len() <= 70)
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// The fields of `body`, or `None` when it is not multipart with this boundary.
pub(crate) fn parts(boundary: &str, body: &[u8]) -> Option<Vec<Part>> {
    let delimiter = format!("--{boundary}");
    let between = format!("\r\n--{boundary}");
    let mut at = find(body, delimiter.as_bytes(), 0)? + delimiter.len();
    let mut parts = Vec::new();
    loop {
        if body.get(at..at + 2)? == b"--" {
            return Some(parts);
        }
        at = find(body, b"\r\n", at)? + 2;
        let head_end = find(body, b"\r\n\r\n", at)?;
        let head = std::str::from_utf8(&body[at..head_end]).ok()?;
        let content_start = head_end + 4;
        let content_end = find(body, between.as_bytes(), content_start)?;
        let (name, filename) = disposition(head)?;
        parts.push(Part {
            name,
            filename,
            body: body[content_start..content_end].to_vec(),
        });
        at = content_end + between.len();
    }
}

/// The field's name and file name from a part's `Content-Disposition: form-data; name="…"`.
fn disposition(head: &str) -> Option<(String, Option<String>)> {
    let line = head.split("\r\n").find(|l| {
        l.split_once(':')
            .is_some_and(|(k, _)| k.trim().eq_ignore_ascii_case("content-disposition"))
    })?;
    let (_, value) = line.split_once(':')?;
    let mut name = None;
    let mut filename = None;
    for param in value.split(';').skip(1) {
        let Some((k, v)) = param.trim().split_once('=') else {
            continue;
        };
        let v = v.trim().trim_matches('"').to_owned();
        match k.trim().to_ascii_lowercase().as_str() {
            "name" => name = Some(v),
            "filename" => filename = Some(v),
            _ => {}
        }
    }
    Some((name?, filename))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_and_a_field_are_taken_apart() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"form_token\"\r\n\r\nabc\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\nContent-Type: text/csv\r\n\r\nx,y\r\n1,2\r\n\r\n--XyZ--\r\n";
        let boundary = boundary("multipart/form-data; boundary=XyZ").expect("a boundary");
        let parts = parts(&boundary, body).expect("parts");
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "form_token");
        assert_eq!(parts[0].body, b"abc");
        assert_eq!(parts[1].filename.as_deref(), Some("a.csv"));
        assert_eq!(parts[1].body, b"x,y\r\n1,2\r\n");
    }

    #[test]
    fn a_body_cut_short_is_refused() {
        assert!(
            parts(
                "XyZ",
                b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nabc"
            )
            .is_none()
        );
    }
}
