//! `splot finetune [CHECKPOINT | --model NAME --weights FILE] --data DIR …`: a classifier
//! trained from another network's weights under a new head, with every option of
//! `splot train` (see `splot::tasks::transfer` for what each option does).

use crate::train::{self, TrainArgs};
use clap::Args;
use splot::tasks::transfer::{FinetuneOptions, Source};
use splot::train::TrainConfig;
use splot::{Error, Result};
use std::path::PathBuf;

#[derive(Args)]
pub struct FinetuneArgs {
    /// A checkpoint of `splot train` to start from (or --model NAME --weights FILE).
    from: Option<PathBuf>,
    /// The zoo network's weights (safetensors, torchvision's names), with --model.
    #[arg(long, conflicts_with = "from")]
    weights: Option<PathBuf>,
    /// A prefix to strip from the weights' names (`module.`, `backbone.body.`).
    #[arg(long, requires = "weights")]
    strip_prefix: Option<String>,
    /// The first layer of the new head (default: the last layer with parameters).
    #[arg(long, value_name = "LAYER")]
    head: Option<String>,
    /// Freeze every layer before LAYER (e.g. layer3, f6).
    #[arg(long, value_name = "LAYER")]
    train_from: Option<String>,
    /// Learning rate of everything under the head (default: --lr).
    #[arg(long)]
    lr_backbone: Option<f32>,
    /// Learning rate of the head (default: --lr).
    #[arg(long)]
    lr_head: Option<f32>,
    /// A linear probe: everything under the head frozen, its features computed once.
    #[arg(long, conflicts_with_all = ["train_from", "unfreeze_every"])]
    probe: bool,
    /// Gradual unfreezing: every N epochs the top-most frozen layer trains again.
    #[arg(long, value_name = "N", default_value_t = 0)]
    unfreeze_every: usize,
    #[command(flatten)]
    train: TrainArgs,
}

/// What `splot finetune` adds to a training run.
pub struct Finetune {
    /// Where the weights come from.
    pub source: Source,
    /// Head, freezing, the head's learning rate, probe.
    pub options: FinetuneOptions,
    lr_backbone: Option<f32>,
    unfreeze_every: usize,
}

impl Finetune {
    /// The run's settings that fine-tuning overrides.
    pub fn apply(&self, config: &mut TrainConfig) {
        if let Some(lr) = self.lr_backbone {
            config.lr = lr;
        }
        config.unfreeze_every = self.unfreeze_every;
    }
}

pub fn run(args: &FinetuneArgs) -> Result<()> {
    if args.train.resume.is_some() {
        // A fine-tuned checkpoint is a classifier's: its config holds the freezing and the
        // groups, so it resumes as any run does.
        return train::run_task(&args.train, None);
    }
    let source = match (&args.from, &args.train.model, &args.weights) {
        (Some(path), None, None) => Source::Checkpoint(path.clone()),
        (None, Some(model), Some(path)) => Source::Weights {
            model: model.clone(),
            path: path.clone(),
            strip_prefix: args.strip_prefix.clone(),
        },
        _ => return Err(Error::Parse {
            what: "finetune",
            msg: "give a checkpoint of `splot train` to start from, or --model NAME --weights FILE"
                .into(),
        }),
    };
    let finetune = Finetune {
        source,
        options: FinetuneOptions {
            head: args.head.clone(),
            train_from: args.train_from.clone(),
            lr_head: args.lr_head,
            probe: args.probe,
        },
        lr_backbone: args.lr_backbone,
        unfreeze_every: args.unfreeze_every,
    };
    train::run_task(&args.train, Some(&finetune))
}
