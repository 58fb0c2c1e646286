//! Transforms keep images and targets in step; Resize equals PIL's; the generic loader is
//! reproducible whatever its workers, collates every target kind, and names bad files.

use splot::data::image::{write_image, write_mask};
use splot::data::transforms::{
    CenterCrop, ColorJitter, Crop, Distort, HorizontalFlip, Item, Normalize, Pad, Pipeline, Pixels,
    RandomCrop, RandomResizedCrop, Resize, Transform,
};
use splot::data::{
    image_folder, pad_tokens, voc_segmentation, Augment, Batch, BatchTargets, Boxes, Dataset,
    Image, Loader, LoaderConfig, Mask, MemoryDataset, Sample, Target,
};
use splot::tensor::Rng;
use std::collections::BTreeSet;
use std::sync::Arc;

/// A `c`-channel `h × w` image of seeded random bytes.
fn noise(c: usize, h: usize, w: usize, seed: u64) -> Image {
    let mut rng = Rng::seed(seed);
    Image::new(
        c,
        h,
        w,
        (0..c * h * w).map(|_| rng.below(256) as u8).collect(),
    )
    .unwrap()
}

fn bytes(item: &Item) -> &[u8] {
    match &item.pixels {
        Pixels::Bytes(b) => b,
        Pixels::Floats(_) => panic!("expected bytes"),
    }
}

/// An RGB image, black but for bright pixels where `mask` is 5, and its mask.
fn scene(h: usize, w: usize, block: [usize; 4]) -> (Image, Mask) {
    let [x1, y1, x2, y2] = block;
    let mut m = vec![0u8; h * w];
    for y in y1..y2 {
        m[y * w + x1..y * w + x2].fill(5);
    }
    let img = m
        .iter()
        .map(|&v| if v == 5 { 200 } else { 10 })
        .collect::<Vec<_>>();
    let image = Image::new(3, h, w, img.repeat(3)).unwrap();
    (image, Mask::new(h, w, m).unwrap())
}

/// Every pixel is bright exactly where the mask says 5 (and the item is RGB, same size).
fn assert_in_step(item: &Item) {
    let Target::Mask(m) = &item.target else {
        panic!("not a mask")
    };
    assert_eq!((m.height, m.width), (item.height, item.width));
    let n = item.height * item.width;
    for p in 0..n {
        let bright = item.level(p) > 100.0;
        assert_eq!(
            bright,
            m.data[p] == 5,
            "pixel {p} of {}×{}",
            item.height,
            item.width
        );
    }
}

#[test]
fn a_flip_moves_the_box_and_the_mask_with_the_image() {
    let (image, mask) = scene(6, 8, [1, 2, 3, 4]);
    let mut rng = Rng::seed(1);
    let flip = HorizontalFlip::new(1.0);
    let item = flip
        .apply(
            Item::new(image.clone(), Target::Mask(mask)).unwrap(),
            &mut rng,
        )
        .unwrap();
    assert_in_step(&item);
    assert!(item.level(2 * 8 + 6) > 100.0 && item.level(2 * 8 + 1) < 100.0);
    let mut boxes = Boxes::default();
    boxes.push([1.0, 2.0, 3.0, 4.0], 7, false);
    let item = flip
        .apply(Item::new(image, Target::Boxes(boxes)).unwrap(), &mut rng)
        .unwrap();
    let Target::Boxes(b) = item.target else {
        panic!()
    };
    assert_eq!((b.boxes, b.labels), (vec![[5.0, 2.0, 7.0, 4.0]], vec![7]));
    // p = 0 never flips.
    let (image, mask) = scene(6, 8, [1, 2, 3, 4]);
    let same = HorizontalFlip::new(0.0)
        .apply(
            Item::new(image.clone(), Target::Mask(mask.clone())).unwrap(),
            &mut rng,
        )
        .unwrap();
    assert_eq!(same, Item::new(image, Target::Mask(mask)).unwrap());
}

