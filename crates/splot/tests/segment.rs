//! Segmentation: torchvision's `fcn_resnet50` (main and auxiliary heads) equal to
//! torchvision's for the same weights on two input sizes; the metrics equal to
//! torchvision's reference `ConfusionMatrix` on a fixture; FCN crops equal to the paper's;
//! every network built, summarised and run at odd sizes; networks that learn the digit
//! scenes through the one training loop and come back from their checkpoint; and the bad
//! inputs (a mask value outside the classes, an image and mask of different sizes, a
//! network with the wrong number of classes, unknown names).

use splot::data::image::{write_image, write_mask};
use splot::data::scenes::ScenesConfig;
use splot::data::{Image, Mask};
use splot::io::safetensors::load;
use splot::nn::{self, Mode};
use splot::tasks::segment::fcn::{Backbone, Fcn, Skips};
use splot::tasks::segment::{
    build, heads, load_segmenter, loader, model, predict, ConfusionMatrix, ModelSpec, Segment,
    SegmentData, SegmentOptions, NAMES,
};
use splot::testing::{fill, fill_into, fnv1a64};
use splot::train::{fit, read_metrics, Outcome, Task, TrainConfig};
use splot::{Rng, Tensor};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/segment")
        .join(name)
}

fn spec(name: &str, classes: usize, channels: usize) -> ModelSpec {
    ModelSpec {
        name: name.into(),
        classes,
        channels,
        aux: false,
        dropout: 0.0,
        seed: 0,
    }
}

/// `max |diff| / max(1, max |expected|)`.
fn relative_error(actual: &Tensor, expected: &Tensor) -> f32 {
    assert_eq!(actual.shape(), expected.shape(), "output shape");
    let (y, e) = (actual.to_vec(), expected.to_vec());
    let scale = e.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    let diff = y
        .iter()
        .zip(&e)
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    diff / scale
}

#[test]
fn fcn_resnet50_equals_torchvision_on_two_sizes() {
    let (tensors, meta) = load(&fixture("fcn_resnet50.safetensors")).unwrap();
    let net = build(&ModelSpec {
        aux: true,
        ..spec("fcn_resnet50", 5, 3)
    })
    .unwrap();
    assert_eq!(
        nn::num_parameters(net.as_ref()).to_string(),
        meta["parameters"]
    );
    let named = nn::named_tensors(net.as_ref());
    let mut lines: Vec<String> = named
        .iter()
        .map(|t| {
            let shape: Vec<String> = t.tensor.shape().iter().map(|d| d.to_string()).collect();
            format!("{}:{}", t.name, shape.join("x"))
        })
        .collect();
    lines.sort();
    assert_eq!(lines.len().to_string(), meta["state_dict_entries"]);
    assert_eq!(
        format!("{:016x}", fnv1a64(&lines.join("\n"))),
        meta["state_dict_fnv1a"],
        "state_dict names and shapes differ from torchvision's"
    );
    for t in &named {
        let shape = t.tensor.shape().to_vec();
        fill_into(&t.name, &shape, &mut t.tensor.data_mut());
    }
    let expected = |key: &str| &tensors.iter().find(|(n, _)| n == key).unwrap().1;
    for (h, w) in [(67, 91), (100, 80)] {
        let x = Tensor::from_vec(fill("input", &[1, 3, h, w]), &[1, 3, h, w]).unwrap();
        let y = splot::no_grad(|| heads(net.as_ref(), &x, Mode::Eval)).unwrap();
        let e_out = relative_error(&y.out, expected(&format!("out_{h}x{w}")));
        let e_aux = relative_error(y.aux.as_ref().unwrap(), expected(&format!("aux_{h}x{w}")));
        println!("{h}x{w}: relative error out {e_out:e}, aux {e_aux:e}");
        assert!(e_out <= 1e-4 && e_aux <= 1e-4, "{h}x{w}: {e_out} {e_aux}");
    }
}

