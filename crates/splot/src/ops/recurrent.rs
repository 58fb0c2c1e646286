//! Recurrent ops: one LSTM layer in one direction over a whole batch of sequences, forward
//! and backward through time, recorded as ONE autograd op (the layers of
//! [`crate::nn::LSTM`] and the step of [`crate::nn::LSTMCell`] are built from it).
//!
//! Legend: `T` time steps, `N` sequences in the batch, `I` input features, `H` hidden units,
//! `4H` the four gates stacked in PyTorch's order: input `i`, forget `f`, cell `g`, output
//! `o`. `t` is a time, `s` a step of the recurrence (the `s`-th time a direction visits:
//! `t = s` forward, `t = len − 1 − s` in reverse), `n` a sequence, `r` the row of `(t, n)`
//! in the input and output (`t·N + n`, or `n·T + t` with `batch_first`).
//!
//! Forward, at each step, `a = x_t·W_ihᵀ + b_ih + h_{t−1}·W_hhᵀ + b_hh` (`[N, 4H]`), then
//! ```text
//!   i = σ(a_i)   f = σ(a_f)   g = tanh(a_g)   o = σ(a_o)
//!   c_t = f ⊙ c_{t−1} + i ⊙ g        h_t = o ⊙ tanh(c_t)
//! ```
//! The input projection of all steps is one GEMM (`X·W_ihᵀ`, `[T·N, 4H]`), then each step
//! is one GEMM `h·W_hhᵀ` and a fused gate kernel that keeps what backward needs (the gates,
//! `c_{t−1}`, `h_{t−1}`, `tanh c_t`).
//!
//! Backward, steps in reverse, with `dh = ∂L/∂h_t` (output gradient plus the next step's)
//! and `dc = ∂L/∂c_t` (from the next step):
//! ```text
//!   dc  += dh ⊙ o ⊙ (1 − tanh² c_t)
//!   da_i = dc ⊙ g ⊙ i(1 − i)          da_f = dc ⊙ c_{t−1} ⊙ f(1 − f)
//!   da_g = dc ⊙ i ⊙ (1 − g²)          da_o = dh ⊙ tanh c_t ⊙ o(1 − o)
//!   ∂L/∂c_{t−1} = dc ⊙ f              ∂L/∂h_{t−1} = da·W_hh   (one GEMM per step)
//! ```
//! and then over all steps at once: `∂L/∂X = dA·W_ih`, `∂L/∂W_ih = dAᵀ·X`,
//! `∂L/∂W_hh = dAᵀ·H_prev`, `∂L/∂b_ih = ∂L/∂b_hh = Σ_rows dA` (single big GEMMs).
//!
//! Sequences of different lengths (PyTorch's packed sequences): a sequence of length `len`
//! is active at steps `s < len`; at the other steps its state is left alone, so `h_n`,
//! `c_n` are its state at its last valid step, and its outputs at times `t ≥ len` are 0.
//!
//! The op's one output is the concatenation `[output (T·N·H) | h_n (N·H) | c_n (N·H)]`,
//! which [`Tensor::lstm_layer`] splits and reshapes (both with their own backward), so
//! gradients may reach the layer through any of the three.
//!
//! σ is computed as `½ + ½·tanh(x/2)` with the vectorised [`math::tanh`] (within 4 ulp),
//! so the gate kernels run SIMD-wide.

use crate::cpu::gemm::{sgemm, MatRef};
use crate::cpu::math;
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use rayon::prelude::*;
use std::marker::PhantomData;

/// How an LSTM layer reads its sequence.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LstmLayout {
    /// Input and output are `[N, T, ·]` instead of `[T, N, ·]`.
    pub batch_first: bool,
    /// The direction visits each sequence from its last valid time to its first (the
    /// reverse half of a bidirectional layer).
    pub reverse: bool,
}

/// The weights of one LSTM layer in one direction, in PyTorch's shapes and gate order
/// (`i, f, g, o` stacked along the first axis).
#[derive(Clone, Copy, Debug)]
pub struct LstmWeights<'a> {
    /// `W_ih`, `[4H, I]`.
    pub weight_ih: &'a Tensor,
    /// `W_hh`, `[4H, H]`.
    pub weight_hh: &'a Tensor,
    /// `(b_ih, b_hh)`, each `[4H]`, or none.
    pub bias: Option<(&'a Tensor, &'a Tensor)>,
}

