//! Box ops, NMS, the box coder, RoIAlign and RoIPool: hand-computed values, the fast
//! kernels against plain references, finite-difference gradient checks over random shapes
//! and options, torchvision's outputs and gradients (fixtures from
//! `scripts/fixtures_boxes.py`), and errors that name the op and the shapes.

use proptest::prelude::*;
use splot::io::safetensors::load;
use splot::testing::{assert_close, gradcheck};
use splot::{
    batched_nms, boxes_to_rois, nms, no_grad, remove_small_boxes, BoxCoder, Rng, RoiAlignConfig,
    Tensor,
};
use std::collections::HashMap;
use std::path::PathBuf;

fn t(v: &[f32], shape: &[usize]) -> Tensor {
    Tensor::from_vec(v.to_vec(), shape).unwrap()
}

fn close(what: &str, actual: &Tensor, expected: &[f32]) {
    assert_close(what, &actual.to_vec(), expected, 1e-5, 1e-5).unwrap();
}

fn grad(y: &Tensor, up: &Tensor, x: &Tensor) -> Vec<f32> {
    y.backward_with(up).unwrap().get(x).unwrap().to_vec()
}

// ---------------------------------------------------------------- boxes, by hand

#[test]
fn box_area_and_iou_by_hand() {
    let a = t(&[0., 0., 2., 2., 1., 1., 1., 5., 4., 4., 4., 4.], &[3, 4]);
    // areas 2·2 = 4, a zero-width box 0, a point 0
    close("area", &a.box_area().unwrap(), &[4., 0., 0.]);
    let b = t(
        &[
            1., 1., 3., 3., 0., 0., 2., 2., 10., 10., 11., 11., 4., 4., 4., 4.,
        ],
        &[4, 4],
    );
    let iou = a.box_iou(&b).unwrap();
    assert_eq!(iou.shape(), &[3, 4]);
    let v = iou.to_vec();
    // [0,0,2,2] vs [1,1,3,3]: inter 1, union 4 + 4 − 1 = 7; itself 1; disjoint 0;
    // vs the point 0/(4 + 0 − 0) = 0
    assert_close("row 0", &v[0..4], &[1. / 7., 1., 0., 0.], 1e-6, 0.0).unwrap();
    // the zero-width box [1,1,1,5]: inter 0 with everything, union = the other's area
    assert_close("row 1", &v[4..7], &[0., 0., 0.], 0.0, 0.0).unwrap();
    // [1,1,1,5] vs the point [4,4,4,4]: 0/0
    assert!(v[7].is_nan());
    // point vs point: 0/0 = NaN, as torchvision
    assert!(v[11].is_nan());
    // box_iou is plain data
    let tracked = a.clone().with_grad().box_iou(&b).unwrap();
    assert!(!tracked.is_tracked());
}

#[test]
fn box_area_and_clip_gradients_by_hand() {
    // area = w·h: ∂/∂(x1, y1, x2, y2) = (−h, −w, h, w) = (−3, −2, 3, 2) for [0, 0, 2, 3]
    let b = t(&[0., 0., 2., 3.], &[1, 4]).with_grad();
    let gb = grad(&b.box_area().unwrap(), &t(&[1.], &[1]), &b);
    assert_eq!(gb, vec![-3., -2., 3., 2.]);
    // clip to (h, w) = (20, 24): x1 −1 → 0, y1 2 stays, x2 30 → 24, y2 20 stays (bound)
    let c = t(&[-1., 2., 30., 20.], &[1, 4]).with_grad();
    let y = c.clip_boxes_to_image((20, 24)).unwrap();
    close("clipped", &y, &[0., 2., 24., 20.]);
    let gc = grad(&y, &t(&[1., 2., 3., 4.], &[1, 4]), &c);
    assert_eq!(gc, vec![0., 2., 0., 4.]);
}

#[test]
fn remove_small_boxes_by_hand() {
    let b = t(
        &[
            0., 0., 3., 1., 0., 0., 0.5, 4., 2., 2., 3., 3., 0., 0., 0.99, 5.,
        ],
        &[4, 4],
    );
    // sides (3, 1), (0.5, 4), (1, 1), (0.99, 5): both ≥ 1 for 0 and 2
    assert_eq!(remove_small_boxes(&b, 1.0).unwrap(), vec![0, 2]);
    assert_eq!(remove_small_boxes(&b, 0.0).unwrap(), vec![0, 1, 2, 3]);
}

/// Four boxes: 1 and 2 overlap with IoU 81/119 ≈ 0.68 (offset by one pixel), 0 and 2 are
/// the same box (IoU 1), 3 is apart; 1, 2 and 3 share the top score.
fn four_boxes() -> (Tensor, Tensor) {
    let boxes = t(
        &[
            0., 0., 10., 10., 1., 1., 11., 11., 0., 0., 10., 10., 20., 20., 30., 30.,
        ],
        &[4, 4],
    );
    (boxes, t(&[0.5, 0.9, 0.9, 0.9], &[4]))
}

#[test]
fn nms_by_hand_equal_scores_go_in_index_order() {
    let (boxes, scores) = four_boxes();
    // visiting order (stable): 1, 2, 3, then 0. Threshold 0.5: 1 kept, 2 suppressed
    // (0.68), 3 kept, 0 suppressed by 1 (0.68).
    assert_eq!(nms(&boxes, &scores, 0.5).unwrap(), vec![1, 3]);
    // threshold 0.7: 1, 2 and 3 kept; 0 suppressed by 2 (IoU 1)
    assert_eq!(nms(&boxes, &scores, 0.7).unwrap(), vec![1, 2, 3]);
    // IoU exactly at the threshold is not suppressed (strict >): 2 and 0 have IoU 1
    assert_eq!(nms(&boxes, &scores, 1.0).unwrap(), vec![1, 2, 3, 0]);
    // categories: {1, 3} and {2, 0} never meet; in {2, 0}, 0 goes
    let kept = batched_nms(&boxes, &scores, &[1, 0, 1, 0], 0.5).unwrap();
    assert_eq!(kept, vec![1, 2, 3]);
    // no boxes
    let none = nms(&Tensor::zeros(&[0, 4]), &Tensor::zeros(&[0]), 0.5).unwrap();
    assert!(none.is_empty());
}

