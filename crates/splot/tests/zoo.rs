//! The model zoo against torchvision: parameter counts, and outputs equal to PyTorch's for
//! the same weights and input.
//!
//! The fixtures in `tests/fixtures/zoo/` come from `scripts/zoo_fixtures.py`, which fills
//! every tensor of the torchvision `state_dict` with a formula of its name and index and
//! saves the output for an input given by the same formula. [`fill`] is that formula in
//! Rust, bit for bit, so only the outputs (a few KB) need to be committed.

use splot::io::safetensors::load;
use splot::models::build;
use splot::models::googlenet::{googlenet, inception_naive, InceptionAux};
use splot::nn::{self, Module, Sequential};
use splot::optim::{Optimizer, Sgd};
use splot::testing::{fill, fill_into, fnv1a64};
use splot::{Mode, Rng, Tensor};
use std::path::PathBuf;

/// Fills every parameter and buffer of `net` with [`fill`].
fn fill_module(net: &dyn Module) {
    fill_module_as(net, "");
}

/// [`fill_module`] for a module whose tensor names in the whole network start with
/// `prefix`.
fn fill_module_as(net: &dyn Module, prefix: &str) {
    for t in nn::named_tensors(net) {
        let shape = t.tensor.shape().to_vec();
        fill_into(
            &format!("{prefix}{}", t.name),
            &shape,
            &mut t.tensor.data_mut(),
        );
    }
}

/// `max |diff|` and `max(1, max |expected|)`.
fn max_diff(actual: &Tensor, expected: &Tensor) -> (f32, f32) {
    assert_eq!(actual.shape(), expected.shape(), "output shape");
    let (y, e) = (actual.to_vec(), expected.to_vec());
    let scale = e.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    let diff = y
        .iter()
        .zip(&e)
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    (diff, scale)
}

/// The parameter counts of torchvision (and of the script's PyTorch twins of the networks
/// torchvision lacks), as `scripts/zoo_fixtures.py` prints them.
const TORCHVISION_PARAMETERS: &[(&str, usize)] = &[
    ("resnet18", 11_689_512),
    ("plain18", 11_515_688),
    ("resnet34", 21_797_672),
    ("plain34", 21_623_848),
    ("resnet50", 25_557_032),
    ("plain50", 22_780_456),
    ("resnet101", 44_549_160),
    ("plain101", 41_772_584),
    ("resnet152", 60_192_808),
    ("plain152", 57_416_232),
    ("resnet20", 269_722),
    ("plain20", 269_722),
    ("resnet32", 464_154),
    ("plain32", 464_154),
    ("resnet44", 658_586),
    ("plain44", 658_586),
    ("resnet56", 853_018),
    ("plain56", 853_018),
    ("resnet110", 1_727_962),
    ("plain110", 1_727_962),
    ("vgg11", 132_863_336),
    ("vgg11_bn", 132_868_840),
    ("vgg13", 133_047_848),
    ("vgg13_bn", 133_053_736),
    ("vgg16", 138_357_544),
    ("vgg16_bn", 138_365_992),
    ("vgg19", 143_667_240),
    ("vgg19_bn", 143_678_248),
    ("alexnet", 61_100_840),
    ("alexnet-paper", 60_965_224),
    ("googlenet", 6_624_904),
    ("googlenet-aux", 13_004_888),
];

fn expected_parameters(name: &str) -> usize {
    TORCHVISION_PARAMETERS
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no parameter count for {name}"))
        .1
}

/// The module's `state_dict` equals PyTorch's: the same number of entries and the same
/// names with the same shapes (compared through the fixture's FNV-1a hash of the sorted
/// `name:shape` lines, the script's `state_dict_keys`).
fn check_state_dict_names(name: &str, net: &dyn Module, meta: &splot::io::safetensors::Metadata) {
    let mut lines: Vec<String> = nn::named_tensors(net)
        .into_iter()
        .map(|t| {
            let shape: Vec<String> = t.tensor.shape().iter().map(|d| d.to_string()).collect();
            format!("{}:{}", t.name, shape.join("x"))
        })
        .collect();
    lines.sort();
    assert_eq!(
        lines.len().to_string(),
        meta["state_dict_entries"],
        "{name}: state_dict entries"
    );
    assert_eq!(
        format!("{:016x}", fnv1a64(&lines.join("\n"))),
        meta["state_dict_fnv1a"],
        "{name}: state_dict names and shapes differ from PyTorch's"
    );
}

