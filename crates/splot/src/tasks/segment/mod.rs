//! Semantic segmentation: a class for every pixel (scene labelling, the lecture's first
//! application).
//! - Data ([`SegmentData`]): any Pascal VOC directory (`train` and `val` splits), the
//!   digit scenes (11 classes) by default; mask values outside the classes are an error
//!   naming the file, 255 is the ignored border.
//! - Models ([`model`]): FCN-32s/16s/8s on VGG16 or a small backbone ([`fcn`]),
//!   torchvision's `fcn_resnet50`/`101` ([`fcn_resnet`]), Farabet's multi-scale network
//!   ([`multiscale`]), built by name.
//! - Loss: per-pixel cross-entropy ignoring 255, with optional class weights, plus the
//!   auxiliary head's weighted by `aux_weight` where the model has one. Metrics
//!   ([`metrics`]): pixel accuracy, mean class accuracy, mIoU and per-class IoU from one
//!   confusion matrix. Pictures ([`picture`]): palette masks and legend overlays.
//! - CLI: `splot segment train|eval|predict`.

pub mod fcn;
pub mod fcn_resnet;
pub mod metrics;
pub mod model;
pub mod multiscale;
pub mod picture;

pub use metrics::{ConfusionMatrix, SegmentScores};
pub use model::{build, heads, Heads, ModelSpec, Segmenter, NAMES};

use crate::data::loader::Loader;
use crate::data::transforms::{Normalize, Pipeline, RandomCrop, ToChannels};
use crate::data::{Batch, BatchTargets, Dataset, FileDataset, Mask, Subset, IGNORE_INDEX};
use crate::error::{Error, Result};
use crate::io::Metadata;
use crate::nn::{Mode, Module};
use crate::ops::loss::CrossEntropyConfig;
use crate::tensor::Tensor;
use crate::train::{read_checkpoint, Headline, StepLoss, Task, TrainConfig};
use std::path::Path;
use std::sync::Arc;

/// Settings of a segmenter beyond the run's [`TrainConfig`].
#[derive(Clone, Debug, PartialEq)]
pub struct SegmentOptions {
    /// One of [`NAMES`].
    pub model: String,
    /// Class names, background first (from the data).
    pub class_names: Vec<String>,
    /// Input channels.
    pub channels: usize,
    /// Train the auxiliary head too (`fcn_resnet*`).
    pub aux: bool,
    /// Weight of the auxiliary loss (torchvision's reference: 0.5).
    pub aux_weight: f32,
    /// One loss weight per class, or `None` for equal weights.
    pub class_weights: Option<Vec<f32>>,
    /// Training images are cropped (padded first where smaller) to `crop × crop` at random
    /// positions; `None` keeps them whole (all of one size, as the digit scenes).
    pub crop: Option<usize>,
}

impl SegmentOptions {
    /// Options for `model` over `classes` with `channels`-channel inputs: no auxiliary
    /// head, weight 0.5 if one is asked, equal class weights, whole images.
    pub fn new(model: &str, class_names: Vec<String>, channels: usize) -> SegmentOptions {
        SegmentOptions {
            model: model.to_string(),
            class_names,
            channels,
            aux: false,
            aux_weight: 0.5,
            class_weights: None,
            crop: None,
        }
    }

    fn spec(&self, dropout: f32, seed: u64) -> ModelSpec {
        ModelSpec {
            name: self.model.clone(),
            classes: self.class_names.len(),
            channels: self.channels,
            aux: self.aux,
            dropout,
            seed,
        }
    }
}

/// The input channels network `name` takes for data of `data_channels` channels: 3 for
/// the ImageNet backbones (grey images are repeated), the data's own for the others.
pub fn model_channels(name: &str, data_channels: usize) -> usize {
    if name.ends_with("-small") || name == "multiscale" {
        data_channels
    } else {
        3
    }
}

