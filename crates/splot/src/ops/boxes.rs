//! Boxes: areas, pairwise IoU, clipping, small-box removal, non-maximum suppression (plain
//! and per class) and the box coder of Faster R-CNN, each equal to torchvision's
//! (`torchvision.ops.boxes`, `torchvision.models.detection._utils.BoxCoder`).
//!
//! Legend: a box is `(x1, y1, x2, y2)` in pixels, `x1 ≤ x2`, `y1 ≤ y2` (zero width or
//! height allowed); `boxes [n, 4]`, `a [n, 4]`, `b [m, 4]`; `w = x2 − x1`, `h = y2 − y1`,
//! `cx = x1 + w/2`, `cy = y1 + h/2` (torchvision's widths: no `+1`); `IoU = inter / union`,
//! `inter = max(0, min(x2a, x2b) − max(x1a, x1b))·max(0, min(y2a, y2b) − max(y1a, y1b))`,
//! `union = area_a + area_b − inter` (two boxes of zero area have IoU `0/0 = NaN`, which
//! suppresses nothing, as in torchvision).
//!
//! What is differentiable: [`Tensor::box_area`], [`Tensor::clip_boxes_to_image`],
//! [`BoxCoder::encode`] (to both box sets) and [`BoxCoder::decode`] (to the codes and the
//! reference boxes). [`Tensor::box_iou`] is plain data (no gradient), and [`nms`],
//! [`batched_nms`] and [`remove_small_boxes`] return indices.
//!
//! NMS: the boxes are sorted once by decreasing score (a stable sort, so equal scores keep
//! their index order, as torchvision's CPU kernel), copied into structure-of-arrays in that
//! order with their areas, then each kept box marks the IoU of every later box in one
//! branch-free loop that the compiler vectorises (eight lanes with AVX2).

use crate::error::{Error, Result};
use crate::tensor::Tensor;
use rayon::prelude::*;

/// The number of boxes of a `[n, 4]` tensor, or an error naming `op`, `what` and the shape.
fn box_count(op: &'static str, what: &str, boxes: &Tensor) -> Result<usize> {
    match boxes.shape() {
        &[n, 4] => Ok(n),
        s => Err(Error::shape(
            op,
            format!("{what} must be [n, 4] (x1, y1, x2, y2), got {s:?}"),
        )),
    }
}

/// Checks that no box of `values` (`[n, 4]` row-major) has `x2 < x1` or `y2 < y1`.
fn check_ordered(op: &'static str, what: &str, values: &[f32]) -> Result<()> {
    match values
        .chunks_exact(4)
        .position(|b| b[2] < b[0] || b[3] < b[1])
    {
        None => Ok(()),
        Some(i) => {
            let b = &values[4 * i..4 * i + 4];
            Err(Error::shape(
                op,
                format!(
                    "{what}: box {i} ({}, {}, {}, {}) has x2 < x1 or y2 < y1",
                    b[0], b[1], b[2], b[3]
                ),
            ))
        }
    }
}

/// `std::max(a, b)` of C++: `a < b ? b : a` (torchvision's kernels; one `maxps`).
#[inline(always)]
fn cmax(a: f32, b: f32) -> f32 {
    if a < b {
        b
    } else {
        a
    }
}

/// `std::min(a, b)` of C++: `b < a ? b : a`.
#[inline(always)]
fn cmin(a: f32, b: f32) -> f32 {
    if b < a {
        b
    } else {
        a
    }
}

impl Tensor {
    /// Areas `(x2 − x1)·(y2 − y1)` of boxes `[n, 4]`, as `[n]` (torchvision's `box_area`;
    /// a box with `x2 < x1` has a negative area). Differentiable:
    /// `∂area/∂x2 = h = −∂area/∂x1`, `∂area/∂y2 = w = −∂area/∂y1`.
    pub fn box_area(&self) -> Result<Tensor> {
        const OP: &str = "box_area";
        let n = box_count(OP, "boxes", self)?;
        let b = self.to_vec();
        let area = b
            .chunks_exact(4)
            .map(|b| (b[2] - b[0]) * (b[3] - b[1]))
            .collect();
        Ok(Tensor::from_op(OP, vec![n], area, &[self], move |g, _| {
            let mut gb = vec![0.0f32; 4 * n];
            for ((gb, b), &g) in gb.chunks_exact_mut(4).zip(b.chunks_exact(4)).zip(g) {
                let (w, h) = (b[2] - b[0], b[3] - b[1]);
                // ∂area/∂(x1, y1, x2, y2) = (−h, −w, h, w)
                gb.copy_from_slice(&[-h * g, -w * g, h * g, w * g]);
            }
            Ok(vec![Some(gb)])
        }))
    }

