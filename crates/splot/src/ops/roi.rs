//! Region-of-interest pooling: RoIAlign (bilinear samples averaged per bin) and RoIPool
//! (the maximum per bin), forward and backward, equal to `torchvision.ops.roi_align` and
//! `torchvision.ops.roi_pool` (their CPU kernels' arithmetic, in f32, in their order).
//!
//! Legend: input `x [n, c, h, w]` (a feature map); `rois [k, 5]`, each `(b, x1, y1, x2,
//! y2)`: image `b` of the batch and a box in input-image pixels, or one `[kᵢ, 4]` box
//! tensor per image ([`Rois`]); output `y [k, c, oh, ow]`; `s` the spatial scale (feature
//! pixels per image pixel, `1/16` for a stride-16 map); a *bin* is one output cell; a
//! *plane* is one `(image, channel)` pair, `h·w` values.
//!
//! RoIAlign: the box scaled by `s` (and shifted by `−½` when `aligned`) is cut into
//! `oh × ow` bins; each bin averages `gh × gw` bilinear samples at the centres of a regular
//! grid (`gh = sampling_ratio`, or `⌈roi_h / oh⌉` when it is `≤ 0`). A sample at `y < −1`,
//! `y > h` (or likewise in `x`) reads 0; otherwise it is clamped to `[0, h − 1]`. Without
//! `aligned`, a box is at least 1 × 1 feature pixel. The backward pass spreads `∂loss/∂y`
//! over the four pixels of each sample with its bilinear weights; the boxes get no
//! gradient (as in torchvision).
//!
//! RoIPool: the box's corners are rounded to feature pixels (`round(s·x)`), the box (at
//! least 1 × 1, corners included) is cut into `oh × ow` bins `[⌊i·bh⌋, ⌈(i+1)·bh⌉)` clipped
//! to the map; each bin takes its maximum (an empty bin gives 0); the backward pass routes
//! `∂loss/∂y` to the arg-max (the first maximum in row-major order).
//!
//! Both precompute the geometry once per RoI and reuse it over the channels: RoIPool its
//! bin ranges, RoIAlign its sample coordinates per axis (the bilinear weights factor into
//! a row part and a column part, `oh·gh + ow·gw` taps instead of `oh·ow·gh·gw` samples).
//! RoIAlign works channels-last inside (the input made `[n, h·w, c]` once), so each
//! sample's four pixels are four contiguous runs of channels and the sums vectorise. The
//! forward passes run RoIs in parallel; the backward passes run blocks of channels (RoIPool:
//! planes) in parallel, so no two threads add into the same gradient and each value
//! receives its additions in torchvision's order. A sample outside the map reads 0 (it is
//! skipped; torchvision multiplies its zero weights with the plane's first value, which is
//! the same for every finite input).

use crate::error::{Error, Result};
use crate::tensor::Tensor;
use rayon::prelude::*;

/// The regions of a RoI op: one `[k, 5]` tensor of `(batch index, x1, y1, x2, y2)` rows,
/// or one `[kᵢ, 4]` tensor of boxes per image (image `i` of the batch gets list `i`), as
/// torchvision's `roi_align(input, boxes)` accepts either.
#[derive(Clone, Copy, Debug)]
pub enum Rois<'a> {
    /// `[k, 5]`: `(b, x1, y1, x2, y2)` per row.
    Indexed(&'a Tensor),
    /// One `[kᵢ, 4]` tensor per image, in batch order.
    PerImage(&'a [Tensor]),
}

impl<'a> From<&'a Tensor> for Rois<'a> {
    fn from(t: &'a Tensor) -> Self {
        Rois::Indexed(t)
    }
}

impl<'a> From<&'a [Tensor]> for Rois<'a> {
    fn from(t: &'a [Tensor]) -> Self {
        Rois::PerImage(t)
    }
}

impl<'a> From<&'a Vec<Tensor>> for Rois<'a> {
    fn from(t: &'a Vec<Tensor>) -> Self {
        Rois::PerImage(t)
    }
}

