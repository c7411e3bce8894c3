//! A seeded, deterministic generator of realistic messages: the same seed
//! gives the same bytes, so runs against different servers compare.
//!
//! Messages look like real mail: a Received trail, a DKIM signature, display
//! names and subjects in UTF-8 (RFC 2047 encoded words), threads
//! (In-Reply-To/References to earlier messages of the same generator),
//! English or Indonesian text, HTML alternatives and attachments (base64,
//! RFC 2231 file names). Every message has CRLF line ends, no line longer
//! than 998 bytes and no line starting with a dot, so it can be sent in LMTP
//! DATA as it is.

use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use std::fmt::Write as _;

const ENGLISH: &[&str] = &[
    "the", "meeting", "report", "budget", "please", "review", "attached", "tomorrow", "project", "schedule",
    "update", "customer", "invoice", "quarter", "team", "deadline", "we", "should", "discuss", "before",
    "after", "with", "for", "and", "our", "new", "office", "contract", "numbers", "figures", "draft",
    "final", "version", "agreed", "shipment", "delayed", "approval", "needed", "by", "Friday", "Monday",
    "café", "naïve", "résumé", "coöperation", "€1,200", "15%", "Q3", "Jakarta", "Singapore", "supplier",
];
const INDONESIAN: &[&str] = &[
    "rapat", "laporan", "anggaran", "tolong", "periksa", "terlampir", "besok", "proyek", "jadwal", "terima",
    "kasih", "pelanggan", "faktur", "kuartal", "tim", "tenggat", "surat", "kantor", "dan", "untuk", "yang",
    "dengan", "kami", "sudah", "belum", "segera", "mohon", "persetujuan", "pengiriman", "tertunda", "kontrak",
    "baru", "angka", "revisi", "final", "hari", "Jumat", "Senin", "Rp1.250.000", "Jakarta", "Surabaya",
    "Bandung", "Denpasar", "pemasok", "cabang", "direksi", "keuangan", "gudang", "15%",
];
const PEOPLE: &[&str] = &[
    "Budi Santoso", "Siti Rahmawati", "Dewi Lestari", "Agus Salim", "Putu Ayu Wulandari", "Wahyu Pratama",
    "Ketut Sudarsana", "Margaret O'Brien", "José Müller", "Zoë Ångström", "Héloïse Durand", "Nguyễn Văn An",
];
const DOMAINS: &[&str] = &["example.co.id", "example.com", "kantor.example.id", "mail.example.org"];
const MAILERS: &[&str] = &[
    "X-Mailer: Microsoft Outlook 16.0",
    "User-Agent: Mozilla Thunderbird 128.3.1",
    "X-Mailer: Apple Mail (2.3774.600.62)",
    "User-Agent: Roundcube Webmail/1.6.9",
];
const ZONES: &[(&str, i64)] = &[("+0700", 420), ("+0800", 480), ("+0000", 0), ("-0500", -300)];

/// The words message text is made of, one list per language (English,
/// then Indonesian): the search scenario draws its query words from them,
/// so its queries are about mail the generator writes.
pub fn vocabulary() -> [&'static [&'static str]; 2] {
    [ENGLISH, INDONESIAN]
}

/// A kind of attachment: media type, file names, and the bytes its real
/// files start with.
struct Attachment {
    media: &'static str,
    names: &'static [&'static str],
    magic: &'static [u8],
}

const ATTACHMENTS: &[Attachment] = &[
    Attachment {
        media: "application/pdf",
        names: &["laporan-kuartal-3.pdf", "Invoice 2026-04.pdf", "Surat Keputusan Direksi.pdf", "résumé José.pdf"],
        magic: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
    },
    Attachment {
        media: "image/jpeg",
        names: &["foto_rapat.jpg", "IMG_20260412_101522.jpg", "kantor baru.jpg"],
        magic: b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
    },
    Attachment { media: "image/png", names: &["diagram.png", "tangkapan layar.png"], magic: b"\x89PNG\r\n\x1a\n" },
    Attachment {
        media: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        names: &["anggaran 2026.xlsx", "budget-Q3.xlsx", "daftar_harga_Ångström.xlsx"],
        magic: b"PK\x03\x04\x14\x00\x06\x00",
    },
];