    /// Pairwise IoU of boxes `self [n, 4]` and `other [m, 4]`, as `[n, m]` (torchvision's
    /// `box_iou`): `iou[i, j] = inter / (area_i + area_j − inter)`. Two boxes of zero area
    /// give `NaN` (`0/0`), as in torchvision. Plain data: no gradient is recorded.
    /// Errors: shapes other than `[·, 4]`, a box with `x2 < x1` or `y2 < y1`.
    pub fn box_iou(&self, other: &Tensor) -> Result<Tensor> {
        const OP: &str = "box_iou";
        let n = box_count(OP, "first boxes", self)?;
        let m = box_count(OP, "second boxes", other)?;
        let a = self.to_vec();
        check_ordered(OP, "first boxes", &a)?;
        let b = Soa::new(&other.data(), (0..m).collect());
        check_ordered(OP, "second boxes", &other.data())?;
        let mut iou = vec![0.0f32; n * m];
        if let Some(rows) = crate::cpu::par::MIN_PARALLEL.checked_div(m) {
            let rows = rows.max(1);
            iou.par_chunks_mut(rows * m)
                .zip(a.par_chunks(rows * 4))
                .for_each(|(out, a)| {
                    for (out, a) in out.chunks_exact_mut(m).zip(a.chunks_exact(4)) {
                        let area = (a[2] - a[0]) * (a[3] - a[1]);
                        for (j, o) in out.iter_mut().enumerate() {
                            let w = (a[2].min(b.x2[j]) - a[0].max(b.x1[j])).max(0.0);
                            let h = (a[3].min(b.y2[j]) - a[1].max(b.y1[j])).max(0.0);
                            let inter = w * h;
                            *o = inter / (area + b.area[j] - inter);
                        }
                    }
                });
        }
        Tensor::from_vec(iou, &[n, m])
    }

    /// Boxes `[n, 4]` clipped to an image of `size = (height, width)`: `x` clamped to
    /// `[0, width]`, `y` to `[0, height]` (torchvision's `clip_boxes_to_image`).
    /// Differentiable: the gradient passes where a coordinate lies inside its range
    /// (bounds included, as `torch.clamp`) and is zero where it was clamped.
    pub fn clip_boxes_to_image(&self, size: (usize, usize)) -> Result<Tensor> {
        const OP: &str = "clip_boxes_to_image";
        let n = box_count(OP, "boxes", self)?;
        let (h, w) = (size.0 as f32, size.1 as f32);
        let b = self.to_vec();
        let upper = move |k: usize| if k % 2 == 0 { w } else { h };
        let clipped = b
            .iter()
            .enumerate()
            .map(|(k, &v)| v.max(0.0).min(upper(k)))
            .collect();
        Ok(Tensor::from_op(
            OP,
            vec![n, 4],
            clipped,
            &[self],
            move |g, _| {
                // ∂clip/∂v = 1 for 0 ≤ v ≤ upper, else 0
                let gb = b
                    .iter()
                    .zip(g)
                    .enumerate()
                    .map(|(k, (&v, &g))| {
                        if (0.0..=upper(k)).contains(&v) {
                            g
                        } else {
                            0.0
                        }
                    })
                    .collect();
                Ok(vec![Some(gb)])
            },
        ))
    }
}

/// Indices of the boxes `[n, 4]` whose width and height are both at least `min_size`, in
/// increasing order (torchvision's `remove_small_boxes`: `w ≥ min_size and h ≥ min_size`).
pub fn remove_small_boxes(boxes: &Tensor, min_size: f32) -> Result<Vec<usize>> {
    const OP: &str = "remove_small_boxes";
    box_count(OP, "boxes", boxes)?;
    if min_size.is_nan() {
        return Err(Error::config(OP, "min_size is NaN"));
    }
    Ok(boxes
        .data()
        .chunks_exact(4)
        .enumerate()
        .filter(|(_, b)| b[2] - b[0] >= min_size && b[3] - b[1] >= min_size)
        .map(|(i, _)| i)
        .collect())
}

