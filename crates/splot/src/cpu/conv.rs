//! Convolution kernels without autograd: im2col + GEMM (fast) and plain loops (reference).
//!
//! Legend: `n` images; input `c × h × w`; output `oc × oh × ow`; kernel `kh × kw`;
//! `g` groups with `cg = c/g` input and `ocg = oc/g` output channels each;
//! `ckk = cg·kh·kw` rows of the column matrix; `l = oh·ow` its columns.
//!
//! The three kernels are the three products of a convolution:
//! - forward:         `y_g[ocg, l]   = W_g[ocg, ckk] · col_g[ckk, l]`
//! - backward input:  `dcol_g[ckk, l] = W_gᵀ · gy_g`, then col2im scatters `dcol` into `gx`
//! - backward weight: `gW_g[ocg, ckk] += gy_g[ocg, l] · col_gᵀ`, summed over images
//!
//! `col` is read from the input through the padding index map ([`PaddingMode::source_index`]),
//! precomputed per axis: `row_map[ki][oy]` and `col_map[kj][ox]` give the source row and
//! column of tap `(ki, kj)` at output `(oy, ox)`, or `OUTSIDE` for a zero. col2im scatters
//! through the same maps, so a padded pixel's gradient lands on the pixel it copies.
//! A transposed convolution is the adjoint of a convolution: its forward is
//! `backward_input`, and its input gradient is `forward` (see `ops::conv`).

use super::gemm::{sgemm_raw, sgemm_strided, sgemm_with, MatRef};
use super::scratch::Scratch;
use crate::ops::padding::PaddingMode;
use rayon::prelude::*;
use std::ops::Range;

const OUTSIDE: usize = usize::MAX;

/// Everything the kernels need to know about one convolution (already validated).
#[derive(Clone, Debug, PartialEq)]
pub struct ConvGeometry {
    /// Images in the batch.
    pub n: usize,
    /// Input channels.
    pub c: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Output channels.
    pub oc: usize,
    /// Output height.
    pub oh: usize,
    /// Output width.
    pub ow: usize,
    /// Kernel height.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
    /// Vertical stride.
    pub stride_h: usize,
    /// Horizontal stride.
    pub stride_w: usize,
    /// Rows of padding above (the rows below only matter through `oh`).
    pub pad_top: usize,
    /// Columns of padding on the left.
    pub pad_left: usize,
    /// Vertical dilation.
    pub dilation_h: usize,
    /// Horizontal dilation.
    pub dilation_w: usize,
    /// Groups.
    pub groups: usize,
    /// How padded pixels are invented.
    pub mode: PaddingMode,
}

impl ConvGeometry {
    fn cg(&self) -> usize {
        self.c / self.groups
    }
    fn ocg(&self) -> usize {
        self.oc / self.groups
    }
    /// Products per output value: `(c/groups) · kh · kw`.
    pub fn ckk(&self) -> usize {
        self.cg() * self.kh * self.kw
    }
    fn l(&self) -> usize {
        self.oh * self.ow
    }

    /// Input coordinate of tap `k` at output position `o` on one axis.
    #[inline]
    fn tap(o: usize, k: usize, stride: usize, dilation: usize, pad: usize) -> isize {
        (o * stride + k * dilation) as isize - pad as isize
    }

    /// `row_map[ki·oh + oy]`: source row of tap `ki` at output row `oy`, or `OUTSIDE`.
    fn row_map(&self) -> Vec<usize> {
        let mut m = Vec::with_capacity(self.kh * self.oh);
        for ki in 0..self.kh {
            for oy in 0..self.oh {
                let i = Self::tap(oy, ki, self.stride_h, self.dilation_h, self.pad_top);
                m.push(self.mode.source_index(i, self.h).unwrap_or(OUTSIDE));
            }
        }
        m
    }

    /// `col_map[kj·ow + ox]`: source column of tap `kj` at output column `ox`, or `OUTSIDE`.
    fn col_map(&self) -> Vec<usize> {
        let mut m = Vec::with_capacity(self.kw * self.ow);
        for kj in 0..self.kw {
            for ox in 0..self.ow {
                let i = Self::tap(ox, kj, self.stride_w, self.dilation_w, self.pad_left);
                m.push(self.mode.source_index(i, self.w).unwrap_or(OUTSIDE));
            }
        }
        m
    }

    /// A 1×1, stride-1, unpadded convolution: the column matrix is the input itself.
    fn is_pointwise(&self) -> bool {
        self.kh == 1
            && self.kw == 1
            && self.oh == self.h
            && self.ow == self.w
            && self.stride_h == 1
            && self.stride_w == 1
            && self.pad_top == 0
            && self.pad_left == 0
    }

    /// The kernel covers each image's whole (unpadded) input, tap by pixel (no dilation
    /// gaps), and the output is 1×1, as in
    /// LeNet-5's C5: the column matrix of a block of images is then the input itself, one
    /// image per row, and the convolution is a fully connected layer on each group.
    fn is_whole_image(&self) -> bool {
        self.kh == self.h
            && self.kw == self.w
            && self.oh == 1
            && self.ow == 1
            && self.pad_top == 0
            && self.pad_left == 0
            && (self.dilation_h == 1 || self.kh == 1)
            && (self.dilation_w == 1 || self.kw == 1)
    }

