//! Elementwise loops split across the pool when they are large enough to pay for it.

use rayon::prelude::*;
use std::mem::MaybeUninit;

/// Loops over fewer values than this stay on the calling thread (a split costs a few µs).
pub const MIN_PARALLEL: usize = 1 << 15;

/// How many values each piece of a parallel loop over `n` values takes: a multiple of
/// `unit` (so no run of `unit` values straddles two pieces), about `n / threads`, and all of
/// `n` when the loop is too small to split.
pub fn piece(n: usize, unit: usize) -> usize {
    let unit = unit.max(1);
    let threads = rayon::current_num_threads();
    if threads < 2 || n < MIN_PARALLEL {
        return n.max(1);
    }
    // four pieces per thread balance a thread that is late to start
    (n.div_ceil(4 * threads))
        .max(MIN_PARALLEL / 4)
        .div_ceil(unit)
        * unit
}

/// Values per run of [`map`] and [`zip_map`].
const RUN: usize = 1 << 12;

/// A new vector of `len` values made of runs of `run` values (the last one may be
/// shorter): `values(r)` yields run `r`, on the pool when `len` is large. The vector is
/// never zeroed first: each run writes its values once (a run yielding too few panics).
pub fn collect_runs<I: Iterator<Item = f32>>(
    len: usize,
    run: usize,
    values: impl Fn(usize) -> I + Sync,
) -> Vec<f32> {
    let run = run.max(1);
    let mut out = Vec::with_capacity(len);
    let p = piece(len, run);
    out.spare_capacity_mut()[..len]
        .par_chunks_mut(p)
        .enumerate()
        .for_each(|(k, piece)| {
            #[cfg(target_arch = "x86_64")]
            if is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has the features the function is compiled for.
                unsafe { write_runs_avx2(piece, k * p / run, run, &values) };
                return;
            }
            write_runs(piece, k * p / run, run, &values)
        });
    // SAFETY: every one of the first `len` slots was written above (a short run panics,
    // and then so does this function before it gets here).
    unsafe { out.set_len(len) };
    out
}

/// Writes runs `first, first + 1, …` of [`collect_runs`] into `piece`.
#[inline(always)]
fn write_runs<I: Iterator<Item = f32>>(
    piece: &mut [MaybeUninit<f32>],
    first: usize,
    run: usize,
    values: &impl Fn(usize) -> I,
) {
    for (r, slots) in piece.chunks_mut(run).enumerate() {
        let mut written = 0;
        for (slot, v) in slots.iter_mut().zip(values(first + r)) {
            slot.write(v);
            written += 1;
        }
        assert_eq!(
            written,
            slots.len(),
            "collect_runs: a run yielded too few values"
        );
    }
}

/// [`write_runs`] compiled for AVX2, chosen at run time: maps that compute (tanh, sigmoid)
/// run eight lanes wide instead of SSE2's four. No FMA: products and sums stay separate,
/// so the values are the same on every CPU.
///
/// # Safety
/// The CPU must have AVX2 (the caller checks with `is_x86_feature_detected!`).
// SAFETY: unsafe only for its target feature; the body is safe code.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn write_runs_avx2<I: Iterator<Item = f32>>(
    piece: &mut [MaybeUninit<f32>],
    first: usize,
    run: usize,
    values: &impl Fn(usize) -> I,
) {
    write_runs(piece, first, run, values)
}

/// `out[i] = f(x[i])`.
pub fn map(x: &[f32], f: impl Fn(f32) -> f32 + Sync) -> Vec<f32> {
    collect_runs(x.len(), RUN, |r| {
        x[r * RUN..].iter().take(RUN).map(|&x| f(x))
    })
}

/// `out[i] = f(a[i], b[i])`.
pub fn zip_map(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32 + Sync) -> Vec<f32> {
    assert_eq!(a.len(), b.len(), "zip_map lengths");
    collect_runs(a.len(), RUN, |r| {
        let (a, b) = (&a[r * RUN..], &b[r * RUN..]);
        a.iter().zip(b).take(RUN).map(|(&a, &b)| f(a, b))
    })
}

