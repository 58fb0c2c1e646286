//! Resampling of images: [`Tensor::interpolate`] in the modes nearest, nearest-exact and
//! bilinear, by output size or by scale factor, forward and backward, equal to PyTorch's
//! `torch.nn.functional.interpolate`; and the weight of a transposed convolution that
//! upsamples bilinearly ([`bilinear_upsampling_weight`], FCN's `get_upsampling_weight`).
//!
//! Legend: input `x [n, c, h, w]`, output `y [n, c, oh, ow]`; a *plane* is one
//! `(image, channel)` pair. Per axis: `in` and `out` its input and output sizes, `s` the
//! scale factor when one is given (`out = ⌊in·s⌋`), `o` an output index, `ratio` the step
//! in input coordinates per output index, in f32 as PyTorch computes it:
//! - bilinear with `align_corners`: `ratio = (in − 1)/(out − 1)` (0 when `out = 1`);
//! - otherwise `ratio = 1/s` when a scale was given (and not recomputed), else `in/out`.
//!
//! The source of output index `o` ([`axis_taps`], the one place these formulas live):
//! - nearest: `⌊o·ratio⌋` (PyTorch's legacy rule, OpenCV's INTER_NEAREST); `o` itself when
//!   `out = in` and `⌊o/2⌋` when `out = 2·in`, as PyTorch does;
//! - nearest-exact: `⌊(o + ½)·ratio⌋` (pixel centres, as Pillow and scikit-image);
//! - bilinear: the coordinate `src = o·ratio` (`align_corners`) or
//!   `src = max(0, (o + ½)·ratio − ½)`, taps `i0 = ⌊src⌋` and `i1 = i0 + 1`, weights
//!   `λ1 = src − i0`, `λ0 = 1 − λ1` (a copy when `out = in`);
//!
//! every index clipped to `in − 1`. Bilinear is separable,
//! `y[oy, ox] = Σ λh·(Σ λw·x[ih, iw])`: each needed input row is first interpolated along
//! `w`, then two such rows are blended per output row, so both loops run along contiguous
//! rows. Backward is the adjoint: `∂loss/∂y` spread back onto the taps with the same
//! weights (rows blended back, then scattered along `w`). Planes run on the pool.

use crate::cpu::par::MIN_PARALLEL;
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use rayon::prelude::*;

// ================================================================ configuration

/// How [`Tensor::interpolate`] reads between input pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InterpolateMode {
    /// PyTorch's `mode="nearest"`: the source pixel `⌊o·ratio⌋` (the default, as in
    /// PyTorch; shifts the image by up to a pixel when downsampling).
    Nearest,
    /// PyTorch's `mode="nearest-exact"`: the pixel whose centre is nearest,
    /// `⌊(o + ½)·ratio⌋`.
    NearestExact,
    /// PyTorch's `mode="bilinear"`: the weighted mean of the four nearest pixels.
    Bilinear {
        /// Whether the corner pixels of input and output are aligned (their centres map to
        /// each other) rather than their outer edges.
        align_corners: bool,
    },
}

/// The size of an interpolation's output, given directly or as scale factors.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OutputSize {
    /// `[oh, ow]`.
    Size([usize; 2]),
    /// `[s_h, s_w]`: `out = ⌊in·s⌋` per axis, each factor positive and finite.
    Scale([f64; 2]),
}

/// Settings of [`Tensor::interpolate`]; PyTorch's defaults are mode nearest and
/// `recompute_scale_factor = false`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InterpolateConfig {
    /// Output size or scale factors.
    pub output: OutputSize,
    /// Nearest, nearest-exact or bilinear.
    pub mode: InterpolateMode,
    /// With a scale factor: `false` (PyTorch's default) places the samples with `1/s`,
    /// `true` with `in/out` of the rounded output size. Meaningless (an error) with an
    /// explicit size.
    pub recompute_scale_factor: bool,
}

