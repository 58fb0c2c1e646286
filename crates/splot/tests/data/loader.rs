//! The batch loader: shapes, order, reproducibility, normalisation, padding, augmentation.

use splot::data::{
    Augment, Batch, ImageDataset, Loader, LoaderConfig, Mnist, MNIST_MEAN, MNIST_STD,
};
use std::time::Duration;

/// `n` images of 4×3; pixel `(r, c)` of image `i` is `(i·12 + r·3 + c) mod 256`, label `i mod 10`.
fn counting_set(n: usize) -> ImageDataset {
    let pixels = (0..n * 12).map(|p| (p % 256) as u8).collect();
    ImageDataset::new(pixels, (0..n).map(|i| (i % 10) as u8).collect(), 4, 3).unwrap()
}

fn config(batch_size: usize) -> LoaderConfig {
    LoaderConfig {
        batch_size,
        seed: 7,
        ..Default::default()
    }
}

fn collect(loader: &Loader, epoch: usize) -> Vec<(Vec<f32>, Vec<usize>, Vec<usize>)> {
    let batches: Vec<Batch> = loader.epoch(epoch).map(Result::unwrap).collect();
    batches
        .into_iter()
        .map(|b| (b.images.to_vec(), b.labels().unwrap().to_vec(), b.indices))
        .collect()
}

#[test]
fn loader_batch_shapes_partial_last_batch_and_drop_last() {
    let loader = Loader::new(counting_set(10), config(4)).unwrap();
    assert_eq!(loader.len_batches(), 3);
    let mut it = loader.epoch(0);
    assert_eq!(it.len(), 3);
    let shapes: Vec<Vec<usize>> = it
        .by_ref()
        .map(|b| b.unwrap().images.shape().to_vec())
        .collect();
    assert_eq!(
        shapes,
        [vec![4, 1, 4, 3], vec![4, 1, 4, 3], vec![2, 1, 4, 3]]
    );
    assert!(it.next().is_none() && it.next().is_none());
    let cfg = LoaderConfig {
        drop_last: true,
        ..config(4)
    };
    let loader = Loader::new(counting_set(10), cfg).unwrap();
    assert_eq!(loader.len_batches(), 2);
    assert!(loader
        .epoch(1)
        .all(|b| b.unwrap().labels().unwrap().len() == 4));
    let empty = Loader::new(counting_set(0), config(4)).unwrap();
    assert_eq!(empty.epoch(0).count(), 0);
}

#[test]
fn loader_every_sample_once_per_epoch_with_its_own_pixels_and_label() {
    let data = counting_set(21);
    let loader = Loader::new(data.clone(), config(5)).unwrap();
    for epoch in 0..3 {
        let mut seen = Vec::new();
        for b in loader.epoch(epoch).map(Result::unwrap) {
            for (k, &i) in b.indices.iter().enumerate() {
                let first = b.images.at(&[k, 0, 0, 0]).unwrap() * 255.0;
                assert_eq!(first.round() as u8, data.image(i)[0]);
                assert_eq!(b.labels().unwrap()[k], data.label(i) as usize);
            }
            seen.extend(b.indices);
        }
        assert_eq!(seen, loader.order(epoch));
        seen.sort();
        assert_eq!(seen, (0..21).collect::<Vec<_>>());
    }
    let ordered = Loader::new(
        data,
        LoaderConfig {
            shuffle: false,
            ..config(5)
        },
    )
    .unwrap();
    assert_eq!(ordered.order(4), (0..21).collect::<Vec<_>>());
}

#[test]
fn loader_epochs_depend_only_on_seed_and_epoch() {
    let aug = Some(Augment {
        max_shift: 1.0,
        max_rotation_deg: 15.0,
        max_scale: 0.1,
    });
    let cfg = LoaderConfig {
        augment: aug,
        prefetch: 3,
        ..config(6)
    };
    let a = Loader::new(counting_set(40), cfg.clone()).unwrap();
    let b = Loader::new(
        counting_set(40),
        LoaderConfig {
            prefetch: 0,
            ..cfg.clone()
        },
    )
    .unwrap();
    for epoch in 0..3 {
        let _ = collect(&a, epoch);
    }
    assert_eq!(
        collect(&a, 3),
        collect(&b, 3),
        "history or threads changed epoch 3"
    );
    assert_ne!(a.order(0), a.order(1));
    assert_ne!(collect(&a, 0), collect(&a, 1));
    let other_seed = Loader::new(counting_set(40), LoaderConfig { seed: 8, ..cfg }).unwrap();
    assert_ne!(a.order(2), other_seed.order(2));
}

