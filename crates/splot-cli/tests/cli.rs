//! The `splot` binary: `--help`, `--version`, and `splot pad` printing exactly the lecture's
//! tables (`shared/lecture/README.md` §3), with clear errors for bad input.

use std::process::{Command, Output};

fn splot(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_splot"))
        .args(args)
        .output()
        .expect("run splot")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

const TABLES: [(&str, &str); 5] = [
    (
        "zeros",
        "0 0 0 0 0 0 0 0\n0 0 0 0 0 0 0 0\n0 0 1 4 2 3 0 0\n0 0 6 1 1 7 0 0\n0 0 1 2 1 4 0 0\n0 0 1 5 1 2 0 0\n0 0 0 0 0 0 0 0\n0 0 0 0 0 0 0 0\n",
    ),
    (
        "replicate",
        "1 1 1 4 2 3 3 3\n1 1 1 4 2 3 3 3\n1 1 1 4 2 3 3 3\n6 6 6 1 1 7 7 7\n1 1 1 2 1 4 4 4\n1 1 1 5 1 2 2 2\n1 1 1 5 1 2 2 2\n1 1 1 5 1 2 2 2\n",
    ),
    (
        "symmetric",
        "1 6 6 1 1 7 7 1\n4 1 1 4 2 3 3 2\n4 1 1 4 2 3 3 2\n1 6 6 1 1 7 7 1\n2 1 1 2 1 4 4 1\n5 1 1 5 1 2 2 1\n5 1 1 5 1 2 2 1\n2 1 1 2 1 4 4 1\n",
    ),
    (
        "circular",
        "1 4 1 2 1 4 1 2\n1 2 1 5 1 2 1 5\n2 3 1 4 2 3 1 4\n1 7 6 1 1 7 6 1\n1 4 1 2 1 4 1 2\n1 2 1 5 1 2 1 5\n2 3 1 4 2 3 1 4\n1 7 6 1 1 7 6 1\n",
    ),
    (
        "reflect",
        "1 2 1 2 1 4 1 2\n1 1 6 1 1 7 1 1\n2 4 1 4 2 3 2 4\n1 1 6 1 1 7 1 1\n1 2 1 2 1 4 1 2\n1 5 1 5 1 2 1 5\n1 2 1 2 1 4 1 2\n1 1 6 1 1 7 1 1\n",
    ),
];

#[test]
fn help_and_version() {
    let o = splot(&["--help"]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("pad"));
    let o = splot(&["--version"]);
    assert!(o.status.success());
    assert!(stdout(&o).starts_with("splot "));
}

#[test]
fn pad_prints_every_lecture_table() {
    let o = splot(&["pad"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for (mode, table) in TABLES {
        let section = format!("{mode} (p = 2):\n{table}");
        assert!(out.contains(&section), "missing {mode} table in:\n{out}");
    }
}

#[test]
fn pad_one_mode_prints_just_its_table() {
    for (mode, table) in TABLES {
        let o = splot(&["pad", "--mode", mode]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(stdout(&o), table, "{mode}");
    }
}

#[test]
fn pad_other_inputs() {
    let o = splot(&[
        "pad",
        "--mode",
        "symmetric",
        "--pad",
        "1",
        "--input",
        "1 2;3 4",
    ]);
    assert_eq!(stdout(&o), "1 1 2 2\n1 1 2 2\n3 3 4 4\n3 3 4 4\n");
    let o = splot(&[
        "pad",
        "--mode",
        "reflect",
        "--pad",
        "1",
        "--input",
        "1, 2, 3; 4 5 6",
    ]);
    assert_eq!(stdout(&o), "5 4 5 6 5\n2 1 2 3 2\n5 4 5 6 5\n2 1 2 3 2\n");
    let o = splot(&["pad", "--mode", "zeros", "--pad", "1", "--input", "-1.5 10"]);
    assert_eq!(
        stdout(&o),
        "   0    0    0    0\n   0 -1.5   10    0\n   0    0    0    0\n"
    );
}

#[test]
fn pad_errors_are_clear() {
    let o = splot(&["pad", "--mode", "reflect", "--pad", "4"]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("reflect") && e.contains("p < n") && e.contains("size 4"),
        "{e}"
    );
    let o = splot(&["pad", "--mode", "symmetric", "--pad", "5"]);
    assert!(stderr(&o).contains("p ≤ n"));
    let o = splot(&["pad", "--mode", "mirror"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("unknown mode 'mirror'"));
    let o = splot(&["pad", "--input", "1 2; 3"]);
    assert!(
        stderr(&o).contains("row 2 has 1 values but row 1 has 2"),
        "{}",
        stderr(&o)
    );
    let o = splot(&["pad", "--input", "1 x"]);
    assert!(stderr(&o).contains("'x' is not a number"));
}

#[test]
fn summary_of_lenet5() {
    let o = splot(&["summary", "lenet5"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for line in [
        "c3               ConnectionTableConv          16×10×10        1 516",
        "total parameters: 60 850",
    ] {
        assert!(out.contains(line), "missing '{line}' in\n{out}");
    }
    let o = splot(&["summary", "lenet5", "--input", "1x28x28"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("c5 (Conv2d)"), "{}", stderr(&o));
    let o = splot(&["summary", "nonet"]);
    assert!(stderr(&o).contains("unknown model 'nonet'") && stderr(&o).contains("lenet5-relu"));
    let o = splot(&["summary", "lenet5", "--input", "1x28"]);
    assert!(stderr(&o).contains("C×H×W"));
}

#[test]
fn summary_of_zoo_networks() {
    let o = splot(&["summary", "resnet20"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for line in [
        "layer3           Sequential                     64×8×8      203 520",
        "total parameters: 269 722",
    ] {
        assert!(out.contains(line), "missing '{line}' in\n{out}");
    }
    let o = splot(&["summary", "googlenet", "--input", "3x64x64"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for line in [
        "inception5b      Inception                    1024×2×2    1 347 040",
        "total parameters: 6 624 904",
    ] {
        assert!(out.contains(line), "missing '{line}' in\n{out}");
    }
    let o = splot(&["summary", "alexnet-paper", "--input", "3x224x224"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("classifier"), "{}", stderr(&o));
    let o = splot(&["summary", "nonet"]);
    assert!(stderr(&o).contains("resnet152") && stderr(&o).contains("vgg16_bn"));
}

#[test]
fn train_eval_predict_on_a_small_subset() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let run_s = run.to_str().unwrap();
    let o = splot(&[
        "train",
        "--model",
        "lenet5-relu",
        "--epochs",
        "1",
        "--limit-train",
        "3000",
        "--limit-test",
        "500",
        "--out",
        run_s,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("epoch 1/1") && stdout(&o).contains("best test accuracy"),
        "{}",
        stdout(&o)
    );
    for f in ["last.safetensors", "best.safetensors", "metrics.csv"] {
        assert!(run.join(f).exists(), "{f}");
    }
    // a second run into the same directory must not overwrite it
    let o = splot(&["train", "--epochs", "1", "--out", run_s]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("already holds a run") && stderr(&o).contains("--resume"),
        "{}",
        stderr(&o)
    );
    // eval: accuracy, per class, confusion matrix
    let best = run.join("best.safetensors");
    let o = splot(&["eval", best.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("test accuracy")
            && out.contains("per class:")
            && out.contains("confusion matrix"),
        "{out}"
    );
    // predict: a drawn "1" (a dark vertical bar on white), any size, colour
    let img = image::RgbImage::from_fn(40, 60, |x, _| {
        if (17..23).contains(&x) {
            image::Rgb([20, 20, 30])
        } else {
            image::Rgb([250, 250, 250])
        }
    });
    let png = dir.path().join("one.png");
    img.save(&png).unwrap();
    let o = splot(&["predict", best.to_str().unwrap(), png.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let line = stdout(&o);
    assert!(
        line.starts_with(&format!("{}: 1 (", png.display())),
        "{line}"
    );
    // an image that cannot be decoded is a clear error naming it
    let bad = dir.path().join("bad.png");
    std::fs::write(&bad, b"not an image").unwrap();
    let o = splot(&["predict", best.to_str().unwrap(), bad.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("bad.png") && stderr(&o).contains("decode"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn predict_with_a_zoo_network_and_safetensors_weights() {
    let dir = tempfile::tempdir().unwrap();
    let (net, _) = splot::models::build("resnet18", 0.0, 3).unwrap();
    let weights = dir.path().join("resnet18.safetensors");
    splot::io::safetensors::save_module(&weights, &net, &Default::default()).unwrap();
    let pictures: Vec<_> = [(300u32, 200u32), (64, 90)]
        .iter()
        .enumerate()
        .map(|(i, &(w, h))| {
            let img = image::RgbImage::from_fn(w, h, |x, y| {
                image::Rgb([(x * 3) as u8, (y * 2) as u8, 100 + i as u8 * 50])
            });
            let path = dir.path().join(format!("p{i}.jpg"));
            img.save(&path).unwrap();
            path
        })
        .collect();
    let w = weights.to_str().unwrap();
    let (a, b) = (pictures[0].to_str().unwrap(), pictures[1].to_str().unwrap());
    let o = splot(&["predict", "--model", "resnet18", "--weights", w, a, b]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    for (line, pic) in lines.iter().zip([a, b]) {
        assert!(line.starts_with(&format!("{pic}: ")), "{line}");
        assert_eq!(line.matches(" %)").count(), 5, "top-5 in {line}");
    }
    // weights of another network: every mismatch listed, nothing run
    let o = splot(&["predict", "--model", "resnet34", "--weights", w, a]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("missing from the file") && e.contains("layer1.2.conv1.weight"),
        "{e}"
    );
    let o = splot(&["predict", "--model", "resnet18", a]);
    assert!(!o.status.success(), "--model needs --weights");
}

#[test]
fn predict_with_torchvision_weights_that_lack_the_batch_counters() {
    // scripts/fixtures_weights.py: torchvision's resnet18 without `num_batches_tracked`.
    let weights = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../splot/tests/fixtures/weights/resnet18-no-nbt.safetensors");
    let dir = tempfile::tempdir().unwrap();
    let pic = dir.path().join("p.png");
    image::RgbImage::from_fn(80, 60, |x, y| {
        image::Rgb([(x * 3) as u8, (y * 4) as u8, 90])
    })
    .save(&pic)
    .unwrap();
    let w = weights.to_str().unwrap();
    let o = splot(&[
        "predict",
        "--model",
        "resnet18",
        "--weights",
        w,
        pic.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).matches(" %)").count(), 5, "{}", stdout(&o));
    let e = stderr(&o);
    assert!(
        e.contains("20 buffer(s) missing from the file set to 0")
            && e.contains("bn1.num_batches_tracked")
            && e.contains("layer4.1.bn2.num_batches_tracked"),
        "{e}"
    );
}

#[test]
fn filters_of_a_zoo_network_from_safetensors_weights() {
    let dir = tempfile::tempdir().unwrap();
    let (net, _) = splot::models::build("alexnet", 0.0, 5).unwrap();
    let weights = dir.path().join("alexnet.safetensors");
    splot::io::safetensors::save_module(&weights, &net, &Default::default()).unwrap();
    let out = dir.path().join("conv1.png");
    let o = splot(&[
        "filters",
        "--model",
        "alexnet",
        "--weights",
        weights.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("[64, 3, 11, 11]"), "{}", stdout(&o));
    let img = image::open(&out).unwrap().to_rgb8();
    // 64 colour tiles of 11×11 scaled ×8: the picture holds at least 64 tiles' pixels
    assert!(img.width() as usize * img.height() as usize >= 64 * 88 * 88);
    let o = splot(&["filters", "--out", out.to_str().unwrap()]);
    assert!(
        !o.status.success() && stderr(&o).contains("--model NAME --weights FILE"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn features_and_saliency_of_a_colour_zoo_network() {
    let dir = tempfile::tempdir().unwrap();
    let (net, _) = splot::models::build("resnet18", 0.0, 9).unwrap();
    let weights = dir.path().join("r18.safetensors");
    splot::io::safetensors::save_module(&weights, &net, &Default::default()).unwrap();
    let pic = dir.path().join("pic.png");
    image::RgbImage::from_fn(120, 100, |x, y| image::Rgb([x as u8, y as u8, 200]))
        .save(&pic)
        .unwrap();
    let (w, p) = (weights.to_str().unwrap(), pic.to_str().unwrap());
    let maps = dir.path().join("maps.png");
    let o = splot(&[
        "features",
        "--model",
        "resnet18",
        "--weights",
        w,
        p,
        "--layer",
        "conv1",
        "--out",
        maps.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(image::open(&maps).unwrap().width() > 0);
    let sal = dir.path().join("sal.png");
    let o = splot(&[
        "saliency",
        "--model",
        "resnet18",
        "--weights",
        w,
        p,
        "--out",
        sal.to_str().unwrap(),
        "--scale",
        "1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let img = image::open(&sal).unwrap();
    assert_eq!(
        (img.width(), img.height()),
        (224, 224),
        "ImageNet crop, one pixel per input pixel"
    );
    let o = splot(&[
        "saliency",
        "--model",
        "resnet18",
        "--weights",
        w,
        "--out",
        sal.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
}

/// Issue 22: sizes a user controls are checked before anything is allocated. Each of these
/// aborted or was killed for memory before (exit 134, 137, a "capacity overflow" panic).
#[test]
fn sizes_that_cannot_abort() {
    let o = splot(&["pad", "--pad", "100000000"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("pad2d") && e.contains("would need"), "{e}");

    // summary infers shapes without allocating: a 10¹²-pixel input prints its table
    let o = splot(&["summary", "resnet18", "--input", "3x1000000x1000000"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("fc") && out.contains("11 689 512"), "{out}");

    // element counts that overflow usize: a clear error, exit 1
    let o = splot(&[
        "summary",
        "resnet18",
        "--input",
        "3x100000000000x100000000000",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("would need") && e.contains("100000000000"),
        "{e}"
    );
}
