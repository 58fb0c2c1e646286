//! Caption metrics over a corpus of candidates, each with all the reference captions of
//! its image, on tokens ([`super::text::metric_tokens`]).
//!
//! - [`corpus_bleu`]: BLEU-1…4 as `nltk.translate.bleu_score.corpus_bleu` computes them
//!   (Papineni et al. 2002), unsmoothed: clipped n-gram matches and candidate n-grams
//!   summed over the corpus (`p_n = Σ match_n / Σ max(1, count_n)`), the brevity penalty
//!   `BP = 1` if `c > r` else `exp(1 − r/c)` (0 when `c = 0`) with `c` the candidates'
//!   length and `r` the sum of each candidate's closest reference length (ties to the
//!   shorter), and `BLEU-N = BP·exp(Σ_{n≤N} log p_n / N)`; 0 when a `p_n` is 0.
//! - [`cider_d`]: CIDEr-D as `pycocoevalcap`'s `Cider` computes it (Vedantam et al. 2015):
//!   tf-idf vectors of 1- to 4-grams, `idf = log(images) − log(max(1, df))` with `df` the
//!   number of images whose references contain the n-gram; per n, the candidate's
//!   vector clipped by the reference's, dotted with it, over both norms, times
//!   `exp(−δ²/2σ²)` (σ = 6, δ the difference of the two sentences' bigram counts, as the
//!   reference code counts length); averaged over n and the references, times 10; the
//!   corpus score is the mean over images.
//! - [`digits_named`]: the fraction of candidates whose numerals are exactly the digits of
//!   their image (the digit scenes' captions name each digit once).

use std::collections::HashMap;

/// Tokens of one sentence.
pub type Sentence = Vec<String>;

fn ngrams(s: &[String], n: usize) -> HashMap<&[String], usize> {
    let mut out = HashMap::new();
    if s.len() >= n {
        for w in s.windows(n) {
            *out.entry(w).or_default() += 1;
        }
    }
    out
}

/// BLEU-1 … BLEU-`max_n` of `candidates` against their `references` (one list of
/// reference sentences per candidate), as nltk's `corpus_bleu` with weights `(1/N,)·N`.
pub fn corpus_bleu(
    references: &[Vec<Sentence>],
    candidates: &[Sentence],
    max_n: usize,
) -> Vec<f64> {
    let mut matches = vec![0u64; max_n];
    let mut totals = vec![0u64; max_n];
    let (mut c, mut r) = (0usize, 0usize);
    for (refs, cand) in references.iter().zip(candidates) {
        for n in 1..=max_n {
            let counts = ngrams(cand, n);
            let mut max_ref: HashMap<&[String], usize> = HashMap::new();
            for rf in refs {
                let rc = ngrams(rf, n);
                for g in counts.keys() {
                    let m = max_ref.entry(g).or_default();
                    *m = (*m).max(rc.get(g).copied().unwrap_or(0));
                }
            }
            let clipped: usize = counts.iter().map(|(g, &k)| k.min(max_ref[g])).sum();
            matches[n - 1] += clipped as u64;
            totals[n - 1] += counts.values().sum::<usize>().max(1) as u64;
        }
        c += cand.len();
        r += refs
            .iter()
            .map(|rf| rf.len())
            .min_by_key(|&l| (l.abs_diff(cand.len()), l))
            .unwrap_or(0);
    }
    let bp = if c > r {
        1.0
    } else if c == 0 {
        0.0
    } else {
        (1.0 - r as f64 / c as f64).exp()
    };
    (1..=max_n)
        .map(|big_n| {
            if matches[..big_n].contains(&0) {
                return 0.0;
            }
            let s: f64 = (0..big_n)
                .map(|n| (matches[n] as f64 / totals[n] as f64).ln() / big_n as f64)
                .sum();
            bp * s.exp()
        })
        .collect()
}

/// n-gram counts of a sentence, 1- to 4-grams.
fn cook(s: &[String]) -> HashMap<&[String], f64> {
    let mut out = HashMap::new();
    for n in 1..=4 {
        for (g, k) in ngrams(s, n) {
            out.insert(g, k as f64);
        }
    }
    out
}

