//! Winograd F(2×2, 3×3) convolution: 3×3, stride-1 layers with many channels, in 16
//! matrix products of 4/9 the multiplications of im2col + GEMM.
//!
//! The output is cut into 2×2 tiles. Tile `(ty, tx)` reads the 4×4 patch `d` at rows
//! `2ty..2ty + 4` and columns `2tx..2tx + 4` of the *padded plane*: the input seen through
//! the padding maps ([`PaddingMode::source_index`]), row `r` being input row `r − pad_top`.
//! With the filter `g` (3×3), one channel's share of the tile is (Lavin & Gray, 2015)
//!
//! `Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A`,
//!
//! so, summed over input channels, each of the 16 positions `ξ` of the 4×4 products is a
//! matrix product over the tiles `t` of all images:
//!
//! - forward: `U = G g Gᵀ`, `V = Bᵀ d B`, `M_ξ [oc, T] = U_ξ [oc, c] · V_ξ [c, T]`,
//!   `y = Aᵀ M A` per tile;
//! - backward, the chain rule through the same linear steps (each one's adjoint):
//!   `dM = A dY Aᵀ`; `dV_ξ = U_ξᵀ · dM_ξ`, then `dd = B dV Bᵀ` added over the overlapping
//!   patches and folded back through the padding maps; `dU_ξ = dM_ξ · V_ξᵀ`, then
//!   `dg = Gᵀ dU G`.
//!
//! Every padding mode and amount works alike. Each pass first transforms its activations
//! (`V [c, 16, T]` or `dM [oc, 16, T]`, shared by all), then goes a block of channels per
//! task: the block's weights transformed, its 16 products, its outputs transformed back,
//! all while the block's values are in the cache.
//!
//! Transforms go a row of tiles at a time, each step along whole rows (so they vectorise):
//! a padded plane's row holds its even columns, then its odd ones, so that the columns
//! `2tx..2tx + 4` of the tiles of a row are four runs `even[tx]`, `odd[tx]`,
//! `even[tx + 1]`, `odd[tx + 1]`.

use super::conv::{split_images, sum_image_partials, ConvGeometry};
use super::gemm::{sgemm_with, MatRef};
use super::scratch::Scratch;
use rayon::prelude::*;
use std::ops::Range;

