//! What a training run is: the model, the optimiser and its settings, the data options.
//! A config is stored in every checkpoint as text metadata, so `--resume` needs nothing else.

use super::groups::ParamGroup;
use crate::data::loader::Augment;
use crate::error::{Error, Result};
use crate::io::Metadata;
use crate::nn::NamedTensor;
use crate::optim::{Adam, AdamW, Optimizer, Penalty, Schedule, Sgd};
use std::fmt;
use std::str::FromStr;

/// The optimiser of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptimizerKind {
    /// SGD with the run's momentum (and Nesterov if asked).
    Sgd,
    /// Adam (weight decay coupled, as L2 in the gradient).
    Adam,
    /// AdamW (weight decay decoupled).
    AdamW,
}

impl fmt::Display for OptimizerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OptimizerKind::Sgd => "sgd",
            OptimizerKind::Adam => "adam",
            OptimizerKind::AdamW => "adamw",
        })
    }
}

impl FromStr for OptimizerKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "sgd" => Ok(OptimizerKind::Sgd),
            "adam" => Ok(OptimizerKind::Adam),
            "adamw" => Ok(OptimizerKind::AdamW),
            _ => Err(Error::Parse {
                what: "optimizer",
                msg: format!("unknown optimiser '{s}'; expected sgd, adam or adamw"),
            }),
        }
    }
}

/// LeCun et al.'s distortions of the training images (translations, rotations, scaling),
/// as `--augment` turns them on.
pub const LECUN_DISTORTIONS: Augment = Augment {
    max_shift: 2.0,
    max_rotation_deg: 8.0,
    max_scale: 0.1,
};

/// Everything that defines a training run.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// Network name (see [`crate::models::model_names`]).
    pub model: String,
    /// Dropout probability of networks that have a dropout layer.
    pub dropout: f32,
    /// Epochs to train in all.
    pub epochs: usize,
    /// Images per training batch.
    pub batch_size: usize,
    /// The optimiser.
    pub optimizer: OptimizerKind,
    /// Base learning rate.
    pub lr: f32,
    /// SGD momentum.
    pub momentum: f32,
    /// Nesterov momentum for SGD.
    pub nesterov: bool,
    /// Weight decay of the optimiser (coupled for SGD and Adam, decoupled for AdamW).
    pub weight_decay: f32,
    /// Learning rate per epoch.
    pub schedule: Schedule,
    /// An L1, L2 or elastic-net penalty on the weights.
    pub penalty: Option<Penalty>,
    /// Distort the training images.
    pub augment: bool,
    /// Seed of initialisation, shuffling, distortions and dropout.
    pub seed: u64,
    /// Train on only the first N training images (quick runs, tests).
    pub limit_train: Option<usize>,
    /// Evaluate on only the first N test images.
    pub limit_test: Option<usize>,
    /// Train on only N images of each class, drawn by the seed (few-label runs); before
    /// `limit_train`.
    pub per_class: Option<usize>,
    /// Parameter groups with their own learning rate and weight decay (first match wins;
    /// the others train with `lr` and `weight_decay`).
    pub groups: Vec<ParamGroup>,
    /// Glob patterns of parameter names to freeze (see [`super::groups::freeze`]).
    pub freeze: Vec<String>,
    /// Gradual unfreezing: every this many epochs the last (top-most) still-frozen
    /// pattern of `freeze` is released (0: `freeze` holds for the whole run); see
    /// [`super::groups::frozen_at`].
    pub unfreeze_every: usize,
    /// Clip the gradients' global L2 norm to this before every step.
    pub clip_grad_norm: Option<f32>,
    /// Skip training samples that cannot be read (counted and named in
    /// [`super::Event::Skipped`]) instead of stopping at the first.
    pub skip_bad: bool,
}

impl Default for TrainConfig {
    /// LeNet-5, 25 epochs of SGD (lr 0.03, momentum 0.9, weight decay 5e-4, batch 32) with a
    /// cosine schedule: the recipe that reaches the paper's 0.95 % test error.
    fn default() -> Self {
        TrainConfig {
            model: "lenet5".into(),
            dropout: 0.0,
            epochs: 25,
            batch_size: 32,
            optimizer: OptimizerKind::Sgd,
            lr: 0.03,
            momentum: 0.9,
            nesterov: false,
            weight_decay: 5e-4,
            schedule: Schedule::Cosine {
                total: None,
                min_lr: 0.0,
            },
            penalty: None,
            augment: false,
            seed: 0,
            limit_train: None,
            limit_test: None,
            per_class: None,
            groups: Vec::new(),
            freeze: Vec::new(),
            unfreeze_every: 0,
            clip_grad_norm: None,
            skip_bad: false,
        }
    }
}

