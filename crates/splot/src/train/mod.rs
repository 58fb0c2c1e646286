//! The training loop: MNIST batches through a network, an optimiser step per batch, test
//! accuracy after every epoch, metrics in `metrics.csv`, and the last and the best checkpoint
//! (`last.safetensors`, `best.safetensors`) in the run directory, each written atomically.
//!
//! A run is a function of its config and its seed alone: shuffles, distortions and dropout
//! masks are derived from (seed, epoch, batch), so a run resumed from any checkpoint gives
//! the same numbers as one that was never interrupted (on the same number of threads).
//! A NaN or infinite loss stops the run with an error and leaves the last good checkpoint.

pub mod checkpoint;
pub mod config;
pub mod metrics;

pub use checkpoint::{read_checkpoint, save_checkpoint, Checkpoint, Progress};
pub use config::{OptimizerKind, TrainConfig, LECUN_DISTORTIONS};
pub use metrics::{read_metrics, write_metrics, EpochMetrics, CSV_HEADER};

use crate::data::loader::{Loader, LoaderConfig};
use crate::data::mnist::{Mnist, MNIST_MEAN, MNIST_STD};
use crate::data::ImageDataset;
use crate::error::{Error, Result};
use crate::nn::{self, Mode, Module};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

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
        /// Running training accuracy of the epoch.
        accuracy: f64,
        /// Images per second so far in the epoch.
        images_per_second: f64,
    },
    /// An epoch finished and was evaluated.
    EpochEnd(&'a EpochMetrics),
}

