//! Style transfer (Gatys, Ecker, Bethge, CVPR 2016): an image optimised so that its deep
//! features match a content image's and its feature correlations a style image's.
//! - Data: two pictures (any size, grey or colour; the style is resized to the content's
//!   size); pixels in `[0, 1]`, normalised with ImageNet's mean and deviation inside.
//! - Model: VGG19's convolutional part with torchvision's names (`features.0.weight` …, so
//!   its converted weights load), max or average pooling ([`Vgg19Features`]). A layer
//!   `convA_B` means its output after the ReLU (the blob Gatys et al. read in Caffe).
//! - Loss: `α·content + β·style + γ·tv`: content = mean squared difference of the features
//!   at conv4_2; style = `Σ_l w_l · mean((G_l(x) − G_l(s))²)` over conv1_1 … conv5_1 with
//!   the Gram matrix `G = F·Fᵀ/(c·h·w)` of the `c × hw` features `F`; tv = the mean squared
//!   difference of neighbouring pixels, both directions summed ([`losses`]).
//! - Optimiser: L-BFGS (PyTorch's, [`crate::optim::Lbfgs`]) or Adam over the pixels, from
//!   the content image or noise; coarse-to-fine over scales; luminance-only colour
//!   preservation ([`stylize`]).
//! - CLI: `splot stylize CONTENT STYLE --out OUT.png`.

use crate::autograd::Gradients;
use crate::data::image::{IMAGENET_MEAN, IMAGENET_STD};
use crate::error::{Error, Result};
use crate::models::vgg;
use crate::nn::{Mode, Module, Sequential};
use crate::ops::resample::{InterpolateConfig, InterpolateMode};
use crate::optim::{Adam, Lbfgs, LineSearch, Optimizer};
use crate::tensor::{Rng, Tensor};

pub mod fast;

/// The layers of the style loss (Gatys et al.).
pub const STYLE_LAYERS: [&str; 5] = ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"];
/// The layer of the content loss (Gatys et al.).
pub const CONTENT_LAYER: &str = "conv4_2";

/// VGG19's convolutional part (torchvision's `features`), with the names of its layers.
pub struct Vgg19Features {
    features: Sequential,
    /// `conv1_1`, `relu1_1`, …, `pool1`, … per child of `features`.
    names: Vec<String>,
}

impl Vgg19Features {
    /// VGG19's features with weights initialised from `seed` (torchvision's init), max or
    /// average pooling; its weights need no gradient (a fixed loss network).
    pub fn new(average_pool: bool, seed: u64) -> Result<Self> {
        let mut rng = Rng::seed(seed);
        let features = vgg::features(19, false, average_pool, &mut rng)?;
        let mut names = Vec::new();
        let (mut stage, mut conv) = (1, 0);
        for layer in vgg::config(19)? {
            match layer {
                vgg::Layer::Conv(_) => {
                    conv += 1;
                    names.push(format!("conv{stage}_{conv}"));
                    names.push(format!("relu{stage}_{conv}"));
                }
                vgg::Layer::MaxPool => {
                    names.push(format!("pool{stage}"));
                    stage += 1;
                    conv = 0;
                }
            }
        }
        // A fixed loss network: only the pixels (or the network in front of it) learn, so
        // backward computes no weight gradients here.
        for p in crate::nn::parameters(&features) {
            p.tensor.set_requires_grad(false);
        }
        Ok(Vgg19Features { features, names })
    }