/// Boxes as structure-of-arrays, in a given order, with their areas.
struct Soa {
    x1: Vec<f32>,
    y1: Vec<f32>,
    x2: Vec<f32>,
    y2: Vec<f32>,
    area: Vec<f32>,
    /// `order[k]`: the index (row of the `[n, 4]` tensor) of the `k`-th box here.
    order: Vec<usize>,
}

impl Soa {
    /// The boxes `order[0], order[1], …` of `values` (`[n, 4]` row-major).
    fn new(values: &[f32], order: Vec<usize>) -> Soa {
        let coord = |c: usize| -> Vec<f32> { order.iter().map(|&i| values[4 * i + c]).collect() };
        let (x1, y1, x2, y2) = (coord(0), coord(1), coord(2), coord(3));
        let area = (0..order.len())
            .map(|k| (x2[k] - x1[k]) * (y2[k] - y1[k]))
            .collect();
        Soa {
            x1,
            y1,
            x2,
            y2,
            area,
            order,
        }
    }
}

/// Checks NMS inputs and returns the box count and the f32 threshold equivalent to the
/// f64 one: `iou > t` (f32) exactly when `(iou as f64) > iou_threshold`, as torchvision
/// compares its float IoU with a double threshold.
fn nms_inputs(
    op: &'static str,
    boxes: &Tensor,
    scores: &Tensor,
    iou_threshold: f64,
) -> Result<(usize, f32)> {
    let n = box_count(op, "boxes", boxes)?;
    if scores.shape() != [n] {
        return Err(Error::shape(
            op,
            format!(
                "scores must be [{n}] for boxes {:?}, got {:?}",
                boxes.shape(),
                scores.shape()
            ),
        ));
    }
    if iou_threshold.is_nan() {
        return Err(Error::config(op, "iou_threshold is NaN"));
    }
    check_ordered(op, "boxes", &boxes.data())?;
    // the largest f32 not above the threshold: an f32 exceeds it iff it exceeds the f64
    let mut t = iou_threshold as f32;
    if t as f64 > iou_threshold {
        t = next_down(t);
    }
    Ok((n, t))
}

/// The largest f32 below `t` (`f32::next_down`, newer than the crate's minimum Rust).
fn next_down(t: f32) -> f32 {
    if t > 0.0 {
        f32::from_bits(t.to_bits() - 1)
    } else if t == 0.0 {
        -f32::from_bits(1)
    } else {
        f32::from_bits(t.to_bits() + 1)
    }
}

/// Indices `0..n` sorted by decreasing score with a stable sort (equal scores keep their
/// index order); NaN counts as the largest score, as in `torch.sort`.
fn by_decreasing_score(scores: &[f32]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&i, &j| {
        let (a, b) = (scores[i], scores[j]);
        match (a.is_nan(), b.is_nan()) {
            (true, true) => std::cmp::Ordering::Equal,
            (true, false) => std::cmp::Ordering::Less,
            (false, true) => std::cmp::Ordering::Greater,
            _ => b.partial_cmp(&a).expect("neither is NaN"),
        }
    });
    order
}

/// Non-maximum suppression (torchvision's `nms`): going through the boxes `[n, 4]` by
/// decreasing `scores [n]`, keep a box unless an already kept box overlaps it with
/// `IoU > iou_threshold`. Returns the kept indices by decreasing score; equal scores are
/// visited in increasing index order (torchvision's CPU kernel sorts stably). Boxes of
/// zero area are never suppressed (their IoU is 0 or `0/0`). The threshold is an f64
/// compared with the f32 IoU, as torchvision does.
/// Errors: boxes not `[n, 4]`, scores not `[n]`, a box with `x2 < x1` or `y2 < y1`,
/// a NaN threshold.
pub fn nms(boxes: &Tensor, scores: &Tensor, iou_threshold: f64) -> Result<Vec<usize>> {
    let (_, t) = nms_inputs("nms", boxes, scores, iou_threshold)?;
    let order = by_decreasing_score(&scores.data());
    let soa = Soa::new(&boxes.data(), order);
    Ok(nms_sorted(&soa, t)
        .into_iter()
        .map(|k| soa.order[k])
        .collect())
}