/// Sizes of one layer's problem.
#[derive(Clone, Copy, Debug)]
struct Dims {
    t: usize,
    n: usize,
    i: usize,
    h: usize,
    batch_first: bool,
    reverse: bool,
}

impl Dims {
    fn rows(&self) -> usize {
        self.t * self.n
    }

    /// Row of `(t, n)` in the input and output.
    fn row(&self, t: usize, n: usize) -> usize {
        if self.batch_first {
            n * self.t + t
        } else {
            t * self.n + n
        }
    }

    /// The time a sequence of length `len` visits at step `s`, if it is still active.
    fn time(&self, s: usize, len: usize) -> Option<usize> {
        (s < len).then(|| if self.reverse { len - 1 - s } else { s })
    }
}

/// The output shape of an LSTM layer (or stack) over `input` (`[T, N, I]`, or `[N, T, I]`
/// with `batch_first`): `[T, N, H]` (`[N, T, H]`), with `H = hidden` times the number of
/// directions for a bidirectional stack.
pub fn lstm_output_shape(input: &[usize], hidden: usize, batch_first: bool) -> Result<Vec<usize>> {
    if input.len() != 3 {
        let want = if batch_first {
            "[N, T, I]"
        } else {
            "[T, N, I]"
        };
        return Err(Error::shape(
            "lstm",
            format!("input must be {want}, got {input:?}"),
        ));
    }
    Ok(vec![input[0], input[1], hidden])
}

/// Checks every shape of one layer and returns its sizes.
fn check(
    x: &[usize],
    state: (&[usize], &[usize]),
    w: &LstmWeights,
    lengths: Option<&[usize]>,
    layout: LstmLayout,
) -> Result<Dims> {
    const OP: &str = "lstm";
    let (wih, whh) = (w.weight_ih.shape(), w.weight_hh.shape());
    if whh.len() != 2 || whh[0] != 4 * whh[1] || whh[1] == 0 {
        return Err(Error::shape(
            OP,
            format!("weight_hh must be [4H, H] with H > 0, got {whh:?}"),
        ));
    }
    let h = whh[1];
    lstm_output_shape(x, h, layout.batch_first)?;
    let (t, n) = if layout.batch_first {
        (x[1], x[0])
    } else {
        (x[0], x[1])
    };
    let i = x[2];
    if t == 0 || n == 0 || i == 0 {
        return Err(Error::shape(
            OP,
            format!("input {x:?} is empty: needs at least one step, sequence and feature"),
        ));
    }
    if wih != [4 * h, i] {
        return Err(Error::shape(
            OP,
            format!(
                "weight_ih must be [4H, I] = [{}, {i}] for input {x:?} and hidden size {h}, got {wih:?}",
                4 * h
            ),
        ));
    }
    if let Some((bih, bhh)) = w.bias {
        if bih.shape() != [4 * h] || bhh.shape() != [4 * h] {
            return Err(Error::shape(
                OP,
                format!(
                    "biases must be [4H] = [{}], got {:?} and {:?}",
                    4 * h,
                    bih.shape(),
                    bhh.shape()
                ),
            ));
        }
    }
    for (name, s) in [("h0", state.0), ("c0", state.1)] {
        if s != [n, h] {
            return Err(Error::shape(
                OP,
                format!("{name} must be [N, H] = [{n}, {h}] for input {x:?}, got {s:?}"),
            ));
        }
    }
    if let Some(lens) = lengths {
        if lens.len() != n || lens.iter().any(|&l| l == 0 || l > t) {
            return Err(Error::shape(
                OP,
                format!(
                    "lengths {lens:?} must give each of the {n} sequences a length in 1..={t} (input {x:?})"
                ),
            ));
        }
    }
    Ok(Dims {
        t,
        n,
        i,
        h,
        batch_first: layout.batch_first,
        reverse: layout.reverse,
    })
}

/// Rows of a buffer that the tasks of one step write, each task its own sequences' rows.
#[derive(Clone, Copy)]
struct SharedRows<'a> {
    ptr: *mut f32,
    rows: usize,
    width: usize,
    buf: PhantomData<&'a mut [f32]>,
}

// SAFETY: the rows handed out by `row` are disjoint between tasks (each task owns the rows
// of its own sequences at this step), as every caller states.
unsafe impl Send for SharedRows<'_> {}
unsafe impl Sync for SharedRows<'_> {}

impl<'a> SharedRows<'a> {
    fn new(buf: &'a mut [f32], width: usize) -> Self {
        SharedRows {
            ptr: buf.as_mut_ptr(),
            rows: buf.len() / width.max(1),
            width,
            buf: PhantomData,
        }
    }

