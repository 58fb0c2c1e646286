//! The training loop, one for every task: [`fit`] takes a [`Task`] — the model, the loss of
//! a batch, the evaluation over a loader (named metrics, one of them the headline that
//! picks `best`) — and does the rest the same way for all of them: the optimiser with its
//! parameter groups and schedule, penalties, freezing by name, gradient clipping, progress
//! events, `metrics.csv` with the task's columns, and the last and the best checkpoint
//! (`last.safetensors`, `best.safetensors`) in the run directory, each written atomically.
//!
//! A run is a function of its config and its seed alone: shuffles, distortions and dropout
//! masks are derived from (seed, epoch, batch), so a run resumed from any checkpoint gives
//! the same numbers as one that was never interrupted (on the same number of threads).
//! A NaN or infinite loss stops the run with an error and leaves the last good checkpoint;
//! the `stop` flag (Ctrl-C) ends it cleanly after the current step, saving `last`.
//!
//! [`train`] is the classification of MNIST digits ([`crate::tasks::classify`]) through
//! this loop, as `splot train` runs it.

pub mod checkpoint;
pub mod config;
pub mod groups;
pub mod metrics;

pub use checkpoint::{read_checkpoint, save_checkpoint, Checkpoint, Progress};
pub use config::{OptimizerKind, TrainConfig, LECUN_DISTORTIONS};
pub use groups::{
    check_patterns, clip_grad_norm, freeze, frozen_at, glob_match, layer_names, set_frozen,
    GroupOptimizer, ParamGroup,
};
pub use metrics::{read_metrics, write_metrics, EpochMetrics};

pub use crate::tasks::classify::{evaluate, mnist_loader, Evaluation};

use crate::data::mnist::Mnist;
use crate::data::{Batch, Loader};
use crate::error::{Error, Result};
use crate::io::Metadata;
use crate::nn::{self, Module};
use crate::optim::Optimizer;
use crate::tensor::Tensor;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// The loss of one training batch, from [`Task::loss`].
pub struct StepLoss {
    /// The mean loss over the batch (a one-element tensor to call `backward` on).
    pub loss: Tensor,
    /// The task's training statistics of the batch, each a sum over its images, in the
    /// order of [`Task::train_stats`] (classification: the count of correct predictions);
    /// the epoch's value of each is its sum over the epoch divided by the images seen.
    pub stats: Vec<f64>,
}

/// The metric that picks the `best` checkpoint, and which way is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Headline {
    /// Its name among the metrics of [`Task::evaluate`] (`"accuracy"`).
    pub name: &'static str,
    /// Whether a higher value is better (accuracy) or a lower one (a loss, an error).
    pub higher_is_better: bool,
}

impl Headline {
    /// Whether `value` beats `best` (strictly).
    pub fn improves(&self, value: f64, best: f64) -> bool {
        if self.higher_is_better {
            value > best
        } else {
            value < best
        }
    }
}

/// What a task supplies to the loop; the loop knows nothing else about it.
pub trait Task {
    /// The model: a [`Module`], or a struct of Modules that reports them as its children
    /// (so its `state_dict` names are its parts' names). The loop saves and restores it,
    /// freezes by name in it, reseeds its dropout, and optimises its parameters.
    fn model(&self) -> &dyn Module;

    /// Names of the training statistics [`Task::loss`] returns beside the loss (written
    /// as `train_<name>` after `train_loss`).
    fn train_stats(&self) -> Vec<&'static str> {
        Vec::new()
    }

    /// The loss of a training batch (the model run in training mode) and its statistics.
    fn loss(&self, batch: &Batch) -> Result<StepLoss>;

    /// Evaluates the model over `loader` (in evaluation mode, without gradients): named
    /// metrics, always the same names in the same order (written as `test_<name>`).
    fn evaluate(&self, loader: &Loader) -> Result<Vec<(String, f64)>>;

    /// The metric that picks `best.safetensors`.
    fn headline(&self) -> Headline;

    /// The task's settings that a checkpoint must carry to rebuild the model (stored as
    /// `task.<key>`), e.g. a classifier's number of classes and class names.
    fn metadata(&self) -> Metadata {
        Metadata::new()
    }
}