    /// Whether the kernels run it as a direct convolution ([`super::direct`]) rather than
    /// im2col + GEMM: stride 1, no dilation, few output channels per group.
    pub fn is_direct(&self) -> bool {
        super::direct::applies(self) && !self.is_whole_image()
    }

    /// Whether the kernels run it as Winograd F(2×2, 3×3) ([`super::winograd`]): 3×3,
    /// stride 1, many channels.
    pub fn is_winograd(&self) -> bool {
        !self.is_direct() && super::winograd::applies(self)
    }

    /// Whether an image's column matrix is too large for the cache (and its output wide
    /// enough for a GEMM on its own): the forward pass then goes a chunk of output rows at
    /// a time ([`row_chunks`]).
    pub fn is_chunked(&self) -> bool {
        !self.is_pointwise()
            && !self.is_whole_image()
            && !self.is_direct()
            && !self.is_winograd()
            && self.l() >= MIN_COLUMNS
            && self.ckk() * self.l() > COL_BUDGET
    }

    /// Multiply-accumulates of the forward pass.
    pub fn macs(&self) -> usize {
        self.n * self.oc * self.l() * self.ckk()
    }
}

/// The precomputed index maps of one convolution. `interior[kj] = (lo, hi, first)`: for
/// outputs `lo ≤ ox < hi` tap `kj` reads inside the image, at column `first + (ox − lo)·sw`
/// (the map is the identity there), so those runs are plain (strided) copies.
struct Maps {
    rows: Vec<usize>,
    cols: Vec<usize>,
    interior: Vec<(usize, usize, usize)>,
    /// `row_interior[ki] = (a, b, shift)`: for output rows `a ≤ oy < b` tap row `ki` reads
    /// the real row `oy + shift` (used with stride 1 only; `a = b` when there are none).
    row_interior: Vec<(usize, usize, isize)>,
}

impl Maps {
    fn new(g: &ConvGeometry) -> Self {
        let interior = (0..g.kw)
            .map(|kj| {
                let inside = |ox: usize| {
                    let i = ConvGeometry::tap(ox, kj, g.stride_w, g.dilation_w, g.pad_left);
                    (0..g.w as isize).contains(&i)
                };
                let lo = (0..g.ow).find(|&ox| inside(ox)).unwrap_or(g.ow);
                let hi = (lo..g.ow).find(|&ox| !inside(ox)).unwrap_or(g.ow);
                let first = if lo < hi {
                    ConvGeometry::tap(lo, kj, g.stride_w, g.dilation_w, g.pad_left) as usize
                } else {
                    0
                };
                (lo, hi, first)
            })
            .collect();
        let row_interior = (0..g.kh)
            .map(|ki| {
                let at = |oy: usize| ConvGeometry::tap(oy, ki, 1, g.dilation_h, g.pad_top);
                let a = (0..g.oh).find(|&oy| at(oy) >= 0).unwrap_or(g.oh);
                let b = (a..g.oh).find(|&oy| at(oy) >= g.h as isize).unwrap_or(g.oh);
                (a, b, at(a) - a as isize)
            })
            .collect();
        Maps {
            rows: g.row_map(),
            cols: g.col_map(),
            interior,
            row_interior,
        }
    }
}

/// How the kernels share out work: with at least as many images as threads, each thread
/// takes a contiguous run of images and works alone (no synchronisation inside); with fewer
/// images, the images are done one block at a time with parallel im2col and GEMM.
fn images_per_task(n: usize) -> Option<usize> {
    let threads = rayon::current_num_threads();
    (threads > 1 && n >= threads).then(|| n.div_ceil(threads))
}

/// Columns budget: images are processed in blocks whose column matrix holds at most this
/// many values (128 KiB: it and the GEMM's packed panels stay in the L2 cache, which for
/// LeNet-sized layers is worth 2× over larger blocks; a larger layer goes image by image).
const COL_BUDGET: usize = 1 << 15;

/// Columns below which a GEMM is too thin to run at speed: a layer with small outputs
/// (512 channels at 7×7) batches this many images' columns even past the budget.
const MIN_COLUMNS: usize = 256;

/// Rows below which a GEMM is too thin to run at speed (the column gradient of the
/// backward pass goes a block of at least this many rows at a time).
const MIN_ROWS: usize = 128;

/// Output columns of the GEMM's register tile (four 16-float vectors on AVX-512).
const TILE_COLUMNS: usize = 64;

/// Values in the column matrix of one chunk of output rows (see [`row_chunks`]): 256 KiB,
/// a quarter of this machine's L2 (32 Ki to 128 Ki values measure the same).
const CHUNK_BUDGET: usize = 1 << 16;

