//! The digit scenes (`splot::data::scenes`), on small sets generated into temporary
//! folders: every box holds exactly its digit's mask pixels, masks, boxes and captions
//! agree, the files load through the VOC and COCO readers as what was generated, the same
//! seed writes the same bytes, and bad arguments are clear errors.

use splot::data::image::read_mask;
use splot::data::scenes::{
    captions::{relation, size_word},
    scene_seed, write_scenes, write_scenes_from, Scene, ScenesConfig, Split, Texture,
};
use splot::data::{
    coco_captions, coco_instances, voc_segmentation, CocoFile, Dataset, ImageDataset, Mnist,
    Target, IGNORE_INDEX,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn mnist() -> &'static Mnist {
    static MNIST: OnceLock<Mnist> = OnceLock::new();
    MNIST.get_or_init(|| Mnist::load(&Mnist::locate().unwrap()).unwrap())
}

fn digits(split: Split) -> &'static ImageDataset {
    match split {
        Split::Train => &mnist().train,
        Split::Val => &mnist().test,
    }
}

const CONFIG: ScenesConfig = ScenesConfig {
    train: 16,
    val: 8,
    size: 96,
    seed: 7,
};

/// One set, written once for the tests that only read it.
fn written() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let summary =
            write_scenes_from(dir.path(), &mnist().train, &mnist().test, &CONFIG).unwrap();
        assert_eq!(summary.canvases, [16, 8]);
        dir
    })
    .path()
}

fn instances(dir: &Path, split: Split) -> CocoFile {
    CocoFile::read(&dir.join(format!("annotations/instances_{}.json", split.name()))).unwrap()
}

fn captions(dir: &Path, split: Split) -> CocoFile {
    CocoFile::read(&dir.join(format!("annotations/captions_{}.json", split.name()))).unwrap()
}

/// Annotations by image id, in file order.
fn by_image(file: &CocoFile) -> BTreeMap<u64, Vec<&splot::data::coco::CocoAnnotation>> {
    let mut map: BTreeMap<u64, Vec<_>> = BTreeMap::new();
    for a in &file.annotations {
        map.entry(a.image_id).or_default().push(a);
    }
    map
}

/// Decodes COCO's uncompressed, column-major RLE into a row-major 0/1 mask.
fn decode_rle(seg: &serde_json::Value) -> (usize, usize, Vec<u8>) {
    let h = seg["size"][0].as_u64().unwrap() as usize;
    let w = seg["size"][1].as_u64().unwrap() as usize;
    let mut out = vec![0u8; h * w];
    let mut p = 0;
    for (k, run) in seg["counts"].as_array().unwrap().iter().enumerate() {
        for _ in 0..run.as_u64().unwrap() {
            out[(p % h) * w + p / h] = (k % 2) as u8;
            p += 1;
        }
    }
    assert_eq!(p, h * w, "the runs cover the mask");
    (h, w, out)
}

