//! Continue tokens: the same shape kube-apiserver uses (URL-safe base64 of
//! `{"v":"meta.k8s.io/v1","rv":N,"start":"KEY\u0000"}`), so a token names the snapshot version and
//! the first key of the next page and the server keeps no per-list state. Pure.

use serde::{Deserialize, Serialize};

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

#[derive(Serialize, Deserialize)]
struct Token {
    v: String,
    rv: u64,
    start: String,
}

/// Base64 without padding, URL-safe alphabet.
pub fn base64_encode(input: &[u8]) -> String {
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let emit = chunk.len() + 1;
        for i in 0..emit {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// Decodes base64 in either alphabet, with or without padding.
pub fn base64_decode(input: &str) -> Option<Vec<u8>> {
    let mut bits = 0u32;
    let mut nbits = 0;
    let mut out = Vec::with_capacity(input.len() * 3 / 4);
    for c in input.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(v);
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            out.push(u8::try_from((bits >> nbits) & 0xff).ok()?);
        }
    }
    Some(out)
}

/// The token for the page after `last_key` in the snapshot at `rv`.
pub fn encode_continue(rv: u64, last_key: &str) -> String {
    let token = Token {
        v: "meta.k8s.io/v1".into(),
        rv,
        start: format!("{last_key}\u{0}"),
    };
    base64_encode(&serde_json::to_vec(&token).unwrap_or_default())
}

/// The snapshot version and the key after which the next page starts.
pub fn decode_continue(token: &str) -> Result<(u64, String), String> {
    let bytes = base64_decode(token)
        .ok_or_else(|| "continue key is not valid: illegal base64 data".to_string())?;
    let token: Token =
        serde_json::from_slice(&bytes).map_err(|e| format!("continue key is not valid: {e}"))?;
    if token.v != "meta.k8s.io/v1" {
        return Err(format!(
            "continue key is not valid: server does not recognize this encoded key version {:?}",
            token.v
        ));
    }
    if token.rv == 0 {
        return Err("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)".into());
    }
    let key = token
        .start
        .strip_suffix('\u{0}')
        .unwrap_or(&token.start)
        .to_string();
    Ok((token.rv, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_look_like_the_real_ones() {
        let t = encode_continue(4711, "kube-system/coredns-abc");
        assert!(!t.contains('=') && !t.contains('+') && !t.contains('/'));
        assert_eq!(
            decode_continue(&t).unwrap(),
            (4711, "kube-system/coredns-abc".to_string())
        );
        let raw = String::from_utf8(base64_decode(&t).unwrap()).unwrap();
        assert_eq!(
            raw,
            r#"{"v":"meta.k8s.io/v1","rv":4711,"start":"kube-system/coredns-abc\u0000"}"#
        );
    }

    #[test]
    fn garbage_tokens_are_rejected() {
        for t in [
            "",
            "!!!",
            "aGVsbG8",
            &base64_encode(br#"{"v":"x","rv":1,"start":"a"}"#),
            &base64_encode(br#"{"v":"meta.k8s.io/v1","rv":0,"start":"a"}"#),
        ] {
            assert!(decode_continue(t).is_err(), "{t}");
        }
    }

    #[test]
    fn base64_matches_known_vectors() {
        for (plain, enc) in [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
        ] {
            assert_eq!(base64_encode(plain.as_bytes()), enc);
            assert_eq!(base64_decode(enc).unwrap(), plain.as_bytes());
        }
        assert_eq!(base64_decode("Zm9vYg==").unwrap(), b"foob");
    }
}