    /// The index of the child whose output is layer `name`'s features: for `convA_B` the
    /// ReLU after it (`reluA_B` is the same), `poolA` the pool. An error lists the names.
    pub fn index_of(&self, name: &str) -> Result<usize> {
        let wanted = match name.strip_prefix("conv") {
            Some(rest) => format!("relu{rest}"),
            None => name.to_string(),
        };
        self.names.iter().position(|n| *n == wanted).ok_or_else(|| {
            Error::config(
                "stylize",
                format!(
                    "VGG19 has no layer '{name}'; its layers are {}",
                    self.names
                        .iter()
                        .filter(|n| !n.starts_with("relu"))
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })
    }

    /// The features at the children `taps` (indices) for `pixels` `[n, 3, h, w]` in
    /// `[0, 1]` (normalised here with ImageNet's mean and deviation), running the network
    /// only as far as the deepest tap.
    pub fn taps(&self, pixels: &Tensor, taps: &[usize]) -> Result<Vec<Tensor>> {
        // (x − mean)/std = x·(1/std) + (−mean/std)
        let inv = Tensor::from_vec(IMAGENET_STD.iter().map(|s| 1.0 / s).collect(), &[3])?;
        let shift = IMAGENET_MEAN
            .iter()
            .zip(&IMAGENET_STD)
            .map(|(m, s)| -m / s)
            .collect();
        let shift = Tensor::from_vec(shift, &[3])?;
        let mut h = pixels.channel_affine(&inv, &shift)?;
        let deepest = taps.iter().copied().max().unwrap_or(0);
        let mut out = vec![None; taps.len()];
        for i in 0..=deepest {
            h = self.features.forward_range(&h, i..i + 1, Mode::Eval)?;
            for (slot, &t) in out.iter_mut().zip(taps) {
                if t == i {
                    *slot = Some(h.clone());
                }
            }
        }
        Ok(out
            .into_iter()
            .map(|t| t.expect("every tap reached"))
            .collect())
    }
}

impl Module for Vgg19Features {
    fn kind(&self) -> &'static str {
        "VGG19 features"
    }
    fn forward(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        self.features.forward(x, mode)
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![("features".to_string(), &self.features as &dyn Module)]
    }
}

/// The Gram matrices of features `f` `[n, c, h, w]`: `G = F·Fᵀ / (c·h·w)` per image, with
/// `F` the `c × hw` matrix of its maps; `[n, c, c]` ([`Tensor::gram_matrix`]).
pub fn gram(f: &Tensor) -> Result<Tensor> {
    f.gram_matrix()
}

/// Total variation: the mean squared difference of vertically neighbouring pixels plus that
/// of horizontally neighbouring ones, of `x` `[n, c, h, w]` (h, w ≥ 2).
pub fn tv_loss(x: &Tensor) -> Result<Tensor> {
    let (h, w) = (x.dim(2), x.dim(3));
    if h < 2 || w < 2 {
        return Err(Error::shape(
            "tv_loss",
            format!("an image of {h}×{w} has no neighbouring pixels both ways"),
        ));
    }
    let dy = x.narrow(2, 1, h - 1)?.sub(&x.narrow(2, 0, h - 1)?)?;
    let dx = x.narrow(3, 1, w - 1)?.sub(&x.narrow(3, 0, w - 1)?)?;
    dy.square().mean_all().add(&dx.square().mean_all())
}

/// The weights of the loss.
#[derive(Clone, Debug, PartialEq)]
pub struct LossWeights {
    /// `α`, of the content loss.
    pub content: f32,
    /// `β`, of the style loss.
    pub style: f32,
    /// `γ`, of the total variation.
    pub tv: f32,
    /// `w_l`, of each style layer (default: 1/5 each).
    pub layers: Vec<f32>,
}

impl Default for LossWeights {
    /// `α = 1`, `β = 10⁶`, `γ = 10⁻³`, `w_l = 1/5`: with the Gram's normalisation by
    /// `c·h·w`, a β of this size balances content and style for photographs (as in
    /// PyTorch's tutorial); γ only smooths (noise has a TV of 1/3, a photograph ~10⁻²).
    fn default() -> Self {
        LossWeights {
            content: 1.0,
            style: 1e6,
            tv: 1e-3,
            layers: vec![0.2; STYLE_LAYERS.len()],
        }
    }
}

/// What the loss compares against: the content's features and the style's Gram matrices.
pub struct Targets {
    taps: Vec<usize>,
    content_at: usize,
    content: Tensor,
    grams: Vec<Tensor>,
}

impl Targets {
    /// The targets of `content` and `style` (`[1, 3, h, w]` in `[0, 1]`, any two sizes).
    pub fn new(net: &Vgg19Features, content: &Tensor, style: &Tensor) -> Result<Targets> {
        let grams = Targets::style_grams(net, style)?;
        Targets::for_content(net, content, &grams)
    }

