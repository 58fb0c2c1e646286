//! [`Distort`]: the random affine distortions of LeCun et al. (1998) — rotation by θ,
//! isotropic scaling by s and translation by t about the centre of the output canvas —
//! onto a canvas padded by `pad` black pixels on each side, sampled bilinearly with black
//! outside the image. The pixels become fractional levels; the mask is sampled by nearest
//! neighbour (ignored outside the image); boxes become the bounding boxes of their moved
//! corners, clipped.

use super::geometry::move_boxes;
use super::{Item, Pixels, Transform, MASK_FILL};
use crate::data::sample::{Mask, Target};
use crate::error::{Error, Result};
use crate::tensor::Rng;

/// Ranges of the random affine distortion drawn for every image, each uniformly in
/// `[-max, max]`. All zeros is the identity, equal to no augmentation.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Augment {
    /// Largest translation along each axis, in pixels (drawn per axis).
    pub max_shift: f32,
    /// Largest rotation, in degrees.
    pub max_rotation_deg: f32,
    /// Largest relative change of size: 0.1 scales by a factor in `[0.9, 1.1]`. Below 1.
    pub max_scale: f32,
}

impl Augment {
    /// An error unless the ranges are finite, non-negative and `max_scale` below 1.
    pub fn check(&self, what: &'static str) -> Result<()> {
        let ranges = [self.max_shift, self.max_rotation_deg, self.max_scale];
        if ranges.iter().any(|r| !(r.is_finite() && *r >= 0.0)) || self.max_scale >= 1.0 {
            return Err(Error::config(
                what,
                format!("augmentation ranges must be finite and ≥ 0, max_scale below 1: {self:?}"),
            ));
        }
        Ok(())
    }
}

/// A random distortion drawn from `augment` per image, onto a canvas `pad` pixels larger
/// on each side (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Distort {
    /// The ranges of the draws.
    pub augment: Augment,
    /// Black pixels added on each side of the canvas.
    pub pad: usize,
}

/// One drawn distortion: rotation `angle` (radians), scale, translation `(ty, tx)`.
struct Affine {
    angle: f32,
    scale: f32,
    ty: f32,
    tx: f32,
}

impl Affine {
    /// Draws each parameter uniformly within the ranges of `a` (angle, scale, ty, tx).
    fn draw(a: &Augment, rng: &mut Rng) -> Affine {
        let angle = rng
            .uniform(-a.max_rotation_deg, a.max_rotation_deg)
            .to_radians();
        let scale = 1.0 + rng.uniform(-a.max_scale, a.max_scale);
        let ty = rng.uniform(-a.max_shift, a.max_shift);
        let tx = rng.uniform(-a.max_shift, a.max_shift);
        Affine {
            angle,
            scale,
            ty,
            tx,
        }
    }
}

/// Where output pixel `(oy, ox)` of the canvas samples the image: the output point
/// `o = c + s·R(θ)·(i − c) + t` about the canvas centre `c`, so the input is
/// `i = c + R(−θ)·(o − c − t) / s`, in image coordinates (the image sits at offset `pad`).
struct Sampler {
    t: Affine,
    sin: f32,
    cos: f32,
    cy: f32,
    cx: f32,
    pad: f32,
}

impl Sampler {
    fn source(&self, oy: usize, ox: usize) -> (f32, f32) {
        let t = &self.t;
        let (dy, dx) = (oy as f32 - self.cy - t.ty, ox as f32 - self.cx - t.tx);
        let sy = (-self.sin * dx + self.cos * dy) / t.scale + self.cy - self.pad;
        let sx = (self.cos * dx + self.sin * dy) / t.scale + self.cx - self.pad;
        (sy, sx)
    }

    /// The forward map of image point `(y, x)` (pixel-index coordinates) onto the canvas.
    fn forward(&self, y: f32, x: f32) -> (f32, f32) {
        let t = &self.t;
        let (dy, dx) = (y + self.pad - self.cy, x + self.pad - self.cx);
        let oy = self.cy + t.scale * (self.sin * dx + self.cos * dy) + t.ty;
        let ox = self.cx + t.scale * (self.cos * dx - self.sin * dy) + t.tx;
        (oy, ox)
    }
}

