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
//! Both precompute the geometry (bilinear weights and offsets, or bin ranges) once per
//! RoI and reuse it over the channels; the forward passes run RoIs in parallel, the
//! backward passes run planes (or blocks of them) in parallel, so no two threads add into
//! the same gradient and each plane receives its additions in torchvision's order.

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

/// One bilinear sample: the plane offsets of its four pixels and their weights
/// (top-left, top-right, bottom-left, bottom-right). `valid = false` for a sample outside
/// the map, which reads 0 (weights 0 at offset 0, as torchvision) and gets no gradient.
#[derive(Clone, Copy, Debug, Default)]
struct Sample {
    pos: [u32; 4],
    weight: [f32; 4],
    valid: bool,
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

    fn samples_per_bin(&self) -> usize {
        self.grid_h * self.grid_w
    }

    /// Every sample, bin by bin (row-major), each bin's samples row-major, into `out`.
    fn samples(&self, map: &Map, out_size: [usize; 2], out: &mut Vec<Sample>) {
        out.clear();
        let (gh, gw) = (self.grid_h as f32, self.grid_w as f32);
        for ph in 0..out_size[0] {
            for pw in 0..out_size[1] {
                for iy in 0..self.grid_h {
                    let y = self.start_h
                        + ph as f32 * self.bin_h
                        + (iy as f32 + 0.5) * self.bin_h / gh;
                    for ix in 0..self.grid_w {
                        let x = self.start_w
                            + pw as f32 * self.bin_w
                            + (ix as f32 + 0.5) * self.bin_w / gw;
                        out.push(bilinear(map, y, x));
                    }
                }
            }
        }
    }
}

/// torchvision's `bilinear_interpolate` at `(y, x)`: outside `[−1, h] × [−1, w]` (or NaN)
/// an invalid sample; otherwise clamped to `[0, h − 1] × [0, w − 1]` and split into the
/// four neighbours' weights `(1 − ly)(1 − lx), (1 − ly)·lx, ly·(1 − lx), ly·lx`.
fn bilinear(map: &Map, y: f32, x: f32) -> Sample {
    let (h, w) = (map.h as i64, map.w as i64);
    if !(y >= -1.0 && y <= h as f32 && x >= -1.0 && x <= w as f32) {
        return Sample::default();
    }
    let (mut y, mut x) = (if y <= 0.0 { 0.0 } else { y }, if x <= 0.0 { 0.0 } else { x });
    let (mut y_low, mut x_low) = (y as i64, x as i64);
    let (y_high, x_high);
    if y_low >= h - 1 {
        y_low = h - 1;
        y_high = h - 1;
        y = y_low as f32;
    } else {
        y_high = y_low + 1;
    }
    if x_low >= w - 1 {
        x_low = w - 1;
        x_high = w - 1;
        x = x_low as f32;
    } else {
        x_high = x_low + 1;
    }
    let (ly, lx) = (y - y_low as f32, x - x_low as f32);
    let (hy, hx) = (1.0 - ly, 1.0 - lx);
    let at = |r: i64, c: i64| (r * w + c) as u32;
    Sample {
        pos: [
            at(y_low, x_low),
            at(y_low, x_high),
            at(y_high, x_low),
            at(y_high, x_high),
        ],
        weight: [hy * hx, hy * lx, ly * hx, ly * lx],
        valid: true,
    }
}