    /// The Gram matrices of `style` `[1, 3, h, w]` at [`STYLE_LAYERS`].
    pub fn style_grams(net: &Vgg19Features, style: &Tensor) -> Result<Vec<Tensor>> {
        let taps: Vec<usize> = STYLE_LAYERS
            .iter()
            .map(|l| net.index_of(l))
            .collect::<Result<_>>()?;
        let _no_grad = crate::NoGradGuard::new();
        net.taps(style, &taps)?.iter().map(gram).collect()
    }

    /// The targets of the content images `content` `[n, 3, h, w]` (a batch: each image
    /// its own content target) and the style's `grams` (from [`Targets::style_grams`]).
    pub fn for_content(net: &Vgg19Features, content: &Tensor, grams: &[Tensor]) -> Result<Targets> {
        let mut taps: Vec<usize> = STYLE_LAYERS
            .iter()
            .map(|l| net.index_of(l))
            .collect::<Result<_>>()?;
        taps.push(net.index_of(CONTENT_LAYER)?);
        let content_at = taps.len() - 1;
        let _no_grad = crate::NoGradGuard::new();
        let c = net.taps(content, &taps[content_at..])?.swap_remove(0);
        Ok(Targets {
            taps,
            content_at,
            content: c,
            grams: grams.to_vec(),
        })
    }
}

/// The terms of the loss of one image.
pub struct Losses {
    /// Content loss (unweighted).
    pub content: Tensor,
    /// Style loss, `Σ w_l·E_l` (without β).
    pub style: Tensor,
    /// Total variation (unweighted).
    pub tv: Tensor,
    /// `α·content + β·style + γ·tv`.
    pub total: Tensor,
}

/// The loss terms of `x` `[1, 3, h, w]` against `targets`.
pub fn losses(
    net: &Vgg19Features,
    x: &Tensor,
    targets: &Targets,
    weights: &LossWeights,
) -> Result<Losses> {
    if weights.layers.len() != STYLE_LAYERS.len() {
        return Err(Error::config(
            "stylize",
            format!(
                "{} style layer weights for {} layers",
                weights.layers.len(),
                STYLE_LAYERS.len()
            ),
        ));
    }
    let f = net.taps(x, &targets.taps)?;
    let content = f[targets.content_at].mse_loss(&targets.content)?;
    let mut style: Option<Tensor> = None;
    for ((fl, g), &w) in f.iter().zip(&targets.grams).zip(&weights.layers) {
        let gx = gram(fl)?;
        // One style for a batch of images: its Gram matrix repeated for each.
        let g = if g.dim(0) == 1 && gx.dim(0) > 1 {
            Tensor::concat(&vec![g; gx.dim(0)], 0)?
        } else {
            g.clone()
        };
        let e = gx.mse_loss(&g)?.scale(w);
        style = Some(match style {
            None => e,
            Some(s) => s.add(&e)?,
        });
    }
    let style = style.expect("five style layers");
    let tv = tv_loss(x)?;
    let total = content
        .scale(weights.content)
        .add(&style.scale(weights.style))?
        .add(&tv.scale(weights.tv))?;
    Ok(Losses {
        content,
        style,
        tv,
        total,
    })
}

/// How the image is optimised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StyleOptimizer {
    /// PyTorch's L-BFGS with the strong-Wolfe line search, 20 iterations per step.
    Lbfgs,
    /// Adam, learning rate 0.02 (pixels in `[0, 1]`).
    Adam,
}

impl std::str::FromStr for StyleOptimizer {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "lbfgs" => Ok(StyleOptimizer::Lbfgs),
            "adam" => Ok(StyleOptimizer::Adam),
            _ => Err(Error::Parse {
                what: "optimizer",
                msg: format!("'{s}': expected lbfgs or adam"),
            }),
        }
    }
}