#[test]
fn nms_compares_the_f32_iou_with_an_f64_threshold() {
    // IoU 40/100 in f32 is 0.4000000059604645 > 0.4 (f64): suppressed, as torchvision;
    // against the threshold 0.4f32 (that same value) it would not be
    let boxes = t(&[0., 0., 10., 10., 0., 0., 10., 4.], &[2, 4]);
    let scores = t(&[1.0, 0.5], &[2]);
    assert_eq!(nms(&boxes, &scores, 0.4).unwrap(), vec![0]);
    assert_eq!(nms(&boxes, &scores, 0.4f32 as f64).unwrap(), vec![0, 1]);
    assert_eq!(nms(&boxes, &scores, 0.39999).unwrap(), vec![0]);
    // the extremes: nothing is suppressed above 1, everything overlapping below 0
    assert_eq!(nms(&boxes, &scores, f64::INFINITY).unwrap(), vec![0, 1]);
    assert_eq!(nms(&boxes, &scores, -1.0).unwrap(), vec![0]);
}

#[test]
fn nms_keeps_boxes_of_zero_area() {
    // a point and a zero-width line, both inside box 0, and two identical points
    let boxes = t(
        &[
            0., 0., 10., 10., 5., 5., 5., 5., 2., 1., 2., 9., 5., 5., 5., 5.,
        ],
        &[4, 4],
    );
    let scores = t(&[0.1, 0.9, 0.8, 0.7], &[4]);
    // IoU with box 0 is 0/100, point with point 0/0 = NaN: nothing is suppressed
    assert_eq!(nms(&boxes, &scores, 0.0).unwrap(), vec![1, 2, 3, 0]);
}

#[test]
fn box_coder_by_hand() {
    // proposal [0, 0, 10, 20]: w 10, h 20, cx 5, cy 10.
    // gt [2, 4, 12, 24]: w 10, h 20, cx 7, cy 14 → dx = 2/10, dy = 4/20, dw = dh = ln 1 = 0.
    // gt [0, 0, 20, 10]: w 20, h 10, cx 10, cy 5 → dx = 5/10, dy = −5/20, dw = ln 2,
    // dh = ln ½.
    let p = t(&[0., 0., 10., 20., 0., 0., 10., 20.], &[2, 4]);
    let gt = t(&[2., 4., 12., 24., 0., 0., 20., 10.], &[2, 4]);
    let l2 = 2f32.ln();
    let unit = BoxCoder::default();
    assert_eq!(unit.weights, [1.0; 4]);
    assert_eq!(unit.bbox_xform_clip, (1000f32 / 16.0).ln());
    let codes = unit.encode(&gt, &p).unwrap();
    close("codes", &codes, &[0.2, 0.2, 0., 0., 0.5, -0.25, l2, -l2]);
    let heads = BoxCoder::roi_heads();
    assert_eq!(heads.weights, [10., 10., 5., 5.]);
    let codes10 = heads.encode(&gt, &p).unwrap();
    close(
        "codes (10, 10, 5, 5)",
        &codes10,
        &[2., 2., 0., 0., 5., -2.5, 5. * l2, -5. * l2],
    );
    // decoding gives the ground truth back
    close("decoded", &unit.decode(&codes, &p).unwrap(), &gt.to_vec());
    close(
        "decoded 10",
        &heads.decode(&codes10, &p).unwrap(),
        &gt.to_vec(),
    );
    // two classes per box: [n, 8]; dw = 10 is clamped to ln(62.5): w = 62.5·10 = 625
    let two = t(
        &[
            0., 0., 10., 0., 0.2, 0.2, 0., 0., 0., 0., 0., 0., 0.5, -0.25, l2, -l2,
        ],
        &[2, 8],
    );
    let d = unit.decode(&two, &p).unwrap();
    assert_eq!(d.shape(), &[2, 8]);
    close(
        "decoded, two classes",
        &d,
        &[
            5. - 312.5,
            0.,
            5. + 312.5,
            20.,
            2.,
            4.,
            12.,
            24.,
            0.,
            0.,
            10.,
            20.,
            0.,
            0.,
            20.,
            10.,
        ],
    );
    // the clamped code gets no gradient; dx gets w/wx = 10
    let codes = two.clone().with_grad();
    let g = grad(
        &unit.decode(&codes, &p).unwrap(),
        &Tensor::ones(&[2, 8]),
        &codes,
    );
    assert_eq!(g[2], 0.0);
    assert_close("∂/∂dx", &g[0..1], &[20.], 1e-5, 0.0).unwrap();
}

// ---------------------------------------------------------------- RoI ops, by hand

/// `[1, 1, 4, 4]` with `x[r, c] = 4r + c`.
fn ramp() -> Tensor {
    t(
        &(0..16).map(|v| v as f32).collect::<Vec<_>>(),
        &[1, 1, 4, 4],
    )
}

