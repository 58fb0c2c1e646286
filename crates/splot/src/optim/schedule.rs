//! Learning-rate schedules as pure functions of `t`, the number of epochs (or steps —
//! whichever unit the caller counts) already completed: `lr_at(base_lr, t)` is the rate
//! to use during epoch `t` (0-based). Nothing is stored, so a resumed run only needs `t`.
//!
//! | schedule | `lr_at(lr0, t)` | string |
//! |---|---|---|
//! | `Constant` | `lr0` | `constant` |
//! | `Step { step_size: s, gamma: γ }` | `lr0·γ^⌊t/s⌋` (PyTorch's `StepLR`) | `step:s:γ` |
//! | `Cosine { total: T, min_lr }` | `min + (lr0 − min)·(1 + cos(π·min(t, T)/T))/2` | `cosine[:min[:T]]` |
//! | `Warmup { warmup: n, then }` | `lr0·(t+1)/n` for `t < n`, else `then` at `t − n` | `warmup:n[+then]` |
//!
//! Cosine is the closed form of PyTorch's `CosineAnnealingLR` (`T_max = T`,
//! `eta_min = min`), held at `min` after `T` instead of rising again. Its total is usually
//! the length of the run, which the string need not say: `cosine` parses with
//! `total: None`, and the caller fills it in with [`Schedule::with_total`]`(epochs)`
//! (inside a warm-up, the cosine gets the epochs left after it). A cosine whose total
//! is still `None` stays at `lr0` (an endless horizon); [`Schedule::validate`] reports it.
//!
//! The warm-up ramps linearly and ends at `lr0` on its last epoch: with `n = 4` the rates
//! are `lr0/4, lr0/2, 3·lr0/4, lr0`, then the inner schedule starts at its own `t = 0`.
//!
//! ```
//! use splot::optim::Schedule;
//! let s: Schedule = "warmup:2+cosine".parse::<Schedule>()?.with_total(10);
//! assert_eq!(s.to_string(), "warmup:2+cosine:0:8");
//! assert_eq!(s.lr_at(0.1, 0), 0.05);
//! assert_eq!(s.lr_at(0.1, 2), 0.1);
//! assert_eq!(s.lr_at(0.1, 10), 0.0);
//! # Ok::<(), splot::Error>(())
//! ```

use crate::error::{Error, Result};
use std::f64::consts::PI;
use std::fmt;
use std::str::FromStr;

/// A learning-rate schedule (see the module docs for the formulas and the string forms).
#[derive(Clone, Debug, PartialEq)]
pub enum Schedule {
    /// `lr0` throughout.
    Constant,
    /// `lr0·γ^⌊t/step_size⌋`: multiply by `γ` every `step_size` epochs.
    Step {
        /// Epochs between decays (≥ 1).
        step_size: usize,
        /// Factor applied at each decay.
        gamma: f32,
    },
    /// Cosine annealing from `lr0` at `t = 0` to `min_lr` at `t = total`, then `min_lr`.
    Cosine {
        /// Length `T` of the annealing; `None` until the caller sets it with
        /// [`Schedule::with_total`].
        total: Option<usize>,
        /// The rate reached at `t = total` (PyTorch's `eta_min`), an absolute value.
        min_lr: f32,
    },
    /// Linear warm-up `lr0·(t+1)/warmup` for `t < warmup`, then `then` at `t − warmup`.
    Warmup {
        /// Length of the warm-up.
        warmup: usize,
        /// The schedule after the warm-up.
        then: Box<Schedule>,
    },
}

impl Schedule {
    /// The learning rate during epoch (or step) `t` for a base rate `base_lr`
    /// (computed in f64).
    pub fn lr_at(&self, base_lr: f32, t: usize) -> f32 {
        match self {
            Schedule::Constant => base_lr,
            Schedule::Step { step_size, gamma } => {
                let decays = (t / (*step_size).max(1)) as i32;
                (base_lr as f64 * (*gamma as f64).powi(decays)) as f32
            }
            Schedule::Cosine { total, min_lr } => {
                let Some(total) = *total else {
                    return base_lr;
                };
                let progress = if total == 0 {
                    1.0
                } else {
                    t.min(total) as f64 / total as f64
                };
                let (lr0, min) = (base_lr as f64, *min_lr as f64);
                (min + (lr0 - min) * (1.0 + (PI * progress).cos()) / 2.0) as f32
            }
            Schedule::Warmup { warmup, then } => {
                if t < *warmup {
                    (base_lr as f64 * (t + 1) as f64 / *warmup as f64) as f32
                } else {
                    then.lr_at(base_lr, t - warmup)
                }
            }
        }
    }

    /// This schedule with every unset cosine total set for a run of `total` epochs: a
    /// cosine after a warm-up of `n` gets `total − n`. Totals already set are kept.
    pub fn with_total(self, total: usize) -> Schedule {
        match self {
            Schedule::Cosine {
                total: None,
                min_lr,
            } => Schedule::Cosine {
                total: Some(total),
                min_lr,
            },
            Schedule::Warmup { warmup, then } => Schedule::Warmup {
                warmup,
                then: Box::new(then.with_total(total.saturating_sub(warmup))),
            },
            other => other,
        }
    }

