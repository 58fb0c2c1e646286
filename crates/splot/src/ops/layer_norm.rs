//! Per-sample normalisation: layer, group and instance normalisation, forward and backward,
//! behaving like PyTorch's `torch.nn.functional.layer_norm`, `group_norm` and
//! `instance_norm`. Unlike batch norm ([`crate::ops::norm`]), the statistics of each sample
//! are its own, so the output of a sample does not depend on the rest of the batch.
//!
//! Legend: all three see their input as `rows` rows of `len` contiguous values, each row
//! normalised by its own mean and variance:
//! - layer norm: `x [*, d…]` with `d…` the normalized shape, `len = Π d`,
//!   `rows = numel/len`; `γ β` have the normalized shape, one value per position of a row;
//! - group norm: `x [n, c, *]`, `inner` the product of the axes after the channel axis,
//!   `groups` dividing `c`, `cg = c/groups` channels per group, `len = cg·inner`,
//!   `rows = n·groups`; `γ β [c]`, one value per channel;
//! - instance norm: `x [n, c, *]`, `len = inner`, `rows = n·c`; `γ β [c]`.
//!
//! In a row: `μ` its mean, `σ²` its biased variance `Σ(x − μ)²/len`,
//! `r = 1/√(σ² + eps)`, `x̂ = (x − μ)·r`, `y = γ·x̂ + β` (`γ = 1`, `β = 0` when absent).
//! `g` is `∂loss/∂y` and `ĝ = γ·g`. Backward, means taken over the row:
//! `∂loss/∂x = r·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂))` (the direct term, the path through `μ`, the
//! path through `σ²`); `∂loss/∂γ = Σ g·x̂` and `∂loss/∂β = Σ g` over every value that the
//! parameter scales. Instance norm with fixed (running) statistics keeps only the direct
//! term, `∂loss/∂x = r·ĝ`.
//!
//! The row sums are taken in eight f32 lanes added up in f64, rows run on the pool, and
//! the results do not depend on the thread count.

use super::norm::AffineSlots;
use crate::cpu::par::{lane_sums, MIN_PARALLEL};
use crate::error::{Error, Result};
use crate::ops::norm::BatchNormConfig;
use crate::tensor::{numel, Tensor};
use rayon::prelude::*;

// ================================================================ the shared row kernels

/// How `γ β` index into the rows.
#[derive(Clone, Copy, Debug)]
enum Affine {
    /// One value per position of a row, `γ[j]` (layer norm).
    Positions,
    /// One value per channel, constant over runs of `inner` values: row `r` holds the
    /// `per_row` channels from `(r·per_row) mod c` on (group and instance norm).
    Channels {
        c: usize,
        per_row: usize,
        inner: usize,
    },
}

/// The rows of a normalisation and how its parameters index into them.
#[derive(Clone, Copy, Debug)]
struct Rows {
    rows: usize,
    len: usize,
    affine: Affine,
}

/// The part of `γ β` that scales one run of a row.
enum Coef<'a> {
    /// The same `γ β` over the whole run (a channel).
    Scalar(f32, f32),
    /// `γ[j] β[j]` per value of the run (positions).
    Slice(&'a [f32], &'a [f32]),
}

impl Rows {
    /// The runs of row `r`: `(start in the row, length, coefficients, channel or 0)`.
    fn runs<'a>(
        &self,
        r: usize,
        gamma: &'a [f32],
        beta: &'a [f32],
    ) -> impl Iterator<Item = (usize, usize, Coef<'a>, usize)> + 'a {
        let (count, inner, first) = match self.affine {
            Affine::Positions => (1, self.len, 0),
            Affine::Channels { c, per_row, inner } => (per_row, inner, (r * per_row) % c),
        };
        let positions = matches!(self.affine, Affine::Positions);
        (0..count).map(move |k| {
            let coef = if positions {
                Coef::Slice(gamma, beta)
            } else {
                Coef::Scalar(gamma[first + k], beta[first + k])
            };
            (k * inner, inner, coef, first + k)
        })
    }

    /// The length of `γ β`: a row's length (positions) or the channels.
    fn params(&self) -> usize {
        match self.affine {
            Affine::Positions => self.len,
            Affine::Channels { c, .. } => c,
        }
    }

    /// Rows per task on the pool: enough that a task has `MIN_PARALLEL` values.
    fn rows_per_task(&self) -> usize {
        (MIN_PARALLEL / self.len.max(1)).max(1)
    }
}