#[test]
fn loader_normalises_and_pads_with_normalised_black() {
    let cfg = LoaderConfig {
        shuffle: false,
        mean: MNIST_MEAN,
        std: MNIST_STD,
        ..config(2)
    };
    let plain = Loader::new(counting_set(2), cfg.clone()).unwrap();
    let b = plain.epoch(0).next().unwrap().unwrap();
    // Image 1, pixel (2, 1) is 12 + 6 + 1 = 19.
    let want = (19.0 / 255.0 - 0.1307) / 0.3081;
    assert!((b.images.at(&[1, 0, 2, 1]).unwrap() - want).abs() < 1e-6);
    let padded = Loader::new(counting_set(2), LoaderConfig { pad: 2, ..cfg }).unwrap();
    assert_eq!(padded.image_size(), Some((8, 7)));
    let p = padded.epoch(0).next().unwrap().unwrap();
    assert_eq!(p.images.shape(), &[2, 1, 8, 7]);
    let black = -0.1307 / 0.3081;
    for k in 0..2 {
        for y in 0..8 {
            for x in 0..7 {
                let v = p.images.at(&[k, 0, y, x]).unwrap();
                if (2..6).contains(&y) && (2..5).contains(&x) {
                    assert_eq!(v, b.images.at(&[k, 0, y - 2, x - 2]).unwrap());
                } else {
                    assert!((v - black).abs() < 1e-6, "border ({y}, {x}) is {v}");
                }
            }
        }
    }
}

#[test]
fn mnist_digits_pad_to_lenet_size() {
    let test = Mnist::load_test(&Mnist::locate().unwrap())
        .unwrap()
        .subset(0..3);
    let cfg = LoaderConfig {
        pad: 2,
        shuffle: false,
        mean: MNIST_MEAN,
        std: MNIST_STD,
        ..config(3)
    };
    let b = Loader::new(test, cfg)
        .unwrap()
        .epoch(0)
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(b.images.shape(), &[3, 1, 32, 32]);
    assert_eq!(b.labels().unwrap()[0], 7);
    let max = b.images.to_vec().into_iter().fold(f32::MIN, f32::max);
    assert!((max - (1.0 - 0.1307) / 0.3081).abs() < 1e-5);
}

/// 9×9 images, black with a white 3×3 square in the middle.
fn square_set(n: usize) -> ImageDataset {
    let mut img = [0u8; 81];
    for y in 3..6 {
        img[y * 9 + 3..y * 9 + 6].fill(255);
    }
    ImageDataset::new(img.repeat(n), vec![0; n], 9, 9).unwrap()
}

#[test]
fn augmentation_keeps_shapes_and_range_and_moves_about_the_centre() {
    let base = LoaderConfig {
        pad: 2,
        shuffle: false,
        ..config(8)
    };
    let aug = Augment {
        max_shift: 1.0,
        max_rotation_deg: 30.0,
        max_scale: 0.2,
    };
    let plain = collect(&Loader::new(square_set(8), base.clone()).unwrap(), 0);
    let identity = LoaderConfig {
        augment: Some(Augment::default()),
        ..base.clone()
    };
    assert_eq!(
        plain,
        collect(&Loader::new(square_set(8), identity).unwrap(), 0)
    );
    let loader = Loader::new(
        square_set(8),
        LoaderConfig {
            augment: Some(aug),
            ..base
        },
    )
    .unwrap();
    let b = loader.epoch(0).next().unwrap().unwrap();
    assert_eq!(b.images.shape(), &[8, 1, 13, 13]);
    let pixels = b.images.to_vec();
    assert!(pixels.iter().all(|&v| (-1e-6..=1.0 + 1e-6).contains(&v)));
    let mut changed = 0;
    for (k, img) in pixels.chunks(169).enumerate() {
        changed += (img != &plain[0].0[k * 169..(k + 1) * 169]) as usize;
        // The square's centre of mass stays within the shift of the canvas centre (6, 6).
        let mass: f32 = img.iter().sum();
        let cy = img
            .iter()
            .enumerate()
            .map(|(p, v)| (p / 13) as f32 * v)
            .sum::<f32>()
            / mass;
        let cx = img
            .iter()
            .enumerate()
            .map(|(p, v)| (p % 13) as f32 * v)
            .sum::<f32>()
            / mass;
        assert!(
            (cy - 6.0).abs() <= 1.01 && (cx - 6.0).abs() <= 1.01,
            "image {k}: ({cy}, {cx})"
        );
        // Area scales by s² ∈ [0.64, 1.44]: the square's 9 white pixels stay 5.7–13.
        assert!((5.7..=13.0).contains(&mass), "image {k}: mass {mass}");
    }
    assert_eq!(changed, 8, "augmentation left images unchanged");
}