#[test]
fn every_box_holds_exactly_its_digits_mask_pixels() {
    let dir = written();
    for split in Split::ALL {
        let file = instances(dir, split);
        let anns = by_image(&file);
        assert_eq!(file.images.len(), CONFIG.count(split));
        for img in &file.images {
            let stem = img.file_name.trim_end_matches(".png");
            let classes = read_mask(&dir.join("SegmentationClass").join(&img.file_name)).unwrap();
            let objects = read_mask(&dir.join("SegmentationObject").join(&img.file_name)).unwrap();
            let (w, h) = (img.width, img.height);
            assert_eq!((classes.width, classes.height), (w, h), "{stem}");
            let list = &anns[&img.id];
            assert!(
                (1..=5).contains(&list.len()),
                "{stem}: {} digits",
                list.len()
            );
            for (k, a) in list.iter().enumerate() {
                let inst = k as u8 + 1;
                let class = a.category_id.unwrap() as u8;
                assert!((1..=10).contains(&class));
                let [bx, by, bw, bh] = a.bbox.unwrap();
                let (mut x1, mut y1, mut x2, mut y2) = (w, h, 0, 0);
                let mut area = 0;
                for p in 0..w * h {
                    if objects.data[p] == inst {
                        assert_eq!(classes.data[p], class, "{stem} digit {k} pixel {p}");
                        let (x, y) = (p % w, p / w);
                        (x1, y1, x2, y2) = (x1.min(x), y1.min(y), x2.max(x + 1), y2.max(y + 1));
                        area += 1;
                    }
                }
                // The box is exactly the span of the instance's pixels: they all lie inside
                // it and touch all four sides.
                assert_eq!(
                    [bx, by, bw, bh],
                    [x1 as f64, y1 as f64, (x2 - x1) as f64, (y2 - y1) as f64],
                    "{stem} digit {k}"
                );
                assert_eq!(a.area.unwrap(), area as f64, "{stem} digit {k}");
                assert!(area >= 20, "{stem} digit {k}: only {area} visible pixels");
                assert_eq!(a.iscrowd, Some(0));
                let (rh, rw, rle) = decode_rle(a.segmentation.as_ref().unwrap());
                assert_eq!((rh, rw), (h, w));
                for (p, (&r, &o)) in rle.iter().zip(&objects.data).enumerate() {
                    assert_eq!(r == 1, o == inst, "{stem} RLE pixel {p}");
                }
            }
            // Every labelled pixel belongs to an instance, every border pixel touches one
            // and every pixel next to a digit is either that digit or the border.
            for p in 0..w * h {
                let (c, o) = (classes.data[p], objects.data[p]);
                assert_eq!(c == 0, o == 0, "{stem} pixel {p}");
                assert_eq!(c == IGNORE_INDEX, o == IGNORE_INDEX, "{stem} pixel {p}");
                if c != 0 && c != IGNORE_INDEX {
                    assert!((o as usize) <= list.len(), "{stem} pixel {p}: instance {o}");
                }
                let (x, y) = ((p % w) as isize, (p / w) as isize);
                let near_ink = (-1..=1).any(|dy| {
                    (-1..=1).any(|dx| {
                        let (xx, yy) = (x + dx, y + dy);
                        xx >= 0
                            && yy >= 0
                            && (xx as usize) < w
                            && (yy as usize) < h
                            && !matches!(classes.data[yy as usize * w + xx as usize], 0 | 255)
                    })
                });
                if c == IGNORE_INDEX {
                    assert!(near_ink, "{stem}: border pixel {p} touches no digit");
                }
                if c == 0 {
                    assert!(!near_ink, "{stem}: background pixel {p} touches a digit");
                }
            }
        }
    }
}

/// The digits of a caption: its numerals, sorted.
fn numerals(caption: &str) -> Vec<u8> {
    let mut v: Vec<u8> = caption
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect();
    v.sort();
    v
}

#[test]
fn masks_boxes_and_captions_name_the_same_digits() {
    let dir = written();
    let (mut relations, mut sized) = (0, 0);
    for split in Split::ALL {
        let boxes = instances(dir, split);
        let anns = by_image(&boxes);
        let caps = captions(dir, split);
        let caps_by = by_image(&caps);
        assert_eq!(caps.images, boxes.images);
        for img in &boxes.images {
            let classes = read_mask(&dir.join("SegmentationClass").join(&img.file_name)).unwrap();
            let list = &anns[&img.id];
            let mut labels: Vec<u8> = list
                .iter()
                .map(|a| a.category_id.unwrap() as u8 - 1)
                .collect();
            labels.sort();
            // The mask's classes are the boxes' classes.
            let mut in_mask: Vec<u8> = classes
                .data
                .iter()
                .filter(|&&c| c != 0 && c != IGNORE_INDEX)
                .map(|&c| c - 1)
                .collect();
            in_mask.sort();
            in_mask.dedup();
            let mut distinct = labels.clone();
            distinct.dedup();
            assert_eq!(in_mask, distinct, "{}", img.file_name);
            let texts: Vec<&str> = caps_by[&img.id]
                .iter()
                .map(|a| a.caption.as_deref().unwrap())
                .collect();
            assert!((3..=5).contains(&texts.len()), "{texts:?}");
            // Each box as (label, height, centre).
            let digits: Vec<(u8, usize, (f32, f32))> = list
                .iter()
                .map(|a| {
                    let [x, y, w, h] = a.bbox.unwrap();
                    let c = ((x + w / 2.0) as f32, (y + h / 2.0) as f32);
                    (a.category_id.unwrap() as u8 - 1, h as usize, c)
                })
                .collect();
            for text in &texts {
                assert_eq!(numerals(text), labels, "'{text}' for {}", img.file_name);
                // "a large 7": some digit 7 has a large box.
                let words: Vec<&str> = text.split([' ', ',', ':', ';']).collect();
                for pair in words.windows(2) {
                    if let (Some(size), Ok(d)) = (
                        ["small", "medium", "large"].iter().find(|s| **s == pair[0]),
                        pair[1].parse::<u8>(),
                    ) {
                        sized += 1;
                        assert!(
                            digits
                                .iter()
                                .any(|&(l, h, _)| l == d && size_word(h) == *size),
                            "'{text}': no {size} {d} in {digits:?}"
                        );
                    }
                }
                // "a large 7 to the left of a small 3, which is above a medium 2": each
                // relation holds between the box centres, when the digits name their boxes.
                let unique = labels.windows(2).all(|w| w[0] != w[1]);
                let rels = ["to the left of", "to the right of", "above", "below"];
                if unique && rels.iter().any(|r| text.contains(r)) && !text.contains(':') {
                    let order: Vec<u8> = text
                        .bytes()
                        .filter(u8::is_ascii_digit)
                        .map(|b| b - b'0')
                        .collect();
                    let said: Vec<&str> = text
                        .split(|c: char| c.is_ascii_digit())
                        .skip(1)
                        .filter_map(|part| rels.iter().find(|r| part.contains(*r)).copied())
                        .collect();
                    assert_eq!(said.len(), order.len() - 1, "'{text}'");
                    let centre = |l: u8| digits.iter().find(|d| d.0 == l).unwrap().2;
                    for (k, rel) in said.iter().enumerate() {
                        relations += 1;
                        let (a, b) = (centre(order[k]), centre(order[k + 1]));
                        assert_eq!(relation(a, b), *rel, "'{text}' {a:?} {b:?}");
                    }
                }
            }
        }
    }
    assert!(sized > 50, "{sized} sized mentions checked");
    assert!(relations > 3, "{relations} relations checked");
}

