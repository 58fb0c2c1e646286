//! Farabet, Couprie, Najman, LeCun, "Learning hierarchical features for scene labeling"
//! (TPAMI 2013): the image's Laplacian pyramid at three scales runs through one
//! convolutional network with shared weights, each scale's features are upsampled to the
//! finest scale's and concatenated, and a per-pixel classifier scores every position.
//!
//! - Pyramid: `G₀ = x`, `G₁`, `G₂` by 2×2 average pooling; the bands are
//!   `L₀ = G₀ − up(G₁)`, `L₁ = G₁ − up(G₂)` (bilinear) and `L₂ = G₂`, so the finest scale
//!   sees edges and the coarsest the image's low frequencies.
//! - Shared network (`stem`, then `features`): three stages of 7×7 convolutions (16, 64,
//!   128 channels; the paper's third has 256) with group norm (8 channels a group) and
//!   ReLU (the paper: tanh), the first two followed by 2×2 max pooling, so features are at
//!   stride 4 of their scale and a feature at scale s sees 46·2^s input pixels. Group norm
//!   rather than batch norm: the three scales share the layers but not their statistics,
//!   and a per-image normalisation is the same in training and evaluation.
//! - Classifier (`classifier`): two 1×1 convolutions (a two-layer perceptron per pixel,
//!   384 → 256 → classes) with dropout, on the concatenated 3·128 features; the scores
//!   are upsampled bilinearly to the input's size.
//! - Refinement (`refine`, our addition): the paper sharpens its stride-4 labels with
//!   superpixels or a CRF, which are not a network; here a 3×3 convolution (32 channels,
//!   group norm, ReLU) and a 1×1 convolution read the upsampled scores beside the finest
//!   scale's full-resolution `stem` features and *add* a correction to the scores. The
//!   correction's last layer starts at zero, so the untrained network is the paper's; it
//!   lets one-pixel strokes be labelled at one-pixel precision.
use super::model::{Heads, Segmenter, Step};
use crate::error::{Error, Result};
use crate::nn::{Activation, Conv2d, Dropout, GroupNorm, Mode, Module, Pool, Sequential, Upsample};
use crate::ops::conv::Conv2dConfig;
use crate::ops::pool::Pool2dConfig;
use crate::ops::resample::InterpolateConfig;
use crate::tensor::{Rng, Tensor};

/// Scales of the pyramid.
pub const SCALES: usize = 3;
/// Channels of each stage of the shared network.
pub const WIDTHS: [usize; 3] = [16, 64, 128];
/// Hidden units of the per-pixel classifier.
pub const HIDDEN: usize = 256;
/// Channels of the full-resolution refinement.
pub const REFINE: usize = 32;

/// Farabet's multi-scale network.
pub struct MultiScale {
    stem: Sequential,
    features: Sequential,
    classifier: Sequential,
    refine: Sequential,
    classes: usize,
    channels: usize,
}

/// A 7×7 convolution without bias, group norm and ReLU: one stage of the shared network.
fn stage(c_in: usize, c_out: usize, rng: &mut Rng) -> Result<Sequential> {
    Ok(Sequential::new()
        .push(Conv2d::new(c_in, c_out, [7, 7], Conv2dConfig::new().padding(3), rng)?.without_bias())
        .push(GroupNorm::new(c_out / 8, c_out)?)
        .push(Activation::ReLU))
}

impl MultiScale {
    /// The network for `channels`-channel images and `classes`, dropout `p` in the
    /// classifier.
    pub fn new(channels: usize, classes: usize, p: f32, rng: &mut Rng) -> Result<MultiScale> {
        let pool = || Pool::Max(Pool2dConfig::new(2).stride(2).ceil_mode(true));
        let stem = stage(channels, WIDTHS[0], rng)?;
        let mut features = Sequential::new();
        for i in 1..WIDTHS.len() {
            features = features
                .push(pool())
                .push(stage(WIDTHS[i - 1], WIDTHS[i], rng)?);
        }
        let c = WIDTHS[WIDTHS.len() - 1];
        let classifier = Sequential::new()
            .push(Conv2d::new(
                SCALES * c,
                HIDDEN,
                [1, 1],
                Conv2dConfig::new(),
                rng,
            )?)
            .push(Activation::ReLU)
            .push(Dropout::new(p, rng.next_u64())?)
            .push(Conv2d::new(
                HIDDEN,
                classes,
                [1, 1],
                Conv2dConfig::new(),
                rng,
            )?);
        let mut correction = Conv2d::new(REFINE, classes, [1, 1], Conv2dConfig::new(), rng)?;
        correction.weight = Tensor::zeros(&[classes, REFINE, 1, 1]).with_grad();
        correction.bias = Some(Tensor::zeros(&[classes]).with_grad());
        let refine = Sequential::new()
            .push(stage3(classes + WIDTHS[0], REFINE, rng)?)
            .push(correction);
        Ok(MultiScale {
            stem,
            features,
            classifier,
            refine,
            classes,
            channels,
        })
    }
}