/// Mean and biased variance `Σ(x − μ)²/len` of every row, in two passes (the second on the
/// deviations, so no cancellation).
fn row_mean_var(x: &[f32], rows: &Rows) -> Vec<(f64, f64)> {
    let len = rows.len.max(1);
    x.par_chunks(len)
        .with_min_len(rows.rows_per_task())
        .map(|row| {
            let [sum] = lane_sums(row, row, row, |v, _, _| [v]);
            let mean = sum / len as f64;
            let mu = mean as f32;
            let [sq] = lane_sums(row, row, row, |v, _, _| [(v - mu) * (v - mu)]);
            (mean, sq / len as f64)
        })
        .collect()
}

/// `y = (x − μ)·r·γ + β` row by row, `stats[row] = (μ, r)`.
fn forward_rows(
    x: &[f32],
    rows: &Rows,
    stats: &[(f32, f32)],
    gamma: &[f32],
    beta: &[f32],
) -> Vec<f32> {
    let len = rows.len.max(1);
    let mut y = vec![0.0f32; x.len()];
    y.par_chunks_mut(len)
        .zip(x.par_chunks(len))
        .enumerate()
        .with_min_len(rows.rows_per_task())
        .for_each(|(r, (y, x))| {
            let (mu, rstd) = stats[r];
            for (start, n, coef, _) in rows.runs(r, gamma, beta) {
                let (y, x) = (&mut y[start..][..n], &x[start..][..n]);
                match coef {
                    Coef::Scalar(g, b) => {
                        let k = rstd * g;
                        y.iter_mut()
                            .zip(x)
                            .for_each(|(y, &x)| *y = (x - mu) * k + b);
                    }
                    Coef::Slice(g, b) => {
                        for (((y, &x), &g), &b) in y.iter_mut().zip(x).zip(g).zip(b) {
                            *y = (x - mu) * rstd * g + b;
                        }
                    }
                }
            }
        });
    y
}

/// What the backward pass of a row normalisation returns: `∂loss/∂x`, `∂loss/∂γ` and
/// `∂loss/∂β`, each when asked for.
type RowGrads = (Option<Vec<f32>>, Option<Vec<f32>>, Option<Vec<f32>>);

