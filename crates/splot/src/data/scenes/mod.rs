//! Digit scenes: seeded canvases of 1 to 5 MNIST digits over textured backgrounds, the
//! offline data of segmentation, detection and captioning, written in the standard layouts
//! (Pascal VOC and COCO) so that the same readers read them as they read real data.
//!
//! A canvas ([`Scene::generate`]) is `size × size` grey pixels:
//! - a background ([`background`]): a gradient, smooth noise, stripes, checkers or a field
//!   of faint, *unlabelled* clutter digits, in one band of grey levels; three canvases in
//!   four have light digits on a dark background, the others dark digits on a light one;
//! - 1 to [`MAX_DIGITS`] digits, each an MNIST image cropped to its ink and scaled
//!   (bilinear) to an ink height drawn uniformly from 14 px to `clamp(0.45·size, 14, 56)`
//!   px, at a random position wholly inside the canvas, in a grey level of the ink band.
//!   Later digits are drawn over earlier ones (alpha blending by the digit's coverage).
//!   A digit's *ink* is the pixels it covers by at least half ([`INK_THRESHOLD`]); a
//!   position is accepted only if every digit keeps at least 75 % of its ink visible
//!   ([`MAX_HIDDEN`]); a digit that finds no place in 25 tries is shrunk by a fifth and
//!   tried again (at most four times, never below 14 px), and left out after that.
//! - its targets, from the digits' visible ink (never from the pixels, so clutter can not
//!   leak into them): the class mask (digit + 1, 0 background, [`IGNORE_INDEX`] on the
//!   one-pixel border: the non-ink pixels 8-adjacent to ink), the instance mask (k + 1 for
//!   the k-th digit, same border), one tight box `[x1, y1, x2, y2)` per digit around its
//!   visible ink, and 3 to 5 captions ([`captions`]) that each name every digit.
//!
//! [`write_scenes`] writes a train split from MNIST's training digits and a val split from
//! its test digits (so no digit image is in both); canvas `i` of a split is generated from
//! its own seed ([`scene_seed`]), in parallel, so the files are byte-identical for the same
//! seed whatever the thread count. See [`write`] for the files.

pub mod background;
pub mod captions;
pub mod write;

pub use background::{Band, Texture};
pub use write::{
    scene_preview, write_scenes, write_scenes_from, write_textures, ScenesConfig, ScenesSummary,
};

use super::sample::{Image, Mask, IGNORE_INDEX};
use super::ImageDataset;
use crate::error::{Error, Result};
use crate::tensor::Rng;

/// The most digits on one canvas.
pub const MAX_DIGITS: usize = 5;
/// The smallest ink height drawn, in pixels.
pub const MIN_DIGIT_HEIGHT: f32 = 14.0;
/// The largest ink height drawn, in pixels (on canvases of at least 125 px).
pub const MAX_DIGIT_HEIGHT: f32 = 56.0;
/// The smallest canvas: room for a 14 px digit of any width.
pub const MIN_SIZE: usize = 24;
/// The largest canvas.
pub const MAX_SIZE: usize = 2048;
/// The coverage from which a pixel is a digit's ink (mask, box, overlap rule).
pub const INK_THRESHOLD: f32 = 0.5;
/// The largest fraction of a digit's ink that later digits may hide.
pub const MAX_HIDDEN: f32 = 0.25;

/// A split of the scenes and the MNIST digits it draws from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// Drawn from MNIST's 60 000 training digits.
    Train,
    /// Drawn from MNIST's 10 000 test digits.
    Val,
}

impl Split {
    /// Both splits.
    pub const ALL: [Split; 2] = [Split::Train, Split::Val];

    /// `"train"` or `"val"`: the name in file names and lists.
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Val => "val",
        }
    }

    /// The id of canvas `index` (`train_000000`), its file stem in every folder.
    pub fn canvas_id(self, index: usize) -> String {
        format!("{}_{index:06}", self.name())
    }
}

/// The seed of canvas `index` of `split` in a set made with `seed` (SplitMix64 of the three).
pub fn scene_seed(seed: u64, split: Split, index: usize) -> u64 {
    let mut z = seed
        ^ (split as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03)
        ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    for _ in 0..2 {
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
    }
    z
}