/// Defines `fn $name` that runs its body compiled for AVX-512 (or AVX2) when the CPU has
/// it, else for the baseline: the transforms' loops then run 16 (8) lanes wide instead of
/// SSE2's 4. Sums and differences only, so the values are the same on every CPU.
macro_rules! wide_fn {
    ($(#[$meta:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$meta])*
        fn $name($($arg: $ty),*) {
            #[inline(always)]
            fn body($($arg: $ty),*) $body
            // SAFETY: unsafe only for its target feature (callers check the CPU has it);
            // the body is safe code.
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f")]
            unsafe fn avx512($($arg: $ty),*) {
                body($($arg),*)
            }
            // SAFETY: as `avx512`, for AVX2.
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2")]
            unsafe fn avx2($($arg: $ty),*) {
                body($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            {
                if std::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU has the features the function is compiled for.
                    return unsafe { avx512($($arg),*) };
                }
                if std::is_x86_feature_detected!("avx2") {
                    // SAFETY: as above.
                    return unsafe { avx2($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}

/// Positions of a tile's 4×4 products.
const XI: usize = 16;

/// Fewest input and output channels for which the transforms pay for themselves.
const MIN_CHANNELS: usize = 64;

const OUTSIDE: usize = usize::MAX;

/// Multiply-adds per filter (pair of input and output channels) that Winograd must save
/// over im2col + GEMM (`9·n·oh·ow` against `16·T`) to pay for transforming the weights.
/// Measured: 512 channels at 7×7 break even at 4 images (740 saved) and lose at 2; 256
/// channels at 14×14 win at 1 image (980 saved).
const MIN_SAVING: usize = 900;

/// Whether a convolution runs here: 3×3, stride 1, no dilation, one group, at least
/// [`MIN_CHANNELS`] channels in and out, images enough to save [`MIN_SAVING`], and an
/// image's transforms within [`GROUP_BUDGET`] (larger images, such as VGG's 64 channels
/// at 224×224, measure 10 % slower than im2col + GEMM, which goes a chunk of rows at a
/// time).
pub(super) fn applies(g: &ConvGeometry) -> bool {
    g.kh == 3
        && g.kw == 3
        && g.stride_h == 1
        && g.stride_w == 1
        && g.dilation_h == 1
        && g.dilation_w == 1
        && g.groups == 1
        && g.c >= MIN_CHANNELS
        && g.oc >= MIN_CHANNELS
        && 9 * g.n * g.oh * g.ow >= 16 * g.n * g.oh.div_ceil(2) * g.ow.div_ceil(2) + MIN_SAVING
        && XI * g.c.max(g.oc) * g.oh.div_ceil(2) * g.ow.div_ceil(2) <= GROUP_BUDGET
}

/// The tiling of one layer.
struct Tiles {
    /// Tile rows and columns of an image.
    th: usize,
    tw: usize,
    /// Tiles of all images: `T = n·th·tw`, tile `t = (i·th + ty)·tw + tx`.
    t: usize,
    /// Padded-plane rows (`2th + 2`) and columns (`2tw + 2`, even ones first).
    rows: usize,
    cols: usize,
    /// Source row of each padded-plane row and source column of each stored column (even
    /// columns first), `OUTSIDE` for a zero or for one that no output reads.
    row_map: Vec<usize>,
    col_map: Vec<usize>,
}

impl Tiles {
    fn new(g: &ConvGeometry) -> Self {
        let (th, tw) = (g.oh.div_ceil(2), g.ow.div_ceil(2));
        let source = |r: usize, pad: usize, out: usize, n: usize| match g
            .mode
            .source_index(r as isize - pad as isize, n)
        {
            Some(s) if r < out + 2 => s,
            _ => OUTSIDE,
        };
        let row_map = (0..2 * th + 2)
            .map(|r| source(r, g.pad_top, g.oh, g.h))
            .collect();
        let col_map = (0..2 * tw + 2)
            .map(|q| {
                let col = if q <= tw { 2 * q } else { 2 * (q - tw - 1) + 1 };
                source(col, g.pad_left, g.ow, g.w)
            })
            .collect();
        Tiles {
            th,
            tw,
            t: g.n * th * tw,
            rows: 2 * th + 2,
            cols: 2 * tw + 2,
            row_map,
            col_map,
        }
    }

    /// Index of the first tile of row `ty` of image `i`.
    fn first(&self, i: usize, ty: usize) -> usize {
        (i * self.th + ty) * self.tw
    }

    /// `plane [rows, cols]` = the padded plane of `src [h, w]`.
    fn fill_plane(&self, src: &[f32], w: usize, plane: &mut [f32]) {
        for (dst, &sr) in plane.chunks_exact_mut(self.cols).zip(&self.row_map) {
            if sr == OUTSIDE {
                dst.fill(0.0);
                continue;
            }
            let row = &src[sr * w..][..w];
            for (d, &sc) in dst.iter_mut().zip(&self.col_map) {
                *d = if sc == OUTSIDE { 0.0 } else { row[sc] };
            }
        }
    }

    /// `dst [h, w]` = the padded plane's gradient folded back onto the pixels its values
    /// copy (overwritten).
    fn fold_plane(&self, plane: &[f32], w: usize, dst: &mut [f32]) {
        dst.fill(0.0);
        for (src, &sr) in plane.chunks_exact(self.cols).zip(&self.row_map) {
            if sr == OUTSIDE {
                continue;
            }
            let row = &mut dst[sr * w..][..w];
            for (&v, &sc) in src.iter().zip(&self.col_map) {
                if sc != OUTSIDE {
                    row[sc] += v;
                }
            }
        }
    }
}

/// `out[k][t] = f(x[0][t], …)[k]` for every `t < out[0].len()`: one step of a transform,
/// `N` runs in, `M` runs out, along whole runs (so that it vectorises).
#[inline(always)]
fn step<const N: usize, const M: usize>(
    x: [&[f32]; N],
    out: [&mut [f32]; M],
    f: impl Fn([f32; N]) -> [f32; M],
) {
    let n = out[0].len();
    let x = x.map(|r| &r[..n]);
    let out = out.map(|r| &mut r[..n]);
    for t in 0..n {
        let mut a = [0.0; N];
        for k in 0..N {
            a[k] = x[k][t];
        }
        let v = f(a);
        for k in 0..M {
            out[k][t] = v[k];
        }
    }
}

/// The first `M` runs of `len` values, `stride` apart, of `data`.
#[inline(always)]
fn runs_mut<const M: usize>(data: &mut [f32], stride: usize, len: usize) -> [&mut [f32]; M] {
    let mut rows = data.chunks_mut(stride).map(|r| &mut r[..len]);
    std::array::from_fn(|_| rows.next().expect("transform buffer too small"))
}

/// The runs `idx` (`len` values each, `stride` apart) of `data`.
#[inline(always)]
fn pick<const M: usize>(data: &[f32], stride: usize, len: usize, idx: [usize; M]) -> [&[f32]; M] {
    idx.map(|k| &data[k * stride..][..len])
}

/// Bᵀ on one axis: `(d0 − d2, d1 + d2, d2 − d1, d1 − d3)`.
#[inline(always)]
fn bt([a, b, c, d]: [f32; 4]) -> [f32; 4] {
    [a - c, b + c, c - b, b - d]
}

/// Its adjoint, `B` on one axis: `(v0, v1 − v2 + v3, v1 + v2 − v0, −v3)`.
#[inline(always)]
fn b([a, b, c, d]: [f32; 4]) -> [f32; 4] {
    [a, b - c + d, b + c - a, -d]
}

/// Aᵀ on one axis: `(m0 + m1 + m2, m1 − m2 − m3)`.
#[inline(always)]
fn at([a, b, c, d]: [f32; 4]) -> [f32; 2] {
    [a + b + c, b - c - d]
}

/// Its adjoint, `A` on one axis: `(p, p + q, p − q, −q)`.
#[inline(always)]
fn a([p, q]: [f32; 2]) -> [f32; 4] {
    [p, p + q, p - q, -q]
}

/// G on one axis: `(g0, (g0 + g1 + g2)/2, (g0 − g1 + g2)/2, g2)`.
#[inline(always)]
fn gg([a, b, c]: [f32; 3]) -> [f32; 4] {
    [a, 0.5 * (a + b + c), 0.5 * (a - b + c), c]
}

/// Its adjoint, `Gᵀ` on one axis: `(u0 + (u1 + u2)/2, (u1 − u2)/2, (u1 + u2)/2 + u3)`.
#[inline(always)]
fn gt([a, b, c, d]: [f32; 4]) -> [f32; 3] {
    [a + 0.5 * (b + c), 0.5 * (b - c), 0.5 * (b + c) + d]
}

/// Offsets of the four columns `2tx..2tx + 4` of a tile in a padded-plane row (even
/// columns first, `half` of them): `even[tx]`, `odd[tx]`, `even[tx + 1]`, `odd[tx + 1]`.
fn patch_columns(half: usize) -> [usize; 4] {
    [0, half, 1, half + 1]
}

wide_fn! {
/// `V [16, T]` (runs `T` apart) of input channel `ci` from `x [n, c, h, w]`:
/// `V_ξ = Bᵀ d B` per tile. `work` holds a padded plane and 32 runs of `T`.
fn input_transform(g: &ConvGeometry, tl: &Tiles, x: &[f32], ci: usize, v: &mut [f32], work: &mut [f32]) {
    let (hw, cols, tw, t) = (g.h * g.w, tl.cols, tl.tw, tl.t);
    let (plane, rest) = work.split_at_mut(tl.rows * cols);
    let (d, e) = rest.split_at_mut(XI * t);
    let qs = patch_columns(tw + 1);
    // d[4r + q][tile] = the tile's patch value at row r, column q.
    for i in 0..g.n {
        tl.fill_plane(&x[(i * g.c + ci) * hw..][..hw], g.w, plane);
        for ty in 0..tl.th {
            let first = tl.first(i, ty);
            for r in 0..4 {
                let row = &plane[(2 * ty + r) * cols..][..cols];
                for (q, &off) in qs.iter().enumerate() {
                    d[(4 * r + q) * t + first..][..tw].copy_from_slice(&row[off..off + tw]);
                }
            }
        }
    }
    // Bᵀ down the patch columns, then B along the rows.
    for q in 0..4 {
        let out = runs_mut::<4>(&mut e[q * t..], 4 * t, t);
        step(pick(d, t, t, [q, 4 + q, 8 + q, 12 + q]), out, bt);
    }
    for r in 0..4 {
        let out = runs_mut::<4>(&mut v[4 * r * t..], t, t);
        step(pick(&e[4 * r * t..], t, t, [0, 1, 2, 3]), out, bt);
    }
}
}

wide_fn! {
/// `gx` planes of input channel `ci` (one per image) from `dV [16, chans, T]`, the
/// channel being `ch` there: `dd = B dV Bᵀ` added over the patches, folded through the
/// padding maps (overwritten). `work` holds a padded plane and 32 runs of `T`.
fn input_back_transform(g: &ConvGeometry, tl: &Tiles, dv: &[f32], chans: usize, ch: usize, gx: &mut [&mut [f32]], work: &mut [f32]) {
    let (cols, tw, t) = (tl.cols, tl.tw, tl.t);
    let (plane, rest) = work.split_at_mut(tl.rows * cols);
    let (e, d) = rest.split_at_mut(XI * t);
    // The adjoint of B along the rows, then of Bᵀ down the columns: d[4r + q] is the
    // gradient of each tile's patch value at row r, column q.
    let dvc = &dv[ch * t..];
    let stride = chans * t;
    for r in 0..4 {
        let out = runs_mut::<4>(&mut e[4 * r * t..], t, t);
        step(pick(&dvc[4 * r * stride..], stride, t, [0, 1, 2, 3]), out, b);
    }
    for q in 0..4 {
        let out = runs_mut::<4>(&mut d[q * t..], 4 * t, t);
        step(pick(e, t, t, [q, 4 + q, 8 + q, 12 + q]), out, b);
    }
    let qs = patch_columns(tw + 1);
    for (i, gx) in gx.iter_mut().enumerate() {
        plane.fill(0.0);
        for ty in 0..tl.th {
            let first = tl.first(i, ty);
            for r in 0..4 {
                let row = &mut plane[(2 * ty + r) * cols..][..cols];
                for (q, &off) in qs.iter().enumerate() {
                    let src = &d[(4 * r + q) * t + first..][..tw];
                    for (p, &s) in row[off..off + tw].iter_mut().zip(src) {
                        *p += s;
                    }
                }
            }
        }
        tl.fold_plane(plane, g.w, gx);
    }
}
}

wide_fn! {
/// `y` planes of output channel `oc` (one per image) from `M [16, chans, T]`, the
/// channel being `ch` there: `Y = Aᵀ M A` per tile, plus `bias`. `work` holds 12 runs
/// of `T`.
#[allow(clippy::too_many_arguments)]
fn output_transform(g: &ConvGeometry, tl: &Tiles, m: &[f32], chans: usize, ch: usize, bias: f32, y: &mut [&mut [f32]], work: &mut [f32]) {
    let (tw, t) = (tl.tw, tl.t);
    let (s, out) = work.split_at_mut(8 * t);
    let mc = &m[ch * t..];
    let stride = chans * t;
    // Aᵀ down the columns: s[2j + r]; then along the rows: out[2r + j], the bias added.
    for j in 0..4 {
        let o = runs_mut::<2>(&mut s[2 * j * t..], t, t);
        step(pick(&mc[j * stride..], 4 * stride, t, [0, 1, 2, 3]), o, at);
    }
    for r in 0..2 {
        let o = runs_mut::<2>(&mut out[2 * r * t..], t, t);
        step(pick(&s[r * t..], 2 * t, t, [0, 1, 2, 3]), o, |v| {
            let [p, q] = at(v);
            [p + bias, q + bias]
        });
    }
    for (i, y) in y.iter_mut().enumerate() {
        for ty in 0..tl.th {
            let first = tl.first(i, ty);
            for r in 0..2 {
                let oy = 2 * ty + r;
                if oy >= g.oh {
                    continue;
                }
                let (y0, y1) = (&out[2 * r * t + first..][..tw], &out[(2 * r + 1) * t + first..][..tw]);
                let row = &mut y[oy * g.ow..][..g.ow];
                for (tx, pair) in row.chunks_mut(2).enumerate() {
                    pair[0] = y0[tx];
                    if let Some(p) = pair.get_mut(1) {
                        *p = y1[tx];
                    }
                }
            }
        }
    }
}
}

wide_fn! {
/// `dM [16, T]` (runs `T` apart) of output channel `o` from `gy [n, oc, oh, ow]`:
/// `dM = A dY Aᵀ` per tile. `work` holds 12 runs of `T`.
fn grad_output_transform(g: &ConvGeometry, tl: &Tiles, gy: &[f32], o: usize, dm: &mut [f32], work: &mut [f32]) {
    let (l, tw, t) = (g.oh * g.ow, tl.tw, tl.t);
    let (d, h) = work.split_at_mut(4 * t);
    // d[2r + j][tile] = the tile's output gradient at row r, column j (zero outside).
    for i in 0..g.n {
        let src = &gy[(i * g.oc + o) * l..][..l];
        for ty in 0..tl.th {
            let first = tl.first(i, ty);
            for r in 0..2 {
                let oy = 2 * ty + r;
                let (d0, d1) = d[2 * r * t..].split_at_mut(t);
                let (d0, d1) = (&mut d0[first..first + tw], &mut d1[first..first + tw]);
                if oy >= g.oh {
                    d0.fill(0.0);
                    d1.fill(0.0);
                    continue;
                }
                let row = &src[oy * g.ow..][..g.ow];
                for (tx, pair) in row.chunks(2).enumerate() {
                    d0[tx] = pair[0];
                    d1[tx] = pair.get(1).copied().unwrap_or(0.0);
                }
            }
        }
    }
    // A along the rows: h[4r + j]; then down the columns: dM[4r + j].
    for r in 0..2 {
        let out = runs_mut::<4>(&mut h[4 * r * t..], t, t);
        step(pick(&d[2 * r * t..], t, t, [0, 1]), out, a);
    }
    for j in 0..4 {
        let out = runs_mut::<4>(&mut dm[j * t..], 4 * t, t);
        step(pick(&h[j * t..], 4 * t, t, [0, 1]), out, a);
    }
}
}

/// `runs[k·c + ci] = taps[9·ci + k]`: the filters' taps regrouped tap by tap (`c` filters).
/// Scalar on purpose: wide builds turn the strided reads into gathers, which are slower.
#[inline(never)]
fn taps_to_runs(taps: &[f32], runs: &mut [f32]) {
    let c = taps.len() / 9;
    let runs = &mut runs[..9 * c];
    for (ci, t) in taps.chunks_exact(9).enumerate() {
        for k in 0..9 {
            runs[k * c + ci] = t[k];
        }
    }
}

/// The inverse of [`taps_to_runs`]: `taps[9·ci + k] = runs[k·c + ci]`.
#[inline(never)]
fn runs_to_taps(runs: &[f32], taps: &mut [f32]) {
    let c = taps.len() / 9;
    let runs = &runs[..9 * c];
    for (ci, t) in taps.chunks_exact_mut(9).enumerate() {
        for k in 0..9 {
            t[k] = runs[k * c + ci];
        }
    }
}

wide_fn! {
/// `U [outs, 16, ins]` (channels `span(ins)` apart) from the filters `w [oc, c, 3, 3]` of
/// output channels `outs` and input channels `ins`: `U_ξ = G g Gᵀ`. `work` holds 21
/// runs of `ins`.
fn weight_transform(g: &ConvGeometry, w: &[f32], outs: Range<usize>, ins: Range<usize>, u: &mut [f32], work: &mut [f32]) {
    let cb = ins.len();
    let (f, h) = work.split_at_mut(9 * cb);
    for (ob, o) in outs.enumerate() {
        // f[k][ci] = tap k of the filter from input channel ci.
        taps_to_runs(&w[(o * g.c + ins.start) * 9..][..cb * 9], f);
        // G down the columns: h[3i + j]; then along the rows: U[4i + j].
        for j in 0..3 {
            let out = runs_mut::<4>(&mut h[j * cb..], 3 * cb, cb);
            step(pick(&f[j * cb..], 3 * cb, cb, [0, 1, 2]), out, gg);
        }
        let u = &mut u[ob * span(cb)..];
        for i in 0..4 {
            let out = runs_mut::<4>(&mut u[4 * i * cb..], cb, cb);
            step(pick(&h[3 * i * cb..], cb, cb, [0, 1, 2]), out, gg);
        }
    }
}
}

wide_fn! {
/// `gw [outs, c, 3, 3]` from `dU [16, outs, c]`: `dg = Gᵀ dU G` (overwritten). `work`
/// holds 21 runs of `c`.
fn weight_back_transform(g: &ConvGeometry, du: &[f32], outs: usize, gw: &mut [f32], work: &mut [f32]) {
    let c = g.c;
    let (h, f) = work.split_at_mut(12 * c);
    for ob in 0..outs {
        // Gᵀ down the columns: h[3i + j] (j < 4, i < 3 here: h[4i + j]); then along the
        // rows: f[3i + j], stored tap by tap.
        let dub = &du[ob * c..];
        let stride = outs * c;
        for j in 0..4 {
            let out = runs_mut::<3>(&mut h[j * c..], 4 * c, c);
            step(pick(&dub[j * stride..], 4 * stride, c, [0, 1, 2, 3]), out, gt);
        }
        for i in 0..3 {
            let out = runs_mut::<3>(&mut f[3 * i * c..], c, c);
            step(pick(&h[4 * i * c..], c, c, [0, 1, 2, 3]), out, gt);
        }
        runs_to_taps(f, &mut gw[ob * c * 9..][..c * 9]);
    }
}
}

/// The 16 products of a block, `out_ξ = a(ξ) · b(ξ)`, into `out [16, a.rows, b.cols]`.
fn products<'a>(out: &mut [f32], a: impl Fn(usize) -> MatRef<'a>, b: impl Fn(usize) -> MatRef<'a>) {
    let per = out.len() / XI;
    for (xi, out) in out.chunks_exact_mut(per).enumerate() {
        sgemm_with(a(xi), b(xi), out, false, false);
    }
}

/// Values between channels of a `[rows, 16, cols]` transform: one cache line more than
/// its 16 runs, so that its rows (read down the columns by the products' packing) do not
/// all fall into the same cache sets when `16·cols` is a power of two.
fn span(cols: usize) -> usize {
    XI * cols + 16
}

/// Position `ξ` of a `[rows, 16, cols]` transform: the `rows × cols` matrix.
fn position(data: &[f32], rows: usize, cols: usize, xi: usize) -> MatRef<'_> {
    MatRef::strided(&data[xi * cols..], rows, cols, span(cols))
}

/// Channels per block: one block per thread (a multiple of 16). Larger blocks measure
/// faster, each product's operands being packed fewer times.
fn block_size(chans: usize) -> usize {
    chans
        .div_ceil(rayon::current_num_threads())
        .next_multiple_of(16)
}

/// The channel blocks of `chans` channels.
fn blocks(chans: usize) -> Vec<Range<usize>> {
    let per = block_size(chans);
    (0..chans)
        .step_by(per)
        .map(|s| s..(s + per).min(chans))
        .collect()
}

/// The planes `[n, chans, plane]` of `data` handed out by channel block: `out[b][k·n + i]`
/// is plane `(i, block b's k-th channel)`.
fn planes_by_block<'a>(
    data: &'a mut [f32],
    chans: usize,
    plane: usize,
    blocks: &[Range<usize>],
) -> Vec<Vec<&'a mut [f32]>> {
    let mut per_channel: Vec<Vec<&mut [f32]>> = (0..chans).map(|_| Vec::new()).collect();
    for (k, p) in data.chunks_exact_mut(plane).enumerate() {
        per_channel[k % chans].push(p);
    }
    let mut per_channel = per_channel.into_iter();
    blocks
        .iter()
        .map(|b| per_channel.by_ref().take(b.len()).flatten().collect())
        .collect()
}

/// `[chans, 16, T]` activations transformed a channel per task by `f(channel, out, work)`.
fn transform_channels(
    dst: &mut [f32],
    t: usize,
    work: usize,
    f: impl Fn(usize, &mut [f32], &mut [f32]) + Sync,
) {
    dst.par_chunks_mut(span(t))
        .enumerate()
        .for_each_init(|| vec![0.0; work], |work, (ch, out)| f(ch, out, work));
}

/// Values of a pass's transformed activations (`16·c·T`) above which its images go a
/// group at a time, so that a batch's transforms stay within 16 MiB.
const GROUP_BUDGET: usize = 1 << 22;

/// The image groups of a pass whose widest transform has `chans` channels, each with its
/// geometry.
fn image_groups(
    g: &ConvGeometry,
    chans: usize,
    budget: usize,
) -> Vec<(Range<usize>, ConvGeometry)> {
    let per_image = XI * chans * g.oh.div_ceil(2) * g.ow.div_ceil(2);
    let per_group = (budget / per_image.max(1)).clamp(1, g.n.max(1));
    (0..g.n)
        .step_by(per_group)
        .map(|i| {
            let images = i..(i + per_group).min(g.n);
            let sub = ConvGeometry {
                n: images.len(),
                ..g.clone()
            };
            (images, sub)
        })
        .collect()
}

/// Tiles per image from which images go one per task when there are as many as threads
/// (each task then transforms the weights itself: cheap next to a large image's products,
/// and the task's transforms stay small), rather than a block of channels per task.
const MIN_IMAGE_TILES: usize = 128;

/// The geometry of one image, when the images of `g` go one per task.
fn by_image(g: &ConvGeometry) -> Option<ConvGeometry> {
    let tiles = g.oh.div_ceil(2) * g.ow.div_ceil(2);
    (g.n >= rayon::current_num_threads() && g.n > 1 && tiles >= MIN_IMAGE_TILES)
        .then(|| ConvGeometry { n: 1, ..g.clone() })
}

/// Forward pass: `y [n, oc, oh, ow]` (overwritten).
pub(super) fn forward(g: &ConvGeometry, x: &[f32], w: &[f32], bias: Option<&[f32]>, y: &mut [f32]) {
    forward_in_groups(g, x, w, bias, y, GROUP_BUDGET)
}

fn forward_in_groups(
    g: &ConvGeometry,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    y: &mut [f32],
    budget: usize,
) {
    let (chw, ol) = (g.c * g.h * g.w, g.oc * g.oh * g.ow);
    over_images(g, g.c.max(g.oc), budget, y, ol, |sub, first, y| {
        forward_group(sub, &x[first * chw..][..sub.n * chw], w, bias, y)
    });
}

/// Backward to the input: `gx [n, c, h, w]` (overwritten).
pub(super) fn backward_input(g: &ConvGeometry, gy: &[f32], w: &[f32], gx: &mut [f32]) {
    backward_input_in_groups(g, gy, w, gx, GROUP_BUDGET)
}

fn backward_input_in_groups(
    g: &ConvGeometry,
    gy: &[f32],
    w: &[f32],
    gx: &mut [f32],
    budget: usize,
) {
    let (chw, ol) = (g.c * g.h * g.w, g.oc * g.oh * g.ow);
    over_images(g, g.c.max(g.oc), budget, gx, chw, |sub, first, gx| {
        backward_input_group(sub, &gy[first * ol..][..sub.n * ol], w, gx)
    });
}

/// Runs a pass that writes `out` (`per_image` values per image) over the batch:
/// `run(group, first image, the group's part of out)`. Large images ([`by_image`]) go one
/// at a time, the batch shared across the pool as im2col's passes share it
/// ([`super::conv::split_images`]); otherwise the [`image_groups`] go one after another,
/// each using the whole pool.
fn over_images(
    g: &ConvGeometry,
    chans: usize,
    budget: usize,
    out: &mut [f32],
    per_image: usize,
    run: impl Fn(&ConvGeometry, usize, &mut [f32]) + Sync,
) {
    if let Some(one) = by_image(g) {
        split_images(g.n, out, per_image, |first, count, out, _| {
            for (k, out) in out.chunks_exact_mut(per_image).take(count).enumerate() {
                run(&one, first + k, out);
            }
        });
        return;
    }
    for (images, sub) in image_groups(g, chans, budget) {
        run(
            &sub,
            images.start,
            &mut out[images.start * per_image..][..sub.n * per_image],
        );
    }
}

/// Backward to the weight: `gw [oc, c, 3, 3]` (overwritten), the groups' gradients summed
/// in order.
pub(super) fn backward_weight(g: &ConvGeometry, x: &[f32], gy: &[f32], gw: &mut [f32]) {
    backward_weight_in_groups(g, x, gy, gw, GROUP_BUDGET)
}

fn backward_weight_in_groups(
    g: &ConvGeometry,
    x: &[f32],
    gy: &[f32],
    gw: &mut [f32],
    budget: usize,
) {
    let (chw, ol) = (g.c * g.h * g.w, g.oc * g.oh * g.ow);
    // `gw` = the sum of the groups' gradients, added in order.
    let sum_groups = |groups: &[(Range<usize>, ConvGeometry)], gw: &mut [f32]| {
        let mut part = Vec::new();
        for (k, (images, sub)) in groups.iter().enumerate() {
            let (x, gy) = (
                &x[images.start * chw..][..sub.n * chw],
                &gy[images.start * ol..][..sub.n * ol],
            );
            if k == 0 {
                backward_weight_group(sub, x, gy, gw);
            } else {
                part.resize(gw.len(), 0.0);
                backward_weight_group(sub, x, gy, &mut part);
                gw.iter_mut().zip(&part).for_each(|(a, &b)| *a += b);
            }
        }
    };
    match by_image(g) {
        // Large images one at a time, each task summing its run of them (as im2col's
        // weight gradient does).
        Some(one) => sum_image_partials(g.n, gw, |first, count, gw, _| {
            let groups: Vec<_> = (first..first + count)
                .map(|i| (i..i + 1, one.clone()))
                .collect();
            sum_groups(&groups, gw)
        }),
        None => sum_groups(&image_groups(g, g.c + g.oc, budget), gw),
    }
}

/// Work values of a task that fills a padded plane and 32 runs of tiles.
fn plane_work(tl: &Tiles) -> usize {
    tl.rows * tl.cols + 2 * XI * tl.t
}

/// Forward pass of one group of images.
fn forward_group(g: &ConvGeometry, x: &[f32], w: &[f32], bias: Option<&[f32]>, y: &mut [f32]) {
    let tl = Tiles::new(g);
    let (t, c) = (tl.t, g.c);
    let mut v = Scratch::take(c * span(t));
    transform_channels(&mut v, t, plane_work(&tl), |ci, v, work| {
        input_transform(g, &tl, x, ci, v, work)
    });
    let v = &*v;
    let outs = blocks(g.oc);
    let planes = planes_by_block(y, g.oc, g.oh * g.ow, &outs);
    outs.into_par_iter()
        .zip(planes)
        .for_each(|(outs, mut planes)| {
            let ob = outs.len();
            let mut work = Scratch::take(ob * (span(c) + XI * t) + (12 * t).max(21 * c));
            let (u, rest) = work.split_at_mut(ob * span(c));
            let (m, rest) = rest.split_at_mut(XI * ob * t);
            weight_transform(g, w, outs.clone(), 0..c, u, rest);
            let u = &*u;
            products(m, |xi| position(u, ob, c, xi), |xi| position(v, c, t, xi));
            for (k, y) in planes.chunks_mut(g.n).enumerate() {
                let b = bias.map_or(0.0, |b| b[outs.start + k]);
                output_transform(g, &tl, m, ob, k, b, y, rest);
            }
        });
}

/// Backward to the input of one group of images.
fn backward_input_group(g: &ConvGeometry, gy: &[f32], w: &[f32], gx: &mut [f32]) {
    let tl = Tiles::new(g);
    let (t, oc) = (tl.t, g.oc);
    let mut dm = Scratch::take(oc * span(t));
    transform_channels(&mut dm, t, 12 * t, |o, dm, work| {
        grad_output_transform(g, &tl, gy, o, dm, work)
    });
    let dm = &*dm;
    let ins = blocks(g.c);
    let planes = planes_by_block(gx, g.c, g.h * g.w, &ins);
    ins.into_par_iter()
        .zip(planes)
        .for_each(|(ins, mut planes)| {
            let cb = ins.len();
            let mut work =
                Scratch::take(oc * span(cb) + XI * cb * t + plane_work(&tl).max(21 * cb));
            let (u, rest) = work.split_at_mut(oc * span(cb));
            let (dv, rest) = rest.split_at_mut(XI * cb * t);
            weight_transform(g, w, 0..oc, ins, u, rest);
            let u = &*u;
            products(
                dv,
                |xi| position(u, oc, cb, xi).t(),
                |xi| position(dm, oc, t, xi),
            );
            for (k, gx) in planes.chunks_mut(g.n).enumerate() {
                input_back_transform(g, &tl, dv, cb, k, gx, rest);
            }
        });
}

/// Backward to the weight of one group of images.
fn backward_weight_group(g: &ConvGeometry, x: &[f32], gy: &[f32], gw: &mut [f32]) {
    let tl = Tiles::new(g);
    let (t, c, oc) = (tl.t, g.c, g.oc);
    let mut acts = Scratch::take((c + oc) * span(t));
    let (v, dm) = acts.split_at_mut(c * span(t));
    transform_channels(v, t, plane_work(&tl), |ci, v, work| {
        input_transform(g, &tl, x, ci, v, work)
    });
    transform_channels(dm, t, 12 * t, |o, dm, work| {
        grad_output_transform(g, &tl, gy, o, dm, work)
    });
    let (v, dm) = (&*v, &*dm);
    let per = block_size(oc);
    gw.par_chunks_mut(per * c * 9)
        .enumerate()
        .for_each(|(b, gw)| {
            let ob = gw.len() / (c * 9);
            let mut work = Scratch::take(XI * ob * c + 21 * c);
            let (du, rest) = work.split_at_mut(XI * ob * c);
            let dmb = &dm[b * per * span(t)..];
            products(
                du,
                |xi| position(dmb, ob, t, xi),
                |xi| position(v, c, t, xi).t(),
            );
            weight_back_transform(g, du, ob, gw, rest);
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_groups_give_the_whole_batch_result() {
        // One image per group (the smallest budget) against the whole batch at once.
        let g = ConvGeometry {
            n: 3,
            c: 128,
            h: 6,
            w: 5,
            oc: 128,
            oh: 6,
            ow: 5,
            kh: 3,
            kw: 3,
            stride_h: 1,
            stride_w: 1,
            pad_top: 1,
            pad_left: 1,
            dilation_h: 1,
            dilation_w: 1,
            groups: 1,
            mode: crate::ops::padding::PaddingMode::Zeros,
        };
        assert_eq!(image_groups(&g, 128, 1).len(), 3);
        let wave = |len: usize, k: f32| {
            (0..len)
                .map(|i| ((i as f32) * k).sin())
                .collect::<Vec<f32>>()
        };
        let (x, w, b) = (
            wave(3 * 128 * 30, 0.37),
            wave(128 * 128 * 9, 0.11),
            wave(128, 0.5),
        );
        let gy = wave(3 * 128 * 30, 0.23);
        let (mut y1, mut y2) = (vec![0.0; gy.len()], vec![1.0; gy.len()]);
        forward_in_groups(&g, &x, &w, Some(&b), &mut y1, usize::MAX);
        forward_in_groups(&g, &x, &w, Some(&b), &mut y2, 1);
        assert_eq!(y1, y2);
        let (mut gx1, mut gx2) = (vec![0.0; x.len()], vec![1.0; x.len()]);
        backward_input_in_groups(&g, &gy, &w, &mut gx1, usize::MAX);
        backward_input_in_groups(&g, &gy, &w, &mut gx2, 1);
        assert_eq!(gx1, gx2);
        let (mut gw1, mut gw2) = (vec![0.0; w.len()], vec![1.0; w.len()]);
        backward_weight_in_groups(&g, &x, &gy, &mut gw1, usize::MAX);
        backward_weight_in_groups(&g, &x, &gy, &mut gw2, 1);
        for (a, b) in gw1.iter().zip(&gw2) {
            assert!((a - b).abs() <= 1e-4 * (1.0 + a.abs()), "{a} vs {b}");
        }
    }
}