#[test]
fn roi_align_by_hand() {
    let x = ramp().with_grad();
    let cfg = RoiAlignConfig::new(1, 1).sampling_ratio(2);
    // box [0, 0, 2, 2], one bin, samples at 0.5 and 1.5 on each axis:
    // mean of 4y + x = 4·1 + 1 = 5
    let rois = t(&[0., 0., 0., 2., 2.], &[1, 5]);
    close("inside", &x.roi_align(&rois, &cfg).unwrap(), &[5.]);
    // aligned: shifted by −½, samples at 0 and 1: 4·0.5 + 0.5 = 2.5
    let aligned = cfg.aligned(true);
    close("aligned", &x.roi_align(&rois, &aligned).unwrap(), &[2.5]);
    // box [3, 3, 5, 5] at the corner: samples at 3.5 (clamped to the last pixel, 3) and
    // 4.5 (> h = 4: reads 0); only (3.5, 3.5) reads x[3, 3] = 15: 15/4
    let corner = t(&[0., 3., 3., 5., 5.], &[1, 5]);
    let y = x.roi_align(&corner, &cfg).unwrap();
    close("corner", &y, &[3.75]);
    let g = grad(&y, &t(&[1.], &[1, 1, 1, 1]), &x);
    let mut expected = vec![0.; 16];
    expected[15] = 0.25;
    assert_eq!(g, expected);
    // spatial scale ½ on a box of [0, 0, 4, 4] is [0, 0, 2, 2] on the map
    let half = t(&[0., 0., 0., 4., 4.], &[1, 5]);
    close(
        "scale",
        &x.roi_align(&half, &cfg.spatial_scale(0.5)).unwrap(),
        &[5.],
    );
    // adaptive sampling: ⌈2/1⌉ = 2 samples per axis, the same as ratio 2
    let adaptive = RoiAlignConfig::new(1, 1);
    close("adaptive", &x.roi_align(&rois, &adaptive).unwrap(), &[5.]);
    // the per-image form gives the same as the indexed one
    let per_image = vec![t(&[0., 0., 2., 2., 3., 3., 5., 5.], &[2, 4])];
    let y = x.roi_align(&per_image, &cfg).unwrap();
    assert_eq!(y.shape(), &[2, 1, 1, 1]);
    close("per image", &y, &[5., 3.75]);
    assert_eq!(
        boxes_to_rois(&per_image).unwrap().to_vec(),
        vec![0., 0., 0., 2., 2., 0., 3., 3., 5., 5.]
    );
}

#[test]
fn roi_pool_by_hand() {
    let x = ramp().with_grad();
    // box [0, 0, 3, 3]: 4 × 4 pixels (corners included), 2 × 2 bins of 2 × 2 pixels:
    // maxima x[1, 1] = 5, x[1, 3] = 7, x[3, 1] = 13, x[3, 3] = 15
    let rois = t(&[0., 0., 0., 3., 3.], &[1, 5]);
    let y = x.roi_pool(&rois, [2, 2], 1.0).unwrap();
    close("max", &y, &[5., 7., 13., 15.]);
    let g = grad(&y, &t(&[1., 2., 3., 4.], &[1, 1, 2, 2]), &x);
    let mut expected = vec![0.; 16];
    (expected[5], expected[7], expected[13], expected[15]) = (1., 2., 3., 4.);
    assert_eq!(g, expected);
    // a box wholly outside: every bin empty, 0, no gradient
    let out = t(&[0., 10., 10., 12., 12.], &[1, 5]);
    let y = x.roi_pool(&out, [2, 2], 1.0).unwrap();
    close("outside", &y, &[0.; 4]);
    assert_eq!(grad(&y, &Tensor::ones(&[1, 1, 2, 2]), &x), vec![0.; 16]);
    // ties: the first maximum in row-major order takes the gradient
    let flat = Tensor::ones(&[1, 1, 4, 4]).with_grad();
    let y = flat.roi_pool(&rois, [1, 1], 1.0).unwrap();
    let g = grad(&y, &t(&[1.], &[1, 1, 1, 1]), &flat);
    let mut first = vec![0.; 16];
    first[0] = 1.;
    assert_eq!(g, first);
}

// ---------------------------------------------------------------- fast kernels vs references

/// torchvision's CPU NMS as written: stable descending sort, skip suppressed boxes, the
/// f32 IoU compared with the f64 threshold.
fn nms_reference(boxes: &[f32], scores: &[f32], thr: f64) -> Vec<usize> {
    let n = scores.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| scores[j].partial_cmp(&scores[i]).unwrap());
    let b = |i: usize, c: usize| boxes[4 * i + c];
    let area = |i: usize| (b(i, 2) - b(i, 0)) * (b(i, 3) - b(i, 1));
    let mut suppressed = vec![false; n];
    let mut keep = Vec::new();
    for a in 0..n {
        let i = order[a];
        if suppressed[i] {
            continue;
        }
        keep.push(i);
        for &j in &order[a + 1..] {
            if suppressed[j] {
                continue;
            }
            let w = (b(i, 2).min(b(j, 2)) - b(i, 0).max(b(j, 0))).max(0.0);
            let h = (b(i, 3).min(b(j, 3)) - b(i, 1).max(b(j, 1))).max(0.0);
            let inter = w * h;
            let iou = inter / (area(i) + area(j) - inter);
            if iou as f64 > thr {
                suppressed[j] = true;
            }
        }
    }
    keep
}

