//! The readers of standard layouts (ImageFolder, CSV, Pascal VOC, COCO instances and
//! captions, UCI digits): what they read, in which order, and the errors that name the
//! file and the entry.

use splot::data::coco::{CocoAnnotation, CocoCategory, CocoImage};
use splot::data::image::{read_mask, write_image, write_mask};
use splot::data::{
    coco_captions, coco_instances, csv_list, image_folder, voc_segmentation, CocoFile, Dataset,
    Image, Mask, Target, TargetKind, UciDigits,
};
use std::path::Path;

fn grey(h: usize, w: usize, v: u8) -> Image {
    Image::new(1, h, w, vec![v; h * w]).unwrap()
}

fn write(path: &Path, img: &Image) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    write_image(path, img).unwrap();
}

fn message(r: splot::Result<impl Sized>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn image_folder_sorts_classes_and_files_as_torchvision() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // Classes sorted by name: "B" < "a" < "b" (code points), whatever the creation order.
    for (class, files) in [
        ("b", vec!["z.png", "a.PNG", "sub/c.png"]),
        ("a", vec!["x.jpg.png", "notes.txt"]),
        ("B", vec!["q.png"]),
    ] {
        for f in files {
            let p = root.join(class).join(f);
            if f.ends_with(".txt") {
                std::fs::write(&p, "not an image").unwrap();
            } else {
                write(&p, &grey(3, 2, class.len() as u8));
            }
        }
    }
    let set = image_folder(root).unwrap();
    assert_eq!(set.classes(), ["B", "a", "b"]);
    assert_eq!(set.target_kind(), TargetKind::Class);
    let names: Vec<String> = (0..set.len())
        .map(|i| {
            let p = Path::new(&set.describe(i))
                .strip_prefix(root)
                .unwrap()
                .to_path_buf();
            p.to_string_lossy().into_owned()
        })
        .collect();
    // Within a class: the class folder's files sorted, then each sub-folder's (os.walk).
    assert_eq!(
        names,
        [
            "B/q.png",
            "a/x.jpg.png",
            "b/a.PNG",
            "b/z.png",
            "b/sub/c.png"
        ]
    );
    let labels: Vec<Target> = (0..set.len()).map(|i| set.get(i).unwrap().target).collect();
    assert_eq!(
        labels,
        [0, 1, 2, 2, 2].map(Target::Class).to_vec(),
        "class index = position of the folder"
    );
    let s = set.get(0).unwrap();
    assert_eq!((s.image.channels, s.image.height, s.image.width), (1, 3, 2));
}

#[test]
fn image_folder_errors_name_the_folder_or_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    assert!(message(image_folder(root)).contains("no class folder"));
    write(&root.join("cat/1.png"), &grey(2, 2, 1));
    std::fs::create_dir_all(root.join("dog")).unwrap();
    std::fs::write(root.join("dog/readme.txt"), "x").unwrap();
    let m = message(image_folder(root));
    assert!(m.contains("dog") && m.contains("holds no image"), "{m}");
    // An undecodable image is found when it is read, and named.
    std::fs::write(root.join("dog/broken.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
    let set = image_folder(root).unwrap();
    assert!(set.get(0).is_ok());
    let m = message(set.get(1));
    assert!(m.contains("broken.png"), "{m}");
    assert!(message(set.get(2)).contains("past the 2 samples"));
}

#[test]
fn csv_lists_numeric_and_named_labels_and_names_bad_lines() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(&root.join("img/a.png"), &grey(2, 2, 10));
    write(&root.join("img/b,c.png"), &grey(2, 2, 20));
    let csv = root.join("list.csv");
    std::fs::write(
        &csv,
        "path,label\nimg/a.png,3\n\n# comment\nimg/b,c.png,1\n",
    )
    .unwrap();
    let set = csv_list(&csv).unwrap();
    assert_eq!(set.len(), 2);
    assert_eq!(set.classes(), ["0", "1", "2", "3"]);
    assert_eq!(set.get(0).unwrap().target, Target::Class(3));
    assert_eq!(set.get(1).unwrap().image.data[0], 20);
    std::fs::write(&csv, "img/a.png,dog\nimg/b,c.png,cat\n").unwrap();
    let set = csv_list(&csv).unwrap();
    assert_eq!(set.classes(), ["cat", "dog"]);
    assert_eq!(set.get(0).unwrap().target, Target::Class(1));
    std::fs::write(&csv, "img/a.png,0\nimg/missing.png,1\n").unwrap();
    let m = message(csv_list(&csv));
    assert!(
        m.contains("list.csv") && m.contains("line 2") && m.contains("missing.png"),
        "{m}"
    );
    std::fs::write(&csv, "img/a.png\n").unwrap();
    assert!(message(csv_list(&csv)).contains("line 1"));
}