#[test]
fn metrics_equal_torchvision_reference_confusion_matrix() {
    let (t, _) = load(&fixture("metrics.safetensors")).unwrap();
    let get = |k: &str| t.iter().find(|(n, _)| n == k).unwrap().1.to_vec();
    let truth: Vec<u8> = get("truth").iter().map(|&v| v as u8).collect();
    let pred: Vec<usize> = get("pred").iter().map(|&v| v as usize).collect();
    let mut m = ConfusionMatrix::new(7);
    // in two parts, merged: the same as one update
    let (a, b) = (ConfusionMatrix::new(7), 1500);
    let mut first = a.clone();
    first.update(&truth[..b], &pred[..b]).unwrap();
    m.update(&truth[b..], &pred[b..]).unwrap();
    m.merge(&first);
    let matrix = get("matrix");
    for tc in 0..7 {
        for pc in 0..7 {
            assert_eq!(m.get(tc, pc) as f32, matrix[tc * 7 + pc], "({tc}, {pc})");
        }
    }
    let s = m.scores();
    let close = |a: f64, b: f32| (a - b as f64).abs() < 1e-6;
    assert!(close(s.pixel_accuracy, get("acc_global")[0]));
    let (acc, iu) = (get("acc"), get("iu"));
    for c in 0..7 {
        assert!(close(s.class_accuracy[c], acc[c]), "class {c} accuracy");
        assert!(close(s.iou[c], iu[c]), "class {c} IoU");
    }
    let mean = iu.iter().map(|&v| v as f64).sum::<f64>() / 7.0;
    assert!((s.mean_iou - mean).abs() < 1e-6);
    assert_eq!(s.iou[3], 0.0, "class 3 is never predicted");
}

#[test]
fn fcn_crops_on_vgg16_are_the_papers() {
    for (skips, offsets) in [
        (Skips::None, [0, 0, 19]),
        (Skips::Pool4, [5, 0, 27]),
        (Skips::Pool4Pool3, [5, 9, 31]),
    ] {
        let net = Fcn::new(Backbone::Vgg16, skips, 3, 21, 0.5, &mut Rng::seed(0)).unwrap();
        assert_eq!(net.offsets(), offsets, "{skips:?}");
        if skips == Skips::Pool4Pool3 {
            // torchvision's vgg16().features names, and the paper's layers
            let names: Vec<String> = nn::named_tensors(&net)
                .into_iter()
                .map(|t| t.name)
                .collect();
            for n in [
                "features.0.weight",
                "features.28.bias",
                "fc6.weight",
                "score_pool3.weight",
                "upscore8.weight",
            ] {
                assert!(names.iter().any(|m| m == n), "{n} in {names:?}");
            }
            assert_eq!(nn::num_parameters(&net), 134_489_759, "FCN-8s parameters");
        }
    }
    for skips in [Skips::None, Skips::Pool4, Skips::Pool4Pool3] {
        let net = Fcn::new(Backbone::Small, skips, 1, 11, 0.0, &mut Rng::seed(0)).unwrap();
        assert_eq!(net.offsets(), [0, 0, 0], "small {skips:?}");
    }
}

#[test]
fn every_network_scores_every_pixel_at_odd_sizes() {
    for name in NAMES {
        if ["fcn32s", "fcn16s", "fcn8s", "fcn_resnet101"].contains(&name) {
            continue; // VGG16 and ResNet-101: the same code as their small and 50 kin
        }
        let channels = model::default_input(&spec(name, 4, 3))[0];
        let c = if name.ends_with("-small") || name == "multiscale" {
            1
        } else {
            channels
        };
        let net = build(&spec(name, 4, c)).unwrap();
        for (h, w) in [(45, 61), (64, 64)] {
            let x = Tensor::randn(&[2, c, h, w], 0.0, 1.0, &mut Rng::seed(1));
            let y = splot::no_grad(|| heads(net.as_ref(), &x, Mode::Eval)).unwrap();
            assert_eq!(y.out.shape(), &[2, 4, h, w], "{name} {h}x{w}");
            let rows = model::summary(net.as_ref(), &[c, h, w]).unwrap();
            let params: usize = rows.iter().map(|r| r.parameters).sum();
            assert_eq!(
                params,
                nn::num_parameters(net.as_ref()),
                "{name}: summary parameters"
            );
            assert_eq!(
                rows.last().unwrap().output_shape,
                vec![1, 4, h, w],
                "{name}"
            );
        }
    }
}

