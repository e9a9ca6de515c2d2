//! HTTP Digest access authentication (RFC 7616, RFC 2617), the server side of an
//! `auth: [{ digest: {...} }]` scheme: the challenge a 401 carries and the check of the
//! client's `Authorization: Digest ...` answer.
//!
//! Hashing is the `digest_auth` crate's (`AuthorizationHeader::digest` recomputes the answer
//! the client should have sent); this module adds what the crate leaves to servers: nonces
//! (issued ones are remembered, so an answer to a nonce this emulator never gave is refused
//! and one to a forgotten nonce is answered `stale=true`), and the checks of realm,
//! username, algorithm and request URI.

use std::borrow::Cow;

use digest_auth::{AlgorithmType, AuthContext, AuthorizationHeader, HttpMethod, Qop};
use serde::Deserialize;

use crate::template::StrTemplate;

/// How many issued nonces are remembered; older ones get a `stale=true` challenge.
const REMEMBERED_NONCES: usize = 1024;

/// `digest: { username, password, realm, algorithm }` in an auth scheme.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DigestAuth {
    /// Expected username, a template over `credentials`.
    pub username: StrTemplate,
    /// Expected password, a template over `credentials`.
    pub password: StrTemplate,
    /// The protection space announced in the challenge (Atlas: `MMS Public API`).
    pub realm: String,
    /// `MD5` (default) or `SHA-256`.
    #[serde(default)]
    pub algorithm: DigestAlgorithm,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub(crate) enum DigestAlgorithm {
    #[default]
    #[serde(rename = "MD5")]
    Md5,
    #[serde(rename = "SHA-256")]
    Sha256,
}

impl DigestAlgorithm {
    fn name(self) -> &'static str {
        match self {
            DigestAlgorithm::Md5 => "MD5",
            DigestAlgorithm::Sha256 => "SHA-256",
        }
    }

    fn matches(self, algorithm: AlgorithmType) -> bool {
        matches!(
            (self, algorithm),
            (DigestAlgorithm::Md5, AlgorithmType::MD5) | (DigestAlgorithm::Sha256, AlgorithmType::SHA2_256)
        )
    }
}

/// Nonces this emulator issued, newest last.
#[derive(Debug, Default)]
pub(crate) struct Nonces(Vec<String>);

impl Nonces {
    /// A fresh nonce, remembered.
    pub fn issue(&mut self) -> String {
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        if self.0.len() >= REMEMBERED_NONCES {
            self.0.remove(0);
        }
        self.0.push(nonce.clone());
        nonce
    }

    fn knows(&self, nonce: &str) -> bool {
        self.0.iter().any(|n| n == nonce)
    }
}

/// What an `Authorization: Digest ...` answer is worth.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Valid,
    /// Right credentials, but for a nonce this emulator does not remember: challenge again
    /// with `stale=true`, so the client retries without asking its user.
    Stale,
    Invalid,
}

/// The expected values, rendered.
pub(crate) struct Expected<'a> {
    pub username: String,
    pub password: String,
    pub realm: &'a str,
    pub algorithm: DigestAlgorithm,
}

/// Checks `header` (the whole `Authorization` value) for `method` on `request_uri` (path and
/// query as sent).
pub(crate) fn verify(
    expected: &Expected<'_>,
    header: &str,
    method: &str,
    request_uri: &str,
    nonces: &Nonces,
) -> Verdict {
    let Some(rest) = header
        .get(..7)
        .filter(|p| p.eq_ignore_ascii_case("digest "))
        .map(|_| &header[7..])
    else {
        return Verdict::Invalid;
    };
    let Ok(sent) = AuthorizationHeader::parse(rest) else {
        return Verdict::Invalid;
    };
    let fits = sent.realm == expected.realm
        && !sent.userhash
        && sent.username == expected.username
        && sent.uri == request_uri
        && !sent.algorithm.sess
        && expected.algorithm.matches(sent.algorithm.algo)
        && sent.qop == Some(Qop::AUTH);
    if !fits {
        return Verdict::Invalid;
    }
    let mut recomputed = sent.clone();
    let context = AuthContext::new_with_method(
        Cow::Borrowed(expected.username.as_str()),
        Cow::Borrowed(expected.password.as_str()),
        Cow::Borrowed(sent.uri.as_str()),
        Option::<&[u8]>::None,
        HttpMethod(Cow::Borrowed(method)),
    );
    recomputed.digest(&context);
    if recomputed.response != sent.response {
        Verdict::Invalid
    } else if nonces.knows(&sent.nonce) {
        Verdict::Valid
    } else {
        Verdict::Stale
    }
}

