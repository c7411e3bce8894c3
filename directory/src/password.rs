//! Password hashes in RFC 2307 `{SCHEME}` form, as OpenLDAP's `userPassword`,
//! Dovecot and Zimbra store them, so a site can move to Kotak without
//! resetting passwords. New passwords are Argon2id; the other schemes are only
//! verified. Costs are capped so a hostile import cannot make logins slow.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::engine::{general_purpose::GeneralPurpose, DecodePaddingMode, GeneralPurposeConfig};
use base64::{alphabet, Engine as _};
use sha2::Digest;
use subtle::ConstantTimeEq;

/// Most SHA-crypt rounds accepted: about a third of a second of CPU per login.
const MAX_CRYPT_ROUNDS: u64 = 1_000_000;
/// Fewest SHA-crypt rounds: glibc never writes fewer and libxcrypt refuses them.
const MIN_CRYPT_ROUNDS: u64 = 1_000;
/// Rounds when a crypt string has no `rounds=N$`, per Drepper's spec.
const DEFAULT_CRYPT_ROUNDS: u64 = 5_000;
/// Most Argon2 memory accepted, in KiB (256 MiB).
const MAX_ARGON2_M: u64 = 256 * 1024;
/// Most Argon2 work accepted, memory (KiB) times passes: 256 MiB x 3 passes,
/// libsodium's "moderate" level, about a second per login.
const MAX_ARGON2_M_T: u64 = 3 * MAX_ARGON2_M;
/// Most Argon2 lanes accepted.
const MAX_ARGON2_P: u64 = 16;
/// Standard base64; padding optional because some exports drop it.
const B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
/// The `./0-9A-Za-z` alphabet of crypt(3) strings.
const CRYPT_B64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Order in which SHA-512 crypt writes its digest bytes, three to four characters.
const ORDER_512: [u8; 64] = [
    0, 21, 42, 22, 43, 1, 44, 2, 23, 3, 24, 45, 25, 46, 4, 47, 5, 26, 6, 27, 48, 28, 49, 7, 50, 8,
    29, 9, 30, 51, 31, 52, 10, 53, 11, 32, 12, 33, 54, 34, 55, 13, 56, 14, 35, 15, 36, 57, 37, 58,
    16, 59, 17, 38, 18, 39, 60, 40, 61, 19, 62, 20, 41, 63,
];
/// Order in which SHA-256 crypt writes its digest bytes.
const ORDER_256: [u8; 32] = [
    0, 10, 20, 21, 1, 11, 12, 22, 2, 3, 13, 23, 24, 4, 14, 15, 25, 5, 6, 16, 26, 27, 7, 17, 18, 28,
    8, 9, 19, 29, 31, 30,
];

/// The schemes Kotak verifies; [`scheme`] names one so `kotak account import`
/// can report what it found and callers can tell slow ones from fast ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Argon2id/i/d PHC string under `{ARGON2}` (also Dovecot's `{ARGON2I}`,
    /// `{ARGON2ID}`) or bare; what [`hash`] writes.
    Argon2,
    /// `{SSHA}`: salted SHA-1, OpenLDAP's long-time default.
    Ssha,
    /// `{SSHA512}`: salted SHA-512, common in Zimbra and Dovecot.
    Ssha512,
    /// `$6$` SHA-512 crypt under `{CRYPT}` or Dovecot's `{SHA512-CRYPT}`.
    Sha512Crypt,
    /// `$5$` SHA-256 crypt under `{CRYPT}` or Dovecot's `{SHA256-CRYPT}`.
    Sha256Crypt,
}