/// Non-maximum suppression within each category (torchvision's `batched_nms`): boxes of
/// different `idxs` never suppress each other. Returns the kept indices by decreasing
/// score, equal scores in increasing index order (as torchvision up to 1000 boxes; above,
/// torchvision orders the kept boxes with an unstable sort, so equal scores may come in
/// another order). Each category is suppressed on its own (torchvision's path for large
/// inputs; its coordinate-offset path for small ones gives the same set, up to the float
/// rounding of the shifted boxes).
/// Errors: those of [`nms`], and `idxs` not one per box.
pub fn batched_nms(
    boxes: &Tensor,
    scores: &Tensor,
    idxs: &[usize],
    iou_threshold: f64,
) -> Result<Vec<usize>> {
    const OP: &str = "batched_nms";
    let (n, t) = nms_inputs(OP, boxes, scores, iou_threshold)?;
    if idxs.len() != n {
        return Err(Error::shape(
            OP,
            format!("{} category indices for {n} boxes", idxs.len()),
        ));
    }
    let order = by_decreasing_score(&scores.data());
    // rank[i]: the place of box i in the score order; each category's boxes in that order
    let mut rank = vec![0usize; n];
    for (r, &i) in order.iter().enumerate() {
        rank[i] = r;
    }
    let mut categories: Vec<usize> = idxs.to_vec();
    categories.sort_unstable();
    categories.dedup();
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); categories.len()];
    for &i in &order {
        let c = categories
            .binary_search(&idxs[i])
            .expect("a listed category");
        members[c].push(i);
    }
    let values = boxes.data();
    let mut kept: Vec<usize> = members
        .into_par_iter()
        .flat_map_iter(|m| {
            let soa = Soa::new(&values, m);
            nms_sorted(&soa, t)
                .into_iter()
                .map(|k| soa.order[k])
                .collect::<Vec<_>>()
        })
        .collect();
    kept.sort_unstable_by_key(|&i| rank[i]);
    Ok(kept)
}

/// The NMS of boxes already in score order: positions of the kept boxes, increasing.
fn nms_sorted(b: &Soa, t: f32) -> Vec<usize> {
    let n = b.order.len();
    let mut suppressed = vec![0u32; n];
    let mut keep = Vec::new();
    for i in 0..n {
        if suppressed[i] != 0 {
            continue;
        }
        keep.push(i);
        suppress_after(b, i, t, &mut suppressed);
    }
    keep
}

/// Marks every box after `i` whose IoU with box `i` exceeds `t`.
fn suppress_after(b: &Soa, i: usize, t: f32, suppressed: &mut [u32]) {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has the features the function is compiled for.
        unsafe { suppress_after_avx2(b, i, t, suppressed) };
        return;
    }
    suppress_after_plain(b, i, t, suppressed)
}

/// [`suppress_after_plain`] compiled for AVX2 (eight lanes; no FMA, so the same values).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn suppress_after_avx2(b: &Soa, i: usize, t: f32, suppressed: &mut [u32]) {
    suppress_after_plain(b, i, t, suppressed)
}

/// The suppression loop, torchvision's arithmetic in its order, without branches:
/// `inter = max(0, min(x2ᵢ, x2ⱼ) − max(x1ᵢ, x1ⱼ))·max(0, …y…)`,
/// `iou = inter / (areaᵢ + areaⱼ − inter)`, suppressed when `iou > t`. Boxes already
/// suppressed are computed too (marking them again changes nothing; skipping them would
/// cost a branch per box).
#[inline(always)]
fn suppress_after_plain(b: &Soa, i: usize, t: f32, suppressed: &mut [u32]) {
    let (ix1, iy1, ix2, iy2, ia) = (b.x1[i], b.y1[i], b.x2[i], b.y2[i], b.area[i]);
    let s = &mut suppressed[i + 1..];
    let len = s.len();
    let (x1, y1) = (&b.x1[i + 1..][..len], &b.y1[i + 1..][..len]);
    let (x2, y2) = (&b.x2[i + 1..][..len], &b.y2[i + 1..][..len]);
    let area = &b.area[i + 1..][..len];
    for j in 0..len {
        let w = cmax(0.0, cmin(ix2, x2[j]) - cmax(ix1, x1[j]));
        let h = cmax(0.0, cmin(iy2, y2[j]) - cmax(iy1, y1[j]));
        let inter = w * h;
        let iou = inter / (ia + area[j] - inter);
        s[j] |= (iou > t) as u32;
    }
}