impl InterpolateConfig {
    /// To the output size `[oh, ow]`, mode nearest.
    pub fn size(oh: usize, ow: usize) -> Self {
        InterpolateConfig {
            output: OutputSize::Size([oh, ow]),
            mode: InterpolateMode::Nearest,
            recompute_scale_factor: false,
        }
    }
    /// By the scale factor `s` on both axes, mode nearest.
    pub fn scale(s: f64) -> Self {
        Self::scales(s, s)
    }
    /// By the scale factors `s_h`, `s_w`, mode nearest.
    pub fn scales(s_h: f64, s_w: f64) -> Self {
        InterpolateConfig {
            output: OutputSize::Scale([s_h, s_w]),
            ..Self::size(0, 0)
        }
    }
    /// With the given mode.
    pub fn mode(mut self, mode: InterpolateMode) -> Self {
        self.mode = mode;
        self
    }
    /// Mode bilinear.
    pub fn bilinear(self, align_corners: bool) -> Self {
        self.mode(InterpolateMode::Bilinear { align_corners })
    }
    /// Mode nearest-exact.
    pub fn nearest_exact(self) -> Self {
        self.mode(InterpolateMode::NearestExact)
    }
    /// Whether the sample positions use the rounded output size instead of the scale.
    pub fn recompute_scale_factor(mut self, on: bool) -> Self {
        self.recompute_scale_factor = on;
        self
    }
}

/// The output shape `[n, c, oh, ow]` of [`Tensor::interpolate`] on an input of shape
/// `input`: `out = ⌊in·s⌋` per axis for scale factors, the given size otherwise.
///
/// Errors: an input that is not `[n, c, h, w]` or has an empty axis `h` or `w`, a scale
/// factor that is not positive and finite, `recompute_scale_factor` with an explicit size,
/// an output size of zero, an output whose number of values overflows.
pub fn interpolate_output_shape(input: &[usize], cfg: &InterpolateConfig) -> Result<[usize; 4]> {
    const OP: &str = "interpolate";
    if input.len() != 4 {
        return Err(Error::shape(
            OP,
            format!("input must be [n, c, h, w], got {input:?}"),
        ));
    }
    if input[2] == 0 || input[3] == 0 {
        return Err(Error::shape(
            OP,
            format!("input {input:?} has an empty spatial axis"),
        ));
    }
    let out = match cfg.output {
        OutputSize::Size(size) => {
            if cfg.recompute_scale_factor {
                return Err(Error::config(
                    OP,
                    "recompute_scale_factor is not meaningful with an explicit size",
                ));
            }
            size
        }
        OutputSize::Scale(scale) => {
            if scale.iter().any(|s| !(*s > 0.0 && s.is_finite())) {
                return Err(Error::config(
                    OP,
                    format!("scale factors must be positive and finite, got {scale:?}"),
                ));
            }
            let axis = |k: usize| {
                let o = (input[2 + k] as f64 * scale[k]).floor();
                if o >= usize::MAX as f64 {
                    usize::MAX
                } else {
                    o as usize
                }
            };
            [axis(0), axis(1)]
        }
    };
    if out.contains(&0) {
        return Err(Error::shape(
            OP,
            format!(
                "output size {out:?} of input {input:?} ({:?}) must be positive",
                cfg.output
            ),
        ));
    }
    let shape = [input[0], input[1], out[0], out[1]];
    if shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .is_none()
    {
        return Err(Error::shape(
            OP,
            format!("output {shape:?} of input {input:?} has too many values"),
        ));
    }
    Ok(shape)
}

// ================================================================ taps along one axis

/// Where each output index of one axis reads: one tap `i0` (nearest modes) or two taps
/// `i0 i1` with weights `λ0 λ1` (bilinear).
#[derive(Clone, Debug, PartialEq)]
pub struct AxisTaps {
    /// First tap of each output index.
    pub i0: Vec<usize>,
    /// Second tap (bilinear; equal to `i0` otherwise).
    pub i1: Vec<usize>,
    /// Weight of the first tap (1 for the nearest modes).
    pub l0: Vec<f32>,
    /// Weight of the second tap (0 for the nearest modes).
    pub l1: Vec<f32>,
    /// Whether there are two taps (bilinear).
    pub two: bool,
}

