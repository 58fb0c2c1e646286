//! Classification: one class per image.
//! - Data: ImageFolder (`DIR/train/<class>/*`, `DIR/val/` or `DIR/test/`), a CSV of
//!   `path,label` per split, or IDX files (MNIST's names, or UCI digits' `train-*`/`test-*`),
//!   opened by [`ClassifyData::open`].
//! - Model: any zoo network ([`crate::models::build_with_classes`]) with its head sized to
//!   the data's classes (or `num_classes`). IDX digits are normalised with MNIST's mean and
//!   deviation and padded to LeNet-5's 32×32 (grey feeds a colour network by repeating the
//!   plane); image files of any size and colour are converted to the network's channels,
//!   resized to its input and normalised (MNIST's values for grey networks, ImageNet's for
//!   colour). Every loader is built in one place, over [`crate::data::Loader::with_pipeline`].
//! - Loss: cross-entropy, with optional label smoothing. Metrics: loss, accuracy, top-5
//!   accuracy (with ≥ 5 classes); [`Evaluation`] adds accuracy per class and the confusion.
//! - CLI: `splot classify train|eval|predict` (and the shorthand `splot train|eval|predict`).

use crate::data::image::{IMAGENET_MEAN, IMAGENET_STD};
use crate::data::loader::{Loader, LoaderConfig};
use crate::data::mnist::{Mnist, UciDigits, MNIST_MEAN, MNIST_STD};
use crate::data::transforms::{Augment, Normalize, Pipeline, Resize, ToChannels};
use crate::data::{csv_list, image_folder, Batch, Dataset, ImageDataset, Subset};
use crate::error::{Error, Result};
use crate::io::Metadata;
use crate::models::{build_with_classes, LENET_NAMES};
use crate::nn::{Mode, Module, Sequential};
use crate::ops::loss::CrossEntropyConfig;
use crate::tensor::Tensor;
use crate::train::{Headline, StepLoss, Task, TrainConfig, LECUN_DISTORTIONS};
use std::path::Path;
use std::sync::Arc;

/// Settings of a classifier beyond the run's [`TrainConfig`].
#[derive(Clone, Debug, PartialEq)]
pub struct ClassifyOptions {
    /// The class names, index = class.
    pub class_names: Vec<String>,
    /// Outputs of the head (default: one per class name).
    pub num_classes: Option<usize>,
    /// Label smoothing `ε` of the cross-entropy (0: none).
    pub label_smoothing: f32,
}

impl ClassifyOptions {
    /// The ten digits `"0"` … `"9"`, no smoothing: MNIST's classifier.
    pub fn digits() -> Self {
        ClassifyOptions {
            class_names: (0..10).map(|d| d.to_string()).collect(),
            num_classes: None,
            label_smoothing: 0.0,
        }
    }
}

/// The classification task: a network, its classes, its loss.
pub struct Classify {
    net: Sequential,
    input: [usize; 3],
    model: String,
    classes: usize,
    options: ClassifyOptions,
    smoothing: CrossEntropyConfig,
}

impl Classify {
    /// The network `config.model` with a head of `options.num_classes` (default: one per
    /// class name) outputs, initialised from `config.seed`.
    pub fn new(config: &TrainConfig, options: &ClassifyOptions) -> Result<Self> {
        let named = options.class_names.len();
        let classes = options.num_classes.unwrap_or(named);
        if classes < named.max(1) {
            return Err(Error::config(
                "classify",
                format!("--num-classes {classes} is below the data's {named} classes"),
            ));
        }
        if !(0.0..=1.0).contains(&options.label_smoothing) {
            return Err(Error::config(
                "classify",
                format!(
                    "label smoothing {} must lie in [0, 1]",
                    options.label_smoothing
                ),
            ));
        }
        let (net, input) =
            build_with_classes(&config.model, config.dropout, Some(classes), config.seed)?;
        Ok(Classify {
            net,
            input,
            model: config.model.clone(),
            classes,
            options: options.clone(),
            smoothing: CrossEntropyConfig {
                label_smoothing: options.label_smoothing,
                ..Default::default()
            },
        })
    }

    /// The network.
    pub fn net(&self) -> &Sequential {
        &self.net
    }