/// Encodes boxes relative to reference boxes and decodes them back, as torchvision's
/// `BoxCoder` (Faster R-CNN's regression targets).
///
/// With `w = x2 − x1`, `cx = x1 + 0.5·w` (no `+1`) for a proposal `p` and its ground-truth
/// box `g`, and weights `(wx, wy, ww, wh)`:
/// `dx = wx·(cx_g − cx_p)/w_p`, `dy = wy·(cy_g − cy_p)/h_p`, `dw = ww·ln(w_g/w_p)`,
/// `dh = wh·ln(h_g/h_p)`. Decoding codes `(dx, dy, dw, dh)` on a box `b`:
/// `cx = dx/wx·w_b + cx_b`, `w = exp(min(dw/ww, clip))·w_b` (likewise for `y`, `h`), then
/// `(cx − 0.5·w, cy − 0.5·h, cx + 0.5·w, cy + 0.5·h)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BoxCoder {
    /// `(wx, wy, ww, wh)`: `(1, 1, 1, 1)` for the RPN, `(10, 10, 5, 5)` for Faster R-CNN's
    /// RoI heads.
    pub weights: [f32; 4],
    /// The largest `dw/ww` and `dh/wh` that decoding exponentiates: `ln(1000/16)` by default.
    pub bbox_xform_clip: f32,
}

impl Default for BoxCoder {
    /// Weights `(1, 1, 1, 1)`, clip `ln(1000/16)`.
    fn default() -> Self {
        BoxCoder::new([1.0; 4])
    }
}

impl BoxCoder {
    /// A coder with these weights and torchvision's clip `ln(1000/16)`.
    pub fn new(weights: [f32; 4]) -> Self {
        BoxCoder {
            weights,
            bbox_xform_clip: (1000.0f64 / 16.0).ln() as f32,
        }
    }

    /// The weights Faster R-CNN's RoI heads use: `(10, 10, 5, 5)`.
    pub fn roi_heads() -> Self {
        BoxCoder::new([10.0, 10.0, 5.0, 5.0])
    }

    fn check_weights(&self, op: &'static str) -> Result<()> {
        if self.weights.iter().any(|&w| !(w.is_finite() && w > 0.0)) {
            return Err(Error::config(
                op,
                format!("weights {:?} must be positive and finite", self.weights),
            ));
        }
        if self.bbox_xform_clip.is_nan() {
            return Err(Error::config(op, "bbox_xform_clip is NaN"));
        }
        Ok(())
    }