/// Builds `name`, checks its parameter count and `state_dict` names, fills it, runs the fixture's input in eval
/// mode and compares with PyTorch's output: `max |diff| ≤ 1e-4 · max(1, max |expected|)`.
fn check_against_pytorch(name: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/zoo")
        .join(format!("{name}.safetensors"));
    let (tensors, meta) = load(&path).unwrap();
    let (net, _) = build(name, 0.0, 0).unwrap();
    let count = nn::num_parameters(&net);
    assert_eq!(count, expected_parameters(name), "{name}: parameters");
    assert_eq!(
        count.to_string(),
        meta["parameters"],
        "{name}: fixture count"
    );
    check_state_dict_names(name, &net, &meta);

    let shape: Vec<usize> = meta["input"]
        .split('x')
        .map(|d| d.parse().unwrap())
        .collect();
    let x = Tensor::from_vec(fill("input", &shape), &shape).unwrap();
    fill_module(&net);
    let trace = splot::no_grad(|| net.forward_trace(&x, Mode::Eval)).unwrap();
    let expected = |key: &str| &tensors.iter().find(|(n, _)| n == key).unwrap().1;
    let (diff, scale) = max_diff(trace.last().unwrap(), expected("output"));
    if name == "googlenet-aux" {
        check_aux_classifiers(&net, &trace, expected("aux1"), expected("aux2"));
    }
    println!("{name}: {count} parameters, max |expected| {scale}, max |diff| {diff}");
    assert!(
        diff <= 1e-4 * scale,
        "{name}: max |diff| {diff} exceeds 1e-4 · {scale}"
    );
}

/// GoogLeNet's auxiliary classifiers, evaluated on the traced outputs of inception 4a
/// and 4d (the taps themselves pass their input through in evaluation), against
/// PyTorch's `model.aux1(inception4a output)` in eval mode.
fn check_aux_classifiers(net: &Sequential, trace: &[Tensor], aux1: &Tensor, aux2: &Tensor) {
    let children: Vec<String> = net.children().into_iter().map(|(n, _)| n).collect();
    let at = |child: &str| &trace[children.iter().position(|n| n == child).unwrap()];
    for (label, c_in, tap, expected) in [
        ("aux1", 512, "inception4a", aux1),
        ("aux2", 528, "inception4d", aux2),
    ] {
        let aux =
            InceptionAux::new(c_in, 1000, label, Default::default(), &mut Rng::seed(0)).unwrap();
        fill_module_as(&aux, &format!("{label}."));
        let y = splot::no_grad(|| aux.logits(at(tap), Mode::Eval)).unwrap();
        let (diff, scale) = max_diff(&y, expected);
        println!("googlenet {label}: max |expected| {scale}, max |diff| {diff}");
        assert!(
            diff <= 1e-4 * scale,
            "{label}: max |diff| {diff} exceeds 1e-4 · {scale}"
        );
    }
}

macro_rules! against_pytorch {
    ($($test:ident => $name:literal),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                check_against_pytorch($name);
            }
        )*
    };
}

against_pytorch! {
    resnet18_equals_torchvision => "resnet18",
    resnet34_equals_torchvision => "resnet34",
    resnet50_equals_torchvision => "resnet50",
    resnet101_equals_torchvision => "resnet101",
    resnet152_equals_torchvision => "resnet152",
    plain18_equals_pytorch => "plain18",
    plain34_equals_pytorch => "plain34",
    plain50_equals_pytorch => "plain50",
    plain101_equals_pytorch => "plain101",
    plain152_equals_pytorch => "plain152",
    resnet20_equals_pytorch => "resnet20",
    resnet32_equals_pytorch => "resnet32",
    resnet44_equals_pytorch => "resnet44",
    resnet56_equals_pytorch => "resnet56",
    resnet110_equals_pytorch => "resnet110",
    plain20_equals_pytorch => "plain20",
    plain32_equals_pytorch => "plain32",
    plain44_equals_pytorch => "plain44",
    plain56_equals_pytorch => "plain56",
    plain110_equals_pytorch => "plain110",
    vgg11_equals_torchvision => "vgg11",
    vgg11_bn_equals_torchvision => "vgg11_bn",
    vgg13_equals_torchvision => "vgg13",
    vgg13_bn_equals_torchvision => "vgg13_bn",
    vgg16_equals_torchvision => "vgg16",
    vgg16_bn_equals_torchvision => "vgg16_bn",
    vgg19_equals_torchvision => "vgg19",
    vgg19_bn_equals_torchvision => "vgg19_bn",
    alexnet_equals_torchvision => "alexnet",
    alexnet_paper_equals_pytorch => "alexnet-paper",
    googlenet_equals_torchvision => "googlenet",
    googlenet_aux_equals_torchvision => "googlenet-aux",
}