/// The bilinear warp of the `c` planes of `image` (`rows × cols`) onto the `h × w` canvas.
fn warp<T: Copy + Into<f32>>(
    image: &[T],
    c: usize,
    (rows, cols): (usize, usize),
    (h, w): (usize, usize),
    s: &Sampler,
) -> Vec<f32> {
    let mut canvas = vec![0.0f32; c * h * w];
    for ch in 0..c {
        let plane = &image[ch * rows * cols..(ch + 1) * rows * cols];
        let pixel = |y: isize, x: isize| -> f32 {
            if y < 0 || x < 0 || y >= rows as isize || x >= cols as isize {
                0.0
            } else {
                plane[y as usize * cols + x as usize].into()
            }
        };
        let out = &mut canvas[ch * h * w..(ch + 1) * h * w];
        for oy in 0..h {
            for ox in 0..w {
                let (sy, sx) = s.source(oy, ox);
                let (y0, x0) = (sy.floor(), sx.floor());
                let (fy, fx) = (sy - y0, sx - x0);
                let (y0, x0) = (y0 as isize, x0 as isize);
                let top = (1.0 - fx) * pixel(y0, x0) + fx * pixel(y0, x0 + 1);
                let bottom = (1.0 - fx) * pixel(y0 + 1, x0) + fx * pixel(y0 + 1, x0 + 1);
                out[oy * w + ox] = (1.0 - fy) * top + fy * bottom;
            }
        }
    }
    canvas
}

impl Transform for Distort {
    fn apply(&self, item: Item, rng: &mut Rng) -> Result<Item> {
        let (rows, cols) = (item.height, item.width);
        let (h, w) = (rows + 2 * self.pad, cols + 2 * self.pad);
        let t = Affine::draw(&self.augment, rng);
        let (sin, cos) = t.angle.sin_cos();
        let s = Sampler {
            t,
            sin,
            cos,
            cy: (h as f32 - 1.0) / 2.0,
            cx: (w as f32 - 1.0) / 2.0,
            pad: self.pad as f32,
        };
        let c = item.channels;
        let pixels = match &item.pixels {
            Pixels::Bytes(b) => warp(b, c, (rows, cols), (h, w), &s),
            Pixels::Floats(f) => warp(f, c, (rows, cols), (h, w), &s),
        };
        let target = match item.target {
            Target::Mask(m) => {
                let mut data = vec![MASK_FILL; h * w];
                for oy in 0..h {
                    for ox in 0..w {
                        let (sy, sx) = s.source(oy, ox);
                        let (y, x) = (sy.round(), sx.round());
                        if y >= 0.0 && x >= 0.0 && (y as usize) < rows && (x as usize) < cols {
                            data[oy * w + ox] = m.data[y as usize * cols + x as usize];
                        }
                    }
                }
                Target::Mask(Mask {
                    height: h,
                    width: w,
                    data,
                })
            }
            Target::Boxes(mut b) => {
                // Box edges are at pixel-index coordinate − 0.5.
                move_boxes(&mut b, w, h, |[x1, y1, x2, y2]| {
                    let corners = [(y1, x1), (y1, x2), (y2, x1), (y2, x2)]
                        .map(|(y, x)| s.forward(y - 0.5, x - 0.5));
                    let ys = corners.map(|c| c.0 + 0.5);
                    let xs = corners.map(|c| c.1 + 0.5);
                    let min = |v: [f32; 4]| v.into_iter().fold(f32::INFINITY, f32::min);
                    let max = |v: [f32; 4]| v.into_iter().fold(f32::NEG_INFINITY, f32::max);
                    [min(xs), min(ys), max(xs), max(ys)]
                });
                Target::Boxes(b)
            }
            other => other,
        };
        Ok(Item {
            channels: c,
            height: h,
            width: w,
            pixels: Pixels::Floats(pixels),
            target,
        })
    }

    fn check(&self) -> Result<()> {
        self.augment.check("Distort")
    }

    fn output_size(&self, input: Option<(usize, usize)>) -> Option<(usize, usize)> {
        input.map(|(h, w)| (h + 2 * self.pad, w + 2 * self.pad))
    }
}