/// `n` boxes with centres uniform in `[0, extent)²`, sides in `[0, 0.3·extent)` (a few of
/// zero size), scores from `levels` values (ties) or uniform when `levels = 0`.
fn random_nms_problem(rng: &mut Rng, n: usize, extent: f32, levels: usize) -> (Tensor, Tensor) {
    let mut b = Vec::with_capacity(4 * n);
    for i in 0..n {
        let (cx, cy) = (rng.uniform(0.0, extent), rng.uniform(0.0, extent));
        let (mut w, mut h) = (
            rng.uniform(0.0, 0.3 * extent),
            rng.uniform(0.0, 0.3 * extent),
        );
        if i % 17 == 0 {
            w = 0.0;
        }
        if i % 23 == 0 {
            h = 0.0;
        }
        b.extend_from_slice(&[cx - w / 2., cy - h / 2., cx + w / 2., cy + h / 2.]);
    }
    let s: Vec<f32> = (0..n)
        .map(|_| {
            if levels == 0 {
                rng.uniform(0.0, 1.0)
            } else {
                rng.below(levels) as f32 / levels as f32
            }
        })
        .collect();
    (t(&b, &[n, 4]), t(&s, &[n]))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn nms_equals_the_reference(
        n in 0..300usize,
        levels in 0..6usize,
        thr in prop::sample::select(vec![0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0]),
        seed in any::<u64>(),
    ) {
        let mut rng = Rng::seed(seed);
        let (boxes, scores) = random_nms_problem(&mut rng, n, 50.0, levels);
        let expected = nms_reference(&boxes.to_vec(), &scores.to_vec(), thr);
        prop_assert_eq!(nms(&boxes, &scores, thr).unwrap(), expected);
        // per category: the reference on each category, merged by score then index
        let idxs: Vec<usize> = (0..n).map(|_| rng.below(3) * 7).collect();
        let (b, s) = (boxes.to_vec(), scores.to_vec());
        let mut merged = Vec::new();
        for class in [0, 7, 14] {
            let members: Vec<usize> = (0..n).filter(|&i| idxs[i] == class).collect();
            let mb: Vec<f32> = members.iter().flat_map(|&i| b[4 * i..4 * i + 4].to_vec()).collect();
            let ms: Vec<f32> = members.iter().map(|&i| s[i]).collect();
            merged.extend(nms_reference(&mb, &ms, thr).into_iter().map(|k| members[k]));
        }
        merged.sort_by(|&i, &j| s[j].partial_cmp(&s[i]).unwrap().then(i.cmp(&j)));
        prop_assert_eq!(batched_nms(&boxes, &scores, &idxs, thr).unwrap(), merged);
    }
}

/// torchvision's `bilinear_interpolate`, written out: `None` outside `[−1, h] × [−1, w]`.
fn bilinear_reference(h: usize, w: usize, y: f32, x: f32) -> Option<[(usize, f32); 4]> {
    if y < -1.0 || y > h as f32 || x < -1.0 || x > w as f32 {
        return None;
    }
    let (y, x) = (y.max(0.0), x.max(0.0));
    let (yl, xl) = ((y as usize).min(h - 1), (x as usize).min(w - 1));
    let (yh, xh) = ((yl + 1).min(h - 1), (xl + 1).min(w - 1));
    let (y, x) = (
        if yl == h - 1 { yl as f32 } else { y },
        if xl == w - 1 { xl as f32 } else { x },
    );
    let (ly, lx) = (y - yl as f32, x - xl as f32);
    let (hy, hx) = (1.0 - ly, 1.0 - lx);
    Some([
        (yl * w + xl, hy * hx),
        (yl * w + xh, hy * lx),
        (yh * w + xl, ly * hx),
        (yh * w + xh, ly * lx),
    ])
}

/// RoIAlign by its definition, one output at a time: forward values and, for upstream
/// `g`, the input gradient (scattered in torchvision's order).
fn roi_align_reference(
    x: &[f32],
    shape: [usize; 4],
    rois: &[f32],
    cfg: &RoiAlignConfig,
    g: &[f32],
) -> (Vec<f32>, Vec<f32>) {
    let [_, c, h, w] = shape;
    let [oh, ow] = cfg.output_size;
    let k = rois.len() / 5;
    let mut y = vec![0.0f32; k * c * oh * ow];
    let mut gx = vec![0.0f32; x.len()];
    for r in 0..k {
        let roi = &rois[5 * r..5 * r + 5];
        let b = roi[0] as usize;
        let off = if cfg.aligned { 0.5 } else { 0.0 };
        let s = cfg.spatial_scale;
        let (sw, sh) = (roi[1] * s - off, roi[2] * s - off);
        let (mut rw, mut rh) = (roi[3] * s - off - sw, roi[4] * s - off - sh);
        if !cfg.aligned {
            (rw, rh) = (rw.max(1.0), rh.max(1.0));
        }
        let (bh, bw) = (rh / oh as f32, rw / ow as f32);
        let grid = |size: f32, o: usize| {
            if cfg.sampling_ratio > 0 {
                cfg.sampling_ratio as usize
            } else {
                (size / o as f32).ceil() as usize
            }
        };
        let (gh, gw) = (grid(rh, oh), grid(rw, ow));
        let count = (gh * gw).max(1) as f32;
        for ch in 0..c {
            let plane = (b * c + ch) * h * w;
            for i in 0..oh {
                for j in 0..ow {
                    let o = ((r * c + ch) * oh + i) * ow + j;
                    let mut v = 0.0f32;
                    for iy in 0..gh {
                        let yy = sh + i as f32 * bh + (iy as f32 + 0.5) * bh / gh as f32;
                        for ix in 0..gw {
                            let xx = sw + j as f32 * bw + (ix as f32 + 0.5) * bw / gw as f32;
                            if let Some(taps) = bilinear_reference(h, w, yy, xx) {
                                let mut s = 0.0f32;
                                for (p, wt) in taps {
                                    s += wt * x[plane + p];
                                    gx[plane + p] += g[o] * wt / count;
                                }
                                v += s;
                            }
                        }
                    }
                    y[o] = v / count;
                }
            }
        }
    }
    (y, gx)
}

/// A RoI problem: input shape, RoIs (some over the border, some degenerate), settings.
#[derive(Clone, Debug)]
struct RoiCase {
    shape: [usize; 4],
    rois: Vec<f32>,
    cfg: RoiAlignConfig,
}