#[test]
fn every_zoo_name_has_a_count_and_a_fixture() {
    for (name, _) in TORCHVISION_PARAMETERS {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/zoo")
            .join(format!("{name}.safetensors"));
        assert!(path.exists(), "{name}: no fixture");
        assert!(
            splot::models::model_names().contains(name),
            "{name}: not in the registry"
        );
    }
    use splot::models::{alexnet, googlenet, resnet, vgg};
    let families = [
        &alexnet::NAMES[..],
        &vgg::NAMES,
        &googlenet::NAMES,
        &resnet::NAMES,
    ];
    let zoo: Vec<&str> = families.concat();
    assert_eq!(zoo.len(), TORCHVISION_PARAMETERS.len());
    assert_eq!(&splot::models::model_names()[2..], &zoo[..]);
}

#[test]
fn resnet_state_dict_names_are_torchvision_names() {
    let (net, input) = build("resnet50", 0.0, 0).unwrap();
    assert_eq!(input, [3, 224, 224]);
    let names: Vec<String> = nn::named_tensors(&net)
        .into_iter()
        .map(|t| t.name)
        .collect();
    for want in [
        "conv1.weight",
        "bn1.running_mean",
        "layer1.0.conv1.weight",
        "layer1.0.bn3.num_batches_tracked",
        "layer1.0.downsample.0.weight",
        "layer1.0.downsample.1.running_var",
        "layer4.2.conv3.weight",
        "fc.bias",
    ] {
        assert!(names.iter().any(|n| n == want), "missing {want}");
    }
    // a plain network has no shortcut projections, a CIFAR one no parameters in them
    let (plain, _) = build("plain18", 0.0, 0).unwrap();
    assert!(nn::named_tensors(&plain)
        .iter()
        .all(|t| !t.name.contains("downsample")));
}

#[test]
fn vgg_and_alexnet_names_are_torchvision_names() {
    let names = |model: &str| -> Vec<String> {
        let (net, _) = build(model, 0.0, 0).unwrap();
        nn::named_tensors(&net)
            .into_iter()
            .map(|t| t.name)
            .collect()
    };
    let vgg = names("vgg16_bn");
    for want in [
        "features.0.weight",
        "features.1.running_var",
        "features.41.bias",
        "classifier.0.weight",
        "classifier.3.weight",
        "classifier.6.bias",
    ] {
        assert!(vgg.iter().any(|n| n == want), "vgg16_bn: missing {want}");
    }
    let alexnet = names("alexnet");
    for want in [
        "features.0.weight",
        "features.10.bias",
        "classifier.1.weight",
        "classifier.6.bias",
    ] {
        assert!(alexnet.iter().any(|n| n == want), "alexnet: missing {want}");
    }
    let (paper, input) = build("alexnet-paper", 0.0, 0).unwrap();
    assert_eq!(input, [3, 227, 227]);
    // conv2 in two groups: each output map reads 48 of the 96 maps
    let conv2 = nn::named_tensors(&paper)
        .into_iter()
        .find(|t| t.name == "features.4.weight")
        .unwrap();
    assert_eq!(conv2.tensor.shape(), &[256, 48, 5, 5]);
    // the paper's input size is the only one its classifier fits
    assert!(paper
        .forward(&Tensor::zeros(&[1, 3, 224, 224]), Mode::Eval)
        .is_err());
}

#[test]
fn googlenet_names_and_aux_classifiers() {
    let (net, input) = build("googlenet-aux", 0.0, 0).unwrap();
    assert_eq!(input, [3, 224, 224]);
    let names: Vec<String> = nn::named_tensors(&net)
        .into_iter()
        .map(|t| t.name)
        .collect();
    for want in [
        "conv1.conv.weight",
        "conv1.bn.running_mean",
        "inception3a.branch1.conv.weight",
        "inception3a.branch2.1.bn.bias",
        "inception4e.branch4.1.conv.weight",
        "aux1.conv.conv.weight",
        "aux2.fc1.weight",
        "aux2.fc2.bias",
        "fc.weight",
    ] {
        assert!(names.iter().any(|n| n == want), "missing {want}");
    }
    // torchvision's "5×5" branch is a 3×3 convolution
    let b3 = nn::named_tensors(&net)
        .into_iter()
        .find(|t| t.name == "inception3a.branch3.1.conv.weight")
        .unwrap();
    assert_eq!(b3.tensor.shape(), &[32, 16, 3, 3]);
    // the aux classifiers report their logits in training mode only
    let (net, aux) = googlenet(true, 0.2, 10, &mut Rng::seed(0)).unwrap();
    let x = Tensor::randn(&[2, 3, 64, 64], 0.0, 1.0, &mut Rng::seed(1));
    assert_eq!(net.forward(&x, Mode::Eval).unwrap().shape(), &[2, 10]);
    assert!(aux.lock().unwrap().is_empty());
    net.forward(&x, Mode::Train).unwrap();
    let aux = aux.lock().unwrap();
    let labels: Vec<&str> = aux.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(labels, ["aux1", "aux2"]);
    assert!(aux.iter().all(|(_, t)| t.shape() == [2, 10]));
}