    /// The regression targets `[n, 4]` (torchvision's `encode_single`) of `reference_boxes
    /// [n, 4]` (ground truth) relative to `proposals [n, 4]`, by the formulas of
    /// [`BoxCoder`]. Differentiable to both. A proposal of zero width gives infinite codes,
    /// as in torchvision.
    /// Errors: shapes other than `[n, 4]` alike, a box with `x2 < x1` or `y2 < y1`,
    /// weights not positive.
    pub fn encode(&self, reference_boxes: &Tensor, proposals: &Tensor) -> Result<Tensor> {
        const OP: &str = "BoxCoder::encode";
        self.check_weights(OP)?;
        let n = box_count(OP, "reference boxes", reference_boxes)?;
        let m = box_count(OP, "proposals", proposals)?;
        if n != m {
            return Err(Error::shape(
                OP,
                format!(
                    "reference boxes {:?} and proposals {:?} differ in number",
                    reference_boxes.shape(),
                    proposals.shape()
                ),
            ));
        }
        let (gt, p) = (reference_boxes.to_vec(), proposals.to_vec());
        check_ordered(OP, "reference boxes", &gt)?;
        check_ordered(OP, "proposals", &p)?;
        let [wx, wy, ww, wh] = self.weights;
        let mut codes = vec![0.0f32; 4 * n];
        for ((c, g), p) in codes
            .chunks_exact_mut(4)
            .zip(gt.chunks_exact(4))
            .zip(p.chunks_exact(4))
        {
            let (ew, eh) = (p[2] - p[0], p[3] - p[1]);
            let (ecx, ecy) = (p[0] + 0.5 * ew, p[1] + 0.5 * eh);
            let (gw, gh) = (g[2] - g[0], g[3] - g[1]);
            let (gcx, gcy) = (g[0] + 0.5 * gw, g[1] + 0.5 * gh);
            c[0] = wx * (gcx - ecx) / ew;
            c[1] = wy * (gcy - ecy) / eh;
            c[2] = ww * (gw / ew).ln();
            c[3] = wh * (gh / eh).ln();
        }
        let parents = [reference_boxes, proposals];
        Ok(Tensor::from_op(
            OP,
            vec![n, 4],
            codes,
            &parents,
            move |g, needs| {
                let mut g_gt = needs[0].then(|| vec![0.0f32; 4 * n]);
                let mut g_p = needs[1].then(|| vec![0.0f32; 4 * n]);
                for k in 0..n {
                    let (gb, pb, gk) = (&gt[4 * k..][..4], &p[4 * k..][..4], &g[4 * k..][..4]);
                    let (ew, eh) = (pb[2] - pb[0], pb[3] - pb[1]);
                    let (gw, gh) = (gb[2] - gb[0], gb[3] - gb[1]);
                    let (ecx, ecy) = (pb[0] + 0.5 * ew, pb[1] + 0.5 * eh);
                    let (gcx, gcy) = (gb[0] + 0.5 * gw, gb[1] + 0.5 * gh);
                    // ∂L/∂cx_g = gx·wx/w_p, ∂L/∂w_g = gw·ww/w_g (y and h alike)
                    let (d_gcx, d_gcy) = (gk[0] * wx / ew, gk[1] * wy / eh);
                    let (d_gw, d_gh) = (gk[2] * ww / gw, gk[3] * wh / gh);
                    if let Some(gg) = g_gt.as_mut() {
                        // cx = x1 + w/2, w = x2 − x1: ∂x1 = ∂cx/2 − ∂w, ∂x2 = ∂cx/2 + ∂w
                        let gg = &mut gg[4 * k..][..4];
                        gg[0] = 0.5 * d_gcx - d_gw;
                        gg[1] = 0.5 * d_gcy - d_gh;
                        gg[2] = 0.5 * d_gcx + d_gw;
                        gg[3] = 0.5 * d_gcy + d_gh;
                    }
                    if let Some(gp) = g_p.as_mut() {
                        // ∂L/∂cx_p = −gx·wx/w_p;
                        // ∂L/∂w_p = −gx·wx·(cx_g − cx_p)/w_p² − gw·ww/w_p
                        let (d_ecx, d_ecy) = (-d_gcx, -d_gcy);
                        let d_ew = -gk[0] * wx * (gcx - ecx) / (ew * ew) - gk[2] * ww / ew;
                        let d_eh = -gk[1] * wy * (gcy - ecy) / (eh * eh) - gk[3] * wh / eh;
                        let gp = &mut gp[4 * k..][..4];
                        gp[0] = 0.5 * d_ecx - d_ew;
                        gp[1] = 0.5 * d_ecy - d_eh;
                        gp[2] = 0.5 * d_ecx + d_ew;
                        gp[3] = 0.5 * d_ecy + d_eh;
                    }
                }
                Ok(vec![g_gt, g_p])
            },
        ))
    }

