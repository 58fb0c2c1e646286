//! Pictures of what a network does: its filters ([`filters`]), the feature maps an image
//! produces ([`features`]), which input pixels decide the answer ([`saliency`]), training
//! curves and confusion matrices ([`plot`]), the padding tables ([`pad`]) and the layer
//! diagram ([`diagram`]).
//!
//! Every picture is built in memory (an [`image::RgbImage`], or SVG text) by a pure function,
//! so tests can look at its pixels; [`save_png`] and [`save_text`] then write it atomically.
//! Text is drawn with a small DejaVu Sans subset compiled into the library
//! (`assets/DejaVuSans-subset.ttf`), so pictures look the same on every machine, offline.
//!
//! ```
//! use splot::{viz, Tensor};
//! // one 2×2 filter whose largest tap is at the bottom right
//! let w = Tensor::from_vec(vec![0.0, 0.0, 0.0, 1.0], &[1, 1, 2, 2])?;
//! let img = viz::filters::filter_grid(&w, 4, 1)?;
//! assert_eq!(img.dimensions(), (8, 8));
//! assert_eq!(img.get_pixel(7, 7).0, [255, 255, 255]);
//! assert_eq!(img.get_pixel(0, 0).0, [0, 0, 0]);
//! # Ok::<(), splot::Error>(())
//! ```

pub mod diagram;
pub mod features;
pub mod filters;
pub mod pad;
pub mod plot;
pub mod saliency;

use crate::error::{Error, Result};
use crate::io::write_atomic;
use image::{Rgb, RgbImage};
use std::path::Path;
use std::sync::Once;

/// The colour between the tiles of a grid.
pub const GAP_COLOUR: Rgb<u8> = Rgb([255, 255, 255]);

/// The font family every picture's text is drawn in.
pub const FONT: &str = "sans-serif";

static FONT_BYTES: &[u8] = include_bytes!("../../assets/DejaVuSans-subset.ttf");

/// Registers the compiled-in font with plotters (once per process).
pub(crate) fn ensure_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        plotters::style::register_font(FONT, plotters::style::FontStyle::Normal, FONT_BYTES)
            .unwrap_or_else(|_| panic!("the compiled-in font is a valid TrueType font"));
    });
}

/// Maps values to grey levels: the smallest to 0, the largest to 255, linearly. All values
/// equal (no contrast to show) map to mid grey 128.
pub fn normalise(values: &[f32]) -> Vec<u8> {
    let (lo, hi) = values
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    if values.is_empty() || hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
        return vec![128; values.len()];
    }
    values
        .iter()
        .map(|&v| (255.0 * (v - lo) / (hi - lo)).round().clamp(0.0, 255.0) as u8)
        .collect()
}

/// Columns and rows of a near-square grid for `n` tiles: `cols = ⌈√n⌉`, `rows = ⌈n/cols⌉`.
pub fn square_grid(n: usize) -> (usize, usize) {
    let cols = (n as f64).sqrt().ceil().max(1.0) as usize;
    (cols, n.div_ceil(cols).max(1))
}

/// An image of `rows × cols` tiles of `tile_w × tile_h` pixels with `gap` pixels of
/// [`GAP_COLOUR`] between neighbouring tiles (none around the outside):
/// width `cols·tile_w + (cols−1)·gap`.
pub(crate) fn blank_grid(
    cols: usize,
    rows: usize,
    tile_w: usize,
    tile_h: usize,
    gap: usize,
) -> RgbImage {
    let w = cols * tile_w + cols.saturating_sub(1) * gap;
    let h = rows * tile_h + rows.saturating_sub(1) * gap;
    RgbImage::from_pixel(w as u32, h as u32, GAP_COLOUR)
}

/// Paints a `h × w` picture (`pixel(r, c)`) scaled up `scale` times by nearest neighbour at
/// the top-left corner `(x0, y0)` of `img`.
pub(crate) fn paint_scaled(
    img: &mut RgbImage,
    x0: usize,
    y0: usize,
    (h, w): (usize, usize),
    scale: usize,
    pixel: impl Fn(usize, usize) -> Rgb<u8>,
) {
    for r in 0..h * scale {
        for c in 0..w * scale {
            img.put_pixel(
                (x0 + c) as u32,
                (y0 + r) as u32,
                pixel(r / scale, c / scale),
            );
        }
    }
}

/// The heat colour map black → red → yellow → white for `t` in `[0, 1]`.
pub fn heat(t: f32) -> Rgb<u8> {
    let t = t.clamp(0.0, 1.0) * 3.0;
    let ch = |v: f32| (255.0 * v.clamp(0.0, 1.0)).round() as u8;
    Rgb([ch(t), ch(t - 1.0), ch(t - 2.0)])
}

/// A PNG file's bytes.
pub fn encode_png(img: &RgbImage) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )
    .map_err(|e| Error::config("png", format!("cannot encode the picture: {e}")))?;
    Ok(bytes)
}

/// Writes `img` as a PNG file, atomically (encoded in memory first).
pub fn save_png(path: &Path, img: &RgbImage) -> Result<()> {
    save_bytes(path, &encode_png(img)?)
}

/// Writes text (an SVG picture) atomically.
pub fn save_text(path: &Path, text: &str) -> Result<()> {
    save_bytes(path, text.as_bytes())
}

fn save_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic(path, |w| w.write_all(bytes).map_err(|e| Error::io(path, e)))
}

/// A plotters error as text (plotters' errors are generic over the backend).
pub(crate) fn text_error(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Draws on an RGB pixel buffer of `w × h` with plotters and returns it as an image.
pub(crate) fn draw_bitmap(
    what: &'static str,
    (w, h): (u32, u32),
    draw: impl FnOnce(
        &plotters::drawing::DrawingArea<
            plotters::backend::BitMapBackend<'_>,
            plotters::coord::Shift,
        >,
    ) -> std::result::Result<(), String>,
) -> Result<RgbImage> {
    use plotters::prelude::*;
    ensure_font();
    let fail = |e: String| Error::config(what, format!("drawing failed: {e}"));
    let mut buf = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        draw(&root).map_err(fail)?;
        root.present().map_err(|e| fail(e.to_string()))?;
    }
    Ok(RgbImage::from_raw(w, h, buf).expect("buffer of w·h·3 bytes"))
}

/// Whether `path` ends in `.svg` (any case).
pub fn is_svg(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("svg"))
}