/// The `WWW-Authenticate` value of a challenge (RFC 7616 §3.3).
pub(crate) fn challenge(realm: &str, algorithm: DigestAlgorithm, nonce: &str, stale: bool) -> String {
    format!(
        "Digest realm=\"{}\", domain=\"\", nonce=\"{nonce}\", algorithm={}, qop=\"auth\", stale={stale}",
        realm.replace(['"', '\\'], ""),
        algorithm.name()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expected(algorithm: DigestAlgorithm) -> Expected<'static> {
        Expected {
            username: "Mufasa".into(),
            password: "Circle of Life".into(),
            realm: "http-auth@example.org",
            algorithm,
        }
    }

    /// What a client computes for `challenge`.
    fn answer(challenge: &str, password: &str, uri: &str) -> String {
        let mut prompt = digest_auth::parse(challenge).expect("challenge parses");
        let context = AuthContext::new("Mufasa", password, uri);
        prompt.respond(&context).expect("respond").to_string()
    }

    #[test]
    fn an_answer_to_an_issued_nonce_is_valid_for_md5_and_sha256() {
        for algorithm in [DigestAlgorithm::Md5, DigestAlgorithm::Sha256] {
            let mut nonces = Nonces::default();
            let c = challenge("http-auth@example.org", algorithm, &nonces.issue(), false);
            let header = answer(&c, "Circle of Life", "/dir/index.html?x=1");
            let verdict = verify(&expected(algorithm), &header, "GET", "/dir/index.html?x=1", &nonces);
            assert_eq!(verdict, Verdict::Valid, "{algorithm:?}: {header}");
        }
    }

    #[test]
    fn the_rfc_7616_md5_example_checks_out_once_its_nonce_is_known() {
        // RFC 7616 §3.9.1 (the MD5 half), as the `digest_auth` crate's own test sends it.
        let header = r#"Digest username="Mufasa", realm="http-auth@example.org", nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", uri="/dir/index.html", qop=auth, nc=00000001, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", response="8ca523f5e9506fed4657c9700eebdbec", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS", algorithm=MD5"#;
        let e = expected(DigestAlgorithm::Md5);
        let mut nonces = Nonces::default();
        assert_eq!(verify(&e, header, "GET", "/dir/index.html", &nonces), Verdict::Stale);
        nonces.0.push("7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v".into());
        assert_eq!(verify(&e, header, "GET", "/dir/index.html", &nonces), Verdict::Valid);
    }

    #[test]
    fn a_wrong_password_method_uri_or_algorithm_is_refused() {
        let mut nonces = Nonces::default();
        let c = challenge("http-auth@example.org", DigestAlgorithm::Md5, &nonces.issue(), false);
        let good = answer(&c, "Circle of Life", "/orgs");
        let e = expected(DigestAlgorithm::Md5);
        assert_eq!(verify(&e, &good, "GET", "/orgs", &nonces), Verdict::Valid);
        assert_eq!(verify(&e, &good, "PATCH", "/orgs", &nonces), Verdict::Invalid);
        assert_eq!(verify(&e, &good, "GET", "/orgs/1", &nonces), Verdict::Invalid);
        assert_eq!(
            verify(&expected(DigestAlgorithm::Sha256), &good, "GET", "/orgs", &nonces),
            Verdict::Invalid
        );
        let bad = answer(&c, "wrong", "/orgs");
        assert_eq!(verify(&e, &bad, "GET", "/orgs", &nonces), Verdict::Invalid);
        assert_eq!(
            verify(&e, "Basic TXVmYXNhOng=", "GET", "/orgs", &nonces),
            Verdict::Invalid
        );
    }
}