impl TrainConfig {
    /// Checks the settings; the error names the first bad one.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::config("train", msg));
        if self.epochs == 0 || self.batch_size == 0 {
            return bad(format!(
                "epochs ({}) and batch size ({}) must be positive",
                self.epochs, self.batch_size
            ));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad(format!("learning rate {} must be positive", self.lr));
        }
        self.schedule.clone().with_total(self.epochs).validate()?;
        if let Some(p) = &self.penalty {
            p.validate()?;
        }
        if let Some(c) = self.clip_grad_norm {
            if !(c.is_finite() && c > 0.0) {
                return bad(format!("gradient clipping norm {c} must be positive"));
            }
        }
        Ok(())
    }

    /// The optimiser for `params`, as configured.
    pub fn build_optimizer(&self, params: Vec<NamedTensor>) -> Result<Box<dyn Optimizer>> {
        self.build_optimizer_with(params, self.lr, self.weight_decay)
    }

    /// The configured optimiser for `params` with learning rate `lr` and weight decay
    /// `weight_decay` (a parameter group's).
    pub fn build_optimizer_with(
        &self,
        params: Vec<NamedTensor>,
        lr: f32,
        weight_decay: f32,
    ) -> Result<Box<dyn Optimizer>> {
        Ok(match self.optimizer {
            OptimizerKind::Sgd => Box::new(
                Sgd::new(params, lr)
                    .momentum(self.momentum)?
                    .nesterov(self.nesterov)?
                    .weight_decay(weight_decay),
            ),
            OptimizerKind::Adam => Box::new(Adam::new(params).lr(lr)?.weight_decay(weight_decay)?),
            OptimizerKind::AdamW => {
                Box::new(AdamW::new(params).lr(lr)?.weight_decay(weight_decay)?)
            }
        })
    }

    /// The learning rate of epoch `epoch` (from 0).
    pub fn lr_at(&self, epoch: usize) -> f32 {
        self.schedule
            .clone()
            .with_total(self.epochs)
            .lr_at(self.lr, epoch)
    }

    /// The config as `config.*` text metadata.
    pub fn to_metadata(&self) -> Metadata {
        let opt = |v: Option<usize>| v.map_or("none".to_string(), |v| v.to_string());
        let entries = [
            ("model", self.model.clone()),
            ("dropout", self.dropout.to_string()),
            ("epochs", self.epochs.to_string()),
            ("batch_size", self.batch_size.to_string()),
            ("optimizer", self.optimizer.to_string()),
            ("lr", self.lr.to_string()),
            ("momentum", self.momentum.to_string()),
            ("nesterov", self.nesterov.to_string()),
            ("weight_decay", self.weight_decay.to_string()),
            ("schedule", self.schedule.to_string()),
            (
                "penalty",
                self.penalty.map_or("none".to_string(), |p| p.to_string()),
            ),
            ("augment", self.augment.to_string()),
            ("seed", self.seed.to_string()),
            ("limit_train", opt(self.limit_train)),
            ("limit_test", opt(self.limit_test)),
            ("per_class", opt(self.per_class)),
            (
                "groups",
                self.groups
                    .iter()
                    .map(ParamGroup::to_string)
                    .collect::<Vec<_>>()
                    .join(";"),
            ),
            ("freeze", self.freeze.join(";")),
            ("unfreeze_every", self.unfreeze_every.to_string()),
            (
                "clip_grad_norm",
                self.clip_grad_norm.map_or("none".into(), |c| c.to_string()),
            ),
            ("skip_bad", self.skip_bad.to_string()),
        ];
        entries
            .into_iter()
            .map(|(k, v)| (format!("config.{k}"), v))
            .collect()
    }

    /// Reads a config back from [`TrainConfig::to_metadata`]'s entries.
    pub fn from_metadata(meta: &Metadata) -> Result<Self> {
        fn get<T: FromStr>(meta: &Metadata, key: &'static str) -> Result<T> {
            let text = meta
                .get(&format!("config.{key}"))
                .ok_or_else(|| Error::Parse {
                    what: "checkpoint config",
                    msg: format!("missing config.{key}"),
                })?;
            text.parse().map_err(|_| Error::Parse {
                what: "checkpoint config",
                msg: format!("config.{key} = '{text}' cannot be read"),
            })
        }
        let optional = |key: &'static str| -> Result<Option<usize>> {
            let text: String = get(meta, key)?;
            if text == "none" {
                Ok(None)
            } else {
                get(meta, key).map(Some)
            }
        };
        let penalty: String = get(meta, "penalty")?;
        // Entries added with the generic loop; checkpoints from before it lack them.
        let newer = |key: &str| meta.get(&format!("config.{key}")).map(String::as_str);
        let list = |key: &str| -> Vec<String> {
            newer(key)
                .unwrap_or("")
                .split(';')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        };
        let groups = list("groups")
            .iter()
            .map(|g| g.parse())
            .collect::<Result<Vec<ParamGroup>>>()?;
        let clip_grad_norm = match newer("clip_grad_norm") {
            None | Some("none") => None,
            Some(_) => Some(get(meta, "clip_grad_norm")?),
        };
        Ok(TrainConfig {
            model: get(meta, "model")?,
            dropout: get(meta, "dropout")?,
            epochs: get(meta, "epochs")?,
            batch_size: get(meta, "batch_size")?,
            optimizer: get(meta, "optimizer")?,
            lr: get(meta, "lr")?,
            momentum: get(meta, "momentum")?,
            nesterov: get(meta, "nesterov")?,
            weight_decay: get(meta, "weight_decay")?,
            schedule: get(meta, "schedule")?,
            penalty: if penalty == "none" {
                None
            } else {
                Some(penalty.parse()?)
            },
            augment: get(meta, "augment")?,
            seed: get(meta, "seed")?,
            limit_train: optional("limit_train")?,
            limit_test: optional("limit_test")?,
            per_class: match newer("per_class") {
                None | Some("none") => None,
                Some(_) => Some(get(meta, "per_class")?),
            },
            groups,
            freeze: list("freeze"),
            unfreeze_every: match newer("unfreeze_every") {
                None => 0,
                Some(_) => get(meta, "unfreeze_every")?,
            },
            clip_grad_norm,
            skip_bad: newer("skip_bad") == Some("true"),
        })
    }
}