/// Per-image boxes (`[kᵢ, 4]` each) as one `[Σkᵢ, 5]` tensor of `(i, x1, y1, x2, y2)`
/// rows (torchvision's `convert_boxes_to_roi_format`).
pub fn boxes_to_rois(boxes: &[Tensor]) -> Result<Tensor> {
    let mut rows = Vec::new();
    for (i, b) in boxes.iter().enumerate() {
        if b.ndim() != 2 || b.dim(1) != 4 {
            return Err(Error::shape(
                "boxes_to_rois",
                format!("boxes of image {i} must be [k, 4], got {:?}", b.shape()),
            ));
        }
        for r in b.data().chunks_exact(4) {
            rows.extend_from_slice(&[i as f32, r[0], r[1], r[2], r[3]]);
        }
    }
    let k = rows.len() / 5;
    Tensor::from_vec(rows, &[k, 5])
}

/// One region: its image and its box in input-image pixels.
#[derive(Clone, Copy, Debug)]
struct Roi {
    batch: usize,
    x1: f32,
    y1: f32,
    x2: f32,
    y2: f32,
}

/// The sizes of an input `[n, c, h, w]`.
#[derive(Clone, Copy, Debug)]
struct Map {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
}

impl Map {
    fn hw(&self) -> usize {
        self.h * self.w
    }
}

/// Checks the input, the output size, the scale and the regions of a RoI op.
fn plan(
    op: &'static str,
    x: &[usize],
    rois: Rois<'_>,
    out: [usize; 2],
    scale: f32,
) -> Result<(Map, Vec<Roi>)> {
    let &[n, c, h, w] = x else {
        return Err(Error::shape(
            op,
            format!("input must be [n, c, h, w], got {x:?}"),
        ));
    };
    if c == 0 || h == 0 || w == 0 {
        return Err(Error::shape(
            op,
            format!("input {x:?} has an empty channel, height or width dimension"),
        ));
    }
    if out.contains(&0) {
        return Err(Error::config(
            op,
            format!("output size {out:?} must be positive (input {x:?})"),
        ));
    }
    if !(scale.is_finite() && scale > 0.0) {
        return Err(Error::config(
            op,
            format!("spatial scale {scale} must be positive and finite"),
        ));
    }
    let mut list = Vec::new();
    let mut push = |what: String, batch: f32, b: &[f32]| -> Result<()> {
        if !b.iter().all(|v| v.is_finite()) {
            return Err(Error::shape(
                op,
                format!("{what}: box {b:?} has a coordinate that is not finite"),
            ));
        }
        if b[2] < b[0] || b[3] < b[1] {
            return Err(Error::shape(
                op,
                format!("{what}: box {b:?} has x2 < x1 or y2 < y1"),
            ));
        }
        if !(batch >= 0.0 && batch.fract() == 0.0 && (batch as usize) < n) {
            return Err(Error::shape(
                op,
                format!("{what}: batch index {batch} is not an image of input {x:?}"),
            ));
        }
        list.push(Roi {
            batch: batch as usize,
            x1: b[0],
            y1: b[1],
            x2: b[2],
            y2: b[3],
        });
        Ok(())
    };
    match rois {
        Rois::Indexed(t) => {
            if t.ndim() != 2 || t.dim(1) != 5 {
                return Err(Error::shape(
                    op,
                    format!(
                        "rois must be [k, 5] (batch index, x1, y1, x2, y2), got {:?}",
                        t.shape()
                    ),
                ));
            }
            for (i, r) in t.data().chunks_exact(5).enumerate() {
                push(format!("roi {i}"), r[0], &r[1..])?;
            }
        }
        Rois::PerImage(list) => {
            if list.len() > n {
                return Err(Error::shape(
                    op,
                    format!("{} box lists for input {x:?} of {n} images", list.len()),
                ));
            }
            for (b, boxes) in list.iter().enumerate() {
                if boxes.ndim() != 2 || boxes.dim(1) != 4 {
                    return Err(Error::shape(
                        op,
                        format!(
                            "boxes of image {b} must be [k, 4] (x1, y1, x2, y2), got {:?}",
                            boxes.shape()
                        ),
                    ));
                }
                for (i, r) in boxes.data().chunks_exact(4).enumerate() {
                    push(format!("box {i} of image {b}"), b as f32, r)?;
                }
            }
        }
    }
    Ok((Map { n, c, h, w }, list))
}

/// The regions of each image, in order: `by_image[b]` lists the RoIs (indices into `rois`)
/// of image `b`.
fn by_image(rois: &[Roi], n: usize) -> Vec<Vec<usize>> {
    let mut by = vec![Vec::new(); n];
    for (k, r) in rois.iter().enumerate() {
        by[r.batch].push(k);
    }
    by
}

