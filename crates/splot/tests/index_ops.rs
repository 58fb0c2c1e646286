//! Shape and index ops (narrow, slice, permute, transpose, expand, stack, where_,
//! masked_fill, clamp, gather, scatter_add, index_add, embedding, bmm, logsumexp) and the
//! `Embedding` layer: hand-computed values, PyTorch fixtures (forward and input gradients,
//! made by `scripts/fixtures_shape.py`), finite-difference gradient checks and plain
//! reference loops over random shapes and options, and errors for impossible
//! configurations.

use proptest::prelude::*;
use splot::io::safetensors::load;
use splot::nn::{self, Embedding, Module};
use splot::testing::{assert_close, gradcheck};
use splot::{Indices, Mask, Mode, Rng, Tensor};
use std::collections::BTreeMap;
use std::path::Path;

fn t(v: &[f32], shape: &[usize]) -> Tensor {
    Tensor::from_vec(v.to_vec(), shape).unwrap()
}

fn ar(shape: &[usize]) -> Tensor {
    let n: usize = shape.iter().product();
    t(&(0..n).map(|i| i as f32).collect::<Vec<_>>(), shape)
}

fn close(what: &str, a: &Tensor, b: &[f32]) {
    assert_close(what, &a.to_vec(), b, 1e-5, 1e-5).unwrap();
}

fn grad_of(out: &Tensor, upstream: &[f32], x: &Tensor) -> Vec<f32> {
    let r = t(upstream, out.shape());
    out.backward_with(&r).unwrap().get(x).unwrap().to_vec()
}

fn idx(v: &[usize], shape: &[usize]) -> Indices {
    Indices::new(v.to_vec(), shape).unwrap()
}

// ---------------------------------------------------------------- by hand

#[test]
fn narrow_and_slice_by_hand() {
    // x = [[0 1 2 3 4 5 6 7 8], [9 … 17]]
    let x = ar(&[2, 9]).with_grad();
    let n = x.narrow(1, 2, 3).unwrap();
    assert_eq!(n.shape(), &[2, 3]);
    close("narrow", &n, &[2., 3., 4., 11., 12., 13.]);
    // x[:, 1:7:2] = columns 1, 3, 5
    let s = x.slice(1, 1, 7, 2).unwrap();
    close("slice", &s, &[1., 3., 5., 10., 12., 14.]);
    // backward: g lands on the picked columns, zero elsewhere
    let g = grad_of(&s, &[1., 2., 3., 4., 5., 6.], &x);
    #[rustfmt::skip]
    let want = [0., 1., 0., 2., 0., 3., 0., 0., 0.,
                0., 4., 0., 5., 0., 6., 0., 0., 0.];
    assert_eq!(g, want);
    // as Python: the end is clamped, the length is ⌈(9 − 2)/3⌉ = 3 (2, 5, 8)
    close(
        "clamped end",
        &x.slice(1, 2, 100, 3).unwrap(),
        &[2., 5., 8., 11., 14., 17.],
    );
    // start ≥ end: an empty axis
    assert_eq!(x.slice(1, 5, 3, 1).unwrap().shape(), &[2, 0]);
    assert_eq!(x.slice(0, 7, usize::MAX, 1).unwrap().shape(), &[0, 9]);
}

#[test]
fn permute_and_transpose_by_hand() {
    // x [2, 3]: [[0 1 2], [3 4 5]]; xᵀ = [[0 3], [1 4], [2 5]]
    let x = ar(&[2, 3]).with_grad();
    let y = x.transpose(0, 1).unwrap();
    assert_eq!(y.shape(), &[3, 2]);
    close("transpose", &y, &[0., 3., 1., 4., 2., 5.]);
    // backward transposes back: g = [[1 2], [3 4], [5 6]] → [[1 3 5], [2 4 6]]
    assert_eq!(
        grad_of(&y, &[1., 2., 3., 4., 5., 6.], &x),
        [1., 3., 5., 2., 4., 6.]
    );
    // [1, 2, 2, 2] NCHW → NHWC: out[0, h, w, c] = x[0, c, h, w] = 4c + 2h + w
    let z = ar(&[1, 2, 2, 2]).permute(&[0, 2, 3, 1]).unwrap();
    assert_eq!(z.shape(), &[1, 2, 2, 2]);
    close("nhwc", &z, &[0., 4., 1., 5., 2., 6., 3., 7.]);
    // a 3-cycle: out[k, i, j] = x[i, j, k] for x [2, 1, 3] → out [3, 2, 1]
    let c = ar(&[2, 1, 3]).permute(&[2, 0, 1]).unwrap();
    assert_eq!(c.shape(), &[3, 2, 1]);
    close("cycle", &c, &[0., 3., 1., 4., 2., 5.]);
}

#[test]
fn expand_by_hand() {
    // [3, 1] → [2, 3, 4]: each row value repeated 4 times, the whole twice
    let x = t(&[1., 2., 3.], &[3, 1]).with_grad();
    let y = x.expand(&[2, 3, 4]).unwrap();
    assert_eq!(y.shape(), &[2, 3, 4]);
    let want: Vec<f32> = (0..24).map(|i| ((i / 4) % 3 + 1) as f32).collect();
    close("expand", &y, &want);
    // backward sums over the 2·4 copies of each value: g = 1 … 24
    // x[0] collects 1..4 and 13..16: 10 + 58 = 68; x[1]: 26 + 74 = 100; x[2]: 42 + 90 = 132
    let g: Vec<f32> = (1..=24).map(|v| v as f32).collect();
    assert_eq!(grad_of(&y, &g, &x), [68., 100., 132.]);
}

#[test]
fn stack_by_hand() {
    let a = t(&[1., 2., 3., 4.], &[2, 2]).with_grad();
    let b = t(&[5., 6., 7., 8.], &[2, 2]).with_grad();
    let s0 = Tensor::stack(&[&a, &b], 0).unwrap();
    assert_eq!(s0.shape(), &[2, 2, 2]);
    close("axis 0", &s0, &[1., 2., 3., 4., 5., 6., 7., 8.]);
    let s1 = Tensor::stack(&[&a, &b], 1).unwrap();
    close("axis 1", &s1, &[1., 2., 5., 6., 3., 4., 7., 8.]);
    let s2 = Tensor::stack(&[&a, &b], 2).unwrap();
    assert_eq!(s2.shape(), &[2, 2, 2]);
    close("axis 2", &s2, &[1., 5., 2., 6., 3., 7., 4., 8.]);
    // each part gets its slice of g
    let g = s1
        .backward_with(&t(&[10., 20., 30., 40., 50., 60., 70., 80.], &[2, 2, 2]))
        .unwrap();
    assert_eq!(g.get(&a).unwrap().to_vec(), [10., 20., 50., 60.]);
    assert_eq!(g.get(&b).unwrap().to_vec(), [30., 40., 70., 80.]);
}