/// A stylisation run.
#[derive(Clone, Debug)]
pub struct StyleConfig {
    /// Evaluations of the loss (L-BFGS: iterations; Adam: steps), at the finest scale;
    /// coarser scales get the same.
    pub steps: usize,
    /// The loss weights.
    pub weights: LossWeights,
    /// The optimiser.
    pub optimizer: StyleOptimizer,
    /// Start from noise (seeded) instead of the content image.
    pub from_noise: bool,
    /// Seed of the noise.
    pub seed: u64,
    /// Scales, coarse to fine (each twice the previous side; 1: only the full size).
    pub scales: usize,
    /// Keep the content's colours: transfer the luminance only (YIQ).
    pub preserve_colour: bool,
}

impl Default for StyleConfig {
    fn default() -> Self {
        StyleConfig {
            steps: 300,
            weights: LossWeights::default(),
            optimizer: StyleOptimizer::Lbfgs,
            from_noise: false,
            seed: 0,
            scales: 1,
            preserve_colour: false,
        }
    }
}

/// What [`stylize`] reports as it goes.
pub struct StyleProgress<'a> {
    /// Scale number, from 1.
    pub scale: usize,
    /// Scales in all.
    pub scales: usize,
    /// Evaluations done at this scale.
    pub step: usize,
    /// Of how many.
    pub steps: usize,
    /// The current loss terms (weighted as in the total): content, style, tv, total.
    pub losses: [f32; 4],
    /// The current image `[1, 3, h, w]` in `[0, 1]` (clamped).
    pub image: &'a Tensor,
}

/// Resizes `x` `[1, c, h, w]` to `h × w` (bilinear, without gradient).
pub fn resize(x: &Tensor, h: usize, w: usize) -> Result<Tensor> {
    if x.dim(2) == h && x.dim(3) == w {
        return Ok(x.clone());
    }
    let cfg = InterpolateConfig {
        mode: InterpolateMode::Bilinear {
            align_corners: false,
        },
        ..InterpolateConfig::size(h, w)
    };
    crate::no_grad(|| x.interpolate(&cfg))
}

/// Paints `content` in the style of `style` (both `[1, 3, h, w]` in `[0, 1]`; the style
/// is resized to the content's size) with `net`; calls `on_progress` after every
/// evaluation. Returns the image in `[0, 1]`. A loss that becomes NaN or infinite stops
/// the run with an error; `on_progress` has by then seen the last good image.
pub fn stylize(
    net: &Vgg19Features,
    content: &Tensor,
    style: &Tensor,
    config: &StyleConfig,
    on_progress: &mut dyn FnMut(&StyleProgress) -> Result<()>,
) -> Result<Tensor> {
    let (h, w) = (content.dim(2), content.dim(3));
    // VGG19 halves the image four times before conv5_1: at least 16 pixels a side.
    let min_side = 16 << (config.scales.max(1) - 1);
    if h < min_side || w < min_side {
        return Err(Error::config(
            "stylize",
            format!(
                "the content image is {w}×{h}; VGG19's pooling needs at least {min_side}×{min_side}{}",
                if config.scales > 1 { format!(" for {} scales", config.scales) } else { String::new() }
            ),
        ));
    }
    if config.steps == 0 {
        return Err(Error::config("stylize", "steps must be at least 1"));
    }
    let style = resize(style, h, w)?;
    let mut image: Option<Tensor> = None;
    let scales = config.scales.max(1);
    for s in 0..scales {
        let shrink = 1usize << (scales - 1 - s);
        let (sh, sw) = (h / shrink, w / shrink);
        let c = resize(content, sh, sw)?;
        let st = resize(&style, sh, sw)?;
        let targets = Targets::new(net, &c, &st)?;
        let start = match &image {
            Some(prev) => resize(prev, sh, sw)?,
            None if config.from_noise => {
                let mut rng = Rng::seed(config.seed);
                Tensor::rand_uniform(&[1, 3, sh, sw], 0.0, 1.0, &mut rng)
            }
            None => c.clone(),
        };
        let x = Tensor::from_vec(start.to_vec(), start.shape())?.with_grad();
        optimise(net, &x, &targets, config, s + 1, scales, on_progress)?;
        image = Some(Tensor::from_vec(x.to_vec(), x.shape())?);
    }
    let out = clamp01(&image.expect("at least one scale"));
    if config.preserve_colour {
        return keep_colours(&out, content);
    }
    Ok(out)
}