/// The output rows of an image taken a chunk at a time, so that a chunk's column matrix
/// stays within the chunk budget (in the L2 cache, where the GEMM's packing reads it back)
/// while still giving the GEMM at least [`MIN_COLUMNS`] columns.
///
/// Within twice that budget, the row count is the one whose column count wastes the least
/// of the GEMM's 64-column register tiles (8 rows of 56 are 7 tiles, where 5 rows are 4⅜).
fn row_chunks(g: &ConvGeometry) -> impl Iterator<Item = Range<usize>> {
    let oh = g.oh.max(1);
    let by_budget = CHUNK_BUDGET / (g.ckk() * g.ow).max(1);
    let by_width = MIN_COLUMNS.div_ceil(g.ow.max(1));
    let rows = by_budget.max(by_width).clamp(1, oh);
    let waste = |r: usize| {
        let cols = r * g.ow;
        (cols.div_ceil(TILE_COLUMNS) * TILE_COLUMNS - cols) as f64 / cols.max(1) as f64
    };
    let rows = (rows..=(2 * rows).min(oh))
        .min_by(|&a, &b| waste(a).total_cmp(&waste(b)))
        .unwrap_or(rows);
    let oh = g.oh;
    (0..oh).step_by(rows).map(move |r| r..(r + rows).min(oh))
}

/// Input channels per block of a batch of `nb` small images, whose column matrix goes a
/// block of channels at a time: the block's rows within the chunk budget, but at least
/// [`MIN_ROWS`] of them.
fn channels_per_block(g: &ConvGeometry, nb: usize) -> usize {
    let kk = g.kh * g.kw;
    (CHUNK_BUDGET / (kk * nb * g.l()).max(1)).max(MIN_ROWS.div_ceil(kk))
}

fn images_per_block(g: &ConvGeometry, images: usize) -> usize {
    let by_budget = COL_BUDGET / (g.ckk() * g.l()).max(1);
    let by_width = MIN_COLUMNS.div_ceil(g.l().max(1));
    by_budget.max(by_width).clamp(1, images.max(1))
}

/// Lengths of a task's two work buffers: the column matrix `[ckk, nb_max·l]` (none for a
/// pointwise convolution, which reads its input directly) and one group's rows in the
/// batched layout `[ocg, nb_max·l]` (none when images go one at a time); none at all for a
/// whole-image convolution.
fn work_sizes(g: &ConvGeometry, nb_max: usize) -> (usize, usize) {
    if g.is_whole_image() {
        return (0, 0);
    }
    let col = if g.is_pointwise() {
        0
    } else {
        g.ckk() * nb_max * g.l()
    };
    let rows = if nb_max > 1 {
        g.ocg() * nb_max * g.l()
    } else {
        0
    };
    (col, rows)
}

/// Fills `col [ckk, nb·lr]` for group `grp` of `nb` consecutive images `x [nb, c, h, w]`
/// and the output rows `out_rows` (`lr = out_rows.len()·ow` columns per image): column
/// `i·lr + (oy − out_rows.start)·ow + ox` of row `(cl, ki, kj)` is the input pixel that tap
/// `(ki, kj)` of output `(oy, ox)` of image `i` reads, through the padding maps.
#[allow(clippy::too_many_arguments)]
fn im2col(
    g: &ConvGeometry,
    maps: &Maps,
    x: &[f32],
    nb: usize,
    grp: usize,
    chans: Range<usize>,
    out_rows: Range<usize>,
    col: &mut [f32],
    parallel: bool,
) {
    let (hw, chw, kk) = (g.h * g.w, g.c * g.h * g.w, g.kh * g.kw);
    let l = out_rows.len() * g.ow;
    // Stride 1 with as many output columns as input columns: output rows and input rows
    // are both `w` apart, so the interior of a tap's rows is one shifted copy of the plane.
    let bulk = g.stride_h == 1 && g.stride_w == 1 && g.ow == g.w;
    let fill_row = |r: usize, row: &mut [f32]| {
        let (cl, ki, kj) = (r / kk, (r / g.kw) % g.kh, r % g.kw);
        let cmap = &maps.cols[kj * g.ow..][..g.ow];
        let (lo, hi, first) = maps.interior[kj];
        // Output rows [a, b) whose source row `oy + shift` is a real row.
        let (a, b, shift) = maps.row_interior[ki];
        let (a, b) = if bulk && lo < hi {
            (
                a.clamp(out_rows.start, out_rows.end),
                b.clamp(out_rows.start, out_rows.end),
            )
        } else {
            (0, 0)
        };
        for i in 0..nb {
            let src = &x[i * chw + (grp * g.cg() + cl) * hw..][..hw];
            let img = &mut row[i * l..][..l];
            let edges = |dst: &mut [f32], srow: &[f32]| {
                let (left, rest) = dst.split_at_mut(lo);
                let right = &mut rest[hi - lo..];
                for (d, &sc) in left
                    .iter_mut()
                    .zip(&cmap[..lo])
                    .chain(right.iter_mut().zip(&cmap[hi..]))
                {
                    *d = if sc == OUTSIDE { 0.0 } else { srow[sc] };
                }
            };
            if a < b {
                // one copy from the first interior value to the last; the edge columns it
                // also covers are then written through the map
                let d0 = (a - out_rows.start) * g.ow + lo;
                let len = (b - 1 - a) * g.ow + hi - lo;
                let s0 = (a as isize + shift) as usize * g.w + first;
                img[d0..d0 + len].copy_from_slice(&src[s0..s0 + len]);
                for oy in a..b {
                    let dst = &mut img[(oy - out_rows.start) * g.ow..][..g.ow];
                    let sr = (oy as isize + shift) as usize;
                    edges(dst, &src[sr * g.w..][..g.w]);
                }
            }
            for oy in out_rows.clone().filter(|oy| !(a..b).contains(oy)) {
                let dst = &mut img[(oy - out_rows.start) * g.ow..][..g.ow];
                let sr = maps.rows[ki * g.oh + oy];
                if sr == OUTSIDE {
                    dst.fill(0.0);
                    continue;
                }
                let srow = &src[sr * g.w..][..g.w];
                edges(dst, srow);
                let middle = &mut dst[lo..hi];
                if g.stride_w == 1 {
                    copy_short(middle, &srow[first..first + hi - lo]);
                } else if g.stride_w == 2 {
                    copy_every_other(middle, &srow[first..]);
                } else {
                    for (d, &v) in middle
                        .iter_mut()
                        .zip(srow[first..].iter().step_by(g.stride_w))
                    {
                        *d = v;
                    }
                }
            }
        }
    };
    let (col, r0) = (&mut col[..chans.len() * kk * nb * l], chans.start * kk);
    if parallel {
        col.par_chunks_mut(nb * l)
            .enumerate()
            .for_each(|(r, row)| fill_row(r0 + r, row));
    } else {
        col.chunks_mut(nb * l)
            .enumerate()
            .for_each(|(r, row)| fill_row(r0 + r, row));
    }
}