#[test]
fn where_and_masked_fill_by_hand() {
    // cond [2, 1] broadcast against a [2, 3] and b [3]
    let a = t(&[1., 2., 3., 4., 5., 6.], &[2, 3]).with_grad();
    let b = t(&[-1., -2., -3.], &[3]).with_grad();
    let cond = Mask::new(vec![true, false], &[2, 1]).unwrap();
    let y = Tensor::where_(&cond, &a, &b).unwrap();
    assert_eq!(y.shape(), &[2, 3]);
    close("where", &y, &[1., 2., 3., -1., -2., -3.]);
    let g = y
        .backward_with(&t(&[1., 2., 3., 4., 5., 6.], &[2, 3]))
        .unwrap();
    // a gets g in row 0; b gets row 1's g (its only broadcast copy chosen)
    assert_eq!(g.get(&a).unwrap().to_vec(), [1., 2., 3., 0., 0., 0.]);
    assert_eq!(g.get(&b).unwrap().to_vec(), [4., 5., 6.]);

    let x = t(&[1., 2., 3., 4.], &[2, 2]).with_grad();
    let m = Mask::from(vec![false, true]); // per column
    let f = x.masked_fill(&m, -9.0).unwrap();
    close("masked_fill", &f, &[1., -9., 3., -9.]);
    assert_eq!(grad_of(&f, &[1., 2., 3., 4.], &x), [1., 0., 3., 0.]);
    // masks from a tensor and from a predicate
    let z = t(&[0., 2., f32::NAN, -1.], &[2, 2]);
    assert_eq!(Mask::from_tensor(&z).values(), [false, true, true, true]);
    assert_eq!(
        Mask::from_fn(&z, |v| v > 0.0).values(),
        [false, true, false, false]
    );
}

#[test]
fn clamp_by_hand_with_pytorch_boundaries() {
    // PyTorch 2.15 (the fixtures' reference) passes the gradient strictly inside the bounds
    let x = t(&[-2., -1., 0., 1., 2., f32::NAN], &[6]).with_grad();
    let y = x.clamp(Some(-1.0), Some(1.0)).unwrap();
    let v = y.to_vec();
    assert_eq!(&v[..5], [-1., -1., 0., 1., 1.]);
    assert!(v[5].is_nan(), "NaN stays NaN");
    // gradient 1 where −1 < x < 1, 0 outside, on the bounds and at NaN
    let g = grad_of(&y, &[1.; 6], &x);
    assert_eq!(g, [0., 0., 1., 0., 0., 0.]);
    // with one bound, only that one is a condition
    let inf = t(&[f32::NEG_INFINITY, 0.5], &[2]).with_grad();
    assert_eq!(
        grad_of(&inf.clamp(None, Some(0.5)).unwrap(), &[1., 1.], &inf),
        [1., 0.]
    );
    close(
        "min only",
        &x.clamp(Some(0.5), None).unwrap().narrow(0, 0, 5).unwrap(),
        &[0.5, 0.5, 0.5, 1., 2.],
    );
    close(
        "max only",
        &x.clamp(None, Some(0.5)).unwrap().narrow(0, 0, 5).unwrap(),
        &[-2., -1., 0., 0.5, 0.5],
    );
}

#[test]
fn gather_and_scatter_add_by_hand() {
    // torch.gather(x, 1, [[0, 0], [1, 0]]) for x = [[1, 2], [3, 4]] is [[1, 1], [4, 3]]
    let x = t(&[1., 2., 3., 4.], &[2, 2]).with_grad();
    let i = idx(&[0, 0, 1, 0], &[2, 2]);
    let y = x.gather(1, &i).unwrap();
    close("gather", &y, &[1., 1., 4., 3.]);
    // backward adds: x[0, 0] is read twice: 10 + 20; x[1, 1] gets 30, x[1, 0] 40
    assert_eq!(grad_of(&y, &[10., 20., 30., 40.], &x), [30., 0., 40., 30.]);
    // an index smaller than the tensor outside the axis: out[0][j] = x[index[0][j]][j]
    let z = ar(&[3, 3]).gather(0, &idx(&[2, 0], &[1, 2])).unwrap();
    close("gather rows", &z, &[6., 1.]);

    // scatter_add: out[0][index[0][j]] += src[0][j]: [0, 0, 0] + (1 at 2, 2 at 0, 3 at 2)
    let base = Tensor::zeros(&[1, 3]).with_grad();
    let src = t(&[1., 2., 3., 9.], &[1, 4]).with_grad();
    let s = base
        .scatter_add(1, &idx(&[2, 0, 2], &[1, 3]), &src)
        .unwrap();
    close("scatter_add", &s, &[2., 0., 4.]);
    let g = s.backward_with(&t(&[5., 6., 7.], &[1, 3])).unwrap();
    assert_eq!(g.get(&base).unwrap().to_vec(), [5., 6., 7.]);
    // src[0][j] receives g at index[0][j]; src[0][3] lies beyond the index: zero
    assert_eq!(g.get(&src).unwrap().to_vec(), [7., 5., 7., 0.]);
}

#[test]
fn index_add_by_hand() {
    // x [3, 2] of zeros; rows 2, 0, 2 get src rows [1 2], [3 4], [5 6]
    let x = Tensor::zeros(&[3, 2]).with_grad();
    let src = t(&[1., 2., 3., 4., 5., 6.], &[3, 2]).with_grad();
    let y = x.index_add(0, &[2, 0, 2], &src).unwrap();
    close("index_add", &y, &[3., 4., 0., 0., 6., 8.]);
    let g = y
        .backward_with(&t(&[1., 2., 3., 4., 5., 6.], &[3, 2]))
        .unwrap();
    assert_eq!(g.get(&x).unwrap().to_vec(), [1., 2., 3., 4., 5., 6.]);
    // src row j gets g's row indices[j]: rows 2, 0, 2
    assert_eq!(g.get(&src).unwrap().to_vec(), [5., 6., 1., 2., 5., 6.]);
}