    /// The input shape `[c, h, w]` the network was designed for.
    pub fn input(&self) -> [usize; 3] {
        self.input
    }

    /// Number of outputs of the head.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// The training loss of `logits` for `labels` (cross-entropy, with the task's label
    /// smoothing) and the count of correct predictions.
    pub fn loss_of_logits(&self, logits: &Tensor, labels: &[usize]) -> Result<StepLoss> {
        let loss = logits.cross_entropy(labels, &self.smoothing)?;
        let correct = logits
            .argmax(1)?
            .iter()
            .zip(labels)
            .filter(|(p, t)| p == t)
            .count();
        Ok(StepLoss {
            loss,
            stats: vec![correct as f64],
        })
    }
}

/// The images with as many channels as the network takes: grey `[n, 1, h, w]` is repeated
/// into 3 channels for a colour network; any other mismatch is an error.
pub fn match_channels(images: &Tensor, channels: usize) -> Result<Tensor> {
    match (images.dim(1), channels) {
        (a, b) if a == b => Ok(images.clone()),
        (1, 3) => Tensor::concat(&[images, images, images], 1),
        (a, b) => Err(Error::shape(
            "classify",
            format!("the images have {a} channels but the network takes {b}"),
        )),
    }
}

impl Task for Classify {
    fn model(&self) -> &dyn Module {
        &self.net
    }