/// `dst[k] = src[2k]`: written with plain indices so that the loop vectorises (loads of
/// two vectors and a shuffle), where a `step_by(2)` iterator stays scalar.
#[inline(always)]
fn copy_every_other(dst: &mut [f32], src: &[f32]) {
    let n = dst.len();
    if n == 0 {
        return;
    }
    let src = &src[..2 * n - 1];
    #[allow(clippy::needless_range_loop)]
    for k in 0..n {
        dst[k] = src[2 * k];
    }
}

/// `dst = src`, without a call to `memcpy` for the short rows of small layers (LeNet's are
/// 10–28 values, where the call costs more than the copy).
#[inline(always)]
pub(super) fn copy_short(dst: &mut [f32], src: &[f32]) {
    if dst.len() >= 64 {
        dst.copy_from_slice(src);
        return;
    }
    let mut d = dst.chunks_exact_mut(8);
    let mut s = src.chunks_exact(8);
    for (d, s) in (&mut d).zip(&mut s) {
        d.copy_from_slice(s);
    }
    for (d, &s) in d.into_remainder().iter_mut().zip(s.remainder()) {
        *d = s;
    }
}

/// Scatters the rows of `dcol [ckk, nb·l]` of group `grp` that belong to its channels
/// `chans` (`dcol` holds those rows only) into the gradient `gx [nb, c, h, w]`
/// (accumulating): the adjoint of [`im2col`].
#[allow(clippy::too_many_arguments)]
fn col2im(
    g: &ConvGeometry,
    maps: &Maps,
    dcol: &[f32],
    nb: usize,
    grp: usize,
    chans: Range<usize>,
    gx: &mut [f32],
    parallel: bool,
) {
    let (l, hw, chw, kk, cg) = (g.l(), g.h * g.w, g.c * g.h * g.w, g.kh * g.kw, g.cg());
    let scatter = |i: usize, cl: usize, gxc: &mut [f32]| {
        for ki in 0..g.kh {
            for kj in 0..g.kw {
                let r = (cl - chans.start) * kk + ki * g.kw + kj;
                let row = &dcol[r * nb * l + i * l..][..l];
                let cmap = &maps.cols[kj * g.ow..][..g.ow];
                for oy in 0..g.oh {
                    let sr = maps.rows[ki * g.oh + oy];
                    if sr == OUTSIDE {
                        continue;
                    }
                    let grow = &mut gxc[sr * g.w..][..g.w];
                    let drow = &row[oy * g.ow..][..g.ow];
                    let (lo, hi, first) = maps.interior[kj];
                    for (&d, &sc) in drow[..lo]
                        .iter()
                        .zip(&cmap[..lo])
                        .chain(drow[hi..].iter().zip(&cmap[hi..]))
                    {
                        if sc != OUTSIDE {
                            grow[sc] += d;
                        }
                    }
                    if g.stride_w == 1 {
                        grow[first..first + hi - lo]
                            .iter_mut()
                            .zip(&drow[lo..hi])
                            .for_each(|(a, &d)| *a += d);
                    } else {
                        for (a, &d) in grow[first..]
                            .iter_mut()
                            .step_by(g.stride_w)
                            .zip(&drow[lo..hi])
                        {
                            *a += d;
                        }
                    }
                }
            }
        }
    };
    // The group's channels of every image of the block: [nb][cg] planes of h·w.
    let planes = gx[..nb * chw]
        .chunks_mut(hw)
        .enumerate()
        .filter_map(|(p, plane)| {
            let (i, ch) = (p / g.c, p % g.c);
            (ch / cg == grp && chans.contains(&(ch % cg))).then_some((i, ch % cg, plane))
        });
    if parallel {
        planes
            .collect::<Vec<_>>()
            .into_par_iter()
            .for_each(|(i, cl, plane)| scatter(i, cl, plane));
    } else {
        planes.for_each(|(i, cl, plane)| scatter(i, cl, plane));
    }
}