#[test]
fn embedding_by_hand() {
    // weight rows r = [10r, 10r + 1]; ids [[2, 0], [0, 1]] → [2, 2, 2]
    let w = t(&[0., 1., 10., 11., 20., 21.], &[3, 2]).with_grad();
    let ids = idx(&[2, 0, 0, 1], &[2, 2]);
    let y = Tensor::embedding(&w, &ids, None).unwrap();
    assert_eq!(y.shape(), &[2, 2, 2]);
    close("rows", &y, &[20., 21., 0., 1., 0., 1., 10., 11.]);
    let up = [1., 2., 3., 4., 5., 6., 7., 8.];
    // row 0 is looked up twice: [3 + 5, 4 + 6]
    assert_eq!(grad_of(&y, &up, &w), [8., 10., 7., 8., 1., 2.]);
    // with padding_idx = 0 the output still reads row 0, its gradient stays zero
    let p = Tensor::embedding(&w, &ids, Some(0)).unwrap();
    close("padded rows", &p, &[20., 21., 0., 1., 0., 1., 10., 11.]);
    assert_eq!(grad_of(&p, &up, &w), [0., 0., 7., 8., 1., 2.]);
}

#[test]
fn bmm_by_hand() {
    // batch 0: [[1 2]] × [[1], [1]] = [[3]]; batch 1: [[3 4]] × [[2], [−1]] = [[2]]
    let a = t(&[1., 2., 3., 4.], &[2, 1, 2]).with_grad();
    let b = t(&[1., 1., 2., -1.], &[2, 2, 1]).with_grad();
    let y = a.bmm(&b).unwrap();
    assert_eq!(y.shape(), &[2, 1, 1]);
    close("bmm", &y, &[3., 2.]);
    let g = y.backward_with(&t(&[10., 100.], &[2, 1, 1])).unwrap();
    // ∂/∂a[i] = g[i]·b[i]ᵀ, ∂/∂b[i] = a[i]ᵀ·g[i]
    assert_eq!(g.get(&a).unwrap().to_vec(), [10., 10., 200., -100.]);
    assert_eq!(g.get(&b).unwrap().to_vec(), [10., 20., 300., 400.]);
}

#[test]
fn logsumexp_by_hand_and_stable() {
    // ln(e⁰ + e⁰) = ln 2; ln(e¹ + e² + e³) = 3 + ln(1 + e⁻¹ + e⁻²)
    let x = t(&[0., 0., 0., 1., 2., 3.], &[2, 3]).with_grad();
    let y = x.logsumexp(1, false).unwrap();
    let l2 = (1f32 + (-1f32).exp() + (-2f32).exp()).ln();
    close("lse", &y, &[3f32.ln(), 3. + l2]);
    // gradient: the softmax of each row times g
    let g = grad_of(&y, &[1., 2.], &x);
    let s: Vec<f32> = [1f32, 2., 3.]
        .iter()
        .map(|v| 2.0 * (v - 3. - l2).exp())
        .collect();
    assert_close(
        "grad",
        &g,
        &[1. / 3., 1. / 3., 1. / 3., s[0], s[1], s[2]],
        1e-6,
        1e-5,
    )
    .unwrap();
    // keepdim, and values whose exponentials overflow f32
    let big = t(&[1000., 1000., -1000., f32::NEG_INFINITY], &[2, 2]);
    let k = big.logsumexp(1, true).unwrap();
    assert_eq!(k.shape(), &[2, 1]);
    close("large", &k, &[1000. + std::f32::consts::LN_2, -1000.]);
    let all_neg_inf = t(&[f32::NEG_INFINITY; 2], &[2])
        .logsumexp(0, false)
        .unwrap();
    assert_eq!(all_neg_inf.item().unwrap(), f32::NEG_INFINITY);
}

#[test]
fn indices_from_tensors() {
    let ids = Indices::from_tensor(&t(&[3., 0., 1.], &[3])).unwrap();
    assert_eq!(ids, Indices::from(vec![3, 0, 1]));
    assert_eq!(ids.len(), 3);
    for bad in [-1.0, 1.5, f32::NAN, 1e9] {
        let e = Indices::from_tensor(&t(&[0., bad], &[2]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("Indices::from_tensor") && e.contains("[2]"),
            "{e}"
        );
    }
}

// ---------------------------------------------------------------- the Embedding layer

#[test]
fn embedding_layer_init_padding_and_names() {
    let mut rng = Rng::seed(3);
    let e = Embedding::new(50, 16, Some(4), &mut rng).unwrap();
    let names: Vec<String> = nn::named_tensors(&e).into_iter().map(|t| t.name).collect();
    assert_eq!(names, ["weight"]);
    assert_eq!(nn::num_parameters(&e), 800);
    let w = e.weight.to_vec();
    assert!(
        w[4 * 16..5 * 16].iter().all(|&v| v == 0.0),
        "padding row zeroed"
    );
    // N(0, 1): the other rows' mean and variance near 0 and 1
    let rest: Vec<f32> = w
        .iter()
        .enumerate()
        .filter(|(i, _)| i / 16 != 4)
        .map(|(_, &v)| v)
        .collect();
    let mean = rest.iter().sum::<f32>() / rest.len() as f32;
    let var = rest.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / rest.len() as f32;
    assert!(
        mean.abs() < 0.1 && (var - 1.0).abs() < 0.15,
        "mean {mean}, variance {var}"
    );
    // forward through Module (ids as whole numbers) equals lookup; padding gets no gradient
    let ids = t(&[4., 7., 4., 1.], &[2, 2]);
    let y = e.forward(&ids, Mode::Train).unwrap();
    assert_eq!(y.shape(), &[2, 2, 16]);
    assert_eq!(
        y.to_vec(),
        e.lookup(&Indices::from_tensor(&ids).unwrap())
            .unwrap()
            .to_vec()
    );
    let g = y.sum_all().backward().unwrap();
    let gw = g.get(&e.weight).unwrap().to_vec();
    assert!(gw[4 * 16..5 * 16].iter().all(|&v| v == 0.0));
    assert!(gw[7 * 16..8 * 16].iter().all(|&v| v == 1.0));
    // errors
    assert!(Embedding::new(0, 4, None, &mut rng).is_err());
    let e = Embedding::new(5, 4, Some(5), &mut rng)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("Embedding") && e.contains("padding index 5"),
        "{e}"
    );
    let bad = Embedding::new(5, 4, None, &mut rng)
        .unwrap()
        .forward(&t(&[5.], &[1]), Mode::Eval);
    assert!(bad
        .unwrap_err()
        .to_string()
        .contains("id 5 is out of range"));
}

// ---------------------------------------------------------------- PyTorch fixtures

/// One case of a fixture file: its tensors by name (`x`, `args`, `out`, `upstream`,
/// `grad.x`…); the inputs that have a `grad.NAME` are tracked.
struct Case {
    name: String,
    tensors: BTreeMap<String, Tensor>,
}

