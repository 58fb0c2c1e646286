//! Direct convolution for stride-1, undilated layers with few output channels per group
//! (LeNet-5's C1 and C3, depthwise layers), where im2col would copy each input value
//! `kh·kw` times for a GEMM too thin to pay for it.
//!
//! Each image and group is copied once into a padded plane `xp [cg, hp, wp]` through the
//! padding index map (so every padding mode works), and the convolution becomes a "valid"
//! one: `y[o][oy][ox] = Σ_c Σ_i Σ_j w[o][c][i][j] · xp[c][oy + i][ox + j]`. A tile of
//! `OB` output channels × `NC` vectors of 8 neighbouring output pixels sums all its taps in
//! registers: per tap, `NC` vector loads and `OB` broadcasts feed `OB·NC` multiply-adds.
//!
//! - forward: the valid convolution of `xp`;
//! - backward input: the valid convolution of the output gradient zero-padded by
//!   `(kh − 1, kw − 1)` with the kernels flipped and the channel roles swapped gives the
//!   gradient of `xp`, which is folded back through the padding map (a padded pixel's
//!   gradient lands on the pixel it copies);
//! - backward weight: `gw[o][c][i][j] = Σ_oy Σ_ox gy[o][oy][ox] · xp[c][oy + i][ox + j]`,
//!   summed in vector lanes and reduced at the end.
//!
//! The multiply-adds are fused (FMA) where the CPU has them, chosen at run time, so one
//! binary runs on any x86-64.

use super::conv::{copy_short, ConvGeometry};
use super::scratch::Scratch;
use rayon::prelude::*;

const LANES: usize = 8;
type V = [f32; LANES];
/// Readable values after every padded plane: the last vector of a row may run past it.
const SLACK: usize = 4 * LANES;

/// Whether [`forward`], [`backward_input`] and [`backward_weight`] take this convolution.
pub fn applies(g: &ConvGeometry) -> bool {
    g.stride_h == 1
        && g.stride_w == 1
        && g.dilation_h == 1
        && g.dilation_w == 1
        && g.oc / g.groups <= 16
        && g.kh * g.kw > 1
}

trait MulAdd {
    fn mul_add(a: f32, b: f32, c: f32) -> f32;
}

/// `a·b + c` in one instruction (only inside functions compiled with FMA enabled).
struct Fused;
impl MulAdd for Fused {
    #[inline(always)]
    fn mul_add(a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }
}

/// Whether the CPU runs the `avx2,fma` versions of the kernels (detected once, cached).
#[cfg(target_arch = "x86_64")]
fn has_fma() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
}

/// `a·b + c` as two operations, for CPUs without FMA.
struct Separate;
impl MulAdd for Separate {
    #[inline(always)]
    fn mul_add(a: f32, b: f32, c: f32) -> f32 {
        a * b + c
    }
}

/// A stride-1 valid convolution of `cin` padded planes `hp × wp` (followed by [`SLACK`]
/// readable values) to `cout` planes `(hp − kh + 1) × (wp − kw + 1)`.
#[derive(Clone, Copy)]
struct Valid {
    cin: usize,
    hp: usize,
    wp: usize,
    kh: usize,
    kw: usize,
    cout: usize,
}

impl Valid {
    /// The valid convolution a stride-1 convolution `g` makes of one group of one image.
    fn of(g: &ConvGeometry) -> Self {
        Valid {
            cin: g.c / g.groups,
            hp: g.oh + g.kh - 1,
            wp: g.ow + g.kw - 1,
            kh: g.kh,
            kw: g.kw,
            cout: g.oc / g.groups,
        }
    }
    fn oh(&self) -> usize {
        self.hp - self.kh + 1
    }
    fn ow(&self) -> usize {
        self.wp - self.kw + 1
    }
    fn plane(&self) -> usize {
        self.hp * self.wp
    }
    /// Output channels per register block: one for depthwise layers, six where they divide
    /// the channels (LeNet's C1), else four.
    fn block(&self) -> usize {
        match self.cout {
            1 => 1,
            c if c % 6 == 0 => 6,
            _ => 4,
        }
    }
}