#[test]
fn a_crop_clips_boxes_and_drops_the_degenerate_ones() {
    let mut boxes = Boxes::default();
    boxes.push([0.0, 0.0, 3.0, 3.0], 1, false); // clipped to [0, 0, 1, 1]
    boxes.push([6.0, 6.0, 8.0, 8.0], 2, true); // left with no area: dropped
    boxes.push([3.0, 2.5, 5.0, 5.0], 3, false); // inside
    boxes.push([2.0, 0.0, 4.0, 2.0], 4, false); // a line on the top edge: dropped
    let item = Item::new(noise(1, 8, 8, 3), Target::Boxes(boxes)).unwrap();
    let out = CenterCrop::new(4, 4)
        .apply(item.clone(), &mut Rng::seed(0))
        .unwrap();
    let Target::Boxes(b) = &out.target else {
        panic!()
    };
    assert_eq!(b.boxes, vec![[0.0, 0.0, 1.0, 1.0], [1.0, 0.5, 3.0, 3.0]]);
    assert_eq!(
        (b.labels.clone(), b.iscrowd.clone()),
        (vec![1, 3], vec![false, false])
    );
    // The pixels are the centre window.
    let src = bytes(&item);
    for y in 0..4 {
        assert_eq!(
            &bytes(&out)[y * 4..y * 4 + 4],
            &src[(y + 2) * 8 + 2..(y + 2) * 8 + 6]
        );
    }
    // A crop larger than the image pads with black; boxes shift by the padding.
    let big = CenterCrop::new(10, 12)
        .apply(item, &mut Rng::seed(0))
        .unwrap();
    assert_eq!((big.height, big.width, bytes(&big)[0]), (10, 12, 0));
    let Target::Boxes(b) = big.target else {
        panic!()
    };
    assert_eq!(b.boxes[0], [2.0, 1.0, 5.0, 4.0]);
}

#[test]
fn masks_are_never_interpolated_and_stay_in_step_through_every_transform() {
    let (image, mask) = scene(37, 45, [9, 7, 30, 25]);
    let steps: Vec<Arc<dyn Transform>> = vec![
        Arc::new(RandomResizedCrop::new(29, 31)),
        Arc::new(Resize::shorter(40)),
        Arc::new(RandomCrop {
            height: 36,
            width: 36,
            padding: 4,
        }),
        Arc::new(HorizontalFlip::new(0.5)),
        Arc::new(Pad { pad: 3 }),
        Arc::new(Resize::exact(17, 23)),
    ];
    let mut pipeline = Pipeline::new(Normalize::unit());
    for s in steps {
        pipeline = pipeline.then_shared(s).unwrap();
    }
    let allowed: BTreeSet<u8> = [0, 5, 255].into();
    for seed in 0..40 {
        let item = Item::new(image.clone(), Target::Mask(mask.clone())).unwrap();
        let out = pipeline.apply(item, &mut Rng::seed(seed)).unwrap();
        assert_eq!((out.height, out.width), (17, 23));
        let Target::Mask(m) = &out.target else {
            panic!()
        };
        assert_eq!((m.height, m.width), (17, 23));
        let values: BTreeSet<u8> = m.data.iter().copied().collect();
        assert!(values.is_subset(&allowed), "seed {seed}: {values:?}");
        // Away from the block's edges (where bilinear pixels blend), image and mask agree:
        // wherever the mask is uniform two pixels around, the pixel is clearly in or out.
        let (h, w) = (17usize, 23usize);
        for y in 2..h - 2 {
            for x in 2..w - 2 {
                let m0 = m.data[y * w + x];
                let uniform =
                    (y - 2..=y + 2).all(|yy| (x - 2..=x + 2).all(|xx| m.data[yy * w + xx] == m0));
                let v = out.level(y * w + x);
                if uniform && m0 == 5 {
                    assert!(v > 120.0, "seed {seed} ({y}, {x}): {v} inside the block");
                } else if uniform && m0 == 0 {
                    assert!(v < 90.0, "seed {seed} ({y}, {x}): {v} outside the block");
                }
            }
        }
    }
    // The distortion samples the mask by nearest neighbour too.
    let d = Distort {
        augment: Augment {
            max_shift: 2.0,
            max_rotation_deg: 20.0,
            max_scale: 0.2,
        },
        pad: 2,
    };
    let out = d
        .apply(
            Item::new(image, Target::Mask(mask)).unwrap(),
            &mut Rng::seed(4),
        )
        .unwrap();
    let Target::Mask(m) = &out.target else {
        panic!()
    };
    assert_eq!((out.height, out.width, m.height, m.width), (41, 49, 41, 49));
    assert!(m.data.iter().all(|v| allowed.contains(v)));
    assert!(m.data.contains(&5));
}

