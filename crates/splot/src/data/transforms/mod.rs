//! Transforms that take an image and its target together and keep them in step, and the
//! [`Pipeline`] that chains them and ends in [`Normalize`].
//!
//! A transform works on an [`Item`]: planar pixels on the 0–255 scale (bytes, or floats
//! once a transform has sampled between pixels) and the sample's [`Target`]. Geometry moves
//! the target with the image: masks by nearest neighbour (their values are never mixed),
//! boxes by the same map, clipped to the new image, those left with no width or height
//! dropped. Pixels a transform adds (padding, the outside of a distortion) are black in the
//! image and [`IGNORE_INDEX`] in a mask, as torchvision's segmentation references pad.
//!
//! The transforms follow torchvision on PIL images: [`Resize`] (bilinear, antialiased when
//! shrinking, PIL's fixed-point arithmetic), [`RandomResizedCrop`], [`CenterCrop`],
//! [`RandomCrop`] with padding, [`HorizontalFlip`], [`ColorJitter`]; [`Pad`] and
//! [`Distort`] (LeCun et al.'s random affine distortions) are splot's digit transforms.
//! Every random draw comes from the generator the loader seeds per sample from
//! `(seed, epoch, position)`, so a pipeline gives the same items on any thread.
//!
//! ```
//! use splot::data::transforms::{HorizontalFlip, Normalize, Pipeline, RandomResizedCrop};
//! let pipeline = Pipeline::new(Normalize::new(&[0.485, 0.456, 0.406], &[0.229, 0.224, 0.225])?)
//!     .then(RandomResizedCrop::new(224, 224))?
//!     .then(HorizontalFlip::new(0.5))?;
//! assert_eq!(pipeline.output_size(Some((375, 500))), Some((224, 224)));
//! # Ok::<(), splot::Error>(())
//! ```

mod colour;
mod distort;
mod geometry;
mod resize;

pub use colour::ColorJitter;
pub use distort::{Augment, Distort};
pub use geometry::{CenterCrop, Crop, HorizontalFlip, Pad, RandomCrop, RandomResizedCrop};
pub use resize::{Resize, ResizeTo};

use super::sample::{Image, Sample, Target, IGNORE_INDEX};
use crate::error::{Error, Result};
use crate::tensor::Rng;
use std::fmt::Debug;
use std::sync::Arc;

/// Pixel values of an item, planar `[c, h, w]` on the 0–255 scale.
#[derive(Clone, Debug, PartialEq)]
pub enum Pixels {
    /// Whole levels, as decoded.
    Bytes(Vec<u8>),
    /// Fractional levels, after a transform that samples between pixels ([`Distort`]).
    Floats(Vec<f32>),
}

/// An image being transformed, with its target.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    /// Channels: 1 or 3.
    pub channels: usize,
    /// Height in pixels.
    pub height: usize,
    /// Width in pixels.
    pub width: usize,
    /// `channels·height·width` values.
    pub pixels: Pixels,
    /// The target, moved with the image.
    pub target: Target,
}

impl Item {
    /// The item of a sample; an error when its mask is not the image's size.
    pub fn new(image: Image, target: Target) -> Result<Item> {
        if let Target::Mask(m) = &target {
            if (m.height, m.width) != (image.height, image.width) {
                return Err(Error::shape(
                    "Item",
                    format!(
                        "the mask is {}×{} but its image is {}×{}",
                        m.width, m.height, image.width, image.height
                    ),
                ));
            }
        }
        Ok(Item {
            channels: image.channels,
            height: image.height,
            width: image.width,
            pixels: Pixels::Bytes(image.data),
            target,
        })
    }

    /// The item of `sample`, see [`Item::new`].
    pub fn from_sample(sample: Sample) -> Result<Item> {
        Item::new(sample.image, sample.target)
    }

    /// The pixels as bytes: fractional levels are rounded to the nearest and clamped to
    /// 0–255 first (transforms that work on whole levels call this).
    pub fn bytes(&mut self) -> &mut Vec<u8> {
        if let Pixels::Floats(f) = &self.pixels {
            let b = f
                .iter()
                .map(|v| v.round().clamp(0.0, 255.0) as u8)
                .collect();
            self.pixels = Pixels::Bytes(b);
        }
        match &mut self.pixels {
            Pixels::Bytes(b) => b,
            Pixels::Floats(_) => unreachable!("converted above"),
        }
    }

    /// Value `i` of the pixels, as a float.
    pub fn level(&self, i: usize) -> f32 {
        match &self.pixels {
            Pixels::Bytes(b) => b[i] as f32,
            Pixels::Floats(f) => f[i],
        }
    }
}

