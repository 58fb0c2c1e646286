//! What the loop does to parameters by name: freezing, parameter groups with their own
//! learning rate and weight decay, and gradient clipping.
//!
//! - Names are matched by glob patterns ([`glob_match`]): `*` is any run of characters
//!   (dots included), `?` one character; `features.*` matches `features.0.weight`.
//! - [`freeze`]: parameters whose name matches get no gradient (so no optimiser step
//!   touches them), and batch-norm layers whose running statistics match normalise with
//!   those statistics and leave them unchanged ([`crate::nn::Module::freeze_statistics`]).
//! - [`ParamGroup`] (`PATTERN:LR:WD` on the command line): each trainable parameter goes
//!   to the first group whose pattern matches its name, the rest to the run's default
//!   group. [`GroupOptimizer`] builds one optimiser per group (the optimisers themselves
//!   are unchanged): a schedule scales every group's own base rate, and the state of
//!   group `k ≥ 1` is saved under `group<k>.`, the default group's unprefixed, so a run
//!   without groups has the optimiser state it always had.
//! - [`clip_grad_norm`]: PyTorch's `clip_grad_norm_`, on the global L2 norm of all
//!   gradients.

use super::config::TrainConfig;
use crate::autograd::Gradients;
use crate::error::{Error, Result};
use crate::nn::{self, Module, NamedTensor};
use crate::optim::Optimizer;
use crate::tensor::Tensor;
use std::fmt;
use std::str::FromStr;

/// Whether `name` matches the glob `pattern` (`*`: any characters, `?`: one character,
/// everything else literally; the whole name must match).
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // Iterative matching with backtracking to the last `*`.
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < n.len() {
        if i < p.len() && (p[i] == '?' || p[i] == n[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some((i, j));
            i += 1;
        } else if let Some((si, sj)) = star {
            i = si + 1;
            j = sj + 1;
            star = Some((si, sj + 1));
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == '*')
}

/// Freezes every parameter of `model` whose name matches one of `patterns`, and the
/// running statistics of every batch-norm layer whose `running_mean` matches; returns the
/// names of the frozen parameters. A pattern that matches nothing is an error naming it
/// and listing the model's layers.
pub fn freeze(model: &dyn Module, patterns: &[String]) -> Result<Vec<String>> {
    check_patterns(model, patterns, "freeze")?;
    Ok(set_frozen(model, patterns))
}

/// An error naming the first of `patterns` that matches no tensor of `model`, listing the
/// model's top-level layers (`what` names the option in the message).
pub fn check_patterns(model: &dyn Module, patterns: &[String], what: &'static str) -> Result<()> {
    let tensors = nn::named_tensors(model);
    for p in patterns {
        if !tensors.iter().any(|t| glob_match(p, &t.name)) {
            return Err(Error::config(
                what,
                format!(
                    "pattern '{p}' matches no parameter of the model; its layers are {} \
                     (parameters are named like '{}')",
                    layer_names(model).join(", "),
                    tensors.first().map_or("", |t| t.name.as_str())
                ),
            ));
        }
    }
    Ok(())
}

/// The names of `model`'s top-level layers, in order.
pub fn layer_names(model: &dyn Module) -> Vec<String> {
    model.children().into_iter().map(|(n, _)| n).collect()
}

/// Makes exactly the parameters that match `patterns` frozen (no gradient) and every other
/// one trainable, and freezes exactly the batch-norm statistics that match (the others
/// update again in training mode); returns the frozen parameters' names. Patterns that
/// match nothing are ignored (see [`freeze`] for the checked version).
pub fn set_frozen(model: &dyn Module, patterns: &[String]) -> Vec<String> {
    let hit = |name: &str| patterns.iter().any(|p| glob_match(p, name));
    fn walk(m: &dyn Module, prefix: &str, hit: &dyn Fn(&str) -> bool) {
        if m.own_tensors().iter().any(|(n, _, _)| *n == "running_mean") {
            m.freeze_statistics(hit(&format!("{prefix}running_mean")));
        }
        for (name, child) in m.children() {
            walk(child, &format!("{prefix}{name}."), hit);
        }
    }
    walk(model, "", &hit);
    let mut frozen = Vec::new();
    for p in nn::parameters(model) {
        let freeze = hit(&p.name);
        p.tensor.set_requires_grad(!freeze);
        if freeze {
            frozen.push(p.name);
        }
    }
    frozen
}

/// The freeze patterns in force in epoch `epoch` (from 0) under gradual unfreezing: every
/// `every` epochs the last (top-most) of the still-frozen patterns is released, as in
/// ULMFiT; `every = 0` keeps all of them.
pub fn frozen_at(patterns: &[String], every: usize, epoch: usize) -> &[String] {
    if every == 0 {
        return patterns;
    }
    let released = (epoch / every).min(patterns.len());
    // `epoch = usize::MAX`: every pattern released (what will ever train).
    &patterns[..patterns.len() - released]
}

/// Parameters whose names match `pattern` train with their own learning rate and weight
/// decay. Parses from and prints as `PATTERN:LR:WD` (`fc.*:0.01:0`).
#[derive(Clone, Debug, PartialEq)]
pub struct ParamGroup {
    /// Glob over parameter names ([`glob_match`]).
    pub pattern: String,
    /// Base learning rate (the schedule scales it as it scales the run's).
    pub lr: f32,
    /// Weight decay of the group.
    pub weight_decay: f32,
}

impl fmt::Display for ParamGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.pattern, self.lr, self.weight_decay)
    }
}