fn roi_case() -> impl Strategy<Value = RoiCase> {
    (
        (1..=2usize, 1..=3usize, 1..=7usize, 1..=7usize),
        (1..=4usize, 1..=4usize, -1..=3i64, any::<bool>()),
        prop::sample::select(vec![1.0f32, 0.5, 2.0, 0.25]),
        proptest::collection::vec(
            (
                0..2usize,
                -3.0f32..10.0,
                -3.0f32..10.0,
                0.0f32..8.0,
                0.0f32..8.0,
            ),
            1..5,
        ),
    )
        .prop_map(|((n, c, h, w), (oh, ow, sr, aligned), scale, boxes)| {
            let mut rois = Vec::new();
            for (b, x1, y1, bw, bh) in boxes {
                // feature-map units → image units
                let (x1, y1) = (x1 / scale, y1 / scale);
                let (x2, y2) = (x1 + bw / scale, y1 + bh / scale);
                rois.extend_from_slice(&[(b % n) as f32, x1, y1, x2, y2]);
            }
            let cfg = RoiAlignConfig::new(oh, ow)
                .spatial_scale(scale)
                .sampling_ratio(sr)
                .aligned(aligned);
            RoiCase {
                shape: [n, c, h, w],
                rois,
                cfg,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn roi_align_equals_the_reference_and_finite_differences(case in roi_case(), seed in any::<u64>()) {
        let mut rng = Rng::seed(seed);
        let x = Tensor::randn(&case.shape, 0.0, 1.0, &mut rng).with_grad();
        let rois = t(&case.rois, &[case.rois.len() / 5, 5]);
        let y = x.roi_align(&rois, &case.cfg).unwrap();
        let up = Tensor::randn(y.shape(), 0.0, 1.0, &mut rng);
        let (ey, egx) = roi_align_reference(&x.to_vec(), case.shape, &case.rois, &case.cfg, &up.to_vec());
        assert_close("forward", &y.to_vec(), &ey, 1e-5, 1e-5).map_err(TestCaseError::fail)?;
        assert_close("backward", &grad(&y, &up, &x), &egx, 1e-5, 1e-5).map_err(TestCaseError::fail)?;
        // linear in x: finite differences are exact up to rounding
        let f = |v: &[Tensor]| v[0].roi_align(&rois, &case.cfg);
        gradcheck(&format!("roi_align {case:?}"), &[x], f, 1e-2, 2e-3, 2e-3, seed ^ 1)
            .map_err(TestCaseError::fail)?;
    }

    #[test]
    fn roi_pool_finite_differences_away_from_ties(case in roi_case(), seed in any::<u64>()) {
        // distinct values 0.1 apart in random order: a step of 1e-2 never changes a maximum
        let mut rng = Rng::seed(seed);
        let numel: usize = case.shape.iter().product();
        let mut values: Vec<f32> = (0..numel).map(|i| i as f32 * 0.1).collect();
        for i in (1..numel).rev() {
            values.swap(i, rng.below(i + 1));
        }
        let x = t(&values, &case.shape).with_grad();
        let rois = t(&case.rois, &[case.rois.len() / 5, 5]);
        let (out, scale) = (case.cfg.output_size, case.cfg.spatial_scale);
        let f = |v: &[Tensor]| v[0].roi_pool(&rois, out, scale);
        gradcheck(&format!("roi_pool {case:?}"), &[x], f, 1e-2, 2e-3, 2e-3, seed ^ 2)
            .map_err(TestCaseError::fail)?;
    }

    #[test]
    fn box_coder_finite_differences(
        n in 1..5usize,
        classes in 1..3usize,
        heads in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let mut rng = Rng::seed(seed);
        let coder = if heads { BoxCoder::roi_heads() } else { BoxCoder::default() };
        let boxes = |rng: &mut Rng| {
            let mut v = Vec::new();
            for _ in 0..n {
                let (x1, y1) = (rng.uniform(0.0, 10.0), rng.uniform(0.0, 10.0));
                v.extend_from_slice(&[x1, y1, x1 + rng.uniform(2.0, 8.0), y1 + rng.uniform(2.0, 8.0)]);
            }
            t(&v, &[n, 4]).with_grad()
        };
        let (gt, p) = (boxes(&mut rng), boxes(&mut rng));
        let f = |v: &[Tensor]| coder.encode(&v[0], &v[1]);
        gradcheck("encode", &[gt, p.clone()], f, 1e-2, 5e-3, 5e-3, seed ^ 3).map_err(TestCaseError::fail)?;
        // codes of a size that stays below the clip
        let scale = coder.weights.map(|w| w * 0.4);
        let codes: Vec<f32> = (0..n * 4 * classes).map(|i| rng.normal(0.0, 1.0) * scale[i % 4]).collect();
        let codes = t(&codes, &[n, 4 * classes]).with_grad();
        let f = |v: &[Tensor]| coder.decode(&v[0], &v[1]);
        gradcheck("decode", &[codes, p], f, 1e-2, 5e-3, 5e-3, seed ^ 4).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn box_area_and_clip_finite_differences(n in 1..6usize, seed in any::<u64>()) {
        let mut rng = Rng::seed(seed);
        let mut v = Vec::new();
        for _ in 0..n {
            let (x1, y1) = (rng.uniform(-5.0, 20.0), rng.uniform(-5.0, 20.0));
            v.extend_from_slice(&[x1, y1, x1 + rng.uniform(0.5, 10.0), y1 + rng.uniform(0.5, 10.0)]);
        }
        // keep coordinates a step away from the clip bounds
        for c in v.iter_mut() {
            for bound in [0.0f32, 12.0, 16.0] {
                if (*c - bound).abs() < 0.05 {
                    *c += 0.1;
                }
            }
        }
        let b = t(&v, &[n, 4]).with_grad();
        gradcheck("box_area", std::slice::from_ref(&b), |v| v[0].box_area(), 1e-2, 5e-3, 5e-3, seed)
            .map_err(TestCaseError::fail)?;
        gradcheck("clip", &[b], |v| v[0].clip_boxes_to_image((12, 16)), 1e-2, 5e-3, 5e-3, seed)
            .map_err(TestCaseError::fail)?;
    }
}

#[test]
fn roi_results_do_not_depend_on_the_thread_count() {
    let mut rng = Rng::seed(5);
    let x = Tensor::randn(&[2, 5, 12, 13], 0.0, 1.0, &mut rng).with_grad();
    let mut rois = Vec::new();
    for k in 0..40 {
        let (x1, y1) = (rng.uniform(-2.0, 12.0), rng.uniform(-2.0, 11.0));
        let (w, h) = (rng.uniform(0.0, 6.0), rng.uniform(0.0, 6.0));
        rois.extend_from_slice(&[(k % 2) as f32, x1, y1, x1 + w, y1 + h]);
    }
    let rois = t(&rois, &[40, 5]);
    let cfg = RoiAlignConfig::new(3, 4).sampling_ratio(2);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let bits = |v: Vec<f32>| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            let y = x.roi_align(&rois, &cfg).unwrap();
            let up = Tensor::ones(y.shape());
            let p = x.roi_pool(&rois, [2, 3], 1.0).unwrap();
            let pu = Tensor::ones(p.shape());
            (
                bits(y.to_vec()),
                bits(grad(&y, &up, &x)),
                bits(p.to_vec()),
                bits(grad(&p, &pu, &x)),
            )
        })
    };
    assert_eq!(run(1), run(3));
}

#[test]
fn roi_pool_without_gradients_gives_the_same_values() {
    let mut rng = Rng::seed(6);
    let x = Tensor::randn(&[1, 3, 8, 8], 0.0, 1.0, &mut rng);
    let rois = t(&[0., 1., 1., 6., 5., 0., 0., 0., 7., 7.], &[2, 5]);
    let tracked = x.clone().with_grad().roi_pool(&rois, [3, 3], 1.0).unwrap();
    let plain = no_grad(|| x.roi_pool(&rois, [3, 3], 1.0)).unwrap();
    assert_eq!(tracked.to_vec(), plain.to_vec());
}

// ---------------------------------------------------------------- torchvision fixtures

type Fixture = (HashMap<String, Tensor>, HashMap<String, String>);

fn fixture(name: &str) -> Fixture {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/boxes")
        .join(format!("{name}.safetensors"));
    let (tensors, meta) = load(&path).unwrap();
    (tensors.into_iter().collect(), meta.into_iter().collect())
}

fn get<'a>(f: &'a Fixture, key: &str) -> &'a Tensor {
    f.0.get(key)
        .unwrap_or_else(|| panic!("fixture has no {key}"))
}

