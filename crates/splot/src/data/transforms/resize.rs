//! [`Resize`]: PIL's bilinear resampling, as torchvision's `Resize` does it on PIL images.
//!
//! The filter is the triangle `max(0, 1 − |x|)` stretched by the scale when shrinking (so a
//! shrink averages every input pixel: antialiasing), the weights of each output pixel
//! normalised to sum 1 and rounded to 22-bit fixed point; two passes, each rounding to
//! bytes (Pillow 13's `ImagingResample`, 8 bits per channel, including its choice of which
//! pass goes first). Masks are
//! resized by nearest neighbour (the input pixel under each output pixel's centre), boxes
//! scaled.

use super::geometry::move_boxes;
use super::{Item, Pixels, Transform};
use crate::data::sample::{Mask, Target};
use crate::error::{Error, Result};
use crate::tensor::Rng;

/// Bits of the fixed-point weights (PIL's `PRECISION_BITS`).
const PRECISION: u32 = 22;

/// The weights of a 1-D resampling from `input` to `output` samples.
struct Coeffs {
    /// First input sample and number of samples of each output sample.
    bounds: Vec<(usize, usize)>,
    /// `ksize` weights per output sample (the first `bounds[i].1` used).
    weights: Vec<i32>,
    ksize: usize,
}

impl Coeffs {
    /// PIL's `precompute_coeffs` with the bilinear filter (support 1) and
    /// `normalize_coeffs_8bpc`.
    fn new(input: usize, output: usize) -> Coeffs {
        let scale = input as f64 / output as f64;
        let filterscale = scale.max(1.0);
        let support = filterscale;
        let ksize = support.ceil() as usize * 2 + 1;
        let mut bounds = Vec::with_capacity(output);
        let mut weights = vec![0i32; output * ksize];
        let mut k = vec![0f64; ksize];
        for xx in 0..output {
            let center = (xx as f64 + 0.5) * scale;
            let ss = 1.0 / filterscale;
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(input as i64) as usize - xmin;
            let mut ww = 0.0;
            for (x, kx) in k.iter_mut().enumerate().take(xmax) {
                let t = ((x + xmin) as f64 - center + 0.5) * ss;
                *kx = (1.0 - t.abs()).max(0.0);
                ww += *kx;
            }
            for (x, &kx) in k.iter().enumerate().take(xmax) {
                let v = if ww != 0.0 { kx / ww } else { kx };
                let fixed = v * (1u32 << PRECISION) as f64;
                weights[xx * ksize + x] = if v < 0.0 { fixed - 0.5 } else { fixed + 0.5 } as i32;
            }
            bounds.push((xmin, xmax));
        }
        Coeffs {
            bounds,
            weights,
            ksize,
        }
    }

    fn of(&self, i: usize) -> (usize, &[i32]) {
        let (start, n) = self.bounds[i];
        (start, &self.weights[i * self.ksize..][..n])
    }
}

/// PIL's `clip8`: the fixed-point sum back to a byte.
#[inline]
fn clip8(v: i32) -> u8 {
    (v >> PRECISION).clamp(0, 255) as u8
}

/// One horizontal pass: each of the `rows` rows of `w` values at `src[start + r·stride..]`
/// resampled to `out_w` values by `hc`. Four rows go together, sharing each weight.
fn horizontal(
    src: &[u8],
    (start, stride, rows, w): (usize, usize, usize, usize),
    hc: &Coeffs,
    out_w: usize,
) -> Vec<u8> {
    let half = 1i32 << (PRECISION - 1);
    let mut out = vec![0u8; rows * out_w];
    let row = |r: usize| &src[start + r * stride..][..w];
    let mut r = 0;
    while r + 4 <= rows {
        let (r0, r1, r2, r3) = (row(r), row(r + 1), row(r + 2), row(r + 3));
        for xx in 0..out_w {
            let (first, k) = hc.of(xx);
            let (a0, a1, a2, a3) = (
                &r0[first..first + k.len()],
                &r1[first..first + k.len()],
                &r2[first..first + k.len()],
                &r3[first..first + k.len()],
            );
            let (mut s0, mut s1, mut s2, mut s3) = (half, half, half, half);
            for j in 0..k.len() {
                let kw = k[j];
                s0 += a0[j] as i32 * kw;
                s1 += a1[j] as i32 * kw;
                s2 += a2[j] as i32 * kw;
                s3 += a3[j] as i32 * kw;
            }
            out[r * out_w + xx] = clip8(s0);
            out[(r + 1) * out_w + xx] = clip8(s1);
            out[(r + 2) * out_w + xx] = clip8(s2);
            out[(r + 3) * out_w + xx] = clip8(s3);
        }
        r += 4;
    }
    for r in r..rows {
        let row = row(r);
        for (xx, o) in out[r * out_w..][..out_w].iter_mut().enumerate() {
            let (first, k) = hc.of(xx);
            let mut ss = half;
            for (&p, &kw) in row[first..first + k.len()].iter().zip(k) {
                ss += p as i32 * kw;
            }
            *o = clip8(ss);
        }
    }
    out
}