/// What the loop reports as it goes (for progress bars).
pub enum Event<'a> {
    /// An epoch begins.
    EpochStart {
        /// Epoch number, from 1.
        epoch: usize,
        /// Batches in the epoch.
        batches: usize,
        /// Batches already done (when resuming mid-epoch).
        done: usize,
    },
    /// A training step finished.
    Step {
        /// The batch's mean loss.
        loss: f32,
        /// Running values of the task's training statistics in the epoch, by name.
        stats: &'a [(&'static str, f64)],
        /// Images per second so far in the epoch.
        images_per_second: f64,
    },
    /// An epoch's training batches left out samples that could not be read (the loader's
    /// `skip_bad`): each one's position, file and error.
    Skipped(&'a [crate::data::Skipped]),
    /// An epoch finished and was evaluated.
    EpochEnd(&'a EpochMetrics),
}

impl Event<'_> {
    /// The running value of training statistic `name` of a [`Event::Step`].
    pub fn stat(&self, name: &str) -> Option<f64> {
        match self {
            Event::Step { stats, .. } => stats.iter().find(|(n, _)| *n == name).map(|s| s.1),
            _ => None,
        }
    }
}

/// How a run ended.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// All epochs done.
    Finished {
        /// Best value of the task's headline metric over the epochs (test accuracy for
        /// classification).
        best: f64,
        /// The last epoch's metrics.
        last: Option<EpochMetrics>,
    },
    /// Stopped on request; `last.safetensors` holds the state to resume from.
    Interrupted {
        /// Completed epochs.
        epoch: usize,
        /// Completed batches of the epoch in progress.
        batch: usize,
    },
}

/// The seed of the dropout masks of one training step.
fn step_seed(seed: u64, epoch: usize, batch: usize) -> u64 {
    seed ^ ((epoch as u64) << 32 | batch as u64).wrapping_mul(0xD1B5_4A32_D192_ED03)
}

/// Paths of a run directory's files.
pub struct RunFiles {
    /// The latest state (end of the last epoch, or where it was interrupted).
    pub last: PathBuf,
    /// The state after the epoch with the best headline metric.
    pub best: PathBuf,
    /// One line per epoch.
    pub metrics: PathBuf,
}

impl RunFiles {
    /// The files of the run in `dir`.
    pub fn new(dir: &Path) -> Self {
        RunFiles {
            last: dir.join("last.safetensors"),
            best: dir.join("best.safetensors"),
            metrics: dir.join("metrics.csv"),
        }
    }
}

/// Trains the MNIST classifier `config` describes on `data` (see [`fit`]).
pub fn train(
    config: &TrainConfig,
    data: &Mnist,
    dir: &Path,
    resume: Option<Checkpoint>,
    stop: &AtomicBool,
    on_event: &mut dyn FnMut(Event),
) -> Result<Outcome> {
    use crate::tasks::classify::{idx_loaders, Classify, ClassifyData, ClassifyOptions};
    config.validate()?;
    let task = Classify::new(config, &ClassifyOptions::digits())?;
    let data = ClassifyData::digits(data.train.clone(), data.test.clone(), "MNIST")?;
    let (train_loader, test_loader) = idx_loaders(config, &task, &data)?;
    fit(
        &task,
        config,
        &train_loader,
        &test_loader,
        dir,
        resume,
        stop,
        on_event,
    )
}