// ---------------------------------------------------------------- RoIAlign

/// Settings of [`Tensor::roi_align`]; the defaults are torchvision's (scale 1, adaptive
/// sampling, not aligned).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RoiAlignConfig {
    /// Output `[oh, ow]` per RoI.
    pub output_size: [usize; 2],
    /// Feature pixels per input-image pixel (`1/16` for a stride-16 map).
    pub spatial_scale: f32,
    /// Samples per bin along each axis; `≤ 0` means adaptive: `⌈roi_h / oh⌉` rows and
    /// `⌈roi_w / ow⌉` columns.
    pub sampling_ratio: i64,
    /// Shift the box by `−½` feature pixel so that pixel centres line up (`true`, Detectron2's
    /// choice), or not (`false`, the original RoIAlign and torchvision's Faster R-CNN).
    pub aligned: bool,
}

impl RoiAlignConfig {
    /// `oh × ow` outputs, scale 1, adaptive sampling, not aligned.
    pub fn new(oh: usize, ow: usize) -> Self {
        RoiAlignConfig {
            output_size: [oh, ow],
            spatial_scale: 1.0,
            sampling_ratio: -1,
            aligned: false,
        }
    }
    /// The spatial scale.
    pub fn spatial_scale(mut self, s: f32) -> Self {
        self.spatial_scale = s;
        self
    }
    /// The sampling ratio (`≤ 0`: adaptive).
    pub fn sampling_ratio(mut self, r: i64) -> Self {
        self.sampling_ratio = r;
        self
    }
    /// Aligned or not.
    pub fn aligned(mut self, on: bool) -> Self {
        self.aligned = on;
        self
    }
}

/// One sample coordinate along one axis, torchvision's `bilinear_interpolate` rules: a
/// coordinate below −1 or above the size is invalid (the sample reads 0); otherwise it is
/// clamped to `[0, size − 1]` and split between pixels `low` and `high` with weights
/// `rest = 1 − frac` and `frac`. A sample is valid when both its coordinates are, and its
/// four weights are `rest_y·rest_x, rest_y·frac_x, frac_y·rest_x, frac_y·frac_x`.
#[derive(Clone, Copy, Debug, Default)]
struct Tap {
    low: usize,
    high: usize,
    frac: f32,
    rest: f32,
    valid: bool,
}

impl Tap {
    fn new(v: f32, size: usize) -> Tap {
        // written as !(in range) so that NaN is invalid too
        if !(v >= -1.0 && v <= size as f32) {
            return Tap::default();
        }
        let mut v = if v <= 0.0 { 0.0 } else { v };
        let mut low = v as usize;
        let high;
        if low >= size - 1 {
            low = size - 1;
            high = size - 1;
            v = low as f32;
        } else {
            high = low + 1;
        }
        let frac = v - low as f32;
        Tap {
            low,
            high,
            frac,
            rest: 1.0 - frac,
            valid: true,
        }
    }
}

/// The sampling grid of one RoI: where bin `(0, 0)` starts, the bin size, the samples per
/// bin along each axis.
#[derive(Clone, Copy, Debug)]
struct AlignGeometry {
    start_h: f32,
    start_w: f32,
    bin_h: f32,
    bin_w: f32,
    grid_h: usize,
    grid_w: usize,
}

impl AlignGeometry {
    /// torchvision's arithmetic: corners `x·s − offset`, the size at least 1 when not
    /// aligned, bins `size / out`, grids `sampling_ratio` or `⌈size / out⌉`.
    fn new(roi: &Roi, cfg: &RoiAlignConfig) -> Self {
        let s = cfg.spatial_scale;
        let offset = if cfg.aligned { 0.5f32 } else { 0.0 };
        let (start_w, start_h) = (roi.x1 * s - offset, roi.y1 * s - offset);
        let (end_w, end_h) = (roi.x2 * s - offset, roi.y2 * s - offset);
        let (mut roi_w, mut roi_h) = (end_w - start_w, end_h - start_h);
        if !cfg.aligned {
            // malformed RoIs are forced to 1 × 1 (std::max)
            roi_w = if roi_w < 1.0 { 1.0 } else { roi_w };
            roi_h = if roi_h < 1.0 { 1.0 } else { roi_h };
        }
        let (oh, ow) = (cfg.output_size[0] as f32, cfg.output_size[1] as f32);
        let grid = |size: f32, out: f32| -> usize {
            if cfg.sampling_ratio > 0 {
                cfg.sampling_ratio as usize
            } else {
                (size / out).ceil() as usize
            }
        };
        AlignGeometry {
            start_h,
            start_w,
            bin_h: roi_h / oh,
            bin_w: roi_w / ow,
            grid_h: grid(roi_h, oh),
            grid_w: grid(roi_w, ow),
        }
    }

