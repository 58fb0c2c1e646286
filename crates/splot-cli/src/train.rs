//! `splot classify train` (or `splot train`): trains a classifier on any classification
//! data (MNIST by default) with a progress bar per epoch, writing `metrics.csv`,
//! `last.safetensors` and `best.safetensors` into the run directory.

use crate::finetune::Finetune;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use splot::optim::{Penalty, Schedule};
use splot::tasks::classify::{class_names, idx_loaders, Classify, ClassifyData, ClassifyOptions};
use splot::tasks::transfer::{self, FinetuneTask};
use splot::train::{
    fit, read_checkpoint, Event, OptimizerKind, Outcome, ParamGroup, RunFiles, TrainConfig,
};
use splot::{Error, Result};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(Args)]
pub struct TrainArgs {
    /// The network: lenet5 (the 1998 paper), lenet5-relu (modern), or any zoo network
    /// (resnet18, vgg11_bn, …; see `splot summary --help`).
    /// (Default: lenet5; with `splot finetune`, the source's.)
    #[arg(long)]
    pub(crate) model: Option<String>,
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
    /// The data: a directory with train/ and val/ (or test/) ImageFolders, a directory of
    /// IDX files (MNIST, data/uci-digits), or a CSV of path,label (default: data/mnist).
    #[arg(long)]
    data: Option<PathBuf>,
    /// The evaluation split: a CSV of path,label, or an ImageFolder directory (with a
    /// training CSV, or to override val/).
    #[arg(long)]
    val: Option<PathBuf>,
    /// Outputs of the network's head (default: the data's classes).
    #[arg(long)]
    num_classes: Option<usize>,
    /// Label smoothing of the cross-entropy, in [0, 1].
    #[arg(long, default_value_t = 0.0)]
    label_smoothing: f32,
    /// A parameter group with its own learning rate and weight decay, PATTERN:LR:WD (e.g.
    /// 'fc.*:0.01:0'); repeat for more; the first match wins.
    #[arg(long = "group", value_name = "PATTERN:LR:WD")]
    groups: Vec<ParamGroup>,
    /// Freeze the parameters (and batch-norm statistics) whose names match this glob
    /// (e.g. 'layer1.*'); repeat for more.
    #[arg(long, value_name = "PATTERN")]
    freeze: Vec<String>,
    /// Clip the gradients' global L2 norm to this before every step.
    #[arg(long, value_name = "MAX_NORM")]
    clip_grad_norm: Option<f32>,
    /// Skip training images that cannot be read (each is named, and counted per epoch)
    /// instead of stopping at the first.
    #[arg(long)]
    skip_bad: bool,
    /// Continue the run in this directory from its last checkpoint.
    #[arg(long, value_name = "RUN_DIR")]
    pub(crate) resume: Option<PathBuf>,
    /// Train on the first N training images only.
    #[arg(long)]
    limit_train: Option<usize>,
    /// Evaluate on the first N test images only.
    #[arg(long)]
    limit_test: Option<usize>,
    /// Train on N images of each class only, drawn by the seed (few-label runs).
    #[arg(long, value_name = "N")]
    per_class: Option<usize>,
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
        model: args.model.clone().unwrap_or_else(|| "lenet5".into()),
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
        per_class: args.per_class,
        groups: args.groups.clone(),
        freeze: args.freeze.clone(),
        unfreeze_every: 0,
        clip_grad_norm: args.clip_grad_norm,
        skip_bad: args.skip_bad,
    }
}

pub fn run(args: &TrainArgs) -> Result<()> {
    run_task(args, None)
}

