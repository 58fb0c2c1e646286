//! [`ColorJitter`]: torchvision's random brightness, contrast, saturation and hue changes,
//! in a random order, with PIL's arithmetic (`ImageEnhance` blends and the HSV round trip).

use super::{luma, uniform, Item, Transform};
use crate::error::{Error, Result};
use crate::tensor::Rng;

/// Random colour changes, as torchvision's `ColorJitter(brightness, contrast, saturation,
/// hue)`: each factor is drawn uniformly from `[max(0, 1 − v), 1 + v]` (hue's from
/// `[−hue, hue]`, at most 0.5), and the four changes are applied in a random order, each
/// only when its value is not 0:
/// - brightness `f`: blends with black, `p·f`;
/// - contrast `f`: blends with the mean grey level `m` of the image, `m + f·(p − m)`;
/// - saturation `f`: blends with the pixel's own grey level;
/// - hue `h`: shifts the hue by `h` turns (in PIL's 8-bit HSV).
///
/// Blends truncate to bytes and clamp to 0–255, as PIL's `Image.blend`. Grey images keep
/// their hue and saturation.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ColorJitter {
    /// Brightness spread (0: unchanged).
    pub brightness: f32,
    /// Contrast spread.
    pub contrast: f32,
    /// Saturation spread.
    pub saturation: f32,
    /// Hue spread, in turns, at most 0.5.
    pub hue: f32,
}

/// PIL's `Image.blend(degenerate, image, f)` of one value.
#[inline]
fn blend(degenerate: u8, value: u8, f: f32) -> u8 {
    let v = degenerate as f32 + f * (value as f32 - degenerate as f32);
    v.clamp(0.0, 255.0) as u8
}

/// PIL's `rgb2hsv` of one pixel (8-bit hue, saturation, value).
fn rgb_to_hsv(r: u8, g: u8, b: u8) -> (u8, u8, u8) {
    let (maxc, minc) = (r.max(g).max(b), r.min(g).min(b));
    if maxc == minc {
        return (0, 0, maxc);
    }
    let cr = (maxc - minc) as f32;
    let s = cr / maxc as f32;
    let rc = (maxc - r) as f32 / cr;
    let gc = (maxc - g) as f32 / cr;
    let bc = (maxc - b) as f32 / cr;
    // C's arithmetic: float minus float in float, a double constant plus float in double.
    let h = if r == maxc {
        bc - gc
    } else if g == maxc {
        (2.0 + rc as f64 - bc as f64) as f32
    } else {
        (4.0 + gc as f64 - rc as f64) as f32
    };
    let h = ((h as f64 / 6.0 + 1.0) % 1.0) as f32;
    let byte = |v: f32| ((v as f64 * 255.0) as i32).clamp(0, 255) as u8;
    (byte(h), byte(s), maxc)
}

/// PIL's `hsv2rgb` of one pixel.
fn hsv_to_rgb(h: u8, s: u8, v: u8) -> (u8, u8, u8) {
    if s == 0 {
        return (v, v, v);
    }
    // C's arithmetic: `f` and `fs` are floats, `fs * f` a float product, the rest double.
    let hf = h as f64 * 6.0 / 255.0;
    let i = hf.floor() as i32;
    let f = (hf - i as f64) as f32;
    let fs = (s as f64 / 255.0) as f32;
    let v64 = v as f64;
    let byte = |x: f64| (x.round() as i32).clamp(0, 255) as u8;
    let p = byte(v64 * (1.0 - fs as f64));
    let q = byte(v64 * (1.0 - (fs * f) as f64));
    let t = byte(v64 * (1.0 - fs as f64 * (1.0 - f as f64)));
    match i % 6 {
        0 => (v, t, p),
        1 => (q, v, p),
        2 => (p, v, t),
        3 => (p, q, v),
        4 => (t, p, v),
        _ => (v, p, q),
    }
}

/// The grey level of every pixel (`c` planes of `n` values).
fn grey(data: &[u8], c: usize, n: usize) -> Vec<u8> {
    if c == 1 {
        return data.to_vec();
    }
    (0..n)
        .map(|i| luma(data[i], data[n + i], data[2 * n + i]))
        .collect()
}

impl ColorJitter {
    /// Draws `[0, 1]` factors for the given spread `v` (`[max(0, 1 − v), 1 + v]`).
    fn factor(rng: &mut Rng, v: f32) -> f32 {
        uniform(rng, (1.0 - v as f64).max(0.0), 1.0 + v as f64) as f32
    }
}

impl Transform for ColorJitter {
    fn apply(&self, item: Item, rng: &mut Rng) -> Result<Item> {
        // torchvision: a random permutation of the four, then the four factors.
        let mut order = [0usize, 1, 2, 3];
        for i in (1..4).rev() {
            order.swap(i, rng.below(i + 1));
        }
        let b = Self::factor(rng, self.brightness);
        let c = Self::factor(rng, self.contrast);
        let s = Self::factor(rng, self.saturation);
        let h = uniform(rng, -self.hue as f64, self.hue as f64) as f32;
        Ok(self.adjust(item, order, [b, c, s, h]))
    }

    fn check(&self) -> Result<()> {
        let spreads = [self.brightness, self.contrast, self.saturation];
        if spreads.iter().any(|v| !(v.is_finite() && *v >= 0.0)) || !(0.0..=0.5).contains(&self.hue)
        {
            return Err(Error::config(
                "ColorJitter",
                format!("spreads must be finite and ≥ 0, hue at most 0.5: {self:?}"),
            ));
        }
        Ok(())
    }
}

impl ColorJitter {
    /// The changes with drawn `[brightness, contrast, saturation, hue]` factors, in
    /// `order` (0 brightness, 1 contrast, 2 saturation, 3 hue), each skipped when its
    /// spread is 0 (what [`Transform::apply`] does after its draws).
    pub fn adjust(&self, mut item: Item, order: [usize; 4], factors: [f32; 4]) -> Item {
        let [b, c, s, h] = factors;
        let (channels, n) = (item.channels, item.height * item.width);
        let data = item.bytes();
        for op in order {
            match op {
                0 if self.brightness != 0.0 => data.iter_mut().for_each(|p| *p = blend(0, *p, b)),
                1 if self.contrast != 0.0 => {
                    // ImageEnhance.Contrast: the mean of the grey image, rounded.
                    let g = grey(data, channels, n);
                    let mean = g.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
                    let m = (mean + 0.5) as u8;
                    data.iter_mut().for_each(|p| *p = blend(m, *p, c));
                }
                2 if self.saturation != 0.0 && channels == 3 => {
                    let g = grey(data, channels, n);
                    for ch in 0..3 {
                        for (p, &l) in data[ch * n..(ch + 1) * n].iter_mut().zip(&g) {
                            *p = blend(l, *p, s);
                        }
                    }
                }
                3 if self.hue != 0.0 && channels == 3 => {
                    // numpy's uint8 addition wraps around.
                    let shift = (h as f64 * 255.0) as i32 as u8;
                    for i in 0..n {
                        let (hh, ss, vv) = rgb_to_hsv(data[i], data[n + i], data[2 * n + i]);
                        let (r, g, b) = hsv_to_rgb(hh.wrapping_add(shift), ss, vv);
                        (data[i], data[n + i], data[2 * n + i]) = (r, g, b);
                    }
                }
                _ => {}
            }
        }
        item
    }
}
