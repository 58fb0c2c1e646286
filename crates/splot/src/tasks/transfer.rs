//! Transfer learning: a classifier that starts from another network's weights.
//! - Source: a checkpoint of `splot train` (its model name and weights), or a zoo network
//!   with a safetensors file of its weights (torchvision names; [`Source`]).
//! - Model: the source network with a new head for the target's classes. The head is the
//!   layers from `head` to the end (default: the last layer with parameters), freshly
//!   initialised; every other tensor must come from the source.
//! - What trains: everything, or not what `--freeze` patterns and `--train-from LAYER`
//!   (every layer before it) freeze, with batch norm of frozen layers normalising with
//!   its running statistics and leaving them unchanged; the head can have its own
//!   learning rate; gradual unfreezing releases the frozen layers top first
//!   ([`crate::train::frozen_at`]). A linear probe ([`Probe`]) computes the features
//!   under the head once and trains only the head on them.
//! - Loss, metrics, checkpoints: classification's ([`Classify`]): a fine-tuned checkpoint
//!   is a classifier checkpoint like any other (`splot eval`, `predict`, `--resume`).
//! - CLI: `splot finetune`.

use super::classify::{feature_loader, Classify, ClassifyData, ClassifyOptions};
use crate::data::{Batch, Loader};
use crate::error::{Error, Result};
use crate::io::safetensors::{copy_into_module_with, LoadOptions};
use crate::io::{Metadata, NamedTensors};
use crate::nn::{self, Mode, Module, Sequential};
use crate::tensor::Tensor;
use crate::train::{
    layer_names, read_checkpoint, Headline, ParamGroup, StepLoss, Task, TrainConfig,
};
use std::path::PathBuf;

/// Where the pretrained weights come from.
#[derive(Clone, Debug)]
pub enum Source {
    /// A checkpoint of `splot train` (or of an earlier fine-tuning).
    Checkpoint(PathBuf),
    /// A zoo network (`resnet18`, `alexnet`, …) and a safetensors file of its weights.
    Weights {
        /// The zoo network's name.
        model: String,
        /// The weights, with torchvision's names.
        path: PathBuf,
        /// A prefix to strip from the file's names (`module.`, `backbone.body.`).
        strip_prefix: Option<String>,
    },
}

/// How to fine-tune, beyond the run's [`TrainConfig`] (whose `freeze`, `groups`, `lr` and
/// `weight_decay` apply as in any run).
#[derive(Clone, Debug, Default)]
pub struct FinetuneOptions {
    /// The first layer of the new head (a top-level layer; default: the last layer with
    /// parameters, e.g. `fc`, `output`, `classifier`).
    pub head: Option<String>,
    /// Freeze every layer before this one (`layer3`: the stem, `layer1` and `layer2`).
    pub train_from: Option<String>,
    /// The head's own learning rate (default: the run's).
    pub lr_head: Option<f32>,
    /// A linear probe: everything under the head frozen, its features computed once.
    pub probe: bool,
}

/// What [`prepare`] did, for the user.
#[derive(Clone, Debug, PartialEq)]
pub struct Prepared {
    /// The source network's name.
    pub model: String,
    /// The head's layers (reinitialised).
    pub head: Vec<String>,
    /// Tensors copied from the source.
    pub loaded: usize,
    /// Tensors of the source left out (the old head's).
    pub dropped: Vec<String>,
    /// Batch norm counters the source lacked, set to 0.
    pub filled: Vec<String>,
    /// The freeze patterns the run starts with.
    pub freeze: Vec<String>,
}

/// The source's network name and its tensors (model names).
fn read_source(source: &Source) -> Result<(String, NamedTensors, PathBuf)> {
    match source {
        Source::Checkpoint(path) => {
            let ck = read_checkpoint(path)?;
            Ok((ck.config.model, ck.model, path.clone()))
        }
        Source::Weights {
            model,
            path,
            strip_prefix,
        } => {
            let (tensors, _) = crate::io::load(path)?;
            let options = LoadOptions {
                strip_prefix: strip_prefix.clone(),
                ..Default::default()
            };
            let tensors = tensors
                .into_iter()
                .map(|(n, t)| (options.rename(&n), t))
                .collect();
            Ok((model.clone(), tensors, path.clone()))
        }
    }
}

