//! `splot train`: trains a network on MNIST with a progress bar per epoch, writing
//! `metrics.csv`, `last.safetensors` and `best.safetensors` into the run directory.

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use splot::data::Mnist;
use splot::optim::{Penalty, Schedule};
use splot::train::{read_checkpoint, train, Event, OptimizerKind, Outcome, RunFiles, TrainConfig};
use splot::{Error, Result};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(Args)]
pub struct TrainArgs {
    /// The network: lenet5 (the 1998 paper) or lenet5-relu (modern).
    #[arg(long, default_value = "lenet5")]
    model: String,
    /// Epochs in all (default 25; with --resume: extends the run to this many).
    #[arg(long)]
    epochs: Option<usize>,
    /// Images per batch.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// sgd, adam or adamw.
    #[arg(long, default_value = "sgd")]
    optimizer: OptimizerKind,
    /// Learning rate (default: 0.03 for SGD, 0.001 for Adam and AdamW).
    #[arg(long)]
    lr: Option<f32>,
    /// SGD momentum.
    #[arg(long, default_value_t = 0.9)]
    momentum: f32,
    /// Nesterov momentum (SGD).
    #[arg(long)]
    nesterov: bool,
    /// Weight decay of the optimiser (default: 5e-4 for SGD, 0 for Adam, 0.01 for AdamW,
    /// where it is decoupled).
    #[arg(long)]
    weight_decay: Option<f32>,
    /// Learning-rate schedule: constant, step:S:G, cosine, warmup:N+cosine…
    #[arg(long, default_value = "cosine")]
    schedule: Schedule,
    /// Penalty on the weights: l1:λ, l2:λ or elastic:λ1:λ2.
    #[arg(long)]
    penalty: Option<Penalty>,
    /// Distort the training images (shifts, rotations, scaling, as LeCun et al.).
    #[arg(long)]
    augment: bool,
    /// Dropout before the last layer (lenet5-relu).
    #[arg(long, default_value_t = 0.0)]
    dropout: f32,
    /// Seed of initialisation, shuffling, distortions and dropout.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Run directory (default: runs/MODEL).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Directory of the MNIST files (default: data/mnist).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Continue the run in this directory from its last checkpoint.
    #[arg(long, value_name = "RUN_DIR")]
    resume: Option<PathBuf>,
    /// Train on the first N training images only.
    #[arg(long)]
    limit_train: Option<usize>,
    /// Evaluate on the first N test images only.
    #[arg(long)]
    limit_test: Option<usize>,
}

fn config_from(args: &TrainArgs) -> TrainConfig {
    let defaults = TrainConfig::default();
    let lr = args.lr.unwrap_or(match args.optimizer {
        OptimizerKind::Sgd => defaults.lr,
        _ => 1e-3,
    });
    let weight_decay = args.weight_decay.unwrap_or(match args.optimizer {
        OptimizerKind::Sgd => defaults.weight_decay,
        OptimizerKind::Adam => 0.0,
        OptimizerKind::AdamW => 0.01,
    });
    TrainConfig {
        model: args.model.clone(),
        dropout: args.dropout,
        epochs: args.epochs.unwrap_or(defaults.epochs),
        batch_size: args.batch_size,
        optimizer: args.optimizer,
        lr,
        momentum: args.momentum,
        nesterov: args.nesterov,
        weight_decay,
        schedule: args.schedule.clone(),
        penalty: args.penalty,
        augment: args.augment,
        seed: args.seed,
        limit_train: args.limit_train,
        limit_test: args.limit_test,
    }
}

pub fn run(args: &TrainArgs) -> Result<()> {
    let (config, dir, resume) = match &args.resume {
        Some(dir) => {
            let ck = read_checkpoint(&RunFiles::new(dir).last)?;
            let mut config = ck.config.clone();
            if let Some(e) = args.epochs {
                config.epochs = e;
            }
            eprintln!(
                "resuming {} after epoch {} batch {}",
                dir.display(),
                ck.progress.epoch,
                ck.progress.batch
            );
            (config, dir.clone(), Some(ck))
        }
        None => {
            let config = config_from(args);
            let dir = args
                .out
                .clone()
                .unwrap_or_else(|| PathBuf::from("runs").join(&config.model));
            if RunFiles::new(&dir).last.exists() {
                return Err(Error::config(
                    "train",
                    format!("{} already holds a run; continue it with --resume {0}, or choose another --out", dir.display()),
                ));
            }
            (config, dir, None)
        }
    };
    let data_dir = match &args.data {
        Some(d) => d.clone(),
        None => Mnist::locate()?,
    };
    let data = Mnist::load(&data_dir)?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    // Ctrl-C: finish the current step, save, exit cleanly; a second Ctrl-C aborts.
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
    });
    eprintln!(
        "training {} on {} MNIST images for {} epochs ({} threads) into {}",
        config.model,
        config
            .limit_train
            .unwrap_or(data.train.len())
            .min(data.train.len()),
        config.epochs,
        rayon_threads(),
        dir.display()
    );
    let bar_style = ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ETA {eta}")
        .expect("valid template")
        .progress_chars("=> ");
    let mut bar: Option<ProgressBar> = None;
    let epochs = config.epochs;
    let mut on_event = |event: Event| match event {
        Event::EpochStart {
            epoch,
            batches,
            done,
        } => {
            let b = ProgressBar::new(batches as u64)
                .with_style(bar_style.clone())
                .with_prefix(format!("epoch {epoch}/{epochs}"));
            b.set_position(done as u64);
            bar = Some(b);
        }
        Event::Step {
            loss,
            accuracy,
            images_per_second,
        } => {
            if let Some(b) = &bar {
                b.inc(1);
                b.set_message(format!(
                    "loss {loss:.4} acc {:.2} % {images_per_second:.0} img/s",
                    100.0 * accuracy
                ));
            }
        }
        Event::EpochEnd(m) => {
            if let Some(b) = bar.take() {
                b.finish_and_clear();
            }
            println!(
                "epoch {}/{epochs}: lr {:.5} | train loss {:.4} acc {:.2} % | test loss {:.4} acc {:.2} % (error {:.2} %) | {:.1} s, {:.0} img/s",
                m.epoch,
                m.lr,
                m.train_loss,
                100.0 * m.train_accuracy,
                m.test_loss,
                100.0 * m.test_accuracy,
                100.0 * (1.0 - m.test_accuracy),
                m.seconds,
                m.images_per_second
            );
        }
    };
    // The whole run inside the thread pool: parallel ops then need no cross-thread wake-up.
    let outcome = splot::run_in_pool(|| train(&config, &data, &dir, resume, &stop, &mut on_event));
    if let Some(b) = bar.take() {
        b.abandon();
    }
    match outcome? {
        Outcome::Finished { best_accuracy, .. } => {
            println!(
                "done: best test accuracy {:.2} %; checkpoints in {}",
                100.0 * best_accuracy,
                dir.display()
            );
        }
        Outcome::Interrupted { epoch, batch } => {
            println!(
                "interrupted in epoch {} after batch {batch}; saved. Continue with: splot train --resume {}",
                epoch + 1,
                dir.display()
            );
        }
    }
    Ok(())
}

fn rayon_threads() -> usize {
    splot::init_threads(None)
}
