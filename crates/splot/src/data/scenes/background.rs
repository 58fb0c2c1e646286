//! The textured backgrounds of the digit scenes: a linear gradient, smooth value noise,
//! stripes, checkers, or a flat field with faint digit clutter — each with a little pixel
//! noise, all inside one band of grey levels ([`Band`]) so that the labelled digits, drawn
//! in a contrasting band, always stand out.
//!
//! Clutter digits are part of the background: they are drawn with a contrast of at most
//! [`CLUTTER_CONTRAST`] grey levels and never enter a mask, a box or a caption (the masks
//! are computed from the labelled digits' own coverage, not from the pixels).

use crate::data::ImageDataset;
use crate::tensor::Rng;

/// The most a clutter digit changes the background's grey level (of 255).
pub const CLUTTER_CONTRAST: f32 = 32.0;

/// The band of grey levels of a background, and the contrasting band its digits are drawn in.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Band {
    /// Darkest background level.
    pub low: f32,
    /// Brightest background level.
    pub high: f32,
    /// Darkest digit level.
    pub ink_low: f32,
    /// Brightest digit level.
    pub ink_high: f32,
}

impl Band {
    /// Light digits on a dark background (background 0–100, ink 170–255), or dark digits
    /// on a light one (background 155–255, ink 0–85): at least 70 grey levels apart.
    pub fn new(light_ink: bool) -> Band {
        if light_ink {
            Band {
                low: 0.0,
                high: 100.0,
                ink_low: 170.0,
                ink_high: 255.0,
            }
        } else {
            Band {
                low: 155.0,
                high: 255.0,
                ink_low: 0.0,
                ink_high: 85.0,
            }
        }
    }
}

/// The kind of texture, which captions name ("on a striped background").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Texture {
    /// A linear ramp between two levels in a random direction.
    Gradient,
    /// Smooth value noise: random levels on a coarse grid, interpolated bilinearly.
    Noise,
    /// Parallel stripes (sine or square wave) at a random angle and period.
    Stripes,
    /// A checkerboard at a random angle and cell size.
    Checkers,
    /// A flat or gently shaded field with faint, unlabelled digits.
    Clutter,
}

impl Texture {
    /// Every texture, in the order they are drawn from.
    pub const ALL: [Texture; 5] = [
        Texture::Gradient,
        Texture::Noise,
        Texture::Stripes,
        Texture::Checkers,
        Texture::Clutter,
    ];

    /// The adjective captions use ("a striped background").
    pub fn adjective(self) -> &'static str {
        match self {
            Texture::Gradient => "shaded",
            Texture::Noise => "mottled",
            Texture::Stripes => "striped",
            Texture::Checkers => "checkered",
            Texture::Clutter => "cluttered",
        }
    }
}