/// One labelled digit of a scene.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SceneDigit {
    /// The digit, 0–9 (its mask class and COCO category are `label + 1`).
    pub label: u8,
    /// The index of its MNIST image in the split's digits.
    pub source: usize,
    /// Tight box around its visible ink, `[x1, y1, x2, y2]` with `x2`, `y2` exclusive.
    pub bbox: [usize; 4],
    /// Its visible ink pixels (the instance mask's area).
    pub area: usize,
    /// Its ink pixels before later digits covered some.
    pub ink: usize,
    /// Its grey level.
    pub grey: u8,
}

impl SceneDigit {
    /// Height of the box in pixels.
    pub fn height(&self) -> usize {
        self.bbox[3] - self.bbox[1]
    }

    /// Centre of the box `(x, y)` in pixels.
    pub fn centre(&self) -> (f32, f32) {
        (
            (self.bbox[0] + self.bbox[2]) as f32 / 2.0,
            (self.bbox[1] + self.bbox[3]) as f32 / 2.0,
        )
    }
}

/// One generated canvas and its targets.
#[derive(Clone, Debug, PartialEq)]
pub struct Scene {
    /// The canvas, 1 channel, `size × size`.
    pub image: Image,
    /// Class per pixel: digit + 1, 0 background, 255 border.
    pub mask: Mask,
    /// Instance per pixel: `k + 1` for `digits[k]`, 0 background, 255 border.
    pub objects: Mask,
    /// The labelled digits, in drawing order (later ones on top).
    pub digits: Vec<SceneDigit>,
    /// The background's texture.
    pub texture: Texture,
    /// 3 to 5 captions, each naming every digit.
    pub captions: Vec<String>,
}

/// A digit scaled to its drawing size: coverage in `[0, 1]`, `h × w`.
struct Sprite {
    h: usize,
    w: usize,
    alpha: Vec<f32>,
}

impl Sprite {
    /// Is pixel `(r, c)` ink?
    fn ink(&self, r: usize, c: usize) -> bool {
        self.alpha[r * self.w + c] >= INK_THRESHOLD
    }
}

/// Output pixel `(r, c)` of `src` (`rows × cols` bytes) scaled by `scale`, sampled
/// bilinearly (pixel centres aligned, zero outside), as coverage in `[0, 1]`.
pub(crate) fn bilinear(
    src: &[u8],
    rows: usize,
    cols: usize,
    r: usize,
    c: usize,
    scale: f32,
) -> f32 {
    let y = (r as f32 + 0.5) / scale - 0.5;
    let x = (c as f32 + 0.5) / scale - 0.5;
    let (yf, xf) = (y.floor(), x.floor());
    let (fy, fx) = (y - yf, x - xf);
    let at = |yy: f32, xx: f32| -> f32 {
        if yy < 0.0 || xx < 0.0 || yy >= rows as f32 || xx >= cols as f32 {
            0.0
        } else {
            src[yy as usize * cols + xx as usize] as f32 / 255.0
        }
    };
    (1.0 - fy) * ((1.0 - fx) * at(yf, xf) + fx * at(yf, xf + 1.0))
        + fy * ((1.0 - fx) * at(yf + 1.0, xf) + fx * at(yf + 1.0, xf + 1.0))
}

/// The rows of `src` that hold ink (first, one past the last), if any.
fn ink_rows(src: &[u8], cols: usize) -> Option<(usize, usize)> {
    let threshold = (INK_THRESHOLD * 255.0) as u8;
    let rows: Vec<usize> = src
        .chunks_exact(cols)
        .enumerate()
        .filter(|(_, row)| row.iter().any(|&v| v >= threshold))
        .map(|(r, _)| r)
        .collect();
    Some((*rows.first()?, rows.last()? + 1))
}

