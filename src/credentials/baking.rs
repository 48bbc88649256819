//! Baking: an Open Badges credential carried inside an image (Open Badges 3.0 §5.3), and read
//! back out. A PNG carries it in one `iTXt` chunk `openbadgecredential` placed right after the
//! header; an SVG in an `<openbadges:credential>` element holding the JSON in CDATA. Pure: bytes
//! in, bytes out; every read is bounded by `crate::limits`.

use std::io::Write as _;

use png::text_metadata::{EncodableTextChunk as _, ITXtChunk};

use crate::escape::json_in_markup;
use crate::limits::{MAX_CREDENTIAL_JSON, MAX_PNG_DECODER_BYTES, human_size};

/// The PNG keyword a baked Open Badges credential sits under.
pub(crate) const PNG_KEYWORD: &str = "openbadgecredential";
/// The XML namespace of a baked SVG.
pub(crate) const SVG_NAMESPACE: &str = "https://purl.imsglobal.org/ob/v3p0";

/// The PNG signature (8 bytes) and the `IHDR` chunk (length, type, 13 bytes of data, CRC): a
/// baked credential's chunk goes right after them.
const PNG_HEADER_LEN: usize = 8 + 4 + 4 + 13 + 4;

#[derive(Debug, thiserror::Error)]
pub enum BakingError {
    #[error("the PNG cannot be written or read: {0}")]
    Png(String),
    #[error("the SVG cannot be read: {0}")]
    Svg(String),
    #[error("the baked credential is larger than {0}")]
    TooLarge(String),
}

/// `png` with the credential's JSON baked in: one uncompressed `iTXt` chunk right after `IHDR`,
/// where a PNG encoder writes text chunks given before the image data.
pub(crate) fn bake_png(png: &[u8], credential_json: &str) -> Result<Vec<u8>, BakingError> {
    let png_error = |e: png::EncodingError| BakingError::Png(e.to_string());
    if png.len() < PNG_HEADER_LEN || &png[12..16] != b"IHDR" {
        return Err(BakingError::Png(
            "the image does not start with a PNG header".into(),
        ));
    }
    let mut out = Vec::with_capacity(png.len() + credential_json.len() + 64);
    out.extend_from_slice(&png[..PNG_HEADER_LEN]);
    ITXtChunk::new(PNG_KEYWORD, credential_json)
        .encode(&mut out)
        .map_err(png_error)?;
    out.write_all(&png[PNG_HEADER_LEN..])
        .map_err(|e| BakingError::Png(e.to_string()))?;
    Ok(out)
}

/// `svg` (which starts with its `<svg …>` tag) with the credential baked in: the Open Badges
/// namespace declared and `<openbadges:credential>` holding the JSON in CDATA, written so that
/// nothing inside can close the section.
pub fn bake_svg(svg: &str, credential_json: &str) -> Result<String, BakingError> {
    let (open, rest) = svg
        .split_once('>')
        .ok_or_else(|| BakingError::Svg("the image does not start with an <svg> tag".into()))?;
    Ok(format!(
        "{open} xmlns:openbadges=\"{SVG_NAMESPACE}\">\n<openbadges:credential><![CDATA[{}]]></openbadges:credential>{rest}",
        json_in_markup(credential_json)
    ))
}

/// The credential baked into a PNG, if there is one. Its text is inflated to at most
/// `MAX_CREDENTIAL_JSON` bytes, and the decoder allocates at most `MAX_PNG_DECODER_BYTES`.
pub fn unbake_png(bytes: &[u8]) -> Result<Option<String>, BakingError> {
    let decoder = png::Decoder::new_with_limits(
        std::io::Cursor::new(bytes),
        png::Limits {
            bytes: MAX_PNG_DECODER_BYTES,
        },
    );
    let reader = decoder
        .read_info()
        .map_err(|e| BakingError::Png(e.to_string()))?;
    let Some(chunk) = reader
        .info()
        .utf8_text
        .iter()
        .find(|c| c.keyword == PNG_KEYWORD)
    else {
        return Ok(None);
    };
    let mut chunk = chunk.clone();
    chunk
        .decompress_text_with_limit(MAX_CREDENTIAL_JSON)
        .map_err(|e| match e {
            png::DecodingError::Format(_) if e.to_string().contains("decompression space") => {
                BakingError::TooLarge(human_size(MAX_CREDENTIAL_JSON))
            }
            e => BakingError::Png(e.to_string()),
        })?;
    let text = chunk
        .get_text()
        .map_err(|e| BakingError::Png(e.to_string()))?;
    if text.len() > MAX_CREDENTIAL_JSON {
        return Err(BakingError::TooLarge(human_size(MAX_CREDENTIAL_JSON)));
    }
    Ok(Some(text))
}