    /// Row `r`.
    ///
    /// # Safety
    /// No other reference to row `r` may be alive while the returned one is.
    #[allow(clippy::mut_from_ref)]
    unsafe fn row(&self, r: usize) -> &'a mut [f32] {
        assert!(r < self.rows, "row {r} of {}", self.rows);
        // SAFETY: in bounds (checked above); exclusive by the caller's promise.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(r * self.width), self.width) }
    }
}

/// Sequences per task of a step's gate kernel: about 8K values each, all in one task when
/// the step is small.
fn sequences_per_task(d: &Dims) -> usize {
    (8192 / d.h).max(1)
}

/// Runs its body compiled for AVX-512 (or AVX2) when the CPU has it: the gate kernels then
/// run 16 (8) lanes wide. Products and sums only (no FMA), so values are the same on every
/// CPU.
macro_rules! wide {
    ($(#[$meta:meta])* fn $name:ident$(<const $k:ident: bool>)?($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$meta])*
        fn $name$(<const $k: bool>)?($($arg: $ty),*) {
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            fn body$(<const $k: bool>)?($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f")]
            #[allow(clippy::too_many_arguments)]
            unsafe fn avx512$(<const $k: bool>)?($($arg: $ty),*) {
                body$(::<$k>)?($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2")]
            #[allow(clippy::too_many_arguments)]
            unsafe fn avx2$(<const $k: bool>)?($($arg: $ty),*) {
                body$(::<$k>)?($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            {
                if std::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU has the features the function is compiled for.
                    return unsafe { avx512$(::<$k>)?($($arg),*) };
                }
                if std::is_x86_feature_detected!("avx2") {
                    // SAFETY: as above.
                    return unsafe { avx2$(::<$k>)?($($arg),*) };
                }
            }
            body$(::<$k>)?($($arg),*)
        }
    };
}

/// `σ(x) = 1/(1 + e^{−x}) = ½ + ½·tanh(x/2)`, branch-free (vectorises).
#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    0.5 + 0.5 * math::tanh(0.5 * x)
}

/// The four gate slices `[i, f, g, o]` of a `4H` row.
#[inline(always)]
fn gates_of(a: &[f32], h: usize) -> [&[f32]; 4] {
    let (i, rest) = a[..4 * h].split_at(h);
    let (f, rest) = rest.split_at(h);
    let (g, o) = rest.split_at(h);
    [i, f, g, o]
}

wide! {
    /// One sequence at one step, forward: `a` (the input projection with biases) becomes the
    /// gates `[i, f, g, o]` (kept for backward when `KEEP`), `rec` is `h_{t−1}·W_hhᵀ`; `h`,
    /// `c` are the sequence's state, updated in place; `out` receives `h_t`; with `KEEP`,
    /// `h_prev`, `c_prev` and `tanh_c` receive `h_{t−1}`, `c_{t−1}` and `tanh c_t`.
    #[allow(clippy::too_many_arguments)]
    fn cell_forward<const KEEP: bool>(
        a: &mut [f32],
        rec: &[f32],
        h: &mut [f32],
        c: &mut [f32],
        out: &mut [f32],
        h_prev: &mut [f32],
        c_prev: &mut [f32],
        tanh_c: &mut [f32],
    ) {
        let hn = h.len();
        let (ai, rest) = a[..4 * hn].split_at_mut(hn);
        let (af, rest) = rest.split_at_mut(hn);
        let (ag, ao) = rest.split_at_mut(hn);
        let [ri, rf, rg, ro] = gates_of(rec, hn);
        let (c, out) = (&mut c[..hn], &mut out[..hn]);
        for j in 0..hn {
            let i = sigmoid(ai[j] + ri[j]);
            let f = sigmoid(af[j] + rf[j]);
            let g = math::tanh(ag[j] + rg[j]);
            let o = sigmoid(ao[j] + ro[j]);
            let cp = c[j];
            let cn = f * cp + i * g;
            let tc = math::tanh(cn);
            let hv = o * tc;
            if KEEP {
                ai[j] = i;
                af[j] = f;
                ag[j] = g;
                ao[j] = o;
                h_prev[j] = h[j];
                c_prev[j] = cp;
                tanh_c[j] = tc;
            }
            c[j] = cn;
            h[j] = hv;
            out[j] = hv;
        }
    }
}

wide! {
    /// One sequence at one step, backward: from the kept gates `[i, f, g, o]`, `tanh c_t`
    /// and `c_{t−1}`, the output gradient `g_out` and the state gradients `dh = ∂L/∂h_t`
    /// (from the next step) and `dc = ∂L/∂c_t`, writes `da = ∂L/∂a` (`4H`) and replaces `dc`
    /// by `∂L/∂c_{t−1}` (`∂L/∂h_{t−1}` is `da·W_hh`, a GEMM over the step).
    fn cell_backward(
        gates: &[f32],
        tanh_c: &[f32],
        c_prev: &[f32],
        g_out: &[f32],
        dh: &[f32],
        dc: &mut [f32],
        da: &mut [f32],
    ) {
        let hn = dc.len();
        let [gi, gf, gg, go] = gates_of(gates, hn);
        let (tanh_c, c_prev, g_out, dh) = (&tanh_c[..hn], &c_prev[..hn], &g_out[..hn], &dh[..hn]);
        let (dai, rest) = da[..4 * hn].split_at_mut(hn);
        let (daf, rest) = rest.split_at_mut(hn);
        let (dag, dao) = rest.split_at_mut(hn);
        for j in 0..hn {
            let (i, f, g, o, tc) = (gi[j], gf[j], gg[j], go[j], tanh_c[j]);
            // ∂L/∂h_t: the output's gradient and the next step's
            let dht = dh[j] + g_out[j];
            // ∂L/∂c_t: the next step's, and through h_t = o·tanh c_t
            let dct = dc[j] + dht * o * (1.0 - tc * tc);
            dai[j] = dct * g * (i * (1.0 - i));
            daf[j] = dct * c_prev[j] * (f * (1.0 - f));
            dag[j] = dct * i * (1.0 - g * g);
            dao[j] = dht * tc * (o * (1.0 - o));
            // ∂L/∂c_{t−1} = ∂L/∂c_t · f
            dc[j] = dct * f;
        }
    }
}

/// What the forward pass keeps for backward, by row `r` of `(t, n)` (zero at padding).
struct Kept {
    /// Gates `[i, f, g, o]`, `[T·N, 4H]`.
    gates: Vec<f32>,
    /// `h_{t−1}`, `[T·N, H]`.
    h_prev: Vec<f32>,
    /// `c_{t−1}`, `[T·N, H]`.
    c_prev: Vec<f32>,
    /// `tanh c_t`, `[T·N, H]`.
    tanh_c: Vec<f32>,
}

/// The forward pass over all steps: `[output | h_n | c_n]` and, when `keep`, what backward
/// needs.
#[allow(clippy::too_many_arguments)]
fn forward(
    d: &Dims,
    x: &[f32],
    h0: &[f32],
    c0: &[f32],
    w_ih: &[f32],
    w_hh: &[f32],
    bias: Option<(&[f32], &[f32])>,
    lens: &[usize],
    keep: bool,
) -> (Vec<f32>, Option<Kept>) {
    let (rows, n, h, g4) = (d.rows(), d.n, d.h, 4 * d.h);
    // a = X·W_ihᵀ + b_ih + b_hh for every step at once
    let mut gates = vec![0.0f32; rows * g4];
    if let Some((bih, bhh)) = bias {
        let b: Vec<f32> = bih.iter().zip(bhh).map(|(a, b)| a + b).collect();
        gates.chunks_mut(g4).for_each(|r| r.copy_from_slice(&b));
    }
    sgemm(
        MatRef::row_major(x, rows, d.i),
        MatRef::row_major(w_ih, g4, d.i).t(),
        &mut gates,
        bias.is_some(),
    );
    let mut out = vec![0.0f32; rows * h + 2 * n * h];
    let (output, state) = out.split_at_mut(rows * h);
    let (hs, cs) = state.split_at_mut(n * h);
    hs.copy_from_slice(h0);
    cs.copy_from_slice(c0);
    let saved_len = if keep { rows * h } else { 0 };
    let (mut h_prev, mut c_prev, mut tanh_c) = (
        vec![0.0f32; saved_len],
        vec![0.0f32; saved_len],
        vec![0.0f32; saved_len],
    );
    let mut rec = vec![0.0f32; n * g4];
    let steps = lens.iter().copied().max().unwrap_or(0);
    {
        let gates_rows = SharedRows::new(&mut gates, g4);
        let out_rows = SharedRows::new(output, h);
        let kept_rows = [&mut h_prev, &mut c_prev, &mut tanh_c].map(|v| SharedRows::new(v, h));
        for s in 0..steps {
            // h_{t−1}·W_hhᵀ for every sequence
            sgemm(
                MatRef::row_major(hs, n, h),
                MatRef::row_major(w_hh, g4, h).t(),
                &mut rec,
                false,
            );
            hs.par_chunks_mut(h)
                .zip(cs.par_chunks_mut(h))
                .zip(rec.par_chunks(g4))
                .enumerate()
                .with_min_len(sequences_per_task(d))
                .for_each(|(seq, ((hn, cn), rn))| {
                    let Some(t) = d.time(s, lens[seq]) else {
                        return;
                    };
                    let r = d.row(t, seq);
                    // SAFETY: row r belongs to sequence `seq` alone at this step.
                    unsafe {
                        let (a, o) = (gates_rows.row(r), out_rows.row(r));
                        if keep {
                            let [hp, cp, tc] = kept_rows.map(|k| k.row(r));
                            cell_forward::<true>(a, rn, hn, cn, o, hp, cp, tc);
                        } else {
                            cell_forward::<false>(a, rn, hn, cn, o, &mut [], &mut [], &mut []);
                        }
                    }
                });
        }
    }
    let kept = keep.then_some(Kept {
        gates,
        h_prev,
        c_prev,
        tanh_c,
    });
    (out, kept)
}

/// The backward pass: from `g = [∂L/∂output | ∂L/∂h_n | ∂L/∂c_n]`, the gradients of
/// `[x, h0, c0, W_ih, W_hh, b_ih, b_hh]` that `needs` asks for.
#[allow(clippy::too_many_arguments)]
fn backward(
    d: &Dims,
    kept: &Kept,
    g: &[f32],
    x: &[f32],
    w_ih: &[f32],
    w_hh: &[f32],
    lens: &[usize],
    needs: &[bool],
) -> Vec<Option<Vec<f32>>> {
    let (rows, n, h, g4) = (d.rows(), d.n, d.h, 4 * d.h);
    let (g_out, g_state) = g.split_at(rows * h);
    let (g_h, g_c) = g_state.split_at(n * h);
    let (mut dh, mut dc) = (g_h.to_vec(), g_c.to_vec());
    // dA: ∂L/∂a by row of (t, n), zero at padding
    let mut da_all = vec![0.0f32; rows * g4];
    let mut da = vec![0.0f32; n * g4];
    let mut dh_rec = vec![0.0f32; n * h];
    let steps = lens.iter().copied().max().unwrap_or(0);
    {
        let da_rows = SharedRows::new(&mut da_all, g4);
        for s in (0..steps).rev() {
            dc.par_chunks_mut(h)
                .zip(dh.par_chunks(h))
                .zip(da.par_chunks_mut(g4))
                .enumerate()
                .with_min_len(sequences_per_task(d))
                .for_each(|(seq, ((dcn, dhn), dan))| {
                    let Some(t) = d.time(s, lens[seq]) else {
                        // an inactive sequence passes its state's gradients on unchanged
                        dan.fill(0.0);
                        return;
                    };
                    let r = d.row(t, seq);
                    let rh = r * h..(r + 1) * h;
                    cell_backward(
                        &kept.gates[r * g4..(r + 1) * g4],
                        &kept.tanh_c[rh.clone()],
                        &kept.c_prev[rh.clone()],
                        &g_out[rh],
                        dhn,
                        dcn,
                        dan,
                    );
                    // SAFETY: row r belongs to sequence `seq` alone at this step.
                    unsafe { da_rows.row(r) }.copy_from_slice(dan);
                });
            // ∂L/∂h_{t−1} = da·W_hh
            sgemm(
                MatRef::row_major(&da, n, g4),
                MatRef::row_major(w_hh, g4, h),
                &mut dh_rec,
                false,
            );
            for (seq, (dhn, rn)) in dh.chunks_mut(h).zip(dh_rec.chunks(h)).enumerate() {
                if s < lens[seq] {
                    dhn.copy_from_slice(rn);
                }
            }
        }
    }
    let dam = MatRef::row_major(&da_all, rows, g4);
    // ∂L/∂X = dA·W_ih
    let gx = needs[0].then(|| {
        let mut gx = vec![0.0f32; rows * d.i];
        sgemm(dam, MatRef::row_major(w_ih, g4, d.i), &mut gx, false);
        gx
    });
    // ∂L/∂W_ih = dAᵀ·X
    let gw_ih = needs[3].then(|| {
        let mut gw = vec![0.0f32; g4 * d.i];
        sgemm(dam.t(), MatRef::row_major(x, rows, d.i), &mut gw, false);
        gw
    });
    // ∂L/∂W_hh = dAᵀ·H_prev
    let gw_hh = needs[4].then(|| {
        let mut gw = vec![0.0f32; g4 * h];
        sgemm(
            dam.t(),
            MatRef::row_major(&kept.h_prev, rows, h),
            &mut gw,
            false,
        );
        gw
    });
    // ∂L/∂h0, ∂L/∂c0: the state gradients left after the first step
    let mut grads = vec![
        gx,
        needs[1].then_some(dh),
        needs[2].then_some(dc),
        gw_ih,
        gw_hh,
    ];
    if needs.len() == 7 {
        // ∂L/∂b_ih = ∂L/∂b_hh = Σ_rows dA
        let gb = (needs[5] || needs[6]).then(|| {
            let mut gb = vec![0.0f32; g4];
            da_all
                .chunks(g4)
                .for_each(|r| gb.iter_mut().zip(r).for_each(|(a, b)| *a += b));
            gb
        });
        grads.push(gb.clone().filter(|_| needs[5]));
        grads.push(gb.filter(|_| needs[6]));
    }
    grads
}

impl Tensor {
    /// One LSTM layer in one direction over a batch of sequences (PyTorch's `nn.LSTM` with
    /// one layer, or one direction of a bidirectional layer), as one op with its backward
    /// through time.
    ///
    /// `self` is `[T, N, I]` (`[N, T, I]` with `layout.batch_first`), `state = (h0, c0)`
    /// each `[N, H]`; `lengths`, if given, is each sequence's length in `1..=T` (PyTorch's
    /// `pack_padded_sequence(…, enforce_sorted=False)`). Returns `(output, h_n, c_n)`:
    /// `output` `[T, N, H]` (`[N, T, H]`) with zeros past each sequence's length, `h_n`,
    /// `c_n` `[N, H]`, the state at each sequence's last valid step. See the module doc
    /// for the formulas.
    pub fn lstm_layer(
        &self,
        state: (&Tensor, &Tensor),
        weights: &LstmWeights,
        lengths: Option<&[usize]>,
        layout: LstmLayout,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        let (h0, c0) = state;
        let d = check(
            self.shape(),
            (h0.shape(), c0.shape()),
            weights,
            lengths,
            layout,
        )?;
        let lens: Vec<usize> = lengths.map_or_else(|| vec![d.t; d.n], <[usize]>::to_vec);
        let mut parents = vec![self, h0, c0, weights.weight_ih, weights.weight_hh];
        if let Some((bih, bhh)) = weights.bias {
            parents.extend([bih, bhh]);
        }
        let steps_done: usize = lens.iter().sum();
        super::cost::add_multiply_adds(d.rows() * d.i * 4 * d.h + steps_done * d.h * 4 * d.h);
        let keep = Tensor::records(&parents);
        let (out, kept) = {
            let (x, h0, c0) = (self.data(), h0.data(), c0.data());
            let (w_ih, w_hh) = (weights.weight_ih.data(), weights.weight_hh.data());
            let biases = weights.bias.map(|(a, b)| (a.data(), b.data()));
            let bias = biases.as_ref().map(|(a, b)| (a.as_slice(), b.as_slice()));
            forward(&d, &x, &h0, &c0, &w_ih, &w_hh, bias, &lens, keep)
        };
        let (x, w_ih, w_hh) = (
            self.clone(),
            weights.weight_ih.clone(),
            weights.weight_hh.clone(),
        );
        let total = out.len();
        let all = Tensor::from_op("lstm", vec![total], out, &parents, move |g, needs| {
            let kept = kept
                .as_ref()
                .ok_or_else(|| Error::Autograd("lstm: backward of an unrecorded op".into()))?;
            let (x, w_ih, w_hh) = (x.data(), w_ih.data(), w_hh.data());
            Ok(backward(&d, kept, g, &x, &w_ih, &w_hh, &lens, needs))
        });
        let (rows_h, state_len) = (d.rows() * d.h, d.n * d.h);
        let mut parts = all.split(0, &[rows_h, state_len, state_len])?.into_iter();
        let mut next = || parts.next().expect("three parts");
        let out_shape = if d.batch_first {
            [d.n, d.t, d.h]
        } else {
            [d.t, d.n, d.h]
        };
        Ok((
            next().reshape(&out_shape)?,
            next().reshape(&[d.n, d.h])?,
            next().reshape(&[d.n, d.h])?,
        ))
    }
}