impl Case {
    fn get(&self, name: &str) -> &Tensor {
        self.tensors
            .get(name)
            .unwrap_or_else(|| panic!("{}: no tensor {name}", self.name))
    }
    fn args(&self) -> Vec<i64> {
        self.get("args")
            .to_vec()
            .iter()
            .map(|&v| v as i64)
            .collect()
    }
    fn arg(&self, k: usize) -> usize {
        self.args()[k] as usize
    }
    fn indices(&self, name: &str) -> Indices {
        Indices::from_tensor(self.get(name)).unwrap()
    }
    fn mask(&self, name: &str) -> Mask {
        Mask::from_tensor(self.get(name))
    }
}

/// Runs `f` on every case of `fixtures/shape/OP.safetensors` and compares the output and
/// the gradient of every tracked input (for the stored upstream gradient) with PyTorch's.
fn check_fixture(op: &str, tol: f32, f: impl Fn(&Case) -> splot::Result<Tensor>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/shape")
        .join(format!("{op}.safetensors"));
    let (tensors, _) = load(&path).unwrap();
    let mut cases: BTreeMap<String, BTreeMap<String, Tensor>> = BTreeMap::new();
    for (full, tensor) in tensors {
        let (case, name) = full.split_once('.').unwrap();
        cases
            .entry(case.to_string())
            .or_default()
            .insert(name.to_string(), tensor);
    }
    assert!(cases.len() >= 3, "{op}: only {} cases", cases.len());
    for (case, mut tensors) in cases {
        let tracked: Vec<String> = tensors
            .keys()
            .filter_map(|k| k.strip_prefix("grad.").map(str::to_string))
            .collect();
        for name in &tracked {
            let v = tensors[name].detach().with_grad();
            tensors.insert(name.clone(), v);
        }
        let c = Case {
            name: format!("{op} {case}"),
            tensors,
        };
        let out = f(&c).unwrap_or_else(|e| panic!("{}: {e}", c.name));
        assert_eq!(
            out.shape(),
            c.get("out").shape(),
            "{}: output shape",
            c.name
        );
        let atol = tol;
        assert_close(&c.name, &out.to_vec(), &c.get("out").to_vec(), atol, tol).unwrap();
        let grads = out.backward_with(c.get("upstream")).unwrap();
        for name in &tracked {
            let x = c.get(name);
            let g = grads
                .get(x)
                .map(|g| g.to_vec())
                .unwrap_or_else(|| vec![0.0; x.numel()]);
            let want = c.get(&format!("grad.{name}")).to_vec();
            assert_close(&format!("{}: grad {name}", c.name), &g, &want, atol, tol).unwrap();
        }
    }
}

#[test]
fn fixtures_narrow_slice_permute_transpose() {
    check_fixture("narrow", 1e-6, |c| {
        c.get("x").narrow(c.arg(0), c.arg(1), c.arg(2))
    });
    check_fixture("slice", 1e-6, |c| {
        c.get("x").slice(c.arg(0), c.arg(1), c.arg(2), c.arg(3))
    });
    check_fixture("permute", 1e-6, |c| {
        let perm: Vec<usize> = c.args().iter().map(|&p| p as usize).collect();
        c.get("x").permute(&perm)
    });
    check_fixture("transpose", 1e-6, |c| {
        c.get("x").transpose(c.arg(0), c.arg(1))
    });
}

#[test]
fn fixtures_expand_stack_where_masked_fill_clamp() {
    check_fixture("expand", 1e-5, |c| {
        let target: Vec<usize> = c.args().iter().map(|&p| p as usize).collect();
        c.get("x").expand(&target)
    });
    check_fixture("stack", 1e-6, |c| {
        let parts: Vec<&Tensor> = (0..)
            .map_while(|i| c.tensors.get(&format!("p{i}")))
            .collect();
        Tensor::stack(&parts, c.arg(0))
    });
    check_fixture("where", 1e-5, |c| {
        Tensor::where_(&c.mask("mask"), c.get("a"), c.get("b"))
    });
    check_fixture("masked_fill", 1e-6, |c| {
        c.get("x")
            .masked_fill(&c.mask("mask"), c.args()[0] as f32 / 2.0)
    });
    check_fixture("clamp", 1e-6, |c| {
        let a = c.args();
        let bound = |has: i64, q: i64| (has == 1).then_some(q as f32 / 4.0);
        c.get("x").clamp(bound(a[0], a[2]), bound(a[1], a[3]))
    });
}

#[test]
fn fixtures_gather_scatter_add_index_add_embedding() {
    check_fixture("gather", 1e-6, |c| {
        c.get("x").gather(c.arg(0), &c.indices("index"))
    });
    check_fixture("scatter_add", 1e-5, |c| {
        c.get("x")
            .scatter_add(c.arg(0), &c.indices("index"), c.get("src"))
    });
    check_fixture("index_add", 1e-5, |c| {
        let picks = c.indices("index");
        c.get("x").index_add(c.arg(0), picks.values(), c.get("src"))
    });
    check_fixture("embedding", 1e-5, |c| {
        let pad = usize::try_from(c.args()[0]).ok();
        Tensor::embedding(c.get("weight"), &c.indices("ids"), pad)
    });
}

#[test]
fn fixtures_bmm_logsumexp() {
    check_fixture("bmm", 1e-5, |c| c.get("a").bmm(c.get("b")));
    check_fixture("logsumexp", 1e-5, |c| {
        c.get("x").logsumexp(c.arg(0), c.arg(1) == 1)
    });
}

// ---------------------------------------------------------------- random shapes: references and gradients

fn randn(shape: &[usize], rng: &mut Rng) -> Tensor {
    Tensor::randn(shape, 0.0, 1.0, rng).with_grad()
}

fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// The multi-index of flat position `i` in `shape` (row-major).
fn unravel(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for d in (0..shape.len()).rev() {
        idx[d] = i % shape[d];
        i /= shape[d];
    }
    idx
}

/// The flat position of a multi-index in `shape`.
fn ravel(idx: &[usize], shape: &[usize]) -> usize {
    idx.iter().zip(shape).fold(0, |acc, (&i, &n)| acc * n + i)
}

/// The finite-difference check of `f` at `inputs` (ops here are piecewise linear or smooth
/// at moderate values, so a step of 1e-2 is both accurate and far from f32 rounding).
fn check_grads(
    what: &str,
    inputs: &[Tensor],
    f: impl Fn(&[Tensor]) -> splot::Result<Tensor>,
    seed: u64,
) -> Result<(), TestCaseError> {
    gradcheck(what, inputs, f, 1e-2, 3e-3, 3e-3, seed).map_err(TestCaseError::fail)
}

fn shape_of(rank: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1..=4usize, rank)
}

/// A shape broadcastable to `target`: a suffix of it (`lead` dimensions dropped) with some
/// dimensions set to 1.
fn broadcast_from(target: &[usize], lead: usize, ones: &[bool]) -> Vec<usize> {
    let lead = lead.min(target.len());
    target[lead..]
        .iter()
        .zip(ones)
        .map(|(&n, &one)| if one { 1 } else { n })
        .collect()
}