/// The backward pass of [`forward_rows`]. `through_stats`: whether `μ σ²` are the rows' own
/// statistics (differentiated through) or constants. `need = [x, γ, β]`.
fn backward_rows(
    g: &[f32],
    x: &[f32],
    rows: &Rows,
    stats: &[(f32, f32)],
    gamma: &[f32],
    through_stats: bool,
    need: [bool; 3],
) -> RowGrads {
    let len = rows.len.max(1);
    let zeros = vec![0.0f32; gamma.len()];
    let runs_per_row = match rows.affine {
        Affine::Positions => 1,
        Affine::Channels { per_row, .. } => per_row,
    };
    // Per row and run: [Σ ĝ, Σ ĝ·x̂] for positions, [Σ g, Σ g·x̂] for channels (γ applied
    // after), the sums that the input gradient and the channels' γ β gradients need.
    let run_sums: Vec<[f64; 2]> = if through_stats || (need[1] || need[2]) {
        g.par_chunks(len)
            .zip(x.par_chunks(len))
            .enumerate()
            .with_min_len(rows.rows_per_task())
            .flat_map_iter(|(r, (g, x))| {
                let (mu, rstd) = stats[r];
                rows.runs(r, gamma, &zeros)
                    .map(|(start, n, coef, _)| {
                        let (g, x) = (&g[start..][..n], &x[start..][..n]);
                        match coef {
                            Coef::Scalar(..) => {
                                lane_sums(g, x, x, |g, x, _| [g, g * ((x - mu) * rstd)])
                            }
                            Coef::Slice(gm, _) => lane_sums(g, x, gm, |g, x, gm| {
                                let gh = g * gm;
                                [gh, gh * ((x - mu) * rstd)]
                            }),
                        }
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    } else {
        Vec::new()
    };

    let gx = need[0].then(|| {
        let mut gx = vec![0.0f32; x.len()];
        gx.par_chunks_mut(len)
            .zip(g.par_chunks(len).zip(x.par_chunks(len)))
            .enumerate()
            .with_min_len(rows.rows_per_task())
            .for_each(|(r, (gx, (g, x)))| {
                let (mu, rstd) = stats[r];
                // mean(ĝ) and mean(ĝ·x̂) over the row; zero for constant statistics
                let (mean_gh, mean_gh_xhat) = if through_stats {
                    let sums = &run_sums[r * runs_per_row..][..runs_per_row];
                    let mut s = [0.0f64; 2];
                    for ((_, _, coef, _), run) in rows.runs(r, gamma, &zeros).zip(sums) {
                        let scale = match coef {
                            Coef::Scalar(gm, _) => gm as f64,
                            Coef::Slice(..) => 1.0,
                        };
                        s[0] += scale * run[0];
                        s[1] += scale * run[1];
                    }
                    ((s[0] / len as f64) as f32, (s[1] / len as f64) as f32)
                } else {
                    (0.0, 0.0)
                };
                // ∂loss/∂x = r·ĝ − r·mean(ĝ) − r²·mean(ĝ·x̂)·(x − μ), as
                // k1·g + k2·(x − μ) + k0
                let (k2, k0) = (-rstd * rstd * mean_gh_xhat, -rstd * mean_gh);
                for (start, n, coef, _) in rows.runs(r, gamma, &zeros) {
                    let (gx, g, x) = (&mut gx[start..][..n], &g[start..][..n], &x[start..][..n]);
                    match coef {
                        Coef::Scalar(gm, _) => {
                            let k1 = rstd * gm;
                            for ((o, &g), &x) in gx.iter_mut().zip(g).zip(x) {
                                *o = k1 * g + k2 * (x - mu) + k0;
                            }
                        }
                        Coef::Slice(gm, _) => {
                            for (((o, &g), &x), &gm) in gx.iter_mut().zip(g).zip(x).zip(gm) {
                                *o = rstd * gm * g + k2 * (x - mu) + k0;
                            }
                        }
                    }
                }
            });
        gx
    });

    let (gw, gb) = if !(need[1] || need[2]) {
        (None, None)
    } else {
        match rows.affine {
            Affine::Channels { c, .. } => {
                // ∂loss/∂γ_c = Σ g·x̂ and ∂loss/∂β_c = Σ g over the channel's runs, which
                // are the run sums (taken without γ) added up in row order
                let (mut sw, mut sb) = (vec![0.0f64; c], vec![0.0f64; c]);
                for (r, sums) in run_sums.chunks(runs_per_row).enumerate() {
                    for ((_, _, _, ch), run) in rows.runs(r, gamma, &zeros).zip(sums) {
                        sb[ch] += run[0];
                        sw[ch] += run[1];
                    }
                }
                let f32s = |v: Vec<f64>| v.into_iter().map(|s| s as f32).collect::<Vec<_>>();
                (need[1].then(|| f32s(sw)), need[2].then(|| f32s(sb)))
            }
            Affine::Positions => {
                // ∂loss/∂γ_j = Σ_rows g·x̂ and ∂loss/∂β_j = Σ_rows g: column sums, a block
                // of columns per task, every task over all rows in order
                const COLUMNS: usize = 256;
                let (mut gw, mut gb) = (vec![0.0f32; len], vec![0.0f32; len]);
                gw.par_chunks_mut(COLUMNS)
                    .zip(gb.par_chunks_mut(COLUMNS))
                    .enumerate()
                    .for_each(|(b, (gw, gb))| {
                        let j0 = b * COLUMNS;
                        let n = gw.len();
                        let (mut sw, mut sb) = (vec![0.0f64; n], vec![0.0f64; n]);
                        for r in 0..rows.rows {
                            let (mu, rstd) = stats[r];
                            let g = &g[r * len + j0..][..n];
                            let x = &x[r * len + j0..][..n];
                            for (((sw, sb), &g), &x) in sw.iter_mut().zip(&mut sb).zip(g).zip(x) {
                                *sw += (g * ((x - mu) * rstd)) as f64;
                                *sb += g as f64;
                            }
                        }
                        gw.iter_mut().zip(sw).for_each(|(o, s)| *o = s as f32);
                        gb.iter_mut().zip(sb).for_each(|(o, s)| *o = s as f32);
                    });
                (need[1].then_some(gw), need[2].then_some(gb))
            }
        }
    };
    (gx, gw, gb)
}

/// `1/√(σ² + eps)` in f64, rounded to f32.
fn inverse_std(var: f64, eps: f32) -> f32 {
    (1.0 / (var + eps as f64).sqrt()) as f32
}

/// The op shared by the three normalisations: `y = (x − μ)·r·γ + β` over `rows`, with the
/// rows' own statistics (`fixed = None`) or the given `(μ, r)` per row, recorded for
/// autograd with parents `[x, weight?, bias?]`. Also
/// returns the rows' mean and biased variance when they were computed.
#[allow(clippy::type_complexity)]
fn normalize_rows(
    op: &'static str,
    x: &Tensor,
    rows: Rows,
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
    fixed: Option<Vec<(f32, f32)>>,
    eps: f32,
) -> (Tensor, Option<Vec<(f64, f64)>>) {
    // Copies of the small parameter vectors, so that no two locks are held at once and
    // backward sees forward's values.
    let params = rows.params();
    let gamma = weight.map_or_else(|| vec![1.0; params], |w| w.to_vec());
    let beta = bias.map_or_else(|| vec![0.0; params], |b| b.to_vec());
    let through_stats = fixed.is_none();
    let (stats, moments) = match fixed {
        Some(stats) => (stats, None),
        None => {
            let moments = row_mean_var(&x.data(), &rows);
            let stats = moments
                .iter()
                .map(|&(m, v)| (m as f32, inverse_std(v, eps)))
                .collect();
            (stats, Some(moments))
        }
    };
    let y = forward_rows(&x.data(), &rows, &stats, &gamma, &beta);

    let input = x.clone();
    let (parents, affine) = AffineSlots::parents(x, weight, bias);
    let y = Tensor::from_op(op, x.shape().to_vec(), y, &parents, move |g, needs| {
        let need = affine.needs(needs);
        let (gx, gw, gb) =
            backward_rows(g, &input.data(), &rows, &stats, &gamma, through_stats, need);
        Ok(affine.gradients(gx, gw, gb))
    });
    (y, moments)
}

/// `eps > 0` and finite.
fn check_eps(op: &'static str, eps: f32) -> Result<()> {
    if !(eps > 0.0 && eps.is_finite()) {
        return Err(Error::config(
            op,
            format!("eps must be positive and finite, got {eps}"),
        ));
    }
    Ok(())
}

/// Each present parameter has the shape `want`.
fn check_params(
    op: &'static str,
    x: &[usize],
    want: &[usize],
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
) -> Result<()> {
    for (name, t) in [("weight", weight), ("bias", bias)] {
        if let Some(t) = t {
            if t.shape() != want {
                return Err(Error::shape(
                    op,
                    format!(
                        "{name} must be {want:?} for input {x:?}, got {:?}",
                        t.shape()
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// `[n, c, *]` with at least `min_rank` axes and a channel; returns `(n, c, inner)`.
fn channel_layout(op: &'static str, x: &[usize], min_rank: usize) -> Result<(usize, usize, usize)> {
    if x.len() < min_rank {
        let want = if min_rank == 2 {
            "[n, c, *]"
        } else {
            "[n, c, *] with a spatial axis"
        };
        return Err(Error::shape(op, format!("input must be {want}, got {x:?}")));
    }
    if x[1] == 0 {
        return Err(Error::shape(op, format!("input {x:?} has no channels")));
    }
    Ok((x[0], x[1], numel(&x[2..])))
}

// ================================================================ layer normalisation

impl Tensor {
    /// Layer normalisation, like `torch.nn.functional.layer_norm`, over the trailing axes
    /// `normalized_shape` of `self`: every sample `x` of `Π normalized_shape` values is
    /// normalised by its own mean and biased variance,
    /// `y = (x − μ)/√(σ² + eps)·γ + β`, `γ β` of shape `normalized_shape`, one value per
    /// position (`γ = 1`, `β = 0` when `None`).
    ///
    /// Errors: `normalized_shape` empty or not the trailing axes of `self`, a weight or
    /// bias of another shape, `eps` not positive.
    pub fn layer_norm(
        &self,
        normalized_shape: &[usize],
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        eps: f32,
    ) -> Result<Tensor> {
        const OP: &str = "layer_norm";
        let x = self.shape();
        let d = normalized_shape.len();
        if d == 0 || d > x.len() || x[x.len() - d..] != *normalized_shape {
            return Err(Error::shape(
                OP,
                format!(
                    "normalized_shape {normalized_shape:?} must be the trailing axes of input {x:?}"
                ),
            ));
        }
        check_params(OP, x, normalized_shape, weight, bias)?;
        check_eps(OP, eps)?;
        let len = numel(normalized_shape);
        let rows = Rows {
            rows: self.numel().checked_div(len).unwrap_or(0),
            len,
            affine: Affine::Positions,
        };
        Ok(normalize_rows(OP, self, rows, weight, bias, None, eps).0)
    }

    // ============================================================ group normalisation

    /// Group normalisation, like `torch.nn.functional.group_norm`, on `self [n, c, *]`: the
    /// channels of each sample are split into `groups` groups of `c/groups` consecutive
    /// channels, and each group (its channels and all their positions) is normalised by
    /// its own mean and biased variance, `y = (x − μ)/√(σ² + eps)·γ_c + β_c`,
    /// `γ β [c]` per channel.
    ///
    /// Errors: fewer than two axes, `groups` zero or not dividing `c`, a weight or bias not
    /// `[c]`, `eps` not positive.
    pub fn group_norm(
        &self,
        groups: usize,
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        eps: f32,
    ) -> Result<Tensor> {
        const OP: &str = "group_norm";
        let (n, c, inner) = channel_layout(OP, self.shape(), 2)?;
        if groups == 0 || c % groups != 0 {
            return Err(Error::config(
                OP,
                format!(
                    "groups {groups} must divide the {c} channels of input {:?}",
                    self.shape()
                ),
            ));
        }
        check_params(OP, self.shape(), &[c], weight, bias)?;
        check_eps(OP, eps)?;
        let per_row = c / groups;
        let rows = Rows {
            rows: n * groups,
            len: per_row * inner,
            affine: Affine::Channels { c, per_row, inner },
        };
        Ok(normalize_rows(OP, self, rows, weight, bias, None, eps).0)
    }

    // ============================================================ instance normalisation

    /// Instance normalisation, like `torch.nn.functional.instance_norm`, on
    /// `self [n, c, *]` (at least one axis after the channel): each channel of each sample
    /// is normalised on its own, `y = (x − μ)/√(σ² + eps)·γ_c + β_c`, `γ β [c]`.
    ///
    /// - `use_input_stats = true`: `μ σ²` are the mean and biased variance of the
    ///   `(sample, channel)` plane. If running statistics `[c]` are given they are updated
    ///   in place as PyTorch does, from each plane's statistics averaged over the batch:
    ///   `running_mean ← (1 − momentum)·running_mean + momentum·mean_n(μ)`,
    ///   `running_var ← (1 − momentum)·running_var + momentum·mean_n(σ²·m/(m − 1))`
    ///   (`m` the values per plane: the *unbiased* variance). Needs `m > 1`.
    /// - `use_input_stats = false`: `μ = running_mean`, `σ² = running_var` (both needed),
    ///   neither modified; the op is a per-channel affine map.
    ///
    /// `cfg` gives momentum and eps. The running statistics are buffers and never receive
    /// a gradient.
    pub fn instance_norm(
        &self,
        running_mean: Option<&Tensor>,
        running_var: Option<&Tensor>,
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        use_input_stats: bool,
        cfg: &BatchNormConfig,
    ) -> Result<Tensor> {
        const OP: &str = "instance_norm";
        let x = self.shape();
        let (n, c, inner) = channel_layout(OP, x, 3)?;
        check_params(OP, x, &[c], weight, bias)?;
        for (name, t) in [("running_mean", running_mean), ("running_var", running_var)] {
            if let Some(t) = t {
                if t.shape() != [c] {
                    return Err(Error::shape(
                        OP,
                        format!("{name} must be [{c}] for input {x:?}, got {:?}", t.shape()),
                    ));
                }
            }
        }
        check_eps(OP, cfg.eps)?;
        if !(0.0..=1.0).contains(&cfg.momentum) {
            return Err(Error::config(
                OP,
                format!("momentum must be in [0, 1], got {}", cfg.momentum),
            ));
        }
        let rows = Rows {
            rows: n * c,
            len: inner,
            affine: Affine::Channels {
                c,
                per_row: 1,
                inner,
            },
        };
        if !use_input_stats {
            let (Some(rm), Some(rv)) = (running_mean, running_var) else {
                return Err(Error::config(
                    OP,
                    format!(
                        "use_input_stats = false needs running_mean and running_var (input {x:?})"
                    ),
                ));
            };
            let (rm, rv) = (rm.to_vec(), rv.to_vec());
            let stats = (0..n * c)
                .map(|r| (rm[r % c], inverse_std(rv[r % c] as f64, cfg.eps)))
                .collect();
            return Ok(normalize_rows(OP, self, rows, weight, bias, Some(stats), cfg.eps).0);
        }
        if inner <= 1 {
            return Err(Error::shape(
                OP,
                format!("expected more than 1 spatial value per channel when using input statistics, got input {x:?}"),
            ));
        }
        let (y, moments) = normalize_rows(OP, self, rows, weight, bias, None, cfg.eps);
        let moments = moments.expect("input statistics were computed");
        let momentum = cfg.momentum as f64;
        let unbias = inner as f64 / (inner as f64 - 1.0);
        let update = |running: Option<&Tensor>, stat: &dyn Fn(usize) -> f64| {
            if let Some(running) = running {
                let mut r = running.data_mut();
                for (ch, v) in r.iter_mut().enumerate() {
                    // each sample's running value updated, then averaged over the batch
                    let avg = (0..n)
                        .map(|i| (1.0 - momentum) * *v as f64 + momentum * stat(i * c + ch))
                        .sum::<f64>()
                        / n.max(1) as f64;
                    if n > 0 {
                        *v = avg as f32;
                    }
                }
            }
        };
        update(running_mean, &|r| moments[r].0);
        update(running_var, &|r| moments[r].1 * unbias);
        Ok(y)
    }
}
