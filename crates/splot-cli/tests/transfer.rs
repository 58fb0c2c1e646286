//! `splot finetune` (transfer from MNIST to the UCI digits), and `splot index` / `splot
//! search` (retrieval by learned features on MNIST), end to end on the binary.

use splot::io::safetensors::load;
use splot::Tensor;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

fn splot(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_splot"))
        .args(args)
        .output()
        .expect("run splot")
}

fn ok(args: &[&str]) -> String {
    let o = splot(args);
    assert!(
        o.status.success(),
        "splot {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

fn fails(args: &[&str]) -> String {
    let o = splot(args);
    assert_eq!(
        o.status.code(),
        Some(1),
        "splot {} should fail",
        args.join(" ")
    );
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn uci() -> String {
    splot::data::UciDigits::locate()
        .unwrap()
        .display()
        .to_string()
}

fn mnist() -> String {
    splot::data::Mnist::locate().unwrap().display().to_string()
}

/// LeNet-5 trained on MNIST for 3 epochs (about 10 s; once for every test here).
fn source() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("mnist");
        ok(&[
            "train",
            "--epochs",
            "3",
            "--limit-test",
            "1000",
            "--out",
            out.to_str().unwrap(),
        ]);
        dir
    });
    Box::leak(Box::new(dir.path().join("mnist/last.safetensors")))
}

/// The last epoch's test accuracy of a run (its metrics.csv, read as the loop writes it).
fn accuracy(run: &Path) -> f64 {
    let rows = splot::train::read_metrics(&run.join("metrics.csv")).unwrap();
    rows.last().unwrap().get("test_accuracy").unwrap()
}

fn tensors(path: &Path) -> Vec<(String, Tensor)> {
    load(path).unwrap().0
}

