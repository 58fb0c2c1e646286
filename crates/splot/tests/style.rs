//! Style transfer against PyTorch (`scripts/fixtures_style.py`): Gram matrices, the content,
//! style and total-variation losses and the gradient of their weighted sum with respect to
//! the image, for torchvision's VGG19 features (average pooling) filled by the zoo
//! fixtures' formula; finite differences of the losses; a short run that lowers the loss.

use splot::io::safetensors::load;
use splot::nn::{self, Module};
use splot::tasks::style::{
    gram, losses, stylize, tv_loss, LossWeights, StyleConfig, StyleOptimizer, Targets,
    Vgg19Features,
};
use splot::testing::{fill, fill_into, gradcheck};
use splot::{Rng, Tensor};
use std::path::PathBuf;

fn picture(name: &str, shape: &[usize]) -> Tensor {
    let v = fill(name, shape).iter().map(|u| (u + 1.0) / 2.0).collect();
    Tensor::from_vec(v, shape).unwrap()
}

fn filled_vgg() -> Vgg19Features {
    let net = Vgg19Features::new(true, 0).unwrap();
    for t in nn::named_tensors(&net) {
        let shape = t.tensor.shape().to_vec();
        fill_into(&t.name, &shape, &mut t.tensor.data_mut());
    }
    net
}

fn close(what: &str, got: &[f32], want: &[f32], rtol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-30);
    let worst = got
        .iter()
        .zip(want)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(
        worst <= rtol * scale,
        "{what}: max |Δ| {worst} against max |want| {scale}"
    );
}

#[test]
fn gram_losses_and_image_gradient_equal_pytorch() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/style/gatys.safetensors");
    let (t, _) = load(&path).unwrap();
    let get = |n: &str| t.iter().find(|(k, _)| k == n).unwrap().1.clone();
    let net = filled_vgg();
    let names: Vec<String> = nn::named_tensors(&net)
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names[0], "features.0.weight", "torchvision's names");
    assert_eq!(names.len(), 32, "16 convolutions, weight and bias");
    let content = picture("content", &[1, 3, 64, 64]);
    let style = picture("style", &[1, 3, 48, 48]);
    let x = picture("image", &[1, 3, 64, 64]).with_grad();
    let targets = Targets::new(&net, &content, &style).unwrap();
    let weights = LossWeights {
        content: 1.0,
        style: 1e6,
        tv: 0.1,
        layers: vec![0.2; 5],
    };
    let l = losses(&net, &x, &targets, &weights).unwrap();
    let want = get("losses").to_vec();
    let got = [
        l.content.item().unwrap(),
        l.style.item().unwrap(),
        l.tv.item().unwrap(),
        l.total.item().unwrap(),
    ];
    for (i, name) in ["content", "style", "tv", "total"].iter().enumerate() {
        close(name, &got[i..i + 1], &want[i..i + 1], 1e-4);
    }
    let taps = net
        .taps(
            &x,
            &[
                net.index_of("conv1_1").unwrap(),
                net.index_of("conv5_1").unwrap(),
            ],
        )
        .unwrap();
    close(
        "gram conv1_1",
        &gram(&taps[0]).unwrap().to_vec(),
        &get("gram_conv1_1").to_vec(),
        1e-4,
    );
    let g5 = gram(&taps[1]).unwrap();
    let corner: Vec<f32> = (0..32)
        .flat_map(|r| g5.to_vec()[r * 512..r * 512 + 32].to_vec())
        .collect();
    close("gram conv5_1", &corner, &get("gram_conv5_1").to_vec(), 1e-4);
    let grads = l.total.backward().unwrap();
    close(
        "d total / d image",
        &grads.get(&x).unwrap().to_vec(),
        &get("grad").to_vec(),
        1e-3,
    );
}

#[test]
fn gram_and_tv_gradients_match_finite_differences() {
    let mut rng = Rng::seed(4);
    let f = Tensor::randn(&[2, 3, 4, 5], 0.0, 1.0, &mut rng);
    gradcheck("gram", &[f], |x| gram(&x[0]), 1e-2, 1e-3, 1e-2, 5).unwrap();
    let x = Tensor::randn(&[1, 2, 5, 4], 0.0, 1.0, &mut rng);
    gradcheck("tv", &[x], |x| tv_loss(&x[0]), 1e-2, 1e-3, 1e-2, 6).unwrap();
    assert!(tv_loss(&Tensor::zeros(&[1, 3, 1, 5])).is_err());
}

#[test]
fn a_short_run_lowers_the_style_loss_and_bad_input_is_refused() {
    let net = Vgg19Features::new(true, 1).unwrap();
    let content = picture("content", &[1, 3, 32, 32]);
    let style = picture("style", &[1, 3, 40, 24]);
    let config = StyleConfig {
        steps: 40,
        optimizer: StyleOptimizer::Lbfgs,
        from_noise: true,
        ..Default::default()
    };
    let mut first = None;
    let mut last = [0f32; 4];
    let out = stylize(&net, &content, &style, &config, &mut |p| {
        first.get_or_insert(p.losses);
        last = p.losses;
        Ok(())
    })
    .unwrap();
    assert_eq!(out.shape(), &[1, 3, 32, 32]);
    assert!(out.to_vec().iter().all(|v| (0.0..=1.0).contains(v)));
    let first = first.unwrap();
    assert!(
        last[1] < first[1] / 100.0,
        "style loss {} → {}",
        first[1],
        last[1]
    );
    // too small for VGG19's four poolings
    let small = picture("small", &[1, 3, 12, 12]);
    let e = stylize(&net, &small, &style, &config, &mut |_| Ok(())).unwrap_err();
    assert!(e.to_string().contains("at least 16×16"), "{e}");
    let e = net.index_of("conv6_1").unwrap_err().to_string();
    assert!(e.contains("conv5_4") && e.contains("pool5"), "{e}");
    // NaN stops the run with an error naming it
    let nan = Tensor::from_vec(vec![f32::NAN; 3 * 32 * 32], &[1, 3, 32, 32]).unwrap();
    let e = stylize(&net, &nan, &style, &config, &mut |_| Ok(())).unwrap_err();
    assert!(e.to_string().contains("became NaN"), "{e}");
    let _ = net.forward(&content, splot::Mode::Eval).unwrap();
}