#[test]
fn files_load_through_the_readers_as_generated() {
    let dir = written();
    let mut names = vec!["background".to_string()];
    names.extend((0..10).map(|d| d.to_string()));
    for split in Split::ALL {
        let s = split.name();
        let voc = voc_segmentation(dir, s).unwrap();
        let images = dir.join("JPEGImages");
        let boxes = coco_instances(
            &images,
            &dir.join(format!("annotations/instances_{s}.json")),
        )
        .unwrap();
        let caps =
            coco_captions(&images, &dir.join(format!("annotations/captions_{s}.json"))).unwrap();
        assert_eq!(voc.classes(), names);
        assert_eq!(boxes.classes()[0], "__background__");
        assert_eq!(boxes.classes()[1..], names[1..]);
        let n = CONFIG.count(split);
        assert_eq!((voc.len(), boxes.len(), caps.len()), (n, n, n));
        for i in 0..n {
            let scene = Scene::generate(
                digits(split),
                CONFIG.size,
                scene_seed(CONFIG.seed, split, i),
            )
            .unwrap();
            assert!(voc
                .describe(i)
                .ends_with(&format!("{}.png", split.canvas_id(i))));
            let v = voc.get(i).unwrap();
            assert_eq!(v.image, scene.image, "{}", voc.describe(i));
            assert_eq!(v.target, Target::Mask(scene.mask.clone()));
            let b = boxes.get(i).unwrap();
            assert_eq!(b.id, i as u64 + 1);
            assert_eq!(b.image, scene.image);
            let Target::Boxes(got) = b.target else {
                panic!("not boxes")
            };
            let want: Vec<[f32; 4]> = scene
                .digits
                .iter()
                .map(|d| d.bbox.map(|v| v as f32))
                .collect();
            assert_eq!(got.boxes, want);
            let labels: Vec<usize> = scene.digits.iter().map(|d| d.label as usize + 1).collect();
            assert_eq!(got.labels, labels);
            assert!(got.iscrowd.iter().all(|c| !c));
            assert_eq!(
                caps.get(i).unwrap().target,
                Target::Captions(scene.captions.clone())
            );
            // The digits come from the split's own MNIST images.
            for d in &scene.digits {
                assert_eq!(digits(split).label(d.source), d.label);
            }
        }
    }
}

/// Every file under `dir` with its bytes, by relative path.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

