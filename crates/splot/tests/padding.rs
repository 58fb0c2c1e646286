//! Padding modes: the lecture's five tables as golden tests, the index map's rules, the
//! limits of each mode, and the gradient of `pad2d` (finite differences, every mode).

use proptest::prelude::*;
use splot::testing::gradcheck;
use splot::{Padding2d, PaddingMode, Rng, Tensor};

fn lecture_input() -> Tensor {
    let v = [
        1., 4., 2., 3., 6., 1., 1., 7., 1., 2., 1., 4., 1., 5., 1., 2.,
    ];
    Tensor::from_vec(v.to_vec(), &[1, 1, 4, 4]).unwrap()
}

fn table(text: &str) -> Vec<f32> {
    text.split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect()
}

fn golden(mode: PaddingMode, expected: &str) {
    let padded = lecture_input().pad2d(Padding2d::same(2), mode).unwrap();
    assert_eq!(padded.shape(), &[1, 1, 8, 8]);
    assert_eq!(
        padded.to_vec(),
        table(expected),
        "{mode} table differs from the lecture"
    );
}

#[test]
fn lecture_table_zeros() {
    golden(
        PaddingMode::Zeros,
        "0 0 0 0 0 0 0 0
         0 0 0 0 0 0 0 0
         0 0 1 4 2 3 0 0
         0 0 6 1 1 7 0 0
         0 0 1 2 1 4 0 0
         0 0 1 5 1 2 0 0
         0 0 0 0 0 0 0 0
         0 0 0 0 0 0 0 0",
    );
}

#[test]
fn lecture_table_replicate() {
    golden(
        PaddingMode::Replicate,
        "1 1 1 4 2 3 3 3
         1 1 1 4 2 3 3 3
         1 1 1 4 2 3 3 3
         6 6 6 1 1 7 7 7
         1 1 1 2 1 4 4 4
         1 1 1 5 1 2 2 2
         1 1 1 5 1 2 2 2
         1 1 1 5 1 2 2 2",
    );
}

#[test]
fn lecture_table_symmetric() {
    golden(
        PaddingMode::Symmetric,
        "1 6 6 1 1 7 7 1
         4 1 1 4 2 3 3 2
         4 1 1 4 2 3 3 2
         1 6 6 1 1 7 7 1
         2 1 1 2 1 4 4 1
         5 1 1 5 1 2 2 1
         5 1 1 5 1 2 2 1
         2 1 1 2 1 4 4 1",
    );
}

#[test]
fn lecture_table_circular() {
    golden(
        PaddingMode::Circular,
        "1 4 1 2 1 4 1 2
         1 2 1 5 1 2 1 5
         2 3 1 4 2 3 1 4
         1 7 6 1 1 7 6 1
         1 4 1 2 1 4 1 2
         1 2 1 5 1 2 1 5
         2 3 1 4 2 3 1 4
         1 7 6 1 1 7 6 1",
    );
}

#[test]
fn lecture_table_reflect() {
    golden(
        PaddingMode::Reflect,
        "1 2 1 2 1 4 1 2
         1 1 6 1 1 7 1 1
         2 4 1 4 2 3 2 4
         1 1 6 1 1 7 1 1
         1 2 1 2 1 4 1 2
         1 5 1 5 1 2 1 5
         1 2 1 2 1 4 1 2
         1 1 6 1 1 7 1 1",
    );
}

#[test]
fn source_index_rules_on_one_axis() {
    // Axis "a b c" (n = 3), coordinates −3..6.
    let expect = |mode: PaddingMode, want: [Option<usize>; 9]| {
        let got: Vec<_> = (-3..6).map(|i| mode.source_index(i, 3)).collect();
        assert_eq!(got, want, "{mode}");
    };
    let (a, b, c) = (Some(0), Some(1), Some(2));
    expect(
        PaddingMode::Zeros,
        [None, None, None, a, b, c, None, None, None],
    );
    expect(PaddingMode::Replicate, [a, a, a, a, b, c, c, c, c]);
    expect(PaddingMode::Symmetric, [c, b, a, a, b, c, c, b, a]);
    expect(PaddingMode::Reflect, [b, c, b, a, b, c, b, a, b]);
    expect(PaddingMode::Circular, [a, b, c, a, b, c, a, b, c]);
}