#[test]
fn untrained_fcns_start_from_zero_scores() {
    // With score_fr set to pass one channel through, FCN-32s's output away from the border
    // is the bilinear ×32 upsampling of that channel: the transposed convolution starts as
    // bilinear interpolation.
    let net = Fcn::new(Backbone::Small, Skips::None, 1, 2, 0.0, &mut Rng::seed(0)).unwrap();
    let x = Tensor::randn(&[1, 1, 128, 128], 0.0, 1.0, &mut Rng::seed(3));
    let y = splot::no_grad(|| heads(&net, &x, Mode::Eval)).unwrap().out;
    // score layers start at zero: every logit is 0, the loss is log(classes)
    assert!(y.to_vec().iter().all(|&v| v == 0.0));
}

#[test]
fn unknown_names_and_impossible_specs_are_errors_naming_them() {
    let e = build(&spec("fcn4s", 3, 3)).err().unwrap().to_string();
    assert!(e.contains("fcn4s") && e.contains("fcn8s"), "{e}");
    let e = build(&spec("fcn_resnet50", 0, 3))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("0 classes"), "{e}");
    let e = build(&spec("fcn_resnet50", 3, 1))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("3-channel"), "{e}");
    let e = build(&ModelSpec {
        aux: true,
        ..spec("fcn8s-small", 3, 1)
    })
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("auxiliary"), "{e}");
    let net = build(&spec("fcn8s-small", 3, 1)).unwrap();
    let e = heads(net.as_ref(), &Tensor::zeros(&[1, 3, 32, 32]), Mode::Eval)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("[n, 1, h, w]"), "{e}");
}

// ------------------------------------------------------------------- data and training

/// A VOC directory of `n` 16×16 grey images whose masks are `mask(k)`, classes.txt with
/// `classes` names, `train` and `val` listing all.
fn voc_dir(n: usize, classes: usize, mask: impl Fn(usize) -> Mask) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for sub in ["JPEGImages", "SegmentationClass", "ImageSets/Segmentation"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
    let mut ids = String::new();
    for k in 0..n {
        let id = format!("img{k}");
        write_image(
            &root.join(format!("JPEGImages/{id}.png")),
            &Image::new(1, 16, 16, vec![k as u8 * 9; 256]).unwrap(),
        )
        .unwrap();
        write_mask(&root.join(format!("SegmentationClass/{id}.png")), &mask(k)).unwrap();
        ids.push_str(&id);
        ids.push('\n');
    }
    for split in ["train", "val"] {
        std::fs::write(
            root.join(format!("ImageSets/Segmentation/{split}.txt")),
            &ids,
        )
        .unwrap();
    }
    let names: Vec<String> = (0..classes).map(|c| format!("c{c}")).collect();
    std::fs::write(root.join("classes.txt"), names.join("\n")).unwrap();
    dir
}

fn first_error(data: &SegmentData) -> Option<String> {
    let l = loader(
        &SegmentOptions::new("fcn8s-small", data.classes.clone(), 1),
        data.train.clone(),
        4,
        None,
        None,
    )
    .unwrap();
    l.epoch(0).find_map(|b| b.err()).map(|e| e.to_string())
}

#[test]
fn a_mask_value_outside_the_classes_is_named_with_its_file_but_255_is_not() {
    let dir = voc_dir(3, 3, |k| {
        let mut m = vec![0u8; 256];
        m[17] = 255;
        if k == 2 {
            m[40] = 37;
        }
        Mask::new(16, 16, m).unwrap()
    });
    let data = SegmentData::open(dir.path()).unwrap();
    let e = first_error(&data).expect("an error");
    assert!(
        e.contains("img2.png") && e.contains("37") && e.contains("3 classes"),
        "{e}"
    );
    assert!(e.contains("row 2, column 8"), "{e}");
    let ok = voc_dir(3, 3, |_| Mask::new(16, 16, vec![255; 256]).unwrap());
    assert_eq!(first_error(&SegmentData::open(ok.path()).unwrap()), None);
}