#[test]
fn dropping_an_epoch_early_does_not_hang() {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let loader = Loader::new(
            counting_set(500),
            LoaderConfig {
                prefetch: 1,
                ..config(1)
            },
        );
        let loader = loader.unwrap();
        drop(loader.epoch(0)); // before the first batch
        let mut it = loader.epoch(1);
        let first = it.next().unwrap().unwrap();
        drop(it);
        let again = loader.epoch(1).next().unwrap().unwrap();
        tx.send(first.indices == again.indices).unwrap();
    });
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(30)),
        Ok(true),
        "hung or differed"
    );
}

#[test]
fn bad_configurations_and_datasets_are_errors() {
    let bad = [
        LoaderConfig {
            batch_size: 0,
            ..config(1)
        },
        LoaderConfig {
            std: 0.0,
            ..config(1)
        },
        LoaderConfig {
            mean: f32::NAN,
            ..config(1)
        },
        LoaderConfig {
            augment: Some(Augment {
                max_scale: 1.0,
                ..Default::default()
            }),
            ..config(1)
        },
        LoaderConfig {
            augment: Some(Augment {
                max_shift: -1.0,
                ..Default::default()
            }),
            ..config(1)
        },
    ];
    for cfg in bad {
        let err = Loader::new(counting_set(3), cfg.clone()).unwrap_err();
        assert!(err.to_string().starts_with("Loader"), "{cfg:?}: {err}");
    }
    assert!(ImageDataset::new(vec![0; 11], vec![0; 1], 3, 4).is_err());
    assert!(ImageDataset::new(vec![], vec![], 0, 4).is_err());
    let set = counting_set(5).subset(1..3);
    assert_eq!((set.len(), set.label(0), set.image(1)[0]), (2, 1, 24));
}

/// FNV-1a over the bits of every value, label and index of the first `count` batches of
/// epochs 0 and 1.
fn fingerprint(loader: &Loader, count: usize) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    let mut eat = |x: u64| {
        for byte in x.to_le_bytes() {
            h = (h ^ byte as u64).wrapping_mul(0x100_0000_01b3);
        }
    };
    for epoch in 0..2 {
        for b in loader.epoch(epoch).take(count).map(Result::unwrap) {
            b.images
                .to_vec()
                .iter()
                .for_each(|v| eat(v.to_bits() as u64));
            b.images.shape().iter().for_each(|&d| eat(d as u64));
            b.labels().unwrap().iter().for_each(|&l| eat(l as u64));
            b.indices.iter().for_each(|&i| eat(i as u64));
        }
    }
    h
}

#[test]
fn mnist_batches_are_bit_for_bit_those_of_the_first_loader() {
    let train = Mnist::load_train(&Mnist::locate().unwrap())
        .unwrap()
        .subset(0..2000);
    let lecun = Augment {
        max_shift: 2.0,
        max_rotation_deg: 8.0,
        max_scale: 0.1,
    };
    let base = LoaderConfig {
        batch_size: 64,
        seed: 3,
        mean: MNIST_MEAN,
        std: MNIST_STD,
        pad: 2,
        ..Default::default()
    };
    // Taken from the MNIST-only loader of commit 5334a79, before the generic one.
    let cases = [
        (
            LoaderConfig {
                augment: Some(lecun),
                ..base.clone()
            },
            0x5cbc_2324_5c50_8412u64,
        ),
        (base.clone(), 0x9edf_a8aa_a8ba_b1d9),
        (
            LoaderConfig {
                shuffle: false,
                pad: 0,
                ..base.clone()
            },
            0x0e34_dc12_5818_9ec5,
        ),
    ];
    for (cfg, want) in cases {
        for workers in [1, 3] {
            let cfg = LoaderConfig {
                workers,
                ..cfg.clone()
            };
            let loader = Loader::new(train.clone(), cfg.clone()).unwrap();
            assert_eq!(fingerprint(&loader, 4), want, "{cfg:?}");
        }
    }
}