#[test]
fn padding_too_wide_is_an_error_naming_mode_and_shape() {
    let x = lecture_input();
    let e = x
        .pad2d(Padding2d::same(4), PaddingMode::Reflect)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("reflect") && e.contains("p < n") && e.contains("[1, 1, 4, 4]"),
        "{e}"
    );
    let e = x
        .pad2d(Padding2d::same(5), PaddingMode::Symmetric)
        .unwrap_err()
        .to_string();
    assert!(e.contains("symmetric") && e.contains("p ≤ n"), "{e}");
    let e = x
        .pad2d(Padding2d::sides(0, 0, 0, 5), PaddingMode::Circular)
        .unwrap_err()
        .to_string();
    assert!(e.contains("circular") && e.contains("right"), "{e}");
    // At the limits it works, and zeros/replicate have none.
    x.pad2d(Padding2d::same(3), PaddingMode::Reflect).unwrap();
    x.pad2d(Padding2d::same(4), PaddingMode::Symmetric).unwrap();
    x.pad2d(Padding2d::same(4), PaddingMode::Circular).unwrap();
    x.pad2d(Padding2d::same(9), PaddingMode::Replicate).unwrap();
    assert!(Tensor::zeros(&[3])
        .pad2d(Padding2d::same(1), PaddingMode::Zeros)
        .is_err());
}

#[test]
fn parse_mode_names() {
    for mode in PaddingMode::ALL {
        assert_eq!(mode.name().parse::<PaddingMode>().unwrap(), mode);
    }
    let e = "mirror".parse::<PaddingMode>().unwrap_err().to_string();
    assert!(e.contains("mirror") && e.contains("symmetric"), "{e}");
}

#[test]
fn padded_pixel_gradient_flows_to_its_source() {
    // Replicate-padding a 1×2 row by 2 on the left and right: the left pixel is copied
    // three times (itself and two border copies) per row; with 1 row above and below too.
    let x = Tensor::from_vec(vec![1.0, 2.0], &[1, 1, 1, 2])
        .unwrap()
        .with_grad();
    let y = x
        .pad2d(Padding2d::sides(1, 1, 2, 2), PaddingMode::Replicate)
        .unwrap();
    assert_eq!(y.shape(), &[1, 1, 3, 6]);
    let g = y.sum_all().backward().unwrap();
    assert_eq!(g.get(&x).unwrap().to_vec(), vec![9.0, 9.0]);
}

fn mode_strategy() -> impl Strategy<Value = PaddingMode> {
    (0..5usize).prop_map(|i| PaddingMode::ALL[i])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]
    #[test]
    fn pad2d_gradient_matches_finite_differences(
        mode in mode_strategy(),
        pads in proptest::array::uniform4(0..=3usize),
        extra in proptest::array::uniform2(0..3usize),
        planes in 1..=3usize,
        seed in any::<u64>(),
    ) {
        let [t, b, l, r] = pads;
        let need = |p: usize| match mode {
            PaddingMode::Reflect => p + 1,
            PaddingMode::Symmetric | PaddingMode::Circular => p.max(1),
            _ => 1,
        };
        let h = need(t.max(b)) + extra[0];
        let w = need(l.max(r)) + extra[1];
        let mut rng = Rng::seed(seed);
        let x = Tensor::randn(&[planes, h, w], 0.0, 1.0, &mut rng).with_grad();
        let pad = Padding2d::sides(t, b, l, r);
        gradcheck("pad2d", &[x], |v| v[0].pad2d(pad, mode), 1e-2, 2e-3, 2e-3, seed)
            .map_err(TestCaseError::fail)?;
    }
}