#[test]
fn the_distortion_moves_boxes_with_the_ink() {
    // A bright block and its box; after a distortion the box still holds the ink.
    let (image, _) = scene(30, 30, [10, 8, 18, 20]);
    let mut boxes = Boxes::default();
    boxes.push([10.0, 8.0, 18.0, 20.0], 1, false);
    let d = Distort {
        augment: Augment {
            max_shift: 3.0,
            max_rotation_deg: 25.0,
            max_scale: 0.2,
        },
        pad: 0,
    };
    for seed in 0..20 {
        let item = Item::new(image.clone(), Target::Boxes(boxes.clone())).unwrap();
        let out = d.apply(item, &mut Rng::seed(seed)).unwrap();
        let Target::Boxes(b) = &out.target else {
            panic!()
        };
        let [x1, y1, x2, y2] = b.boxes[0];
        for y in 0..30 {
            for x in 0..30 {
                if out.level(y * 30 + x) > 150.0 {
                    let (cx, cy) = (x as f32 + 0.5, y as f32 + 0.5);
                    assert!(
                        cx >= x1 && cx <= x2 && cy >= y1 && cy <= y2,
                        "seed {seed}: ink at ({x}, {y}) outside {:?}",
                        b.boxes[0]
                    );
                }
            }
        }
        // Tight within a pixel or two of the rotated block's extent.
        assert!(x2 - x1 < 8.0 * 1.2 * 1.5 + 2.0, "{:?}", b.boxes[0]);
    }
}

#[test]
fn resize_and_resized_crop_equal_pil_bit_for_bit() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/pil_transforms.json"
    ))
    .unwrap();
    let f: serde_json::Value = serde_json::from_str(&text).unwrap();
    let list = |v: &serde_json::Value| -> Vec<u8> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u8)
            .collect()
    };
    let (h, w) = (
        f["height"].as_u64().unwrap() as usize,
        f["width"].as_u64().unwrap() as usize,
    );
    let image = Image::from_interleaved(3, h, w, &list(&f["rgb"])).unwrap();
    let mask = Mask::new(h, w, list(&f["mask"])).unwrap();
    for case in f["cases"].as_array().unwrap() {
        let r: Vec<usize> = case["region"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as usize)
            .collect();
        let s: Vec<usize> = case["size"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as usize)
            .collect();
        let item = Item::new(image.clone(), Target::Mask(mask.clone())).unwrap();
        let crop = Crop {
            top: r[0],
            left: r[1],
            height: r[2],
            width: r[3],
        };
        let item = crop.apply(item, &mut Rng::seed(0)).unwrap();
        let out = Resize::exact(s[0], s[1])
            .apply(item, &mut Rng::seed(0))
            .unwrap();
        let want = Image::from_interleaved(3, s[0], s[1], &list(&case["rgb"])).unwrap();
        assert_eq!(bytes(&out), &want.data[..], "case {r:?} → {s:?}");
        let Target::Mask(m) = &out.target else {
            panic!()
        };
        assert_eq!(m.data, list(&case["mask"]), "mask case {r:?} → {s:?}");
    }
}