/// The values of `x` broadcast to `target`, the plain way (`x · ones(target)`).
fn broadcast_reference(x: &[f32], shape: &[usize], target: &[usize]) -> Vec<f32> {
    let x = t(x, shape);
    x.mul(&Tensor::ones(target)).unwrap().to_vec()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn narrow_and_slice_match_python_slicing(
        shape in shape_of(1..=4),
        axis in any::<prop::sample::Index>(),
        start in 0..6usize,
        end in 0..8usize,
        step in 1..4usize,
        seed in any::<u64>(),
    ) {
        let axis = axis.index(shape.len());
        let mut rng = Rng::seed(seed);
        let x = randn(&shape, &mut rng);
        let n = shape[axis];
        // reference: the kept entries of the axis, as Python's range(start, end, step)
        let picks: Vec<usize> = (start.min(n)..end.min(n)).step_by(step).collect();
        let y = x.slice(axis, start, end, step).unwrap();
        let mut want_shape = shape.clone();
        want_shape[axis] = picks.len();
        prop_assert_eq!(y.shape(), &want_shape[..]);
        let xv = x.to_vec();
        let want: Vec<f32> = (0..numel(&want_shape))
            .map(|i| {
                let mut at = unravel(i, &want_shape);
                at[axis] = picks[at[axis]];
                xv[ravel(&at, &shape)]
            })
            .collect();
        prop_assert_eq!(y.to_vec(), want);
        check_grads("slice", std::slice::from_ref(&x), |v| v[0].slice(axis, start, end, step), seed ^ 1)?;
        let s = start.min(n);
        let len = end.min(n - s);
        check_grads("narrow", &[x], |v| v[0].narrow(axis, s, len), seed ^ 2)?;
    }

    #[test]
    fn permute_and_transpose_match_the_reference_loop(
        (shape, perm) in shape_of(1..=5).prop_flat_map(|s| {
            let n = s.len();
            (Just(s), Just((0..n).collect::<Vec<_>>()).prop_shuffle())
        }),
        a in any::<prop::sample::Index>(),
        b in any::<prop::sample::Index>(),
        seed in any::<u64>(),
    ) {
        let mut rng = Rng::seed(seed);
        let x = randn(&shape, &mut rng);
        let y = x.permute(&perm).unwrap();
        let out: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
        prop_assert_eq!(y.shape(), &out[..]);
        // reference: out[i] = x[j] with j[perm[d]] = i[d]
        let xv = x.to_vec();
        let want: Vec<f32> = (0..numel(&out))
            .map(|i| {
                let oi = unravel(i, &out);
                let mut j = vec![0; shape.len()];
                perm.iter().zip(&oi).for_each(|(&p, &v)| j[p] = v);
                xv[ravel(&j, &shape)]
            })
            .collect();
        prop_assert_eq!(y.to_vec(), want);
        check_grads("permute", std::slice::from_ref(&x), |v| v[0].permute(&perm), seed ^ 1)?;
        let (a, b) = (a.index(shape.len()), b.index(shape.len()));
        let mut swap: Vec<usize> = (0..shape.len()).collect();
        swap.swap(a, b);
        prop_assert_eq!(x.transpose(a, b).unwrap().to_vec(), x.permute(&swap).unwrap().to_vec());
        check_grads("transpose", &[x], |v| v[0].transpose(a, b), seed ^ 2)?;
    }

    #[test]
    fn expand_matches_broadcasting(
        target in shape_of(1..=4),
        lead in 0..3usize,
        ones in prop::collection::vec(any::<bool>(), 4),
        seed in any::<u64>(),
    ) {
        let shape = broadcast_from(&target, lead, &ones);
        let mut rng = Rng::seed(seed);
        let x = randn(&shape, &mut rng);
        let y = x.expand(&target).unwrap();
        prop_assert_eq!(y.shape(), &target[..]);
        prop_assert_eq!(y.to_vec(), broadcast_reference(&x.to_vec(), &shape, &target));
        check_grads("expand", &[x], |v| v[0].expand(&target), seed ^ 1)?;
    }

    #[test]
    fn stack_is_concat_of_unsqueezed_parts(
        shape in shape_of(1..=3),
        count in 1..=3usize,
        axis in any::<prop::sample::Index>(),
        seed in any::<u64>(),
    ) {
        let axis = axis.index(shape.len() + 1);
        let mut rng = Rng::seed(seed);
        let parts: Vec<Tensor> = (0..count).map(|_| randn(&shape, &mut rng)).collect();
        let refs: Vec<&Tensor> = parts.iter().collect();
        let y = Tensor::stack(&refs, axis).unwrap();
        let mut one = shape.clone();
        one.insert(axis, 1);
        let unsqueezed: Vec<Tensor> = parts.iter().map(|p| p.reshape(&one).unwrap()).collect();
        let want = Tensor::concat(&unsqueezed.iter().collect::<Vec<_>>(), axis).unwrap();
        prop_assert_eq!(y.shape(), want.shape());
        prop_assert_eq!(y.to_vec(), want.to_vec());
        check_grads("stack", &parts, |v| Tensor::stack(&v.iter().collect::<Vec<_>>(), axis), seed ^ 1)?;
    }

    #[test]
    fn where_and_masked_fill_match_broadcast_selection(
        out in shape_of(1..=3),
        leads in proptest::array::uniform3(0..3usize),
        ones in proptest::array::uniform3(prop::collection::vec(any::<bool>(), 3)),
        value in -3.0f32..3.0,
        seed in any::<u64>(),
    ) {
        let (sm, sa, sb) = (
            broadcast_from(&out, leads[0], &ones[0]),
            broadcast_from(&out, leads[1], &ones[1]),
            broadcast_from(&out, leads[2], &ones[2]),
        );
        let mut rng = Rng::seed(seed);
        let (a, b) = (randn(&sa, &mut rng), randn(&sb, &mut rng));
        let mv: Vec<bool> = (0..numel(&sm)).map(|_| rng.below(2) == 1).collect();
        let mask = Mask::new(mv.clone(), &sm).unwrap();
        // the broadcast shape of the three (the output's dimensions that some operand spans)
        let y = Tensor::where_(&mask, &a, &b).unwrap();
        let full = y.shape().to_vec();
        let m: Vec<f32> = mv.iter().map(|&v| v as u8 as f32).collect();
        let (mb, ab, bb) = (
            broadcast_reference(&m, &sm, &full),
            broadcast_reference(&a.to_vec(), &sa, &full),
            broadcast_reference(&b.to_vec(), &sb, &full),
        );
        let want: Vec<f32> = (0..mb.len()).map(|i| if mb[i] == 1.0 { ab[i] } else { bb[i] }).collect();
        prop_assert_eq!(y.to_vec(), want);
        check_grads("where", &[a.clone(), b], |v| Tensor::where_(&mask, &v[0], &v[1]), seed ^ 1)?;
        // masked_fill: the mask broadcast to x's shape (x takes the full output shape)
        let x = randn(&out, &mut rng);
        let f = x.masked_fill(&mask, value).unwrap();
        let mx = broadcast_reference(&m, &sm, &out);
        let want: Vec<f32> = x.to_vec().iter().zip(&mx).map(|(&x, &m)| if m == 1.0 { value } else { x }).collect();
        prop_assert_eq!(f.to_vec(), want);
        check_grads("masked_fill", &[x], |v| v[0].masked_fill(&mask, value), seed ^ 2)?;
    }

    #[test]
    fn clamp_matches_min_max_and_finite_differences(
        shape in shape_of(1..=3),
        lo in proptest::option::of(-1.0f32..0.5),
        width in 0.0f32..1.5,
        has_max in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let hi = (has_max || lo.is_none()).then(|| lo.unwrap_or(-0.5) + width);
        let mut rng = Rng::seed(seed);
        let x = randn(&shape, &mut rng);
        // keep the values 0.05 away from the bounds, where the function has no derivative
        for v in x.data_mut().iter_mut() {
            for b in lo.iter().chain(&hi) {
                if (*v - b).abs() < 0.05 {
                    *v = b + 0.05f32.copysign(*v - b);
                }
            }
        }
        let y = x.clamp(lo, hi).unwrap();
        let want: Vec<f32> = x.to_vec().iter().map(|&v| {
            let v = lo.map_or(v, |l| v.max(l));
            hi.map_or(v, |h| v.min(h))
        }).collect();
        prop_assert_eq!(y.to_vec(), want);
        check_grads("clamp", &[x], |v| v[0].clamp(lo, hi), seed ^ 1)?;
    }

    #[test]
    fn gather_and_scatter_add_match_the_reference_loop(
        shape in shape_of(1..=3),
        axis in any::<prop::sample::Index>(),
        dims in proptest::array::uniform3(any::<prop::sample::Index>()),
        along in 1..=5usize,
        extra in proptest::array::uniform3(0..2usize),
        seed in any::<u64>(),
    ) {
        let axis = axis.index(shape.len());
        // the index: any size along the axis, at most the tensor's elsewhere
        let ishape: Vec<usize> = (0..shape.len())
            .map(|d| if d == axis { along } else { 1 + dims[d].index(shape[d]) })
            .collect();
        let mut rng = Rng::seed(seed);
        let values: Vec<usize> = (0..numel(&ishape)).map(|_| rng.below(shape[axis])).collect();
        let index = Indices::new(values.clone(), &ishape).unwrap();
        let x = randn(&shape, &mut rng);
        // gather: out[i] = x[i with axis replaced by index[i]]
        let y = x.gather(axis, &index).unwrap();
        let xv = x.to_vec();
        let at = |i: usize| {
            let mut j = unravel(i, &ishape);
            j[axis] = values[i];
            ravel(&j, &shape)
        };
        let want: Vec<f32> = (0..values.len()).map(|i| xv[at(i)]).collect();
        prop_assert_eq!(y.to_vec(), want);
        check_grads("gather", std::slice::from_ref(&x), |v| v[0].gather(axis, &index), seed ^ 1)?;
        // scatter_add from a source at least as large as the index
        let sshape: Vec<usize> = ishape.iter().zip(&extra).map(|(&n, &e)| n + e).collect();
        let src = randn(&sshape, &mut rng);
        let s = x.scatter_add(axis, &index, &src).unwrap();
        let sv = src.to_vec();
        let mut want = xv.clone();
        for i in 0..values.len() {
            want[at(i)] += sv[ravel(&unravel(i, &ishape), &sshape)];
        }
        assert_close("scatter_add", &s.to_vec(), &want, 1e-6, 1e-6).map_err(TestCaseError::fail)?;
        check_grads("scatter_add", &[x, src], |v| v[0].scatter_add(axis, &index, &v[1]), seed ^ 2)?;
    }

    #[test]
    fn index_add_matches_the_reference_loop(
        shape in shape_of(1..=3),
        axis in any::<prop::sample::Index>(),
        k in 0..=5usize,
        seed in any::<u64>(),
    ) {
        let axis = axis.index(shape.len());
        let mut rng = Rng::seed(seed);
        let picks: Vec<usize> = (0..k).map(|_| rng.below(shape[axis])).collect();
        let mut sshape = shape.clone();
        sshape[axis] = k;
        let (x, src) = (randn(&shape, &mut rng), randn(&sshape, &mut rng));
        let y = x.index_add(axis, &picks, &src).unwrap();
        let (mut want, sv) = (x.to_vec(), src.to_vec());
        for (i, &v) in sv.iter().enumerate() {
            let mut j = unravel(i, &sshape);
            j[axis] = picks[j[axis]];
            want[ravel(&j, &shape)] += v;
        }
        assert_close("index_add", &y.to_vec(), &want, 1e-6, 1e-6).map_err(TestCaseError::fail)?;
        check_grads("index_add", &[x, src], |v| v[0].index_add(axis, &picks, &v[1]), seed ^ 1)?;
    }

    #[test]
    fn embedding_matches_row_lookup_and_skips_the_padding_row(
        vocab in 1..=6usize,
        dim in 1..=4usize,
        ids_shape in prop::collection::vec(1..=3usize, 0..=2),
        pad in any::<Option<prop::sample::Index>>(),
        seed in any::<u64>(),
    ) {
        let pad = pad.map(|p| p.index(vocab));
        let mut rng = Rng::seed(seed);
        let w = randn(&[vocab, dim], &mut rng);
        let values: Vec<usize> = (0..numel(&ids_shape)).map(|_| rng.below(vocab)).collect();
        let ids = Indices::new(values.clone(), &ids_shape).unwrap();
        let y = Tensor::embedding(&w, &ids, pad).unwrap();
        let mut out_shape = ids_shape.clone();
        out_shape.push(dim);
        prop_assert_eq!(y.shape(), &out_shape[..]);
        let wv = w.to_vec();
        let want: Vec<f32> = values.iter().flat_map(|&i| wv[i * dim..(i + 1) * dim].to_vec()).collect();
        prop_assert_eq!(y.to_vec(), want);
        let f = |v: &[Tensor]| Tensor::embedding(&v[0], &ids, pad);
        if pad.is_none() {
            check_grads("embedding", &[w], f, seed ^ 1)?;
        } else {
            // no gradient reaches the padding row; the others are the lookups' sums
            let g = f(std::slice::from_ref(&w)).unwrap().sum_all().backward().unwrap();
            let gw = g.get(&w).unwrap().to_vec();
            for r in 0..vocab {
                let count = values.iter().filter(|&&i| i == r).count() as f32;
                let want = if Some(r) == pad { 0.0 } else { count };
                prop_assert!(gw[r * dim..(r + 1) * dim].iter().all(|&v| v == want));
            }
        }
    }

    #[test]
    fn bmm_matches_the_triple_loop(
        batch in 1..=3usize,
        m in 1..=5usize,
        k in 1..=5usize,
        n in 1..=5usize,
        seed in any::<u64>(),
    ) {
        let mut rng = Rng::seed(seed);
        let (a, b) = (randn(&[batch, m, k], &mut rng), randn(&[batch, k, n], &mut rng));
        let y = a.bmm(&b).unwrap();
        prop_assert_eq!(y.shape(), &[batch, m, n]);
        assert_close("bmm", &y.to_vec(), &bmm_reference(&a.to_vec(), &b.to_vec(), batch, m, k, n), 1e-5, 1e-5)
            .map_err(TestCaseError::fail)?;
        check_grads("bmm", &[a, b], |v| v[0].bmm(&v[1]), seed ^ 1)?;
    }

    #[test]
    fn logsumexp_matches_f64_and_finite_differences(
        shape in shape_of(1..=3),
        axis in any::<prop::sample::Index>(),
        keepdim in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let axis = axis.index(shape.len());
        let mut rng = Rng::seed(seed);
        let x = randn(&shape, &mut rng);
        let y = x.logsumexp(axis, keepdim).unwrap();
        let mut rshape = shape.clone();
        rshape[axis] = 1;
        let xv = x.to_vec();
        let want: Vec<f32> = (0..numel(&rshape))
            .map(|i| {
                let mut j = unravel(i, &rshape);
                let s: f64 = (0..shape[axis]).map(|l| { j[axis] = l; (xv[ravel(&j, &shape)] as f64).exp() }).sum();
                s.ln() as f32
            })
            .collect();
        if !keepdim {
            rshape.remove(axis);
        }
        prop_assert_eq!(y.shape(), &rshape[..]);
        assert_close("logsumexp", &y.to_vec(), &want, 1e-5, 1e-5).map_err(TestCaseError::fail)?;
        check_grads("logsumexp", &[x], |v| v[0].logsumexp(axis, keepdim), seed ^ 1)?;
    }
}