/// How a run ended.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// All epochs done.
    Finished {
        /// Best test accuracy over the epochs.
        best_accuracy: f64,
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

/// Test-set results: loss, accuracy and the confusion matrix `[true][predicted]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// Mean cross-entropy.
    pub loss: f64,
    /// Fraction classified correctly.
    pub accuracy: f64,
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

/// The loader settings for MNIST as LeNet-5 wants it: normalised, padded to 32×32.
pub fn mnist_loader(
    data: ImageDataset,
    batch_size: usize,
    train: Option<&TrainConfig>,
) -> Result<Loader> {
    Loader::new(
        data,
        LoaderConfig {
            batch_size,
            shuffle: train.is_some(),
            seed: train.map_or(0, |c| c.seed),
            mean: MNIST_MEAN,
            std: MNIST_STD,
            pad: 2,
            augment: train.filter(|c| c.augment).map(|_| LECUN_DISTORTIONS),
            drop_last: false,
            ..Default::default()
        },
    )
}

/// Evaluates `net` on `data` in evaluation mode, without recording gradients.
pub fn evaluate(net: &dyn Module, data: &ImageDataset, classes: usize) -> Result<Evaluation> {
    let loader = mnist_loader(data.clone(), 500, None)?;
    let mut confusion = vec![vec![0usize; classes]; classes];
    let mut loss_sum = 0.0f64;
    let _no_grad = crate::NoGradGuard::new();
    for batch in loader.epoch(0) {
        let batch = batch?;
        let labels = batch.labels()?;
        let logits = net.forward(&batch.images, Mode::Eval)?;
        loss_sum +=
            logits.cross_entropy(labels, &Default::default())?.item()? as f64 * labels.len() as f64;
        for (&p, &t) in logits.argmax(1)?.iter().zip(labels) {
            confusion[t][p] += 1;
        }
    }
    let n = data.len().max(1) as f64;
    let correct: usize = (0..classes).map(|c| confusion[c][c]).sum();
    Ok(Evaluation {
        loss: loss_sum / n,
        accuracy: correct as f64 / n,
        confusion,
    })
}

/// The seed of the dropout masks of one training step.
fn step_seed(seed: u64, epoch: usize, batch: usize) -> u64 {
    seed ^ ((epoch as u64) << 32 | batch as u64).wrapping_mul(0xD1B5_4A32_D192_ED03)
}

/// Paths of a run directory's files.
pub struct RunFiles {
    /// The latest state (end of the last epoch, or where it was interrupted).
    pub last: PathBuf,
    /// The state after the epoch with the best test accuracy.
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

/// Trains as `config` says on `data`, writing into `dir`; continues from `resume` if given.
/// Checks `stop` before every step: when set, saves `last.safetensors` and returns
/// [`Outcome::Interrupted`].
pub fn train(
    config: &TrainConfig,
    data: &Mnist,
    dir: &Path,
    resume: Option<Checkpoint>,
    stop: &AtomicBool,
    on_event: &mut dyn FnMut(Event),
) -> Result<Outcome> {
    config.validate()?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let files = RunFiles::new(dir);
    let (net, _) = crate::models::build(&config.model, config.dropout, config.seed)?;
    let params = nn::parameters(&net);
    let mut optimizer = config.build_optimizer(params.clone())?;
    let mut progress = Progress::default();
    let mut history = Vec::new();
    if let Some(ck) = resume {
        crate::io::safetensors::copy_into_module(&files.last, &ck.model, &net)?;
        optimizer.load_state(&ck.optimizer)?;
        progress = ck.progress;
        history = read_metrics(&files.metrics)?;
        history.retain(|m| m.epoch <= progress.epoch);
    }
    let limit = |d: &ImageDataset, n: Option<usize>| d.subset(0..n.unwrap_or(d.len()).min(d.len()));
    let train_set = limit(&data.train, config.limit_train);
    let test_set = limit(&data.test, config.limit_test);
    let loader = mnist_loader(train_set, config.batch_size, Some(config))?;
    let mut last = history.last().cloned();
    for epoch in progress.epoch..config.epochs {
        let lr = config.lr_at(epoch);
        optimizer.set_learning_rate(lr);
        let start_batch = progress.batch;
        on_event(Event::EpochStart {
            epoch: epoch + 1,
            batches: loader.len_batches(),
            done: start_batch,
        });
        let started = Instant::now();
        let mut images_this_session = 0usize;
        for (b, batch) in loader.epoch(epoch).enumerate().skip(start_batch) {
            if stop.load(Ordering::SeqCst) {
                save_checkpoint(&files.last, config, &progress, &net, optimizer.as_ref())?;
                return Ok(Outcome::Interrupted { epoch, batch: b });
            }
            let batch = batch?;
            let labels = batch.labels()?;
            nn::reseed(&net, step_seed(config.seed, epoch, b));
            let logits = net.forward(&batch.images, Mode::Train)?;
            let loss = logits.cross_entropy(labels, &Default::default())?;
            let loss_value = loss.item()?;
            if !loss_value.is_finite() {
                return Err(Error::Autograd(format!(
                    "the training loss became {loss_value} at epoch {} batch {}; stopped. The last good checkpoint is {}",
                    epoch + 1,
                    b + 1,
                    files.last.display()
                )));
            }
            let mut grads = loss.backward()?;
            if let Some(penalty) = &config.penalty {
                penalty.apply(&params, &mut grads)?;
            }
            optimizer.step(&grads)?;
            let n = labels.len();
            let correct = logits
                .argmax(1)?
                .iter()
                .zip(labels)
                .filter(|(p, t)| p == t)
                .count();
            progress.batch = b + 1;
            progress.loss_sum += loss_value as f64 * n as f64;
            progress.correct += correct;
            progress.seen += n;
            images_this_session += n;
            let secs = started.elapsed().as_secs_f64();
            on_event(Event::Step {
                loss: loss_value,
                accuracy: progress.correct as f64 / progress.seen.max(1) as f64,
                images_per_second: images_this_session as f64 / secs.max(1e-9),
            });
        }
        let seconds = started.elapsed().as_secs_f64();
        let eval = evaluate(&net, &test_set, 10)?;
        let metrics = EpochMetrics {
            epoch: epoch + 1,
            lr,
            train_loss: progress.loss_sum / progress.seen.max(1) as f64,
            train_accuracy: progress.correct as f64 / progress.seen.max(1) as f64,
            test_loss: eval.loss,
            test_accuracy: eval.accuracy,
            seconds,
            images_per_second: images_this_session as f64 / seconds.max(1e-9),
        };
        let improved = eval.accuracy > progress.best_accuracy || epoch == 0;
        progress = Progress {
            epoch: epoch + 1,
            batch: 0,
            loss_sum: 0.0,
            correct: 0,
            seen: 0,
            best_accuracy: progress.best_accuracy.max(eval.accuracy),
        };
        if improved {
            save_checkpoint(&files.best, config, &progress, &net, optimizer.as_ref())?;
        }
        save_checkpoint(&files.last, config, &progress, &net, optimizer.as_ref())?;
        history.push(metrics.clone());
        write_metrics(&files.metrics, &history)?;
        on_event(Event::EpochEnd(&metrics));
        last = Some(metrics);
    }
    Ok(Outcome::Finished {
        best_accuracy: progress.best_accuracy,
        last,
    })
}