    fn train_stats(&self) -> Vec<&'static str> {
        vec!["accuracy"]
    }

    fn loss(&self, batch: &Batch) -> Result<StepLoss> {
        let images = match_channels(&batch.images, self.input[0])?;
        let logits = self.net.forward(&images, Mode::Train)?;
        self.loss_of_logits(&logits, batch.labels()?)
    }

    fn evaluate(&self, loader: &Loader) -> Result<Vec<(String, f64)>> {
        let e = evaluate_loader(
            &self.net,
            self.input[0],
            loader,
            self.classes,
            &self.smoothing,
        )?;
        let mut out = vec![
            ("loss".to_string(), e.loss),
            ("accuracy".to_string(), e.accuracy),
        ];
        if let Some(top5) = e.top5 {
            out.push(("top5".to_string(), top5));
        }
        Ok(out)
    }

    fn headline(&self) -> Headline {
        Headline {
            name: "accuracy",
            higher_is_better: true,
        }
    }

    fn metadata(&self) -> Metadata {
        [
            ("kind", "classify".to_string()),
            ("model", self.model.clone()),
            ("classes", self.classes.to_string()),
            ("class_names", self.options.class_names.join("\n")),
            ("label_smoothing", self.options.label_smoothing.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

/// Rebuilds the network of a classification checkpoint from its run config and its
/// `task.*` settings (checkpoints from before the generic loop have none: 10 digits).
pub fn build_model(config: &TrainConfig, task: &Metadata) -> Result<(Sequential, [usize; 3])> {
    let classes = match task.get("classes") {
        Some(c) => Some(c.parse::<usize>().map_err(|_| Error::Parse {
            what: "checkpoint task",
            msg: format!("task.classes = '{c}' is not a count"),
        })?),
        None => None,
    };
    build_with_classes(&config.model, config.dropout, classes, config.seed)
}

/// The class names of a classification checkpoint's `task.*` settings (the digits for one
/// from before the generic loop).
pub fn class_names(task: &Metadata) -> Vec<String> {
    match task.get("class_names") {
        Some(names) => names.split('\n').map(String::from).collect(),
        None => ClassifyOptions::digits().class_names,
    }
}

/// Test-set results: loss, accuracy, top-5 accuracy and the confusion matrix
/// `[true][predicted]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// Mean cross-entropy.
    pub loss: f64,
    /// Fraction classified correctly.
    pub accuracy: f64,
    /// Fraction whose true class is among the 5 highest scores (with ≥ 5 classes).
    pub top5: Option<f64>,
    /// Counts by true class (rows) and predicted class (columns).
    pub confusion: Vec<Vec<usize>>,
}

impl Evaluation {
    /// Accuracy per true class (NaN for a class with no images).
    pub fn per_class_accuracy(&self) -> Vec<f64> {
        self.confusion
            .iter()
            .enumerate()
            .map(|(c, row)| row[c] as f64 / row.iter().sum::<usize>() as f64)
            .collect()
    }
}

/// Evaluates `net` over the batches of `loader` in evaluation mode, without recording
/// gradients; grey images are repeated to the network's `channels`.
pub fn evaluate_loader(
    net: &dyn Module,
    channels: usize,
    loader: &Loader,
    classes: usize,
    loss_config: &CrossEntropyConfig,
) -> Result<Evaluation> {
    let mut confusion = vec![vec![0usize; classes]; classes];
    let (mut loss_sum, mut seen, mut top5) = (0.0f64, 0usize, 0usize);
    let _no_grad = crate::NoGradGuard::new();
    for batch in loader.epoch(0) {
        let batch = batch?;
        let labels = batch.labels()?;
        let images = match_channels(&batch.images, channels)?;
        let logits = net.forward(&images, Mode::Eval)?;
        loss_sum += logits.cross_entropy(labels, loss_config)?.item()? as f64 * labels.len() as f64;
        for (&p, &t) in logits.argmax(1)?.iter().zip(labels) {
            confusion[t][p] += 1;
        }
        let k = logits.dim(1);
        let scores = logits.to_vec();
        for (row, &t) in scores.chunks_exact(k).zip(labels) {
            if row.iter().filter(|&&v| v > row[t]).count() < 5 {
                top5 += 1;
            }
        }
        seen += labels.len();
    }
    let n = seen.max(1) as f64;
    let correct: usize = (0..classes).map(|c| confusion[c][c]).sum();
    Ok(Evaluation {
        loss: loss_sum / n,
        accuracy: correct as f64 / n,
        top5: (classes >= 5).then_some(top5 as f64 / n),
        confusion,
    })
}

/// Evaluates `net` on the MNIST-style digits `data` (as [`mnist_loader`] prepares them).
pub fn evaluate(net: &dyn Module, data: &ImageDataset, classes: usize) -> Result<Evaluation> {
    let loader = mnist_loader(data.clone(), 500, None)?;
    evaluate_loader(net, 1, &loader, classes, &CrossEntropyConfig::default())
}

/// The loader settings for MNIST as LeNet-5 wants it: normalised, padded to 32×32.
pub fn mnist_loader(
    data: ImageDataset,
    batch_size: usize,
    train: Option<&TrainConfig>,
) -> Result<Loader> {
    let pipeline = digits_pipeline(2, train)?;
    build_loader(Arc::new(data), pipeline, batch_size, train)
}

/// THE one place a task's loader is built (classification and captioning): `data` through
/// `pipeline`, in batches of `batch_size`, shuffled with the run's seed when `train` is
/// given.
pub(crate) fn build_loader(
    data: Arc<dyn Dataset>,
    pipeline: Pipeline,
    batch_size: usize,
    train: Option<&TrainConfig>,
) -> Result<Loader> {
    build_loader_with(data, pipeline, batch_size, train, false)
}

/// [`build_loader`], padding each batch's images to the largest when `pad_to_largest`
/// (images of several sizes, as segmentation evaluates them).
pub(crate) fn build_loader_with(
    data: Arc<dyn Dataset>,
    pipeline: Pipeline,
    batch_size: usize,
    train: Option<&TrainConfig>,
    pad_to_largest: bool,
) -> Result<Loader> {
    Loader::with_pipeline(
        data,
        pipeline,
        LoaderConfig {
            batch_size,
            shuffle: train.is_some(),
            seed: train.map_or(0, |c| c.seed),
            drop_last: false,
            skip_bad: train.is_some_and(|c| c.skip_bad),
            pad_to_largest,
            ..Default::default()
        },
    )
}

/// The LeCun distortions when `train` asks for `--augment`.
fn augment_of(train: Option<&TrainConfig>) -> Option<Augment> {
    train.filter(|c| c.augment).map(|_| LECUN_DISTORTIONS)
}

/// IDX digits as the first loader prepared them: normalised with MNIST's mean and
/// deviation, padded by `pad`, distorted (with `--augment`) when training.
fn digits_pipeline(pad: usize, train: Option<&TrainConfig>) -> Result<Pipeline> {
    Pipeline::digits(pad, augment_of(train), MNIST_MEAN, MNIST_STD)
}

/// Side of MNIST's digit box: its digits are scaled to fit 20×20 and centred in 28×28.
const MNIST_DIGIT_BOX: usize = 20;

/// How IDX digits of `rows × cols` reach network `model`: `(resize, pad)`. LeNet-5 takes
/// 32×32: digits of MNIST's 28×28 are padded by 2, as in the paper; digits smaller than
/// MNIST's 20×20 digit box (UCI's 8×8) are first scaled up to it (bilinear), then padded
/// by 6, so that they look like MNIST's to the network. Zoo networks pool adaptively and
/// take the digits as they are.
fn digits_plan(
    model: &str,
    input: [usize; 3],
    rows: usize,
    cols: usize,
) -> Result<(Option<usize>, usize)> {
    if !LENET_NAMES.contains(&model) {
        return Ok((None, 0));
    }
    let side = input[1];
    if rows == cols && rows < MNIST_DIGIT_BOX && MNIST_DIGIT_BOX + 12 == side {
        return Ok((Some(MNIST_DIGIT_BOX), 6));
    }
    Ok((None, pad_for(model, input, rows, cols)?))
}

/// [`digits_plan`]'s pipeline.
fn planned_digits_pipeline(
    (resize, pad): (Option<usize>, usize),
    train: Option<&TrainConfig>,
) -> Result<Pipeline> {
    let Some(side) = resize else {
        return digits_pipeline(pad, train);
    };
    Pipeline::new(Normalize::new(&[MNIST_MEAN], &[MNIST_STD])?)
        .then(Resize::exact(side, side))?
        .then_distort_or_pad(augment_of(train), pad)
}

/// Image files of any size and colour for network `model` (input `[c, h, w]`): converted to
/// `c` channels, resized to exactly `h × w` (LeNet-5: to `(h − 4) × (w − 4)`, then padded
/// by 2, as its 28×28 digits are), distorted with `--augment` when training, and
/// normalised with MNIST's mean and deviation for a grey network, ImageNet's for colour.
fn files_pipeline(model: &str, input: [usize; 3], train: Option<&TrainConfig>) -> Result<Pipeline> {
    let [c, h, w] = input;
    let normalize = if c == 1 {
        Normalize::new(&[MNIST_MEAN], &[MNIST_STD])?
    } else {
        Normalize::new(&IMAGENET_MEAN, &IMAGENET_STD)?
    };
    let pad = if LENET_NAMES.contains(&model) && h > 4 && w > 4 {
        2
    } else {
        0
    };
    Pipeline::new(normalize)
        .then(ToChannels(c))?
        .then(Resize::exact(h - 2 * pad, w - 2 * pad))?
        .then_distort_or_pad(augment_of(train), pad)
}

/// Padding that brings `rows × cols` images to LeNet-5's fixed 32×32 (0 for the zoo
/// networks, which pool adaptively); an error when they cannot be centred in it.
fn pad_for(model: &str, input: [usize; 3], rows: usize, cols: usize) -> Result<usize> {
    if !LENET_NAMES.contains(&model) {
        return Ok(0);
    }
    let side = input[1];
    if rows != cols || rows > side || (side - rows) % 2 != 0 {
        return Err(Error::config(
            "classify",
            format!(
                "{} takes {side}×{side} images; these are {rows}×{cols}, which cannot be padded to it evenly",
                model
            ),
        ));
    }
    Ok((side - rows) / 2)
}

/// The loader of network `model` (input `[c, h, w]`) over `split`, a split of `data`.
fn split_loader(
    model: &str,
    input: [usize; 3],
    data: &ClassifyData,
    split: Arc<dyn Dataset>,
    batch_size: usize,
    train: Option<&TrainConfig>,
) -> Result<Loader> {
    let pipeline = match data.layout {
        Layout::Digits { rows, cols } => {
            planned_digits_pipeline(digits_plan(model, input, rows, cols)?, train)?
        }
        Layout::Files => files_pipeline(model, input, train)?,
    };
    build_loader(split, pipeline, batch_size, train)
}

/// The loader of network `model` (input `[c, h, w]`) over the training split of `data`
/// (`train`) or its evaluation split, prepared as for evaluation (no distortions), in order.
pub fn ordered_loader(
    model: &str,
    input: [usize; 3],
    data: &ClassifyData,
    train: bool,
) -> Result<Loader> {
    let split = if train { &data.train } else { &data.val };
    split_loader(model, input, data, Arc::clone(split), 500, None)
}

/// The evaluation loader of network `model` (input `[c, h, w]`) over the evaluation split
/// of `data`, as training's evaluation builds it.
pub fn eval_loader(model: &str, input: [usize; 3], data: &ClassifyData) -> Result<Loader> {
    split_loader(model, input, data, Arc::clone(&data.val), 500, None)
}

/// The first `n` samples of `d` (all of them when `n` is `None` or not smaller).
fn limited(d: &Arc<dyn Dataset>, n: Option<usize>) -> Result<Arc<dyn Dataset>> {
    match n {
        Some(n) if n < d.len() => Ok(Arc::new(Subset::new(Arc::clone(d), (0..n).collect())?)),
        _ => Ok(Arc::clone(d)),
    }
}

/// The training samples of `config`: `per_class` of each class drawn by the seed (in
/// dataset order), then the first `limit_train`. A class with fewer than `per_class`
/// samples is an error naming it.
pub fn train_split(config: &TrainConfig, data: &ClassifyData) -> Result<Arc<dyn Dataset>> {
    let Some(k) = config.per_class else {
        return limited(&data.train, config.limit_train);
    };
    if k == 0 {
        return Err(Error::config("classify", "--per-class must be at least 1"));
    }
    let n = data.train.len();
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = crate::Rng::seed(config.seed ^ 0x5045_5243_4C41_5353);
    for i in (1..n).rev() {
        order.swap(i, rng.below(i + 1));
    }
    let mut taken = vec![0usize; data.classes.len()];
    let mut chosen = Vec::with_capacity(k * taken.len());
    for i in order {
        if let crate::data::Target::Class(c) = data.train.get(i)?.target {
            if c < taken.len() && taken[c] < k {
                taken[c] += 1;
                chosen.push(i);
            }
        }
    }
    if let Some(c) = taken.iter().position(|&t| t < k) {
        return Err(Error::config(
            "classify",
            format!(
                "--per-class {k}: class '{}' has only {} training images",
                data.classes[c], taken[c]
            ),
        ));
    }
    chosen.sort_unstable();
    let subset: Arc<dyn Dataset> = Arc::new(Subset::new(Arc::clone(&data.train), chosen)?);
    limited(&subset, config.limit_train)
}

/// The training and evaluation loaders of `config` for `task` over `data`: the training
/// split of [`train_split`], the first `limit_test` of the evaluation split.
pub fn idx_loaders(
    config: &TrainConfig,
    task: &Classify,
    data: &ClassifyData,
) -> Result<(Loader, Loader)> {
    let (model, input) = (task.model.as_str(), task.input);
    Ok((
        split_loader(
            model,
            input,
            data,
            train_split(config, data)?,
            config.batch_size,
            Some(config),
        )?,
        split_loader(
            model,
            input,
            data,
            limited(&data.val, config.limit_test)?,
            500,
            None,
        )?,
    ))
}

/// The training images of `config` (its first `limit_train`) prepared as for evaluation,
/// in order and without distortions: the positions of the training loader's batches
/// ([`crate::data::Batch::indices`]) index its samples (a linear probe's features).
pub fn feature_loader(
    config: &TrainConfig,
    task: &Classify,
    data: &ClassifyData,
) -> Result<Loader> {
    let train = train_split(config, data)?;
    split_loader(&task.model, task.input, data, train, 500, None)
}

/// How the images of a [`ClassifyData`] are prepared for a network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// IDX digits, grey and all `rows × cols`: normalised with MNIST's mean and deviation,
    /// padded to LeNet-5's input (zoo networks take them as they are).
    Digits {
        /// Height of every image.
        rows: usize,
        /// Width of every image.
        cols: usize,
    },
    /// Image files of any size and colour: converted to the network's channels and resized
    /// to its input.
    Files,
}

/// A classification data set: its training and evaluation splits and its class names.
#[derive(Clone)]
pub struct ClassifyData {
    /// The training split.
    pub train: Arc<dyn Dataset>,
    /// The evaluation split (`val/`, `test/`, `--val`, or IDX's test files).
    pub val: Arc<dyn Dataset>,
    /// How its images are prepared for a network.
    pub layout: Layout,
    /// Class names, index = class.
    pub classes: Vec<String>,
    /// Where it came from, in words.
    pub description: String,
}

impl std::fmt::Debug for ClassifyData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClassifyData")
            .field("train", &self.train.len())
            .field("val", &self.val.len())
            .field("layout", &self.layout)
            .field("classes", &self.classes)
            .field("description", &self.description)
            .finish()
    }
}