/// `out[i] = a[i]·b[i]`, the plain triple loop in f64.
fn bmm_reference(a: &[f32], b: &[f32], batch: usize, m: usize, k: usize, n: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; batch * m * n];
    for i in 0..batch {
        for r in 0..m {
            for c in 0..n {
                let s: f64 = (0..k)
                    .map(|p| a[(i * m + r) * k + p] as f64 * b[(i * k + p) * n + c] as f64)
                    .sum();
                out[(i * m + r) * n + c] = s as f32;
            }
        }
    }
    out
}

#[test]
fn large_permutes_and_expands_on_the_pool_equal_the_reference() {
    // [4, 48, 20, 12] is big enough that the copy is split across threads (≥ 2¹⁵ values);
    // [0, 2, 3, 1], [0, 1, 3, 2] and the [3, 37, 70], [2, 33, 5, 13] cases are batches of
    // transposes, copied tile by tile (with partial tiles at the edges)
    let mut rng = Rng::seed(11);
    let cases: [(&[usize], &[&[usize]]); 3] = [
        (
            &[4, 48, 20, 12],
            &[&[0, 2, 3, 1], &[3, 2, 1, 0], &[1, 0, 2, 3], &[0, 1, 3, 2]],
        ),
        (&[3, 37, 70], &[&[0, 2, 1], &[2, 1, 0], &[1, 2, 0]]),
        (
            &[2, 33, 5, 13],
            &[&[0, 2, 3, 1], &[0, 3, 1, 2], &[3, 0, 2, 1]],
        ),
    ];
    for (shape, perms) in cases {
        let x = Tensor::randn(shape, 0.0, 1.0, &mut rng);
        let xv = x.to_vec();
        for &perm in perms {
            let y = x.permute(perm).unwrap();
            let out: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
            let want: Vec<f32> = (0..numel(&out))
                .map(|i| {
                    let oi = unravel(i, &out);
                    let mut j = vec![0; shape.len()];
                    perm.iter().zip(&oi).for_each(|(&p, &v)| j[p] = v);
                    xv[ravel(&j, shape)]
                })
                .collect();
            assert_eq!(y.to_vec(), want, "{shape:?} {perm:?}");
        }
    }
    let small = Tensor::randn(&[48, 1, 12], 0.0, 1.0, &mut rng);
    let target = [4, 48, 20, 12];
    assert_eq!(
        small.expand(&target).unwrap().to_vec(),
        broadcast_reference(&small.to_vec(), &[48, 1, 12], &target)
    );
}