/// The taps of an axis of `input` values resampled to `output` values in `mode`, with the
/// user's scale factor `scale` (`None` when the size was given or the scale recomputed):
/// the formulas of the module doc, in f32 as PyTorch computes them.
pub fn axis_taps(
    input: usize,
    output: usize,
    scale: Option<f64>,
    mode: InterpolateMode,
) -> AxisTaps {
    let last = input as i64 - 1;
    // PyTorch's compute_scales_value: 1/s if a scale was given, else in/out
    let ratio_of = || match scale {
        Some(s) if s > 0.0 => (1.0 / s) as f32,
        _ => input as f32 / output as f32,
    };
    let clip = |i: f32| (i.floor() as i64).min(last).max(0) as usize;
    let one = |i0: Vec<usize>| AxisTaps {
        i1: i0.clone(),
        l0: vec![1.0; output],
        l1: vec![0.0; output],
        two: false,
        i0,
    };
    match mode {
        InterpolateMode::Nearest => {
            let ratio = ratio_of();
            one((0..output)
                .map(|o| {
                    if output == input {
                        o
                    } else if output == 2 * input {
                        o >> 1
                    } else {
                        clip(o as f32 * ratio)
                    }
                })
                .collect())
        }
        InterpolateMode::NearestExact => {
            let ratio = ratio_of();
            one((0..output)
                .map(|o| clip(((o as f64 + 0.5) * ratio as f64) as f32))
                .collect())
        }
        InterpolateMode::Bilinear { align_corners } => {
            let ratio = if align_corners {
                if output > 1 {
                    (input - 1) as f32 / (output - 1) as f32
                } else {
                    0.0
                }
            } else {
                ratio_of()
            };
            let mut t = AxisTaps {
                i0: Vec::with_capacity(output),
                i1: Vec::with_capacity(output),
                l0: Vec::with_capacity(output),
                l1: Vec::with_capacity(output),
                two: true,
            };
            for o in 0..output {
                let (i0, i1, l0, l1) = if output == input {
                    (o, o, 1.0, 0.0)
                } else {
                    let src = if align_corners {
                        ratio * o as f32
                    } else {
                        (ratio * (o as f32 + 0.5) - 0.5).max(0.0)
                    };
                    let i0 = (src.floor() as i64).min(last).max(0);
                    let l1 = (src - i0 as f32).clamp(0.0, 1.0);
                    let i1 = i0 + (i0 < last) as i64;
                    (i0 as usize, i1 as usize, 1.0 - l1, l1)
                };
                t.i0.push(i0);
                t.i1.push(i1);
                t.l0.push(l0);
                t.l1.push(l1);
            }
            t
        }
    }
}

// ================================================================ kernels

/// One output row from one input row along `w`: `out[ox] = λ0·row[i0] + λ1·row[i1]`.
#[inline]
fn resample_row(row: &[f32], taps: &AxisTaps, out: &mut [f32]) {
    if taps.two {
        for ((((o, &i0), &i1), &l0), &l1) in out
            .iter_mut()
            .zip(&taps.i0)
            .zip(&taps.i1)
            .zip(&taps.l0)
            .zip(&taps.l1)
        {
            *o = row[i0] * l0 + row[i1] * l1;
        }
    } else {
        for (o, &i0) in out.iter_mut().zip(&taps.i0) {
            *o = row[i0];
        }
    }
}

/// The adjoint of [`resample_row`], accumulated: `row[i0] += λ0·g[ox]`, `row[i1] += λ1·g[ox]`.
#[inline]
fn resample_row_adjoint(g: &[f32], taps: &AxisTaps, row: &mut [f32]) {
    if taps.two {
        for ((((&g, &i0), &i1), &l0), &l1) in g
            .iter()
            .zip(&taps.i0)
            .zip(&taps.i1)
            .zip(&taps.l0)
            .zip(&taps.l1)
        {
            row[i0] += l0 * g;
            row[i1] += l1 * g;
        }
    } else {
        for (&g, &i0) in g.iter().zip(&taps.i0) {
            row[i0] += g;
        }
    }
}

/// The input rows that some output row reads, in order.
fn rows_read(h: usize, th: &AxisTaps) -> Vec<usize> {
    let mut read = vec![false; h];
    for (&a, &b) in th.i0.iter().zip(&th.i1) {
        read[a] = true;
        read[b] = true;
    }
    (0..h).filter(|&ih| read[ih]).collect()
}