    /// Checks the parameters: a step size ≥ 1, finite non-negative `γ` and `min_lr`, a
    /// warm-up ≥ 1, and a cosine total that has been set.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::config("Schedule", format!("{self}: {msg}")));
        match self {
            Schedule::Constant => Ok(()),
            Schedule::Step { step_size, gamma } => {
                if *step_size == 0 {
                    bad("step size must be ≥ 1".into())
                } else if !(gamma.is_finite() && *gamma >= 0.0) {
                    bad(format!("gamma {gamma} must be finite and ≥ 0"))
                } else {
                    Ok(())
                }
            }
            Schedule::Cosine { total, min_lr } => {
                if !(min_lr.is_finite() && *min_lr >= 0.0) {
                    bad(format!("min_lr {min_lr} must be finite and ≥ 0"))
                } else if total.is_none() {
                    bad("the cosine total is not set; call with_total(epochs)".into())
                } else {
                    Ok(())
                }
            }
            Schedule::Warmup { warmup, then } => {
                if *warmup == 0 {
                    bad("warm-up length must be ≥ 1".into())
                } else {
                    then.validate()
                }
            }
        }
    }
}

impl fmt::Display for Schedule {
    /// The string form [`FromStr`] reads back to the same schedule.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Constant => write!(f, "constant"),
            Schedule::Step { step_size, gamma } => write!(f, "step:{step_size}:{gamma}"),
            Schedule::Cosine {
                total: None,
                min_lr,
            } if *min_lr == 0.0 => write!(f, "cosine"),
            Schedule::Cosine {
                total: None,
                min_lr,
            } => write!(f, "cosine:{min_lr}"),
            Schedule::Cosine {
                total: Some(total),
                min_lr,
            } => write!(f, "cosine:{min_lr}:{total}"),
            Schedule::Warmup { warmup, then } if **then == Schedule::Constant => {
                write!(f, "warmup:{warmup}")
            }
            Schedule::Warmup { warmup, then } => write!(f, "warmup:{warmup}+{then}"),
        }
    }
}

impl FromStr for Schedule {
    type Err = Error;

    /// Reads `constant`, `step:S:γ`, `cosine`, `cosine:MIN_LR`, `cosine:MIN_LR:TOTAL`,
    /// `warmup:N` (then constant) or `warmup:N+SCHEDULE`; the values are checked as
    /// [`Schedule::validate`] does, except that the cosine total may be left unset.
    fn from_str(s: &str) -> Result<Self> {
        let err = |msg: String| Error::Parse {
            what: "schedule",
            msg: format!(
                "'{s}': {msg}; expected constant, step:S:GAMMA, cosine[:MIN_LR[:TOTAL]] \
                 or warmup:N[+SCHEDULE]"
            ),
        };
        let s = s.trim();
        if let Some(rest) = s.strip_prefix("warmup:") {
            let (n, then) = match rest.split_once('+') {
                Some((n, then)) => (n, then.parse::<Schedule>()?),
                None => (rest, Schedule::Constant),
            };
            let warmup = n
                .trim()
                .parse::<usize>()
                .map_err(|_| err(format!("warm-up length '{n}' is not a whole number")))?;
            if warmup == 0 {
                return Err(err("warm-up length must be ≥ 1".into()));
            }
            return Ok(Schedule::Warmup {
                warmup,
                then: Box::new(then),
            });
        }
        let parts: Vec<&str> = s.split(':').map(str::trim).collect();
        let float = |x: &str, what: &str| match x.parse::<f32>() {
            Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
            _ => Err(err(format!("{what} '{x}' is not a finite number ≥ 0"))),
        };
        let whole = |x: &str, what: &str| match x.parse::<usize>() {
            Ok(v) if v >= 1 => Ok(v),
            _ => Err(err(format!("{what} '{x}' is not a whole number ≥ 1"))),
        };
        match parts.as_slice() {
            ["constant"] => Ok(Schedule::Constant),
            ["step", size, gamma] => Ok(Schedule::Step {
                step_size: whole(size, "step size")?,
                gamma: float(gamma, "gamma")?,
            }),
            ["cosine", rest @ ..] if rest.len() <= 2 => Ok(Schedule::Cosine {
                min_lr: match rest.first() {
                    Some(m) => float(m, "min_lr")?,
                    None => 0.0,
                },
                total: match rest.get(1) {
                    Some(t) => Some(whole(t, "total")?),
                    None => None,
                },
            }),
            [kind, ..] if ["constant", "step", "cosine"].contains(kind) => {
                Err(err(format!("wrong number of values for '{kind}'")))
            }
            [kind, ..] => Err(err(format!("unknown schedule '{kind}'"))),
            [] => unreachable!("split yields at least one part"),
        }
    }
}
