//! The layer API: PyTorch state_dict names, parameter counts, explicit modes, freezing,
//! errors that name the layer.

use splot::nn::{
    self, Activation, Concat, Conv2d, Dropout, Flatten, Linear, Residual, Sequential, TensorKind,
};
use splot::{Conv2dConfig, Mode, Module, Rng, Tensor};

fn small_cnn(rng: &mut Rng) -> Sequential {
    Sequential::new()
        .push(Conv2d::new(1, 4, [3, 3], Conv2dConfig::new().padding(1), rng).unwrap())
        .push(Activation::ReLU)
        .push(Flatten::default())
        .push(Dropout::new(0.5, 7).unwrap())
        .push(Linear::new(4 * 5 * 5, 3, rng).unwrap())
}

#[test]
fn names_follow_pytorch_state_dict() {
    let mut rng = Rng::seed(0);
    let net = Sequential::new()
        .push_named("features", small_cnn(&mut rng))
        .push_named("classifier", Linear::new(3, 2, &mut rng).unwrap());
    let names: Vec<String> = nn::named_tensors(&net)
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(
        names,
        [
            "features.0.weight",
            "features.0.bias",
            "features.4.weight",
            "features.4.bias",
            "classifier.weight",
            "classifier.bias"
        ]
    );
    assert!(nn::named_tensors(&net)
        .iter()
        .all(|t| t.kind == TensorKind::Parameter));
    // 4·1·3·3 + 4 + 3·100 + 3 + 2·3 + 2
    assert_eq!(nn::num_parameters(&net), 36 + 4 + 300 + 3 + 6 + 2);
    assert_eq!(nn::submodule(&net, "features.4").unwrap().kind(), "Linear");
    let e = nn::submodule(&net, "features.9").err().unwrap().to_string();
    assert!(e.contains("'9'") && e.contains("\"4\""), "{e}");
}

#[test]
fn pytorch_default_initialisation_bounds() {
    let mut rng = Rng::seed(1);
    let conv = Conv2d::new(16, 32, [3, 3], Conv2dConfig::new(), &mut rng).unwrap();
    let bound = 1.0 / (16.0f32 * 9.0).sqrt();
    for t in [&conv.weight, conv.bias.as_ref().unwrap()] {
        let max = t.to_vec().iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(max <= bound && max > 0.8 * bound);
        assert!(t.requires_grad());
    }
    assert!(Conv2d::new(3, 4, [3, 3], Conv2dConfig::new().groups(2), &mut rng).is_err());
    assert!(Linear::new(0, 4, &mut rng).is_err());
}

#[test]
fn errors_name_the_layer_and_shapes() {
    let mut rng = Rng::seed(2);
    let net = small_cnn(&mut rng);
    // A 6×6 image makes the flattened size 144, not the 100 the linear layer expects.
    let e = net
        .forward(&Tensor::zeros(&[1, 1, 6, 6]), Mode::Eval)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("4 (Linear)") && e.contains("[1, 144]") && e.contains("[3, 100]"),
        "{e}"
    );
    let e = net
        .forward(&Tensor::zeros(&[1, 2, 5, 5]), Mode::Eval)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("0 (Conv2d): conv2d"), "{e}");
}

#[test]
fn mode_is_explicit_dropout_only_in_training() {
    let mut rng = Rng::seed(3);
    let net = small_cnn(&mut rng);
    let x = Tensor::randn(&[2, 1, 5, 5], 0.0, 1.0, &mut rng);
    let a = net.forward(&x, Mode::Eval).unwrap().to_vec();
    let b = net.forward(&x, Mode::Eval).unwrap().to_vec();
    assert_eq!(a, b, "evaluation is deterministic");
    let c = net.forward(&x, Mode::Train).unwrap().to_vec();
    assert_ne!(a, c, "dropout acts in training");
}

#[test]
fn freezing_a_submodule_for_transfer_learning() {
    let mut rng = Rng::seed(4);
    let net = Sequential::new()
        .push_named("features", small_cnn(&mut rng))
        .push_named("head", Linear::new(3, 2, &mut rng).unwrap());
    nn::set_trainable(nn::submodule(&net, "features").unwrap(), false);
    let x = Tensor::randn(&[2, 1, 5, 5], 0.0, 1.0, &mut rng);
    let loss = net
        .forward(&x, Mode::Train)
        .unwrap()
        .cross_entropy(&[0, 1], &Default::default())
        .unwrap();
    let grads = loss.backward().unwrap();
    for p in nn::parameters(&net) {
        assert_eq!(
            grads.get(&p.tensor).is_some(),
            p.name.starts_with("head"),
            "{}",
            p.name
        );
    }
    nn::set_trainable(&net, true);
    let loss = net
        .forward(&x, Mode::Train)
        .unwrap()
        .cross_entropy(&[0, 1], &Default::default())
        .unwrap();
    assert_eq!(loss.backward().unwrap().len(), 6);
}