/// The language of a message's text.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Language {
    English,
    Indonesian,
}

impl Language {
    fn words(self) -> &'static [&'static str] {
        match self {
            Language::English => ENGLISH,
            Language::Indonesian => INDONESIAN,
        }
    }

    fn greetings(self) -> &'static [&'static str] {
        match self {
            Language::English => &["Hi all,", "Dear team,", "Hello José,", "Good morning,"],
            Language::Indonesian => &["Halo semua,", "Dengan hormat,", "Selamat pagi Bu Dewi,", "Yth. Bapak/Ibu,"],
        }
    }

    fn closings(self) -> &'static [&'static str] {
        match self {
            Language::English => &["Best regards,", "Thanks,", "Kind regards,"],
            Language::Indonesian => &["Salam,", "Terima kasih,", "Hormat kami,"],
        }
    }

    fn reply_prefix(self) -> &'static str {
        match self {
            Language::English => "Re: ",
            Language::Indonesian => "Bls: ",
        }
    }

    fn wrote(self, name: &str) -> String {
        match self {
            Language::English => format!("On Monday, {name} wrote:"),
            Language::Indonesian => format!("Pada hari Senin, {name} menulis:"),
        }
    }

    fn tag(self) -> &'static str {
        match self {
            Language::English => "en-US",
            Language::Indonesian => "id-ID",
        }
    }
}

/// A message earlier in the run that later ones can reply to.
struct Sent {
    id: String,
    subject: String,
    references: Vec<String>,
}

/// How many earlier messages replies are drawn from.
const THREAD_WINDOW: usize = 16;
/// Longest text line before wrapping, in characters.
const WRAP: usize = 72;

/// Generates messages for a run.
pub struct Corpus {
    rng: StdRng,
    counter: u64,
    recent: Vec<Sent>,
}

impl Corpus {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Corpus { rng: StdRng::seed_from_u64(seed), counter: 0, recent: Vec::new() }
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