fn indices(t: &Tensor) -> Vec<usize> {
    t.to_vec().iter().map(|&v| v as usize).collect()
}

/// Compares allowing NaN where torchvision has NaN (`assert_close` treats NaN = NaN).
fn same(what: &str, actual: &Tensor, expected: &Tensor, tol: f32) {
    assert_eq!(actual.shape(), expected.shape(), "{what}: shape");
    assert_close(what, &actual.to_vec(), &expected.to_vec(), tol, tol).unwrap();
}

#[test]
fn box_ops_equal_torchvision() {
    let f = fixture("box_ops");
    let (a, b) = (get(&f, "a"), get(&f, "b"));
    same("box_iou", &a.box_iou(b).unwrap(), get(&f, "iou"), 1e-6);
    let a = a.clone().with_grad();
    let area = a.box_area().unwrap();
    same("box_area", &area, get(&f, "area"), 1e-6);
    let g = grad(&area, get(&f, "up_area"), &a);
    assert_close(
        "box_area grad",
        &g,
        &get(&f, "area_grad").to_vec(),
        1e-6,
        1e-6,
    )
    .unwrap();
    let size: Vec<usize> = f.1["clip_size"]
        .split(' ')
        .map(|v| v.parse().unwrap())
        .collect();
    let c = get(&f, "clip_in").clone().with_grad();
    let clipped = c.clip_boxes_to_image((size[0], size[1])).unwrap();
    same("clip", &clipped, get(&f, "clipped"), 0.0);
    let g = grad(&clipped, get(&f, "up_clip"), &c);
    assert_close("clip grad", &g, &get(&f, "clip_grad").to_vec(), 0.0, 0.0).unwrap();
    let small = get(&f, "small_in");
    assert_eq!(
        remove_small_boxes(small, 3.0).unwrap(),
        indices(get(&f, "small_keep_3"))
    );
    assert_eq!(
        remove_small_boxes(small, 7.5).unwrap(),
        indices(get(&f, "small_keep_7_5"))
    );
}

#[test]
fn nms_equals_torchvision_with_ties_and_zero_areas() {
    let f = fixture("nms");
    let mut cases: Vec<_> = f.1.iter().collect();
    cases.sort();
    assert_eq!(cases.len(), 6);
    for (name, spec) in cases {
        let (thr, inputs) = spec.split_once(' ').unwrap();
        let thr: f64 = thr.parse().unwrap();
        let boxes = get(&f, &format!("{inputs}.boxes"));
        let scores = get(&f, &format!("{inputs}.scores"));
        let expected = indices(get(&f, &format!("{name}.keep")));
        let kept = if name.starts_with("batched") {
            let idxs = indices(get(&f, &format!("{inputs}.idxs")));
            batched_nms(boxes, scores, &idxs, thr).unwrap()
        } else {
            nms(boxes, scores, thr).unwrap()
        };
        if name == "batched_large" {
            // Above 4000 values torchvision runs NMS per class, then orders the kept boxes
            // with torch.sort, which is not stable: equal scores come in an arbitrary
            // order. The same boxes, the same scores in the same order; ours keeps equal
            // scores in index order (as torchvision's nms and its smaller-input path).
            let s = scores.to_vec();
            let score_seq = |k: &[usize]| k.iter().map(|&i| s[i]).collect::<Vec<_>>();
            assert_eq!(score_seq(&kept), score_seq(&expected), "{name}: scores");
            let (mut a, mut b) = (kept.clone(), expected.clone());
            a.sort_unstable();
            b.sort_unstable();
            assert_eq!(a, b, "{name}: kept boxes");
            assert!(kept.windows(2).all(|w| s[w[0]] > s[w[1]] || w[0] < w[1]));
        } else {
            assert_eq!(kept, expected, "{name}");
        }
    }
}