impl FromStr for ParamGroup {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let err = |msg: &str| Error::Parse {
            what: "parameter group",
            msg: format!("'{s}': {msg}; expected PATTERN:LR:WD, e.g. 'fc.*:0.01:0'"),
        };
        let mut parts = s.rsplitn(3, ':');
        let (wd, lr, pattern) = match (parts.next(), parts.next(), parts.next()) {
            (Some(wd), Some(lr), Some(p)) if !p.is_empty() => (wd, lr, p),
            _ => return Err(err("three fields needed")),
        };
        let lr: f32 = lr.trim().parse().map_err(|_| err("LR is not a number"))?;
        let weight_decay: f32 = wd.trim().parse().map_err(|_| err("WD is not a number"))?;
        if !(lr.is_finite() && lr > 0.0 && weight_decay.is_finite() && weight_decay >= 0.0) {
            return Err(err("LR must be positive and WD at least 0"));
        }
        Ok(ParamGroup {
            pattern: pattern.to_string(),
            lr,
            weight_decay,
        })
    }
}

/// One optimiser per parameter group (see the module docs).
pub struct GroupOptimizer {
    /// `(base learning rate, optimiser)`; index 0 is the run's default group.
    groups: Vec<(f32, Box<dyn Optimizer>)>,
}

impl GroupOptimizer {
    /// The optimisers of `config` over the trainable parameters of `model` (frozen ones
    /// are left out), split by `config.groups`. A group that catches no parameter is an
    /// error naming its pattern.
    pub fn new(config: &TrainConfig, model: &dyn Module) -> Result<Self> {
        let params: Vec<NamedTensor> = nn::parameters(model)
            .into_iter()
            .filter(|p| p.tensor.requires_grad())
            .collect();
        let mut split: Vec<Vec<NamedTensor>> = vec![Vec::new(); config.groups.len() + 1];
        for p in params {
            let k = config
                .groups
                .iter()
                .position(|g| glob_match(&g.pattern, &p.name))
                .map_or(0, |k| k + 1);
            split[k].push(p);
        }
        let mut groups = Vec::with_capacity(split.len());
        for (k, params) in split.into_iter().enumerate() {
            let (lr, wd) = match k {
                0 => (config.lr, config.weight_decay),
                _ => {
                    let g = &config.groups[k - 1];
                    if params.is_empty() {
                        return Err(Error::config(
                            "train",
                            format!(
                                "parameter group '{g}' catches no trainable parameter (frozen, taken by an earlier group, or no such name)"
                            ),
                        ));
                    }
                    (g.lr, g.weight_decay)
                }
            };
            groups.push((lr, config.build_optimizer_with(params, lr, wd)?));
        }
        Ok(GroupOptimizer { groups })
    }