/// `src` scaled so that its ink is about `height` px tall, cropped to its nonzero coverage,
/// and shrunk further if needed to fit in `max_side × max_side`.
fn sprite(src: &[u8], rows: usize, cols: usize, height: f32, max_side: usize) -> Option<Sprite> {
    let (r0, r1) = ink_rows(src, cols)?;
    let mut scale = height / (r1 - r0) as f32;
    loop {
        let (sh, sw) = (
            (rows as f32 * scale).ceil() as usize,
            (cols as f32 * scale).ceil() as usize,
        );
        let full: Vec<f32> = (0..sh * sw)
            .map(|i| bilinear(src, rows, cols, i / sw, i % sw, scale))
            .collect();
        let (mut y0, mut y1, mut x0, mut x1) = (sh, 0, sw, 0);
        for (i, &a) in full.iter().enumerate() {
            if a > 0.0 {
                let (r, c) = (i / sw, i % sw);
                (y0, y1, x0, x1) = (y0.min(r), y1.max(r + 1), x0.min(c), x1.max(c + 1));
            }
        }
        if y0 >= y1 {
            return None;
        }
        let (h, w) = (y1 - y0, x1 - x0);
        if h.max(w) > max_side {
            scale *= 0.97 * max_side as f32 / h.max(w) as f32;
            continue;
        }
        let alpha = (y0..y1)
            .flat_map(|r| full[r * sw + x0..r * sw + x1].iter().copied())
            .collect();
        let s = Sprite { h, w, alpha };
        return (0..h).any(|r| (0..w).any(|c| s.ink(r, c))).then_some(s);
    }
}

impl Scene {
    /// Generates one canvas of `size × size` from `digits` (MNIST's training or test set)
    /// with its own `seed` (see [`scene_seed`]). Errors: a size outside
    /// [`MIN_SIZE`]..=[`MAX_SIZE`], or digits that are empty or have no ink.
    pub fn generate(digits: &ImageDataset, size: usize, seed: u64) -> Result<Scene> {
        check_size(size)?;
        if digits.is_empty() {
            return Err(Error::config("digit scenes", "the digit set is empty"));
        }
        let (rows, cols) = (digits.rows(), digits.cols());
        let mut rng = Rng::seed(seed);
        let band = Band::new(rng.below(4) != 0);
        let texture = Texture::ALL[rng.below(Texture::ALL.len())];
        let mut canvas = background::background(&mut rng, size, texture, band, digits);

        let top = (0.45 * size as f32).clamp(MIN_DIGIT_HEIGHT, MAX_DIGIT_HEIGHT);
        let wanted = 1 + rng.below(MAX_DIGITS);
        // owner[p]: 1 + the index of the top-most digit whose ink covers p, 0 if none.
        let mut owner = vec![0u8; size * size];
        let mut inks: Vec<usize> = Vec::new();
        let mut hidden: Vec<usize> = Vec::new();
        let mut placed: Vec<(u8, usize, u8)> = Vec::new();
        let mut tries_left = 50;
        while placed.len() < wanted {
            if tries_left == 0 {
                return Err(Error::config(
                    "digit scenes",
                    "50 digit images in a row have no ink: is this a digit set?",
                ));
            }
            let source = rng.below(digits.len());
            let src = digits.image(source);
            let mut height = rng.uniform(MIN_DIGIT_HEIGHT, top);
            let grey = rng.uniform(band.ink_low, band.ink_high).round() as u8;
            let Some(mut s) = sprite(src, rows, cols, height, size) else {
                tries_left -= 1;
                continue;
            };
            let mut spot = None;
            for shrink in 0..5 {
                if shrink > 0 {
                    if height <= MIN_DIGIT_HEIGHT {
                        break;
                    }
                    height = (height * 0.8).max(MIN_DIGIT_HEIGHT);
                    match sprite(src, rows, cols, height, size) {
                        Some(smaller) => s = smaller,
                        None => break,
                    }
                }
                spot = (0..25).find_map(|_| {
                    let y0 = rng.below(size - s.h + 1);
                    let x0 = rng.below(size - s.w + 1);
                    fits(&s, y0, x0, size, &owner, &inks, &hidden).then_some((y0, x0))
                });
                if spot.is_some() {
                    break;
                }
            }
            let Some((y0, x0)) = spot else {
                // No room for this digit: the canvas keeps the ones it has.
                if placed.is_empty() {
                    tries_left -= 1;
                    continue;
                }
                break;
            };
            let k = placed.len() as u8 + 1;
            let mut ink = 0;
            for r in 0..s.h {
                for c in 0..s.w {
                    let p = (y0 + r) * size + x0 + c;
                    let a = s.alpha[r * s.w + c];
                    canvas[p] += a * (grey as f32 - canvas[p]);
                    if a >= INK_THRESHOLD {
                        if owner[p] != 0 {
                            hidden[owner[p] as usize - 1] += 1;
                        }
                        owner[p] = k;
                        ink += 1;
                    }
                }
            }
            inks.push(ink);
            hidden.push(0);
            placed.push((digits.label(source), source, grey));
        }

        let (mask, objects, digits) = targets(size, &owner, &placed, &inks);
        let pixels = canvas
            .iter()
            .map(|&v| v.round().clamp(0.0, 255.0) as u8)
            .collect();
        let captions = captions::captions(&mut rng, &digits, size, texture);
        Ok(Scene {
            image: Image::new(1, size, size, pixels)?,
            mask,
            objects,
            digits,
            texture,
            captions,
        })
    }
}

