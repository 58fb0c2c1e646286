//! Checkpoints: one safetensors file holding the model (`model.<name>`), the optimiser state
//! (`optim.<name>`), and as metadata the run's config (`config.*`), the task's own
//! settings (`task.*`, e.g. a classifier's classes) and how far it got (`progress.*`). Every random
//! stream of a run is derived from (seed, epoch, batch), so these numbers are its RNG state:
//! resuming from a checkpoint reproduces the uninterrupted run exactly (same thread count).
//! Files are written atomically: an interrupted write leaves the previous checkpoint intact.

use super::config::TrainConfig;
use crate::error::{Error, Result};
use crate::io::safetensors::{copy_into_module, load, save, state_dict};
use crate::io::Metadata;
use crate::nn::{Module, Sequential};
use crate::optim::Optimizer;
use crate::tensor::Tensor;
use std::path::Path;

const FORMAT: &str = "splot-checkpoint-1";

/// How far a run got.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Progress {
    /// Completed epochs.
    pub epoch: usize,
    /// Completed batches of the epoch in progress (0 at an epoch boundary).
    pub batch: usize,
    /// Sum of the training losses of those batches, weighted by batch size.
    pub loss_sum: f64,
    /// Sums of the task's training statistics over those batches' images, by name
    /// (classification: `accuracy`, the count of correct predictions).
    pub sums: Vec<(String, f64)>,
    /// Training images seen in those batches.
    pub seen: usize,
    /// Best value so far of the task's headline metric (none before the first epoch).
    pub best: Option<f64>,
}

/// A checkpoint read back.
pub struct Checkpoint {
    /// The run's config.
    pub config: TrainConfig,
    /// The task's settings (the `task.*` metadata entries, without the prefix).
    pub task: Metadata,
    /// How far it got.
    pub progress: Progress,
    /// The model's parameters and buffers, by `state_dict` name.
    pub model: Vec<(String, Tensor)>,
    /// The optimiser's state.
    pub optimizer: Vec<(String, Tensor)>,
}

/// Writes a checkpoint of `model` and `optimizer` at `progress` (atomically); `task`
/// holds the task's settings, stored as `task.<key>`.
pub fn save_checkpoint(
    path: &Path,
    config: &TrainConfig,
    task: &Metadata,
    progress: &Progress,
    model: &dyn Module,
    optimizer: &dyn Optimizer,
) -> Result<()> {
    let mut tensors: Vec<(String, Tensor)> = state_dict(model)
        .into_iter()
        .map(|(n, t)| (format!("model.{n}"), t))
        .collect();
    tensors.extend(
        optimizer
            .state()
            .into_iter()
            .map(|(n, t)| (format!("optim.{n}"), t)),
    );
    let mut meta = config.to_metadata();
    meta.extend(task.iter().map(|(k, v)| (format!("task.{k}"), v.clone())));
    meta.extend(
        progress
            .sums
            .iter()
            .map(|(k, v)| (format!("progress.sum.{k}"), v.to_string())),
    );
    let entries = [
        ("format", FORMAT.to_string()),
        ("progress.epoch", progress.epoch.to_string()),
        ("progress.batch", progress.batch.to_string()),
        ("progress.loss_sum", progress.loss_sum.to_string()),
        ("progress.seen", progress.seen.to_string()),
        (
            "progress.best",
            progress.best.map_or("none".into(), |b| b.to_string()),
        ),
        (
            "rng",
            "derived from config.seed, progress.epoch and progress.batch".to_string(),
        ),
    ];
    meta.extend(entries.into_iter().map(|(k, v)| (k.to_string(), v)));
    save(path, &tensors, &meta)
}

/// Reads a checkpoint written by [`save_checkpoint`].
pub fn read_checkpoint(path: &Path) -> Result<Checkpoint> {
    let (tensors, meta) = load(path)?;
    if meta.get("format").map(String::as_str) != Some(FORMAT) {
        return Err(Error::format(
            path,
            format!("not a splot checkpoint (no format = {FORMAT} in its metadata)"),
        ));
    }
    let field = |key: &str| -> Result<&String> {
        meta.get(key)
            .ok_or_else(|| Error::format(path, format!("checkpoint metadata lacks {key}")))
    };
    let number = |key: &str| -> Result<f64> {
        field(key)?
            .parse()
            .map_err(|_| Error::format(path, format!("checkpoint metadata {key} is not a number")))
    };
    let count = |key: &str| -> Result<usize> {
        field(key)?
            .parse()
            .map_err(|_| Error::format(path, format!("checkpoint metadata {key} is not a count")))
    };
    let mut sums = Vec::new();
    for key in meta.keys() {
        if let Some(name) = key.strip_prefix("progress.sum.") {
            sums.push((name.to_string(), number(key)?));
        }
    }
    // Checkpoints of the MNIST-only loop: `correct` and `best_accuracy`.
    if meta.contains_key("progress.correct") {
        sums.push(("accuracy".to_string(), number("progress.correct")?));
    }
    let best = match (
        meta.get("progress.best"),
        meta.get("progress.best_accuracy"),
    ) {
        (Some(b), _) if b == "none" => None,
        (Some(_), _) => Some(number("progress.best")?),
        (None, Some(_)) => Some(number("progress.best_accuracy")?),
        (None, None) => None,
    };
    let progress = Progress {
        epoch: count("progress.epoch")?,
        batch: count("progress.batch")?,
        loss_sum: number("progress.loss_sum")?,
        sums,
        seen: count("progress.seen")?,
        best,
    };
    let task = meta
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("task.")?.to_string(), v.clone())))
        .collect();
    let config =
        TrainConfig::from_metadata(&meta).map_err(|e| Error::format(path, e.to_string()))?;
    let (mut model, mut optimizer) = (Vec::new(), Vec::new());
    for (name, t) in tensors {
        if let Some(n) = name.strip_prefix("model.") {
            model.push((n.to_string(), t));
        } else if let Some(n) = name.strip_prefix("optim.") {
            optimizer.push((n.to_string(), t));
        } else {
            return Err(Error::format(
                path,
                format!("unexpected tensor '{name}' in a checkpoint"),
            ));
        }
    }
    Ok(Checkpoint {
        config,
        task,
        progress,
        model,
        optimizer,
    })
}

impl Checkpoint {
    /// The checkpoint's network with its weights, and the input shape it expects (a
    /// classifier's: see [`crate::tasks::classify::build_model`]).
    pub fn build_model(&self, path: &Path) -> Result<(Sequential, [usize; 3])> {
        let (net, input) = crate::tasks::classify::build_model(&self.config, &self.task)?;
        copy_into_module(path, &self.model, &net)?;
        Ok((net, input))
    }
}

/// Metadata keys of a checkpoint, for tools that only want to look.
pub fn checkpoint_metadata(path: &Path) -> Result<Metadata> {
    Ok(load(path)?.1)
}
