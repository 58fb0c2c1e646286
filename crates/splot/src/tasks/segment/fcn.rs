//! Fully convolutional networks (Long, Shelhamer, Darrell, CVPR 2015): a classification
//! network whose fully connected layers become convolutions (`fc6`, `fc7`), a 1×1 score
//! layer per class (`score_fr`), and transposed convolutions initialised as bilinear
//! upsampling that bring the coarse scores back to the image:
//!
//! - **FCN-32s**: `score_fr` upsampled ×32 (`upscore`, kernel 64) and cropped to the input;
//! - **FCN-16s**: `score_fr` ×2 (`upscore2`) plus the 1×1 scores of pool4 (`score_pool4`,
//!   cropped), then ×16 (`upscore16`);
//! - **FCN-8s**: as FCN-16s, the sum ×2 again (`upscore_pool4`) plus the scores of pool3
//!   (`score_pool3`), then ×8 (`upscore8`).
//!
//! A ×f upsampling is a transposed convolution with kernel 2f and stride f. The crops are
//! the paper's, computed as Caffe's `coord_map` does: every layer maps input pixel `x` to
//! position `a·x + b` (a convolution or pool of kernel k, stride s, padding p, dilation d:
//! `(b + p − d(k−1)/2)/s`; a transposed convolution: `s·b + (k−1)/2 − p`), and a map with
//! offset `b_A − b_B` is cropped by that offset to align with B. On VGG16 with the paper's
//! padding of 100 on `conv1_1` this gives the paper's offsets: 19 (FCN-32s), 5 and 27
//! (FCN-16s), 5, 9 and 31 (FCN-8s).
//!
//! Two backbones: [`Backbone::Vgg16`] (the paper's: torchvision's `vgg16().features` with
//! `features.0` padded by 100 and ceil-mode pools, so its names and weights are
//! torchvision's; `fc6` 7×7 and `fc7` 1×1 with 4 096 channels, dropout after each) and
//! [`Backbone::Small`] (five stages of two 3×3 convolutions with batch norm, 32 to 256
//! channels, `fc6` 3×3 and `fc7` 1×1 with 512: a network that trains on two cores). The
//! small backbone pads every layer to keep its size, so its upsamplings pad by f/2 and
//! every offset is 0. Score layers start at zero, as in the paper.

use super::model::{Heads, Segmenter, Step};
use crate::error::{Error, Result};
use crate::nn::{
    Activation, BatchNorm, Conv2d, ConvTranspose2d, Dropout, Mode, Module, Pool, Sequential,
};
use crate::ops::conv::{Conv2dConfig, ConvTranspose2dConfig};
use crate::ops::pool::Pool2dConfig;
use crate::ops::resample::bilinear_upsampling_weight;
use crate::tensor::{fans, Rng, Tensor};

/// The classification network an FCN is made from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backbone {
    /// VGG16, as in the paper.
    Vgg16,
    /// Five stages of two 3×3 convolutions with batch norm (32, 64, 128, 128, 256).
    Small,
}

/// Which pooling layers' scores are added back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skips {
    /// FCN-32s.
    None,
    /// FCN-16s: pool4.
    Pool4,
    /// FCN-8s: pool4 and pool3.
    Pool4Pool3,
}

/// Caffe's coordinate map: input pixel `x` is at position `a·x + b` of a layer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CoordMap {
    /// Scale.
    pub a: f64,
    /// Shift.
    pub b: f64,
}

impl CoordMap {
    /// The input's own map.
    pub const IDENTITY: CoordMap = CoordMap { a: 1.0, b: 0.0 };

    /// After a convolution or pool of kernel `k`, stride `s`, padding `p`, dilation `d`.
    pub fn conv(self, k: usize, s: usize, p: usize, d: usize) -> CoordMap {
        let s = s as f64;
        CoordMap {
            a: self.a / s,
            b: (self.b + p as f64 - (d * (k - 1)) as f64 / 2.0) / s,
        }
    }