/// The state of the epoch in progress, by statistic.
fn stat_sums(names: &[&'static str], progress: &Progress) -> Vec<f64> {
    names
        .iter()
        .map(|n| {
            progress
                .sums
                .iter()
                .find(|(k, _)| k == n)
                .map_or(0.0, |s| s.1)
        })
        .collect()
}

/// Trains `task` as `config` says, on the batches of `train`, evaluating on `eval` after
/// every epoch, writing into `dir`; continues from `resume` if given (a checkpoint of the
/// same run: its model and optimiser state are restored, its epochs in `metrics.csv` kept).
/// Checks `stop` before every step: when set, saves `last.safetensors` and returns
/// [`Outcome::Interrupted`].
#[allow(clippy::too_many_arguments)]
pub fn fit(
    task: &dyn Task,
    config: &TrainConfig,
    train: &Loader,
    eval: &Loader,
    dir: &Path,
    resume: Option<Checkpoint>,
    stop: &AtomicBool,
    on_event: &mut dyn FnMut(Event),
) -> Result<Outcome> {
    config.validate()?;
    // A data-parallel run: this rank's shard of the batches; rank 0 alone writes and reports.
    let dist = crate::dist::current();
    let ranks = dist.map_or(1, |(g, _)| g.size());
    let root = crate::dist::is_root();
    let sharded;
    let train = match dist {
        Some((group, _)) => {
            sharded = train.shard(group.rank(), ranks)?;
            &sharded
        }
        None => train,
    };
    let mut task_meta = task.metadata();
    if let Some((group, _)) = dist {
        crate::dist::check_same_config(group, &format!("{config:?}\n{task_meta:?}"))?;
        task_meta.insert("dist.ranks".into(), ranks.to_string());
    }
    let _sync_bn = dist
        .filter(|(_, options)| options.sync_batch_norm)
        .map(|(group, _)| crate::dist::SyncBatchNormGuard::new(group));
    let mut on_event = |event: Event| {
        if root {
            on_event(event)
        }
    };
    if root {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let files = RunFiles::new(dir);
    let net = task.model();
    // Under gradual unfreezing the optimiser holds every parameter that will ever train;
    // a frozen one gets no gradient, so no step touches it.
    check_patterns(net, &config.freeze, "freeze")?;
    set_frozen(
        net,
        frozen_at(&config.freeze, config.unfreeze_every, usize::MAX),
    );
    let mut optimizer = GroupOptimizer::new(config, net)?;
    set_frozen(net, &config.freeze);
    let params = nn::parameters(net);
    let trainable_now = || -> Vec<_> {
        params
            .iter()
            .filter(|p| p.tensor.requires_grad())
            .cloned()
            .collect()
    };
    let mut trainable = trainable_now();
    let headline = task.headline();
    let stat_names = task.train_stats();
    let mut progress = Progress::default();
    let mut history = Vec::new();
    if let Some(ck) = resume {
        let saved_ranks = ck.task.get("dist.ranks").map_or("1", |r| r.as_str());
        if saved_ranks != ranks.to_string() {
            return Err(Error::config(
                "resume",
                format!(
                    "{} was written by a run on {saved_ranks} rank(s); resume it with the same \
                     number of ranks, not {ranks}",
                    files.last.display()
                ),
            ));
        }
        crate::io::safetensors::copy_into_module(&files.last, &ck.model, net)?;
        optimizer.load_state(&ck.optimizer)?;
        progress = ck.progress;
        history = read_metrics(&files.metrics)?;
        history.retain(|m| m.epoch <= progress.epoch);
    }
    let mut sums = stat_sums(&stat_names, &progress);
    let save = |path: &Path, progress: &Progress, sums: &[f64], opt: &GroupOptimizer| {
        if !root {
            return Ok(());
        }
        let mut p = progress.clone();
        p.sums = stat_names
            .iter()
            .map(|n| n.to_string())
            .zip(sums.iter().copied())
            .collect();
        save_checkpoint(path, config, &task_meta, &p, net, opt)
    };
    let mut last = history.last().cloned();
    let mut stop_all = false;
    for epoch in progress.epoch..config.epochs {
        if config.unfreeze_every > 0 {
            set_frozen(net, frozen_at(&config.freeze, config.unfreeze_every, epoch));
            trainable = trainable_now();
        }
        let lr = config.lr_at(epoch);
        optimizer.set_learning_rates(|base| {
            config
                .schedule
                .clone()
                .with_total(config.epochs)
                .lr_at(base, epoch)
        });
        let start_batch = progress.batch;
        on_event(Event::EpochStart {
            epoch: epoch + 1,
            batches: train.len_batches(),
            done: start_batch,
        });
        let started = Instant::now();
        let mut images_this_session = 0usize;
        let mut batches = train.epoch(epoch);
        for (b, batch) in batches.by_ref().enumerate().skip(start_batch) {
            // Every rank stops at the same step: a distributed run stops when a rank's
            // request has travelled with the previous step's reduction.
            let stop_here = match dist {
                Some(_) => stop_all,
                None => stop.load(Ordering::SeqCst),
            };
            if stop_here {
                save(&files.last, &progress, &sums, &optimizer)?;
                return Ok(Outcome::Interrupted { epoch, batch: b });
            }
            let batch = batch?;
            nn::reseed(net, step_seed(config.seed, epoch, b));
            let mut step = task.loss(&batch)?;
            let mut loss_value = step.loss.item()?;
            let mut grads = step.loss.backward()?;
            // The images of the step over all ranks (equal shards: `ranks` times this one's).
            let mut n = batch.len();
            if let Some((group, _)) = dist {
                // The global batch's mean loss and summed statistics, the gradients averaged,
                // and whether any rank was asked to stop, in one round.
                let mut scalars = vec![loss_value as f64, stop.load(Ordering::SeqCst) as u8 as f64];
                scalars.extend(&step.stats);
                crate::dist::average_gradients(group, &trainable, &mut grads, &mut scalars)?;
                loss_value = (scalars[0] / ranks as f64) as f32;
                stop_all = scalars[1] > 0.0;
                step.stats = scalars[2..].to_vec();
                n *= ranks;
            }
            if !loss_value.is_finite() {
                return Err(Error::Autograd(format!(
                    "the training loss became {loss_value} at epoch {} batch {}; stopped. The last good checkpoint is {}",
                    epoch + 1,
                    b + 1,
                    files.last.display()
                )));
            }
            if let Some(penalty) = &config.penalty {
                penalty.apply(&params, &mut grads)?;
            }
            if let Some(max_norm) = config.clip_grad_norm {
                clip_grad_norm(&trainable, &mut grads, max_norm);
            }
            optimizer.step(&grads)?;
            progress.batch = b + 1;
            progress.loss_sum += loss_value as f64 * n as f64;
            for (s, v) in sums.iter_mut().zip(&step.stats) {
                *s += v;
            }
            progress.seen += n;
            images_this_session += n;
            let secs = started.elapsed().as_secs_f64();
            let seen = progress.seen.max(1) as f64;
            let running: Vec<(&'static str, f64)> = stat_names
                .iter()
                .zip(&sums)
                .map(|(n, s)| (*n, s / seen))
                .collect();
            on_event(Event::Step {
                loss: loss_value,
                stats: &running,
                images_per_second: images_this_session as f64 / secs.max(1e-9),
            });
        }
        if !batches.skipped().is_empty() {
            on_event(Event::Skipped(batches.skipped()));
        }
        drop(batches);
        let seconds = started.elapsed().as_secs_f64();
        let evaluation = task.evaluate(eval)?;
        let value = evaluation
            .iter()
            .find(|(n, _)| n == headline.name)
            .map(|m| m.1)
            .ok_or_else(|| {
                Error::config(
                    "train",
                    format!(
                        "the task's evaluation has no headline metric '{}'",
                        headline.name
                    ),
                )
            })?;
        let seen = progress.seen.max(1) as f64;
        let mut values = vec![("train_loss".to_string(), progress.loss_sum / seen)];
        values.extend(
            stat_names
                .iter()
                .zip(&sums)
                .map(|(n, s)| (format!("train_{n}"), s / seen)),
        );
        values.extend(evaluation.iter().map(|(n, v)| (format!("test_{n}"), *v)));
        let metrics = EpochMetrics {
            epoch: epoch + 1,
            lr,
            values,
            seconds,
            images_per_second: images_this_session as f64 / seconds.max(1e-9),
        };
        let improved = epoch == 0 || progress.best.is_none_or(|b| headline.improves(value, b));
        let best = match progress.best {
            Some(b) if !headline.improves(value, b) => b,
            _ => value,
        };
        progress = Progress {
            epoch: epoch + 1,
            batch: 0,
            loss_sum: 0.0,
            sums: Vec::new(),
            seen: 0,
            best: Some(best),
        };
        sums.iter_mut().for_each(|s| *s = 0.0);
        if improved {
            save(&files.best, &progress, &sums, &optimizer)?;
        }
        save(&files.last, &progress, &sums, &optimizer)?;
        history.push(metrics.clone());
        if root {
            write_metrics(&files.metrics, &history)?;
        }
        on_event(Event::EpochEnd(&metrics));
        last = Some(metrics);
    }
    Ok(Outcome::Finished {
        best: progress.best.unwrap_or(f64::NAN),
        last,
    })
}