#[test]
fn box_coder_equals_torchvision() {
    let f = fixture("coder");
    for (name, coder) in [("w1", BoxCoder::default()), ("w10", BoxCoder::roi_heads())] {
        let gt = get(&f, "gt").clone().with_grad();
        let p = get(&f, "proposals").clone().with_grad();
        let enc = coder.encode(&gt, &p).unwrap();
        same(
            &format!("{name} encode"),
            &enc,
            get(&f, &format!("{name}.encoded")),
            1e-5,
        );
        let grads = enc.backward_with(get(&f, "up")).unwrap();
        for (what, x) in [("gt", &gt), ("proposals", &p)] {
            let key = format!("{name}.encode_grad_{what}");
            same(&key, grads.get(x).unwrap(), get(&f, &key), 1e-5);
        }
        let codes = get(&f, "codes").clone().with_grad();
        let dec = coder.decode(&codes, &p).unwrap();
        same(
            &format!("{name} decode"),
            &dec,
            get(&f, &format!("{name}.decoded")),
            1e-5,
        );
        let grads = dec.backward_with(get(&f, "up_decode")).unwrap();
        for (what, x) in [("codes", &codes), ("boxes", &p)] {
            let key = format!("{name}.decode_grad_{what}");
            same(&key, grads.get(x).unwrap(), get(&f, &key), 1e-5);
        }
    }
}

#[test]
fn roi_align_equals_torchvision_at_borders_aligned_and_sampling_ratios() {
    let f = fixture("roi_align");
    let x = get(&f, "x").clone().with_grad();
    let rois = get(&f, "rois");
    assert_eq!(f.1.len(), 8);
    for (name, spec) in &f.1 {
        let v: Vec<&str> = spec.split(' ').collect();
        let cfg = RoiAlignConfig::new(v[3].parse().unwrap(), v[4].parse().unwrap())
            .aligned(v[0] == "1")
            .sampling_ratio(v[1].parse().unwrap())
            .spatial_scale(v[2].parse().unwrap());
        let y = x.roi_align(rois, &cfg).unwrap();
        same(
            &format!("{name} {cfg:?}"),
            &y,
            get(&f, &format!("{name}.out")),
            1e-6,
        );
        let g = grad(&y, get(&f, &format!("{name}.up")), &x);
        assert_close(
            &format!("{name} grad"),
            &g,
            &get(&f, &format!("{name}.grad")).to_vec(),
            1e-6,
            1e-6,
        )
        .unwrap();
    }
}

#[test]
fn roi_pool_equals_torchvision() {
    let f = fixture("roi_pool");
    let x = get(&f, "x").clone().with_grad();
    let rois = get(&f, "rois");
    assert_eq!(f.1.len(), 4);
    for (name, spec) in &f.1 {
        let v: Vec<&str> = spec.split(' ').collect();
        let scale: f32 = v[0].parse().unwrap();
        let out = [v[1].parse().unwrap(), v[2].parse().unwrap()];
        let y = x.roi_pool(rois, out, scale).unwrap();
        same(
            &format!("{name} roi_pool"),
            &y,
            get(&f, &format!("{name}.out")),
            0.0,
        );
        let g = grad(&y, get(&f, &format!("{name}.up")), &x);
        assert_close(
            &format!("{name} grad"),
            &g,
            &get(&f, &format!("{name}.grad")).to_vec(),
            1e-6,
            1e-6,
        )
        .unwrap();
    }
}

// ---------------------------------------------------------------- errors

fn err<T: std::fmt::Debug>(r: splot::Result<T>) -> String {
    r.expect_err("must be an error").to_string()
}

fn has(e: &str, parts: &[&str]) {
    for p in parts {
        assert!(e.contains(p), "{e:?} lacks {p:?}");
    }
}

#[test]
fn box_op_errors_name_the_op_and_shapes() {
    let good = t(&[0., 0., 1., 1.], &[1, 4]);
    let three = Tensor::zeros(&[2, 3]);
    has(&err(three.box_area()), &["box_area", "[n, 4]", "[2, 3]"]);
    has(&err(good.box_iou(&three)), &["box_iou", "[2, 3]"]);
    has(
        &err(three.clip_boxes_to_image((2, 2))),
        &["clip_boxes_to_image", "[2, 3]"],
    );
    has(
        &err(remove_small_boxes(&Tensor::zeros(&[4]), 1.0)),
        &["remove_small_boxes", "[4]"],
    );
    has(
        &err(remove_small_boxes(&good, f32::NAN)),
        &["remove_small_boxes", "NaN"],
    );
    // x2 < x1 where it matters
    let flipped = t(&[0., 0., 1., 1., 5., 0., 4., 1.], &[2, 4]);
    has(
        &err(flipped.box_iou(&good)),
        &["box_iou", "box 1", "x2 < x1"],
    );
    has(
        &err(good.box_iou(&flipped)),
        &["box_iou", "second boxes", "box 1"],
    );
    let s2 = t(&[0.5, 0.4], &[2]);
    has(&err(nms(&flipped, &s2, 0.5)), &["nms", "box 1", "x2 < x1"]);
    has(
        &err(batched_nms(&flipped, &s2, &[0, 0], 0.5)),
        &["batched_nms", "x2 < x1"],
    );
    // scores and categories
    has(
        &err(nms(&good, &s2, 0.5)),
        &["nms", "scores must be [1]", "[2]"],
    );
    has(&err(nms(&three, &s2, 0.5)), &["nms", "[2, 3]"]);
    has(&err(nms(&good, &t(&[1.], &[1]), f64::NAN)), &["nms", "NaN"]);
    has(
        &err(batched_nms(&good, &t(&[1.], &[1]), &[0, 1], 0.5)),
        &["batched_nms", "2 category indices for 1 boxes"],
    );
}