/// An error unless `size` is in [`MIN_SIZE`]..=[`MAX_SIZE`].
pub(crate) fn check_size(size: usize) -> Result<()> {
    if !(MIN_SIZE..=MAX_SIZE).contains(&size) {
        return Err(Error::config(
            "digit scenes",
            format!(
                "a {size}×{size} canvas: the size must be {MIN_SIZE} to {MAX_SIZE} px \
                 ({MIN_SIZE} px holds a {MIN_DIGIT_HEIGHT} px digit of any width)"
            ),
        ));
    }
    Ok(())
}

/// Would sprite `s` at `(y0, x0)` leave every placed digit at least `1 − MAX_HIDDEN` of
/// its ink visible?
fn fits(
    s: &Sprite,
    y0: usize,
    x0: usize,
    size: usize,
    owner: &[u8],
    inks: &[usize],
    hidden: &[usize],
) -> bool {
    let mut more = vec![0usize; inks.len()];
    for r in 0..s.h {
        for c in 0..s.w {
            let o = owner[(y0 + r) * size + x0 + c];
            if o != 0 && s.ink(r, c) {
                more[o as usize - 1] += 1;
            }
        }
    }
    (0..inks.len()).all(|i| (hidden[i] + more[i]) as f32 <= MAX_HIDDEN * inks[i] as f32)
}

/// The class mask, the instance mask and the digits with their boxes, from `owner`.
fn targets(
    size: usize,
    owner: &[u8],
    placed: &[(u8, usize, u8)],
    inks: &[usize],
) -> (Mask, Mask, Vec<SceneDigit>) {
    let mut digits: Vec<SceneDigit> = placed
        .iter()
        .zip(inks)
        .map(|(&(label, source, grey), &ink)| SceneDigit {
            label,
            source,
            bbox: [size, size, 0, 0],
            area: 0,
            ink,
            grey,
        })
        .collect();
    let mut classes = vec![0u8; size * size];
    let mut objects = vec![0u8; size * size];
    for (p, &o) in owner.iter().enumerate() {
        let (y, x) = (p / size, p % size);
        if o != 0 {
            let d = &mut digits[o as usize - 1];
            classes[p] = d.label + 1;
            objects[p] = o;
            d.area += 1;
            let b = &mut d.bbox;
            *b = [b[0].min(x), b[1].min(y), b[2].max(x + 1), b[3].max(y + 1)];
            continue;
        }
        let near_ink = (y.saturating_sub(1)..(y + 2).min(size)).any(|yy| {
            (x.saturating_sub(1)..(x + 2).min(size)).any(|xx| owner[yy * size + xx] != 0)
        });
        if near_ink {
            classes[p] = IGNORE_INDEX;
            objects[p] = IGNORE_INDEX;
        }
    }
    let mask = |data| Mask {
        height: size,
        width: size,
        data,
    };
    (mask(classes), mask(objects), digits)
}