/// Weights `w [cout, cin, kh, kw]` regrouped as `[cout / ob blocks][cin][kh][kw][ob]` (the
/// last block's missing channels zero), so a tile reads its broadcasts in order.
fn pack(v: &Valid, ob: usize, w: impl Fn(usize, usize, usize, usize) -> f32) -> Vec<f32> {
    let blocks = v.cout.div_ceil(ob);
    let mut p = vec![0.0f32; blocks * v.cin * v.kh * v.kw * ob];
    for o in 0..v.cout {
        let (b, ol) = (o / ob, o % ob);
        for c in 0..v.cin {
            for i in 0..v.kh {
                for j in 0..v.kw {
                    p[(((b * v.cin + c) * v.kh + i) * v.kw + j) * ob + ol] = w(o, c, i, j);
                }
            }
        }
    }
    p
}

/// Eight values from `p` on.
///
/// # Safety
/// `p .. p + 8` must lie inside one slice.
#[inline(always)]
unsafe fn load(p: *const f32) -> V {
    // SAFETY: the caller promises eight readable values from `p` on; `read_unaligned`
    // needs no alignment, and `V` is eight plain `f32`s (every bit pattern is valid).
    unsafe { p.cast::<V>().read_unaligned() }
}

/// One tile: `OB` output channels × `NC·8` output pixels from `(y, x)` on, without bias.
#[inline(always)]
fn tile<M: MulAdd, const OB: usize, const NC: usize>(
    v: &Valid,
    xp: &[f32],
    wb: &[f32],
    y: usize,
    x: usize,
) -> [[V; NC]; OB] {
    // the furthest value read, the last vector of the last tap, lies inside `xp` and `wb`
    assert!(((v.cin - 1) * v.hp + y + v.kh - 1) * v.wp + x + v.kw - 1 + NC * LANES <= xp.len());
    assert!(v.cin * v.kh * v.kw * OB <= wb.len());
    let mut acc = [[[0.0f32; LANES]; NC]; OB];
    let (xb, wbp) = (xp.as_ptr(), wb.as_ptr());
    for c in 0..v.cin {
        for i in 0..v.kh {
            // SAFETY: every offset below is at most the ones checked above.
            unsafe {
                let row = xb.add((c * v.hp + y + i) * v.wp + x);
                let wr = wbp.add((c * v.kh + i) * v.kw * OB);
                for j in 0..v.kw {
                    let xv: [V; NC] = std::array::from_fn(|q| load(row.add(j + q * LANES)));
                    for (o, acc) in acc.iter_mut().enumerate() {
                        let w = *wr.add(j * OB + o);
                        for (acc, xv) in acc.iter_mut().zip(&xv) {
                            for (a, &x) in acc.iter_mut().zip(xv) {
                                *a = M::mul_add(w, x, *a);
                            }
                        }
                    }
                }
            }
        }
    }
    acc
}