/// One vertical pass: the `w`-wide rows at `src[start + r·stride..]` resampled to
/// `out_h` rows by `vc` (row `r` of `vc` counted from `start`).
fn vertical(
    src: &[u8],
    (start, stride, w): (usize, usize, usize),
    vc: &Coeffs,
    out_h: usize,
) -> Vec<u8> {
    let half = 1i32 << (PRECISION - 1);
    let mut out = vec![0u8; out_h * w];
    let mut acc = vec![0i32; w];
    for yy in 0..out_h {
        let (first, k) = vc.of(yy);
        acc.fill(half);
        for (j, &kw) in k.iter().enumerate() {
            let row = &src[start + (first + j) * stride..][..w];
            for (a, &p) in acc.iter_mut().zip(row) {
                *a += p as i32 * kw;
            }
        }
        for (o, &a) in out[yy * w..][..w].iter_mut().zip(&acc) {
            *o = clip8(a);
        }
    }
    out
}

/// Resamples the `h × w` window at `(top, left)` of a `stride`-wide plane to
/// `out_h × out_w`, as Pillow 13 resizes the crop of that window: two passes, horizontal
/// first unless the height shrinks by more than twice as many pixels as the width (then
/// vertical first), a pass skipped when its size does not change.
fn resample_plane(
    src: &[u8],
    stride: usize,
    (top, left, h, w): (usize, usize, usize, usize),
    (out_h, out_w): (usize, usize),
) -> Vec<u8> {
    let origin = top * stride + left;
    let (need_h, need_v) = (out_w != w, out_h != h);
    let (dh, dw) = (h as i64 - out_h as i64, w as i64 - out_w as i64);
    let vertical_first = dh > 0 && dh > 2 * dw;
    match (need_h, need_v) {
        (false, false) => (0..h)
            .flat_map(|y| &src[origin + y * stride..][..w])
            .copied()
            .collect(),
        (true, false) => horizontal(src, (origin, stride, h, w), &Coeffs::new(w, out_w), out_w),
        (false, true) => vertical(src, (origin, stride, w), &Coeffs::new(h, out_h), out_h),
        (true, true) if vertical_first => {
            let tmp = vertical(src, (origin, stride, w), &Coeffs::new(h, out_h), out_h);
            horizontal(&tmp, (0, w, out_h, w), &Coeffs::new(w, out_w), out_w)
        }
        (true, true) => {
            // Only the rows the vertical pass reads.
            let vc = Coeffs::new(h, out_h);
            let first = vc.bounds[0].0;
            let (s, n) = vc.bounds[out_h - 1];
            let rows = s + n - first;
            let start = origin + first * stride;
            let tmp = horizontal(src, (start, stride, rows, w), &Coeffs::new(w, out_w), out_w);
            let shifted = Coeffs {
                bounds: vc.bounds.iter().map(|&(b, n)| (b - first, n)).collect(),
                ..vc
            };
            vertical(&tmp, (0, out_w, out_w), &shifted, out_h)
        }
    }
}

/// The source index of each of `output` samples resized by nearest neighbour from `input`
/// (PIL's `NEAREST`: the sample under the output's centre).
fn nearest(input: usize, output: usize) -> Vec<usize> {
    let scale = input as f64 / output as f64;
    (0..output)
        .map(|x| (((x as f64 + 0.5) * scale) as usize).min(input - 1))
        .collect()
}