    /// After a transposed convolution of kernel `k`, stride `s`, padding `p`.
    pub fn deconv(self, k: usize, s: usize, p: usize) -> CoordMap {
        let s = s as f64;
        CoordMap {
            a: self.a * s,
            b: s * self.b + (k - 1) as f64 / 2.0 - p as f64,
        }
    }

    /// The crop offset that aligns a map with this one onto `other`'s positions: `b − b'`;
    /// an error unless the scales agree and the offset is a whole, non-negative number.
    pub fn offset_onto(self, other: CoordMap) -> Result<usize> {
        let o = self.b - other.b;
        if (self.a - other.a).abs() > 1e-12 || o < -1e-9 || (o - o.round()).abs() > 1e-9 {
            return Err(Error::config(
                "FCN",
                format!("maps {self:?} and {other:?} cannot be aligned by a crop"),
            ));
        }
        Ok(o.round() as usize)
    }
}

/// A convolution initialised as torchvision initialises VGG (Kaiming normal, fan-out;
/// bias 0).
fn conv(c_in: usize, c_out: usize, k: usize, pad: usize, rng: &mut Rng) -> Result<Conv2d> {
    let mut c = Conv2d::new(c_in, c_out, [k, k], Conv2dConfig::new().padding(pad), rng)?;
    let shape = c.weight.shape().to_vec();
    let std = (2.0 / fans(&shape).1 as f32).sqrt();
    c.weight = Tensor::randn(&shape, 0.0, std, rng).with_grad();
    c.bias = Some(Tensor::zeros(&[c_out]).with_grad());
    Ok(c)
}

/// A 1×1 score layer starting at zero (the paper's initialisation).
fn score(c_in: usize, classes: usize, rng: &mut Rng) -> Result<Conv2d> {
    let mut c = Conv2d::new(c_in, classes, [1, 1], Conv2dConfig::new(), rng)?;
    c.weight = Tensor::zeros(&[classes, c_in, 1, 1]).with_grad();
    c.bias = Some(Tensor::zeros(&[classes]).with_grad());
    Ok(c)
}

/// A learnable ×`f` upsampling of `classes` maps: kernel 2f, stride f, padding `pad`, no
/// bias, initialised to bilinear interpolation.
fn upsample(classes: usize, f: usize, pad: usize) -> Result<ConvTranspose2d> {
    Ok(ConvTranspose2d {
        weight: bilinear_upsampling_weight(classes, 2 * f)?.with_grad(),
        bias: None,
        cfg: ConvTranspose2dConfig::new().stride(f).padding(pad),
    })
}

/// A fully convolutional network: [`Backbone`] × [`Skips`].
pub struct Fcn {
    features: Sequential,
    /// Indices in `features` of pool3 and pool4.
    taps: [usize; 2],
    fc6: Conv2d,
    drop6: Dropout,
    fc7: Conv2d,
    drop7: Dropout,
    score_fr: Conv2d,
    /// `score_pool4`, `upscore2` (FCN-16s, FCN-8s).
    pool4: Option<(Conv2d, ConvTranspose2d)>,
    /// `score_pool3`, `upscore_pool4` (FCN-8s).
    pool3: Option<(Conv2d, ConvTranspose2d)>,
    upscore: ConvTranspose2d,
    upscore_name: &'static str,
    /// Crop offsets of pool4's and pool3's scores and of the output.
    offsets: [usize; 3],
    classes: usize,
    channels: usize,
}