    /// Samples per bin, `gh·gw`.
    fn samples_per_bin(&self) -> usize {
        self.grid_h * self.grid_w
    }

    /// The row taps (`oh·gh`: bin `i`, sample `iy` at `i·gh + iy`) and the column taps
    /// (`ow·gw`) of the samples, at `start + i·bin + (iy + ½)·bin/grid`.
    fn taps(&self, map: &Map, out: [usize; 2]) -> (Vec<Tap>, Vec<Tap>) {
        let axis = |start: f32, bin: f32, grid: usize, o: usize, size: usize| -> Vec<Tap> {
            let g = grid as f32;
            (0..o)
                .flat_map(|i| {
                    (0..grid).map(move |t| {
                        Tap::new(start + i as f32 * bin + (t as f32 + 0.5) * bin / g, size)
                    })
                })
                .collect()
        };
        (
            axis(self.start_h, self.bin_h, self.grid_h, out[0], map.h),
            axis(self.start_w, self.bin_w, self.grid_w, out[1], map.w),
        )
    }
}

/// The valid samples of bin `(i, j)`, in torchvision's order (rows of samples, then
/// columns): the four pixel offsets and the four bilinear weights of each.
fn bin_samples<'a>(
    geo: &AlignGeometry,
    rows: &'a [Tap],
    cols: &'a [Tap],
    (i, j): (usize, usize),
    w: usize,
) -> impl Iterator<Item = ([usize; 4], [f32; 4])> + 'a {
    let (gh, gw) = (geo.grid_h, geo.grid_w);
    rows[i * gh..][..gh].iter().flat_map(move |ty| {
        cols[j * gw..][..gw]
            .iter()
            .filter(move |tx| ty.valid && tx.valid)
            .map(move |tx| {
                let pos = [
                    ty.low * w + tx.low,
                    ty.low * w + tx.high,
                    ty.high * w + tx.low,
                    ty.high * w + tx.high,
                ];
                let weight = [
                    ty.rest * tx.rest,
                    ty.rest * tx.frac,
                    ty.frac * tx.rest,
                    ty.frac * tx.frac,
                ];
                (pos, weight)
            })
    })
}

/// `dst [cols, rows] = srcᵀ` for `src [rows, cols]`, in tiles.
fn transpose(src: &[f32], rows: usize, cols: usize, dst: &mut [f32]) {
    const TILE: usize = 32;
    for r0 in (0..rows).step_by(TILE) {
        for c0 in (0..cols).step_by(TILE) {
            for r in r0..(r0 + TILE).min(rows) {
                for c in c0..(c0 + TILE).min(cols) {
                    dst[c * rows + r] = src[r * cols + c];
                }
            }
        }
    }
}

/// The input `[n, c, h·w]` as channels-last `[n, h·w, c]`, so that a sample's pixels have
/// their channels side by side; pixel blocks in parallel.
fn to_channels_last(map: &Map, x: &[f32]) -> Vec<f32> {
    const PIXELS: usize = 64;
    let (c, hw) = (map.c, map.hw());
    let mut out = vec![0.0f32; x.len()];
    for (out, x) in out.chunks_exact_mut(hw * c).zip(x.chunks_exact(c * hw)) {
        out.par_chunks_mut(PIXELS * c)
            .enumerate()
            .for_each(|(blk, out)| {
                let p0 = blk * PIXELS;
                for ch in 0..c {
                    let plane = &x[ch * hw + p0..][..out.len() / c];
                    for (p, &v) in plane.iter().enumerate() {
                        out[p * c + ch] = v;
                    }
                }
            });
    }
    out
}

/// `acc += w₁·r₁ + w₂·r₂ + w₃·r₃ + w₄·r₄` over the channels, torchvision's order of sums.
#[inline(always)]
fn add_sample(acc: &mut [f32], r: [&[f32]; 4], w: [f32; 4]) {
    let n = acc.len();
    let (r1, r2, r3, r4) = (&r[0][..n], &r[1][..n], &r[2][..n], &r[3][..n]);
    for i in 0..n {
        acc[i] += w[0] * r1[i] + w[1] * r2[i] + w[2] * r3[i] + w[3] * r4[i];
    }
}