#[test]
fn a_random_resized_crop_is_its_window_cropped_then_resized() {
    let rrc = RandomResizedCrop::new(24, 20);
    let mut windows = BTreeSet::new();
    for seed in 0..30 {
        let image = noise(3, 41, 57, seed);
        let item = Item::new(image, Target::Class(1)).unwrap();
        let (top, left, h, w) = rrc.window(41, 57, &mut Rng::seed(seed));
        assert!(top + h <= 41 && left + w <= 57 && h > 0 && w > 0);
        let area = (h * w) as f64 / (41.0 * 57.0);
        let ratio = w as f64 / h as f64;
        assert!((0.06..=1.0).contains(&area), "{area}");
        assert!((0.7..=1.4).contains(&ratio), "{ratio}");
        windows.insert((top, left, h, w));
        let fused = rrc.apply(item.clone(), &mut Rng::seed(seed)).unwrap();
        let crop = Crop {
            top,
            left,
            height: h,
            width: w,
        };
        let two = Resize::exact(24, 20)
            .apply(
                crop.apply(item, &mut Rng::seed(0)).unwrap(),
                &mut Rng::seed(0),
            )
            .unwrap();
        assert_eq!(fused, two, "seed {seed}");
    }
    assert!(windows.len() > 25, "windows repeat: {windows:?}");
    // An image too thin for any try falls back to the centre crop of the widest ratio.
    let thin = RandomResizedCrop {
        scale: (0.9, 1.0),
        ..rrc
    };
    let (top, left, h, w) = thin.window(10, 200, &mut Rng::seed(0));
    assert_eq!((top, h, w, left), (0, 10, 13, (200 - 13) / 2));
}

#[test]
fn colour_jitter_changes_levels_not_geometry_and_keeps_grey_grey() {
    let jitter = ColorJitter {
        brightness: 0.4,
        contrast: 0.4,
        saturation: 0.4,
        hue: 0.1,
    };
    jitter.check().unwrap();
    let image = noise(3, 9, 11, 5);
    let item = Item::new(image.clone(), Target::Class(2)).unwrap();
    let mut changed = 0;
    for seed in 0..10 {
        let out = jitter.apply(item.clone(), &mut Rng::seed(seed)).unwrap();
        assert_eq!((out.channels, out.height, out.width), (3, 9, 11));
        assert_eq!(out.target, Target::Class(2));
        changed += (bytes(&out) != &image.data[..]) as usize;
    }
    assert_eq!(changed, 10);
    // Brightness alone scales every level by one factor (truncated).
    let bright = ColorJitter {
        brightness: 0.5,
        ..Default::default()
    };
    let out = bright.apply(item.clone(), &mut Rng::seed(3)).unwrap();
    // The factor, from the largest level that cannot have been clipped (1.5 × 170 = 255).
    let p = (0..image.data.len())
        .filter(|&i| image.data[i] <= 170)
        .max_by_key(|&i| image.data[i])
        .unwrap();
    let f = (bytes(&out)[p] as f32 + 0.5) / image.data[p] as f32;
    assert!(
        (0.5..=1.5).contains(&f) && (f - 1.0).abs() > 0.01,
        "factor {f}"
    );
    for (k, (&a, &b)) in image.data.iter().zip(bytes(&out)).enumerate() {
        let want = (a as f32 * f).min(255.0);
        assert!(
            (b as f32 - want).abs() <= 2.0,
            "level {k}: {a} → {b}, factor {f}"
        );
    }
    // A grey image keeps one channel; saturation and hue leave it alone.
    let grey = Item::new(noise(1, 5, 5, 8), Target::None).unwrap();
    let sat = ColorJitter {
        saturation: 0.9,
        hue: 0.5,
        ..Default::default()
    };
    assert_eq!(sat.apply(grey.clone(), &mut Rng::seed(1)).unwrap(), grey);
    assert!(ColorJitter {
        hue: 0.7,
        ..Default::default()
    }
    .check()
    .is_err());
}