/// Why a stored value is not accepted, worded for an operator reading an
/// import report, or why hashing a new password failed.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// The stored value is empty.
    #[error("empty password value")]
    Empty,
    /// Neither a `{SCHEME}` prefix nor a bare `$argon2` string.
    #[error("no {{SCHEME}} prefix (expected e.g. {{ARGON2}}, {{SSHA512}} or {{CRYPT}})")]
    NoScheme,
    /// `{CLEARTEXT}` or `{PLAIN}`: Kotak never stores plain text.
    #[error("{{{0}}} is a plain-text password and Kotak does not store plain text; hash it first")]
    Cleartext(String),
    /// `{MD5}`, `{SMD5}`, `{SHA}`: too weak to keep.
    #[error("{{{0}}} is a weak hash Kotak does not accept; the user needs a new password")]
    Weak(String),
    /// `{CRYPT}` holding DES, MD5 (`$1$`), bcrypt or another non-SHA crypt.
    #[error("{{CRYPT}} value is not SHA-512 ($6$) or SHA-256 ($5$) crypt; DES, MD5 and bcrypt crypt are not accepted")]
    UnsupportedCrypt,
    /// A `{SCHEME}` Kotak does not know.
    #[error("unknown password scheme {{{0}}}")]
    UnknownScheme(String),
    /// The scheme is known but the value after it is broken.
    #[error("malformed {scheme} value: {reason}")]
    Malformed {
        /// Scheme name as written in errors, e.g. `SSHA`.
        scheme: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A cost parameter above Kotak's cap, which would make each login slow.
    #[error("{scheme} cost {param}={value} is above Kotak's limit of {max}")]
    TooCostly {
        /// Scheme name, e.g. `SHA512-CRYPT`.
        scheme: &'static str,
        /// Parameter name, e.g. `rounds` or `m`.
        param: &'static str,
        /// The value found.
        value: u64,
        /// The largest value accepted.
        max: u64,
    },
    /// Hashing a new password failed (e.g. no randomness available).
    #[error("could not hash password: {0}")]
    Hash(String),
}

/// A stored value checked and split, ready to verify.
enum Parsed<'a> {
    Argon2(PasswordHash<'a>),
    Salted { sha512: bool, raw: Vec<u8> },
    Crypt { sha512: bool, rounds: u64, salt: &'a str, hash: &'a str },
}

/// Hashes a new password for storage: Argon2id with the `argon2` crate's
/// defaults (m=19456 KiB, t=2, p=1) and a random salt, written as
/// `{ARGON2}$argon2id$v=19$...`, the form OpenLDAP's argon2 module reads.
pub fn hash(password: &[u8]) -> Result<String, PasswordError> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    let phc = Argon2::default()
        .hash_password(password, &salt)
        .map_err(|e| PasswordError::Hash(e.to_string()))?;
    Ok(format!("{{ARGON2}}{phc}"))
}

/// Checks a password against a stored value, for logins against the
/// embedded directory or an LDAP `userPassword`. False for a wrong password,
/// an unknown or refused scheme, or a malformed value; never panics.
pub fn verify(password: &[u8], stored: &str) -> bool {
    match parse(stored) {
        Ok(Parsed::Argon2(phc)) => Argon2::default().verify_password(password, &phc).is_ok(),
        Ok(Parsed::Salted { sha512: false, raw }) => salted_ok::<sha1::Sha1>(password, &raw),
        Ok(Parsed::Salted { sha512: true, raw }) => salted_ok::<sha2::Sha512>(password, &raw),
        Ok(Parsed::Crypt { sha512, rounds, salt, hash }) => {
            crypt_ok(password, sha512, rounds, salt, hash)
        }
        Err(_) => false,
    }
}

/// Which scheme a stored value uses, after checking it fully, or an error
/// saying why it is not accepted, so `kotak account import` can report bad
/// rows by line instead of locking users out later.
pub fn scheme(stored: &str) -> Result<Scheme, PasswordError> {
    Ok(match parse(stored)? {
        Parsed::Argon2(_) => Scheme::Argon2,
        Parsed::Salted { sha512: false, .. } => Scheme::Ssha,
        Parsed::Salted { sha512: true, .. } => Scheme::Ssha512,
        Parsed::Crypt { sha512: true, .. } => Scheme::Sha512Crypt,
        Parsed::Crypt { sha512: false, .. } => Scheme::Sha256Crypt,
    })
}

/// Whether verifying a stored value costs real CPU or memory (Argon2, crypt),
/// so callers run it off the async threads and limit how many run at once.
/// Values that would be refused are cheap to refuse, so they are not slow.
pub fn is_slow(stored: &str) -> bool {
    matches!(scheme(stored), Ok(Scheme::Argon2 | Scheme::Sha512Crypt | Scheme::Sha256Crypt))
}