/// A segmentation data set: training and validation splits with their class names.
#[derive(Clone)]
pub struct SegmentData {
    /// The training split.
    pub train: Arc<FileDataset>,
    /// The validation split.
    pub val: Arc<FileDataset>,
    /// Class names, background first.
    pub classes: Vec<String>,
    /// Channels of the images (of the first training image).
    pub channels: usize,
    /// Where it came from, in words.
    pub description: String,
}

impl SegmentData {
    /// A VOC directory's `train` and `val` splits (see [`crate::data::voc_segmentation`]).
    pub fn open(dir: &Path) -> Result<SegmentData> {
        let train = crate::data::voc_segmentation(dir, "train")?;
        let val = crate::data::voc_segmentation(dir, "val")?;
        let first = &train.entries[0].image;
        let channels = crate::data::image::read_image(first)?.channels;
        Ok(SegmentData {
            classes: train.classes.clone(),
            train: Arc::new(train),
            val: Arc::new(val),
            channels,
            description: format!("VOC segmentation ({})", dir.display()),
        })
    }

    /// The digit scenes in `dir`, written there first from the repository's MNIST when
    /// absent. Returns the data and whether it was written now.
    pub fn scenes(
        dir: &Path,
        config: &crate::data::scenes::ScenesConfig,
    ) -> Result<(SegmentData, bool)> {
        let made = !dir.join("ImageSets/Segmentation/train.txt").is_file();
        if made {
            let mnist = crate::data::Mnist::locate()?;
            crate::data::scenes::write_scenes(dir, &mnist, config)?;
        }
        let mut data = SegmentData::open(dir)?;
        data.description = format!("digit scenes ({})", dir.display());
        Ok((data, made))
    }
}

/// The segmentation task: a network, its loss and metrics.
pub struct Segment {
    model: Box<dyn Segmenter>,
    options: SegmentOptions,
    loss_cfg: CrossEntropyConfig,
}

impl Segment {
    /// A new network as `options` and `config` (seed, dropout) say. Errors: those of
    /// [`build`], class weights that are not one positive number per class.
    pub fn new(config: &TrainConfig, options: &SegmentOptions) -> Result<Segment> {
        let model = build(&options.spec(config.dropout, config.seed))?;
        Segment::with_model(model, options)
    }

    fn with_model(model: Box<dyn Segmenter>, options: &SegmentOptions) -> Result<Segment> {
        if let Some(w) = &options.class_weights {
            if w.len() != options.class_names.len() || w.iter().any(|v| !v.is_finite() || *v < 0.0)
            {
                return Err(Error::config(
                    "segment",
                    format!(
                        "{} class weights for {} classes: give one non-negative number per class",
                        w.len(),
                        options.class_names.len()
                    ),
                ));
            }
        }
        let loss_cfg = CrossEntropyConfig {
            class_weights: options.class_weights.clone(),
            ignore_index: Some(IGNORE_INDEX as usize),
            ..Default::default()
        };
        Ok(Segment {
            model,
            options: options.clone(),
            loss_cfg,
        })
    }

    /// The network.
    pub fn segmenter(&self) -> &dyn Segmenter {
        self.model.as_ref()
    }

    /// The options.
    pub fn options(&self) -> &SegmentOptions {
        &self.options
    }

    /// An error unless `data`'s classes are the network's: a network trained for other
    /// classes (or another number of them) cannot score this data.
    pub fn check_classes(&self, data: &SegmentData) -> Result<()> {
        let k = self.model.classes();
        if data.classes.len() != k {
            return Err(Error::config(
                "segment",
                format!(
                    "the network scores {k} classes but {} has {} ({})",
                    data.description,
                    data.classes.len(),
                    data.classes.join(", ")
                ),
            ));
        }
        Ok(())
    }

    /// The batch's loss in `mode`: cross-entropy of the main head plus `aux_weight` times
    /// the auxiliary head's.
    fn batch_loss(&self, batch: &Batch, mode: Mode) -> Result<(Tensor, Tensor)> {
        let targets = mask_targets(batch)?;
        let h = heads(self.model.as_ref(), &batch.images, mode)?;
        let mut loss = h.out.cross_entropy(&targets, &self.loss_cfg)?;
        if let (Some(aux), true) = (&h.aux, self.options.aux) {
            let a = aux.cross_entropy(&targets, &self.loss_cfg)?;
            loss = loss.add(&a.scale(self.options.aux_weight))?;
        }
        Ok((loss, h.out))
    }

