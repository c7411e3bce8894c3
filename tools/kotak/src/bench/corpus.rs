//! A seeded, deterministic generator of realistic messages: the same seed
//! gives the same bytes, so runs against different servers compare.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const WORDS: &[&str] = &[
    "the", "meeting", "report", "budget", "please", "review", "attached", "tomorrow", "project",
    "schedule", "thanks", "regards", "update", "customer", "invoice", "quarter", "team", "deadline",
    "rapat", "laporan", "anggaran", "tolong", "periksa", "terlampir", "besok", "proyek", "jadwal",
    "terima", "kasih", "salam", "pelanggan", "faktur", "kuartal", "tim", "tenggat", "surat",
    "kotak", "pesan", "kantor", "Jakarta", "Surabaya", "café", "naïve", "résumé",
];

/// Generates messages for a run.
pub struct Corpus {
    rng: StdRng,
    counter: u64,
}

impl Corpus {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Corpus { rng: StdRng::seed_from_u64(seed), counter: 0 }
    }

    /// A message size drawn from a mix like real mail: most under 20 KB,
    /// a long tail up to 2 MB.
    fn size(&mut self) -> usize {
        let p: f64 = self.rng.gen();
        match p {
            p if p < 0.60 => self.rng.gen_range(1_000..8_000),
            p if p < 0.90 => self.rng.gen_range(8_000..20_000),
            p if p < 0.98 => self.rng.gen_range(20_000..200_000),
            _ => self.rng.gen_range(200_000..2_000_000),
        }
    }

    fn sentence(&mut self, out: &mut String) {
        let n = self.rng.gen_range(6..16);
        for i in 0..n {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(WORDS[self.rng.gen_range(0..WORDS.len())]);
        }
        out.push_str(".\r\n");
    }

    /// The next message, from `from` to `to`, with CRLF line ends and no
    /// line starting with a dot. `size` overrides the size mix.
    pub fn message(&mut self, from: &str, to: &[String], size: Option<usize>) -> Vec<u8> {
        self.counter += 1;
        let target = size.unwrap_or_else(|| self.size());
        let mut subject = String::new();
        self.sentence(&mut subject);
        let subject = subject.trim_end_matches(".\r\n").to_string();
        let mut m = format!(
            "From: Bench Sender <{from}>\r\nTo: {}\r\nSubject: {subject}\r\nDate: Sat, 28 Nov 2026 10:00:00 +0700\r\nMessage-ID: <bench-{}-{}@kotak.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
            to.join(", "),
            self.counter,
            self.rng.gen::<u32>()
        );
        while m.len() < target {
            self.sentence(&mut m);
        }
        m.into_bytes()
    }
}
