//! LeNet-5: the paper's parameter counts, the S2→C3 table as a real sparse connection,
//! output shapes, and the modern variant.

use splot::models::lenet5::{lenet5, lenet5_relu, ConnectionTableConv, C3_TABLE};
use splot::nn::{self, Module};
use splot::optim::{Optimizer, Sgd};
use splot::testing::gradcheck;
use splot::{Mode, Rng, Tensor};

#[test]
fn parameter_counts_of_the_paper() {
    let net = lenet5(&mut Rng::seed(0)).unwrap();
    let count = |prefix: &str| -> usize {
        nn::parameters(&net)
            .iter()
            .filter(|p| p.name.starts_with(prefix))
            .map(|p| p.tensor.numel())
            .sum()
    };
    assert_eq!(count("c1."), 156);
    assert_eq!(count("s2."), 12);
    assert_eq!(count("c3."), 1516);
    // C3 as a real sparse connection: one 5×5 kernel per connection of the table, no more
    let c3: Vec<_> = nn::parameters(&net)
        .into_iter()
        .filter(|p| p.name.starts_with("c3."))
        .map(|p| (p.name, p.tensor.shape().to_vec()))
        .collect();
    assert_eq!(
        c3,
        [
            ("c3.weight".to_string(), vec![60, 5, 5]),
            ("c3.bias".to_string(), vec![16])
        ]
    );
    assert_eq!(count("s4."), 32);
    assert_eq!(count("c5."), 48_120);
    assert_eq!(count("f6."), 10_164);
    assert_eq!(nn::num_parameters(&net) - count("output."), 60_000);
    assert_eq!(count("output."), 850);
    // the modern variant: 156 + 2 416 + 48 120 + 10 164 + 850
    assert_eq!(
        nn::num_parameters(&lenet5_relu(0.5, &mut Rng::seed(0)).unwrap()),
        61_706
    );
}

#[test]
fn forward_shapes() {
    let x = Tensor::randn(&[3, 1, 32, 32], 0.0, 1.0, &mut Rng::seed(1));
    let net = lenet5(&mut Rng::seed(0)).unwrap();
    assert_eq!(net.forward(&x, Mode::Eval).unwrap().shape(), &[3, 10]);
    let net = lenet5_relu(0.5, &mut Rng::seed(0)).unwrap();
    assert_eq!(net.forward(&x, Mode::Train).unwrap().shape(), &[3, 10]);
    let e = net
        .forward(&Tensor::zeros(&[1, 1, 28, 28]), Mode::Eval)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("conv3 (Conv2d)") && e.contains("[1, 16, 4, 4]"),
        "{e}"
    );
}

#[test]
fn c3_missing_connections_have_no_weight_and_stay_zero() {
    let mut rng = Rng::seed(2);
    let c3 = ConnectionTableConv::new(6, &C3_TABLE, 5, &mut rng).unwrap();
    let connected = |j: usize, i: usize| C3_TABLE[j].contains(&i);
    let before = c3.dense_weight().to_vec();
    let params: Vec<_> = nn::parameters(&c3);
    let mut opt = Sgd::new(params, 0.1);
    for _ in 0..3 {
        let x = Tensor::randn(&[2, 6, 14, 14], 0.0, 1.0, &mut rng);
        let loss = c3.forward(&x, Mode::Train).unwrap().square().mean_all();
        opt.step(&loss.backward().unwrap()).unwrap();
    }
    let after = c3.dense_weight();
    assert_eq!(after.shape(), &[16, 6, 5, 5]);
    let after = after.to_vec();
    for j in 0..16 {
        for i in 0..6 {
            let block = |v: &[f32]| v[(j * 6 + i) * 25..][..25].to_vec();
            if connected(j, i) {
                assert_ne!(
                    block(&after),
                    block(&before),
                    "connection {i}→{j} must learn"
                );
            } else {
                assert!(
                    block(&after).iter().all(|&w| w == 0.0),
                    "absent connection {i}→{j} must stay zero"
                );
            }
        }
    }
}

#[test]
fn c3_equals_a_dense_convolution_with_the_table_as_a_mask() {
    let mut rng = Rng::seed(3);
    let c3 = ConnectionTableConv::new(6, &C3_TABLE, 5, &mut rng).unwrap();
    let x = Tensor::randn(&[2, 6, 9, 9], 0.0, 1.0, &mut rng);
    let sparse = c3.forward(&x, Mode::Eval).unwrap();
    let dense = x
        .conv2d(&c3.dense_weight(), Some(&c3.bias), &Default::default())
        .unwrap();
    splot::testing::assert_close("c3", &sparse.to_vec(), &dense.to_vec(), 1e-5, 1e-5).unwrap();
}

#[test]
fn c3_and_index_select_gradients() {
    let mut rng = Rng::seed(4);
    let c3 = ConnectionTableConv::new(6, &C3_TABLE, 3, &mut rng).unwrap();
    let x = Tensor::randn(&[1, 6, 4, 4], 0.0, 1.0, &mut rng).with_grad();
    let mut inputs = vec![x];
    inputs.extend(nn::parameters(&c3).into_iter().map(|p| p.tensor));
    gradcheck(
        "c3",
        &inputs,
        |_| c3.forward(&inputs[0], Mode::Train),
        1e-2,
        3e-3,
        3e-3,
        4,
    )
    .unwrap();
    let y = Tensor::randn(&[2, 4, 3], 0.0, 1.0, &mut rng).with_grad();
    gradcheck(
        "index_select",
        &[y],
        |v| v[0].index_select(1, &[3, 0, 3, 1]),
        1e-2,
        2e-3,
        2e-3,
        5,
    )
    .unwrap();
    assert!(Tensor::zeros(&[2, 3])
        .index_select(1, &[3])
        .unwrap_err()
        .to_string()
        .contains("index 3"));
}
