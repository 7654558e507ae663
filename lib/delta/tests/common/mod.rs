//! Deterministic test data: a small PRNG and source-code-like text.

#![allow(dead_code)]

/// xorshift64* generator: reproducible data without a dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

const WORDS: &[&str] = &[
    "let", "fn", "if", "else", "return", "match", "self", "value", "index", "buffer", "len",
    "Some", "None", "Ok", "Err", "for", "in", "while", "mut", "pub", "struct", "impl", "data", "=",
    "+=", "==", "{", "}", "(", ")", ";", "0", "1", "count", "offset", "size", "result",
];

/// One line of code-like text.
pub fn line(rng: &mut Rng) -> String {
    let indent = rng.below(4) * 4;
    let mut s = " ".repeat(indent);
    for w in 0..3 + rng.below(8) {
        if w > 0 {
            s.push(' ');
        }
        s.push_str(WORDS[rng.below(WORDS.len())]);
    }
    s.push('\n');
    s
}

/// Code-like text of at least `size` bytes.
pub fn text(seed: u64, size: usize) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut out = String::new();
    while out.len() < size {
        out.push_str(&line(&mut rng));
    }
    out.into_bytes()
}

/// Byte offsets of the starts of the lines of `text`.
pub fn line_starts(text: &[u8]) -> Vec<usize> {
    std::iter::once(0)
        .chain(
            text.iter()
                .enumerate()
                .filter(|(_, &b)| b == b'\n')
                .map(|(i, _)| i + 1),
        )
        .filter(|&i| i < text.len())
        .collect()
}

/// Replaces line number `n` of `text` with `new`.
pub fn replace_line(text: &[u8], n: usize, new: &str) -> Vec<u8> {
    let starts = line_starts(text);
    let start = starts[n];
    let end = starts.get(n + 1).copied().unwrap_or(text.len());
    [&text[..start], new.as_bytes(), &text[end..]].concat()
}