/// `n` RGB images of varied sizes with boxes around a bright block, in memory.
fn box_set(n: usize) -> MemoryDataset {
    let samples = (0..n)
        .map(|i| {
            let (h, w) = (30 + i % 7, 34 + (i * 3) % 11);
            let (image, _) = scene(h, w, [5, 6, 20, 22]);
            let mut boxes = Boxes::default();
            boxes.push([5.0, 6.0, 20.0, 22.0], 1 + i % 3, false);
            Sample {
                image,
                target: Target::Boxes(boxes),
                id: i as u64,
            }
        })
        .collect();
    MemoryDataset::new(
        samples,
        vec!["bg".into(), "a".into(), "b".into(), "c".into()],
    )
    .unwrap()
}

fn augmenting() -> Pipeline {
    Pipeline::new(Normalize::new(&[0.5, 0.4, 0.3], &[0.2, 0.25, 0.3]).unwrap())
        .then(RandomResizedCrop {
            scale: (0.5, 1.0),
            ..RandomResizedCrop::new(24, 24)
        })
        .unwrap()
        .then(HorizontalFlip::new(0.5))
        .unwrap()
        .then(ColorJitter {
            brightness: 0.3,
            contrast: 0.3,
            saturation: 0.3,
            hue: 0.05,
        })
        .unwrap()
}

type Seen = Vec<(Vec<f32>, BatchTargets, Vec<usize>)>;

fn run(loader: &Loader, epoch: usize) -> Seen {
    loader
        .epoch(epoch)
        .map(|b| {
            let b: Batch = b.unwrap();
            (b.images.to_vec(), b.targets, b.indices)
        })
        .collect()
}

#[test]
fn the_loader_gives_the_same_batches_for_any_number_of_workers_and_depends_on_seed_epoch() {
    let data: Arc<dyn Dataset> = Arc::new(box_set(23));
    let loader = |workers: usize, prefetch: usize, seed: u64| {
        let cfg = LoaderConfig {
            batch_size: 5,
            seed,
            workers,
            prefetch,
            ..Default::default()
        };
        Loader::with_pipeline(Arc::clone(&data), augmenting(), cfg).unwrap()
    };
    let one = loader(1, 2, 9);
    let reference = run(&one, 2);
    assert_eq!(reference.len(), 5);
    for (workers, prefetch) in [(2, 2), (3, 1), (0, 2), (2, 0), (4, 8)] {
        assert_eq!(
            run(&loader(workers, prefetch, 9), 2),
            reference,
            "{workers} workers"
        );
    }
    // History does not matter; the epoch and the seed do.
    let _ = run(&one, 0);
    assert_eq!(run(&one, 2), reference);
    assert_ne!(run(&one, 3), reference);
    assert_ne!(run(&loader(2, 2, 10), 2), reference);
    // Boxes came through, moved: inside the 24 × 24 crop.
    for (_, targets, idx) in &reference {
        let BatchTargets::Boxes(per_image) = targets else {
            panic!()
        };
        assert_eq!(per_image.len(), idx.len());
        for b in per_image.iter().flat_map(|b| &b.boxes) {
            assert!(
                b[0] >= 0.0 && b[2] <= 24.0 && b[0] < b[2] && b[1] < b[3],
                "{b:?}"
            );
        }
    }
}