/// The index of the head's first layer in `net`: `head` by name, or the last layer that
/// has parameters.
fn head_index(net: &Sequential, head: Option<&str>) -> Result<usize> {
    let names = layer_names(net);
    match head {
        Some(h) => net.position(h).ok_or_else(|| {
            Error::config(
                "finetune",
                format!(
                    "--head {h}: the network has no such layer; its layers are {}",
                    names.join(", ")
                ),
            )
        }),
        None => net
            .children()
            .iter()
            .rposition(|(_, m)| !nn::parameters(*m).is_empty())
            .ok_or_else(|| Error::config("finetune", "the network has no layer with parameters")),
    }
}

/// Sets `config` up for fine-tuning from `source` (its `model` becomes the source's, its
/// `freeze` and `groups` gain what `options` asks) and builds the classifier with the
/// source's weights under a new head for `classes`; the task is a [`Probe`] when
/// `options.probe`. The source must fit the network under the head exactly (an error
/// lists what does not).
pub fn prepare(
    config: &mut TrainConfig,
    classes: &ClassifyOptions,
    source: &Source,
    options: &FinetuneOptions,
    data: &ClassifyData,
) -> Result<(Box<dyn FinetuneTask>, Prepared)> {
    let (model, tensors, path) = read_source(source)?;
    config.model = model.clone();
    let classify = Classify::new(config, classes)?;
    let net = classify.net();
    let at = head_index(net, options.head.as_deref())?;
    let names = layer_names(net);
    let head: Vec<String> = names[at..].to_vec();
    let in_head = |name: &str| head.iter().any(|h| name.starts_with(&format!("{h}.")));
    let (dropped, kept): (Vec<_>, Vec<_>) = tensors.into_iter().partition(|(n, _)| in_head(n));
    let report = copy_into_module_with(&path, &kept, net, &LoadOptions::default().non_strict())?;
    let missing: Vec<&String> = report.missing.iter().filter(|n| !in_head(n)).collect();
    if !missing.is_empty() || !report.unexpected.is_empty() {
        return Err(Error::format(
            &path,
            format!(
                "does not fit {model} under the head {} (nothing is fine-tuned): {}{}",
                head.join(", "),
                if missing.is_empty() {
                    String::new()
                } else {
                    format!(
                        "missing from the file: {}; ",
                        missing
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                },
                if report.unexpected.is_empty() {
                    String::new()
                } else {
                    format!("not in the network: {}", report.unexpected.join(", "))
                }
            ),
        ));
    }
    // The layers among `layers` that have parameters (freezing and groups name only those).
    let with_parameters = |layers: &[String]| -> Vec<String> {
        net.children()
            .iter()
            .filter(|(n, m)| layers.contains(n) && !nn::parameters(*m).is_empty())
            .map(|(n, _)| n.clone())
            .collect()
    };
    let below = if options.probe {
        Some(at)
    } else {
        match &options.train_from {
            Some(layer) => Some(net.position(layer).ok_or_else(|| {
                Error::config(
                    "finetune",
                    format!(
                        "--train-from {layer}: the network has no such layer; its layers are {}",
                        names.join(", ")
                    ),
                )
            })?),
            None => None,
        }
    };
    if let Some(below) = below {
        let frozen: Vec<String> = with_parameters(&names[..below])
            .into_iter()
            .map(|l| format!("{l}.*"))
            .filter(|p| !config.freeze.contains(p))
            .collect();
        // Layer order, bottom first, so that gradual unfreezing releases the top first.
        config.freeze.splice(0..0, frozen);
    }
    if let Some(lr) = options.lr_head {
        let groups: Vec<ParamGroup> = with_parameters(&head)
            .into_iter()
            .map(|l| ParamGroup {
                pattern: format!("{l}.*"),
                lr,
                weight_decay: config.weight_decay,
            })
            .collect();
        config.groups.splice(0..0, groups);
    }
    crate::train::check_patterns(net, &config.freeze, "freeze")?;
    let prepared = Prepared {
        model,
        head,
        loaded: report.loaded.len(),
        dropped: dropped.into_iter().map(|(n, _)| n).collect(),
        filled: report.filled,
        freeze: config.freeze.clone(),
    };
    let task: Box<dyn FinetuneTask> = if options.probe {
        Box::new(Probe::new(classify, at, config, data)?)
    } else {
        Box::new(classify)
    };
    Ok((task, prepared))
}

/// A fine-tuning task: a [`Task`] that is a classifier underneath (`&dyn FinetuneTask`
/// coerces to the `&dyn Task` that [`crate::train::fit`] takes).
pub trait FinetuneTask: Task + Send + Sync {
    /// The classifier (network, classes, input).
    fn classify(&self) -> &Classify;
}

impl FinetuneTask for Classify {
    fn classify(&self) -> &Classify {
        self
    }
}

/// A linear probe: the network's layers under the head are frozen and run once over the
/// training images (in evaluation mode, without distortions) before training; each step
/// then runs only the head on the stored features. Evaluation runs the whole network, and
/// checkpoints hold the whole network, so the result is an ordinary classifier.
pub struct Probe {
    classify: Classify,
    head: usize,
    /// The features of training sample `i` (its position in the training split) at row `i`.
    features: Tensor,
}

impl Probe {
    /// The probe of `classify`'s network with the head starting at layer `head`, the
    /// features computed over the training split of `data` (its first `limit_train`).
    pub fn new(
        classify: Classify,
        head: usize,
        config: &TrainConfig,
        data: &ClassifyData,
    ) -> Result<Self> {
        let loader = feature_loader(config, &classify, data)?;
        let net = classify.net();
        let _no_grad = crate::NoGradGuard::new();
        let mut rows: Vec<Tensor> = Vec::new();
        for batch in loader.epoch(0) {
            let batch = batch?;
            let images = super::classify::match_channels(&batch.images, classify.input()[0])?;
            rows.push(net.forward_range(&images, 0..head, Mode::Eval)?);
        }
        let features = Tensor::concat(&rows.iter().collect::<Vec<_>>(), 0)?;
        Ok(Probe {
            classify,
            head,
            features,
        })
    }

    /// The stored features, one row per training image.
    pub fn features(&self) -> &Tensor {
        &self.features
    }
}

impl FinetuneTask for Probe {
    fn classify(&self) -> &Classify {
        &self.classify
    }
}

impl Task for Probe {
    fn model(&self) -> &dyn Module {
        self.classify.net()
    }
    fn train_stats(&self) -> Vec<&'static str> {
        self.classify.train_stats()
    }
    fn loss(&self, batch: &Batch) -> Result<StepLoss> {
        let x = self.features.index_select(0, &batch.indices)?;
        let net = self.classify.net();
        let logits = net.forward_range(&x, self.head..net.len(), Mode::Train)?;
        self.classify.loss_of_logits(&logits, batch.labels()?)
    }
    fn evaluate(&self, loader: &Loader) -> Result<Vec<(String, f64)>> {
        self.classify.evaluate(loader)
    }
    fn headline(&self) -> Headline {
        self.classify.headline()
    }
    fn metadata(&self) -> Metadata {
        self.classify.metadata()
    }
}

/// The source in words, for messages.
pub fn describe(source: &Source) -> String {
    match source {
        Source::Checkpoint(p) => p.display().to_string(),
        Source::Weights { model, path, .. } => format!("{model} ({})", path.display()),
    }
}