/// One step of a [`Pipeline`]: a map of an item (image and target together), drawing any
/// randomness from `rng`.
pub trait Transform: Send + Sync + Debug {
    /// The transformed item.
    fn apply(&self, item: Item, rng: &mut Rng) -> Result<Item>;

    /// An error when the parameters cannot work (called when the transform joins a
    /// pipeline).
    fn check(&self) -> Result<()> {
        Ok(())
    }

    /// The `(height, width)` of the output for an input of `input` (`None`: unknown or
    /// varying), `None` when it cannot be known in advance.
    fn output_size(&self, input: Option<(usize, usize)>) -> Option<(usize, usize)> {
        input
    }
}

/// The last step of every pipeline: pixel `v` of channel `c` becomes
/// `(v / 255 − mean[c]) / std[c]`, the f32 values of the batch tensor. One mean and std
/// serve every channel.
#[derive(Clone, Debug, PartialEq)]
pub struct Normalize {
    mean: Vec<f32>,
    std: Vec<f32>,
}

impl Normalize {
    /// Per-channel means and standard deviations (one each, or one per channel); an error
    /// unless they are finite, as many, and the deviations positive.
    pub fn new(mean: &[f32], std: &[f32]) -> Result<Normalize> {
        if mean.is_empty()
            || mean.len() != std.len()
            || !mean.iter().all(|m| m.is_finite())
            || !std.iter().all(|s| s.is_finite() && *s > 0.0)
        {
            return Err(Error::config(
                "Normalize",
                format!(
                    "needs as many finite means as positive stds, got mean {mean:?} std {std:?}"
                ),
            ));
        }
        Ok(Normalize {
            mean: mean.to_vec(),
            std: std.to_vec(),
        })
    }

    /// Pixels scaled to `[0, 1]` (mean 0, std 1).
    pub fn unit() -> Normalize {
        Normalize {
            mean: vec![0.0],
            std: vec![1.0],
        }
    }

    /// The `(mean, std)` of channel `c`.
    pub fn channel(&self, c: usize) -> (f32, f32) {
        let k = if self.mean.len() == 1 { 0 } else { c };
        (self.mean[k], self.std[k])
    }

    /// How many channels it has values for (1 serves any number).
    pub fn channels(&self) -> usize {
        self.mean.len()
    }

    /// Writes the normalised pixels of `item` (`c·h·w` values) into `out`, row by row with
    /// a stride of `out_width` values per row and `out_height` rows per channel, so that
    /// an image smaller than its batch lands in the top-left corner.
    pub fn write(&self, item: &Item, out: &mut [f32], out_height: usize, out_width: usize) {
        let (h, w) = (item.height, item.width);
        for c in 0..item.channels {
            for y in 0..h {
                let at = (c * h + y) * w;
                let dst = &mut out[(c * out_height + y) * out_width..][..w];
                self.row(item, c, at..at + w, |k, v| dst[k] = v);
            }
        }
    }

    /// Appends the normalised pixels of `item` (`c·h·w` values, planar) to `out`.
    pub fn extend(&self, item: &Item, out: &mut Vec<f32>) {
        let plane = item.height * item.width;
        out.reserve(item.channels * plane);
        for c in 0..item.channels {
            let (mean, std) = self.channel(c);
            let range = c * plane..(c + 1) * plane;
            match &item.pixels {
                Pixels::Bytes(b) => {
                    out.extend(b[range].iter().map(|&v| (v as f32 / 255.0 - mean) / std))
                }
                Pixels::Floats(f) => out.extend(f[range].iter().map(|&v| (v / 255.0 - mean) / std)),
            }
        }
    }

    /// Calls `put(k, value)` for the normalised values `range` of channel `c` of `item`.
    fn row(
        &self,
        item: &Item,
        c: usize,
        range: std::ops::Range<usize>,
        mut put: impl FnMut(usize, f32),
    ) {
        let (mean, std) = self.channel(c);
        match &item.pixels {
            Pixels::Bytes(b) => {
                for (k, &v) in b[range].iter().enumerate() {
                    put(k, (v as f32 / 255.0 - mean) / std);
                }
            }
            Pixels::Floats(f) => {
                for (k, &v) in f[range].iter().enumerate() {
                    put(k, (v / 255.0 - mean) / std);
                }
            }
        }
    }
}

/// Transforms applied in order, then [`Normalize`].
#[derive(Clone, Debug)]
pub struct Pipeline {
    steps: Vec<Arc<dyn Transform>>,
    normalize: Normalize,
}

