//! Autograd: gradients of variables and inputs, accumulation over shared paths, no-grad
//! mode, frozen parameters, skipped branches, deep graphs.

use splot::{no_grad, Conv2dConfig, Rng, Tensor};

fn t(v: &[f32], shape: &[usize]) -> Tensor {
    Tensor::from_vec(v.to_vec(), shape).unwrap()
}

#[test]
fn gradient_of_a_simple_expression() {
    // L = Σ (a·b + a) → ∂L/∂a = b + 1, ∂L/∂b = a
    let a = t(&[1., 2., 3.], &[3]).with_grad();
    let b = t(&[4., 5., 6.], &[3]).with_grad();
    let loss = a.mul(&b).unwrap().add(&a).unwrap().sum_all();
    assert_eq!(loss.item().unwrap(), 4. + 10. + 18. + 6.);
    let g = loss.backward().unwrap();
    assert_eq!(g.get(&a).unwrap().to_vec(), vec![5., 6., 7.]);
    assert_eq!(g.get(&b).unwrap().to_vec(), vec![1., 2., 3.]);
    assert_eq!(
        g.len(),
        2,
        "only variables keep gradients; intermediates are freed"
    );
}

#[test]
fn residual_branch_accumulates_both_paths() {
    // y = x + conv(x): ∂Σy/∂x = 1 + (conv's input gradient of ones)
    let x = Tensor::ones(&[1, 1, 3, 3]).with_grad();
    let w = Tensor::full(&[1, 1, 1, 1], 2.0);
    let y = x
        .add(&x.conv2d(&w, None, &Conv2dConfig::new()).unwrap())
        .unwrap();
    let g = y.sum_all().backward().unwrap();
    assert_eq!(g.get(&x).unwrap().to_vec(), vec![3.0; 9]);
    // the same tensor twice in one op
    let z = x.mul(&x).unwrap().sum_all().backward().unwrap();
    assert_eq!(z.get(&x).unwrap().to_vec(), vec![2.0; 9]);
}

#[test]
fn input_image_receives_a_gradient() {
    let mut rng = Rng::seed(1);
    let image = Tensor::randn(&[1, 3, 8, 8], 0.0, 1.0, &mut rng).with_grad();
    let w = Tensor::randn(&[4, 3, 3, 3], 0.0, 1.0, &mut rng).with_grad();
    let score = image
        .conv2d(&w, None, &Conv2dConfig::new().padding(1))
        .unwrap()
        .square()
        .sum_all();
    let g = score.backward().unwrap();
    let gi = g.get(&image).expect("gradient with respect to the image");
    assert_eq!(gi.shape(), &[1, 3, 8, 8]);
    assert!(gi.to_vec().iter().any(|&v| v != 0.0));
    assert!(g.get(&w).is_some());
}

#[test]
fn no_grad_records_nothing() {
    let w = Tensor::ones(&[2]).with_grad();
    let y = no_grad(|| w.scale(3.0));
    assert!(!y.is_tracked());
    assert!(y.sum_all().backward().unwrap().is_empty());
    // the mode is restored afterwards
    assert!(w.scale(3.0).is_tracked());
}

#[test]
fn frozen_parameters_get_no_gradient_and_record_nothing() {
    let frozen = Tensor::ones(&[1, 1, 3, 3]).with_grad();
    frozen.set_requires_grad(false);
    let x = Tensor::ones(&[1, 1, 5, 5]);
    // No variable anywhere: nothing is recorded at all.
    let y = x.conv2d(&frozen, None, &Conv2dConfig::new()).unwrap();
    assert!(!y.is_tracked());
    // A trainable head on top of the frozen layer: only the head is differentiated.
    let head = Tensor::full(&[1], 2.0).with_grad();
    let loss = y.mul(&head).unwrap().sum_all();
    let g = loss.backward().unwrap();
    assert!(g.get(&frozen).is_none());
    assert_eq!(g.get(&head).unwrap().to_vec(), vec![81.0]);
    assert_eq!(g.len(), 1);
}

#[test]
fn branches_that_need_no_gradient_are_skipped() {
    // Only `a` is a variable; the constant branch c·d is never part of the graph.
    let a = Tensor::ones(&[4]).with_grad();
    let c = Tensor::full(&[4], 3.0);
    let d = Tensor::full(&[4], 5.0);
    let cd = c.mul(&d).unwrap();
    assert!(!cd.is_tracked());
    let loss = a.mul(&cd).unwrap().sum_all();
    let g = loss.backward().unwrap();
    assert_eq!(g.get(&a).unwrap().to_vec(), vec![15.0; 4]);
    assert!(g.get(&c).is_none() && g.get(&cd).is_none());
}

#[test]
fn requires_grad_on_an_intermediate_keeps_its_gradient() {
    let a = t(&[1., 2.], &[2]).with_grad();
    let h = a.scale(3.0);
    h.set_requires_grad(true);
    let g = h.square().sum_all().backward().unwrap();
    assert_eq!(g.get(&h).unwrap().to_vec(), vec![6., 12.]);
    assert_eq!(g.get(&a).unwrap().to_vec(), vec![18., 36.]);
}

#[test]
fn deep_graph_does_not_overflow_the_stack() {
    let x = Tensor::ones(&[1]).with_grad();
    let mut y = x.clone();
    for _ in 0..100_000 {
        y = y.add_scalar(1.0);
    }
    let g = y.sum_all().backward().unwrap();
    assert_eq!(g.get(&x).unwrap().to_vec(), vec![1.0]);
    // Dropping a long chain must not overflow either.
    drop(y);
}

#[test]
fn backward_needs_a_scalar_or_a_matching_gradient() {
    let x = Tensor::ones(&[3]).with_grad();
    let y = x.scale(2.0);
    let e = y.backward().err().unwrap().to_string();
    assert!(e.contains("one-element") && e.contains("[3]"), "{e}");
    let e = y
        .backward_with(&Tensor::ones(&[2]))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("[2]") && e.contains("[3]"), "{e}");
    let g = y.backward_with(&t(&[1., 2., 3.], &[3])).unwrap();
    assert_eq!(g.get(&x).unwrap().to_vec(), vec![2., 4., 6.]);
}
