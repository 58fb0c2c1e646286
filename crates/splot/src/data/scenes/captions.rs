//! The captions of a digit scene: 3 to 5 different sentences per canvas, lower case without
//! a final stop, each naming **every** digit of the canvas once, as a numeral ("a large 7");
//! counts are words ("three digits"), so the numerals of a caption are exactly its
//! canvas's digits.
//!
//! - Size words come from the height of the digit's box ([`size_word`]): `small` under
//!   28 px, `medium` under 42 px, `large` from 42 px.
//! - Spatial relations come from the box centres ([`relation`]): the axis with the larger
//!   offset decides between "to the left of"/"to the right of" and "above"/"below".
//! - Positions on the canvas ([`region`]) come from the box centre's third of the canvas,
//!   across and down ("at the top left", "in the centre").
//!
//! The sentence kinds: a count ("three digits: a small 3, a large 7 and a medium 2"),
//! positions ("a large 7 at the top left and a small 3 in the centre"), the digits alone
//! ("the digits 7 and 3", left to right), the background ("a large 7 on a striped
//! background"), a chain of relations ("a large 7 to the left of a small 3, which is above
//! a medium 2"), orderings ("from left to right: …", "from top to bottom: …"), the largest
//! digit ("the largest digit is an 8; the other is a small 3"), and for a single digit "a
//! picture of a large 7". Each canvas gets 3 to 5 of the kinds that apply, in random order.

use super::background::Texture;
use super::SceneDigit;
use crate::tensor::Rng;

/// The size word of a digit whose box is `height` px tall.
pub fn size_word(height: usize) -> &'static str {
    match height {
        0..=27 => "small",
        28..=41 => "medium",
        _ => "large",
    }
}

/// Where `a` is relative to `b` (centres `(x, y)`, y down): the larger offset's axis decides.
pub fn relation(a: (f32, f32), b: (f32, f32)) -> &'static str {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    if dx.abs() >= dy.abs() {
        if dx > 0.0 {
            "to the left of"
        } else {
            "to the right of"
        }
    } else if dy > 0.0 {
        "above"
    } else {
        "below"
    }
}

/// The canvas region of a centre `(x, y)` on a `size`-px canvas: thirds across and down.
pub fn region(centre: (f32, f32), size: usize) -> &'static str {
    let third = |v: f32| ((3.0 * v / size as f32) as usize).min(2);
    match (third(centre.1), third(centre.0)) {
        (0, 0) => "at the top left",
        (0, 1) => "at the top",
        (0, _) => "at the top right",
        (1, 0) => "on the left",
        (1, 1) => "in the centre",
        (1, _) => "on the right",
        (_, 0) => "at the bottom left",
        (_, 1) => "at the bottom",
        (_, _) => "at the bottom right",
    }
}

/// "a large 7".
fn phrase(d: &SceneDigit) -> String {
    format!("a {} {}", size_word(d.height()), d.label)
}

/// "a 7" or "an 8".
fn bare(d: &SceneDigit) -> String {
    let article = if d.label == 8 { "an" } else { "a" };
    format!("{article} {}", d.label)
}

/// "x", "x and y", "x, y and z".
fn list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn count_word(n: usize) -> &'static str {
    [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    ][n.min(9)]
}

/// The digits in a random order.
fn shuffled<'a>(rng: &mut Rng, digits: &'a [SceneDigit]) -> Vec<&'a SceneDigit> {
    let mut v: Vec<&SceneDigit> = digits.iter().collect();
    for i in (1..v.len()).rev() {
        v.swap(i, rng.below(i + 1));
    }
    v
}

/// The digits sorted by `key` (stable, so ties keep drawing order).
fn sorted_by(digits: &[SceneDigit], key: impl Fn(&SceneDigit) -> f32) -> Vec<&SceneDigit> {
    let mut v: Vec<&SceneDigit> = digits.iter().collect();
    v.sort_by(|a, b| key(a).total_cmp(&key(b)));
    v
}