    /// The next message, from `from` to `to`, with CRLF line ends and no
    /// line starting with a dot. `size` overrides the size mix; the result
    /// is within a few percent (or a few hundred bytes) of the size asked.
    pub fn message(&mut self, from: &str, to: &[String], size: Option<usize>) -> Vec<u8> {
        self.counter += 1;
        let target = size.unwrap_or_else(|| self.size());
        let lang = if self.rng.gen_bool(0.5) { Language::English } else { Language::Indonesian };
        let mut m = self.top_header(from, to, lang, target);
        let budget = target.saturating_sub(m.len());
        let shape: f64 = self.rng.gen();
        let body = if target > 60_000 || (target > 3_000 && shape < 0.4) {
            self.mixed(lang, budget)
        } else if shape < 0.7 {
            self.alternative(lang, budget)
        } else {
            self.plain(lang, budget)
        };
        m.push_str(&body);
        m.into_bytes()
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.rng.gen_range(0..items.len())]
    }

    fn hex(&mut self, digits: usize) -> String {
        (0..digits).map(|_| char::from(b"0123456789ABCDEF"[self.rng.gen_range(0..16)])).collect()
    }

    fn noise64(&mut self, bytes: usize) -> String {
        let mut raw = vec![0u8; bytes];
        self.rng.fill_bytes(&mut raw);
        base64(&raw)
    }

    /// The top-level header fields, up to and including MIME-Version; the
    /// body's entity adds its Content-* fields and the empty line.
    /// Small messages get a shorter trail, as they do in real mail.
    fn top_header(&mut self, from: &str, to: &[String], lang: Language, target: usize) -> String {
        let sender_domain = from.rsplit_once('@').map_or("example.com", |(_, d)| d).to_string();
        let when = 1_767_571_200 + self.counter as i64 * 97 * 60 + self.rng.gen_range(0..3600);
        let (zone, offset) = self.pick(ZONES);
        let date = rfc5322_date(when, zone, offset);
        let mut h = String::with_capacity(2048);
        let _ = write!(h, "Return-Path: <{from}>\r\n");
        let hops = if target < 2_000 { 1 } else { self.rng.gen_range(1..=3) };
        for hop in 0..hops {
            let _ = write!(
                h,
                "Received: from mx{hop}.{sender_domain} (mx{hop}.{sender_domain} [192.0.2.{}])\r\n\tby mail.kotak.test (Kotak) with ESMTPS id {}\r\n\tfor <{}>; {date}\r\n",
                self.rng.gen_range(1..255),
                self.hex(10),
                to.first().map_or("undisclosed", |t| t.as_str()),
            );
        }
        if target >= 3_000 && self.rng.gen_bool(0.6) {
            let (bh, b) = (self.noise64(32), self.noise64(256));
            let _ = write!(
                h,
                "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d={sender_domain};\r\n\ts=selector1; h=from:to:subject:date:message-id:mime-version;\r\n\tbh={bh};\r\n\tb={}\r\n",
                fold_token(&b, 70)
            );
        }
        let name = self.pick(PEOPLE);
        let _ = write!(h, "From: {} <{from}>\r\n", display_name(name));
        match to.len() {
            0 => h.push_str("To: undisclosed-recipients:;\r\n"),
            _ => {
                let _ = write!(h, "To: {}\r\n", to.join(",\r\n "));
            }
        }
        if self.rng.gen_bool(0.3) {
            let (cc_name, cc_domain) = (self.pick(PEOPLE), self.pick(DOMAINS));
            let local = cc_name.split(' ').next().unwrap_or("cc").to_lowercase();
            let _ = write!(h, "Cc: {} <{}@{cc_domain}>\r\n", display_name(cc_name), ascii_local(&local));
        }
        let subject = self.subject(lang);
        let _ = write!(h, "Subject: {}\r\n", encode_words(&subject.text));
        let _ = write!(h, "Date: {date}\r\n");
        let id = format!("<{}.{}@{sender_domain}>", self.hex(16), self.counter);
        let _ = write!(h, "Message-ID: {id}\r\n");
        if let Some(parent) = &subject.parent {
            let _ = write!(h, "In-Reply-To: {}\r\nReferences: {}\r\n", parent, subject.references.join("\r\n "));
        }
        let _ = write!(h, "{}\r\nContent-Language: {}\r\nMIME-Version: 1.0\r\n", self.pick(MAILERS), lang.tag());
        self.remember(Sent { id, subject: subject.text, references: subject.references });
        h
    }

    fn remember(&mut self, sent: Sent) {
        if self.recent.len() == THREAD_WINDOW {
            self.recent.remove(0);
        }
        self.recent.push(sent);
    }

    /// A new subject, or a reply to one of the recent messages.
    fn subject(&mut self, lang: Language) -> Subject {
        if !self.recent.is_empty() && self.rng.gen_bool(0.3) {
            let parent = &self.recent[self.rng.gen_range(0..self.recent.len())];
            let mut references = parent.references.clone();
            references.push(parent.id.clone());
            if references.len() > 10 {
                references.remove(0);
            }
            let text = if parent.subject.starts_with(lang.reply_prefix()) {
                parent.subject.clone()
            } else {
                format!("{}{}", lang.reply_prefix(), parent.subject)
            };
            return Subject { text, parent: Some(parent.id.clone()), references };
        }
        let mut text = self.sentence(lang, 3, 9);
        text.pop();
        Subject { text, parent: None, references: Vec::new() }
    }

    /// A sentence of `min..max` words, capitalised and punctuated.
    fn sentence(&mut self, lang: Language, min: usize, max: usize) -> String {
        let n = self.rng.gen_range(min..max);
        let mut s = String::new();
        for i in 0..n {
            let word = self.pick(lang.words());
            if i == 0 {
                let mut chars = word.chars();
                if let Some(c) = chars.next() {
                    s.extend(c.to_uppercase());
                    s.push_str(chars.as_str());
                }
            } else {
                s.push(' ');
                s.push_str(word);
                if i + 1 < n && self.rng.gen_ratio(1, 8) {
                    s.push(',');
                }
            }
        }
        s.push(self.pick(&['.', '.', '.', '?', '!']));
        s
    }

    /// One paragraph: sentences wrapped at [`WRAP`] characters, each line
    /// prefixed by `quote`, CRLF line ends, followed by an empty line. It
    /// stops early once it holds `cap` bytes.
    fn paragraph(&mut self, lang: Language, quote: &str, cap: usize) -> String {
        let mut out = String::new();
        let mut line = String::from(quote);
        for _ in 0..self.rng.gen_range(2..6) {
            if out.len() + line.len() >= cap {
                break;
            }
            let sentence = self.sentence(lang, 6, 16);
            for word in sentence.split(' ') {
                if line.chars().count() + word.chars().count() + 1 > WRAP && line.len() > quote.len() {
                    out.push_str(line.trim_end());
                    out.push_str("\r\n");
                    line = String::from(quote);
                }
                line.push_str(word);
                line.push(' ');
            }
        }
        out.push_str(line.trim_end());
        out.push_str("\r\n");
        out.push_str(quote.trim_end());
        out.push_str("\r\n");
        out
    }

    /// Letter text of about `budget` bytes once encoded by `encode`: greeting,
    /// paragraphs, for some a quoted earlier message, closing and signature.
    fn letter(&mut self, lang: Language, budget: usize, encode: fn(&str) -> String) -> String {
        let name = self.pick(PEOPLE);
        let ending = format!("{}\r\n{name}\r\n\r\n-- \r\n{name}\r\nPT Contoh Sejahtera, Jakarta\r\n", self.pick(lang.closings()));
        let ending = encode(&ending);
        let mut out = encode(&format!("{}\r\n\r\n", self.pick(lang.greetings())));
        let quoting_from = budget / 2;
        let mut quote = "";
        while out.len() + ending.len() < budget {
            if quote.is_empty() && out.len() > quoting_from && self.rng.gen_bool(0.3) {
                out.push_str(&encode(&format!("{}\r\n", lang.wrote(self.pick(PEOPLE)))));
                quote = "> ";
            }
            let p = self.paragraph(lang, quote, budget.saturating_sub(out.len() + ending.len()));
            out.push_str(&encode(&p));
        }
        out.push_str(&ending);
        out
    }

    /// A text/plain entity of about `budget` bytes, headers included.
    fn plain(&mut self, lang: Language, budget: usize) -> String {
        let qp = self.rng.gen_bool(0.5);
        let mut head = String::from("Content-Type: text/plain; charset=utf-8\r\n");
        let body = if qp {
            head.push_str("Content-Transfer-Encoding: quoted-printable\r\n\r\n");
            self.letter(lang, budget.saturating_sub(head.len()), quoted_printable)
        } else {
            head.push_str("Content-Transfer-Encoding: 8bit\r\n\r\n");
            self.letter(lang, budget.saturating_sub(head.len()), str::to_string)
        };
        head + &body
    }

    /// A text/html entity (quoted-printable) of about `budget` bytes.
    fn html(&mut self, lang: Language, budget: usize) -> String {
        let head = "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n";
        let open = quoted_printable("<html><head><meta charset=\"utf-8\"></head>\r\n<body style=\"font-family: Calibri, sans-serif\">\r\n");
        let close = quoted_printable("</body></html>\r\n");
        let mut body = open;
        while head.len() + body.len() + close.len() < budget {
            let text = self.paragraph(lang, "", budget.saturating_sub(head.len() + body.len() + close.len()));
            let p = format!("<p>{}</p>\r\n", escape_html(text.trim_end()).replace("\r\n", "<br>\r\n"));
            body.push_str(&quoted_printable(&p));
        }
        body.push_str(&close);
        format!("{head}{body}")
    }

    /// A multipart/alternative entity (text and HTML) of about `budget` bytes.
    fn alternative(&mut self, lang: Language, budget: usize) -> String {
        let mut m = Multipart::new("alternative", self.hex(24));
        let text = self.plain(lang, m.room(budget, 2) * 2 / 5);
        m.parts.push(text);
        let html = self.html(lang, m.room(budget, 1));
        m.parts.push(html);
        m.finish()
    }

    /// A multipart/mixed entity: a text (or alternative) and 1-3 attachments
    /// that take the rest of `budget`.
    fn mixed(&mut self, lang: Language, budget: usize) -> String {
        let mut m = Multipart::new("mixed", self.hex(24));
        let attachments = self.rng.gen_range(1..=3);
        let text_budget = (budget / 5).clamp(800, 6_000);
        let text = if self.rng.gen_bool(0.5) { self.plain(lang, text_budget) } else { self.alternative(lang, text_budget) };
        m.parts.push(text);
        for left in (1..=attachments).rev() {
            let room = m.room(budget, left);
            let share = if left == 1 { room } else { room / left * self.rng.gen_range(5..15) / 10 };
            let a = self.attachment(share);
            m.parts.push(a);
        }
        m.finish()
    }

    /// A base64 attachment entity of about `budget` bytes.
    fn attachment(&mut self, budget: usize) -> String {
        let kind = &ATTACHMENTS[self.rng.gen_range(0..ATTACHMENTS.len())];
        let name = kind.names[self.rng.gen_range(0..kind.names.len())];
        let head = if name.is_ascii() {
            format!(
                "Content-Type: {}; name=\"{name}\"\r\nContent-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n",
                kind.media
            )
        } else {
            format!(
                "Content-Type: {};\r\n\tname=\"{}\"\r\nContent-Disposition: attachment;\r\n\tfilename*=utf-8''{}\r\nContent-Transfer-Encoding: base64\r\n\r\n",
                kind.media,
                encode_words(name),
                percent_encode(name)
            )
        };
        // 57 raw bytes become one 76-character line and its CRLF.
        let raw_len = (budget.saturating_sub(head.len()) * 57 / 78).max(kind.magic.len() + 64);
        let mut raw = vec![0u8; raw_len];
        raw[..kind.magic.len()].copy_from_slice(kind.magic);
        self.rng.fill_bytes(&mut raw[kind.magic.len()..]);
        let mut out = head;
        out.reserve(raw_len / 57 * 78 + 80);
        for chunk in raw.chunks(57) {
            out.push_str(&base64(chunk));
            out.push_str("\r\n");
        }
        out
    }
}