/// A `size × size` background of `texture` in `band` (grey levels as `f32`, row-major),
/// with faint clutter digits drawn from `digits` (always for [`Texture::Clutter`], on a
/// third of the others).
pub fn background(
    rng: &mut Rng,
    size: usize,
    texture: Texture,
    band: Band,
    digits: &ImageDataset,
) -> Vec<f32> {
    let level = |rng: &mut Rng| rng.uniform(band.low, band.high);
    let (a, b) = (level(rng), level(rng));
    let angle = rng.uniform(0.0, std::f32::consts::PI);
    let (dx, dy) = (angle.cos(), angle.sin());
    let n = size as f32;
    let mut px = vec![0.0f32; size * size];
    match texture {
        Texture::Gradient | Texture::Clutter => {
            // Clutter sits on a gentler ramp, so that its digits are what shows.
            let (a, b) = if texture == Texture::Clutter {
                (a, a + (b - a) * 0.4)
            } else {
                (a, b)
            };
            // Projection onto the direction, scaled to [0, 1] over the canvas.
            let span = n * (dx.abs() + dy.abs());
            let start =
                (if dx < 0.0 { dx * n } else { 0.0 }) + (if dy < 0.0 { dy * n } else { 0.0 });
            for (i, p) in px.iter_mut().enumerate() {
                let (y, x) = ((i / size) as f32, (i % size) as f32);
                let t = ((x * dx + y * dy - start) / span).clamp(0.0, 1.0);
                *p = a + (b - a) * t;
            }
        }
        Texture::Noise => {
            let cell = rng.uniform(6.0, 32.0);
            let g = (n / cell).ceil() as usize + 2;
            let grid: Vec<f32> = (0..g * g).map(|_| level(rng)).collect();
            for (i, p) in px.iter_mut().enumerate() {
                let (y, x) = ((i / size) as f32 / cell, (i % size) as f32 / cell);
                let (y0, x0) = (y.floor() as usize, x.floor() as usize);
                let (fy, fx) = (y - y0 as f32, x - x0 as f32);
                // Smoothstep weights hide the grid's seams.
                let (fy, fx) = (fy * fy * (3.0 - 2.0 * fy), fx * fx * (3.0 - 2.0 * fx));
                let at = |r: usize, c: usize| grid[r * g + c];
                *p = (1.0 - fy) * ((1.0 - fx) * at(y0, x0) + fx * at(y0, x0 + 1))
                    + fy * ((1.0 - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1));
            }
        }
        Texture::Stripes => {
            let period = rng.uniform(5.0, 24.0);
            let square = rng.below(2) == 0;
            let phase = rng.uniform(0.0, 1.0);
            for (i, p) in px.iter_mut().enumerate() {
                let (y, x) = ((i / size) as f32, (i % size) as f32);
                let s = ((x * dx + y * dy) / period + phase) * std::f32::consts::TAU;
                let t = if square {
                    if s.sin() >= 0.0 {
                        1.0
                    } else {
                        0.0
                    }
                } else {
                    0.5 + 0.5 * s.sin()
                };
                *p = a + (b - a) * t;
            }
        }
        Texture::Checkers => {
            let cell = rng.uniform(5.0, 24.0);
            for (i, p) in px.iter_mut().enumerate() {
                let (y, x) = ((i / size) as f32, (i % size) as f32);
                let (u, v) = ((x * dx + y * dy) / cell, (y * dx - x * dy) / cell);
                let odd = (u.floor() as i64 + v.floor() as i64).rem_euclid(2) == 1;
                *p = if odd { b } else { a };
            }
        }
    }
    if texture == Texture::Clutter || rng.below(3) == 0 {
        clutter(rng, &mut px, size, band, digits);
    }
    let sigma = rng.uniform(0.0, 6.0);
    for p in px.iter_mut() {
        *p = (*p + rng.normal(0.0, sigma)).clamp(band.low, band.high);
    }
    px
}

/// Draws 3 to 10 faint digits (any scale, partly outside the canvas allowed) into `px`,
/// each shifting the level by at most [`CLUTTER_CONTRAST`] towards the ink's side.
fn clutter(rng: &mut Rng, px: &mut [f32], size: usize, band: Band, digits: &ImageDataset) {
    if digits.is_empty() {
        return;
    }
    let towards_ink = if band.ink_low > band.high { 1.0 } else { -1.0 };
    for _ in 0..3 + rng.below(8) {
        let src = digits.image(rng.below(digits.len()));
        let scale = rng.uniform(0.5, 3.0);
        let contrast = towards_ink * rng.uniform(8.0, CLUTTER_CONTRAST);
        let (rows, cols) = (digits.rows(), digits.cols());
        let (h, w) = (
            (rows as f32 * scale) as usize,
            (cols as f32 * scale) as usize,
        );
        let y0 = rng.below(size + h) as isize - h as isize;
        let x0 = rng.below(size + w) as isize - w as isize;
        for r in 0..h {
            for c in 0..w {
                let (y, x) = (y0 + r as isize, x0 + c as isize);
                if y < 0 || x < 0 || y >= size as isize || x >= size as isize {
                    continue;
                }
                let a = super::bilinear(src, rows, cols, r, c, scale);
                px[y as usize * size + x as usize] += contrast * a;
            }
        }
    }
}