fn tensor(t: &[(String, Tensor)], name: &str) -> Vec<f32> {
    t.iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no {name}"))
        .1
        .to_vec()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn fine_tuning_from_mnist_beats_training_from_scratch_with_ten_labels_per_class() {
    let dir = tempfile::tempdir().unwrap();
    let (scratch, tuned) = (dir.path().join("scratch"), dir.path().join("tuned"));
    let common = [
        "--data",
        &uci(),
        "--per-class",
        "10",
        "--epochs",
        "30",
        "--batch-size",
        "16",
        "--seed",
        "3",
    ];
    let mut args = vec!["train", "--out", s(&scratch)];
    args.extend(common);
    ok(&args);
    // Fine-tuning the top layers (F6 and the new head), the best method of
    // docs/transfer.md at 10 labels per class.
    let mut args = vec![
        "finetune",
        s(source()),
        "--train-from",
        "f6",
        "--out",
        s(&tuned),
    ];
    args.extend(common);
    let out = ok(&args);
    assert!(out.contains("new head output (10 classes)"), "{out}");
    assert!(out.contains("on 100 images of UCI digits"), "{out}");
    let (a, b) = (accuracy(&scratch), accuracy(&tuned));
    eprintln!("UCI digits, 10 labels per class: scratch {a:.4}, fine-tuned from MNIST {b:.4}");
    assert!(b > a + 0.03, "fine-tuned {b} does not beat scratch {a}");
    // The fine-tuned run is an ordinary classifier checkpoint.
    let e = ok(&["eval", s(&tuned.join("best.safetensors")), "--data", &uci()]);
    assert!(e.contains("accuracy"), "{e}");
}

#[test]
fn a_probe_trains_only_the_head_and_train_from_freezes_what_is_below() {
    let dir = tempfile::tempdir().unwrap();
    let src = tensors(source());
    let common = [
        "--data",
        &uci(),
        "--per-class",
        "10",
        "--epochs",
        "4",
        "--batch-size",
        "16",
    ];
    let probe = dir.path().join("probe");
    let mut args = vec!["finetune", s(source()), "--probe", "--out", s(&probe)];
    args.extend(common);
    let out = ok(&args);
    assert!(
        out.contains("frozen: c1.* s2.* c3.* s4.* c5.* f6.*"),
        "{out}"
    );
    let got = tensors(&probe.join("last.safetensors"));
    for name in [
        "c1.weight",
        "c3.weight",
        "c5.weight",
        "f6.weight",
        "f6.bias",
    ] {
        let key = format!("model.{name}");
        assert_eq!(
            tensor(&got, &key),
            tensor(&src, &key),
            "{name} moved in a probe"
        );
    }
    assert!(
        accuracy(&probe) > 0.5,
        "probe accuracy {}",
        accuracy(&probe)
    );

    // --train-from f6 with gradual unfreezing, one layer more each epoch (c5, then s4, …).
    let top = dir.path().join("top");
    let mut args = vec![
        "finetune",
        s(source()),
        "--train-from",
        "f6",
        "--unfreeze-every",
        "2",
        "--lr-head",
        "0.05",
        "--out",
        s(&top),
    ];
    args.extend(common);
    ok(&args);
    let got = tensors(&top.join("last.safetensors"));
    let moved = |name: &str| {
        tensor(&got, &format!("model.{name}")) != tensor(&src, &format!("model.{name}"))
    };
    // 4 epochs: c5 released after 2 and s4 never reached the step before it.
    assert!(
        moved("f6.weight") && moved("c5.weight"),
        "the released layers train"
    );
    assert!(
        !moved("c1.weight") && !moved("c3.weight") && !moved("s4.weight"),
        "the frozen do not"
    );
    // Resumed, the run keeps its freezing schedule (stored in the checkpoint's config).
    ok(&["finetune", "--resume", s(&top), "--epochs", "5"]);
    let rows = splot::train::read_metrics(&top.join("metrics.csv")).unwrap();
    assert_eq!(rows.len(), 5, "5 epochs after resuming");
    let got = tensors(&top.join("last.safetensors"));
    assert_eq!(
        tensor(&got, "model.c1.weight"),
        tensor(&src, "model.c1.weight")
    );
}

#[test]
fn batch_norm_of_frozen_layers_keeps_its_running_statistics() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    ok(&[
        "train",
        "--model",
        "resnet20",
        "--data",
        &uci(),
        "--epochs",
        "1",
        "--limit-train",
        "64",
        "--limit-test",
        "32",
        "--out",
        s(&src),
    ]);
    let tuned = dir.path().join("tuned");
    ok(&[
        "finetune",
        s(&src.join("last.safetensors")),
        "--train-from",
        "layer3",
        "--data",
        &uci(),
        "--epochs",
        "1",
        "--limit-train",
        "64",
        "--limit-test",
        "32",
        "--out",
        s(&tuned),
    ]);
    let (a, b) = (
        tensors(&src.join("last.safetensors")),
        tensors(&tuned.join("last.safetensors")),
    );
    for frozen in [
        "bn1.running_mean",
        "layer1.0.bn1.running_var",
        "layer2.2.bn2.running_mean",
        "layer2.0.conv1.weight",
    ] {
        let key = format!("model.{frozen}");
        assert_eq!(
            tensor(&a, &key),
            tensor(&b, &key),
            "{frozen} changed though frozen"
        );
    }
    for trained in ["layer3.0.bn1.running_mean", "layer3.2.conv2.weight"] {
        let key = format!("model.{trained}");
        assert_ne!(
            tensor(&a, &key),
            tensor(&b, &key),
            "{trained} did not train"
        );
    }
}