/// The subject of a new message and, for a reply, what it replies to.
struct Subject {
    text: String,
    parent: Option<String>,
    references: Vec<String>,
}

/// A multipart entity being assembled, so each part's byte budget can be
/// computed from what is already there.
struct Multipart {
    subtype: &'static str,
    boundary: String,
    parts: Vec<String>,
}

impl Multipart {
    fn new(subtype: &'static str, token: String) -> Self {
        Multipart { subtype, boundary: format!("----=_Part_{token}"), parts: Vec::new() }
    }

    fn head(&self) -> String {
        format!(
            "Content-Type: multipart/{};\r\n\tboundary=\"{}\"\r\n\r\nThis is a multi-part message in MIME format.\r\n",
            self.subtype, self.boundary
        )
    }

    /// Bytes each boundary line costs around a part: `--B` CRLF before it,
    /// CRLF after it.
    fn per_part(&self) -> usize {
        self.boundary.len() + 6
    }

    /// The bytes left for each of the `left` parts still to add, so the
    /// whole entity comes to `budget`.
    fn room(&self, budget: usize, left: usize) -> usize {
        let used = self.head().len()
            + self.parts.iter().map(|p| p.len() + self.per_part()).sum::<usize>()
            + self.per_part() * left
            + self.boundary.len() + 6;
        budget.saturating_sub(used)
    }

