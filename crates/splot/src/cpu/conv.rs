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

use super::gemm::{sgemm, MatRef};
use crate::ops::padding::PaddingMode;
use rayon::prelude::*;

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
    fn ckk(&self) -> usize {
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

    /// Multiply-accumulates of the forward pass.
    pub fn macs(&self) -> usize {
        self.n * self.oc * self.l() * self.ckk()
    }
}

/// The precomputed index maps of one convolution.
struct Maps {
    rows: Vec<usize>,
    cols: Vec<usize>,
}

impl Maps {
    fn new(g: &ConvGeometry) -> Self {
        Maps {
            rows: g.row_map(),
            cols: g.col_map(),
        }
    }
}

/// Fills `col [ckk, l]` for group `grp` of one image `x [c, h, w]`.
fn im2col(g: &ConvGeometry, maps: &Maps, x: &[f32], grp: usize, col: &mut [f32]) {
    let (l, hw, kk) = (g.l(), g.h * g.w, g.kh * g.kw);
    col.par_chunks_mut(l)
        .with_min_len(8)
        .enumerate()
        .for_each(|(r, row)| {
            let (cl, ki, kj) = (r / kk, (r / g.kw) % g.kh, r % g.kw);
            let src = &x[(grp * g.cg() + cl) * hw..][..hw];
            let cmap = &maps.cols[kj * g.ow..][..g.ow];
            for oy in 0..g.oh {
                let dst = &mut row[oy * g.ow..][..g.ow];
                let sr = maps.rows[ki * g.oh + oy];
                if sr == OUTSIDE {
                    dst.fill(0.0);
                    continue;
                }
                let srow = &src[sr * g.w..][..g.w];
                for (d, &sc) in dst.iter_mut().zip(cmap) {
                    *d = if sc == OUTSIDE { 0.0 } else { srow[sc] };
                }
            }
        });
}

/// Scatters `dcol [ckk, l]` of group `grp` into the gradient of one image, `gx_grp [cg, h, w]`
/// (accumulating): the adjoint of [`im2col`].
fn col2im(g: &ConvGeometry, maps: &Maps, dcol: &[f32], gx_grp: &mut [f32]) {
    let (l, hw, kk) = (g.l(), g.h * g.w, g.kh * g.kw);
    gx_grp.par_chunks_mut(hw).enumerate().for_each(|(cl, gxc)| {
        for ki in 0..g.kh {
            for kj in 0..g.kw {
                let row = &dcol[(cl * kk + ki * g.kw + kj) * l..][..l];
                let cmap = &maps.cols[kj * g.ow..][..g.ow];
                for oy in 0..g.oh {
                    let sr = maps.rows[ki * g.oh + oy];
                    if sr == OUTSIDE {
                        continue;
                    }
                    let grow = &mut gxc[sr * g.w..][..g.w];
                    for (&d, &sc) in row[oy * g.ow..][..g.ow].iter().zip(cmap) {
                        if sc != OUTSIDE {
                            grow[sc] += d;
                        }
                    }
                }
            }
        }
    });
}

/// Forward: `y [n, oc, oh, ow] = conv(x [n, c, h, w], w [oc, cg, kh, kw]) + bias [oc]`.
pub fn conv_forward(g: &ConvGeometry, x: &[f32], w: &[f32], bias: Option<&[f32]>, y: &mut [f32]) {
    let (l, ckk, ocg, cg) = (g.l(), g.ckk(), g.ocg(), g.cg());
    let maps = Maps::new(g);
    let mut col = vec![0.0f32; if g.is_pointwise() { 0 } else { ckk * l }];
    for i in 0..g.n {
        let xi = &x[i * g.c * g.h * g.w..][..g.c * g.h * g.w];
        let yi = &mut y[i * g.oc * l..][..g.oc * l];
        for grp in 0..g.groups {
            let rhs = if g.is_pointwise() {
                MatRef::row_major(&xi[grp * cg * l..][..cg * l], ckk, l)
            } else {
                im2col(g, &maps, xi, grp, &mut col);
                MatRef::row_major(&col, ckk, l)
            };
            let wg = MatRef::row_major(&w[grp * ocg * ckk..][..ocg * ckk], ocg, ckk);
            sgemm(wg, rhs, &mut yi[grp * ocg * l..][..ocg * l], false);
        }
        if let Some(b) = bias {
            yi.par_chunks_mut(l)
                .zip(b)
                .for_each(|(row, &bo)| row.iter_mut().for_each(|v| *v += bo));
        }
    }
}

/// Backward to the input: `gx [n, c, h, w] = ∂loss/∂x` from `gy = ∂loss/∂y` (overwritten).
pub fn conv_backward_input(g: &ConvGeometry, gy: &[f32], w: &[f32], gx: &mut [f32]) {
    let (l, ckk, ocg, cg, hw) = (g.l(), g.ckk(), g.ocg(), g.cg(), g.h * g.w);
    let maps = Maps::new(g);
    let mut dcol = vec![0.0f32; if g.is_pointwise() { 0 } else { ckk * l }];
    for i in 0..g.n {
        let gyi = &gy[i * g.oc * l..][..g.oc * l];
        let gxi = &mut gx[i * g.c * hw..][..g.c * hw];
        for grp in 0..g.groups {
            // W_gᵀ [ckk, ocg]: the weight read with rows and columns swapped, no copy.
            let wt = MatRef::row_major(&w[grp * ocg * ckk..][..ocg * ckk], ocg, ckk).t();
            let gyg = MatRef::row_major(&gyi[grp * ocg * l..][..ocg * l], ocg, l);
            let gxg = &mut gxi[grp * cg * hw..][..cg * hw];
            if g.is_pointwise() {
                sgemm(wt, gyg, gxg, false);
            } else {
                sgemm(wt, gyg, &mut dcol, false);
                gxg.fill(0.0);
                col2im(g, &maps, &dcol, gxg);
            }
        }
    }
}

/// Backward to the weight: `gw [oc, cg, kh, kw] = ∂loss/∂w` from `x` and `gy` (overwritten).
pub fn conv_backward_weight(g: &ConvGeometry, x: &[f32], gy: &[f32], gw: &mut [f32]) {
    let (l, ckk, ocg, cg) = (g.l(), g.ckk(), g.ocg(), g.cg());
    let maps = Maps::new(g);
    let mut col = vec![0.0f32; if g.is_pointwise() { 0 } else { ckk * l }];
    gw.fill(0.0);
    for i in 0..g.n {
        let xi = &x[i * g.c * g.h * g.w..][..g.c * g.h * g.w];
        let gyi = &gy[i * g.oc * l..][..g.oc * l];
        for grp in 0..g.groups {
            let colt = if g.is_pointwise() {
                MatRef::row_major(&xi[grp * cg * l..][..cg * l], ckk, l).t()
            } else {
                im2col(g, &maps, xi, grp, &mut col);
                MatRef::row_major(&col, ckk, l).t()
            };
            let gyg = MatRef::row_major(&gyi[grp * ocg * l..][..ocg * l], ocg, l);
            sgemm(gyg, colt, &mut gw[grp * ocg * ckk..][..ocg * ckk], true);
        }
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