/// Resamples one plane `x [h, w]` into `y [oh, ow]`; `rows [h, ow]` is scratch, `read` the
/// input rows read ([`rows_read`]).
fn forward_plane(
    x: &[f32],
    y: &mut [f32],
    w: usize,
    (th, tw): (&AxisTaps, &AxisTaps),
    read: &[usize],
    rows: &mut [f32],
) {
    let ow = tw.i0.len();
    if th.two {
        // every input row that an output row reads, resampled along w once
        for &ih in read {
            resample_row(&x[ih * w..][..w], tw, &mut rows[ih * ow..][..ow]);
        }
        // then blended: y[oy] = λ0·rows[i0] + λ1·rows[i1]
        for (oy, y) in y.chunks_exact_mut(ow).enumerate() {
            let (a, b) = (&rows[th.i0[oy] * ow..][..ow], &rows[th.i1[oy] * ow..][..ow]);
            let (l0, l1) = (th.l0[oy], th.l1[oy]);
            for ((y, &a), &b) in y.iter_mut().zip(a).zip(b) {
                *y = a * l0 + b * l1;
            }
        }
    } else {
        // one source row per output row: resampled once, copied when repeated
        for oy in 0..th.i0.len() {
            let (before, rest) = y.split_at_mut(oy * ow);
            if oy > 0 && th.i0[oy] == th.i0[oy - 1] {
                rest[..ow].copy_from_slice(&before[(oy - 1) * ow..]);
            } else {
                resample_row(&x[th.i0[oy] * w..][..w], tw, &mut rest[..ow]);
            }
        }
    }
}

/// The adjoint of [`forward_plane`], accumulated into `gx [h, w]` (zero on entry); `rows
/// [h, ow]` is scratch.
fn backward_plane(
    g: &[f32],
    gx: &mut [f32],
    w: usize,
    (th, tw): (&AxisTaps, &AxisTaps),
    read: &[usize],
    rows: &mut [f32],
) {
    let ow = tw.i0.len();
    for &ih in read {
        rows[ih * ow..][..ow].fill(0.0);
    }
    // rows[i0] += λ0·g[oy], rows[i1] += λ1·g[oy]: the blend, transposed
    for (oy, g) in g.chunks_exact(ow).enumerate() {
        let r = &mut rows[th.i0[oy] * ow..][..ow];
        if th.two {
            let l0 = th.l0[oy];
            r.iter_mut().zip(g).for_each(|(r, &g)| *r += l0 * g);
            let (l1, r) = (th.l1[oy], &mut rows[th.i1[oy] * ow..][..ow]);
            r.iter_mut().zip(g).for_each(|(r, &g)| *r += l1 * g);
        } else {
            r.iter_mut().zip(g).for_each(|(r, &g)| *r += g);
        }
    }
    // then each row read scattered back along w
    for &ih in read {
        resample_row_adjoint(&rows[ih * ow..][..ow], tw, &mut gx[ih * w..][..w]);
    }
}

/// Planes per task on the pool: enough that a task has `MIN_PARALLEL` output values.
fn planes_per_task(plane: usize) -> usize {
    (MIN_PARALLEL / plane.max(1)).max(1)
}

/// Resamples every `[h, w]` plane of `x` to `[oh, ow]` (the forward kernel).
pub fn interpolate_planes(x: &[f32], h: usize, w: usize, th: &AxisTaps, tw: &AxisTaps) -> Vec<f32> {
    let (oh, ow) = (th.i0.len(), tw.i0.len());
    let planes = x.len() / (h * w).max(1);
    let mut y = vec![0.0f32; planes * oh * ow];
    if y.is_empty() {
        return y;
    }
    let read = rows_read(h, th);
    y.par_chunks_mut(oh * ow)
        .zip(x.par_chunks(h * w))
        .with_min_len(planes_per_task(oh * ow))
        .for_each_init(
            || vec![0.0f32; h * ow],
            |rows, (y, x)| forward_plane(x, y, w, (th, tw), &read, rows),
        );
    y
}

/// The adjoint of [`interpolate_planes`]: `∂loss/∂x` from `∂loss/∂y` (the backward kernel).
pub fn interpolate_planes_backward(
    g: &[f32],
    h: usize,
    w: usize,
    th: &AxisTaps,
    tw: &AxisTaps,
) -> Vec<f32> {
    let (oh, ow) = (th.i0.len(), tw.i0.len());
    let planes = g.len() / (oh * ow).max(1);
    let mut gx = vec![0.0f32; planes * h * w];
    if gx.is_empty() {
        return gx;
    }
    let read = rows_read(h, th);
    gx.par_chunks_mut(h * w)
        .zip(g.par_chunks(oh * ow))
        .with_min_len(planes_per_task(oh * ow))
        .for_each_init(
            || vec![0.0f32; h * ow],
            |rows, (gx, g)| backward_plane(g, gx, w, (th, tw), &read, rows),
        );
    gx
}