#[test]
fn residual_and_concat_blocks() {
    let mut rng = Rng::seed(5);
    let body = Sequential::new()
        .push(Conv2d::new(2, 2, [3, 3], Conv2dConfig::new().padding(1), &mut rng).unwrap());
    let block = Residual::identity(body);
    let x = Tensor::randn(&[1, 2, 4, 4], 0.0, 1.0, &mut rng);
    let y = block.forward(&x, Mode::Eval).unwrap();
    let f = nn::submodule(&block, "body")
        .unwrap()
        .forward(&x, Mode::Eval)
        .unwrap();
    let want: Vec<f32> = f
        .to_vec()
        .iter()
        .zip(x.to_vec())
        .map(|(a, b)| a + b)
        .collect();
    assert_eq!(y.to_vec(), want);
    let names: Vec<String> = nn::named_tensors(&block)
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["body.0.weight", "body.0.bias"]);
    // shapes that differ need a projection shortcut
    let widen =
        Residual::identity(Conv2d::new(2, 4, [1, 1], Conv2dConfig::new(), &mut rng).unwrap());
    assert!(widen
        .forward(&x, Mode::Eval)
        .unwrap_err()
        .to_string()
        .contains("projection"));
    let proj = Residual::projection(
        Conv2d::new(
            2,
            4,
            [3, 3],
            Conv2dConfig::new().padding(1).stride(2),
            &mut rng,
        )
        .unwrap(),
        Conv2d::new(2, 4, [1, 1], Conv2dConfig::new().stride(2), &mut rng)
            .unwrap()
            .without_bias(),
    );
    assert_eq!(proj.forward(&x, Mode::Eval).unwrap().shape(), &[1, 4, 2, 2]);
    // naive Inception-style branches concatenated along channels
    let inception = Concat::new()
        .branch(Conv2d::new(2, 3, [1, 1], Conv2dConfig::new(), &mut rng).unwrap())
        .branch(Conv2d::new(2, 5, [3, 3], Conv2dConfig::new().padding(1), &mut rng).unwrap());
    assert_eq!(
        inception.forward(&x, Mode::Eval).unwrap().shape(),
        &[1, 8, 4, 4]
    );
}

#[test]
fn batch_norm_layer_buffers_and_modes() {
    use splot::nn::{BatchNorm, LocalResponseNorm, Pool};
    use splot::{LrnConfig, Pool2dConfig};
    let mut rng = Rng::seed(6);
    let net = Sequential::new()
        .push(Conv2d::new(1, 3, [3, 3], Conv2dConfig::new(), &mut rng).unwrap())
        .push(BatchNorm::new_2d(3).unwrap())
        .push(LocalResponseNorm(LrnConfig::alexnet()))
        .push(Pool::Max(Pool2dConfig::new(2)));
    let names: Vec<(String, TensorKind)> = nn::named_tensors(&net)
        .into_iter()
        .map(|t| (t.name, t.kind))
        .collect();
    let want = [
        ("0.weight", TensorKind::Parameter),
        ("0.bias", TensorKind::Parameter),
        ("1.weight", TensorKind::Parameter),
        ("1.bias", TensorKind::Parameter),
        ("1.running_mean", TensorKind::Buffer),
        ("1.running_var", TensorKind::Buffer),
        ("1.num_batches_tracked", TensorKind::Buffer),
    ];
    assert_eq!(names, want.map(|(n, k)| (n.to_string(), k)));
    let buffers = || -> Vec<Vec<f32>> {
        nn::named_tensors(&net)
            .into_iter()
            .filter(|t| t.kind == TensorKind::Buffer)
            .map(|t| t.tensor.to_vec())
            .collect()
    };
    let x = Tensor::randn(&[4, 1, 6, 6], 1.0, 2.0, &mut rng);
    let before = buffers();
    for _ in 0..3 {
        net.forward(&x, Mode::Eval).unwrap();
    }
    assert_eq!(
        buffers(),
        before,
        "evaluation must not touch running statistics"
    );
    assert_eq!(net.forward(&x, Mode::Eval).unwrap().shape(), &[4, 3, 2, 2]);
    net.forward(&x, Mode::Train).unwrap();
    let after = buffers();
    assert_ne!(after[0], before[0]);
    assert_eq!(after[2], vec![1.0], "one training step tracked");
    let e = BatchNorm::new_2d(3)
        .unwrap()
        .forward(&Tensor::zeros(&[2, 3]), Mode::Eval)
        .unwrap_err()
        .to_string();
    assert!(e.contains("BatchNorm2d") && e.contains("[2, 3]"), "{e}");
}