#[test]
fn naive_inception_concatenates_its_branches() {
    let m = inception_naive(8, 4, 6, 2, &mut Rng::seed(0)).unwrap();
    let y = m.forward(&Tensor::ones(&[1, 8, 7, 7]), Mode::Eval).unwrap();
    // 1×1, 3×3 and 5×5 outputs, then the 8 pooled input channels, all 7×7
    assert_eq!(y.shape(), &[1, 4 + 6 + 2 + 8, 7, 7]);
    assert!(y.to_vec()[(12 * 49)..].iter().all(|&v| v == 1.0));
    assert_eq!(nn::num_parameters(&m), (4 + 6 * 9 + 2 * 25) * 8 + 12);
}

#[test]
fn summary_multiply_adds_equal_pytorch_counts() {
    // Σ over Conv2d (output elements · in/groups · kh · kw) and Linear (in · out), counted
    // with forward hooks on the PyTorch models at their default input sizes
    for (name, expected) in [
        ("resnet18", 1_814_073_344u64),
        ("resnet50", 4_089_184_256),
        ("alexnet-paper", 724_406_816),
        ("googlenet", 1_498_376_192),
        ("resnet20", 40_551_040),
    ] {
        let (net, input) = build(name, 0.0, 0).unwrap();
        let rows = nn::summary(&net, &input).unwrap();
        let macs: u64 = rows.iter().map(|r| r.multiply_adds).sum();
        assert_eq!(macs, expected, "{name}");
    }
    assert_eq!(nn::format_count(1_814_073_344), "1.81 G");
    assert_eq!(nn::format_count(40_551_040), "40.6 M");
    assert_eq!(nn::format_count(999), "999");
}

#[test]
fn bad_input_shapes_are_errors() {
    let (net, _) = build("resnet20", 0.0, 0).unwrap();
    let e = net
        .forward(&Tensor::zeros(&[1, 1, 32, 32]), Mode::Eval)
        .unwrap_err()
        .to_string();
    assert!(e.contains("conv1"), "{e}");
    assert!(net
        .forward(&Tensor::zeros(&[3, 32, 32]), Mode::Eval)
        .is_err());
    assert!(build("resnet19", 0.0, 0).is_err());
    // inputs too small or of the wrong rank are errors (or fine), never panics
    for (model, shape) in [
        ("resnet18", &[1, 3, 1, 1][..]),
        ("resnet50", &[1, 3, 2, 2]),
        ("plain20", &[1, 3, 1, 1]),
        ("googlenet-aux", &[1, 3, 3, 3]),
        ("vgg11_bn", &[1, 3, 8, 8]),
        ("alexnet", &[1, 3, 16, 16]),
        ("alexnet-paper", &[1, 3, 64, 64]),
        ("googlenet", &[3, 64, 64]),
    ] {
        let (net, _) = build(model, 0.0, 0).unwrap();
        for mode in [Mode::Eval, Mode::Train] {
            let _ = net.forward(&Tensor::zeros(shape), mode);
        }
    }
    assert!(build("resnet18", 0.5, 0).is_err());
}

/// Trains `name` for 12 SGD steps on 4 random 3×32×32 images with fixed labels; the loss
/// must fall below half its start.
fn overfits_a_tiny_batch(name: &str) {
    let mut rng = Rng::seed(7);
    let (net, _) = build(name, 0.0, 1).unwrap();
    let x = Tensor::randn(&[4, 3, 32, 32], 0.0, 1.0, &mut rng);
    let targets = [1, 5, 7, 3];
    let mut opt = Sgd::new(nn::parameters(&net), 0.05).momentum(0.9).unwrap();
    let mut losses = Vec::new();
    for _ in 0..12 {
        let loss = net
            .forward(&x, Mode::Train)
            .unwrap()
            .cross_entropy(&targets, &Default::default())
            .unwrap();
        losses.push(loss.item().unwrap());
        opt.step(&loss.backward().unwrap()).unwrap();
    }
    println!("{name} losses: {losses:?}");
    assert!(losses.iter().all(|l| l.is_finite()), "{losses:?}");
    assert!(
        losses[losses.len() - 1] < 0.5 * losses[0],
        "{name}: the loss must fall: {losses:?}"
    );
}

#[test]
fn resnet18_overfits_a_tiny_batch() {
    overfits_a_tiny_batch("resnet18");
}

#[test]
fn cifar_resnet20_with_zero_pad_shortcuts_overfits_a_tiny_batch() {
    overfits_a_tiny_batch("resnet20");
}