/// `row += g·w / count` over the channels (torchvision's `grad·w / count`).
#[inline(always)]
fn add_gradient(row: &mut [f32], g: &[f32], w: f32, count: f32) {
    for (r, &g) in row.iter_mut().zip(g) {
        *r += g * w / count;
    }
}

/// The RoIAlign of one RoI into `y [c, oh·ow]`, from the channels-last image `xt
/// [h·w, c]`, through `acc [oh·ow, c]`: each bin sums its valid samples channel by channel
/// (contiguous, vectorised) and divides by `max(gh·gw, 1)`.
#[inline(always)]
fn align_roi(
    map: &Map,
    roi: &Roi,
    cfg: &RoiAlignConfig,
    xt: &[f32],
    acc: &mut [f32],
    y: &mut [f32],
) {
    let (c, [oh, ow]) = (map.c, cfg.output_size);
    let geo = AlignGeometry::new(roi, cfg);
    let (rows, cols) = geo.taps(map, cfg.output_size);
    let count = geo.samples_per_bin().max(1) as f32;
    for i in 0..oh {
        for j in 0..ow {
            let a = &mut acc[(i * ow + j) * c..][..c];
            a.fill(0.0);
            for (pos, w) in bin_samples(&geo, &rows, &cols, (i, j), map.w) {
                add_sample(a, pos.map(|p| &xt[p * c..][..c]), w);
            }
            a.iter_mut().for_each(|v| *v /= count);
        }
    }
    transpose(acc, oh * ow, c, y);
}

/// [`align_roi`] compiled for AVX2 (eight lanes; no FMA, so the same values).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn align_roi_avx2(
    map: &Map,
    roi: &Roi,
    cfg: &RoiAlignConfig,
    xt: &[f32],
    acc: &mut [f32],
    y: &mut [f32],
) {
    align_roi(map, roi, cfg, xt, acc, y)
}

/// RoIAlign forward: the input made channels-last once, then RoIs in parallel.
/// `y[k, c, bin] = Σ_{valid samples} Σ_q weight_q·x[b, c, pos_q] / max(gh·gw, 1)`.
fn roi_align_forward(map: &Map, rois: &[Roi], cfg: &RoiAlignConfig, x: &[f32]) -> Vec<f32> {
    let bins = cfg.output_size[0] * cfg.output_size[1];
    let mut y = vec![0.0f32; rois.len() * map.c * bins];
    if y.is_empty() {
        return y;
    }
    let xt = to_channels_last(map, x);
    let image = map.hw() * map.c;
    y.par_chunks_mut(map.c * bins)
        .zip(rois.par_iter())
        .for_each_init(
            || vec![0.0f32; map.c * bins],
            |acc, (y, roi)| {
                let xt = &xt[roi.batch * image..][..image];
                #[cfg(target_arch = "x86_64")]
                if is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU has the features the function is compiled for.
                    unsafe { align_roi_avx2(map, roi, cfg, xt, acc, y) };
                    return;
                }
                align_roi(map, roi, cfg, xt, acc, y)
            },
        );
    y
}

/// Channels per parallel task of the RoIAlign backward pass: a multiple of 16 (whole
/// cache lines), about four tasks per thread.
fn channel_block(c: usize) -> usize {
    let tasks = 4 * rayon::current_num_threads();
    c.div_ceil(tasks).next_multiple_of(16).min(c).max(1)
}

