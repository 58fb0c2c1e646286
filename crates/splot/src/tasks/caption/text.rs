//! Text of captions: the tokenizer and the vocabulary.
//!
//! - [`tokenize`]: lower case; letters and digits make words, every other visible
//!   character (punctuation) is a token of its own, white space separates
//!   (`"Two digits: a 3, a 7"` → `two digits : a 3 , a 7`).
//! - [`Vocabulary`]: the words of the training captions seen at least `min_count` times,
//!   after the four special tokens `<pad>` (0), `<start>` (1), `<end>` (2) and `<unk>` (3);
//!   saved with the checkpoint as one word a line ([`Vocabulary::to_text`]).

use crate::error::{Error, Result};
use std::collections::HashMap;

/// The padding token's id.
pub const PAD: usize = 0;
/// The id of the token every caption starts with.
pub const START: usize = 1;
/// The id of the token every caption ends with.
pub const END: usize = 2;
/// The id of a word outside the vocabulary.
pub const UNK: usize = 3;
/// The special tokens, by id.
pub const SPECIALS: [&str; 4] = ["<pad>", "<start>", "<end>", "<unk>"];

/// Splits `text` into lower-case tokens: runs of letters and digits are words, any other
/// non-space character is a token of its own.
pub fn tokenize(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    for ch in text.chars() {
        if ch.is_alphanumeric() || ch == '\'' && !word.is_empty() {
            word.extend(ch.to_lowercase());
            continue;
        }
        if !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
        if !ch.is_whitespace() {
            out.push(ch.to_string());
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// Whether a token is punctuation (no letter or digit), which the metrics leave out as
/// the COCO caption evaluation's tokenizer does.
pub fn is_punctuation(token: &str) -> bool {
    !token.chars().any(char::is_alphanumeric)
}

/// The tokens of `text` without punctuation: what BLEU and CIDEr-D compare.
pub fn metric_tokens(text: &str) -> Vec<String> {
    tokenize(text)
        .into_iter()
        .filter(|t| !is_punctuation(t))
        .collect()
}

/// Words and their ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vocabulary {
    words: Vec<String>,
    ids: HashMap<String, usize>,
}

impl Vocabulary {
    /// The vocabulary of `captions`: the four special tokens, then every token seen at
    /// least `min_count` times, most frequent first (ties in alphabetical order). An error
    /// when there are no captions or no token reaches `min_count`.
    pub fn build<'a>(
        captions: impl IntoIterator<Item = &'a str>,
        min_count: usize,
    ) -> Result<Vocabulary> {
        let mut counts: HashMap<String, usize> = HashMap::new();
        let mut any = false;
        for c in captions {
            any = true;
            for t in tokenize(c) {
                *counts.entry(t).or_default() += 1;
            }
        }
        if !any {
            return Err(Error::config(
                "Vocabulary",
                "there are no training captions to build a vocabulary from",
            ));
        }
        let mut kept: Vec<(String, usize)> = counts
            .into_iter()
            .filter(|(w, n)| *n >= min_count.max(1) && !SPECIALS.contains(&w.as_str()))
            .collect();
        if kept.is_empty() {
            return Err(Error::config(
                "Vocabulary",
                format!("no word of the training captions appears {min_count} times or more"),
            ));
        }
        kept.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Vocabulary::from_words(kept.into_iter().map(|(w, _)| w))
    }

    /// The vocabulary of the special tokens followed by `words` (in id order).
    fn from_words(words: impl IntoIterator<Item = String>) -> Result<Vocabulary> {
        let mut all: Vec<String> = SPECIALS.iter().map(|s| s.to_string()).collect();
        all.extend(words);
        let mut ids = HashMap::with_capacity(all.len());
        for (i, w) in all.iter().enumerate() {
            if ids.insert(w.clone(), i).is_some() {
                return Err(Error::Parse {
                    what: "vocabulary",
                    msg: format!("the word '{w}' appears twice"),
                });
            }
        }
        Ok(Vocabulary { words: all, ids })
    }

    /// The vocabulary as text, one word a line in id order (special tokens included).
    pub fn to_text(&self) -> String {
        self.words.join("\n")
    }

    /// Reads [`Vocabulary::to_text`]'s text back; an error unless it starts with the four
    /// special tokens and lists every word once.
    pub fn from_text(text: &str) -> Result<Vocabulary> {
        let lines: Vec<&str> = text.split('\n').collect();
        if lines.len() <= SPECIALS.len() || lines[..SPECIALS.len()] != SPECIALS {
            return Err(Error::Parse {
                what: "vocabulary",
                msg: format!("a vocabulary starts with {SPECIALS:?} followed by at least one word"),
            });
        }
        Vocabulary::from_words(lines[SPECIALS.len()..].iter().map(|s| s.to_string()))
    }

    /// Number of tokens, special ones included.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Never true: there are always the special tokens.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The id of `word` ([`UNK`] when it is not in the vocabulary).
    pub fn id(&self, word: &str) -> usize {
        self.ids.get(word).copied().unwrap_or(UNK)
    }

    /// The word of `id`.
    pub fn word(&self, id: usize) -> &str {
        self.words.get(id).map_or("<unk>", String::as_str)
    }

    /// `<start>`, the ids of `text`'s tokens, `<end>`.
    pub fn encode(&self, text: &str) -> Vec<usize> {
        let mut ids = vec![START];
        ids.extend(tokenize(text).iter().map(|t| self.id(t)));
        ids.push(END);
        ids
    }

    /// The words of `ids` up to the first `<end>`, special tokens left out, joined by
    /// spaces (punctuation attached to the word before it).
    pub fn decode(&self, ids: &[usize]) -> String {
        let mut out = String::new();
        for &id in ids {
            if id == END {
                break;
            }
            if id == PAD || id == START {
                continue;
            }
            let w = self.word(id);
            let glued = is_punctuation(w) && w != "<unk>";
            if !out.is_empty() && !glued {
                out.push(' ');
            }
            out.push_str(w);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_ids() {
        assert_eq!(
            tokenize("Two digits: a 3, and A 7."),
            ["two", "digits", ":", "a", "3", ",", "and", "a", "7", "."]
        );
        let v = Vocabulary::build(["a 7 and a 3", "the digits 7 and 3"], 2).unwrap();
        assert_eq!(v.len(), 4 + 4);
        // all four kept words are seen twice: alphabetical order
        assert_eq!(
            (4..8).map(|i| v.word(i)).collect::<Vec<_>>(),
            ["3", "7", "a", "and"]
        );
        let by_count = Vocabulary::build(["a a b", "b c a"], 1).unwrap();
        assert_eq!(
            (4..7).map(|i| by_count.word(i)).collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        assert_eq!(v.encode("a 9"), [START, v.id("a"), UNK, END]);
        let ids = v.encode("a 7, and 3");
        assert_eq!(v.decode(&ids), "a 7 <unk> and 3");
        assert_eq!(Vocabulary::from_text(&v.to_text()).unwrap(), v);
        assert!(Vocabulary::from_text("a\nb").is_err());
        assert!(Vocabulary::build(["a b"], 2).is_err());
        assert!(Vocabulary::build(Vec::<&str>::new(), 1).is_err());
    }
}