/// Runs `work(offset, chunk)` over pieces of `out` whose lengths are multiples of `unit`
/// (the last one excepted), on the pool when `out` is large.
pub fn for_pieces(out: &mut [f32], unit: usize, work: impl Fn(usize, &mut [f32]) + Sync) {
    let p = piece(out.len(), unit);
    out.par_chunks_mut(p)
        .enumerate()
        .for_each(|(i, o)| work(i * p, o));
}

/// The `N` sums `Σ f(a[i], b[i], c[i])[k]` in eight f32 lanes each (so the loop
/// vectorises), added up in f64: `N` sums for one pass over up to three slices of one
/// length (pass a slice twice where fewer are needed).
#[inline]
pub(crate) fn lane_sums<const N: usize>(
    a: &[f32],
    b: &[f32],
    c: &[f32],
    f: impl Fn(f32, f32, f32) -> [f32; N],
) -> [f64; N] {
    let mut acc = [[0.0f32; 8]; N];
    let (mut ca, mut cb, mut cc) = (a.chunks_exact(8), b.chunks_exact(8), c.chunks_exact(8));
    for ((xa, xb), xc) in (&mut ca).zip(&mut cb).zip(&mut cc) {
        for l in 0..8 {
            let v = f(xa[l], xb[l], xc[l]);
            for k in 0..N {
                acc[k][l] += v[k];
            }
        }
    }
    let mut sums: [f64; N] = std::array::from_fn(|k| acc[k].iter().map(|&v| v as f64).sum());
    let rest = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .zip(cc.remainder());
    for ((&x, &y), &z) in rest {
        let v = f(x, y, z);
        for k in 0..N {
            sums[k] += v[k] as f64;
        }
    }
    sums
}

/// Per channel the `N` sums `Σ f(channel, a, b)[k]` over `[n, c, inner]` planes: each plane
/// summed by [`lane_sums`] on the pool, the planes of a channel then added in order (f64),
/// so the result does not depend on the thread count. `sums[k][channel]`.
pub fn channel_sums<const N: usize>(
    a: &[f32],
    b: &[f32],
    c: usize,
    inner: usize,
    f: impl Fn(usize, f32, f32) -> [f32; N] + Sync,
) -> [Vec<f64>; N] {
    let inner = inner.max(1);
    let planes: Vec<[f64; N]> = a
        .par_chunks(inner)
        .zip(b.par_chunks(inner))
        .enumerate()
        .map(|(p, (a, b))| {
            let ch = p % c;
            lane_sums(a, b, b, |x, y, _| f(ch, x, y))
        })
        .collect();
    let mut sums: [Vec<f64>; N] = std::array::from_fn(|_| vec![0.0f64; c]);
    for (p, plane) in planes.iter().enumerate() {
        for k in 0..N {
            sums[k][p % c] += plane[k];
        }
    }
    sums
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_cover_everything_in_order_at_any_size() {
        for n in [
            0,
            1,
            7,
            MIN_PARALLEL - 1,
            MIN_PARALLEL,
            3 * MIN_PARALLEL + 5,
        ] {
            let x: Vec<f32> = (0..n).map(|i| i as f32).collect();
            assert_eq!(
                map(&x, |v| v + 1.0),
                x.iter().map(|v| v + 1.0).collect::<Vec<_>>()
            );
            assert_eq!(
                zip_map(&x, &x, |a, b| a * b),
                x.iter().map(|v| v * v).collect::<Vec<_>>()
            );
            let mut out = vec![0.0; n];
            for_pieces(&mut out, 6, |off, o| {
                assert_eq!(off % 6, 0);
                o.iter_mut()
                    .enumerate()
                    .for_each(|(k, v)| *v = (off + k) as f32);
            });
            assert_eq!(out, x);
        }
    }
}