#[test]
fn the_same_seed_writes_the_same_bytes_whatever_the_threads() {
    let config = ScenesConfig {
        train: 4,
        val: 3,
        size: 48,
        seed: 11,
    };
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    write_scenes_from(a.path(), &mnist().train, &mnist().test, &config).unwrap();
    let one_thread = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    one_thread
        .install(|| write_scenes_from(b.path(), &mnist().train, &mnist().test, &config))
        .unwrap();
    let (fa, fb) = (files(a.path()), files(b.path()));
    // 7 canvases × 3 PNGs, 2 lists, 4 JSON files, classes.txt.
    assert_eq!(fa.len(), 7 * 3 + 2 + 4 + 1, "{:?}", fa.keys());
    assert_eq!(fa, fb);
    let other = ScenesConfig { seed: 12, ..config };
    write_scenes_from(c.path(), &mnist().train, &mnist().test, &other).unwrap();
    let fc = files(c.path());
    let differ = fa
        .keys()
        .filter(|k| k.starts_with("JPEGImages") && fa[*k] != fc[*k])
        .count();
    assert_eq!(differ, 7, "another seed, other canvases");
}

#[test]
fn scenes_vary_and_their_digits_stand_out() {
    let (mut textures, mut counts, mut heights) = (Vec::new(), [0usize; 5], Vec::new());
    let mut dark_backgrounds = 0;
    for i in 0..60 {
        let scene = Scene::generate(&mnist().train, 128, scene_seed(3, Split::Train, i)).unwrap();
        textures.push(scene.texture);
        counts[scene.digits.len() - 1] += 1;
        heights.extend(scene.digits.iter().map(|d| d.height()));
        for d in &scene.digits {
            assert!(
                d.area as f32 >= 0.75 * d.ink as f32,
                "digit keeps most of its ink"
            );
        }
        // Mean level of the labelled ink against the background's (clutter included).
        let (px, mask) = (&scene.image.data, &scene.mask.data);
        let mean = |keep: &dyn Fn(u8) -> bool| {
            let v: Vec<f32> = (0..px.len())
                .filter(|&p| keep(mask[p]))
                .map(|p| px[p] as f32)
                .collect();
            v.iter().sum::<f32>() / v.len() as f32
        };
        let ink = mean(&|c| c != 0 && c != IGNORE_INDEX);
        let background = mean(&|c| c == 0);
        assert!(
            (ink - background).abs() > 60.0,
            "scene {i}: ink {ink}, background {background}"
        );
        dark_backgrounds += (background < ink) as usize;
    }
    for t in Texture::ALL {
        assert!(textures.contains(&t), "{t:?} never drawn");
    }
    assert!(
        counts.iter().all(|&c| c >= 4),
        "digits per canvas: {counts:?}"
    );
    let (lo, hi) = (
        *heights.iter().min().unwrap(),
        *heights.iter().max().unwrap(),
    );
    assert!(lo <= 16 && hi >= 50, "heights {lo}..{hi}");
    for word in ["small", "medium", "large"] {
        assert!(heights.iter().any(|&h| size_word(h) == word));
    }
    assert!(
        (30..60).contains(&dark_backgrounds),
        "{dark_backgrounds} of 60 light on dark"
    );
}

#[test]
fn bad_arguments_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("scenes");
    let err = |config: ScenesConfig, mnist: &Path| {
        write_scenes(&out, mnist, &config).unwrap_err().to_string()
    };
    let mnist_dir = Mnist::locate().unwrap();
    let e = err(ScenesConfig { train: 0, ..CONFIG }, &mnist_dir);
    assert!(e.contains("0 train canvases"), "{e}");
    let e = err(ScenesConfig { val: 0, ..CONFIG }, &mnist_dir);
    assert!(e.contains("0 val canvases"), "{e}");
    let e = err(ScenesConfig { size: 20, ..CONFIG }, &mnist_dir);
    assert!(e.contains("20×20") && e.contains("14 px digit"), "{e}");
    let e = err(
        ScenesConfig {
            size: 5000,
            ..CONFIG
        },
        &mnist_dir,
    );
    assert!(e.contains("2048"), "{e}");
    let missing = tmp.path().join("no-mnist");
    let e = err(CONFIG, &missing);
    assert!(e.contains("no-mnist") && e.contains("MNIST"), "{e}");
    // A folder without the MNIST files: the error names the file it looked for.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let e = err(CONFIG, &empty);
    assert!(e.contains("train-images-idx3-ubyte"), "{e}");
    assert!(!out.exists(), "nothing written for bad arguments");
}
