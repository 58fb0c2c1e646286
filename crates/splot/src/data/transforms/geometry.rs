//! Crops, padding and flips: [`Pad`], [`Crop`], [`CenterCrop`], [`RandomCrop`], [`RandomResizedCrop`],
//! [`HorizontalFlip`]; and the moves of a target that every geometric transform shares.

use super::resize::resize_region;
use super::{uniform, unit, Item, Pixels, Transform, MASK_FILL};
use crate::data::sample::{Boxes, Mask, Target};
use crate::error::{Error, Result};
use crate::tensor::Rng;

/// Maps every box by `f`, clips it to a `width × height` image and drops the boxes left
/// with no width or height.
pub(crate) fn move_boxes(
    boxes: &mut Boxes,
    width: usize,
    height: usize,
    f: impl Fn([f32; 4]) -> [f32; 4],
) {
    let (w, h) = (width as f32, height as f32);
    for b in &mut boxes.boxes {
        let [x1, y1, x2, y2] = f(*b);
        *b = [
            x1.clamp(0.0, w),
            y1.clamp(0.0, h),
            x2.clamp(0.0, w),
            y2.clamp(0.0, h),
        ];
    }
    boxes.retain(|b| b[2] > b[0] && b[3] > b[1]);
}

/// The `h × w` window at `(top, left)` of each of the `c` planes of `src` (`sh × sw`),
/// `fill` where the window leaves the image.
#[allow(clippy::too_many_arguments)]
fn window<T: Copy>(
    src: &[T],
    c: usize,
    (sh, sw): (usize, usize),
    top: isize,
    left: isize,
    (h, w): (usize, usize),
    fill: T,
) -> Vec<T> {
    let mut out = vec![fill; c * h * w];
    // Columns of the window inside the image.
    let x0 = left.max(0);
    let x1 = (left + w as isize).min(sw as isize);
    for ch in 0..c {
        for y in 0..h {
            let sy = top + y as isize;
            if sy < 0 || sy >= sh as isize || x1 <= x0 {
                continue;
            }
            let src_row = &src[(ch * sh + sy as usize) * sw..][..sw];
            let dst = &mut out[(ch * h + y) * w..][..w];
            dst[(x0 - left) as usize..(x1 - left) as usize]
                .copy_from_slice(&src_row[x0 as usize..x1 as usize]);
        }
    }
    out
}

/// The `h × w` window of `item` at `(top, left)` (which may reach outside the image: black
/// pixels, ignored mask pixels), its target moved along.
pub(crate) fn crop(item: Item, top: isize, left: isize, h: usize, w: usize) -> Item {
    let size = (item.height, item.width);
    let c = item.channels;
    let pixels = match &item.pixels {
        Pixels::Bytes(b) => Pixels::Bytes(window(b, c, size, top, left, (h, w), 0)),
        Pixels::Floats(f) => Pixels::Floats(window(f, c, size, top, left, (h, w), 0.0)),
    };
    let target = match item.target {
        Target::Mask(m) => Target::Mask(Mask {
            height: h,
            width: w,
            data: window(&m.data, 1, size, top, left, (h, w), MASK_FILL),
        }),
        Target::Boxes(mut b) => {
            let (dx, dy) = (left as f32, top as f32);
            move_boxes(&mut b, w, h, |[x1, y1, x2, y2]| {
                [x1 - dx, y1 - dy, x2 - dx, y2 - dy]
            });
            Target::Boxes(b)
        }
        other => other,
    };
    Item {
        channels: c,
        height: h,
        width: w,
        pixels,
        target,
    }
}

/// Adds `pad` black pixels on every side (the mask gets ignored pixels, boxes shift).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pad {
    /// Pixels added on each side.
    pub pad: usize,
}

impl Transform for Pad {
    fn apply(&self, item: Item, _rng: &mut Rng) -> Result<Item> {
        let p = self.pad;
        let (h, w) = (item.height + 2 * p, item.width + 2 * p);
        Ok(crop(item, -(p as isize), -(p as isize), h, w))
    }

    fn output_size(&self, input: Option<(usize, usize)>) -> Option<(usize, usize)> {
        input.map(|(h, w)| (h + 2 * self.pad, w + 2 * self.pad))
    }
}