/// Gathers rows `[i, row0 + o, :]` of `images [nb, rows, l]` into `batched [o, i·l]`: from
/// the per-image layout to the batched GEMM layout.
fn gather_rows(
    images: &[f32],
    batched: &mut [f32],
    nb: usize,
    rows: usize,
    row0: usize,
    count: usize,
    l: usize,
) {
    for i in 0..nb {
        for o in 0..count {
            batched[(o * nb + i) * l..][..l]
                .copy_from_slice(&images[(i * rows + row0 + o) * l..][..l]);
        }
    }
}

/// Scatters `batched [o, i·l]` back into rows `[i, row0 + o, :]` of `images [nb, rows, l]`:
/// the inverse of [`gather_rows`].
fn scatter_rows(
    batched: &[f32],
    images: &mut [f32],
    nb: usize,
    rows: usize,
    row0: usize,
    count: usize,
    l: usize,
) {
    for i in 0..nb {
        for o in 0..count {
            images[(i * rows + row0 + o) * l..][..l]
                .copy_from_slice(&batched[(o * nb + i) * l..][..l]);
        }
    }
}

/// Runs `work(first image, image count, output chunk)` over the batch, split as
/// [`images_per_task`] says; `work`'s last argument says whether it may use the pool itself.
pub(super) fn split_images(
    n: usize,
    out: &mut [f32],
    per_image: usize,
    work: impl Fn(usize, usize, &mut [f32], bool) + Sync,
) {
    match images_per_task(n) {
        Some(chunk) => out[..n * per_image]
            .par_chunks_mut(chunk * per_image)
            .enumerate()
            .for_each(|(t, o)| work(t * chunk, o.len() / per_image, o, false)),
        None => work(0, n, out, true),
    }
}

/// Forward: `y [n, oc, oh, ow] = conv(x [n, c, h, w], w [oc, cg, kh, kw]) + bias [oc]`.
pub fn conv_forward(g: &ConvGeometry, x: &[f32], w: &[f32], bias: Option<&[f32]>, y: &mut [f32]) {
    if g.is_direct() {
        return super::direct::forward(g, x, w, bias, y);
    }
    if g.is_winograd() {
        return super::winograd::forward(g, x, w, bias, y);
    }
    let (l, ckk, ocg, cg, chw) = (g.l(), g.ckk(), g.ocg(), g.cg(), g.c * g.h * g.w);
    let hw = g.h * g.w;
    let maps = Maps::new(g);
    if g.is_chunked() {
        return forward_chunks(g, &maps, x, w, bias, y);
    }
    split_images(g.n, y, g.oc * l, |first, count, y, par| {
        let x = &x[first * chw..];
        if g.is_whole_image() {
            // y_g [count, ocg] = x_g [count, ckk] · W_gᵀ, rows `oc` (in y) and `chw` (in x) apart
            for grp in 0..g.groups {
                let xg = MatRef::strided(&x[grp * cg * hw..], count, ckk, chw);
                let wt = MatRef::row_major(&w[grp * ocg * ckk..][..ocg * ckk], ocg, ckk).t();
                sgemm_strided(xg, wt, &mut y[grp * ocg..], g.oc, false, par);
            }
            add_bias(g, bias, y);
            return;
        }
        let nb_max = images_per_block(g, count);
        let (col_len, rows_len) = work_sizes(g, nb_max);
        let mut scratch = Scratch::take(col_len + rows_len);
        let (col, tmp) = scratch.split_at_mut(col_len);
        for b0 in (0..count).step_by(nb_max) {
            let nb = nb_max.min(count - b0);
            let (xb, yb) = (&x[b0 * chw..], &mut y[b0 * g.oc * l..]);
            for grp in 0..g.groups {
                let wg = MatRef::row_major(&w[grp * ocg * ckk..][..ocg * ckk], ocg, ckk);
                if g.is_pointwise() {
                    for i in 0..nb {
                        let xi = MatRef::row_major(&xb[i * chw + grp * cg * l..][..cg * l], ckk, l);
                        sgemm_with(
                            wg,
                            xi,
                            &mut yb[(i * g.oc + grp * ocg) * l..][..ocg * l],
                            false,
                            par,
                        );
                    }
                    continue;
                }
                if nb > 1 && !par {
                    // Small images batched: the column matrix a block of input channels at a
                    // time (in L2 for the GEMM's packing), the products summed in `tmp`.
                    let kk = g.kh * g.kw;
                    let per_block = channels_per_block(g, nb);
                    for c0 in (0..cg).step_by(per_block) {
                        let chans = c0..(c0 + per_block).min(cg);
                        let rows = chans.len() * kk;
                        im2col(g, &maps, xb, nb, grp, chans, 0..g.oh, col, false);
                        let w_rows =
                            MatRef::strided(&w[grp * ocg * ckk + c0 * kk..], ocg, rows, ckk);
                        let colm = MatRef::row_major(&col[..rows * nb * l], rows, nb * l);
                        sgemm_with(w_rows, colm, &mut tmp[..ocg * nb * l], c0 > 0, false);
                    }
                    scatter_rows(tmp, yb, nb, g.oc, grp * ocg, ocg, l);
                    continue;
                }
                im2col(g, &maps, xb, nb, grp, 0..cg, 0..g.oh, col, par);
                let colm = MatRef::row_major(&col[..ckk * nb * l], ckk, nb * l);
                if nb == 1 {
                    sgemm_with(wg, colm, &mut yb[grp * ocg * l..][..ocg * l], false, par);
                } else {
                    sgemm_with(wg, colm, &mut tmp[..ocg * nb * l], false, par);
                    scatter_rows(tmp, yb, nb, g.oc, grp * ocg, ocg, l);
                }
            }
        }
        add_bias(g, bias, y);
    });
}