impl Fcn {
    /// An FCN on `backbone` with `skips`, taking `channels`-channel images, scoring
    /// `classes`, with dropout `p` after `fc6` and `fc7`.
    pub fn new(
        backbone: Backbone,
        skips: Skips,
        channels: usize,
        classes: usize,
        p: f32,
        rng: &mut Rng,
    ) -> Result<Fcn> {
        // (convolutions per stage, channels of each stage), first padding, batch norm,
        // fc6 kernel and padding, fc width, upsampling padding as a function of f
        let (stages, first_pad, bn, fc6_k, fc6_pad, fc, same): (
            &[(usize, usize)],
            _,
            _,
            _,
            _,
            _,
            _,
        ) = match backbone {
            Backbone::Vgg16 => (
                &[(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)],
                100,
                false,
                7,
                0,
                4096,
                false,
            ),
            Backbone::Small => (
                &[(2, 32), (2, 64), (2, 128), (2, 128), (2, 256)],
                1,
                true,
                3,
                1,
                512,
                true,
            ),
        };
        let mut features = Sequential::new();
        let mut map = CoordMap::IDENTITY;
        let (mut pool_maps, mut pool_at) = (Vec::new(), Vec::new());
        let mut c = channels;
        let mut first = true;
        for &(n, width) in stages {
            for _ in 0..n {
                let pad = if first { first_pad } else { 1 };
                first = false;
                features = features.push(conv(c, width, 3, pad, rng)?);
                map = map.conv(3, 1, pad, 1);
                if bn {
                    features = features.push(BatchNorm::new_2d(width)?);
                }
                features = features.push(Activation::ReLU);
                c = width;
            }
            features = features.push(Pool::Max(Pool2dConfig::new(2).stride(2).ceil_mode(true)));
            map = map.conv(2, 2, 0, 1);
            pool_maps.push(map);
            pool_at.push(features.len() - 1);
        }
        let fc6 = conv(c, fc, fc6_k, fc6_pad, rng)?;
        let map = map.conv(fc6_k, 1, fc6_pad, 1); // fc7 and score_fr are 1×1
        let pad = |f: usize| if same { f / 2 } else { 0 };
        let mut offsets = [0; 3];
        let (pool4, pool3, upscore, upscore_name, last) = match skips {
            Skips::None => {
                let up = upsample(classes, 32, pad(32))?;
                let m = map.deconv(64, 32, pad(32));
                (None, None, up, "upscore", m)
            }
            Skips::Pool4 | Skips::Pool4Pool3 => {
                let up2 = upsample(classes, 2, pad(2))?;
                let m = map.deconv(4, 2, pad(2));
                offsets[0] = pool_maps[3].offset_onto(m)?;
                let pool4 = Some((score(stages[3].1, classes, rng)?, up2));
                if skips == Skips::Pool4 {
                    let up = upsample(classes, 16, pad(16))?;
                    (pool4, None, up, "upscore16", m.deconv(32, 16, pad(16)))
                } else {
                    let up4 = upsample(classes, 2, pad(2))?;
                    let m = m.deconv(4, 2, pad(2));
                    offsets[1] = pool_maps[2].offset_onto(m)?;
                    let pool3 = Some((score(stages[2].1, classes, rng)?, up4));
                    let up = upsample(classes, 8, pad(8))?;
                    (pool4, pool3, up, "upscore8", m.deconv(16, 8, pad(8)))
                }
            }
        };
        offsets[2] = last.offset_onto(CoordMap::IDENTITY)?;
        Ok(Fcn {
            features,
            taps: [pool_at[2], pool_at[3]],
            fc6,
            drop6: Dropout::new(p, rng.next_u64())?,
            fc7: conv(fc, fc, 1, 0, rng)?,
            drop7: Dropout::new(p, rng.next_u64())?,
            score_fr: score(fc, classes, rng)?,
            pool4,
            pool3,
            upscore,
            upscore_name,
            offsets,
            classes,
            channels,
        })
    }

    /// The crop offsets of pool4's scores, pool3's scores and the output (0 where unused).
    pub fn offsets(&self) -> [usize; 3] {
        self.offsets
    }
}

/// `up` plus `skip` cropped by `offset` (the overlap of the two).
fn fuse(up: &Tensor, skip: &Tensor, offset: usize, what: &str) -> Result<Tensor> {
    let (h, w) = (up.dim(2), up.dim(3));
    if skip.dim(2) <= offset || skip.dim(3) <= offset {
        return Err(Error::shape(
            "FCN",
            format!(
                "{what}: scores {:?} are too small for the crop offset {offset}",
                skip.shape()
            ),
        ));
    }
    let (lh, lw) = (h.min(skip.dim(2) - offset), w.min(skip.dim(3) - offset));
    let up = up.narrow(2, 0, lh)?.narrow(3, 0, lw)?;
    let skip = skip.narrow(2, offset, lh)?.narrow(3, offset, lw)?;
    up.add(&skip)
}