#[test]
fn palette_masks_round_trip_with_the_ignore_index() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.png");
    let mask = Mask::new(3, 4, vec![0, 1, 2, 255, 20, 0, 0, 7, 1, 1, 255, 3]).unwrap();
    write_mask(&path, &mask).unwrap();
    assert_eq!(read_mask(&path).unwrap(), mask);
    // The file is a palette PNG with VOC's colours: a normal decoder sees class 1 as dark red.
    let rgb = image::open(&path).unwrap().to_rgb8();
    assert_eq!(rgb.get_pixel(1, 0).0, [128, 0, 0]);
    assert_eq!(rgb.get_pixel(3, 0).0, [224, 224, 192]);
}

fn voc_dir(root: &Path, mask_size: (usize, usize)) {
    write(&root.join("JPEGImages/im1.png"), &grey(4, 5, 100));
    let (h, w) = mask_size;
    let mut classes = vec![0u8; h * w];
    classes[0] = 3;
    classes[1] = 255;
    std::fs::create_dir_all(root.join("SegmentationClass")).unwrap();
    write_mask(
        &root.join("SegmentationClass/im1.png"),
        &Mask::new(h, w, classes).unwrap(),
    )
    .unwrap();
    std::fs::create_dir_all(root.join("ImageSets/Segmentation")).unwrap();
    std::fs::write(root.join("ImageSets/Segmentation/train.txt"), "im1\n").unwrap();
}

#[test]
fn voc_segmentation_reads_images_and_palette_masks() {
    let dir = tempfile::tempdir().unwrap();
    voc_dir(dir.path(), (4, 5));
    let set = voc_segmentation(dir.path(), "train").unwrap();
    assert_eq!(set.classes().len(), 21);
    assert_eq!(set.classes()[15], "person");
    let s = set.get(0).unwrap();
    let Target::Mask(m) = s.target else {
        panic!("not a mask")
    };
    assert_eq!((m.height, m.width), (4, 5));
    assert_eq!(&m.data[..3], &[3, 255, 0]);
    std::fs::write(dir.path().join("classes.txt"), "background\nzero\none\n").unwrap();
    assert_eq!(
        voc_segmentation(dir.path(), "train").unwrap().classes(),
        ["background", "zero", "one"]
    );
    // Errors: a split that does not exist, an id without a mask, a mask of another size.
    assert!(message(voc_segmentation(dir.path(), "val")).contains("val.txt"));
    std::fs::write(
        dir.path().join("ImageSets/Segmentation/train.txt"),
        "im1\nim2\n",
    )
    .unwrap();
    let m = message(voc_segmentation(dir.path(), "train"));
    assert!(
        m.contains("train.txt") && m.contains("line 2") && m.contains("im2"),
        "{m}"
    );
    let other = tempfile::tempdir().unwrap();
    voc_dir(other.path(), (4, 6));
    let set = voc_segmentation(other.path(), "train").unwrap();
    let m = message(set.get(0));
    assert!(
        m.contains("SegmentationClass/im1.png")
            && m.contains("6×4")
            && m.contains("5×4")
            && m.contains("JPEGImages/im1.png"),
        "{m}"
    );
}

fn coco_file() -> CocoFile {
    let image = |id, name: &str| CocoImage {
        id,
        file_name: name.into(),
        width: 20,
        height: 10,
    };
    let ann = |id, image_id, category_id, bbox: [f64; 4]| CocoAnnotation {
        id,
        image_id,
        category_id: Some(category_id),
        bbox: Some(bbox),
        area: Some(bbox[2] * bbox[3]),
        iscrowd: Some(0),
        segmentation: None,
        caption: None,
    };
    CocoFile {
        info: None,
        images: vec![image(7, "b.png"), image(3, "a.png")],
        annotations: vec![
            ann(1, 7, 2, [1.0, 2.0, 3.0, 4.0]),
            ann(2, 7, 5, [0.0, 0.0, 20.0, 10.0]),
            ann(3, 3, 2, [5.0, 5.0, 0.0, 2.0]), // zero width: dropped
            ann(4, 7, 2, [19.5, 9.5, 1.0, 1.0]), // within a pixel of the edge: clipped
        ],
        categories: vec![
            CocoCategory {
                id: 2,
                name: "two".into(),
                supercategory: None,
            },
            CocoCategory {
                id: 5,
                name: "five".into(),
                supercategory: Some("digit".into()),
            },
        ],
    }
}

#[test]
fn coco_instances_reads_boxes_in_image_id_order() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(&root.join("images/a.png"), &grey(10, 20, 1));
    write(&root.join("images/b.png"), &grey(10, 20, 2));
    let json = root.join("instances.json");
    coco_file().write(&json).unwrap();
    assert_eq!(CocoFile::read(&json).unwrap(), coco_file());
    let set = coco_instances(&root.join("images"), &json).unwrap();
    assert_eq!(
        set.classes(),
        ["__background__", "N/A", "two", "N/A", "N/A", "five"]
    );
    assert_eq!(set.target_kind(), TargetKind::Boxes);
    let first = set.get(0).unwrap();
    assert_eq!((first.id, first.image.data[0]), (3, 1));
    let Target::Boxes(b) = first.target else {
        panic!()
    };
    assert!(b.is_empty(), "the zero-width box is dropped");
    let second = set.get(1).unwrap();
    assert_eq!(second.id, 7);
    let Target::Boxes(b) = second.target else {
        panic!()
    };
    assert_eq!(
        b.boxes,
        [
            [1.0, 2.0, 4.0, 6.0],
            [0.0, 0.0, 20.0, 10.0],
            [19.5, 9.5, 20.0, 10.0]
        ]
    );
    assert_eq!(b.labels, [2, 5, 2]);
    assert_eq!(b.iscrowd, [false, false, false]);
}

