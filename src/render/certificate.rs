//! The PDF certificate of an award: A4, the organisation, the level with its logo, the dates,
//! the certificate number, the issuer, a QR code of the verification page, and the signing key
//! with a short fingerprint of the credential's signature. A certificate of an award that is not
//! valid is marked as such (REVOKED, SUSPENDED, SUPERSEDED, EXPIRED) in a band under the header
//! and across the page, and never says "Valid until". Pure Rust (krilla), with DejaVu Sans
//! embedded; the same award, credential, URL and verdict give the same bytes.

use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect, Size, Transform};
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::surface::Surface;
use krilla::text::{Font, TextDirection};
use sha2::{Digest, Sha256};

use crate::domain::SignedJson;
use crate::domain::state::IssuedCredential;
use crate::domain::types::{SCHEME, long_date};
use crate::domain::{Award, Level, Status, Verdict};

#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    #[error("the embedded font cannot be loaded")]
    Font,
    #[error("the logo cannot be rendered: {0}")]
    Logo(String),
    #[error("the QR code cannot be made: {0}")]
    Qr(String),
    #[error("the PDF cannot be written: {0}")]
    Pdf(String),
}

const WIDTH: f32 = 595.28;
const HEIGHT: f32 = 841.89;
const NHS_BLUE: (u8, u8, u8) = (0, 94, 184);
const DARK: (u8, u8, u8) = (33, 43, 50);
const GREY: (u8, u8, u8) = (75, 85, 95);
const MARK_RED: (u8, u8, u8) = (213, 40, 27);

struct Typeface {
    font: Font,
    face_data: &'static [u8],
}

impl Typeface {
    fn load(data: &'static [u8]) -> Result<Typeface, CertificateError> {
        let font = Font::new(data.into(), 0).ok_or(CertificateError::Font)?;
        Ok(Typeface {
            font,
            face_data: data,
        })
    }

    /// The width of `text` at `size` points.
    /// `text` in lines no wider than `max_width`: broken at spaces, and a word wider than a
    /// line on its own broken between characters, so every character is shown.
    fn wrap(&self, text: &str, size: f32, max_width: f32) -> Vec<String> {
        let mut lines: Vec<String> = Vec::new();
        for word in text.split_whitespace() {
            match lines.last_mut() {
                Some(line) if self.width(&format!("{line} {word}"), size) <= max_width => {
                    line.push(' ');
                    line.push_str(word);
                }
                _ => lines.push(word.to_owned()),
            }
            // A word too long for any line: keep what fits, carry the rest to new lines.
            while let Some(line) = lines.last()
                && self.width(line, size) > max_width
            {
                let mut head = String::new();
                let mut chars = line.chars();
                for c in chars.by_ref() {
                    head.push(c);
                    if head.chars().count() > 1 && self.width(&head, size) > max_width {
                        head.pop();
                        break;
                    }
                }
                let tail: String = line.chars().skip(head.chars().count()).collect();
                lines.pop();
                lines.push(head);
                lines.push(tail);
            }
        }
        lines
    }

    fn width(&self, text: &str, size: f32) -> f32 {
        let Ok(face) = ttf_parser::Face::parse(self.face_data, 0) else {
            return 0.0;
        };
        let units: u32 = text
            .chars()
            .map(|c| {
                face.glyph_index(c)
                    .and_then(|g| face.glyph_hor_advance(g))
                    .map_or(0, u32::from)
            })
            .sum();
        units as f32 * size / f32::from(face.units_per_em())
    }
}

fn fill(c: (u8, u8, u8)) -> Fill {
    Fill {
        paint: rgb::Color::new(c.0, c.1, c.2).into(),
        opacity: NormalizedF32::ONE,
        rule: Default::default(),
    }
}

struct Page<'a, 'b> {
    surface: Surface<'a>,
    regular: &'b Typeface,
    bold: &'b Typeface,
}

impl Page<'_, '_> {
    fn text(&mut self, x: f32, y: f32, size: f32, bold: bool, colour: (u8, u8, u8), text: &str) {
        let face = if bold { self.bold } else { self.regular };
        self.surface.set_fill(Some(fill(colour)));
        self.surface.draw_text(
            Point::from_xy(x, y),
            face.font.clone(),
            size,
            text,
            false,
            TextDirection::Auto,
        );
    }

    fn centred(&mut self, y: f32, size: f32, bold: bool, colour: (u8, u8, u8), text: &str) {
        let face = if bold { self.bold } else { self.regular };
        let x = (WIDTH - face.width(text, size)) / 2.0;
        self.text(x, y, size, bold, colour, text);
    }

    /// Centred text wrapped to `max_width`, shrinking the size (down to 60%) before wrapping;
    /// returns the y after the last line.
    fn centred_wrapped(
        &mut self,
        mut y: f32,
        size: f32,
        bold: bool,
        colour: (u8, u8, u8),
        text: &str,
        max_width: f32,
    ) -> f32 {
        let face = if bold { self.bold } else { self.regular };
        let mut size = size;
        while face.width(text, size) > max_width && size > 0.6 * 24.0 {
            size -= 1.0;
        }
        let lines = face.wrap(text, size, max_width);
        for line in lines {
            self.centred(y, size, bold, colour, &line);
            y += size * 1.25;
        }
        y
    }