#[test]
fn batches_of_different_sizes_pad_to_the_largest_or_are_refused_naming_both() {
    let data: Arc<dyn Dataset> = Arc::new(box_set(4));
    let cfg = LoaderConfig {
        batch_size: 4,
        shuffle: false,
        ..Default::default()
    };
    let plain = Pipeline::new(Normalize::unit());
    let refused = Loader::with_pipeline(Arc::clone(&data), plain.clone(), cfg.clone()).unwrap();
    let err = refused.epoch(0).next().unwrap().unwrap_err().to_string();
    assert!(
        err.contains("sample 0") && err.contains("sample 1"),
        "{err}"
    );
    let padded = LoaderConfig {
        pad_to_largest: true,
        ..cfg
    };
    let b = Loader::with_pipeline(data, plain, padded)
        .unwrap()
        .epoch(0)
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(b.images.shape(), &[4, 3, 33, 43]);
    assert_eq!(b.sizes, vec![[30, 34], [31, 37], [32, 40], [33, 43]]);
    // Image 0's padding is 0; its own pixels are its levels / 255.
    assert_eq!(b.images.at(&[0, 0, 32, 42]).unwrap(), 0.0);
    assert_eq!(b.images.at(&[0, 1, 30, 0]).unwrap(), 0.0);
    assert!((b.images.at(&[0, 0, 29, 33]).unwrap() - 10.0 / 255.0).abs() < 1e-6);
}

#[test]
fn masks_collate_to_the_batch_size_with_ignored_padding() {
    let samples = (0..3)
        .map(|i| {
            let (image, mask) = scene(10 + i, 12, [2, 3, 6, 7]);
            Sample {
                image,
                target: Target::Mask(mask),
                id: i as u64,
            }
        })
        .collect();
    let data = Arc::new(MemoryDataset::new(samples, vec![]).unwrap());
    let cfg = LoaderConfig {
        batch_size: 3,
        shuffle: false,
        pad_to_largest: true,
        ..Default::default()
    };
    let pipeline = Pipeline::new(Normalize::unit())
        .then(HorizontalFlip::new(1.0))
        .unwrap();
    let b = Loader::with_pipeline(data, pipeline, cfg)
        .unwrap()
        .epoch(0)
        .next()
        .unwrap()
        .unwrap();
    let BatchTargets::Masks(masks) = &b.targets else {
        panic!()
    };
    for (k, m) in masks.iter().enumerate() {
        assert_eq!((m.height, m.width), (12, 12));
        assert_eq!(m.data[11 * 12], if k == 2 { 0 } else { 255 });
        assert_eq!(m.data[3 * 12 + 12 - 3], 5); // the block, flipped
        assert_eq!(m.data[3 * 12 + 2], 0);
    }
}

#[test]
fn tokens_pad_to_the_longest_with_lengths() {
    let t = pad_tokens(&[vec![4, 5, 6], vec![7], vec![]], 0);
    assert_eq!(t.shape(), [3, 3]);
    assert_eq!(t.ids, vec![4, 5, 6, 7, 0, 0, 0, 0, 0]);
    assert_eq!(
        (t.lengths.clone(), t.row(1)),
        (vec![3, 1, 0], &[7, 0, 0][..])
    );
}

#[test]
fn skip_bad_counts_and_names_a_corrupt_file_and_without_it_the_error_names_it() {
    let dir = tempfile::tempdir().unwrap();
    for (class, count) in [("cat", 4), ("dog", 5)] {
        std::fs::create_dir(dir.path().join(class)).unwrap();
        for i in 0..count {
            let path = dir.path().join(class).join(format!("{i}.png"));
            write_image(&path, &noise(3, 12, 14, i)).unwrap();
        }
    }
    std::fs::write(dir.path().join("dog/broken.png"), b"\x89PNG but not really").unwrap();
    let data: Arc<dyn Dataset> = Arc::new(image_folder(dir.path()).unwrap());
    assert_eq!(data.len(), 10);
    let cfg = LoaderConfig {
        batch_size: 3,
        seed: 2,
        skip_bad: true,
        ..Default::default()
    };
    let pipeline = Pipeline::new(Normalize::unit());
    let loader = Loader::with_pipeline(Arc::clone(&data), pipeline.clone(), cfg.clone()).unwrap();
    let mut it = loader.epoch(0);
    let served: usize = it.by_ref().map(|b| b.unwrap().len()).sum();
    assert_eq!(served, 9);
    assert_eq!(it.skipped().len(), 1);
    assert!(
        it.skipped()[0].entry.ends_with("broken.png"),
        "{:?}",
        it.skipped()
    );
    assert!(it.skipped()[0].error.contains("broken.png"));
    let strict = Loader::with_pipeline(
        data,
        pipeline,
        LoaderConfig {
            skip_bad: false,
            ..cfg
        },
    )
    .unwrap();
    let results: Vec<_> = strict.epoch(0).collect();
    let err = results.last().unwrap().as_ref().unwrap_err().to_string();
    assert!(
        err.contains("broken.png") && err.contains("sample "),
        "{err}"
    );
    assert!(results[..results.len() - 1].iter().all(Result::is_ok));
}