impl Pipeline {
    /// No transform yet, ending in `normalize`.
    pub fn new(normalize: Normalize) -> Pipeline {
        Pipeline {
            steps: Vec::new(),
            normalize,
        }
    }

    /// The pipeline with `step` appended; an error when its parameters cannot work.
    pub fn then(self, step: impl Transform + 'static) -> Result<Pipeline> {
        self.then_shared(Arc::new(step))
    }

    /// The pipeline with a shared `step` appended (see [`Pipeline::then`]).
    pub fn then_shared(mut self, step: Arc<dyn Transform>) -> Result<Pipeline> {
        step.check()?;
        self.steps.push(step);
        Ok(self)
    }

    /// MNIST's pipeline, that of the first loader: the LeCun distortion onto a canvas padded
    /// by `pad` when `augment` is given, else the padding alone; then `(v/255 − mean)/std`.
    pub fn digits(pad: usize, augment: Option<Augment>, mean: f32, std: f32) -> Result<Pipeline> {
        Pipeline::new(Normalize::new(&[mean], &[std])?).then_distort_or_pad(augment, pad)
    }

    /// These transforms, then the LeCun distortion onto a canvas padded by `pad` when
    /// `augment` is given, else the padding alone (nothing when `pad` is 0).
    pub fn then_distort_or_pad(self, augment: Option<Augment>, pad: usize) -> Result<Pipeline> {
        match augment {
            Some(augment) => self.then(Distort { augment, pad }),
            None if pad > 0 => self.then(Pad { pad }),
            None => Ok(self),
        }
    }

    /// The transforms, in order.
    pub fn steps(&self) -> &[Arc<dyn Transform>] {
        &self.steps
    }

    /// The final normalisation.
    pub fn normalize(&self) -> &Normalize {
        &self.normalize
    }

    /// Runs the transforms on `item`.
    pub fn apply(&self, mut item: Item, rng: &mut Rng) -> Result<Item> {
        for step in &self.steps {
            item = step.apply(item, rng)?;
        }
        if self.normalize.channels() != 1 && self.normalize.channels() != item.channels {
            return Err(Error::config(
                "Normalize",
                format!(
                    "has values for {} channels but the image has {}",
                    self.normalize.channels(),
                    item.channels
                ),
            ));
        }
        Ok(item)
    }

    /// The output `(height, width)` for inputs of `input`, when the transforms fix it.
    pub fn output_size(&self, input: Option<(usize, usize)>) -> Option<(usize, usize)> {
        self.steps.iter().fold(input, |s, t| t.output_size(s))
    }
}

/// Converts to `channels` channels (1 or 3) as PIL's `convert("L")`/`convert("RGB")`:
/// torchvision's ImageFolder reads every file as RGB.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ToChannels(pub usize);

impl Transform for ToChannels {
    fn apply(&self, mut item: Item, _rng: &mut Rng) -> Result<Item> {
        if item.channels == self.0 {
            return Ok(item);
        }
        let bytes = std::mem::take(item.bytes());
        let image = Image::new(item.channels, item.height, item.width, bytes)?;
        let converted = match (image.channels, self.0) {
            // PIL's L24 rounding: (19595 R + 38470 G + 7471 B + 2¹⁵) >> 16.
            (3, 1) => {
                let (r, g, b) = (image.plane(0), image.plane(1), image.plane(2));
                let data = (0..r.len()).map(|i| luma(r[i], g[i], b[i])).collect();
                Image::new(1, image.height, image.width, data)?
            }
            _ => image.with_channels(self.0)?,
        };
        item.channels = converted.channels;
        item.pixels = Pixels::Bytes(converted.data);
        Ok(item)
    }

    fn check(&self) -> Result<()> {
        if matches!(self.0, 1 | 3) {
            Ok(())
        } else {
            Err(Error::config(
                "ToChannels",
                format!("{} channels: 1 or 3", self.0),
            ))
        }
    }
}

/// PIL's grey level of an RGB pixel.
pub(crate) fn luma(r: u8, g: u8, b: u8) -> u8 {
    ((r as u32 * 19595 + g as u32 * 38470 + b as u32 * 7471 + 0x8000) >> 16) as u8
}

/// A uniform draw in `[0, 1)` with 53 random bits.
pub(crate) fn unit(rng: &mut Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A uniform draw in `[low, high)`.
pub(crate) fn uniform(rng: &mut Rng, low: f64, high: f64) -> f64 {
    low + (high - low) * unit(rng)
}

/// The value a pixel added by a transform takes in a mask.
pub(crate) const MASK_FILL: u8 = IGNORE_INDEX;