/// The forward pass of a layer whose images are large ([`ConvGeometry::is_chunked`]): the
/// work is cut into (image, group, chunk of output rows) pieces, shared out across the
/// pool, each filling its chunk's column matrix (small enough to stay in the L2 cache for
/// the GEMM's packing to read back) and multiplying it on its own thread straight into its
/// columns of `y`. A batch of one image keeps every thread busy the same way.
fn forward_chunks(
    g: &ConvGeometry,
    maps: &Maps,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    y: &mut [f32],
) {
    let (l, ckk, ocg, chw) = (g.l(), g.ckk(), g.ocg(), g.c * g.h * g.w);
    let chunks: Vec<Range<usize>> = row_chunks(g).collect();
    let per_image = g.groups * chunks.len();
    assert!(
        x.len() >= g.n * chw && y.len() >= g.n * g.oc * l,
        "conv buffers too small"
    );
    let out = SharedOut(y.as_mut_ptr());
    (0..g.n * per_image).into_par_iter().for_each(|u| {
        let (i, grp, rows) = (
            u / per_image,
            u / chunks.len() % g.groups,
            &chunks[u % chunks.len()],
        );
        let lr = rows.len() * g.ow;
        let mut col = Scratch::take(ckk * lr);
        im2col(
            g,
            maps,
            &x[i * chw..],
            1,
            grp,
            0..g.cg(),
            rows.clone(),
            &mut col,
            false,
        );
        let wg = MatRef::row_major(&w[grp * ocg * ckk..][..ocg * ckk], ocg, ckk);
        let colm = MatRef::row_major(&col, ckk, lr);
        let first = (i * g.oc + grp * ocg) * l + rows.start * g.ow;
        // SAFETY: this piece's rows `ocg` × columns `lr` (rows `l` apart) of image `i` lie
        // inside `y` (checked above), and no other piece writes them.
        unsafe {
            let c = out.at(first);
            if let Some(b) = bias {
                for o in 0..ocg {
                    std::slice::from_raw_parts_mut(c.add(o * l), lr).fill(b[grp * ocg + o]);
                }
            }
            sgemm_raw(wg, colm, c, l, bias.is_some(), false);
        }
    });
}

/// The output of a convolution whose pieces, on different threads, write disjoint parts.
struct SharedOut(*mut f32);
// SAFETY: used only by `forward_chunks`, whose pieces write disjoint values, so sharing
// the pointer between threads never lets two of them touch the same value.
unsafe impl Sync for SharedOut {}
// SAFETY: as for `Sync`: the pointer is only moved to threads that write disjoint values,
// and the output it points into outlives the parallel loop that uses it.
unsafe impl Send for SharedOut {}

impl SharedOut {
    /// The address `offset` values in.
    ///
    /// # Safety
    /// `offset` must lie inside the output.
    unsafe fn at(&self, offset: usize) -> *mut f32 {
        // SAFETY: the caller promises `offset` lies inside the output, so the address stays
        // inside the one allocation `self.0` points into.
        unsafe { self.0.add(offset) }
    }
}

/// `y [count, oc, l] += bias [oc]`, per output channel.
fn add_bias(g: &ConvGeometry, bias: Option<&[f32]>, y: &mut [f32]) {
    if let Some(b) = bias {
        for (j, row) in y.chunks_mut(g.l()).enumerate() {
            let bo = b[j % g.oc];
            row.iter_mut().for_each(|v| *v += bo);
        }
    }
}