    /// Sets each group's learning rate to `lr_of(its base rate)` (a schedule at an epoch).
    pub fn set_learning_rates(&mut self, lr_of: impl Fn(f32) -> f32) {
        for (base, opt) in &mut self.groups {
            opt.set_learning_rate(lr_of(*base));
        }
    }

    /// The prefix of group `k`'s state entries.
    fn prefix(k: usize) -> String {
        if k == 0 {
            String::new()
        } else {
            format!("group{k}.")
        }
    }
}

impl Optimizer for GroupOptimizer {
    fn step(&mut self, grads: &Gradients) -> Result<()> {
        self.groups.iter_mut().try_for_each(|(_, o)| o.step(grads))
    }
    /// The default group's learning rate.
    fn learning_rate(&self) -> f32 {
        self.groups[0].1.learning_rate()
    }
    /// Sets the default group to `lr` and every other group in proportion to its base.
    fn set_learning_rate(&mut self, lr: f32) {
        let base0 = self.groups[0].0;
        self.set_learning_rates(|base| if base == base0 { lr } else { lr * base / base0 });
    }
    fn state(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        for (k, (_, o)) in self.groups.iter().enumerate() {
            let prefix = Self::prefix(k);
            out.extend(
                o.state()
                    .into_iter()
                    .map(|(n, t)| (format!("{prefix}{n}"), t)),
            );
        }
        out
    }
    fn load_state(&mut self, state: &[(String, Tensor)]) -> Result<()> {
        // Group k ≥ 1 takes its prefixed entries; the default group takes the rest, so an
        // unknown entry is reported by the default group's reader.
        let mut parts: Vec<Vec<(String, Tensor)>> = vec![Vec::new(); self.groups.len()];
        for (name, t) in state {
            let k = (1..self.groups.len())
                .find(|&k| name.starts_with(&Self::prefix(k)))
                .unwrap_or(0);
            let local = name[Self::prefix(k).len()..].to_string();
            parts[k].push((local, t.clone()));
        }
        // Groups load one after the other: a failure leaves the earlier groups restored
        // (each group's own restore is all or nothing); the loop gives up on any failure.
        for ((_, o), part) in self.groups.iter_mut().zip(&parts) {
            o.load_state(part)?;
        }
        Ok(())
    }
}

/// Scales the gradients of `params` so that their global L2 norm is at most `max_norm`,
/// as PyTorch's `clip_grad_norm_`: `total = ‖(‖g₁‖, ‖g₂‖, …)‖`, and when
/// `max_norm / (total + 1e-6) < 1` every gradient is multiplied by that factor. Returns
/// the norm before clipping. Parameters without a gradient are skipped.
pub fn clip_grad_norm(params: &[NamedTensor], grads: &mut Gradients, max_norm: f32) -> f32 {
    let mut sum = 0.0f64;
    for p in params {
        if let Some(g) = grads.get(&p.tensor) {
            sum += g
                .data()
                .iter()
                .map(|&v| (v as f64) * (v as f64))
                .sum::<f64>();
        }
    }
    let total = sum.sqrt() as f32;
    let coef = max_norm / (total + 1e-6);
    if coef < 1.0 {
        for p in params {
            if let Some(g) = grads.get_mut(&p.tensor) {
                g.data_mut().iter_mut().for_each(|v| *v *= coef);
            }
        }
    }
    total
}