fn parse(stored: &str) -> Result<Parsed<'_>, PasswordError> {
    if stored.is_empty() {
        return Err(PasswordError::Empty);
    }
    let (name, value) = if let Some(rest) = stored.strip_prefix('{') {
        let end = rest.find('}').ok_or(malformed("{SCHEME}", "no closing }"))?;
        (rest[..end].to_ascii_uppercase(), &rest[end + 1..])
    } else if stored.starts_with("$argon2") {
        (String::from("ARGON2"), stored)
    } else {
        return Err(PasswordError::NoScheme);
    };
    match name.as_str() {
        "ARGON2" | "ARGON2I" | "ARGON2ID" => parse_argon2(value),
        "SSHA" | "SSHA512" => parse_salted(value, name == "SSHA512"),
        "CRYPT" if value.starts_with("$6$") || value.starts_with("$5$") => {
            parse_crypt(value, value.starts_with("$6$"))
        }
        "CRYPT" => Err(PasswordError::UnsupportedCrypt),
        "SHA512-CRYPT" | "SHA256-CRYPT" => parse_crypt(value, name == "SHA512-CRYPT"),
        "CLEARTEXT" | "PLAIN" => Err(PasswordError::Cleartext(name)),
        "MD5" | "SMD5" | "SHA" => Err(PasswordError::Weak(name)),
        _ => Err(PasswordError::UnknownScheme(name.chars().take(40).collect())),
    }
}

fn malformed(scheme: &'static str, reason: &'static str) -> PasswordError {
    PasswordError::Malformed { scheme, reason }
}

fn too_costly(scheme: &'static str, param: &'static str, value: u64, max: u64) -> PasswordError {
    PasswordError::TooCostly { scheme, param, value, max }
}

fn parse_argon2(value: &str) -> Result<Parsed<'_>, PasswordError> {
    let bad = |reason| malformed("ARGON2", reason);
    let phc = PasswordHash::new(value).map_err(|_| bad("not a valid $argon2...$ PHC string"))?;
    argon2::Algorithm::new(phc.algorithm.as_str()).map_err(|_| bad("not argon2id/i/d"))?;
    if phc.salt.is_none() || phc.hash.is_none() {
        return Err(bad("missing salt or hash"));
    }
    let params = argon2::Params::try_from(&phc).map_err(|_| bad("invalid m, t or p"))?;
    let (m, t, p) = (u64::from(params.m_cost()), u64::from(params.t_cost()), params.p_cost());
    for (param, value, max) in
        [("m", m, MAX_ARGON2_M), ("m*t", m * t, MAX_ARGON2_M_T), ("p", p.into(), MAX_ARGON2_P)]
    {
        if value > max {
            return Err(too_costly("ARGON2", param, value, max));
        }
    }
    Ok(Parsed::Argon2(phc))
}

fn parse_salted(value: &str, sha512: bool) -> Result<Parsed<'_>, PasswordError> {
    let (scheme, digest_len) = if sha512 { ("SSHA512", 64) } else { ("SSHA", 20) };
    let raw = B64.decode(value).map_err(|_| malformed(scheme, "not valid base64"))?;
    if raw.len() <= digest_len {
        return Err(malformed(scheme, "too short to hold a digest and a salt"));
    }
    Ok(Parsed::Salted { sha512, raw })
}

fn parse_crypt(value: &str, sha512: bool) -> Result<Parsed<'_>, PasswordError> {
    let (scheme, id, hash_len) =
        if sha512 { ("SHA512-CRYPT", "$6$", 86) } else { ("SHA256-CRYPT", "$5$", 43) };
    let rest = value.strip_prefix(id).ok_or(malformed(scheme, "wrong $id$ for this scheme"))?;
    let (rounds, rest) = match rest.strip_prefix("rounds=") {
        Some(r) => {
            let (n, rest) = r.split_once('$').ok_or(malformed(scheme, "no $ after rounds="))?;
            let n: u64 = n.parse().map_err(|_| malformed(scheme, "rounds= is not a number"))?;
            if n > MAX_CRYPT_ROUNDS {
                return Err(too_costly(scheme, "rounds", n, MAX_CRYPT_ROUNDS));
            }
            if n < MIN_CRYPT_ROUNDS {
                return Err(malformed(scheme, "rounds= below the minimum of 1000"));
            }
            (n, rest)
        }
        None => (DEFAULT_CRYPT_ROUNDS, rest),
    };
    let (salt, hash) = rest.split_once('$').ok_or(malformed(scheme, "no $ before the hash"))?;
    if salt.len() > 16 {
        return Err(malformed(scheme, "salt longer than 16 characters"));
    }
    if hash.len() != hash_len || !hash.bytes().all(|b| CRYPT_B64.contains(&b)) {
        return Err(malformed(scheme, "hash has the wrong length or characters"));
    }
    Ok(Parsed::Crypt { sha512, rounds, salt, hash })
}

