//! The feed-forward stylisation network (Johnson, Alahi, Fei-Fei, ECCV 2016): an image
//! transformation network trained with the perceptual loss of [`super::losses`] on a
//! folder of content images, so that a new image is stylised in one pass.
//! - Data: every picture under a folder ([`crate::data::image_files`]), shorter side scaled
//!   to the crop size, a random crop (the centre one for evaluation), pixels in `[0, 1]`.
//! - Model: [`transformer_net`], PyTorch's `fast_neural_style` TransformerNet: 9×9, then two
//!   stride-2 3×3 convolutions, five residual blocks, two ×2 nearest upsamplings each with a
//!   3×3 convolution, a 9×9 convolution to RGB; reflection padding, instance norm with
//!   affine parameters, ReLU.
//! - Loss: `α·content(y, x) + β·style(y, s) + γ·tv(y)` over VGG19, as Gatys et al.'s.
//!   Metric: the same loss on the evaluation images (lower is better).
//! - CLI: `splot stylize train`, `splot stylize apply`.

use super::{losses, LossWeights, Targets, Vgg19Features};
use crate::data::transforms::{CenterCrop, Normalize, Pipeline, RandomCrop, Resize, ToChannels};
use crate::data::{Batch, Dataset, Loader};
use crate::error::{Error, Result};
use crate::io::Metadata;
use crate::nn::{Activation, Conv2d, InstanceNorm2d, Mode, Module, Residual, Sequential, Upsample};
use crate::ops::padding::PaddingMode;
use crate::ops::resample::InterpolateConfig;
use crate::tensor::{Rng, Tensor};
use crate::train::{Headline, StepLoss, Task, TrainConfig};
use crate::Conv2dConfig;
use std::sync::Arc;

/// The name of the network in checkpoints (`config.model`).
pub const MODEL: &str = "transformer-net";

/// A `k × k` convolution with reflection padding `k/2` and stride `stride`.
fn conv(c_in: usize, c_out: usize, k: usize, stride: usize, rng: &mut Rng) -> Result<Conv2d> {
    let cfg = Conv2dConfig::new()
        .stride(stride)
        .padding(k / 2)
        .padding_mode(PaddingMode::Reflect);
    Conv2d::new(c_in, c_out, [k, k], cfg, rng)
}

/// Convolution, instance norm (affine), ReLU.
fn block(c_in: usize, c_out: usize, k: usize, stride: usize, rng: &mut Rng) -> Result<Sequential> {
    Ok(Sequential::new()
        .push_named("conv", conv(c_in, c_out, k, stride, rng)?)
        .push_named("norm", InstanceNorm2d::new(c_out)?.affine())
        .push_named("relu", Activation::ReLU))
}

/// Johnson et al.'s image transformation network (see the module docs), initialised from
/// `rng`: input `[n, 3, h, w]` in `[0, 1]`, output `[n, 3, h', w']` with `h'`, `w'` the
/// input's rounded up to a multiple of 4 (the two stride-2 convolutions and the two
/// upsamplings), unclamped.
pub fn transformer_net(rng: &mut Rng) -> Result<Sequential> {
    let mut net = Sequential::new()
        .push_named("down1", block(3, 32, 9, 1, rng)?)
        .push_named("down2", block(32, 64, 3, 2, rng)?)
        .push_named("down3", block(64, 128, 3, 2, rng)?);
    for r in 1..=5 {
        let body = Sequential::new()
            .push_named("conv1", conv(128, 128, 3, 1, rng)?)
            .push_named("norm1", InstanceNorm2d::new(128)?.affine())
            .push_named("relu", Activation::ReLU)
            .push_named("conv2", conv(128, 128, 3, 1, rng)?)
            .push_named("norm2", InstanceNorm2d::new(128)?.affine());
        net = net.push_named(&format!("res{r}"), Residual::identity(body));
    }
    Ok(net
        .push_named("up1", Upsample(InterpolateConfig::scale(2.0)))
        .push_named("up1_conv", block(128, 64, 3, 1, rng)?)
        .push_named("up2", Upsample(InterpolateConfig::scale(2.0)))
        .push_named("up2_conv", block(64, 32, 3, 1, rng)?)
        .push_named("out", conv(32, 3, 9, 1, rng)?))
}

/// Settings of the feed-forward training beyond the run's [`TrainConfig`].
#[derive(Clone, Debug)]
pub struct FastStyleOptions {
    /// The style picture `[1, 3, h, w]` in `[0, 1]`.
    pub style: Tensor,
    /// Where it came from (stored in the checkpoint).
    pub style_name: String,
    /// The loss weights.
    pub weights: LossWeights,
    /// Side of the square training crops.
    pub crop: usize,
}

/// The feed-forward stylisation task for the one training loop.
pub struct FastStyle {
    net: Sequential,
    vgg: Vgg19Features,
    grams: Vec<Tensor>,
    options: FastStyleOptions,
}