/// The RoIAlign backward pass of channels `c0 .. c0 + cw` over every RoI in order, into
/// `gb [n, h·w, cw]`: `gb[b, pos_q] += gt[k, bin, c0..]·weight_q / (gh·gw)` for each valid
/// sample, in torchvision's order of additions.
#[inline(always)]
fn align_backward_block(
    map: &Map,
    rois: &[Roi],
    cfg: &RoiAlignConfig,
    gt: &[f32],
    c0: usize,
    gb: &mut [f32],
) {
    let (c, hw, [oh, ow]) = (map.c, map.hw(), cfg.output_size);
    let cw = gb.len() / (map.n * hw);
    for (k, roi) in rois.iter().enumerate() {
        let geo = AlignGeometry::new(roi, cfg);
        let per_bin = geo.samples_per_bin();
        if per_bin == 0 {
            continue;
        }
        let count = per_bin as f32;
        let (rows, cols) = geo.taps(map, cfg.output_size);
        let image = &mut gb[roi.batch * hw * cw..][..hw * cw];
        for i in 0..oh {
            for j in 0..ow {
                let g = &gt[(k * oh * ow + i * ow + j) * c + c0..][..cw];
                for (pos, w) in bin_samples(&geo, &rows, &cols, (i, j), map.w) {
                    for q in 0..4 {
                        add_gradient(&mut image[pos[q] * cw..][..cw], g, w[q], count);
                    }
                }
            }
        }
    }
}

/// [`align_backward_block`] compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn align_backward_block_avx2(
    map: &Map,
    rois: &[Roi],
    cfg: &RoiAlignConfig,
    gt: &[f32],
    c0: usize,
    gb: &mut [f32],
) {
    align_backward_block(map, rois, cfg, gt, c0, gb)
}

/// RoIAlign backward: `∂loss/∂x[b, c, pos_q] += ∂loss/∂y[k, c, bin]·weight_q / (gh·gw)`
/// for every valid sample of every bin of every RoI `k` of image `b`. The upstream
/// gradient is made `[k, bin, c]`; blocks of channels run in parallel, each accumulating
/// into its own channels-last buffer `[n, h·w, cw]` (so no two threads add into the same
/// value and each value receives its additions in torchvision's order), then moved back
/// to `[n, c, h, w]`.
fn roi_align_backward(map: &Map, rois: &[Roi], cfg: &RoiAlignConfig, g: &[f32]) -> Vec<f32> {
    let (c, hw, bins) = (map.c, map.hw(), cfg.output_size[0] * cfg.output_size[1]);
    let mut gx = vec![0.0f32; map.n * c * hw];
    if rois.is_empty() {
        return gx;
    }
    let mut gt = vec![0.0f32; g.len()];
    gt.par_chunks_mut(c * bins)
        .zip(g.par_chunks(c * bins))
        .for_each(|(gt, g)| transpose(g, c, bins, gt));
    let block = channel_block(c);
    let blocks: Vec<(usize, usize)> = (0..c)
        .step_by(block)
        .map(|c0| (c0, block.min(c - c0)))
        .collect();
    let buffers: Vec<Vec<f32>> = blocks
        .par_iter()
        .map(|&(c0, cw)| {
            let mut gb = vec![0.0f32; map.n * hw * cw];
            #[cfg(target_arch = "x86_64")]
            if is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has the features the function is compiled for.
                unsafe { align_backward_block_avx2(map, rois, cfg, &gt, c0, &mut gb) };
                return gb;
            }
            align_backward_block(map, rois, cfg, &gt, c0, &mut gb);
            gb
        })
        .collect();
    // back to [n, c, h·w]: plane (b, ch) is column ch − c0 of block buffer [b, h·w, cw]
    gx.par_chunks_mut(hw).enumerate().for_each(|(plane, gx)| {
        let (b, ch) = (plane / c, plane % c);
        let (c0, cw) = blocks[ch / block];
        let gb = &buffers[ch / block][b * hw * cw..][..hw * cw];
        for (p, v) in gx.iter_mut().enumerate() {
            *v = gb[p * cw + ch - c0];
        }
    });
    gx
}

// ---------------------------------------------------------------- RoIPool

/// The `[start, end)` ranges of the bins along one axis.
type Bins = Vec<(usize, usize)>;

/// The bins of one RoI of RoIPool: for each output row its feature rows `[start, end)`,
/// for each output column its feature columns, clipped to the map (possibly empty).
fn pool_bins(roi: &Roi, map: &Map, out: [usize; 2], s: f32) -> (Bins, Bins) {
    let (start_w, start_h) = ((roi.x1 * s).round() as i64, (roi.y1 * s).round() as i64);
    let (end_w, end_h) = ((roi.x2 * s).round() as i64, (roi.y2 * s).round() as i64);
    // malformed RoIs are forced to 1 × 1; the end pixel is part of the box
    let roi_w = (end_w - start_w + 1).max(1);
    let roi_h = (end_h - start_h + 1).max(1);
    let axis = |size: i64, o: usize, start: i64, limit: usize| -> Bins {
        let bin = size as f32 / o as f32;
        (0..o)
            .map(|i| {
                let lo = (i as f32 * bin).floor() as i64;
                let hi = ((i + 1) as f32 * bin).ceil() as i64;
                let clip = |v: i64| (v + start).clamp(0, limit as i64) as usize;
                (clip(lo), clip(hi))
            })
            .collect()
    };
    (
        axis(roi_h, out[0], start_h, map.h),
        axis(roi_w, out[1], start_w, map.w),
    )
}

