//! Artefacts derived from an award: the logo of each level (accessible SVG and its PNG
//! rendering), live status badges, and QR codes of the verification page (a logo baked with the
//! award's credential is `credentials::baking` applied to these). Pure and deterministic:
//! the same inputs give the same bytes; fonts are embedded, never looked up on the machine.

use std::sync::{Arc, OnceLock};

use qrcode::QrCode;
use qrcode::render::svg;

use crate::domain::Level;
use crate::domain::types::SCHEME;

#[derive(Debug, thiserror::Error)]
pub(crate) enum ArtefactError {
    #[error("the SVG cannot be rendered: {0}")]
    Svg(String),
    #[error("the PNG cannot be written or read: {0}")]
    Png(String),
    #[error("the QR code cannot hold this text: {0}")]
    Qr(String),
}

/// (fill, ring, text) colours of a level; the level is always also written in words.
fn colours(level: Level) -> (&'static str, &'static str, &'static str) {
    match level {
        Level::Bronze => ("#a86a32", "#6e4115", "#ffffff"),
        Level::Silver => ("#8a9199", "#4b5259", "#ffffff"),
        Level::Gold => ("#c99a06", "#7a5c00", "#1d1d1d"),
    }
}

/// The logo of a level: a medal with the level's name in words, a `<title>` and a `<desc>`.
pub fn logo_svg(level: Level) -> String {
    let (fill, ring, text) = colours(level);
    let name = level.title().to_uppercase();
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="240" height="240" viewBox="0 0 240 240" role="img" aria-labelledby="wexqs-title wexqs-desc">
<title id="wexqs-title">Work Experience Quality Standard: {title} award</title>
<desc id="wexqs-desc">The {title} level of the {SCHEME}, awarded by NHS England. Check an award's certificate number in the public register.</desc>
<circle cx="120" cy="120" r="116" fill="{ring}"/>
<circle cx="120" cy="120" r="104" fill="{fill}"/>
<circle cx="120" cy="120" r="94" fill="none" stroke="{text}" stroke-width="2" stroke-opacity="0.6"/>
<text x="120" y="78" text-anchor="middle" font-family="DejaVu Sans" font-size="15" fill="{text}">NHS ENGLAND</text>
<text x="120" y="122" text-anchor="middle" font-family="DejaVu Sans" font-weight="bold" font-size="38" fill="{text}">WEx QS</text>
<text x="120" y="160" text-anchor="middle" font-family="DejaVu Sans" font-weight="bold" font-size="26" fill="{text}">{name}</text>
<text x="120" y="186" text-anchor="middle" font-family="DejaVu Sans" font-size="11" fill="{text}">WORK EXPERIENCE</text>
<text x="120" y="200" text-anchor="middle" font-family="DejaVu Sans" font-size="11" fill="{text}">QUALITY STANDARD</text>
</svg>
"##,
        title = level.title(),
    )
}

fn render_options() -> &'static resvg::usvg::Options<'static> {
    static OPTIONS: OnceLock<resvg::usvg::Options<'static>> = OnceLock::new();
    OPTIONS.get_or_init(|| {
        let mut options = resvg::usvg::Options {
            font_family: "DejaVu Sans".into(),
            ..resvg::usvg::Options::default()
        };
        let fonts = options.fontdb_mut();
        fonts.load_font_data(dejavu::sans::regular().to_vec());
        fonts.load_font_data(dejavu::sans::bold().to_vec());
        options
    })
}

/// Renders an SVG to PNG at `scale` times its size.
pub(crate) fn render_png(svg: &str, scale: f32) -> Result<Vec<u8>, ArtefactError> {
    let tree = resvg::usvg::Tree::from_str(svg, render_options())
        .map_err(|e| ArtefactError::Svg(e.to_string()))?;
    let size = tree.size();
    let (w, h) = (
        (size.width() * scale).ceil() as u32,
        (size.height() * scale).ceil() as u32,
    );
    let mut pixmap = resvg::tiny_skia::Pixmap::new(w, h)
        .ok_or_else(|| ArtefactError::Svg("the image has no area".into()))?;
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::from_scale(scale, scale),
        &mut pixmap.as_mut(),
    );
    // tiny-skia keeps premultiplied alpha; PNG wants it straight.
    let mut rgba = Vec::with_capacity((w * h * 4) as usize);
    for p in pixmap.pixels() {
        let c = p.demultiply();
        rgba.extend_from_slice(&[c.red(), c.green(), c.blue(), c.alpha()]);
    }
    encode_png(w, h, png::ColorType::Rgba, &rgba)
}

fn encode_png(
    w: u32,
    h: u32,
    colour: png::ColorType,
    pixels: &[u8],
) -> Result<Vec<u8>, ArtefactError> {
    let png_error = |e: png::EncodingError| ArtefactError::Png(e.to_string());
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, w, h);
        encoder.set_color(colour);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(png_error)?;
        writer.write_image_data(pixels).map_err(png_error)?;
        writer.finish().map_err(png_error)?;
    }
    Ok(out)
}