/// The values of `x` clamped to `[0, 1]` (a new tensor without gradient).
fn clamp01(x: &Tensor) -> Tensor {
    let v = x.to_vec().iter().map(|v| v.clamp(0.0, 1.0)).collect();
    Tensor::from_vec(v, x.shape()).expect("same shape")
}

/// Optimises the pixels `x` at one scale.
fn optimise(
    net: &Vgg19Features,
    x: &Tensor,
    targets: &Targets,
    config: &StyleConfig,
    scale: usize,
    scales: usize,
    on_progress: &mut dyn FnMut(&StyleProgress) -> Result<()>,
) -> Result<()> {
    let weights = &config.weights;
    let mut step = 0usize;
    let mut evaluate = |step: &mut usize| -> Result<(f32, Gradients)> {
        let l = losses(net, x, targets, weights)?;
        let total = l.total.item()?;
        let terms = [
            l.content.item()? * weights.content,
            l.style.item()? * weights.style,
            l.tv.item()? * weights.tv,
            total,
        ];
        if !total.is_finite() {
            return Err(Error::Autograd(format!(
                "the style loss became {total} at scale {scale} step {}; stopped (the last \
                 good image is the one reported before)",
                *step + 1
            )));
        }
        let grads = l.total.backward()?;
        *step += 1;
        let image = clamp01(x);
        on_progress(&StyleProgress {
            scale,
            scales,
            step: *step,
            steps: config.steps,
            losses: terms,
            image: &image,
        })?;
        Ok((total, grads))
    };
    let params = vec![crate::nn::NamedTensor {
        name: "image".into(),
        tensor: x.clone(),
        kind: crate::nn::TensorKind::Parameter,
    }];
    match config.optimizer {
        StyleOptimizer::Lbfgs => {
            let mut opt = Lbfgs::new(params)
                .max_iter(config.steps)?
                .max_eval(config.steps * 5 / 4 + 1)?
                .tolerance_change(0.0)
                .tolerance_grad(0.0)
                .line_search(LineSearch::StrongWolfe);
            opt.step(|| evaluate(&mut step))?;
        }
        StyleOptimizer::Adam => {
            let mut opt = Adam::new(params).lr(0.02)?;
            while step < config.steps {
                let (_, grads) = evaluate(&mut step)?;
                opt.step(&grads)?;
            }
        }
    }
    Ok(())
}

/// `result`'s luminance with `content`'s chroma (YIQ), both `[1, 3, h, w]` in `[0, 1]`:
/// Gatys et al.'s colour preservation by luminance-only transfer.
pub fn keep_colours(result: &Tensor, content: &Tensor) -> Result<Tensor> {
    let (h, w) = (result.dim(2), result.dim(3));
    let content = resize(content, h, w)?;
    let (r, c) = (result.to_vec(), content.to_vec());
    let plane = h * w;
    let mut out = vec![0f32; 3 * plane];
    for p in 0..plane {
        let y = 0.299 * r[p] + 0.587 * r[plane + p] + 0.114 * r[2 * plane + p];
        let (cr, cg, cb) = (c[p], c[plane + p], c[2 * plane + p]);
        let i = 0.596 * cr - 0.274 * cg - 0.322 * cb;
        let q = 0.211 * cr - 0.523 * cg + 0.312 * cb;
        out[p] = (y + 0.956 * i + 0.621 * q).clamp(0.0, 1.0);
        out[plane + p] = (y - 0.272 * i - 0.647 * q).clamp(0.0, 1.0);
        out[2 * plane + p] = (y - 1.106 * i + 1.703 * q).clamp(0.0, 1.0);
    }
    Tensor::from_vec(out, &[1, 3, h, w])
}