/// No arg-max: the bin was empty (its output is 0 and it gets no gradient).
const NO_ARGMAX: u32 = u32::MAX;

/// RoIPool forward: RoIs in parallel; the maximum of each bin and, when `with_argmax`,
/// its plane offset.
fn roi_pool_forward(
    map: &Map,
    rois: &[Roi],
    out: [usize; 2],
    s: f32,
    x: &[f32],
    with_argmax: bool,
) -> (Vec<f32>, Vec<u32>) {
    let chunk = map.c * out[0] * out[1];
    let mut y = vec![0.0f32; rois.len() * chunk];
    if y.is_empty() {
        return (y, Vec::new());
    }
    if !with_argmax {
        y.par_chunks_mut(chunk)
            .zip(rois.par_iter())
            .for_each(|(y, roi)| pool_roi(map, roi, out, s, x, y, None));
        return (y, Vec::new());
    }
    let mut argmax = vec![NO_ARGMAX; y.len()];
    y.par_chunks_mut(chunk)
        .zip(argmax.par_chunks_mut(chunk))
        .zip(rois.par_iter())
        .for_each(|((y, am), roi)| pool_roi(map, roi, out, s, x, y, Some(am)));
    (y, argmax)
}

/// The RoIPool of one RoI into `y [c, oh, ow]` (and its arg-maxes): `>` from `−f32::MAX`,
/// so the first of equal maxima wins and NaN never does; an empty bin gives 0.
fn pool_roi(
    map: &Map,
    roi: &Roi,
    out: [usize; 2],
    s: f32,
    x: &[f32],
    y: &mut [f32],
    mut argmax: Option<&mut [u32]>,
) {
    let (hw, bins) = (map.hw(), out[0] * out[1]);
    let (rows, cols) = pool_bins(roi, map, out, s);
    let planes = &x[roi.batch * map.c * hw..][..map.c * hw];
    for (c, plane) in planes.chunks_exact(hw).enumerate() {
        for (i, &(h0, h1)) in rows.iter().enumerate() {
            for (j, &(w0, w1)) in cols.iter().enumerate() {
                let empty = h1 <= h0 || w1 <= w0;
                let mut best = if empty { 0.0 } else { -f32::MAX };
                let mut at = NO_ARGMAX;
                for r in h0..h1 {
                    let row = &plane[r * map.w..][..map.w];
                    for (col, &v) in row.iter().enumerate().take(w1).skip(w0) {
                        if v > best {
                            best = v;
                            at = (r * map.w + col) as u32;
                        }
                    }
                }
                let o = c * bins + i * out[1] + j;
                y[o] = best;
                if let Some(am) = argmax.as_deref_mut() {
                    am[o] = at;
                }
            }
        }
    }
}

/// RoIPool backward: `∂loss/∂x[b, c, argmax[k, c, bin]] += ∂loss/∂y[k, c, bin]` over the
/// RoIs `k` of image `b`; planes in parallel.
fn roi_pool_backward(map: &Map, rois: &[Roi], bins: usize, argmax: &[u32], g: &[f32]) -> Vec<f32> {
    let hw = map.hw();
    let mut gx = vec![0.0f32; map.n * map.c * hw];
    let per_image = by_image(rois, map.n);
    gx.par_chunks_mut(hw).enumerate().for_each(|(plane, gx)| {
        let (b, c) = (plane / map.c, plane % map.c);
        for &k in &per_image[b] {
            let at = (k * map.c + c) * bins;
            for (&a, &gy) in argmax[at..][..bins].iter().zip(&g[at..][..bins]) {
                if a != NO_ARGMAX {
                    gx[a as usize] += gy;
                }
            }
        }
    });
    gx
}