#[test]
fn an_image_and_mask_of_different_sizes_are_an_error_naming_both() {
    let dir = voc_dir(2, 3, |k| {
        let side = if k == 1 { 12 } else { 16 };
        Mask::new(side, side, vec![1; side * side]).unwrap()
    });
    let data = SegmentData::open(dir.path()).unwrap();
    let e = first_error(&data).expect("an error");
    assert!(
        e.contains("img1.png") && e.contains("12×12") && e.contains("16×16"),
        "{e}"
    );
}

fn scenes(dir: &Path, train: usize, val: usize, size: usize) -> SegmentData {
    let cfg = ScenesConfig {
        train,
        val,
        size,
        seed: 0,
    };
    SegmentData::scenes(dir, &cfg).unwrap().0
}

#[test]
fn a_network_for_other_classes_is_refused_for_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = scenes(dir.path(), 4, 2, 32);
    assert_eq!(data.classes.len(), 11);
    let options = SegmentOptions::new("fcn8s-small", (0..21).map(|c| c.to_string()).collect(), 1);
    let task = Segment::new(&TrainConfig::default(), &options).unwrap();
    let e = task.check_classes(&data).err().unwrap().to_string();
    assert!(e.contains("21 classes") && e.contains("has 11"), "{e}");
    let options = SegmentOptions {
        class_weights: Some(vec![1.0; 3]),
        ..SegmentOptions::new("fcn8s-small", data.classes.clone(), 1)
    };
    let e = Segment::new(&TrainConfig::default(), &options)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("3 class weights for 11 classes"), "{e}");
}

/// Trains `model` on 16 small digit scenes and validates on the same 16 (a network that
/// learns fits its training data); returns the first and best mIoU.
fn learns(name: &str, epochs: usize, lr: f32) -> (f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let data = scenes(&dir.path().join("scenes"), 16, 2, 48);
    let config = TrainConfig {
        model: name.into(),
        epochs,
        batch_size: 4,
        optimizer: splot::train::OptimizerKind::Adam,
        lr,
        dropout: 0.0,
        ..Default::default()
    };
    let options = SegmentOptions::new(name, data.classes.clone(), data.channels);
    let task = Segment::new(&config, &options).unwrap();
    task.check_classes(&data).unwrap();
    let tl = loader(&options, data.train.clone(), 4, None, Some(&config)).unwrap();
    let vl = loader(&options, data.train.clone(), 8, None, None).unwrap();
    let before = task.evaluate(&vl).unwrap();
    let run = dir.path().join("run");
    let outcome = fit(
        &task,
        &config,
        &tl,
        &vl,
        &run,
        None,
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .unwrap();
    let Outcome::Finished { best, .. } = outcome else {
        panic!("not finished")
    };
    let rows = read_metrics(&run.join("metrics.csv")).unwrap();
    assert_eq!(rows.len(), epochs);
    assert!(rows[0].get("test_iou_background").is_some());
    // the checkpoint predicts what the trained network does
    let back = load_segmenter(&run.join("last.safetensors")).unwrap();
    let batch = vl.epoch(0).next().unwrap().unwrap();
    let a = predict(task.segmenter(), &batch.images).unwrap();
    let b = predict(back.segmenter(), &batch.images).unwrap();
    assert_eq!(a, b, "{name}: the checkpoint predicts otherwise");
    let miou = before.iter().find(|(n, _)| n == "miou").unwrap().1;
    println!("{name}: mIoU {miou:.3} before, best {best:.3} after {epochs} epochs");
    (miou, best)
}

#[test]
fn fcn8s_small_fits_digit_scenes() {
    let (before, best) = learns("fcn8s-small", 40, 2e-3);
    assert!(best > 0.5 && best > before + 0.3, "{before} → {best}");
}

#[test]
fn multiscale_fits_digit_scenes() {
    // Farabet's three-layer network learns slower than the ten-layer FCN (0.35 here)
    let (before, best) = learns("multiscale", 40, 6e-3);
    assert!(best > 0.25 && best > before + 0.2, "{before} → {best}");
}

#[test]
fn a_checkpoint_of_another_task_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.safetensors");
    let net = build(&spec("fcn8s-small", 3, 1)).unwrap();
    splot::io::safetensors::save_module(&path, net.as_ref(), &Default::default()).unwrap();
    let e = load_segmenter(&path).err().unwrap().to_string();
    assert!(e.contains("x.safetensors"), "{e}");
}