impl Tensor {
    /// Resamples `self [n, c, h, w]` to `[n, c, oh, ow]`, like
    /// `torch.nn.functional.interpolate` in the modes nearest, nearest-exact and bilinear
    /// (see the module doc for where each output pixel reads). With a scale factor `s` the
    /// output size is `⌊in·s⌋` and, by default, the sample positions use `1/s` (PyTorch's
    /// `recompute_scale_factor=None`), so non-integer factors match PyTorch exactly.
    ///
    /// Backward: each `∂loss/∂y` is added to the input pixels it was read from, with the
    /// same weights. Errors: see [`interpolate_output_shape`].
    pub fn interpolate(&self, cfg: &InterpolateConfig) -> Result<Tensor> {
        let out = interpolate_output_shape(self.shape(), cfg)?;
        let (h, w) = (self.shape()[2], self.shape()[3]);
        let scale = |k: usize| match cfg.output {
            OutputSize::Scale(s) if !cfg.recompute_scale_factor => Some(s[k]),
            _ => None,
        };
        crate::tensor::size::check_shape("interpolate", &out)?;
        let th = axis_taps(h, out[2], scale(0), cfg.mode);
        let tw = axis_taps(w, out[3], scale(1), cfg.mode);
        let y = interpolate_planes(&self.data(), h, w, &th, &tw);
        Ok(Tensor::from_op(
            "interpolate",
            out.to_vec(),
            y,
            &[self],
            move |g, _| Ok(vec![Some(interpolate_planes_backward(g, h, w, &th, &tw))]),
        ))
    }
}

// ================================================================ bilinear transposed convolution

/// Kernel size of a transposed convolution that upsamples by `factor` bilinearly:
/// `2·factor − factor mod 2` (FCN's choice), used with stride `factor` and padding
/// `⌊factor/2⌋`, which makes the output exactly `factor` times the input.
pub fn bilinear_kernel_size(factor: usize) -> usize {
    2 * factor - factor % 2
}

/// FCN's `get_upsampling_weight`: the weight `[channels, channels, k, k]` of a transposed
/// convolution that upsamples each channel on its own by bilinear interpolation. On the
/// diagonal (input channel `i` to output channel `i`) the separable triangle filter
/// `K[a, b] = (1 − |a − centre|/f)·(1 − |b − centre|/f)`, `f = ⌈k/2⌉`,
/// `centre = f − 1` for odd `k` and `f − ½` for even `k`; zero between different channels.
///
/// With stride `f` and padding `⌊f/2⌋` for `k =` [`bilinear_kernel_size`]`(f)`, away from
/// the border the output equals bilinear interpolation by `f` with `align_corners=false`.
/// Errors: zero channels or kernel size.
pub fn bilinear_upsampling_weight(channels: usize, kernel: usize) -> Result<Tensor> {
    if channels == 0 || kernel == 0 {
        return Err(Error::config(
            "bilinear_upsampling_weight",
            format!("channels {channels} and kernel size {kernel} must be positive"),
        ));
    }
    let f = kernel.div_ceil(2);
    let centre = if kernel % 2 == 1 {
        f as f64 - 1.0
    } else {
        f as f64 - 0.5
    };
    let tri: Vec<f64> = (0..kernel)
        .map(|a| 1.0 - (a as f64 - centre).abs() / f as f64)
        .collect();
    let kk = kernel * kernel;
    let mut w = vec![0.0f32; channels * channels * kk];
    for ch in 0..channels {
        let block = &mut w[(ch * channels + ch) * kk..][..kk];
        for (a, row) in block.chunks_exact_mut(kernel).enumerate() {
            for (b, v) in row.iter_mut().enumerate() {
                *v = (tri[a] * tri[b]) as f32;
            }
        }
    }
    Tensor::from_vec(w, &[channels, channels, kernel, kernel])
}