impl Tensor {
    /// RoIAlign (torchvision's `roi_align`) of a feature map `[n, c, h, w]` over `rois`
    /// (a `[k, 5]` tensor or per-image boxes, see [`Rois`]) into `[k, c, oh, ow]`:
    /// `y[k, c, i, j] = (1/(gh·gw)) Σ_{samples (y, x) of bin (i, j)} bilinear(x[b_k, c], y, x)`,
    /// sample `(iy, ix)` of bin `(i, j)` at
    /// `y = y1·s − o + i·bh + (iy + ½)·bh/gh`, `x = x1·s − o + j·bw + (ix + ½)·bw/gw`,
    /// `o = ½` when aligned (else 0), `bh = roi_h/oh`, `bw = roi_w/ow`. Differentiable to
    /// the input only (the boxes get no gradient, as in torchvision).
    /// Errors: input not `[n, c, h, w]`, rois not `[k, 5]` (or boxes not `[kᵢ, 4]`), a batch
    /// index that is not an image of the input, a box with `x2 < x1` or `y2 < y1` or a
    /// coordinate that is not finite, a zero output size, a spatial scale that is not
    /// positive.
    pub fn roi_align<'a>(&self, rois: impl Into<Rois<'a>>, cfg: &RoiAlignConfig) -> Result<Tensor> {
        const OP: &str = "roi_align";
        let (map, rois) = plan(
            OP,
            self.shape(),
            rois.into(),
            cfg.output_size,
            cfg.spatial_scale,
        )?;
        // Each RoI's sample grid is allocated (`oh·gh + ow·gw` taps): refuse grids that
        // could not fit in memory instead of aborting on the allocation.
        const MAX_TAPS: usize = 1 << 24;
        for (k, roi) in rois.iter().enumerate() {
            let g = AlignGeometry::new(roi, cfg);
            let taps = cfg.output_size[0]
                .saturating_mul(g.grid_h)
                .saturating_add(cfg.output_size[1].saturating_mul(g.grid_w));
            if taps > MAX_TAPS {
                return Err(Error::config(
                    OP,
                    format!(
                        "RoI {k} would take {}×{} samples per bin (sampling ratio {}): more than {MAX_TAPS} sample rows and columns",
                        g.grid_h, g.grid_w, cfg.sampling_ratio
                    ),
                ));
            }
        }
        let y = roi_align_forward(&map, &rois, cfg, &self.data());
        let shape = vec![rois.len(), map.c, cfg.output_size[0], cfg.output_size[1]];
        let cfg = *cfg;
        Ok(Tensor::from_op(OP, shape, y, &[self], move |g, _| {
            // ∂loss/∂x[b, c, p] = Σ over samples reading p of ∂loss/∂y · weight / (gh·gw)
            Ok(vec![Some(roi_align_backward(&map, &rois, &cfg, g))])
        }))
    }

    /// RoIPool (torchvision's `roi_pool`) of a feature map `[n, c, h, w]` over `rois` into
    /// `[k, c, oh, ow]`: the maximum of each bin of the box rounded to feature pixels
    /// (`round(s·x1) … round(s·x2)`, corners included, at least 1 × 1), bin `i` covering
    /// rows `[⌊i·bh⌋, ⌈(i+1)·bh⌉)` of it clipped to the map; an empty bin gives 0.
    /// Differentiable to the input: `∂loss/∂y` goes to each bin's arg-max, the first
    /// maximum in row-major order (the boxes get no gradient).
    /// Errors: those of [`Tensor::roi_align`].
    pub fn roi_pool<'a>(
        &self,
        rois: impl Into<Rois<'a>>,
        output_size: [usize; 2],
        spatial_scale: f32,
    ) -> Result<Tensor> {
        const OP: &str = "roi_pool";
        let (map, rois) = plan(OP, self.shape(), rois.into(), output_size, spatial_scale)?;
        let with_argmax = Tensor::records(&[self]);
        let (y, argmax) = roi_pool_forward(
            &map,
            &rois,
            output_size,
            spatial_scale,
            &self.data(),
            with_argmax,
        );
        let shape = vec![rois.len(), map.c, output_size[0], output_size[1]];
        let bins = output_size[0] * output_size[1];
        Ok(Tensor::from_op(OP, shape, y, &[self], move |g, _| {
            // ∂loss/∂x[b, c, p] = Σ of ∂loss/∂y over the bins whose arg-max is p
            Ok(vec![Some(roi_pool_backward(&map, &rois, bins, &argmax, g))])
        }))
    }
}