#[test]
fn finetune_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let out = |n: &str| dir.path().join(n).display().to_string();
    let e = fails(&[
        "finetune",
        s(source()),
        "--data",
        &uci(),
        "--freeze",
        "conv9.*",
        "--out",
        &out("a"),
    ]);
    assert!(
        e.contains("'conv9.*' matches no parameter") && e.contains("c1, c1_act, s2"),
        "{e}"
    );
    let e = fails(&[
        "finetune",
        s(source()),
        "--data",
        &uci(),
        "--train-from",
        "layer3",
        "--out",
        &out("b"),
    ]);
    assert!(
        e.contains("--train-from layer3") && e.contains("c5, c5_act"),
        "{e}"
    );
    let e = fails(&[
        "finetune",
        s(source()),
        "--data",
        &uci(),
        "--num-classes",
        "0",
        "--out",
        &out("c"),
    ]);
    assert!(e.contains("--num-classes 0"), "{e}");
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let e = fails(&[
        "finetune",
        s(source()),
        "--data",
        s(&empty),
        "--out",
        &out("d"),
    ]);
    assert!(
        e.contains("empty") && e.contains("not a classification data set"),
        "{e}"
    );
    let e = fails(&["finetune", "--data", &uci(), "--out", &out("e")]);
    assert!(e.contains("--model NAME --weights FILE"), "{e}");
    // weights of another network
    let e = fails(&[
        "finetune",
        "--model",
        "resnet18",
        "--weights",
        s(source()),
        "--data",
        &uci(),
        "--out",
        &out("f"),
    ]);
    assert!(
        e.contains("does not fit resnet18") && e.contains("missing from the file"),
        "{e}"
    );
}

#[test]
fn retrieval_on_mnist_learned_features_beat_pixels() {
    let dir = tempfile::tempdir().unwrap();
    let idx = |n: &str| dir.path().join(format!("{n}.safetensors"));
    let map_of = |gallery: &Path, queries: &Path| -> (f64, f64) {
        let out = ok(&["search", s(gallery), "--eval", s(queries)]);
        let num = |key: &str| -> f64 {
            let at = out.find(key).unwrap_or_else(|| panic!("{key} in {out}")) + key.len();
            out[at..]
                .trim_start()
                .split([',', ' '])
                .next()
                .unwrap()
                .parse()
                .unwrap()
        };
        (num("precision@10"), num("mAP"))
    };
    let mut results = Vec::new();
    for layer in ["f6", "pixels"] {
        ok(&[
            "index",
            s(source()),
            &mnist(),
            "--layer",
            layer,
            "--out",
            s(&idx(&format!("g-{layer}"))),
        ]);
        ok(&[
            "index",
            s(source()),
            &mnist(),
            "--layer",
            layer,
            "--val",
            "--out",
            s(&idx(&format!("q-{layer}"))),
        ]);
        results.push(map_of(
            &idx(&format!("g-{layer}")),
            &idx(&format!("q-{layer}")),
        ));
    }
    eprintln!(
        "MNIST retrieval (precision@10, mAP): f6 {:?}, pixels {:?}",
        results[0], results[1]
    );
    assert!(
        results[0].1 > results[1].1 + 0.2 && results[0].0 > results[1].0,
        "{results:?}"
    );

    // One picture: its neighbours, printed and drawn.
    let digits = splot::data::Mnist::load(Path::new(&mnist())).unwrap();
    let digit = dir.path().join("seven.png");
    let img = splot::data::Image::new(1, 28, 28, digits.test.image(0).to_vec()).unwrap();
    splot::data::image::write_image(&digit, &img).unwrap();
    let grid = dir.path().join("grid.png");
    let out = ok(&[
        "search",
        s(&idx("g-f6")),
        s(&digit),
        "--k",
        "8",
        "--out",
        s(&grid),
    ]);
    let lines: Vec<&str> = out.lines().filter(|l| l.contains("(class ")).collect();
    assert_eq!(lines.len(), 8, "{out}");
    let sevens = lines.iter().filter(|l| l.ends_with("(class 7)")).count();
    assert!(sevens >= 7, "the neighbours of a 7: {out}");
    let png = image::open(&grid).unwrap();
    assert_eq!((png.width(), png.height()), (64 * 9 + 16 + 4 * 7, 64));

    // Queries of another model: refused, naming both.
    ok(&[
        "index",
        "--model",
        "lenet5",
        "--random",
        &uci(),
        "--layer",
        "f6",
        "--val",
        "--out",
        s(&idx("q-random")),
    ]);
    let e = fails(&["search", s(&idx("g-f6")), "--eval", s(&idx("q-random"))]);
    assert!(e.contains("random:0") && e.contains("checkpoint:"), "{e}");
    let e = fails(&[
        "index",
        s(source()),
        &mnist(),
        "--layer",
        "fc7",
        "--out",
        s(&idx("x")),
    ]);
    assert!(e.contains("no layer 'fc7'") && e.contains("f6_act"), "{e}");
}