    fn finish(self) -> String {
        let mut out = self.head();
        for p in &self.parts {
            let _ = write!(out, "--{}\r\n{p}\r\n", self.boundary);
        }
        let _ = write!(out, "--{}--\r\n", self.boundary);
        out
    }
}

/// A display name as a quoted string, or RFC 2047 encoded words when it is
/// not ASCII.
fn display_name(name: &str) -> String {
    if name.is_ascii() {
        format!("\"{name}\"")
    } else {
        encode_words(name)
    }
}

/// The ASCII letters of `s`, for an address's local part.
fn ascii_local(s: &str) -> String {
    let l: String = s.chars().filter(char::is_ascii_alphanumeric).collect();
    if l.is_empty() {
        "cc".into()
    } else {
        l
    }
}

/// `text` as RFC 2047 `B` encoded words (folded every 45 bytes of text),
/// or unchanged when it is ASCII.
fn encode_words(text: &str) -> String {
    if text.is_ascii() {
        return text.to_string();
    }
    let mut words = Vec::new();
    let mut start = 0;
    let mut end = 0;
    for (i, c) in text.char_indices() {
        if i + c.len_utf8() - start > 45 {
            words.push(&text[start..end]);
            start = end;
        }
        end = i + c.len_utf8();
    }
    words.push(&text[start..end]);
    let encoded: Vec<String> = words.iter().map(|w| format!("=?UTF-8?B?{}?=", base64(w.as_bytes()))).collect();
    encoded.join("\r\n ")
}