#[test]
fn coco_errors_name_the_file_and_the_annotation() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(&root.join("a.png"), &grey(10, 20, 1));
    write(&root.join("b.png"), &grey(10, 20, 1));
    let json = root.join("bad.json");
    let check = |f: CocoFile, expect: &[&str]| {
        f.write(&json).unwrap();
        let m = message(coco_instances(root, &json));
        for e in expect {
            assert!(m.contains(e), "'{e}' not in: {m}");
        }
    };
    let mut f = coco_file();
    f.annotations[1].image_id = 99;
    check(f, &["bad.json", "annotation 2", "image id 99"]);
    let mut f = coco_file();
    f.annotations[0].category_id = Some(4);
    check(f, &["annotation 1", "category id 4"]);
    let mut f = coco_file();
    f.annotations[0].bbox = Some([5.0, 1.0, -2.0, 3.0]);
    check(f, &["annotation 1", "x1 ≤ x2"]);
    let mut f = coco_file();
    f.annotations[0].bbox = Some([15.0, 1.0, 8.0, 3.0]);
    check(f, &["annotation 1", "outside its 20×10 image"]);
    let mut f = coco_file();
    f.images[1].id = 7;
    check(f, &["image id 7 appears twice"]);
    let mut f = coco_file();
    f.images[0].file_name = "gone.png".into();
    check(f, &["image 7", "gone.png"]);
    std::fs::write(&json, "{\"images\": [}").unwrap();
    let m = message(coco_instances(root, &json));
    assert!(m.contains("bad.json") && m.contains("line 1"), "{m}");
}

#[test]
fn coco_captions_keep_every_caption_of_an_image() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(&root.join("a.png"), &grey(10, 20, 1));
    write(&root.join("b.png"), &grey(10, 20, 1));
    let caption = |id, image_id, text: &str| CocoAnnotation {
        id,
        image_id,
        category_id: None,
        bbox: None,
        area: None,
        iscrowd: None,
        segmentation: None,
        caption: Some(text.into()),
    };
    let mut f = coco_file();
    f.categories.clear();
    f.annotations = vec![
        caption(1, 7, "a small 2"),
        caption(2, 3, "a large 5"),
        caption(3, 7, "a two"),
    ];
    let json = root.join("captions.json");
    f.write(&json).unwrap();
    let set = coco_captions(root, &json).unwrap();
    assert_eq!(set.target_kind(), TargetKind::Captions);
    assert_eq!(
        set.get(0).unwrap().target,
        Target::Captions(vec!["a large 5".into()])
    );
    assert_eq!(
        set.get(1).unwrap().target,
        Target::Captions(vec!["a small 2".into(), "a two".into()])
    );
    f.annotations.push(caption(4, 8, "nowhere"));
    f.write(&json).unwrap();
    let m = message(coco_captions(root, &json));
    assert!(
        m.contains("annotation 4") && m.contains("image id 8"),
        "{m}"
    );
}

#[test]
fn uci_digits_are_shipped_and_read() {
    let uci = UciDigits::load(&UciDigits::locate().unwrap()).unwrap();
    assert_eq!((uci.train.len(), uci.test.len()), (989, 808));
    assert_eq!((uci.train.rows(), uci.train.cols()), (8, 8));
    assert_eq!(
        uci.train.label_histogram(),
        [98, 100, 97, 101, 100, 100, 100, 98, 96, 99]
    );
    let s = Dataset::get(&uci.test, 0).unwrap();
    assert_eq!((s.image.channels, s.image.height), (1, 8));
    assert_eq!(Dataset::classes(&uci.test).len(), 10);
}

#[test]
fn images_convert_between_grey_and_colour() {
    let rgb = Image::new(3, 1, 2, vec![255, 0, 0, 255, 0, 0]).unwrap();
    let g = rgb.clone().with_channels(1).unwrap();
    // PIL: L = R·299/1000 + G·587/1000 + B·114/1000
    assert_eq!(g.data, [76, 150]);
    let back = g.with_channels(3).unwrap();
    assert_eq!(back.data, [76, 150, 76, 150, 76, 150]);
    assert_eq!(rgb.to_interleaved(), [255, 0, 0, 0, 255, 0]);
    assert!(Image::new(2, 1, 1, vec![0, 0]).is_err());
    assert!(Image::new(1, 2, 2, vec![0; 3]).is_err());
}
