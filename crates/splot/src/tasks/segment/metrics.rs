//! Segmentation metrics from one confusion matrix, as torchvision's reference scripts
//! (`references/segmentation/utils.py`, `ConfusionMatrix`) compute them: entry `(t, p)`
//! counts the pixels of true class `t` predicted `p`, pixels whose truth is not a class
//! (255, the ignored border) are left out, and
//!
//! - pixel accuracy `Σ_c n_cc / Σ n`;
//! - class accuracy `n_cc / Σ_p n_cp` (recall) and its mean;
//! - IoU `n_cc / (Σ_p n_cp + Σ_t n_tc − n_cc)` and its mean (mIoU).
//!
//! A class absent from both truth and predictions has no IoU (NaN), and means are over the
//! classes that have one (numpy's `nanmean`; torchvision's `mean` would be NaN there and
//! is equal otherwise).

/// A `classes × classes` confusion matrix, row = truth, column = prediction.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfusionMatrix {
    classes: usize,
    counts: Vec<u64>,
}

/// The figures of a confusion matrix.
#[derive(Clone, Debug, PartialEq)]
pub struct SegmentScores {
    /// Pixel accuracy.
    pub pixel_accuracy: f64,
    /// Mean of the per-class accuracies.
    pub mean_class_accuracy: f64,
    /// Mean IoU.
    pub mean_iou: f64,
    /// IoU of each class (NaN where the class is in neither truth nor prediction).
    pub iou: Vec<f64>,
    /// Accuracy of each class (NaN where the class is not in the truth).
    pub class_accuracy: Vec<f64>,
    /// Pixels counted.
    pub pixels: u64,
}

impl ConfusionMatrix {
    /// An empty matrix over `classes` classes.
    pub fn new(classes: usize) -> ConfusionMatrix {
        ConfusionMatrix {
            classes,
            counts: vec![0; classes * classes],
        }
    }

    /// Classes.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// The count of truth `t` predicted `p`.
    pub fn get(&self, t: usize, p: usize) -> u64 {
        self.counts[t * self.classes + p]
    }

    /// Adds pixels: `truth[i]` against `pred[i]`; truths that are not classes (255) are
    /// skipped. Panics never: a prediction outside the classes is counted nowhere and
    /// reported as an error.
    pub fn update(&mut self, truth: &[u8], pred: &[usize]) -> crate::Result<()> {
        if truth.len() != pred.len() {
            return Err(crate::Error::shape(
                "ConfusionMatrix",
                format!("{} truths against {} predictions", truth.len(), pred.len()),
            ));
        }
        let k = self.classes;
        for (&t, &p) in truth.iter().zip(pred) {
            let t = t as usize;
            if t >= k {
                continue;
            }
            if p >= k {
                return Err(crate::Error::shape(
                    "ConfusionMatrix",
                    format!("prediction {p} is not one of the {k} classes"),
                ));
            }
            self.counts[t * k + p] += 1;
        }
        Ok(())
    }

    /// Adds another matrix of the same classes.
    pub fn merge(&mut self, other: &ConfusionMatrix) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
    }

    /// The figures.
    pub fn scores(&self) -> SegmentScores {
        let k = self.classes;
        let diag: Vec<f64> = (0..k).map(|c| self.get(c, c) as f64).collect();
        let rows: Vec<f64> = (0..k)
            .map(|t| (0..k).map(|p| self.get(t, p) as f64).sum())
            .collect();
        let cols: Vec<f64> = (0..k)
            .map(|p| (0..k).map(|t| self.get(t, p) as f64).sum())
            .collect();
        let total: f64 = rows.iter().sum();
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
        let iou: Vec<f64> = (0..k)
            .map(|c| ratio(diag[c], rows[c] + cols[c] - diag[c]))
            .collect();
        let class_accuracy: Vec<f64> = (0..k).map(|c| ratio(diag[c], rows[c])).collect();
        SegmentScores {
            pixel_accuracy: ratio(diag.iter().sum(), total),
            mean_class_accuracy: nanmean(&class_accuracy),
            mean_iou: nanmean(&iou),
            iou,
            class_accuracy,
            pixels: total as u64,
        }
    }
}

/// The mean of the values that are not NaN (NaN when none is).
pub fn nanmean(v: &[f64]) -> f64 {
    let (s, n) = v
        .iter()
        .filter(|x| !x.is_nan())
        .fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 {
        f64::NAN
    } else {
        s / n as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_truth_and_prediction_and_skips_the_border() {
        let mut m = ConfusionMatrix::new(3);
        m.update(&[0, 0, 1, 1, 2, 255], &[0, 1, 1, 1, 0, 2])
            .unwrap();
        assert_eq!(m.get(0, 0), 1);
        assert_eq!(m.get(0, 1), 1);
        assert_eq!(m.get(1, 1), 2);
        assert_eq!(m.get(2, 0), 1);
        let s = m.scores();
        assert_eq!(s.pixels, 5);
        assert!((s.pixel_accuracy - 3.0 / 5.0).abs() < 1e-12);
        // IoU: class 0: 1 / (2 + 2 − 1); class 1: 2 / (2 + 3 − 2); class 2: 0 / (1 + 0)
        assert!((s.iou[0] - 1.0 / 3.0).abs() < 1e-12);
        assert!((s.iou[1] - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(s.iou[2], 0.0);
        assert!((s.mean_iou - 1.0 / 3.0).abs() < 1e-12);
        assert!((s.mean_class_accuracy - (0.5 + 1.0 + 0.0) / 3.0).abs() < 1e-12);
        assert!(m.update(&[0], &[3]).is_err());
        assert!(m.update(&[0, 1], &[0]).is_err());
    }

    #[test]
    fn absent_classes_have_no_iou_and_leave_the_means() {
        let mut m = ConfusionMatrix::new(3);
        m.update(&[0, 1], &[0, 1]).unwrap();
        let s = m.scores();
        assert!(s.iou[2].is_nan());
        assert_eq!(s.mean_iou, 1.0);
    }
}