/// `token` cut into folded lines of `width` characters.
fn fold_token(token: &str, width: usize) -> String {
    let lines: Vec<&str> = token.as_bytes().chunks(width).filter_map(|c| std::str::from_utf8(c).ok()).collect();
    lines.join("\r\n\t")
}

/// RFC 3986 percent-encoding of everything but unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Standard base64 with padding, no line breaks.
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Quoted-printable (RFC 2045) of text with CRLF line ends: lines of at
/// most 76 characters with soft breaks, and a leading dot encoded so no
/// line starts with one.
fn quoted_printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for line in text.split_inclusive("\r\n") {
        let (content, eol) = match line.strip_suffix("\r\n") {
            Some(c) => (c, "\r\n"),
            None => (line, ""),
        };
        let mut width = 0;
        let bytes = content.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            let last = i + 1 == bytes.len();
            let mut literal = qp_literal(b, last, width);
            if width + if literal { 1 } else { 3 } > 75 {
                out.push_str("=\r\n");
                width = 0;
                literal = qp_literal(b, last, width);
            }
            if literal {
                out.push(char::from(b));
                width += 1;
            } else {
                let _ = write!(out, "={b:02X}");
                width += 3;
            }
        }
        out.push_str(eol);
    }
    out
}

/// Whether quoted-printable may write byte `b` as itself at column
/// `width`; `last` is true for the last byte of a line.
fn qp_literal(b: u8, last: bool, width: usize) -> bool {
    match b {
        b'=' => false,
        b' ' | b'\t' => !last,
        b'.' => width != 0,
        33..=126 => true,
        _ => false,
    }
}