/// The fixed `height × width` window at `(top, left)` (torchvision's `F.crop`); parts
/// outside the image are black.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Crop {
    /// First row.
    pub top: usize,
    /// First column.
    pub left: usize,
    /// Output height.
    pub height: usize,
    /// Output width.
    pub width: usize,
}

impl Transform for Crop {
    fn apply(&self, item: Item, _rng: &mut Rng) -> Result<Item> {
        Ok(crop(
            item,
            self.top as isize,
            self.left as isize,
            self.height,
            self.width,
        ))
    }

    fn check(&self) -> Result<()> {
        check_size("Crop", self.height, self.width)
    }

    fn output_size(&self, _input: Option<(usize, usize)>) -> Option<(usize, usize)> {
        Some((self.height, self.width))
    }
}

/// Checks that a crop size has pixels.
fn check_size(what: &'static str, h: usize, w: usize) -> Result<()> {
    if h == 0 || w == 0 {
        return Err(Error::config(what, format!("a {h}×{w} crop has no pixels")));
    }
    Ok(())
}

/// The centre `height × width` of the image, as torchvision's `CenterCrop`: the window
/// starts at `round((H − h) / 2)`, `round((W − w) / 2)`; an image smaller than the crop is
/// padded with black first.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CenterCrop {
    /// Output height.
    pub height: usize,
    /// Output width.
    pub width: usize,
}

impl CenterCrop {
    /// A centre crop of `height × width`.
    pub fn new(height: usize, width: usize) -> CenterCrop {
        CenterCrop { height, width }
    }
}

/// torchvision's `(H − h) / 2` rounded half to even; for a crop larger than the image,
/// the padding `(h − H) / 2` (floored) before it.
fn centre_offset(image: usize, crop: usize) -> isize {
    if crop > image {
        -(((crop - image) / 2) as isize)
    } else {
        ((image - crop) as f64 / 2.0).round_ties_even() as isize
    }
}

impl Transform for CenterCrop {
    fn apply(&self, item: Item, _rng: &mut Rng) -> Result<Item> {
        let top = centre_offset(item.height, self.height);
        let left = centre_offset(item.width, self.width);
        Ok(crop(item, top, left, self.height, self.width))
    }

    fn check(&self) -> Result<()> {
        check_size("CenterCrop", self.height, self.width)
    }

    fn output_size(&self, _input: Option<(usize, usize)>) -> Option<(usize, usize)> {
        Some((self.height, self.width))
    }
}

/// A random `height × width` window of the image padded by `padding` black pixels on each
/// side, as torchvision's `RandomCrop(size, padding)` (with `pad_if_needed`: an image still
/// smaller than the crop is padded up to it).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RandomCrop {
    /// Output height.
    pub height: usize,
    /// Output width.
    pub width: usize,
    /// Black pixels added on each side before cropping.
    pub padding: usize,
}

impl Transform for RandomCrop {
    fn apply(&self, item: Item, rng: &mut Rng) -> Result<Item> {
        let p = self.padding as isize;
        let (ph, pw) = (
            (item.height + 2 * self.padding).max(self.height),
            (item.width + 2 * self.padding).max(self.width),
        );
        let top = rng.below(ph - self.height + 1) as isize - p;
        let left = rng.below(pw - self.width + 1) as isize - p;
        Ok(crop(item, top, left, self.height, self.width))
    }

    fn check(&self) -> Result<()> {
        check_size("RandomCrop", self.height, self.width)
    }

    fn output_size(&self, _input: Option<(usize, usize)>) -> Option<(usize, usize)> {
        Some((self.height, self.width))
    }
}

/// torchvision's `RandomResizedCrop`: a window of random area (a fraction in `scale` of the
/// image's) and aspect ratio (log-uniform in `ratio`), resized to `height × width`
/// ([`super::Resize`]'s filter). Ten tries to fit the window in the image, then the
/// centre crop of the nearest allowed ratio.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RandomResizedCrop {
    /// Output height.
    pub height: usize,
    /// Output width.
    pub width: usize,
    /// Range of the window's area as a fraction of the image's.
    pub scale: (f64, f64),
    /// Range of the window's width / height.
    pub ratio: (f64, f64),
}