/// Backward to the input: `gx [n, c, h, w] = ∂loss/∂x` from `gy = ∂loss/∂y` (overwritten).
pub fn conv_backward_input(g: &ConvGeometry, gy: &[f32], w: &[f32], gx: &mut [f32]) {
    if g.is_direct() {
        return super::direct::backward_input(g, gy, w, gx);
    }
    if g.is_winograd() {
        return super::winograd::backward_input(g, gy, w, gx);
    }
    let (l, ckk, ocg, cg, chw) = (g.l(), g.ckk(), g.ocg(), g.cg(), g.c * g.h * g.w);
    let hw = g.h * g.w;
    let maps = Maps::new(g);
    split_images(g.n, gx, chw, |first, count, gx, par| {
        let gy = &gy[first * g.oc * l..];
        gx.fill(0.0);
        if g.is_whole_image() {
            // gx_g [count, ckk] = gy_g [count, ocg] · W_g, rows `chw` (in gx) and `oc` (in gy) apart
            for grp in 0..g.groups {
                let gyg = MatRef::strided(&gy[grp * ocg..], count, ocg, g.oc);
                let wg = MatRef::row_major(&w[grp * ocg * ckk..][..ocg * ckk], ocg, ckk);
                sgemm_strided(gyg, wg, &mut gx[grp * cg * hw..], chw, false, par);
            }
            return;
        }
        let nb_max = images_per_block(g, count);
        let (col_len, rows_len) = work_sizes(g, nb_max);
        let mut scratch = Scratch::take(col_len + rows_len);
        let (dcol, gyb) = scratch.split_at_mut(col_len);
        for b0 in (0..count).step_by(nb_max) {
            let nb = nb_max.min(count - b0);
            let gxb = &mut gx[b0 * chw..];
            for grp in 0..g.groups {
                if g.is_pointwise() {
                    // W_gᵀ [ckk, ocg]: the weight read with rows and columns swapped, no copy.
                    let wt = MatRef::row_major(&w[grp * ocg * ckk..][..ocg * ckk], ocg, ckk).t();
                    for i in 0..nb {
                        let gyi = MatRef::row_major(
                            &gy[((b0 + i) * g.oc + grp * ocg) * l..][..ocg * l],
                            ocg,
                            l,
                        );
                        sgemm_with(
                            wt,
                            gyi,
                            &mut gxb[i * chw + grp * cg * l..][..cg * l],
                            false,
                            par,
                        );
                    }
                    continue;
                }
                let gym = if nb == 1 {
                    MatRef::row_major(&gy[(b0 * g.oc + grp * ocg) * l..][..ocg * l], ocg, l)
                } else {
                    let gy_block = &gy[b0 * g.oc * l..][..nb * g.oc * l];
                    gather_rows(gy_block, gyb, nb, g.oc, grp * ocg, ocg, l);
                    MatRef::row_major(&gyb[..ocg * nb * l], ocg, nb * l)
                };
                // Small images batched: a block of channels at a time, so that their rows
                // of the column gradient stay in the cache until they are scattered (a
                // thread's own block only; one image's rows are scattered as they are).
                let kk = g.kh * g.kw;
                let per_block = if par || nb == 1 {
                    cg
                } else {
                    channels_per_block(g, nb)
                };
                for c0 in (0..cg).step_by(per_block) {
                    let chans = c0..(c0 + per_block).min(cg);
                    let rows = chans.len() * kk;
                    let w_rows = MatRef::strided(&w[grp * ocg * ckk + c0 * kk..], ocg, rows, ckk);
                    sgemm_with(w_rows.t(), gym, &mut dcol[..rows * nb * l], false, par);
                    col2im(g, &maps, dcol, nb, grp, chans, gxb, par);
                }
            }
        }
    });
}

/// Backward to the weight: `gw [oc, cg, kh, kw] = ∂loss/∂w` from `x` and `gy` (overwritten).
/// Each task sums its images into its own partial; partials are added in a fixed order, so
/// the result depends only on the thread count.
pub fn conv_backward_weight(g: &ConvGeometry, x: &[f32], gy: &[f32], gw: &mut [f32]) {
    if g.is_direct() {
        return super::direct::backward_weight(g, x, gy, gw);
    }
    if g.is_winograd() {
        return super::winograd::backward_weight(g, x, gy, gw);
    }
    let (l, ckk, ocg, cg, chw) = (g.l(), g.ckk(), g.ocg(), g.cg(), g.c * g.h * g.w);
    let hw = g.h * g.w;
    let maps = Maps::new(g);
    let partial = |first: usize, count: usize, gw: &mut [f32], par: bool| {
        gw.fill(0.0);
        if g.is_whole_image() {
            // gW_g [ocg, ckk] = gy_gᵀ [ocg, count] · x_g [count, ckk]
            for grp in 0..g.groups {
                let gyt = MatRef::strided(&gy[first * g.oc + grp * ocg..], count, ocg, g.oc).t();
                let xg = MatRef::strided(&x[first * chw + grp * cg * hw..], count, ckk, chw);
                sgemm_with(gyt, xg, &mut gw[grp * ocg * ckk..][..ocg * ckk], false, par);
            }
            return;
        }
        let nb_max = if par && count * l <= 2 * MIN_COLUMNS {
            count
        } else {
            images_per_block(g, count)
        };
        let (col_len, rows_len) = work_sizes(g, nb_max);
        let mut scratch = Scratch::take(col_len + rows_len);
        let (col, gyb) = scratch.split_at_mut(col_len);
        for b0 in (first..first + count).step_by(nb_max) {
            let nb = nb_max.min(first + count - b0);
            let xb = &x[b0 * chw..];
            for grp in 0..g.groups {
                let gwg = &mut gw[grp * ocg * ckk..][..ocg * ckk];
                if g.is_pointwise() {
                    for i in 0..nb {
                        let gyi = MatRef::row_major(
                            &gy[((b0 + i) * g.oc + grp * ocg) * l..][..ocg * l],
                            ocg,
                            l,
                        );
                        let xt =
                            MatRef::row_major(&xb[i * chw + grp * cg * l..][..cg * l], ckk, l).t();
                        sgemm_with(gyi, xt, gwg, true, par);
                    }
                    continue;
                }
                if nb == 1 && !par && g.is_chunked() {
                    // A large image on its thread: a chunk of output rows at a time, as in
                    // the forward pass (the chunk's columns stay in L2 for the GEMM).
                    for rows in row_chunks(g) {
                        let lr = rows.len() * g.ow;
                        im2col(g, &maps, xb, 1, grp, 0..cg, rows.clone(), col, false);
                        let colt = MatRef::row_major(&col[..ckk * lr], ckk, lr).t();
                        let gy0 = (b0 * g.oc + grp * ocg) * l + rows.start * g.ow;
                        let gyc = MatRef::strided(&gy[gy0..], ocg, lr, l);
                        sgemm_with(gyc, colt, gwg, true, false);
                    }
                    continue;
                }
                im2col(g, &maps, xb, nb, grp, 0..cg, 0..g.oh, col, par);
                let colt = MatRef::row_major(&col[..ckk * nb * l], ckk, nb * l).t();
                let gym = if nb == 1 {
                    MatRef::row_major(&gy[(b0 * g.oc + grp * ocg) * l..][..ocg * l], ocg, l)
                } else {
                    let gy_block = &gy[b0 * g.oc * l..][..nb * g.oc * l];
                    gather_rows(gy_block, gyb, nb, g.oc, grp * ocg, ocg, l);
                    MatRef::row_major(&gyb[..ocg * nb * l], ocg, nb * l)
                };
                sgemm_with(gym, colt, gwg, true, par);
            }
        }
    };
    // Few output columns per thread (512 channels at 7×7): each thread's own partial would
    // be a thin GEMM into a large gradient, read and written again to sum the partials;
    // one GEMM over the whole batch on every thread instead.
    let threads = rayon::current_num_threads();
    if !g.is_whole_image() && g.n.div_ceil(threads) * l < MIN_COLUMNS {
        return partial(0, g.n, gw, true);
    }
    sum_image_partials(g.n, gw, partial);
}