/// A 3×3 convolution without bias, group norm and ReLU: the refinement's hidden layer.
fn stage3(c_in: usize, c_out: usize, rng: &mut Rng) -> Result<Sequential> {
    Ok(Sequential::new()
        .push(Conv2d::new(c_in, c_out, [3, 3], Conv2dConfig::new().padding(1), rng)?.without_bias())
        .push(GroupNorm::new(c_out / 8, c_out)?)
        .push(Activation::ReLU))
}

/// `x` resized bilinearly to `h × w` (`align_corners=False`).
fn resize(x: &Tensor, h: usize, w: usize) -> Result<Tensor> {
    x.interpolate(&InterpolateConfig::size(h, w).bilinear(false))
}

/// The Laplacian pyramid `[L₀, L₁, L₂]` of `x`.
pub fn laplacian_pyramid(x: &Tensor) -> Result<Vec<Tensor>> {
    let pool = Pool2dConfig::new(2).stride(2).ceil_mode(true);
    let mut g = vec![x.clone()];
    for s in 1..SCALES {
        if g[s - 1].dim(2) < 2 || g[s - 1].dim(3) < 2 {
            return Err(Error::shape(
                "multiscale",
                format!(
                    "the {:?} input is too small for a {SCALES}-scale pyramid",
                    x.shape()
                ),
            ));
        }
        let next = g[s - 1].avg_pool2d(&pool)?;
        g.push(next);
    }
    let mut bands = Vec::with_capacity(SCALES);
    for s in 0..SCALES {
        if s + 1 < SCALES {
            let up = resize(&g[s + 1], g[s].dim(2), g[s].dim(3))?;
            bands.push(g[s].sub(&up)?);
        } else {
            bands.push(g[s].clone());
        }
    }
    Ok(bands)
}

impl Segmenter for MultiScale {
    fn run(&self, x: &Tensor, step: &mut Step) -> Result<Heads> {
        let (h, w) = (x.dim(2), x.dim(3));
        let bands = laplacian_pyramid(x)?;
        let mut maps = Vec::with_capacity(SCALES);
        let mut fine = None;
        for band in &bands {
            let f = step("stem", &self.stem, band)?;
            maps.push(step("features", &self.features, &f)?);
            fine.get_or_insert(f);
        }
        let (fh, fw) = (maps[0].dim(2), maps[0].dim(3));
        let up = Upsample(InterpolateConfig::size(fh, fw).bilinear(false));
        let mut aligned = vec![maps[0].clone()];
        for m in &maps[1..] {
            aligned.push(step("upsample", &up, m)?);
        }
        let refs: Vec<&Tensor> = aligned.iter().collect();
        let f = Tensor::concat(&refs, 1)?;
        let s = step("classifier", &self.classifier, &f)?;
        let scores = step(
            "upsample",
            &Upsample(InterpolateConfig::size(h, w).bilinear(false)),
            &s,
        )?;
        let fine = fine.expect("SCALES > 0");
        let both = Tensor::concat(&[&scores, &fine], 1)?;
        let out = scores.add(&step("refine", &self.refine, &both)?)?;
        Ok(Heads { out, aux: None })
    }
    fn classes(&self) -> usize {
        self.classes
    }
    fn in_channels(&self) -> usize {
        self.channels
    }
}

impl Module for MultiScale {
    fn kind(&self) -> &'static str {
        "MultiScale"
    }
    fn forward(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        Ok(super::model::heads(self, x, mode)?.out)
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![
            ("stem".into(), &self.stem),
            ("features".into(), &self.features),
            ("classifier".into(), &self.classifier),
            ("refine".into(), &self.refine),
        ]
    }
}