/// The valid convolution of one image's padded planes `xp` into `out [cout, oh, ow]`
/// (overwritten), plus `bias[o]` when given; `wpk` packed by [`pack`] with `OB`.
#[inline(always)]
fn valid_image<M: MulAdd, const OB: usize, const NC: usize>(
    v: &Valid,
    xp: &[f32],
    wpk: &[f32],
    bias: Option<&[f32]>,
    out: &mut [f32],
) {
    let (oh, ow) = (v.oh(), v.ow());
    let wblock = v.cin * v.kh * v.kw * OB;
    // Row by row, every channel block: the input rows one output row reads stay in cache
    // while all the blocks use them.
    for y in 0..oh {
        for b in 0..v.cout.div_ceil(OB) {
            let real = OB.min(v.cout - b * OB);
            let wb = &wpk[b * wblock..][..wblock];
            let bias_of = |o: usize| bias.map_or(0.0, |bs| bs[b * OB + o]);
            let out = &mut out[b * OB * oh * ow..];
            let mut x = 0;
            while x + NC * LANES <= ow {
                let acc = tile::<M, OB, NC>(v, xp, wb, y, x);
                for (o, acc) in acc.iter().enumerate().take(real) {
                    let bo = bias_of(o);
                    let dst = &mut out[(o * oh + y) * ow + x..][..NC * LANES];
                    for (d, a) in dst.chunks_exact_mut(LANES).zip(acc) {
                        d.iter_mut().zip(a).for_each(|(d, &a)| *d = a + bo);
                    }
                }
                x += NC * LANES;
            }
            if NC > 1 && 2 * (ow - x) > NC * LANES {
                // more than half a tile left: a whole tile, the lanes past the row dropped
                // (they read at most half a tile past it: within the slack)
                let n = ow - x;
                let acc = tile::<M, OB, NC>(v, xp, wb, y, x);
                for (o, acc) in acc.iter().enumerate().take(real) {
                    let bo = bias_of(o);
                    let dst = &mut out[(o * oh + y) * ow + x..][..n];
                    for (d, &a) in dst.iter_mut().zip(acc.iter().flatten()) {
                        *d = a + bo;
                    }
                }
                x += n;
            }
            while x < ow {
                let n = LANES.min(ow - x);
                let acc = tile::<M, OB, 1>(v, xp, wb, y, x);
                for (o, acc) in acc.iter().enumerate().take(real) {
                    let bo = bias_of(o);
                    let dst = &mut out[(o * oh + y) * ow + x..][..n];
                    dst.iter_mut().zip(&acc[0]).for_each(|(d, &a)| *d = a + bo);
                }
                x += n;
            }
        }
    }
}

/// [`valid_image`] with the register block of `v` and the CPU's multiply-add.
fn valid(v: &Valid, xp: &[f32], wpk: &[f32], bias: Option<&[f32]>, out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if has_fma() {
        // SAFETY: the CPU has the features the function is compiled for.
        unsafe { valid_fma(v, xp, wpk, bias, out) };
        return;
    }
    valid_with::<Separate>(v, xp, wpk, bias, out);
}

/// [`valid_with`] compiled for AVX2 and FMA.
///
/// # Safety
/// The CPU must have AVX2 and FMA (the caller checks with `has_fma`).
// SAFETY: unsafe only for its target features; the body is safe code.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn valid_fma(v: &Valid, xp: &[f32], wpk: &[f32], bias: Option<&[f32]>, out: &mut [f32]) {
    valid_with::<Fused>(v, xp, wpk, bias, out);
}

#[inline(always)]
fn valid_with<M: MulAdd>(
    v: &Valid,
    xp: &[f32],
    wpk: &[f32],
    bias: Option<&[f32]>,
    out: &mut [f32],
) {
    match v.block() {
        1 => valid_image::<M, 1, 6>(v, xp, wpk, bias, out),
        6 => valid_image::<M, 6, 2>(v, xp, wpk, bias, out),
        _ => valid_image::<M, 4, 2>(v, xp, wpk, bias, out),
    }
}