impl FastStyle {
    /// The task of `options`, the network initialised from `config.seed`, over `vgg`.
    pub fn new(
        config: &TrainConfig,
        vgg: Vgg19Features,
        options: FastStyleOptions,
    ) -> Result<Self> {
        if options.crop < 16 {
            return Err(Error::config(
                "stylize train",
                format!(
                    "crops of {0}×{0}: VGG19's pooling needs at least 16×16",
                    options.crop
                ),
            ));
        }
        let net = transformer_net(&mut Rng::seed(config.seed))?;
        let grams = Targets::style_grams(&vgg, &options.style)?;
        Ok(FastStyle {
            net,
            vgg,
            grams,
            options,
        })
    }

    /// The transformation network.
    pub fn net(&self) -> &Sequential {
        &self.net
    }

    /// The loss terms of the batch `x` in `[0, 1]` (content, style, tv, total).
    fn batch_losses(&self, x: &Tensor, mode: Mode) -> Result<super::Losses> {
        let y = self.net.forward(x, mode)?;
        let y = if y.shape() == x.shape() {
            y
        } else {
            y.narrow(2, 0, x.dim(2))?.narrow(3, 0, x.dim(3))?
        };
        let targets = Targets::for_content(&self.vgg, x, &self.grams)?;
        losses(&self.vgg, &y, &targets, &self.options.weights)
    }

    /// The loaders of a folder of pictures: random crops for training, centre crops of the
    /// first `val` pictures for evaluation.
    pub fn loaders(
        &self,
        config: &TrainConfig,
        data: Arc<dyn Dataset>,
        val: usize,
    ) -> Result<(Loader, Loader)> {
        let crop = self.options.crop;
        let pipeline = |train: bool| -> Result<Pipeline> {
            let p = Pipeline::new(Normalize::new(&[0.0; 3], &[255.0; 3])?)
                .then(ToChannels(3))?
                .then(Resize::shorter(crop))?;
            if train {
                p.then(RandomCrop {
                    height: crop,
                    width: crop,
                    padding: 0,
                })
            } else {
                p.then(CenterCrop::new(crop, crop))
            }
        };
        let n = data.len().min(val.max(1));
        let val_set: Arc<dyn Dataset> = Arc::new(crate::data::Subset::new(
            Arc::clone(&data),
            (0..n).collect(),
        )?);
        Ok((
            crate::tasks::classify::build_loader(
                data,
                pipeline(true)?,
                config.batch_size,
                Some(config),
            )?,
            crate::tasks::classify::build_loader(
                val_set,
                pipeline(false)?,
                config.batch_size,
                None,
            )?,
        ))
    }
}

impl Task for FastStyle {
    fn model(&self) -> &dyn Module {
        &self.net
    }
    fn loss(&self, batch: &Batch) -> Result<StepLoss> {
        let l = self.batch_losses(&batch.images, Mode::Train)?;
        Ok(StepLoss {
            loss: l.total,
            stats: Vec::new(),
        })
    }
    fn evaluate(&self, loader: &Loader) -> Result<Vec<(String, f64)>> {
        let _no_grad = crate::NoGradGuard::new();
        let w = &self.options.weights;
        let (mut sums, mut n) = ([0f64; 4], 0usize);
        for batch in loader.epoch(0) {
            let batch = batch?;
            let l = self.batch_losses(&batch.images, Mode::Eval)?;
            let k = batch.len() as f64;
            for (s, v) in sums.iter_mut().zip([
                l.total.item()?,
                l.content.item()? * w.content,
                l.style.item()? * w.style,
                l.tv.item()? * w.tv,
            ]) {
                *s += v as f64 * k;
            }
            n += batch.len();
        }
        let n = n.max(1) as f64;
        Ok(["loss", "content", "style", "tv"]
            .iter()
            .zip(sums)
            .map(|(name, s)| (name.to_string(), s / n))
            .collect())
    }
    fn headline(&self) -> Headline {
        Headline {
            name: "loss",
            higher_is_better: false,
        }
    }
    fn metadata(&self) -> Metadata {
        let o = &self.options;
        [
            ("kind", "stylize".to_string()),
            ("style", o.style_name.clone()),
            ("crop", o.crop.to_string()),
            ("content_weight", o.weights.content.to_string()),
            ("style_weight", o.weights.style.to_string()),
            ("tv_weight", o.weights.tv.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

/// Stylises `x` `[1, 3, h, w]` in `[0, 1]` with a trained transformation network in one
/// pass; the result is cropped to `h × w` and clamped to `[0, 1]`.
pub fn apply(net: &Sequential, x: &Tensor) -> Result<Tensor> {
    let y = crate::no_grad(|| net.forward(x, Mode::Eval))?;
    let y = y.narrow(2, 0, x.dim(2))?.narrow(3, 0, x.dim(3))?;
    let v = y.to_vec().iter().map(|v| v.clamp(0.0, 1.0)).collect();
    Tensor::from_vec(v, y.shape())
}