    /// Boxes decoded from `rel_codes [n, 4·k]` (`k` sets of `(dx, dy, dw, dh)` per box,
    /// one per class) on reference `boxes [n, 4]`, as `[n, 4·k]` (torchvision's
    /// `decode_single`), by the formulas of [`BoxCoder`]. Differentiable to the codes
    /// (the clamped `dw`, `dh` pass no gradient above the clip, as `torch.clamp`) and to
    /// the reference boxes.
    /// Errors: `boxes` not `[n, 4]`, codes not `[n, 4·k]`, weights not positive.
    pub fn decode(&self, rel_codes: &Tensor, boxes: &Tensor) -> Result<Tensor> {
        const OP: &str = "BoxCoder::decode";
        self.check_weights(OP)?;
        let n = box_count(OP, "boxes", boxes)?;
        let cols = match rel_codes.shape() {
            &[rows, cols] if rows == n && cols > 0 && cols % 4 == 0 => cols,
            s => {
                return Err(Error::shape(
                    OP,
                    format!(
                        "codes must be [{n}, 4·k], k ≥ 1, for boxes {:?}, got {s:?}",
                        boxes.shape()
                    ),
                ))
            }
        };
        let (codes, b) = (rel_codes.to_vec(), boxes.to_vec());
        let [wx, wy, ww, wh] = self.weights;
        let clip = self.bbox_xform_clip;
        let mut out = vec![0.0f32; n * cols];
        for ((o, c), b) in out
            .chunks_exact_mut(cols)
            .zip(codes.chunks_exact(cols))
            .zip(b.chunks_exact(4))
        {
            let (w, h) = (b[2] - b[0], b[3] - b[1]);
            let (cx, cy) = (b[0] + 0.5 * w, b[1] + 0.5 * h);
            for (o, c) in o.chunks_exact_mut(4).zip(c.chunks_exact(4)) {
                let (dx, dy) = (c[0] / wx, c[1] / wy);
                let (dw, dh) = ((c[2] / ww).min(clip), (c[3] / wh).min(clip));
                let (pcx, pcy) = (dx * w + cx, dy * h + cy);
                let (pw, ph) = (dw.exp() * w, dh.exp() * h);
                let (half_w, half_h) = (0.5 * pw, 0.5 * ph);
                o.copy_from_slice(&[pcx - half_w, pcy - half_h, pcx + half_w, pcy + half_h]);
            }
        }
        let shape = vec![n, cols];
        Ok(Tensor::from_op(
            OP,
            shape,
            out,
            &[rel_codes, boxes],
            move |g, needs| {
                let mut g_codes = needs[0].then(|| vec![0.0f32; n * cols]);
                let mut g_boxes = needs[1].then(|| vec![0.0f32; 4 * n]);
                for i in 0..n {
                    let bi = &b[4 * i..][..4];
                    let (w, h) = (bi[2] - bi[0], bi[3] - bi[1]);
                    // sums over the classes of ∂L/∂cx_b, ∂L/∂cy_b, ∂L/∂w_b, ∂L/∂h_b
                    let (mut d_cx, mut d_cy, mut d_w, mut d_h) = (0.0f32, 0.0, 0.0, 0.0);
                    for k in 0..cols / 4 {
                        let at = i * cols + 4 * k;
                        let (c, gk) = (&codes[at..][..4], &g[at..][..4]);
                        // out = (pcx − pw/2, pcy − ph/2, pcx + pw/2, pcy + ph/2):
                        // ∂L/∂pcx = g0 + g2, ∂L/∂pw = (g2 − g0)/2
                        let (d_pcx, d_pcy) = (gk[0] + gk[2], gk[1] + gk[3]);
                        let (d_pw, d_ph) = (0.5 * (gk[2] - gk[0]), 0.5 * (gk[3] - gk[1]));
                        let (sw, sh) = (c[2] / ww, c[3] / wh);
                        let (ew, eh) = (sw.min(clip).exp(), sh.min(clip).exp());
                        if let Some(gc) = g_codes.as_mut() {
                            // pcx = c0/wx·w + cx: ∂pcx/∂c0 = w/wx;
                            // pw = exp(min(c2/ww, clip))·w: ∂pw/∂c2 = pw/ww below the clip
                            let gc = &mut gc[at..][..4];
                            gc[0] = d_pcx * w / wx;
                            gc[1] = d_pcy * h / wy;
                            gc[2] = if sw <= clip { d_pw * ew * w / ww } else { 0.0 };
                            gc[3] = if sh <= clip { d_ph * eh * h / wh } else { 0.0 };
                        }
                        // ∂pcx/∂w = dx, ∂pcx/∂cx = 1, ∂pw/∂w = exp(dw)
                        d_cx += d_pcx;
                        d_cy += d_pcy;
                        d_w += d_pcx * (c[0] / wx) + d_pw * ew;
                        d_h += d_pcy * (c[1] / wy) + d_ph * eh;
                    }
                    if let Some(gb) = g_boxes.as_mut() {
                        // cx = x1 + w/2, w = x2 − x1: ∂x1 = ∂cx/2 − ∂w, ∂x2 = ∂cx/2 + ∂w
                        let gb = &mut gb[4 * i..][..4];
                        gb[0] = 0.5 * d_cx - d_w;
                        gb[1] = 0.5 * d_cy - d_h;
                        gb[2] = 0.5 * d_cx + d_w;
                        gb[3] = 0.5 * d_cy + d_h;
                    }
                }
                Ok(vec![g_codes, g_boxes])
            },
        ))
    }
}