#[test]
fn bmm_batch_parallel_and_large_products_equal_the_reference() {
    let mut rng = Rng::seed(5);
    // many small products (split over the batch) and few large ones (GEMM on the pool)
    for (batch, m, k, n) in [(16, 9, 7, 5), (3, 80, 70, 90), (1, 1, 1, 1)] {
        let a = Tensor::randn(&[batch, m, k], 0.0, 1.0, &mut rng).with_grad();
        let b = Tensor::randn(&[batch, k, n], 0.0, 1.0, &mut rng).with_grad();
        let y = a.bmm(&b).unwrap();
        let (av, bv) = (a.to_vec(), b.to_vec());
        assert_close(
            "bmm",
            &y.to_vec(),
            &bmm_reference(&av, &bv, batch, m, k, n),
            1e-4,
            1e-4,
        )
        .unwrap();
        // the gradients are bmm of g with the transposes: check against the reference
        let r = Tensor::randn(&[batch, m, n], 0.0, 1.0, &mut rng);
        let g = y.backward_with(&r).unwrap();
        let rv = r.to_vec();
        let bt = b.transpose(1, 2).unwrap().to_vec();
        let at = a.transpose(1, 2).unwrap().to_vec();
        let ga = bmm_reference(&rv, &bt, batch, m, n, k);
        let gb = bmm_reference(&at, &rv, batch, k, m, n);
        assert_close("grad a", &g.get(&a).unwrap().to_vec(), &ga, 1e-4, 1e-4).unwrap();
        assert_close("grad b", &g.get(&b).unwrap().to_vec(), &gb, 1e-4, 1e-4).unwrap();
    }
}

// ---------------------------------------------------------------- impossible configurations