    /// The confusion matrix and mean loss of the network over `loader`.
    pub fn confusion(&self, loader: &Loader) -> Result<(ConfusionMatrix, f64)> {
        let _g = crate::NoGradGuard::new();
        let mut m = ConfusionMatrix::new(self.model.classes());
        let (mut loss, mut n) = (0.0f64, 0usize);
        for batch in loader.epoch(0) {
            let batch = batch?;
            let (l, out) = self.batch_loss(&batch, Mode::Eval)?;
            let l = l.item()? as f64;
            if l.is_finite() {
                loss += l * batch.len() as f64;
                n += batch.len();
            }
            let pred = out.argmax(1)?;
            for (k, mask) in masks(&batch)?.iter().enumerate() {
                let px = mask.height * mask.width;
                m.update(&mask.data, &pred[k * px..(k + 1) * px])?;
            }
        }
        Ok((m, loss / n.max(1) as f64))
    }
}

/// The batch's masks; an error when its targets are something else.
fn masks(batch: &Batch) -> Result<&[Mask]> {
    match &batch.targets {
        BatchTargets::Masks(m) => Ok(m),
        t => Err(Error::config(
            "segment",
            format!("the batch's targets are not masks but {}", t.kind_name()),
        )),
    }
}

/// The batch's masks as one class index per pixel, `[n, h, w]` row-major; an error unless
/// each mask is the size of the batch's images.
pub fn mask_targets(batch: &Batch) -> Result<Vec<usize>> {
    let (h, w) = (batch.images.dim(2), batch.images.dim(3));
    let mut t = Vec::with_capacity(batch.len() * h * w);
    for (k, m) in masks(batch)?.iter().enumerate() {
        if (m.height, m.width) != (h, w) {
            return Err(Error::shape(
                "segment",
                format!(
                    "mask {} of the batch is {}×{} but the images are {w}×{h}",
                    k, m.width, m.height
                ),
            ));
        }
        t.extend(m.data.iter().map(|&v| v as usize));
    }
    Ok(t)
}

/// The predicted class of every pixel of `images` (`[n, c, h, w]`), one mask per image.
pub fn predict(model: &dyn Segmenter, images: &Tensor) -> Result<Vec<Mask>> {
    let out = crate::no_grad(|| heads(model, images, Mode::Eval))?.out;
    let (n, h, w) = (out.dim(0), out.dim(2), out.dim(3));
    let pred = out.argmax(1)?;
    (0..n)
        .map(|k| {
            Mask::new(
                h,
                w,
                pred[k * h * w..(k + 1) * h * w]
                    .iter()
                    .map(|&c| c as u8)
                    .collect(),
            )
        })
        .collect()
}

impl Task for Segment {
    fn model(&self) -> &dyn Module {
        self.model.as_ref()
    }

    fn loss(&self, batch: &Batch) -> Result<StepLoss> {
        Ok(StepLoss {
            loss: self.batch_loss(batch, Mode::Train)?.0,
            stats: Vec::new(),
        })
    }

    fn evaluate(&self, loader: &Loader) -> Result<Vec<(String, f64)>> {
        let (m, loss) = self.confusion(loader)?;
        let s = m.scores();
        let mut out = vec![
            ("loss".to_string(), loss),
            ("pixel_accuracy".to_string(), s.pixel_accuracy),
            ("mean_class_accuracy".to_string(), s.mean_class_accuracy),
            ("miou".to_string(), s.mean_iou),
        ];
        for (name, iou) in self.options.class_names.iter().zip(&s.iou) {
            out.push((format!("iou_{}", metric_name(name)), *iou));
        }
        Ok(out)
    }

    fn headline(&self) -> Headline {
        Headline {
            name: "miou",
            higher_is_better: true,
        }
    }