impl ClassifyData {
    /// IDX digits (one size, grey) with the ten digit classes; an error when the two
    /// splits' images differ in size.
    pub fn digits(
        train: ImageDataset,
        val: ImageDataset,
        description: impl Into<String>,
    ) -> Result<ClassifyData> {
        let (rows, cols) = (train.rows(), train.cols());
        if (val.rows(), val.cols()) != (rows, cols) {
            return Err(Error::shape(
                "classify",
                format!(
                    "the training digits are {cols}×{rows} but the evaluation digits {}×{}",
                    val.cols(),
                    val.rows()
                ),
            ));
        }
        Ok(ClassifyData {
            train: Arc::new(train),
            val: Arc::new(val),
            layout: Layout::Digits { rows, cols },
            classes: ClassifyOptions::digits().class_names,
            description: description.into(),
        })
    }

    /// Opens any classification layout: `None` is the repository's MNIST; a directory
    /// with `train/` is an ImageFolder pair (`val/`, else `test/`, unless `val` is given);
    /// a directory of IDX files is MNIST (`t10k-*` test files) or UCI digits (`test-*`);
    /// a `.csv` file is a `path,label` list, with `val` the evaluation list.
    pub fn open(data: Option<&Path>, val: Option<&Path>) -> Result<ClassifyData> {
        let Some(path) = data else {
            let dir = Mnist::locate()?;
            let m = Mnist::load(&dir)?;
            return ClassifyData::digits(m.train, m.test, format!("MNIST ({})", dir.display()));
        };
        let is_idx = |dir: &Path, stem: &str| {
            dir.join(format!("{stem}-images-idx3-ubyte.gz")).exists()
                || dir.join(format!("{stem}-images-idx3-ubyte")).exists()
        };
        let folder_split = |dir: &Path| -> Result<crate::data::FileDataset> {
            if dir
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
                && dir.is_file()
            {
                csv_list(dir)
            } else {
                image_folder(dir)
            }
        };
        let (train, val, what) = if path.is_dir() && path.join("train").is_dir() {
            let val_path = match val {
                Some(v) => v.to_path_buf(),
                None => ["val", "test"]
                    .iter()
                    .map(|s| path.join(s))
                    .find(|p| p.is_dir())
                    .ok_or_else(|| {
                        Error::format(path, "an ImageFolder data set needs val/ or test/ beside train/ (or --val DIR)")
                    })?,
            };
            (
                image_folder(&path.join("train"))?,
                folder_split(&val_path)?,
                "ImageFolder",
            )
        } else if path.is_dir() && is_idx(path, "t10k") {
            let m = Mnist::load(path)?;
            return ClassifyData::digits(m.train, m.test, format!("MNIST ({})", path.display()));
        } else if path.is_dir() && is_idx(path, "test") {
            let u = UciDigits::load(path)?;
            return ClassifyData::digits(
                u.train,
                u.test,
                format!("UCI digits ({})", path.display()),
            );
        } else if path.is_file() {
            let val = val.ok_or_else(|| {
                Error::format(
                    path,
                    "a CSV training list needs --val with the evaluation list",
                )
            })?;
            (csv_list(path)?, folder_split(val)?, "CSV")
        } else {
            return Err(Error::format(
                path,
                "not a classification data set: expected a directory with train/ and val/ (ImageFolder), a directory of IDX files (MNIST, UCI digits), or a CSV file of path,label with --val",
            ));
        };
        if val.classes != train.classes {
            return Err(Error::format(
                path,
                format!(
                    "the evaluation split's classes {:?} differ from the training split's {:?}",
                    val.classes, train.classes
                ),
            ));
        }
        Ok(ClassifyData {
            classes: train.classes.clone(),
            train: Arc::new(train),
            val: Arc::new(val),
            layout: Layout::Files,
            description: format!("{what} ({})", path.display()),
        })
    }
}