/// An RFC 5322 date for `secs` since the epoch, shown in the zone `zone`
/// (`offset` minutes east of UTC).
fn rfc5322_date(secs: i64, zone: &str, offset: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let local = secs + offset * 60;
    let (days, rem) = (local.div_euclid(86_400), local.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{}, {d} {} {y} {:02}:{:02}:{:02} {zone}",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(m - 1) as usize],
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Year, month (1-12) and day of the proleptic Gregorian calendar for a
/// count of days since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kotak_engine::mime::{summarize, Part, PartKind};
    use kotak_engine::Limits;

    fn rcpt() -> Vec<String> {
        vec!["user1@bench.test".to_string()]
    }

    fn leaves(p: &Part, out: &mut Vec<String>) {
        match &p.kind {
            PartKind::Multipart(children) => children.iter().for_each(|c| leaves(c, out)),
            _ => out.push(format!("{}/{}", p.media_type, p.media_subtype)),
        }
    }

    #[test]
    fn same_seed_same_bytes() {
        let (mut a, mut b, mut c) = (Corpus::new(7), Corpus::new(7), Corpus::new(8));
        let ma: Vec<_> = (0..50).map(|_| a.message("s@x.test", &rcpt(), None)).collect();
        let mb: Vec<_> = (0..50).map(|_| b.message("s@x.test", &rcpt(), None)).collect();
        let mc: Vec<_> = (0..50).map(|_| c.message("s@x.test", &rcpt(), None)).collect();
        assert_eq!(ma, mb);
        assert_ne!(ma, mc);
    }

    #[test]
    fn lines_are_safe_for_lmtp_data() {
        let mut c = Corpus::new(3);
        for i in 0..300 {
            let m = c.message("sender@example.com", &rcpt(), None);
            let text = std::str::from_utf8(&m).expect("utf-8");
            assert!(text.ends_with("\r\n"), "message {i} ends without CRLF");
            for line in text.split("\r\n") {
                assert!(!line.contains('\r') && !line.contains('\n'), "bare CR or LF in message {i}");
                assert!(!line.starts_with('.'), "line starts with a dot in message {i}: {line}");
                assert!(line.len() <= 998, "line of {} bytes in message {i}", line.len());
            }
        }
    }

    #[test]
    fn fixed_sizes_are_honoured() {
        let mut c = Corpus::new(11);
        for size in [1_000, 2_000, 4_096, 8_000, 50_000, 300_000, 2_000_000] {
            for _ in 0..if size > 100_000 { 3 } else { 20 } {
                let len = c.message("s@example.com", &rcpt(), Some(size)).len();
                let slack = size / 20 + 400;
                assert!(len.abs_diff(size) <= slack, "asked {size}, got {len}");
            }
        }
    }

    #[test]
    fn messages_parse_with_the_structure_written() {
        let mut c = Corpus::new(5);
        let (mut attachments, mut html, mut replies, mut indonesian, mut encoded) = (0, 0, 0, 0, 0);
        for _ in 0..200 {
            let m = c.message("budi@example.co.id", &rcpt(), None);
            let s = summarize(&m, &Limits::default());
            assert!(!s.truncated);
            assert!(s.envelope.subject.is_some() && s.envelope.message_id.is_some());
            assert_eq!(s.envelope.from.len(), 1);
            let mut kinds = Vec::new();
            leaves(&s.root, &mut kinds);
            attachments += kinds.iter().filter(|k| !k.starts_with("text/")).count();
            html += kinds.iter().filter(|k| *k == "text/html").count();
            replies += usize::from(s.envelope.in_reply_to.is_some());
            let text = String::from_utf8_lossy(&m);
            indonesian += usize::from(text.contains("Content-Language: id-ID"));
            encoded += usize::from(text.contains("=?UTF-8?B?"));
        }
        for (what, n) in [("attachments", attachments), ("html", html), ("replies", replies), ("indonesian", indonesian), ("encoded words", encoded)] {
            assert!(n >= 20, "only {n} {what} in 200 messages");
        }
    }

    #[test]
    fn encoders_match_known_values() {
        for (raw, b64) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foobar", "Zm9vYmFy")] {
            assert_eq!(base64(raw.as_bytes()), b64);
        }
        assert_eq!(quoted_printable("café = 1\r\n.dot \r\n"), "caf=C3=A9 =3D 1\r\n=2Edot=20\r\n");
        let long = quoted_printable(&"x".repeat(200));
        assert!(long.split("\r\n").all(|l| l.len() <= 76));
        assert_eq!(long.replace("=\r\n", ""), "x".repeat(200));
        assert_eq!(encode_words("ascii"), "ascii");
        assert_eq!(encode_words("Zoë"), "=?UTF-8?B?Wm/Dqw==?=");
        assert_eq!(percent_encode("résumé José.pdf"), "r%C3%A9sum%C3%A9%20Jos%C3%A9.pdf");
        assert_eq!(rfc5322_date(0, "+0000", 0), "Thu, 1 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc5322_date(1_767_571_200, "+0700", 420), "Mon, 5 Jan 2026 07:00:00 +0700");
    }
}