#[test]
fn a_mask_whose_size_differs_from_its_image_is_an_error_naming_both_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for sub in ["JPEGImages", "SegmentationClass", "ImageSets/Segmentation"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
    std::fs::write(root.join("ImageSets/Segmentation/train.txt"), "a\nb\n").unwrap();
    for (id, mh) in [("a", 8), ("b", 9)] {
        write_image(
            &root.join(format!("JPEGImages/{id}.jpg")),
            &noise(3, 8, 10, 1),
        )
        .unwrap();
        let mask = Mask::new(mh, 10, vec![1; mh * 10]).unwrap();
        write_mask(&root.join(format!("SegmentationClass/{id}.png")), &mask).unwrap();
    }
    let data: Arc<dyn Dataset> = Arc::new(voc_segmentation(root, "train").unwrap());
    let cfg = LoaderConfig {
        batch_size: 2,
        shuffle: false,
        ..Default::default()
    };
    let loader = Loader::with_pipeline(data, Pipeline::new(Normalize::unit()), cfg).unwrap();
    let err = loader.epoch(0).next().unwrap().unwrap_err().to_string();
    assert!(
        err.contains("b.png") && err.contains("b.jpg") && err.contains("sample 1"),
        "{err}"
    );
}

#[test]
fn colour_jitter_changes_equal_torchvision_on_pil_bit_for_bit() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/pil_transforms.json"
    ))
    .unwrap();
    let f: serde_json::Value = serde_json::from_str(&text).unwrap();
    let list = |v: &serde_json::Value| -> Vec<u8> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u8)
            .collect()
    };
    let (h, w) = (
        f["height"].as_u64().unwrap() as usize,
        f["width"].as_u64().unwrap() as usize,
    );
    let image = Image::from_interleaved(3, h, w, &list(&f["rgb"])).unwrap();
    let cases = f["jitter"].as_array().unwrap();
    assert_eq!(cases.len(), 8);
    for case in cases {
        let (op, factor) = (
            case["op"].as_str().unwrap(),
            case["factor"].as_f64().unwrap() as f32,
        );
        let (k, jitter) = match op {
            "brightness" => (
                0,
                ColorJitter {
                    brightness: 0.5,
                    ..Default::default()
                },
            ),
            "contrast" => (
                1,
                ColorJitter {
                    contrast: 0.5,
                    ..Default::default()
                },
            ),
            "saturation" => (
                2,
                ColorJitter {
                    saturation: 0.5,
                    ..Default::default()
                },
            ),
            _ => (
                3,
                ColorJitter {
                    hue: 0.5,
                    ..Default::default()
                },
            ),
        };
        let mut factors = [1.0; 4];
        factors[k] = factor;
        let item = Item::new(image.clone(), Target::None).unwrap();
        let out = jitter.adjust(item, [0, 1, 2, 3], factors);
        let want = Image::from_interleaved(3, h, w, &list(&case["rgb"])).unwrap();
        let got = bytes(&out);
        let differ = got.iter().zip(&want.data).filter(|(a, b)| a != b).count();
        assert_eq!(
            differ,
            0,
            "{op} {factor}: {differ} of {} levels differ",
            got.len()
        );
    }
}