/// The window `(top, left, h, w)` of `item` resized to `out_h × out_w`: pixels bilinear
/// (fractional levels are rounded to bytes first), the mask by nearest neighbour, boxes
/// moved and scaled.
pub(crate) fn resize_region(
    mut item: Item,
    region: (usize, usize, usize, usize),
    out_h: usize,
    out_w: usize,
) -> Item {
    let (top, left, h, w) = region;
    let (ih, iw, c) = (item.height, item.width, item.channels);
    let bytes = item.bytes();
    let mut data = Vec::with_capacity(c * out_h * out_w);
    for ch in 0..c {
        let plane = &bytes[ch * ih * iw..(ch + 1) * ih * iw];
        data.extend(resample_plane(plane, iw, region, (out_h, out_w)));
    }
    let target = match std::mem::replace(&mut item.target, Target::None) {
        Target::Mask(m) => {
            let (ys, xs) = (nearest(h, out_h), nearest(w, out_w));
            let mut out = Vec::with_capacity(out_h * out_w);
            for &y in &ys {
                let row = &m.data[(top + y) * m.width + left..];
                out.extend(xs.iter().map(|&x| row[x]));
            }
            Target::Mask(Mask {
                height: out_h,
                width: out_w,
                data: out,
            })
        }
        Target::Boxes(mut b) => {
            let (sx, sy) = (out_w as f32 / w as f32, out_h as f32 / h as f32);
            let (dx, dy) = (left as f32, top as f32);
            move_boxes(&mut b, out_w, out_h, |[x1, y1, x2, y2]| {
                [
                    (x1 - dx) * sx,
                    (y1 - dy) * sy,
                    (x2 - dx) * sx,
                    (y2 - dy) * sy,
                ]
            });
            Target::Boxes(b)
        }
        other => other,
    };
    Item {
        channels: c,
        height: out_h,
        width: out_w,
        pixels: Pixels::Bytes(data),
        target,
    }
}

/// The size a [`Resize`] gives.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ResizeTo {
    /// The shorter side to this many pixels, the aspect ratio kept (the longer side
    /// `⌊S · long / short⌋`, as torchvision).
    Shorter(usize),
    /// Exactly `height × width`.
    Exact {
        /// Output height.
        height: usize,
        /// Output width.
        width: usize,
    },
}

/// Resizes the whole image, bilinear with antialiasing (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Resize {
    /// The output size.
    pub to: ResizeTo,
}

impl Resize {
    /// The shorter side to `size`.
    pub fn shorter(size: usize) -> Resize {
        Resize {
            to: ResizeTo::Shorter(size),
        }
    }

    /// Exactly `height × width`.
    pub fn exact(height: usize, width: usize) -> Resize {
        Resize {
            to: ResizeTo::Exact { height, width },
        }
    }

    /// The output `(height, width)` for an input of `height × width`.
    pub fn size_for(&self, height: usize, width: usize) -> (usize, usize) {
        match self.to {
            ResizeTo::Exact { height, width } => (height, width),
            ResizeTo::Shorter(s) => {
                let (short, long) = (height.min(width), height.max(width));
                let long = ((s as f64 * long as f64 / short as f64) as usize).max(1);
                if width <= height {
                    (long, s)
                } else {
                    (s, long)
                }
            }
        }
    }
}

impl Transform for Resize {
    fn apply(&self, item: Item, _rng: &mut Rng) -> Result<Item> {
        let (h, w) = self.size_for(item.height, item.width);
        if (h, w) == (item.height, item.width) {
            return Ok(item);
        }
        let region = (0, 0, item.height, item.width);
        Ok(resize_region(item, region, h, w))
    }

    fn check(&self) -> Result<()> {
        let ok = match self.to {
            ResizeTo::Shorter(s) => s > 0,
            ResizeTo::Exact { height, width } => height > 0 && width > 0,
        };
        if ok {
            Ok(())
        } else {
            Err(Error::config(
                "Resize",
                format!("{:?} has no pixels", self.to),
            ))
        }
    }

    fn output_size(&self, input: Option<(usize, usize)>) -> Option<(usize, usize)> {
        match self.to {
            ResizeTo::Exact { height, width } => Some((height, width)),
            ResizeTo::Shorter(_) => input.map(|(h, w)| self.size_for(h, w)),
        }
    }
}