/// The PNG logo of a level (480 × 480), rendered once and kept.
pub(crate) fn logo_png(level: Level) -> Result<Arc<Vec<u8>>, ArtefactError> {
    static CACHE: OnceLock<[OnceLock<Arc<Vec<u8>>>; 3]> = OnceLock::new();
    let cells = CACHE.get_or_init(Default::default);
    let cell = &cells[level as usize];
    if let Some(bytes) = cell.get() {
        return Ok(bytes.clone());
    }
    let bytes = Arc::new(render_png(&logo_svg(level), 2.0)?);
    Ok(cell.get_or_init(|| bytes).clone())
}

/// A QR code of `url` as SVG (dark modules on white, with the quiet zone).
pub(crate) fn qr_svg(url: &str) -> Result<String, ArtefactError> {
    let code = QrCode::new(url.as_bytes()).map_err(|e| ArtefactError::Qr(e.to_string()))?;
    Ok(code
        .render::<svg::Color<'_>>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build())
}

/// A QR code of `url` as a greyscale PNG, `module` pixels per module.
pub(crate) fn qr_png(url: &str, module: u32) -> Result<Vec<u8>, ArtefactError> {
    let code = QrCode::new(url.as_bytes()).map_err(|e| ArtefactError::Qr(e.to_string()))?;
    let width = code.width() as u32;
    let quiet = 4;
    let side = (width + 2 * quiet) * module;
    let colours = code.to_colors();
    let mut pixels = vec![255u8; (side * side) as usize];
    for y in 0..width {
        for x in 0..width {
            if colours[(y * width + x) as usize] == qrcode::Color::Dark {
                for dy in 0..module {
                    let row = ((y + quiet) * module + dy) * side;
                    let from = (row + (x + quiet) * module) as usize;
                    pixels[from..from + module as usize].fill(0);
                }
            }
        }
    }
    encode_png(side, side, png::ColorType::Grayscale, &pixels)
}

/// A shields-style live status badge: the scheme on the left, the level and status on the right,
/// in words (and colour), with a `<title>` for screen readers. `large` doubles its height.
pub fn status_badge(level: Level, status: &str, status_words: &str, large: bool) -> String {
    let colour = match status {
        "valid" => "#007f3b",
        "suspended" => "#8a5a00",
        "revoked" => "#d5281b",
        "superseded" => "#330072",
        _ => "#425563",
    };
    let right = format!("{} · {}", level.title(), status_words.to_lowercase());
    let label = format!(
        "WEx QS {} award: {}",
        level.title(),
        status_words.to_lowercase()
    );
    badge(&right, colour, &label, large)
}

/// The badge for a certificate number that is no award here: an image a site's `<img>` can
/// show (a broken image would say nothing), in the live badge's shape.
pub(crate) fn not_found_badge(large: bool) -> String {
    badge(
        "not found",
        "#d5281b",
        "WEx QS: no award with this certificate number",
        large,
    )
}

/// A shields-like badge: "WEx QS" on the left, `right` on `colour`, read out as `label`.
fn badge(right: &str, colour: &str, label: &str, large: bool) -> String {
    let left = "WEx QS";
    // DejaVu Sans at 11px averages about 6.5px a character; pad 10px a side.
    let width = |t: &str| (t.chars().count() as f32 * 6.6).ceil() as u32 + 20;
    let (lw, rw) = (width(left), width(right));
    let (w, h, scale) = if large {
        ((lw + rw) * 2, 40, 2)
    } else {
        (lw + rw, 20, 1)
    };
    // Escaped like every text written into markup, though the words are the registry's.
    let label = crate::escape::markup(label);
    let right = crate::escape::markup(right);
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img" aria-label="{label}"><title>{label}</title><g transform="scale({scale})"><rect width="{lw}" height="20" fill="#212b32"/><rect x="{lw}" width="{rw}" height="20" fill="{colour}"/><g fill="#fff" font-family="DejaVu Sans,Verdana,Geneva,sans-serif" font-size="11" text-anchor="middle"><text x="{lx}" y="14">{left}</text><text x="{rx}" y="14">{right}</text></g></g></svg>"##,
        lx = lw / 2,
        rx = lw + rw / 2,
    )
}

/// The site's icon as an ICO file: one 32 × 32 PNG image (a white tick on NHS blue), the form
/// every browser reads at `/favicon.ico`.
pub(crate) fn favicon_ico() -> Result<Vec<u8>, ArtefactError> {
    const SVG: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#005eb8"/><path d="M8 17l5 5 11-12" fill="none" stroke="#fff" stroke-width="4" stroke-linecap="round" stroke-linejoin="round"/></svg>"##;
    let png = render_png(SVG, 1.0)?;
    let size = u32::try_from(png.len()).map_err(|e| ArtefactError::Png(e.to_string()))?;
    let mut ico = Vec::with_capacity(22 + png.len());
    ico.extend_from_slice(&[0, 0, 1, 0, 1, 0]); // reserved, type 1 (icon), one image
    ico.extend_from_slice(&[32, 32, 0, 0]); // width, height, no palette, reserved
    ico.extend_from_slice(&1u16.to_le_bytes()); // colour planes
    ico.extend_from_slice(&32u16.to_le_bytes()); // bits a pixel
    ico.extend_from_slice(&size.to_le_bytes());
    ico.extend_from_slice(&22u32.to_le_bytes()); // the image follows the one directory entry
    ico.extend_from_slice(&png);
    Ok(ico)
}