/// The credential baked into an SVG, if there is one: the text of the first
/// `<openbadges:credential>` element, from its CDATA section or with its XML entities read.
pub fn unbake_svg(svg: &str) -> Result<Option<String>, BakingError> {
    let Some(start) = svg.find("<openbadges:credential") else {
        return Ok(None);
    };
    let rest = &svg[start..];
    let open_end = rest
        .find('>')
        .ok_or_else(|| BakingError::Svg("the <openbadges:credential> tag is not closed".into()))?;
    if rest[..open_end].ends_with('/') {
        return Ok(None);
    }
    let content = rest[open_end + 1..].trim_start();
    let body = if let Some(cdata) = content.strip_prefix("<![CDATA[") {
        let end = cdata
            .find("]]>")
            .ok_or_else(|| BakingError::Svg("the CDATA section is not closed".into()))?;
        cdata[..end].to_owned()
    } else {
        let end = content.find("</openbadges:credential>").ok_or_else(|| {
            BakingError::Svg("the <openbadges:credential> element is not closed".into())
        })?;
        xml_text(&content[..end])?
    };
    if body.len() > MAX_CREDENTIAL_JSON {
        return Err(BakingError::TooLarge(human_size(MAX_CREDENTIAL_JSON)));
    }
    Ok(Some(body.trim().to_owned()))
}

/// XML character data with its five predefined entities and character references read.
fn xml_text(raw: &str) -> Result<String, BakingError> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let semi = after
            .find(';')
            .filter(|&i| i <= 10)
            .ok_or_else(|| BakingError::Svg("an '&' in the credential starts no entity".into()))?;
        let entity = &after[..semi];
        let c = match entity {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        out.push(c.ok_or_else(|| BakingError::Svg(format!("unknown entity &{entity};")))?);
        rest = &after[semi + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 2 × 1 RGBA PNG, with the text chunks given written by the encoder itself.
    fn encoded(text: &[(&str, &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, 2, 1);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        for (keyword, value) in text {
            encoder
                .add_itxt_chunk((*keyword).to_owned(), (*value).to_owned())
                .unwrap();
        }
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(&[1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
        writer.finish().unwrap();
        out
    }

    #[test]
    fn a_baked_png_is_the_bytes_an_encoder_writes_with_the_chunk() {
        let json = r#"{"type":["VerifiableCredential","OpenBadgeCredential"],"name":"ä <&>"}"#;
        let baked = bake_png(&encoded(&[]), json).unwrap();
        assert_eq!(baked, encoded(&[(PNG_KEYWORD, json)]));
        assert_eq!(unbake_png(&baked).unwrap().as_deref(), Some(json));
        assert_eq!(unbake_png(&encoded(&[])).unwrap(), None);
    }

    #[test]
    fn a_baked_svg_gives_back_the_json_it_holds() {
        let json = r#"{"name":"]]></openbadges:credential><script>","n":1}"#;
        let svg = bake_svg(
            "<svg xmlns=\"http://www.w3.org/2000/svg\"><rect/></svg>",
            json,
        )
        .unwrap();
        assert!(svg.starts_with(&format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:openbadges=\"{SVG_NAMESPACE}\">"
        )));
        assert!(!svg.contains("<script>"), "{svg}");
        let back: serde_json::Value =
            serde_json::from_str(&unbake_svg(&svg).unwrap().unwrap()).unwrap();
        assert_eq!(
            back,
            serde_json::from_str::<serde_json::Value>(json).unwrap()
        );
    }

    #[test]
    fn not_an_image_is_an_error_not_a_panic() {
        assert!(matches!(
            bake_png(b"GIF89a", "{}"),
            Err(BakingError::Png(_))
        ));
        assert!(matches!(
            bake_svg("no tag here", "{}"),
            Err(BakingError::Svg(_))
        ));
        assert!(matches!(
            unbake_svg("<svg><openbadges:credential><![CDATA[{}"),
            Err(BakingError::Svg(_))
        ));
        assert!(matches!(
            unbake_svg("<svg><openbadges:credential>&bogus;</openbadges:credential></svg>"),
            Err(BakingError::Svg(_))
        ));
    }
}