/// The message of an error (a panic in the op fails the test instead).
fn err(r: splot::Result<Tensor>) -> String {
    r.expect_err("expected an error").to_string()
}

/// The error names the op and every given part (shapes, values).
fn rejects(r: splot::Result<Tensor>, op: &str, parts: &[&str]) {
    let e = err(r);
    assert!(e.starts_with(&format!("{op}: ")), "{e}");
    for p in parts {
        assert!(e.contains(p), "{e:?} lacks {p:?}");
    }
}

#[test]
fn shape_ops_reject_impossible_configurations() {
    let x = ar(&[2, 3, 4]);
    rejects(x.narrow(3, 0, 1), "narrow", &["axis 3", "[2, 3, 4]"]);
    rejects(x.narrow(1, 2, 2), "narrow", &["2..2+2", "[2, 3, 4]"]);
    rejects(x.narrow(1, usize::MAX, 2), "narrow", &["axis 1"]);
    rejects(x.slice(2, 0, 4, 0), "slice", &["step"]);
    rejects(x.slice(5, 0, 4, 1), "slice", &["axis 5"]);
    for perm in [&[0, 1][..], &[0, 1, 1], &[0, 1, 3], &[2, 1, 0, 3]] {
        rejects(
            x.permute(perm),
            "permute",
            &[&format!("{perm:?}"), "[2, 3, 4]"],
        );
    }
    rejects(x.transpose(0, 3), "transpose", &["0 and 3", "[2, 3, 4]"]);
    rejects(x.expand(&[2, 5, 4]), "expand", &["[2, 3, 4]", "[2, 5, 4]"]);
    rejects(x.expand(&[3, 4]), "expand", &["[2, 3, 4]", "[3, 4]"]);
    rejects(x.expand(&[4, 3, 4]), "expand", &["[4, 3, 4]"]);
    let y = ar(&[2, 4, 3]);
    rejects(
        Tensor::stack(&[&x, &y], 0),
        "stack",
        &["[2, 3, 4]", "[2, 4, 3]"],
    );
    rejects(Tensor::stack(&[], 0), "stack", &["at least one"]);
    rejects(
        Tensor::stack(&[&x, &x], 4),
        "stack",
        &["axis 4", "[2, 3, 4]"],
    );
}

#[test]
fn index_ops_reject_impossible_configurations() {
    let x = ar(&[2, 3]);
    // gather / scatter_add
    rejects(
        x.gather(1, &idx(&[0, 3], &[2, 1])),
        "gather",
        &["index 3", "axis 1", "[2, 3]"],
    );
    rejects(
        x.gather(1, &idx(&[0, 1], &[2])),
        "gather",
        &["[2]", "[2, 3]"],
    );
    rejects(
        x.gather(0, &idx(&[0; 8], &[2, 4])),
        "gather",
        &["[2, 4]", "[2, 3]"],
    );
    rejects(x.gather(2, &idx(&[0; 6], &[2, 3])), "gather", &["axis 2"]);
    let src = ar(&[2, 2]);
    rejects(
        x.scatter_add(1, &idx(&[0; 6], &[2, 3]), &src),
        "scatter_add",
        &["[2, 3]", "source [2, 2]"],
    );
    rejects(
        x.scatter_add(0, &idx(&[2, 0], &[1, 2]), &src),
        "scatter_add",
        &["index 2", "axis 0"],
    );
    rejects(
        x.scatter_add(0, &idx(&[0, 0], &[2]), &src),
        "scatter_add",
        &["[2]", "[2, 3]"],
    );
    // index_add
    rejects(
        x.index_add(0, &[0, 1], &ar(&[2, 2])),
        "index_add",
        &["[2, 3]", "[2, 2]"],
    );
    rejects(
        x.index_add(1, &[3], &ar(&[2, 1])),
        "index_add",
        &["index 3", "axis 1"],
    );
    rejects(x.index_add(2, &[0], &ar(&[2, 1])), "index_add", &["axis 2"]);
    // index_select (moved here from shape.rs, same rules)
    rejects(
        x.index_select(0, &[2]),
        "index_select",
        &["index 2", "[2, 3]"],
    );
    // embedding
    let w = ar(&[4, 2]);
    rejects(
        Tensor::embedding(&ar(&[4]), &idx(&[0], &[1]), None),
        "embedding",
        &["[V, D]", "[4]"],
    );
    rejects(
        Tensor::embedding(&w, &idx(&[1, 4], &[2]), None),
        "embedding",
        &["id 4", "4 embeddings"],
    );
    rejects(
        Tensor::embedding(&w, &idx(&[1], &[1]), Some(4)),
        "embedding",
        &["padding index 4"],
    );
    // where / masked_fill
    let m = Mask::new(vec![true; 4], &[4]).unwrap();
    rejects(Tensor::where_(&m, &x, &x), "where", &["[4]", "[2, 3]"]);
    rejects(
        Tensor::where_(&Mask::from(vec![true]), &x, &ar(&[2])),
        "where",
        &["[2, 3]", "[2]"],
    );
    rejects(x.masked_fill(&m, 0.0), "masked_fill", &["[4]", "[2, 3]"]);
    let bigger = Mask::new(vec![false; 12], &[2, 2, 3]).unwrap();
    rejects(
        x.masked_fill(&bigger, 0.0),
        "masked_fill",
        &["[2, 2, 3]", "[2, 3]"],
    );
    // Indices and Mask of the wrong length
    let e = Indices::new(vec![0, 1], &[3]).unwrap_err().to_string();
    assert!(e.contains("Indices::new") && e.contains("[3]"), "{e}");
    let e = Mask::new(vec![true], &[2, 2]).unwrap_err().to_string();
    assert!(e.contains("Mask::new") && e.contains("[2, 2]"), "{e}");
}

#[test]
fn clamp_bmm_logsumexp_reject_impossible_configurations() {
    let x = ar(&[2, 3]);
    rejects(x.clamp(None, None), "clamp", &["min and max"]);
    rejects(
        x.clamp(Some(1.0), Some(0.0)),
        "clamp",
        &["Some(1.0)", "Some(0.0)"],
    );
    rejects(x.clamp(Some(f32::NAN), None), "clamp", &["NaN"]);
    let a = ar(&[2, 3, 4]);
    rejects(a.bmm(&ar(&[2, 3, 4])), "bmm", &["[2, 3, 4]"]);
    rejects(a.bmm(&ar(&[3, 4, 5])), "bmm", &["[2, 3, 4]", "[3, 4, 5]"]);
    rejects(x.bmm(&ar(&[3, 2])), "bmm", &["[2, 3]", "[3, 2]"]);
    rejects(x.logsumexp(2, false), "logsumexp", &["axis 2", "[2, 3]"]);
}