fn salted_ok<D: Digest>(password: &[u8], raw: &[u8]) -> bool {
    let (digest, salt) = raw.split_at(<D as Digest>::output_size());
    let computed = D::new().chain_update(password).chain_update(salt).finalize();
    computed.as_slice().ct_eq(digest).into()
}

fn crypt_ok(password: &[u8], sha512: bool, rounds: u64, salt: &str, hash: &str) -> bool {
    let rounds = rounds as usize; // at most MAX_CRYPT_ROUNDS, checked in parse_crypt
    let encoded = if sha512 {
        let params = sha_crypt::Sha512Params::new(rounds);
        let digest = params.and_then(|p| sha_crypt::sha512_crypt(password, salt.as_bytes(), &p));
        digest.map(|d| crypt_b64(&d, &ORDER_512))
    } else {
        let params = sha_crypt::Sha256Params::new(rounds);
        let digest = params.and_then(|p| sha_crypt::sha256_crypt(password, salt.as_bytes(), &p));
        digest.map(|d| crypt_b64(&d, &ORDER_256))
    };
    encoded.is_ok_and(|e| e.as_slice().ct_eq(hash.as_bytes()).into())
}

/// crypt(3)'s base64: bytes taken in `order`, each group of up to three read
/// as one big-endian number and written low six bits first.
fn crypt_b64(digest: &[u8], order: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(86);
    for group in order.chunks(3) {
        let w = group.iter().fold(0u32, |w, &i| (w << 8) | u32::from(digest[usize::from(i)]));
        out.extend((0..=group.len()).map(|k| CRYPT_B64[((w >> (6 * k)) & 63) as usize]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real tools' output for the password "secret"; the command is above each.
    const VECTORS: &[(&str, Scheme)] = &[
        // slappasswd -h {SSHA} -s secret
        ("{SSHA}mG09JYhwOOIW/VdBiKbrxA8VI7W2Q04x", Scheme::Ssha),
        // doveadm pw -s SSHA -p secret
        ("{SSHA}NEACyQNHq3VgkfRvLzry9jDkxdcJlVpP", Scheme::Ssha),
        // slappasswd -o module-load=pw-sha2 -h {SSHA512} -s secret
        ("{SSHA512}nL2mAdnynpchQR3mr6E5du1FJL6+YHZN66RLX8SC7qSJrX+yhYSun1n5uqF9RxGDZb1ygVxMwRr2ZJKRVzBMQPbZgS/roOVA", Scheme::Ssha512),
        // doveadm pw -s SSHA512 -p secret
        ("{SSHA512}cT1NQvQIvSRu983prlO8AmT28pBwQTyDph7qJv/oH2rknlOUu+Y5l+9i+nLTF6zXy0cAovgC1e/sRdDwNKuRuP+jD4A=", Scheme::Ssha512),
        // openssl passwd -6 -salt kotaksalt secret
        ("{CRYPT}$6$kotaksalt$nwsmAhWbm0HDq.Ix0wbgt2UE5nE75B7JUhukB8Pyrdb5Pmcp3XFiTj/5lLxoIGbraTPuysUXcydh6UF5gBknN/", Scheme::Sha512Crypt),
        // openssl passwd -5 -salt kotaksalt secret
        ("{CRYPT}$5$kotaksalt$JT4YEkoB3f0/DTVr8QbesJfdMkRVMdR0.KDSGYtO8J3", Scheme::Sha256Crypt),
        // python3 -c "import crypt; print(crypt.crypt('secret', '$6$rounds=10000$pysaltpysalt$'))"
        ("{CRYPT}$6$rounds=10000$pysaltpysalt$DG4O2sttXnPyixy9vfQfWxoy2G8W.icrwqhFQp7c9ngywnJ8pa6JanuHrcLCcLPzWxmgNKQ1Ct41aEGIqPw920", Scheme::Sha512Crypt),
        // python3 -c "import crypt; print(crypt.crypt('secret', '$5$rounds=12345$pysalt$'))"
        ("{CRYPT}$5$rounds=12345$pysalt$6VjsJFjuwNGUDtUu5XjsIdRK9vnU.jBvsAJmDZw1XG9", Scheme::Sha256Crypt),
        // doveadm pw -s SHA512-CRYPT -p secret
        ("{SHA512-CRYPT}$6$h8MVKhPtDXxIOZTk$E.BPB3K82J9iJCapM1prvuaN.TzWcHqHbHYPFjmU9soQP46FQOpnU5Q./0btXmGdx4mH1jNTYm7LNayIYUZHz/", Scheme::Sha512Crypt),
        // doveadm pw -s SHA256-CRYPT -p secret
        ("{SHA256-CRYPT}$5$NH6xv8fAr9R0Pm3Q$wXdYZJ0ePVDDMdLHWXo1C/ZyTLHSrX0aw9aANwpnIz4", Scheme::Sha256Crypt),
        // echo -n secret | argon2 somesalt -id -e   (bare, as older Kotak stored it)
        ("$argon2id$v=19$m=4096,t=3,p=1$c29tZXNhbHQ$JSTtCfuzyWAVVZF1mjNyip+A7CCi5xkKhBoPdXSPbqs", Scheme::Argon2),
        // echo -n secret | argon2 somesalt -i -e   (prefixed by hand)
        ("{ARGON2}$argon2i$v=19$m=4096,t=3,p=1$c29tZXNhbHQ$ckbtn4++nWlDJcG6Ea/ectd2Kmupd3T9SbtAr8oX74U", Scheme::Argon2),
        // echo -n secret | argon2 somesalt -d -e   (prefixed by hand)
        ("{ARGON2}$argon2d$v=19$m=4096,t=3,p=1$c29tZXNhbHQ$HIH5UbtAzMvag8Izims5zUjZE6wCCSheMt4AO/Hqaws", Scheme::Argon2),
        // slappasswd -o module-load=argon2 -h {ARGON2} -s secret
        ("{ARGON2}$argon2i$v=19$m=4096,t=3,p=1$HTbC6H821zbuIkx5EfHt9w$9hp7Zv3ZNKe/MsBHXbPqc/RZSA1qQ6j8uJaj51mlghs", Scheme::Argon2),
        // doveadm pw -s ARGON2ID -p secret
        ("{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$ii07DR/52nb4DutE5tMrCg$BEH7LXc0BHeVjF8oHeYRvRT5lgycLqnGqYRJbFr71ck", Scheme::Argon2),
    ];

    #[test]
    fn real_vectors_verify_and_name_their_scheme() {
        for &(stored, want) in VECTORS {
            assert!(verify(b"secret", stored), "right password refused: {stored}");
            assert!(!verify(b"Secret", stored), "wrong password accepted: {stored}");
            assert!(!verify(b"", stored), "empty password accepted: {stored}");
            assert_eq!(scheme(stored).unwrap(), want, "{stored}");
            let slow = !matches!(want, Scheme::Ssha | Scheme::Ssha512);
            assert_eq!(is_slow(stored), slow, "only Argon2 and crypt are slow: {stored}");
        }
    }

    #[test]
    fn hash_round_trips() {
        let stored = hash(b"correct horse").unwrap();
        assert!(stored.starts_with("{ARGON2}$argon2id$v=19$m=19456,t=2,p=1$"), "{stored}");
        assert!(verify(b"correct horse", &stored));
        assert!(!verify(b"correct horsf", &stored));
        assert_eq!(scheme(&stored).unwrap(), Scheme::Argon2);
        assert_ne!(stored, hash(b"correct horse").unwrap(), "salt must be random");
        let latin1 = hash(b"p\xe4ss").unwrap(); // not UTF-8: passwords are bytes
        assert!(verify(b"p\xe4ss", &latin1) && !verify(b"pass", &latin1));
    }

    #[test]
    fn refused_schemes_say_why() {
        let cases = [
            ("{CLEARTEXT}secret", "plain text"),
            ("{plain}secret", "plain text"),
            ("{MD5}Xr4ilOzQ4PCOq3aQ0qbuaQ==", "weak"), // slappasswd -h {MD5} -s secret
            ("{SMD5}hA87VaonNwOoZhbyHi/ne9QqCfU=", "weak"), // slappasswd -h {SMD5} -s secret
            ("{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=", "weak"), // slappasswd -h {SHA} -s secret
            ("{CRYPT}abNANd1rDfiNc", "DES"),           // python3: crypt.crypt('secret', 'ab')
            ("{CRYPT}$1$kotak$mV.JRPTGo4oLD47RoHQB70", "MD5"), // openssl passwd -1 -salt kotak secret
            ("{BLF-CRYPT}$2y$05$abcdefghijklmnopqrstuu", "unknown password scheme {BLF-CRYPT}"),
            ("", "empty"),
            ("secret", "no {SCHEME} prefix"),
            ("{}x", "unknown password scheme {}"),
            ("{ßü}x", "unknown password scheme {ßü}"),
        ];
        for (stored, why) in cases {
            let err = scheme(stored).unwrap_err().to_string();
            assert!(err.contains(why), "{stored}: {err}");
            assert!(!verify(b"secret", stored), "{stored}");
            assert!(!is_slow(stored), "{stored}");
        }
    }

    #[test]
    fn malformed_values_are_refused_without_panicking() {
        let h86 = &VECTORS[4].0[27..]; // the 86-character hash of the openssl -6 vector
        let cases = [
            "{SSHA}mG09JYhwOOIW/VdBiKbrxA8VI7W2Q", // truncated base64
            "{SSHA}5en6G6MezRroT3XKqkdPOmY/BfQ=",  // a bare SHA-1 digest, no salt
            "{SSHA}c2hvcnQ=",
            "{SSHA512}mG09JYhwOOIW/VdBiKbrxA8VI7W2Q04x", // SHA-1 sized
            "{SSHA}not base64!",
            "{SSHA",
            "{SSHA}ä€",
            "{CRYPT}$6$rounds=100$kotaksalt$x",
            "{CRYPT}$6$rounds=abc$kotaksalt$x",
            "{CRYPT}$6$rounds=10000",
            "{CRYPT}$6$kotaksalt",
            "{CRYPT}$6$kotaksalt$short",
            "{SHA512-CRYPT}$5$kotaksalt$JT4YEkoB3f0/DTVr8QbesJfdMkRVMdR0.KDSGYtO8J3",
            "{CRYPT}$5$kotaksalt$JT4YEkoB3f0/DTVr8QbesJfdMkRVMdR0.KDSGYtO8J!",
            "{CRYPT}$6$01234567890123456$x",
            "{ARGON2}$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E",
            "{ARGON2}not-a-phc-string",
            "$argon2id$v=19$m=4096,t=3,p=1$c29tZXNhbHQ",
            "$argon2id$v=19$m=4096,t=3,p=0$c29tZXNhbHQ$JSTtCfuzyWAVVZF1mjNyip+A7CCi5xkKhBoPdXSPbqs",
        ];
        for stored in cases.into_iter().chain([&*format!("{{CRYPT}}$6$kotaksalt${h86}!")]) {
            assert!(matches!(scheme(stored), Err(PasswordError::Malformed { .. })), "{stored}");
            assert!(!verify(b"secret", stored) && !is_slow(stored), "{stored}");
        }
        // Every truncation of the cheap vectors (short of dropping only the
        // base64 padding, which is optional) is refused or fails to verify.
        for &(stored, _) in VECTORS.iter().filter(|v| v.1 != Scheme::Argon2) {
            for cut in
                (0..stored.trim_end_matches('=').len()).filter(|&i| stored.is_char_boundary(i))
            {
                assert!(!verify(b"secret", &stored[..cut]), "{}", &stored[..cut]);
            }
        }
    }

    #[test]
    fn hostile_costs_are_refused() {
        let h86 = &VECTORS[4].0[27..];
        let cases = [
            format!("{{CRYPT}}$6$rounds=999999999999$kotaksalt${h86}"),
            format!("{{SHA512-CRYPT}}$6$rounds=1000001$kotaksalt${h86}"),
            "$argon2id$v=19$m=4194304,t=3,p=1$c29tZXNhbHQ$JSTtCfuzyWAVVZF1mjNyip+A7CCi5xkKhBoPdXSPbqs".into(),
            "$argon2id$v=19$m=4096,t=1000,p=1$c29tZXNhbHQ$JSTtCfuzyWAVVZF1mjNyip+A7CCi5xkKhBoPdXSPbqs".into(),
        ];
        for stored in &cases {
            let err = scheme(stored).unwrap_err();
            assert!(matches!(err, PasswordError::TooCostly { .. }), "{stored}: {err}");
            assert!(!verify(b"secret", stored) && !is_slow(stored), "{stored}");
        }
    }

    #[test]
    fn prefix_is_case_insensitive() {
        for &(stored, want) in &VECTORS[..10] {
            let (prefix, value) = stored.split_at(stored.find('}').unwrap());
            let lower = format!("{}{value}", prefix.to_lowercase());
            assert!(verify(b"secret", &lower) && !verify(b"x", &lower), "{lower}");
            assert_eq!(scheme(&lower).unwrap(), want);
        }
        assert!(verify(b"secret", "{Argon2}$argon2id$v=19$m=4096,t=3,p=1$c29tZXNhbHQ$JSTtCfuzyWAVVZF1mjNyip+A7CCi5xkKhBoPdXSPbqs"));
    }
}