#[test]
fn box_coder_errors_name_the_op_and_shapes() {
    let coder = BoxCoder::default();
    let two = t(&[0., 0., 1., 1., 0., 0., 2., 2.], &[2, 4]);
    let one = t(&[0., 0., 1., 1.], &[1, 4]);
    has(
        &err(coder.encode(&two, &one)),
        &["BoxCoder::encode", "[2, 4]", "[1, 4]"],
    );
    has(
        &err(coder.encode(&Tensor::zeros(&[2, 5]), &two)),
        &["encode", "[2, 5]"],
    );
    let flipped = t(&[0., 0., 1., 1., 3., 0., 2., 2.], &[2, 4]);
    has(
        &err(coder.encode(&two, &flipped)),
        &["encode", "proposals", "box 1"],
    );
    has(
        &err(coder.decode(&Tensor::zeros(&[2, 5]), &two)),
        &["BoxCoder::decode", "[2, 5]"],
    );
    has(
        &err(coder.decode(&Tensor::zeros(&[1, 4]), &two)),
        &["decode", "[1, 4]"],
    );
    has(
        &err(coder.decode(&Tensor::zeros(&[2, 0]), &two)),
        &["decode", "[2, 0]"],
    );
    let zero = BoxCoder::new([1., 0., 1., 1.]);
    has(
        &err(zero.decode(&Tensor::zeros(&[2, 4]), &two)),
        &["decode", "weights"],
    );
    has(&err(zero.encode(&two, &two)), &["encode", "weights"]);
}

#[test]
fn roi_errors_name_the_op_and_shapes() {
    let x = Tensor::zeros(&[2, 3, 5, 5]);
    let cfg = RoiAlignConfig::new(2, 2);
    let roi = |v: &[f32]| t(v, &[1, 5]);
    let ok = roi(&[1., 0., 0., 2., 2.]);
    assert!(x.roi_align(&ok, &cfg).is_ok() && x.roi_pool(&ok, [2, 2], 1.0).is_ok());
    // sample grids too large to allocate: a huge sampling ratio, or a huge box with the
    // adaptive grid
    let huge = RoiAlignConfig::new(2, 2).sampling_ratio(1 << 30);
    has(
        &err(x.roi_align(&ok, &huge)),
        &["roi_align", "RoI 0", "samples per bin"],
    );
    let far = roi(&[0., 0., 0., 1e12, 1e12]);
    has(
        &err(x.roi_align(&far, &cfg)),
        &["roi_align", "RoI 0", "samples per bin"],
    );
    for op in ["roi_align", "roi_pool"] {
        let run = |x: &Tensor, rois: &Tensor, out: [usize; 2], scale: f32| -> String {
            if op == "roi_align" {
                let cfg = RoiAlignConfig::new(out[0], out[1]).spatial_scale(scale);
                err(x.roi_align(rois, &cfg))
            } else {
                err(x.roi_pool(rois, out, scale))
            }
        };
        // boxes not [k, 5]
        let e = run(&x, &Tensor::zeros(&[3, 4]), [2, 2], 1.0);
        has(&e, &[op, "[k, 5]", "[3, 4]"]);
        // batch index out of range, negative, fractional
        for b in [2.0, -1.0, 0.5] {
            let e = run(&x, &roi(&[b, 0., 0., 2., 2.]), [2, 2], 1.0);
            has(&e, &[op, "roi 0", "batch index", "[2, 3, 5, 5]"]);
        }
        // x2 < x1, y2 < y1, not finite
        has(
            &run(&x, &roi(&[0., 3., 0., 2., 2.]), [2, 2], 1.0),
            &[op, "x2 < x1"],
        );
        has(
            &run(&x, &roi(&[0., 0., 3., 2., 2.]), [2, 2], 1.0),
            &[op, "y2 < y1"],
        );
        has(
            &run(&x, &roi(&[0., 0., 0., f32::INFINITY, 2.]), [2, 2], 1.0),
            &[op, "not finite"],
        );
        // zero output size, non-positive or non-finite scale
        has(&run(&x, &ok, [0, 2], 1.0), &[op, "output size [0, 2]"]);
        for s in [0.0, -0.5, f32::NAN, f32::INFINITY] {
            has(&run(&x, &ok, [2, 2], s), &[op, "spatial scale"]);
        }
        // input not [n, c, h, w], or empty
        has(
            &run(&Tensor::zeros(&[3, 5, 5]), &ok, [2, 2], 1.0),
            &[op, "[n, c, h, w]", "[3, 5, 5]"],
        );
        has(
            &run(&Tensor::zeros(&[2, 3, 0, 5]), &ok, [2, 2], 1.0),
            &[op, "empty"],
        );
    }
    // per-image boxes: more lists than images, boxes not [k, 4]
    let lists = vec![Tensor::zeros(&[1, 4]); 3];
    has(
        &err(x.roi_align(&lists, &cfg)),
        &["roi_align", "3 box lists", "2 images"],
    );
    let bad = vec![Tensor::zeros(&[1, 5])];
    has(
        &err(x.roi_align(&bad, &cfg)),
        &["roi_align", "image 0", "[k, 4]", "[1, 5]"],
    );
    has(&err(boxes_to_rois(&bad)), &["boxes_to_rois", "[1, 5]"]);
}