/// `gw[o][c][i][j] += Σ_y Σ_x gy[o][y][x] · xp[c][y + i][x + j]` for one image, with `gyw
/// [cout (rounded up to OB), oh, owp]` the output gradient whose rows are zero-padded to
/// `owp` (a multiple of 8) values.
#[inline(always)]
fn weight_image<M: MulAdd, const OB: usize>(
    v: &Valid,
    xp: &[f32],
    gyw: &[f32],
    owp: usize,
    gw: &mut [f32],
) {
    let oh = v.oh();
    let kk = v.kh * v.kw;
    for b in 0..v.cout.div_ceil(OB) {
        let real = OB.min(v.cout - b * OB);
        let gb = &gyw[b * OB * oh * owp..][..OB * oh * owp];
        for c in 0..v.cin {
            for i in 0..v.kh {
                for j in 0..v.kw {
                    let mut acc = [[0.0f32; LANES]; OB];
                    // the last vectors read lie inside `xp` and `gb`
                    assert!(((c * v.hp + oh - 1 + i) * v.wp + j + owp <= xp.len()));
                    assert!(OB * oh * owp <= gb.len());
                    let (xb, gbp) = (xp.as_ptr(), gb.as_ptr());
                    for y in 0..oh {
                        // SAFETY: every offset below is at most the ones checked above.
                        unsafe {
                            let row = xb.add((c * v.hp + y + i) * v.wp + j);
                            let grow = gbp.add(y * owp);
                            for x in (0..owp).step_by(LANES) {
                                let xv = load(row.add(x));
                                for (o, acc) in acc.iter_mut().enumerate() {
                                    let gv = load(grow.add(o * oh * owp + x));
                                    for ((a, &g), &xv) in acc.iter_mut().zip(&gv).zip(&xv) {
                                        *a = M::mul_add(g, xv, *a);
                                    }
                                }
                            }
                        }
                    }
                    for (o, acc) in acc.iter().enumerate().take(real) {
                        gw[((b * OB + o) * v.cin + c) * kk + i * v.kw + j] +=
                            acc.iter().sum::<f32>();
                    }
                }
            }
        }
    }
}