    fn rect(
        &mut self,
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        paint: Option<Fill>,
        stroke: Option<Stroke>,
    ) {
        let Some(rect) = Rect::from_xywh(x, y, w, h) else {
            return;
        };
        let mut pb = PathBuilder::new();
        pb.push_rect(rect);
        if let Some(path) = pb.finish() {
            self.surface.set_fill(paint);
            self.surface.set_stroke(stroke);
            self.surface.draw_path(&path);
            self.surface.set_stroke(None);
        }
    }
}

fn stroke(colour: (u8, u8, u8), width: f32) -> Stroke {
    Stroke {
        paint: rgb::Color::new(colour.0, colour.1, colour.2).into(),
        width,
        ..Stroke::default()
    }
}

/// A short, readable fingerprint of the credential's signature (first 16 hex digits of its
/// SHA-256), printed so a reader can match paper to data.
pub fn signature_fingerprint(credential: &SignedJson) -> String {
    let credential = credential.value();
    let proof_value = crate::credentials::credential::proof_of(&credential)
        .and_then(|p| p.get("proofValue"))
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default();
    let digest = hex::encode(Sha256::digest(proof_value.as_bytes()));
    digest.as_bytes()[..16]
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

fn level_colour(level: Level) -> (u8, u8, u8) {
    match level {
        Level::Bronze => (138, 84, 36),
        Level::Silver => (84, 91, 99),
        Level::Gold => (140, 104, 0),
    }
}

/// What the mark of a non-current award says under its word: the status and what follows
/// from it, in words.
fn mark_line(award: &Award, verdict: &Verdict) -> String {
    let consequence = match verdict.status {
        Status::Valid => "",
        Status::Expired => "this award is no longer valid",
        Status::Suspended => "this award is not valid while it is suspended",
        Status::Revoked => "this award is not valid",
        Status::Superseded => "this award was replaced by a newer one",
        Status::NotYetValid => "this award is not valid yet",
    };
    format!("{}: {consequence}", verdict.dates_in_words(award))
}

/// The certificate of `award` as signed in `issued` (whose signed text is `credential`), with a
/// QR code of `verify_url`, as it stands by `verdict` (marked when that is not `valid`).
pub fn certificate_pdf(
    award: &Award,
    issued: &IssuedCredential,
    credential: &SignedJson,
    verify_url: &str,
    verdict: &Verdict,
) -> Result<Vec<u8>, CertificateError> {
    let regular = Typeface::load(dejavu::sans::regular())?;
    let bold = Typeface::load(dejavu::sans::bold())?;
    let logo = crate::render::artefacts::logo_png(award.level)
        .map_err(|e| CertificateError::Logo(e.to_string()))?;
    let logo = krilla::image::Image::from_png(logo.to_vec().into(), true)
        .map_err(CertificateError::Logo)?;
    let qr = qrcode::QrCode::new(verify_url.as_bytes())
        .map_err(|e| CertificateError::Qr(e.to_string()))?;

    let mut document = Document::new();
    let settings =
        PageSettings::from_wh(WIDTH, HEIGHT).ok_or(CertificateError::Pdf("page size".into()))?;
    let mut page = document.start_page_with(settings);
    {
        let mut p = Page {
            surface: page.surface(),
            regular: &regular,
            bold: &bold,
        };
        // Frame.
        p.rect(
            24.0,
            24.0,
            WIDTH - 48.0,
            HEIGHT - 48.0,
            None,
            Some(stroke(NHS_BLUE, 3.0)),
        );
        p.rect(
            32.0,
            32.0,
            WIDTH - 64.0,
            HEIGHT - 64.0,
            None,
            Some(stroke(NHS_BLUE, 0.8)),
        );
        p.rect(32.0, 32.0, WIDTH - 64.0, 70.0, Some(fill(NHS_BLUE)), None);
        p.centred(64.0, 22.0, true, (255, 255, 255), "NHS England");
        p.centred(
            88.0,
            12.0,
            false,
            (255, 255, 255),
            "Work Experience Quality Standard",
        );

        match verdict.mark() {
            // A band where the title would be, so no copy of the page shows the award without
            // its status.
            Some(word) => {
                p.rect(32.0, 108.0, WIDTH - 64.0, 52.0, Some(fill(MARK_RED)), None);
                p.centred(132.0, 20.0, true, (255, 255, 255), word);
                p.centred(
                    151.0,
                    10.0,
                    false,
                    (255, 255, 255),
                    &mark_line(award, verdict),
                );
            }
            None => p.centred(142.0, 13.0, false, GREY, "Certificate of award"),
        }
        p.centred(176.0, 12.0, false, GREY, "This is to certify that");
        let y = p.centred_wrapped(
            212.0,
            24.0,
            true,
            DARK,
            award.organisation_name.as_str(),
            WIDTH - 120.0,
        );
        p.centred(y + 8.0, 12.0, false, GREY, "has been awarded the");
        let level_line = format!("{} award", award.level.title());
        p.centred(y + 48.0, 30.0, true, level_colour(award.level), &level_line);
        p.centred(y + 70.0, 11.0, false, GREY, SCHEME);

        // The QR code's place at the foot of the page bounds everything above it.
        let module = 2.4;
        let side = qr.width() as f32 * module;
        let qx = 60.0;
        let qy = HEIGHT - 80.0 - side - 40.0;

        // Details, laid out first so the logo can give way to a long one: values sit in the
        // right half; a long one (an issuer's name) is set smaller and wrapped.
        let (dates_label, dates_day) = verdict.dates(award);
        let details = [
            ("Awarded on", long_date(award.awarded_on)),
            (dates_label, long_date(dates_day)),
            ("Certificate number", award.certificate_number.to_string()),
            ("Issued by", award.issuer_name.to_string()),
        ];
        let value_width = WIDTH / 2.0 - 10.0 - 60.0;
        let rows: Vec<(&str, f32, Vec<String>)> = details
            .iter()
            .map(|(label, value)| {
                let size = if bold.width(value, 12.0) <= value_width {
                    12.0
                } else {
                    9.0
                };
                (*label, size, bold.wrap(value, size, value_width))
            })
            .collect();
        let details_height: f32 = rows
            .iter()
            .map(|(_, size, lines)| 22.0 + (lines.len().max(1) - 1) as f32 * size * 1.2)
            .sum();

        // The level's logo: 150 points, smaller when the name and details need the room.
        let logo_top = y + 86.0;
        let logo_side = (qy - 24.0 - details_height - 36.0 - logo_top).clamp(60.0, 150.0);
        p.surface.push_transform(&Transform::from_translate(
            (WIDTH - logo_side) / 2.0,
            logo_top,
        ));
        if let Some(size) = Size::from_wh(logo_side, logo_side) {
            p.surface.draw_image(logo, size);
        }
        p.surface.pop();

        let mut dy = logo_top + logo_side + 36.0;
        for (label, size, lines) in &rows {
            let label_width = regular.width(label, 11.0);
            p.text(
                WIDTH / 2.0 - 10.0 - label_width,
                dy,
                11.0,
                false,
                GREY,
                label,
            );
            for (i, line) in lines.iter().enumerate() {
                if i > 0 {
                    dy += size * 1.2;
                }
                p.text(WIDTH / 2.0 + 10.0, dy, *size, true, DARK, line);
            }
            dy += 22.0;
        }

        // The QR code, drawn as vector squares.
        p.rect(
            qx - 8.0,
            qy - 8.0,
            side + 16.0,
            side + 16.0,
            Some(fill((255, 255, 255))),
            None,
        );
        let colours = qr.to_colors();
        let mut pb = PathBuilder::new();
        for (i, c) in colours.iter().enumerate() {
            if *c == qrcode::Color::Dark {
                let (x, y) = ((i % qr.width()) as f32, (i / qr.width()) as f32);
                if let Some(r) = Rect::from_xywh(qx + x * module, qy + y * module, module, module) {
                    pb.push_rect(r);
                }
            }
        }
        if let Some(path) = pb.finish() {
            p.surface.set_fill(Some(fill((0, 0, 0))));
            p.surface.draw_path(&path);
        }
        let tx = qx + side + 24.0;
        p.text(
            tx,
            qy + 18.0,
            12.0,
            true,
            DARK,
            "Is this award real and current?",
        );
        p.text(tx, qy + 36.0, 10.0, false, GREY, "Scan the code, or visit:");
        p.text(tx, qy + 52.0, 9.5, false, NHS_BLUE, verify_url);
        p.text(
            tx,
            qy + 76.0,
            9.0,
            false,
            GREY,
            &format!("Signing key: {}", issued.key_id),
        );
        p.text(
            tx,
            qy + 90.0,
            9.0,
            false,
            GREY,
            &format!(
                "Signature fingerprint: {}",
                signature_fingerprint(credential)
            ),
        );
        if let Some(word) = verdict.mark() {
            // The word again, large and pale across the middle of the page, so that cutting
            // off the band does not hide it.
            let size = 96.0;
            let half = bold.width(word, size) / 2.0;
            p.surface
                .push_transform(&Transform::from_rotate_at(-35.0, WIDTH / 2.0, HEIGHT / 2.0));
            p.surface.set_fill(Some(Fill {
                opacity: NormalizedF32::new(0.22).unwrap_or(NormalizedF32::ONE),
                ..fill(MARK_RED)
            }));
            p.surface.draw_text(
                Point::from_xy(WIDTH / 2.0 - half, HEIGHT / 2.0 + size / 3.0),
                bold.font.clone(),
                size,
                word,
                false,
                TextDirection::Auto,
            );
            p.surface.pop();
        }
        p.centred(
            HEIGHT - 52.0,
            8.0,
            false,
            GREY,
            "A digitally signed Open Badges 3.0 credential of this award is available from the registry.",
        );
        p.surface.finish();
    }
    page.finish();
    document
        .finish()
        .map_err(|e| CertificateError::Pdf(format!("{e:?}")))
}
