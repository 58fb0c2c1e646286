//! `splot data scenes`: writes a VOC + COCO digit-scene folder (and a preview picture) that
//! the library's readers load, the same bytes for the same seed; bad arguments fail with a
//! clear message and write nothing.

use splot::data::{coco_captions, coco_instances, voc_segmentation, Dataset};
use std::path::Path;
use std::process::{Command, Output};

fn splot(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_splot"))
        .args(args)
        .output()
        .expect("run splot")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn scenes(out: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["data", "scenes", "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    splot(&args)
}

#[test]
fn data_scenes_writes_voc_and_coco_that_the_readers_load() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("scenes");
    let preview = tmp.path().join("preview.png");
    let o = scenes(
        &out,
        &[
            "--count",
            "5",
            "--val",
            "3",
            "--size",
            "64",
            "--seed",
            "3",
            "--preview",
            preview.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let stdout = text(&o.stdout);
    assert!(
        stdout.contains("5 train canvases") && stdout.contains("3 val canvases"),
        "{stdout}"
    );
    assert!(stdout.contains("preview →"), "{stdout}");
    let (w, h) = image::image_dimensions(&preview).unwrap();
    assert_eq!((w, h), (2 * (2 * 64 + 4) + 4, 2 * 64 + 4));
    for (split, n) in [("train", 5), ("val", 3)] {
        let voc = voc_segmentation(&out, split).unwrap();
        let images = out.join("JPEGImages");
        let boxes = coco_instances(
            &images,
            &out.join(format!("annotations/instances_{split}.json")),
        )
        .unwrap();
        let caps = coco_captions(
            &images,
            &out.join(format!("annotations/captions_{split}.json")),
        )
        .unwrap();
        assert_eq!((voc.len(), boxes.len(), caps.len()), (n, n, n));
        for i in 0..n {
            let (v, b) = (voc.get(i).unwrap(), boxes.get(i).unwrap());
            assert_eq!(v.image, b.image);
            assert_eq!(
                (v.image.width, v.image.height, v.image.channels),
                (64, 64, 1)
            );
        }
    }
    // The same command again writes the same bytes.
    let again = tmp.path().join("again");
    let o = scenes(
        &again,
        &["--count", "5", "--val", "3", "--size", "64", "--seed", "3"],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    for file in [
        "JPEGImages/train_000004.png",
        "SegmentationClass/val_000002.png",
        "annotations/instances_train.json",
        "annotations/captions_val.json",
    ] {
        assert_eq!(
            std::fs::read(out.join(file)).unwrap(),
            std::fs::read(again.join(file)).unwrap(),
            "{file}"
        );
    }
}

#[test]
fn data_scenes_bad_arguments_fail_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("scenes");
    let missing = tmp.path().join("no-mnist");
    for (args, expect) in [
        (vec!["--count", "0"], "0 train canvases"),
        (vec!["--count", "2", "--val", "0"], "0 val canvases"),
        (vec!["--size", "16"], "14 px digit"),
        (
            vec!["--count", "2", "--mnist", missing.to_str().unwrap()],
            "no-mnist",
        ),
        (vec!["--count", "two"], "invalid value"),
    ] {
        let o = scenes(&out, &args);
        assert!(!o.status.success(), "{args:?} succeeded");
        let err = text(&o.stderr);
        assert!(err.contains(expect), "{args:?}: {err}");
        assert!(!out.exists(), "{args:?} wrote {}", out.display());
    }
}