/// [`weight_image`] for kernels `KW` wide, `KH` rows of taps at a time (`KH` divides the
/// kernel's height): a tile holds `OB × KH × KW` sums, so each output gradient vector it
/// loads feeds `KH` whole rows of taps (`OB + KH·KW` loads per `OB·KH·KW` multiply-adds,
/// against `OB + 1` per `OB`). Depthwise 3×3 layers (`OB = 1`) take all nine taps at once:
/// one row of three leaves too few independent chains to hide the multiply-adds' latency.
#[inline(always)]
fn weight_image_rows<M: MulAdd, const OB: usize, const KH: usize, const KW: usize>(
    v: &Valid,
    xp: &[f32],
    gyw: &[f32],
    owp: usize,
    gw: &mut [f32],
) {
    debug_assert!(v.kh % KH == 0 && v.kw == KW);
    let oh = v.oh();
    let kk = v.kh * KW;
    for b in 0..v.cout.div_ceil(OB) {
        let real = OB.min(v.cout - b * OB);
        let gb = &gyw[b * OB * oh * owp..][..OB * oh * owp];
        for c in 0..v.cin {
            for i0 in (0..v.kh).step_by(KH) {
                let mut acc = [[[[0.0f32; LANES]; KW]; KH]; OB];
                // the last vectors read lie inside `xp` and `gb`
                assert!(((c * v.hp + oh - 1 + i0 + KH - 1) * v.wp + KW - 1 + owp <= xp.len()));
                let (xb, gbp) = (xp.as_ptr(), gb.as_ptr());
                for y in 0..oh {
                    // SAFETY: every offset below is at most the ones checked above.
                    unsafe {
                        let grow = gbp.add(y * owp);
                        for x in (0..owp).step_by(LANES) {
                            let gv: [V; OB] =
                                std::array::from_fn(|o| load(grow.add(o * oh * owp + x)));
                            for i in 0..KH {
                                let row = xb.add((c * v.hp + y + i0 + i) * v.wp);
                                for j in 0..KW {
                                    let xv = load(row.add(x + j));
                                    for (acc, gv) in acc.iter_mut().zip(&gv) {
                                        for ((a, &g), &xv) in acc[i][j].iter_mut().zip(gv).zip(&xv)
                                        {
                                            *a = M::mul_add(g, xv, *a);
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                for (o, acc) in acc.iter().enumerate().take(real) {
                    for (i, acc) in acc.iter().enumerate() {
                        for (j, acc) in acc.iter().enumerate() {
                            gw[((b * OB + o) * v.cin + c) * kk + (i0 + i) * KW + j] +=
                                acc.iter().sum::<f32>();
                        }
                    }
                }
            }
        }
    }
}

fn weight(v: &Valid, xp: &[f32], gyw: &[f32], owp: usize, gw: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if has_fma() {
        // SAFETY: the CPU has the features the function is compiled for.
        unsafe { weight_fma(v, xp, gyw, owp, gw) };
        return;
    }
    weight_with::<Separate>(v, xp, gyw, owp, gw);
}

/// [`weight_with`] compiled for AVX2 and FMA.
///
/// # Safety
/// The CPU must have AVX2 and FMA (the caller checks with `has_fma`).
// SAFETY: unsafe only for its target features; the body is safe code.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn weight_fma(v: &Valid, xp: &[f32], gyw: &[f32], owp: usize, gw: &mut [f32]) {
    weight_with::<Fused>(v, xp, gyw, owp, gw);
}

#[inline(always)]
fn weight_with<M: MulAdd>(v: &Valid, xp: &[f32], gyw: &[f32], owp: usize, gw: &mut [f32]) {
    match (v.block(), v.kw) {
        (1, 3) if v.kh == 3 => weight_image_rows::<M, 1, 3, 3>(v, xp, gyw, owp, gw),
        (1, 3) => weight_image_rows::<M, 1, 1, 3>(v, xp, gyw, owp, gw),
        (1, 5) => weight_image_rows::<M, 1, 1, 5>(v, xp, gyw, owp, gw),
        (_, 3) => weight_image_rows::<M, 2, 1, 3>(v, xp, gyw, owp, gw),
        (_, 5) => weight_image_rows::<M, 2, 1, 5>(v, xp, gyw, owp, gw),
        (1, _) => weight_image::<M, 1>(v, xp, gyw, owp, gw),
        (6, _) => weight_image::<M, 6>(v, xp, gyw, owp, gw),
        _ => weight_image::<M, 4>(v, xp, gyw, owp, gw),
    }
}

/// Per-axis maps of the padded plane: `rows[py]` is the input row that padded row `py`
/// copies (or `None` for a zero), likewise `cols[px]`.
struct PadMaps {
    rows: Vec<Option<usize>>,
    cols: Vec<Option<usize>>,
    /// `lo..hi`: the padded columns that copy the input's columns `lo − pad_left ..`
    /// one to one (the interior, copied as a slice).
    interior: (usize, usize),
}

impl PadMaps {
    fn new(g: &ConvGeometry) -> Self {
        let (hp, wp) = (g.oh + g.kh - 1, g.ow + g.kw - 1);
        let cols: Vec<Option<usize>> = (0..wp)
            .map(|px| g.mode.source_index(px as isize - g.pad_left as isize, g.w))
            .collect();
        let lo = g.pad_left.min(wp);
        let hi = (g.pad_left + g.w).min(wp).max(lo);
        debug_assert!((lo..hi).all(|px| cols[px] == Some(px - g.pad_left)));
        PadMaps {
            rows: (0..hp)
                .map(|py| g.mode.source_index(py as isize - g.pad_top as isize, g.h))
                .collect(),
            cols,
            interior: (lo, hi),
        }
    }

    /// `xp [channels, hp, wp]` (then [`SLACK`] zeros) from `x [channels, h, w]`.
    fn pad(&self, g: &ConvGeometry, x: &[f32], channels: usize, xp: &mut [f32]) {
        let (hp, wp, hw) = (self.rows.len(), self.cols.len(), g.h * g.w);
        for ch in 0..channels {
            let src = &x[ch * hw..][..hw];
            for (py, r) in self.rows.iter().enumerate() {
                let dst = &mut xp[(ch * hp + py) * wp..][..wp];
                match r {
                    None => dst.fill(0.0),
                    Some(r) => {
                        let srow = &src[r * g.w..][..g.w];
                        let (lo, hi) = self.interior;
                        let first = lo - g.pad_left.min(lo);
                        copy_short(&mut dst[lo..hi], &srow[first..first + hi - lo]);
                        for px in (0..lo).chain(hi..wp) {
                            dst[px] = self.cols[px].map_or(0.0, |c| srow[c]);
                        }
                    }
                }
            }
        }
        xp[channels * hp * wp..][..SLACK].fill(0.0);
    }

    /// `gx [channels, h, w] = fold(gxp)`: each input pixel's gradient is that of the padded
    /// pixel at its own place (copied row by row) plus those of the border pixels that copy
    /// it (every padding mode but zeros).
    fn fold(&self, g: &ConvGeometry, gxp: &[f32], channels: usize, gx: &mut [f32]) {
        let (hp, wp, hw) = (self.rows.len(), self.cols.len(), g.h * g.w);
        let (lo, hi) = self.interior;
        // stride 1: the padded plane holds every input pixel, at (r + pad_top, c + lo)
        debug_assert!(hi - lo == g.w && g.pad_top + g.h <= hp);
        let band = g.pad_top..g.pad_top + g.h;
        for ch in 0..channels {
            let dst = &mut gx[ch * hw..][..hw];
            let src = &gxp[ch * hp * wp..][..hp * wp];
            for (r, drow) in dst.chunks_exact_mut(g.w).enumerate() {
                copy_short(drow, &src[(r + g.pad_top) * wp + lo..][..g.w]);
            }
            for (py, r) in self.rows.iter().enumerate() {
                let Some(r) = r else { continue };
                let srow = &src[py * wp..][..wp];
                let drow = &mut dst[r * g.w..][..g.w];
                // the columns copied above are skipped in the band's rows
                let (a, b) = if band.contains(&py) { (lo, hi) } else { (0, 0) };
                for px in (0..a).chain(b..wp) {
                    if let Some(c) = self.cols[px] {
                        drow[c] += srow[px];
                    }
                }
            }
        }
    }
}

/// Runs `work(image, output of that image)` over the batch on the pool.
fn per_image(n: usize, out: &mut [f32], per: usize, work: impl Fn(usize, &mut [f32]) + Sync) {
    if n >= 2 && rayon::current_num_threads() > 1 {
        out[..n * per]
            .par_chunks_mut(per)
            .enumerate()
            .for_each(|(i, o)| work(i, o));
    } else {
        out[..n * per]
            .chunks_mut(per)
            .enumerate()
            .for_each(|(i, o)| work(i, o));
    }
}

/// Forward: `y [n, oc, oh, ow] = conv(x, w) + bias`.
pub fn forward(g: &ConvGeometry, x: &[f32], w: &[f32], bias: Option<&[f32]>, y: &mut [f32]) {
    let v = Valid::of(g);
    let (cg, ocg) = (v.cin, v.cout);
    let kk = g.kh * g.kw;
    let packs: Vec<Vec<f32>> = (0..g.groups)
        .map(|grp| {
            let wg = &w[grp * ocg * cg * kk..][..ocg * cg * kk];
            pack(&v, v.block(), |o, c, i, j| {
                wg[((o * cg + c) * g.kh + i) * g.kw + j]
            })
        })
        .collect();
    let maps = PadMaps::new(g);
    let (chw, l) = (g.c * g.h * g.w, g.oh * g.ow);
    per_image(g.n, y, g.oc * l, |i, yi| {
        let mut xp = Scratch::take(cg * v.plane() + SLACK);
        for (grp, pk) in packs.iter().enumerate() {
            maps.pad(g, &x[i * chw + grp * cg * g.h * g.w..], cg, &mut xp);
            let bg = bias.map(|b| &b[grp * ocg..][..ocg]);
            valid(&v, &xp, pk, bg, &mut yi[grp * ocg * l..][..ocg * l]);
        }
    });
}

/// Backward to the input: `gx [n, c, h, w]` (overwritten) from `gy [n, oc, oh, ow]`.
pub fn backward_input(g: &ConvGeometry, gy: &[f32], w: &[f32], gx: &mut [f32]) {
    let (cg, ocg) = (g.c / g.groups, g.oc / g.groups);
    // The valid convolution of gy zero-padded by (kh − 1, kw − 1): output hp × wp.
    let v = Valid {
        cin: ocg,
        hp: g.oh + 2 * (g.kh - 1),
        wp: g.ow + 2 * (g.kw - 1),
        kh: g.kh,
        kw: g.kw,
        cout: cg,
    };
    let (hp, wp) = (v.oh(), v.ow());
    let kk = g.kh * g.kw;
    let packs: Vec<Vec<f32>> = (0..g.groups)
        .map(|grp| {
            let wg = &w[grp * ocg * cg * kk..][..ocg * cg * kk];
            // flipped kernels, channel roles swapped: w'[c][o][i][j] = w[o][c][kh−1−i][kw−1−j]
            pack(&v, v.block(), |c, o, i, j| {
                wg[((o * cg + c) * g.kh + g.kh - 1 - i) * g.kw + g.kw - 1 - j]
            })
        })
        .collect();
    let maps = PadMaps::new(g);
    let (chw, hw, l) = (g.c * g.h * g.w, g.h * g.w, g.oh * g.ow);
    per_image(g.n, gx, chw, |i, gxi| {
        let mut bufs = Scratch::take(ocg * v.plane() + SLACK + cg * hp * wp);
        let (gyp, gxp) = bufs.split_at_mut(ocg * v.plane() + SLACK);
        for (grp, pk) in packs.iter().enumerate() {
            // gy of the group, zero-padded by (kh − 1, kw − 1) on every side
            gyp.fill(0.0);
            let src = &gy[(i * g.oc + grp * ocg) * l..][..ocg * l];
            for (o, plane) in src.chunks(l).enumerate() {
                for (r, row) in plane.chunks(g.ow).enumerate() {
                    let at = (o * v.hp + r + g.kh - 1) * v.wp + g.kw - 1;
                    copy_short(&mut gyp[at..at + g.ow], row);
                }
            }
            valid(&v, gyp, pk, None, gxp);
            maps.fold(g, gxp, cg, &mut gxi[grp * cg * hw..][..cg * hw]);
        }
    });
}

/// Backward to the weight: `gw [oc, cg, kh, kw]` (overwritten). Each task sums its images
/// into its own partial and the partials are added in a fixed order, so the result depends
/// only on the thread count.
pub fn backward_weight(g: &ConvGeometry, x: &[f32], gy: &[f32], gw: &mut [f32]) {
    let v = Valid::of(g);
    let (cg, ocg) = (v.cin, v.cout);
    let ob = v.block();
    let owp = g.ow.div_ceil(LANES) * LANES;
    let gyw_len = ocg.div_ceil(ob) * ob * g.oh * owp;
    let maps = PadMaps::new(g);
    let (chw, hw, l, kk) = (g.c * g.h * g.w, g.h * g.w, g.oh * g.ow, g.kh * g.kw);
    let partial = |first: usize, count: usize, gw: &mut [f32]| {
        gw.fill(0.0);
        let mut bufs = Scratch::take(cg * v.plane() + SLACK + gyw_len);
        let (xp, gyw) = bufs.split_at_mut(cg * v.plane() + SLACK);
        gyw.fill(0.0);
        for i in first..first + count {
            for grp in 0..g.groups {
                maps.pad(g, &x[i * chw + grp * cg * hw..], cg, xp);
                let src = &gy[(i * g.oc + grp * ocg) * l..][..ocg * l];
                for (o, plane) in src.chunks(l).enumerate() {
                    for (r, row) in plane.chunks(g.ow).enumerate() {
                        copy_short(&mut gyw[(o * g.oh + r) * owp..][..g.ow], row);
                    }
                }
                weight(
                    &v,
                    xp,
                    gyw,
                    owp,
                    &mut gw[grp * ocg * cg * kk..][..ocg * cg * kk],
                );
            }
        }
    };
    super::conv::sum_image_partials(g.n, gw, |first, count, gw, _| partial(first, count, gw));
}