/// `out = Σ partial(first, count)` over the batch of `n` images: with at least as many
/// images as threads ([`images_per_task`]), each task writes the sum over its run of images
/// into its own buffer and the buffers are added in a fixed order, so the result depends
/// only on the thread count; otherwise one call takes every image and may use the pool
/// itself (its last argument). `partial` overwrites the buffer it is given.
pub(super) fn sum_image_partials(
    n: usize,
    out: &mut [f32],
    partial: impl Fn(usize, usize, &mut [f32], bool) + Sync,
) {
    match images_per_task(n) {
        Some(chunk) => {
            let tasks = n.div_ceil(chunk);
            let mut partials = vec![0.0f32; tasks * out.len()];
            partials
                .par_chunks_mut(out.len())
                .enumerate()
                .for_each(|(t, p)| {
                    let first = t * chunk;
                    partial(first, chunk.min(n - first), p, false)
                });
            out.copy_from_slice(&partials[..out.len()]);
            for p in partials.chunks(out.len()).skip(1) {
                out.iter_mut().zip(p).for_each(|(a, b)| *a += b);
            }
        }
        None => partial(0, n, out, true),
    }
}

/// Visits every (image, output channel, output pixel, input channel, tap) of a convolution
/// with the flat offsets of the input pixel it reads (through the padding map), the weight
/// and the output: the definition `y = Σ x·w`, written as plainly as possible.
fn for_each_tap(g: &ConvGeometry, mut f: impl FnMut(usize, usize, usize)) {
    let (cg, ocg) = (g.cg(), g.ocg());
    for i in 0..g.n {
        for o in 0..g.oc {
            let grp = o / ocg;
            for oy in 0..g.oh {
                for ox in 0..g.ow {
                    let yo = ((i * g.oc + o) * g.oh + oy) * g.ow + ox;
                    for cl in 0..cg {
                        let ch = grp * cg + cl;
                        for ki in 0..g.kh {
                            let iy = ConvGeometry::tap(oy, ki, g.stride_h, g.dilation_h, g.pad_top);
                            let Some(sy) = g.mode.source_index(iy, g.h) else {
                                continue;
                            };
                            for kj in 0..g.kw {
                                let ix =
                                    ConvGeometry::tap(ox, kj, g.stride_w, g.dilation_w, g.pad_left);
                                let Some(sx) = g.mode.source_index(ix, g.w) else {
                                    continue;
                                };
                                let xo = ((i * g.c + ch) * g.h + sy) * g.w + sx;
                                let wo = ((o * cg + cl) * g.kh + ki) * g.kw + kj;
                                f(xo, wo, yo);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Reference forward: nested loops over the definition.
pub fn conv_forward_reference(
    g: &ConvGeometry,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    y: &mut [f32],
) {
    let l = g.l();
    for (j, v) in y.iter_mut().enumerate() {
        *v = bias.map_or(0.0, |b| b[(j / l) % g.oc]);
    }
    for_each_tap(g, |xo, wo, yo| y[yo] += x[xo] * w[wo]);
}

/// Reference backward to the input: `gx[x] = Σ gy[y]·w` over the taps that read `x`.
pub fn conv_backward_input_reference(g: &ConvGeometry, gy: &[f32], w: &[f32], gx: &mut [f32]) {
    gx.fill(0.0);
    for_each_tap(g, |xo, wo, yo| gx[xo] += gy[yo] * w[wo]);
}

/// Reference backward to the weight: `gw[w] = Σ gy[y]·x` over the taps that use `w`.
pub fn conv_backward_weight_reference(g: &ConvGeometry, x: &[f32], gy: &[f32], gw: &mut [f32]) {
    gw.fill(0.0);
    for_each_tap(g, |xo, wo, yo| gw[wo] += gy[yo] * x[xo]);
}