/// A tf-idf vector per n, its norms and the sentence's length as CIDEr-D counts it.
struct TfIdf<'a> {
    vec: [HashMap<&'a [String], f64>; 4],
    norm: [f64; 4],
    length: f64,
}

/// CIDEr-D of each candidate against its references (σ = 6), and their mean: the corpus
/// score, as `pycocoevalcap.cider.Cider().compute_score` gives them.
pub fn cider_d<'a>(references: &'a [Vec<Sentence>], candidates: &'a [Sentence]) -> (f64, Vec<f64>) {
    let sigma = 6.0f64;
    let crefs: Vec<Vec<HashMap<&'a [String], f64>>> = references
        .iter()
        .map(|refs| refs.iter().map(|r| cook(r)).collect())
        .collect();
    let mut df: HashMap<&'a [String], f64> = HashMap::new();
    for refs in &crefs {
        let mut seen: Vec<&[String]> = refs.iter().flat_map(|r| r.keys().copied()).collect();
        seen.sort();
        seen.dedup();
        for g in seen {
            *df.entry(g).or_default() += 1.0;
        }
    }
    let ref_len = (crefs.len() as f64).ln();
    let tfidf = |counts: &HashMap<&'a [String], f64>| -> TfIdf<'a> {
        let mut vec: [HashMap<&'a [String], f64>; 4] = Default::default();
        let mut norm = [0.0f64; 4];
        let mut length = 0.0;
        for (&g, &tf) in counts {
            let d = df.get(g).copied().unwrap_or(0.0).max(1.0).ln();
            let n = g.len() - 1;
            let v = tf * (ref_len - d);
            vec[n].insert(g, v);
            norm[n] += v * v;
            if n == 1 {
                length += tf;
            }
        }
        TfIdf {
            vec,
            norm: norm.map(f64::sqrt),
            length,
        }
    };
    let scores: Vec<f64> = candidates
        .iter()
        .zip(&crefs)
        .map(|(cand, refs)| {
            let counts = cook(cand);
            let hyp = tfidf(&counts);
            let mut score = [0.0f64; 4];
            for rc in refs {
                let rf = tfidf(rc);
                let delta = hyp.length - rf.length;
                for (n, total) in score.iter_mut().enumerate() {
                    let mut val: f64 = hyp.vec[n]
                        .iter()
                        .map(|(g, &h)| {
                            let r = rf.vec[n].get(g).copied().unwrap_or(0.0);
                            h.min(r) * r
                        })
                        .sum();
                    if hyp.norm[n] != 0.0 && rf.norm[n] != 0.0 {
                        val /= hyp.norm[n] * rf.norm[n];
                    }
                    *total += val * (-(delta * delta) / (2.0 * sigma * sigma)).exp();
                }
            }
            score.iter().sum::<f64>() / 4.0 / refs.len().max(1) as f64 * 10.0
        })
        .collect();
    let mean = scores.iter().sum::<f64>() / scores.len().max(1) as f64;
    (mean, scores)
}

/// The digits a caption names: its one-character numeral tokens, sorted.
pub fn numerals(tokens: &[String]) -> Vec<u8> {
    let mut d: Vec<u8> = tokens
        .iter()
        .filter(|t| t.len() == 1 && t.as_bytes()[0].is_ascii_digit())
        .map(|t| t.as_bytes()[0] - b'0')
        .collect();
    d.sort_unstable();
    d
}

/// The fraction of `candidates` that name exactly the digits of their image
/// (`digits[k]`, any order, each as often as it appears).
pub fn digits_named(candidates: &[Sentence], digits: &[Vec<u8>]) -> f64 {
    let ok = candidates
        .iter()
        .zip(digits)
        .filter(|(c, d)| {
            let mut d = (*d).clone();
            d.sort_unstable();
            numerals(c) == d
        })
        .count();
    ok as f64 / candidates.len().max(1) as f64
}