impl RandomResizedCrop {
    /// torchvision's defaults: scale (0.08, 1), ratio (3/4, 4/3).
    pub fn new(height: usize, width: usize) -> RandomResizedCrop {
        RandomResizedCrop {
            height,
            width,
            scale: (0.08, 1.0),
            ratio: (3.0 / 4.0, 4.0 / 3.0),
        }
    }

    /// The window `(top, left, h, w)` for an image of `height × width`.
    pub fn window(
        &self,
        height: usize,
        width: usize,
        rng: &mut Rng,
    ) -> (usize, usize, usize, usize) {
        let area = (height * width) as f64;
        let (lr0, lr1) = (self.ratio.0.ln(), self.ratio.1.ln());
        for _ in 0..10 {
            let target = area * uniform(rng, self.scale.0, self.scale.1);
            let aspect = uniform(rng, lr0, lr1).exp();
            let w = (target * aspect).sqrt().round_ties_even() as usize;
            let h = (target / aspect).sqrt().round_ties_even() as usize;
            if 0 < w && w <= width && 0 < h && h <= height {
                let top = rng.below(height - h + 1);
                let left = rng.below(width - w + 1);
                return (top, left, h, w);
            }
        }
        let in_ratio = width as f64 / height as f64;
        let (h, w) = if in_ratio < self.ratio.0 {
            (
                (width as f64 / self.ratio.0).round_ties_even() as usize,
                width,
            )
        } else if in_ratio > self.ratio.1 {
            (
                height,
                (height as f64 * self.ratio.1).round_ties_even() as usize,
            )
        } else {
            (height, width)
        };
        ((height - h) / 2, (width - w) / 2, h, w)
    }
}

impl Transform for RandomResizedCrop {
    fn apply(&self, item: Item, rng: &mut Rng) -> Result<Item> {
        let (top, left, h, w) = self.window(item.height, item.width, rng);
        Ok(resize_region(
            item,
            (top, left, h, w),
            self.height,
            self.width,
        ))
    }

    fn check(&self) -> Result<()> {
        check_size("RandomResizedCrop", self.height, self.width)?;
        let (s, r) = (self.scale, self.ratio);
        if !(s.0 > 0.0 && s.0 <= s.1 && r.0 > 0.0 && r.0 <= r.1 && r.1.is_finite()) {
            return Err(Error::config(
                "RandomResizedCrop",
                format!("scale {s:?} and ratio {r:?} must be positive, increasing ranges"),
            ));
        }
        Ok(())
    }

    fn output_size(&self, _input: Option<(usize, usize)>) -> Option<(usize, usize)> {
        Some((self.height, self.width))
    }
}

/// Mirrors the image left to right with probability `p` (torchvision's
/// `RandomHorizontalFlip`); the mask and boxes mirror with it (`x ↦ W − x`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HorizontalFlip {
    /// Probability of a flip.
    pub p: f64,
}

impl HorizontalFlip {
    /// A flip with probability `p` (1 always flips).
    pub fn new(p: f64) -> HorizontalFlip {
        HorizontalFlip { p }
    }
}

/// Reverses every row of `width` values.
fn mirror<T>(data: &mut [T], width: usize) {
    data.chunks_exact_mut(width).for_each(<[T]>::reverse);
}

impl Transform for HorizontalFlip {
    fn apply(&self, mut item: Item, rng: &mut Rng) -> Result<Item> {
        if unit(rng) >= self.p {
            return Ok(item);
        }
        let w = item.width;
        match &mut item.pixels {
            Pixels::Bytes(b) => mirror(b, w),
            Pixels::Floats(f) => mirror(f, w),
        }
        match &mut item.target {
            Target::Mask(m) => mirror(&mut m.data, w),
            Target::Boxes(b) => {
                let wf = w as f32;
                move_boxes(b, w, item.height, |[x1, y1, x2, y2]| {
                    [wf - x2, y1, wf - x1, y2]
                });
            }
            _ => {}
        }
        Ok(item)
    }

    fn check(&self) -> Result<()> {
        if (0.0..=1.0).contains(&self.p) {
            Ok(())
        } else {
            Err(Error::config(
                "HorizontalFlip",
                format!("probability {} is not in [0, 1]", self.p),
            ))
        }
    }
}