#[test]
fn a_torchvision_resnet18_file_fine_tunes_and_indexes_avgpool_features() {
    // scripts/fixtures_weights.py: torchvision's resnet18 state_dict (its outputs equal
    // torchvision's, tests/io.rs), saved without the batch norm counters.
    let weights = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../splot/tests/fixtures/weights/resnet18-no-nbt.safetensors");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("photos");
    for (split, n) in [("train", 3u8), ("val", 2)] {
        for class in ["red", "blue"] {
            let d = data.join(split).join(class);
            std::fs::create_dir_all(&d).unwrap();
            for i in 0..n {
                let img = image::RgbImage::from_fn(40, 30, |x, y| {
                    let v = (x * 5 + y * 3 + i as u32 * 20) as u8;
                    if class == "red" {
                        image::Rgb([200, v / 4, v / 4])
                    } else {
                        image::Rgb([v / 4, v / 4, 200])
                    }
                });
                img.save(d.join(format!("{i}.png"))).unwrap();
            }
        }
    }
    let w = s(&weights);
    // Fine-tune: the head `fc` found by name, 1 000 ImageNet classes → the data's 2.
    let run = dir.path().join("run");
    let out = ok(&[
        "finetune",
        "--model",
        "resnet18",
        "--weights",
        w,
        "--data",
        s(&data),
        "--train-from",
        "layer4",
        "--lr-head",
        "0.01",
        "--epochs",
        "1",
        "--out",
        s(&run),
    ]);
    assert!(
        out.contains("new head fc (2 classes)") && out.contains("20 buffer(s) missing"),
        "{out}"
    );
    assert!(
        out.contains("frozen: conv1.* bn1.* layer1.* layer2.* layer3.*"),
        "{out}"
    );
    let src = tensors(&weights);
    let got = tensors(&run.join("last.safetensors"));
    let frozen = tensor(&got, "model.layer2.0.conv1.weight");
    assert_eq!(
        frozen,
        tensor(&src, "layer2.0.conv1.weight"),
        "a frozen layer moved"
    );
    assert_eq!(tensor(&got, "model.fc.weight").len(), 2 * 512);

    let (g, q) = (dir.path().join("g.st"), dir.path().join("q.st"));
    let out = ok(&[
        "index",
        "--model",
        "resnet18",
        "--weights",
        w,
        s(&data),
        "--layer",
        "avgpool",
        "--out",
        s(&g),
    ]);
    assert!(
        out.contains("6 images") && out.contains("512-value features"),
        "{out}"
    );
    ok(&[
        "index",
        "--model",
        "resnet18",
        "--weights",
        w,
        s(&data),
        "--layer",
        "avgpool",
        "--val",
        "--out",
        s(&q),
    ]);
    let out = ok(&["search", s(&g), "--eval", s(&q)]);
    assert!(out.contains("4 queries"), "{out}");
    let pic: PathBuf = data.join("val/red/0.png");
    let out = ok(&["search", s(&g), s(&pic), "--k", "3"]);
    assert_eq!(
        out.lines().filter(|l| l.contains("(class ")).count(),
        3,
        "{out}"
    );
}