/// Trains as `splot train` does; with `finetune`, from its source's weights under a new
/// head (`splot finetune`).
pub fn run_task(args: &TrainArgs, finetune: Option<&Finetune>) -> Result<()> {
    let data = ClassifyData::open(args.data.as_deref(), args.val.as_deref())?;
    let mut options = ClassifyOptions {
        class_names: data.classes.clone(),
        num_classes: args.num_classes,
        label_smoothing: args.label_smoothing,
    };
    let (config, dir, resume) = match &args.resume {
        Some(dir) => {
            let ck = read_checkpoint(&RunFiles::new(dir).last)?;
            let mut config = ck.config.clone();
            if let Some(e) = args.epochs {
                config.epochs = e;
            }
            options = ClassifyOptions {
                class_names: class_names(&ck.task),
                num_classes: ck.task.get("classes").and_then(|c| c.parse().ok()),
                label_smoothing: ck
                    .task
                    .get("label_smoothing")
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0.0),
            };
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
            let dir = args.out.clone().unwrap_or_else(|| {
                PathBuf::from("runs").join(match finetune {
                    Some(_) => "finetune",
                    None => config.model.as_str(),
                })
            });
            if RunFiles::new(&dir).last.exists() {
                return Err(Error::config(
                    "train",
                    format!("{} already holds a run; continue it with --resume {0}, or choose another --out", dir.display()),
                ));
            }
            (config, dir, None)
        }
    };
    let mut config = config;
    if let Some(f) = finetune {
        f.apply(&mut config);
    }
    config.validate()?;
    let task: Box<dyn FinetuneTask> = match finetune {
        Some(f) => {
            let (task, prepared) =
                transfer::prepare(&mut config, &options, &f.source, &f.options, &data)?;
            eprintln!(
                "fine-tuning {} from {}: {} tensors loaded, {} left out (the old head), new head {} ({} classes){}",
                prepared.model,
                transfer::describe(&f.source),
                prepared.loaded,
                prepared.dropped.len(),
                prepared.head.join(", "),
                task.classify().classes(),
                if prepared.freeze.is_empty() {
                    String::new()
                } else {
                    format!("; frozen: {}", prepared.freeze.join(" "))
                }
            );
            if !prepared.filled.is_empty() {
                eprintln!(
                    "{} buffer(s) missing from the source set to 0, as PyTorch does: {}",
                    prepared.filled.len(),
                    prepared.filled.join(", ")
                );
            }
            task
        }
        None => Box::new(Classify::new(&config, &options)?),
    };
    let (train_loader, val_loader) = idx_loaders(&config, task.classify(), &data)?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    // Ctrl-C: finish the current step, save, exit cleanly; a second Ctrl-C aborts.
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
    });
    // one rank speaks for a distributed run
    let root = splot::dist::is_root();
    if root {
        eprintln!(
            "training {} on {} images of {} ({} classes) for {} epochs ({} threads) into {}",
            config.model,
            train_loader.dataset().len(),
            data.description,
            task.classify().classes(),
            config.epochs,
            rayon_threads(),
            dir.display()
        );
    }
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
            images_per_second,
            ..
        } => {
            let accuracy = event.stat("accuracy").unwrap_or(f64::NAN);
            if let Some(b) = &bar {
                b.inc(1);
                b.set_message(format!(
                    "loss {loss:.4} acc {:.2} % {images_per_second:.0} img/s",
                    100.0 * accuracy
                ));
            }
        }
        Event::Skipped(skipped) => {
            if let Some(b) = &bar {
                b.suspend(|| report_skipped(skipped));
            } else {
                report_skipped(skipped);
            }
        }
        Event::EpochEnd(m) => {
            if let Some(b) = bar.take() {
                b.finish_and_clear();
            }
            let v = |name: &str| m.get(name).unwrap_or(f64::NAN);
            println!(
                "epoch {}/{epochs}: lr {:.5} | train loss {:.4} acc {:.2} % | test loss {:.4} acc {:.2} % (error {:.2} %) | {:.1} s, {:.0} img/s",
                m.epoch,
                m.lr,
                v("train_loss"),
                100.0 * v("train_accuracy"),
                v("test_loss"),
                100.0 * v("test_accuracy"),
                100.0 * (1.0 - v("test_accuracy")),
                m.seconds,
                m.images_per_second
            );
        }
    };
    // The whole run inside the thread pool: parallel ops then need no cross-thread wake-up.
    let outcome = splot::run_in_pool(|| {
        fit(
            task.as_ref(),
            &config,
            &train_loader,
            &val_loader,
            &dir,
            resume,
            &stop,
            &mut on_event,
        )
    });
    if let Some(b) = bar.take() {
        b.abandon();
    }
    match outcome? {
        _ if !root => {}
        Outcome::Finished { best, .. } => {
            println!(
                "done: best test accuracy {:.2} %; checkpoints in {}",
                100.0 * best,
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

/// Names the training samples `--skip-bad` left out of an epoch, and counts them.
fn report_skipped(skipped: &[splot::data::Skipped]) {
    for s in skipped {
        eprintln!("skipped {}: {}", s.entry, s.error);
    }
    eprintln!(
        "skipped {} unreadable training image(s) this epoch",
        skipped.len()
    );
}