/// The window `size` at `[offset, offset]` of `[n, c, h, w]` maps (the paper's `Crop`).
struct Crop {
    offset: usize,
    size: [usize; 2],
}

impl Module for Crop {
    fn kind(&self) -> &'static str {
        "Crop"
    }
    fn forward(&self, x: &Tensor, _: Mode) -> Result<Tensor> {
        x.narrow(2, self.offset, self.size[0])?
            .narrow(3, self.offset, self.size[1])
    }
}

impl Segmenter for Fcn {
    fn run(&self, x: &Tensor, step: &mut Step) -> Result<Heads> {
        let (h_in, w_in) = (x.dim(2), x.dim(3));
        let mut h = x.clone();
        let mut taps = [None, None];
        for (i, (name, layer)) in self.features.children().into_iter().enumerate() {
            h = step(&format!("features.{name}"), layer, &h)?;
            if let Some(t) = self.taps.iter().position(|&at| at == i) {
                taps[t] = Some(h.clone());
            }
        }
        let relu = Activation::ReLU;
        h = step("fc6", &self.fc6, &h)?;
        h = step("relu6", &relu, &h)?;
        h = step("drop6", &self.drop6, &h)?;
        h = step("fc7", &self.fc7, &h)?;
        h = step("relu7", &relu, &h)?;
        h = step("drop7", &self.drop7, &h)?;
        let mut s = step("score_fr", &self.score_fr, &h)?;
        let [pool3, pool4] = taps;
        if let (Some((score4, up2)), Some(p4)) = (&self.pool4, pool4) {
            s = step("upscore2", up2, &s)?;
            let p4 = step("score_pool4", score4, &p4)?;
            s = fuse(&s, &p4, self.offsets[0], "pool4")?;
            if let (Some((score3, up4)), Some(p3)) = (&self.pool3, pool3) {
                s = step("upscore_pool4", up4, &s)?;
                let p3 = step("score_pool3", score3, &p3)?;
                s = fuse(&s, &p3, self.offsets[1], "pool3")?;
            }
        }
        s = step(self.upscore_name, &self.upscore, &s)?;
        let o = self.offsets[2];
        if s.dim(2) < o + h_in || s.dim(3) < o + w_in {
            return Err(Error::shape(
                "FCN",
                format!(
                    "the upsampled scores {:?} do not cover the {h_in}×{w_in} input at offset {o}",
                    s.shape()
                ),
            ));
        }
        let crop = Crop {
            offset: o,
            size: [h_in, w_in],
        };
        let out = step("crop", &crop, &s)?;
        Ok(Heads { out, aux: None })
    }
    fn classes(&self) -> usize {
        self.classes
    }
    fn in_channels(&self) -> usize {
        self.channels
    }
}

impl Module for Fcn {
    fn kind(&self) -> &'static str {
        "FCN"
    }
    fn forward(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        Ok(super::model::heads(self, x, mode)?.out)
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        let mut c: Vec<(String, &dyn Module)> = vec![
            ("features".into(), &self.features),
            ("fc6".into(), &self.fc6),
            ("drop6".into(), &self.drop6),
            ("fc7".into(), &self.fc7),
            ("drop7".into(), &self.drop7),
            ("score_fr".into(), &self.score_fr),
        ];
        if let Some((s, u)) = &self.pool4 {
            c.push(("upscore2".into(), u));
            c.push(("score_pool4".into(), s));
        }
        if let Some((s, u)) = &self.pool3 {
            c.push(("upscore_pool4".into(), u));
            c.push(("score_pool3".into(), s));
        }
        c.push((self.upscore_name.into(), &self.upscore));
        c
    }
}