/// RoIAlign forward: RoIs in parallel, each computing its samples once and reusing them
/// over the channels. `y[k, c, bin] = Σ_samples Σ_q weight_q·x[b, c, pos_q] / max(gh·gw, 1)`.
fn roi_align_forward(map: &Map, rois: &[Roi], cfg: &RoiAlignConfig, x: &[f32]) -> Vec<f32> {
    let bins = cfg.output_size[0] * cfg.output_size[1];
    let mut y = vec![0.0f32; rois.len() * map.c * bins];
    if y.is_empty() {
        return y;
    }
    y.par_chunks_mut(map.c * bins)
        .zip(rois.par_iter())
        .for_each_init(Vec::new, |samples, (y, roi)| {
            let geo = AlignGeometry::new(roi, cfg);
            let per_bin = geo.samples_per_bin();
            if per_bin == 0 {
                return; // an empty grid averages to 0
            }
            geo.samples(map, cfg.output_size, samples);
            let count = per_bin as f32;
            let planes = &x[roi.batch * map.c * map.hw()..][..map.c * map.hw()];
            for (y, plane) in y.chunks_exact_mut(bins).zip(planes.chunks_exact(map.hw())) {
                for (y, bin) in y.iter_mut().zip(samples.chunks_exact(per_bin)) {
                    let mut v = 0.0f32;
                    for s in bin {
                        let [p1, p2, p3, p4] = s.pos.map(|p| plane[p as usize]);
                        let [w1, w2, w3, w4] = s.weight;
                        v += w1 * p1 + w2 * p2 + w3 * p3 + w4 * p4;
                    }
                    *y = v / count;
                }
            }
        });
    y
}

/// Channels per parallel task of the RoI backward passes: enough tasks for every thread,
/// few enough that each reuses the RoIs' geometry over several channels.
fn channel_block(map: &Map) -> usize {
    let tasks_per_image = (4 * rayon::current_num_threads()).div_ceil(map.n.max(1));
    map.c.div_ceil(tasks_per_image.max(1)).max(1)
}

/// RoIAlign backward: `∂loss/∂x[b, c, pos_q] += ∂loss/∂y[k, c, bin]·weight_q / (gh·gw)`
/// for every valid sample of every bin of every RoI `k` of image `b`. Blocks of channels
/// of each image run in parallel; each computes the samples of its image's RoIs once.
fn roi_align_backward(map: &Map, rois: &[Roi], cfg: &RoiAlignConfig, g: &[f32]) -> Vec<f32> {
    let (hw, bins) = (map.hw(), cfg.output_size[0] * cfg.output_size[1]);
    let mut gx = vec![0.0f32; map.n * map.c * hw];
    let per_image = by_image(rois, map.n);
    let block = channel_block(map);
    gx.par_chunks_mut(map.c * hw)
        .zip(per_image.par_iter())
        .for_each(|(gx, mine)| {
            gx.par_chunks_mut(block * hw)
                .enumerate()
                .for_each_init(Vec::new, |samples, (blk, gx)| {
                    let c0 = blk * block;
                    for &k in mine {
                        let geo = AlignGeometry::new(&rois[k], cfg);
                        let per_bin = geo.samples_per_bin();
                        if per_bin == 0 {
                            continue;
                        }
                        geo.samples(map, cfg.output_size, samples);
                        let count = per_bin as f32;
                        for (c, gx) in gx.chunks_exact_mut(hw).enumerate() {
                            let gy = &g[(k * map.c + c0 + c) * bins..][..bins];
                            for (&gy, bin) in gy.iter().zip(samples.chunks_exact(per_bin)) {
                                for s in bin.iter().filter(|s| s.valid) {
                                    for q in 0..4 {
                                        gx[s.pos[q] as usize] += gy * s.weight[q] / count;
                                    }
                                }
                            }
                        }
                    }
                });
        });
    gx
}

// ---------------------------------------------------------------- RoIPool

/// The bins of one RoI of RoIPool: for each output row its feature rows `[start, end)`,
/// for each output column its feature columns, clipped to the map (possibly empty).
fn pool_bins(
    roi: &Roi,
    map: &Map,
    out: [usize; 2],
    s: f32,
) -> (Vec<(usize, usize)>, Vec<(usize, usize)>) {
    let (start_w, start_h) = ((roi.x1 * s).round() as i64, (roi.y1 * s).round() as i64);
    let (end_w, end_h) = ((roi.x2 * s).round() as i64, (roi.y2 * s).round() as i64);
    // malformed RoIs are forced to 1 × 1; the end pixel is part of the box
    let roi_w = (end_w - start_w + 1).max(1);
    let roi_h = (end_h - start_h + 1).max(1);
    let axis = |size: i64, o: usize, start: i64, limit: usize| -> Vec<(usize, usize)> {
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
        let (map, rois) = plan(OP, self.shape(), rois.into(), cfg.output_size, cfg.spatial_scale)?;
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