/// A picture file as `[1, 3, h, w]` in `[0, 1]`, scaled (bilinear, antialiased) so that
/// its longer side is `longer_side` when given; and whether it was grey (its one channel
/// repeated into three).
pub fn read_pixels(path: &std::path::Path, longer_side: Option<usize>) -> Result<(Tensor, bool)> {
    let img = crate::data::image::read_image(path)?;
    if let Some(side) = longer_side {
        if side == 0 || side > 8192 {
            return Err(Error::config(
                "stylize",
                format!("--size {side} must be 1 to 8192 pixels"),
            ));
        }
    }
    use crate::data::transforms::{Item, Resize, Transform};
    let mut item = Item::new(img, crate::data::Target::None)?;
    if let Some(side) = longer_side {
        let longer = item.height.max(item.width);
        let (h, w) = (
            (item.height * side / longer).max(1),
            (item.width * side / longer).max(1),
        );
        item = Resize::exact(h, w).apply(item, &mut Rng::seed(0))?;
    }
    let (channels, height, width) = (item.channels, item.height, item.width);
    let img = crate::data::Image::new(channels, height, width, item.bytes().clone())?;
    let grey = img.channels == 1;
    let plane = img.height * img.width;
    let values: Vec<f32> = (0..3)
        .flat_map(|c| {
            let src = if grey { 0 } else { c };
            img.data[src * plane..(src + 1) * plane]
                .iter()
                .map(|&v| v as f32 / 255.0)
                .collect::<Vec<_>>()
        })
        .collect();
    Ok((
        Tensor::from_vec(values, &[1, 3, img.height, img.width])?,
        grey,
    ))
}

/// `x` `[1, 3, h, w]` in `[0, 1]` as an RGB picture.
pub fn to_rgb(x: &Tensor) -> Result<image::RgbImage> {
    if x.ndim() != 4 || x.dim(0) != 1 || x.dim(1) != 3 {
        return Err(Error::shape(
            "to_rgb",
            format!("expected [1, 3, h, w], got {:?}", x.shape()),
        ));
    }
    let (h, w) = (x.dim(2), x.dim(3));
    let v = x.to_vec();
    Ok(image::RgbImage::from_fn(w as u32, h as u32, |c, r| {
        let at = |k: usize| {
            (v[(k * h + r as usize) * w + c as usize].clamp(0.0, 1.0) * 255.0).round() as u8
        };
        image::Rgb([at(0), at(1), at(2)])
    }))
}

/// Content, style and result side by side, each scaled to the result's height, 8 white
/// pixels apart.
pub fn side_by_side(content: &Tensor, style: &Tensor, result: &Tensor) -> Result<image::RgbImage> {
    beside(&[content, style, result])
}

/// Pictures `[1, 3, h, w]` side by side, each scaled to the last one's height, 8 white
/// pixels apart.
pub fn beside(pictures: &[&Tensor]) -> Result<image::RgbImage> {
    let Some(last) = pictures.last() else {
        return Err(Error::config("beside", "no picture"));
    };
    let h = last.dim(2);
    let parts = pictures
        .iter()
        .map(|x| {
            let w = (x.dim(3) * h / x.dim(2)).max(1);
            to_rgb(&resize(x, h, w)?)
        })
        .collect::<Result<Vec<_>>>()?;
    let gap = 8u32;
    let width = parts.iter().map(|p| p.width()).sum::<u32>() + gap * (parts.len() as u32 - 1);
    let mut out = image::RgbImage::from_pixel(width, h as u32, image::Rgb([255, 255, 255]));
    let mut x0 = 0;
    for p in &parts {
        image::imageops::replace(&mut out, p, x0 as i64, 0);
        x0 += p.width() + gap;
    }
    Ok(out)
}