/// 3 to 5 captions of a canvas of `size` px with `digits` on a `texture` background.
pub fn captions(
    rng: &mut Rng,
    digits: &[SceneDigit],
    size: usize,
    texture: Texture,
) -> Vec<String> {
    let n = digits.len();
    let phrases = |v: &[&SceneDigit]| list(&v.iter().map(|d| phrase(d)).collect::<Vec<_>>());
    let mut kinds: Vec<Option<String>> = Vec::new();
    // A count.
    let order = shuffled(rng, digits);
    kinds.push(Some(if n == 1 {
        format!("a single {}", phrases(&order))
    } else {
        format!("{} digits: {}", count_word(n), phrases(&order))
    }));
    // Positions on the canvas.
    let order = shuffled(rng, digits);
    let placed: Vec<String> = order
        .iter()
        .map(|d| format!("{} {}", phrase(d), region(d.centre(), size)))
        .collect();
    kinds.push(Some(list(&placed)));
    // The digits alone, left to right.
    let left_to_right = sorted_by(digits, |d| d.centre().0);
    let numerals: Vec<String> = left_to_right.iter().map(|d| d.label.to_string()).collect();
    kinds.push(Some(if n == 1 {
        format!("the digit {}", numerals[0])
    } else {
        format!("the digits {}", list(&numerals))
    }));
    // The background.
    let order = shuffled(rng, digits);
    kinds.push(Some(format!(
        "{} on a {} background",
        phrases(&order),
        texture.adjective()
    )));
    if n == 1 {
        kinds.push(Some(format!("a picture of {}", phrase(&digits[0]))));
    } else {
        // A chain of relations, left to right or right to left; left out when two
        // neighbours' centres are too close for a relation to be clear.
        let mut chain = left_to_right.clone();
        if rng.below(2) == 0 {
            chain.reverse();
        }
        let clear = chain.windows(2).all(|w| {
            let (a, b) = (w[0].centre(), w[1].centre());
            (b.0 - a.0).abs().max((b.1 - a.1).abs()) >= 4.0
        });
        kinds.push(clear.then(|| {
            let mut s = phrase(chain[0]);
            for (i, w) in chain.windows(2).enumerate() {
                let rel = relation(w[0].centre(), w[1].centre());
                if i == 0 {
                    s += &format!(" {rel} {}", phrase(w[1]));
                } else {
                    s += &format!(", which is {rel} {}", phrase(w[1]));
                }
            }
            s
        }));
        kinds.push(Some(format!(
            "from left to right: {}",
            phrases(&left_to_right)
        )));
        let top_to_bottom = sorted_by(digits, |d| d.centre().1);
        kinds.push(Some(format!(
            "from top to bottom: {}",
            phrases(&top_to_bottom)
        )));
        // The largest digit, when one is strictly the tallest.
        let tallest = sorted_by(digits, |d| -(d.height() as f32));
        kinds.push((tallest[0].height() > tallest[1].height()).then(|| {
            let others = phrases(&tallest[1..]);
            let verb = if n == 2 {
                "the other is"
            } else {
                "the others are"
            };
            format!("the largest digit is {}; {verb} {others}", bare(tallest[0]))
        }));
    }
    let mut kinds: Vec<String> = kinds.into_iter().flatten().collect();
    let count = (3 + rng.below(3)).min(kinds.len());
    for i in 0..count {
        let j = i + rng.below(kinds.len() - i);
        kinds.swap(i, j);
    }
    kinds.truncate(count);
    kinds
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digit(label: u8, bbox: [usize; 4]) -> SceneDigit {
        SceneDigit {
            label,
            source: 0,
            bbox,
            area: 1,
            ink: 1,
            grey: 255,
        }
    }

    #[test]
    fn words_follow_boxes() {
        assert_eq!(size_word(14), "small");
        assert_eq!(size_word(28), "medium");
        assert_eq!(size_word(56), "large");
        assert_eq!(relation((10.0, 50.0), (80.0, 60.0)), "to the left of");
        assert_eq!(relation((80.0, 50.0), (10.0, 60.0)), "to the right of");
        assert_eq!(relation((50.0, 10.0), (55.0, 90.0)), "above");
        assert_eq!(relation((50.0, 90.0), (55.0, 10.0)), "below");
        assert_eq!(region((10.0, 10.0), 128), "at the top left");
        assert_eq!(region((64.0, 64.0), 128), "in the centre");
        assert_eq!(region((127.0, 127.0), 128), "at the bottom right");
    }

    #[test]
    fn a_large_7_to_the_left_of_a_small_3() {
        let digits = [digit(7, [5, 40, 35, 90]), digit(3, [90, 50, 105, 70])];
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..200 {
            let caps = captions(&mut Rng::seed(seed), &digits, 128, Texture::Stripes);
            assert!((3..=5).contains(&caps.len()));
            let unique: std::collections::BTreeSet<_> = caps.iter().collect();
            assert_eq!(unique.len(), caps.len(), "{caps:?}");
            for c in &caps {
                let mut numerals: Vec<char> = c.chars().filter(char::is_ascii_digit).collect();
                numerals.sort();
                assert_eq!(numerals, ['3', '7'], "{c}");
                seen.insert(c.clone());
            }
        }
        for expected in [
            "a large 7 to the left of a small 3",
            "a small 3 to the right of a large 7",
            "the digits 7 and 3",
            "from left to right: a large 7 and a small 3",
            "from top to bottom: a small 3 and a large 7",
            "the largest digit is a 7; the other is a small 3",
            "a large 7 on the left and a small 3 on the right",
            "two digits: a small 3 and a large 7",
            "a large 7 and a small 3 on a striped background",
        ] {
            assert!(
                seen.contains(expected),
                "never said '{expected}': {seen:#?}"
            );
        }
    }

    #[test]
    fn one_digit_has_five_kinds_and_chains_skip_unclear_pairs() {
        let one = [digit(8, [60, 40, 70, 90])];
        let caps = captions(&mut Rng::seed(1), &one, 128, Texture::Noise);
        assert!(caps.len() >= 3);
        let mut all = std::collections::BTreeSet::new();
        for seed in 0..100 {
            all.extend(captions(&mut Rng::seed(seed), &one, 128, Texture::Noise));
        }
        assert_eq!(all.len(), 5, "{all:?}");
        assert!(all.contains("a picture of a large 8"));
        // A small 1 in the hole of a large 0: same centre, no relation said.
        let nested = [digit(0, [40, 40, 90, 90]), digit(1, [63, 58, 67, 72])];
        for seed in 0..100 {
            for c in captions(&mut Rng::seed(seed), &nested, 128, Texture::Noise) {
                assert!(!c.contains("which") && !c.contains(" of a ") && !c.contains("above"));
            }
        }
    }
}
