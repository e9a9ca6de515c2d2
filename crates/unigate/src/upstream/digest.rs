//! HTTP Digest access authentication (RFC 7616, RFC 2617), the client side of
//! `authorization: { format: digest }`: the first request goes out without credentials, and
//! the provider's `401` + `WWW-Authenticate: Digest ...` challenge is answered once.
//!
//! The hashing is the `digest_auth` crate's (MD5, SHA-256, SHA-512-256, their `-sess`
//! variants, `qop=auth`); this module picks the challenge to answer and builds the request
//! URI the answer must name. Nonces are not cached across calls, so every call costs one
//! extra round trip (the unauthenticated probe); caching the last challenge per account
//! would save it, at the price of shared state and `nc` bookkeeping.

use std::borrow::Cow;

use digest_auth::{AuthContext, HttpMethod, WwwAuthenticateHeader};
use http::HeaderMap;
use secrecy::{ExposeSecret, SecretString};

/// Rendered credentials for one request. The password never prints.
#[derive(Clone)]
pub struct Credentials {
    pub username: String,
    pub password: SecretString,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .finish()
    }
}

/// The `Authorization` value answering the first Digest challenge in `headers` that can be
/// answered (RFC 7616 §3.7: a server lists its challenges in order of preference), or `None`
/// when there is none.
pub fn answer(headers: &HeaderMap, credentials: &Credentials, method: &str, url: &url::Url) -> Option<String> {
    let uri = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    let context = AuthContext::new_with_method(
        Cow::Borrowed(credentials.username.as_str()),
        Cow::Borrowed(credentials.password.expose_secret()),
        Cow::Owned(uri),
        Option::<&[u8]>::None,
        HttpMethod(Cow::Borrowed(method)),
    );
    headers
        .get_all(http::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter(|v| {
            v.trim_start()
                .get(..7)
                .is_some_and(|p| p.eq_ignore_ascii_case("digest "))
        })
        .filter_map(|v| WwwAuthenticateHeader::parse(v.trim_start()[7..].trim()).ok())
        .find_map(|mut prompt| prompt.respond(&context).ok())
        .map(|header| header.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn credentials() -> Credentials {
        Credentials {
            username: "Mufasa".into(),
            password: SecretString::from("Circle of Life"),
        }
    }

    fn challenges(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(http::header::WWW_AUTHENTICATE, v.parse().unwrap());
        }
        h
    }

    /// The fields of an `Authorization: Digest` value.
    fn fields(answer: &str) -> digest_auth::AuthorizationHeader {
        digest_auth::AuthorizationHeader::parse(answer.strip_prefix("Digest ").unwrap()).unwrap()
    }

    #[test]
    fn the_answer_names_the_path_and_query_and_verifies_with_the_password() {
        let h = challenges(&[
            r#"Digest realm="MMS Public API", domain="", nonce="abc123", algorithm=MD5, qop="auth", stale=false"#,
        ]);
        let url = url::Url::parse("https://cloud.mongodb.com/api/atlas/v2/orgs?pageNum=2").unwrap();

        let a = answer(&h, &credentials(), "GET", &url).unwrap();

        let sent = fields(&a);
        assert_eq!(sent.username, "Mufasa");
        assert_eq!(sent.realm, "MMS Public API");
        assert_eq!(sent.nonce, "abc123");
        assert_eq!(sent.uri, "/api/atlas/v2/orgs?pageNum=2");
        assert_eq!(sent.qop, Some(digest_auth::Qop::AUTH));
        // What a server holding the password recomputes.
        let mut check = sent.clone();
        check.digest(&AuthContext::new(
            "Mufasa",
            "Circle of Life",
            "/api/atlas/v2/orgs?pageNum=2",
        ));
        assert_eq!(check.response, sent.response);
        check.digest(&AuthContext::new("Mufasa", "wrong", "/api/atlas/v2/orgs?pageNum=2"));
        assert_ne!(check.response, sent.response);
    }

    #[test]
    fn the_first_answerable_challenge_wins_and_other_schemes_are_skipped() {
        let h = challenges(&[
            r#"Bearer realm="x""#,
            r#"Digest realm="r", nonce="n1", algorithm=SHA-256, qop="auth""#,
            r#"Digest realm="r", nonce="n2", algorithm=MD5, qop="auth""#,
        ]);
        let url = url::Url::parse("https://h/x").unwrap();

        let sent = fields(&answer(&h, &credentials(), "PATCH", &url).unwrap());

        assert_eq!(sent.nonce, "n1");
        assert_eq!(sent.algorithm.algo, digest_auth::AlgorithmType::SHA2_256);
    }

    #[test]
    fn no_digest_challenge_means_no_answer() {
        let url = url::Url::parse("https://h/x").unwrap();
        assert!(answer(&challenges(&[r#"Basic realm="x""#]), &credentials(), "GET", &url).is_none());
        assert!(answer(&HeaderMap::new(), &credentials(), "GET", &url).is_none());
        assert!(answer(&challenges(&["Digest nonsense"]), &credentials(), "GET", &url).is_none());
    }

    #[test]
    fn credentials_do_not_print_the_password() {
        assert!(!format!("{:?}", credentials()).contains("Circle"));
    }
}