    fn metadata(&self) -> Metadata {
        let o = &self.options;
        let weights = o.class_weights.as_ref().map_or(String::new(), |w| {
            w.iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(",")
        });
        [
            ("kind", "segment".to_string()),
            ("model", o.model.clone()),
            ("classes", o.class_names.join("\n")),
            ("channels", o.channels.to_string()),
            ("aux", o.aux.to_string()),
            ("aux_weight", o.aux_weight.to_string()),
            ("class_weights", weights),
            ("crop", o.crop.map_or(String::new(), |c| c.to_string())),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

/// A class name as a metric name: letters, digits and `_` (others become `_`).
fn metric_name(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// The images as the network takes them: converted to `channels`, scaled to `[−1, 1]`
/// (grey) or ImageNet-normalised (colour), cropped at random to `crop × crop` when
/// training with a crop.
pub fn pipeline(channels: usize, crop: Option<usize>) -> Result<Pipeline> {
    let normalize = if channels == 1 {
        Normalize::new(&[0.5], &[0.5])?
    } else {
        Normalize::new(
            &crate::data::image::IMAGENET_MEAN,
            &crate::data::image::IMAGENET_STD,
        )?
    };
    let p = Pipeline::new(normalize).then(ToChannels(channels))?;
    match crop {
        Some(c) => p.then(RandomCrop {
            height: c,
            width: c,
            padding: 0,
        }),
        None => Ok(p),
    }
}

/// A loader over `data` (its first `limit` images) for a network of `options`: shuffled
/// and cropped as `options.crop` says when `train` is given; otherwise whole images,
/// padded to the batch's largest (masks with 255).
pub fn loader(
    options: &SegmentOptions,
    data: Arc<dyn Dataset>,
    batch_size: usize,
    limit: Option<usize>,
    train: Option<&TrainConfig>,
) -> Result<Loader> {
    let data: Arc<dyn Dataset> = match limit {
        Some(n) if n < data.len() => Arc::new(Subset::new(data, (0..n).collect())?),
        _ => data,
    };
    let crop = train.and(options.crop);
    crate::tasks::classify::build_loader_with(
        data,
        pipeline(options.channels, crop)?,
        batch_size,
        train,
        train.is_none(),
    )
}

/// A trained segmenter read back from a checkpoint: the task (network with its weights,
/// options).
pub fn load_segmenter(path: &Path) -> Result<Segment> {
    let ck = read_checkpoint(path)?;
    let t = &ck.task;
    if t.get("kind").map(String::as_str) != Some("segment") {
        return Err(Error::format(
            path,
            format!(
                "not a segmentation checkpoint (task.kind = {:?})",
                t.get("kind")
            ),
        ));
    }
    let get = |k: &str| -> Result<&String> {
        t.get(k)
            .ok_or_else(|| Error::format(path, format!("the checkpoint lacks task.{k}")))
    };
    let bad = |k: &str| Error::format(path, format!("task.{k} is not valid"));
    let class_weights = match get("class_weights")?.as_str() {
        "" => None,
        s => Some(
            s.split(',')
                .map(|v| v.parse::<f32>().map_err(|_| bad("class_weights")))
                .collect::<Result<Vec<_>>>()?,
        ),
    };
    let options = SegmentOptions {
        model: get("model")?.clone(),
        class_names: get("classes")?.lines().map(String::from).collect(),
        channels: get("channels")?.parse().map_err(|_| bad("channels"))?,
        aux: get("aux")?.parse().map_err(|_| bad("aux"))?,
        aux_weight: get("aux_weight")?.parse().map_err(|_| bad("aux_weight"))?,
        class_weights,
        crop: match get("crop")?.as_str() {
            "" => None,
            s => Some(s.parse().map_err(|_| bad("crop"))?),
        },
    };
    let model = build(&options.spec(ck.config.dropout, ck.config.seed))?;
    crate::io::safetensors::copy_into_module(path, &ck.model, model.as_ref())?;
    Segment::with_model(model, &options)
}
