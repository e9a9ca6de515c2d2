//! The checks before a route's op: header rules (an API version header, ...) and
//! authentication against every accepted scheme (header or query value, Basic, Digest with
//! its challenges, a live OAuth access token). A failure says whether credentials were
//! presented at all (`missing_credentials`) or wrong (`unauthorized`).

use base64::Engine as _;
use serde_json::Value;

use super::ctx::Ctx;
use super::failure::Failure;
use crate::digest;
use crate::spec::ErrorKind;
use crate::state::Shared;

pub(super) fn check_header_rules(ctx: &Ctx<'_>) -> Result<(), Failure> {
    for rule in &ctx.spec.file.header_rules {
        let value = ctx.req.header(&rule.header);
        let failed = match value {
            None => rule.required,
            Some(v) => !rule.allowed.is_empty() && !rule.allowed.iter().any(|a| a == v),
        };
        if failed {
            let received = value.unwrap_or_default().to_owned();
            let vars = ctx.vars(vec![("value", Value::String(received.clone()))]);
            let detail = match &rule.message {
                Some(m) => m.render(&vars),
                None if value.is_none() => format!("Missing header {}", rule.header),
                None => format!("Unsupported value for header {}: {received}", rule.header),
            };
            let mut failure = Failure::new(rule.error, detail);
            failure.value = Some(received);
            return Err(failure);
        }
    }
    Ok(())
}

pub(super) fn check_auth(shared: &Shared, ctx: &Ctx<'_>) -> Result<(), Failure> {
    let schemes = &ctx.spec.file.auth;
    if schemes.is_empty() {
        return Ok(());
    }
    let vars = ctx.vars(Vec::new());
    let mut presented = false;
    let mut stale = false;
    for scheme in schemes {
        if let (Some(header), Some(prefix)) = (&scheme.header, &scheme.oauth) {
            if let Some(got) = ctx.req.header(header) {
                presented = true;
                if got
                    .strip_prefix(prefix.as_str())
                    .is_some_and(|t| shared.lock().oauth.access_live(t))
                {
                    return Ok(());
                }
            }
        } else if let Some(header) = &scheme.header {
            if let Some(got) = ctx.req.header(header) {
                presented = true;
                if scheme.value.as_ref().is_some_and(|v| v.render(&vars) == got) {
                    return Ok(());
                }
            }
        } else if let Some(param) = &scheme.query {
            if let Some(got) = ctx.query.get(param) {
                presented = true;
                if scheme.value.as_ref().is_some_and(|v| v.render(&vars) == *got) {
                    return Ok(());
                }
            }
        } else if let Some(basic) = &scheme.basic {
            if let Some(got) = ctx.req.header("authorization") {
                presented = true;
                let expected = format!("{}:{}", basic.username.render(&vars), basic.password.render(&vars));
                let encoded = base64::engine::general_purpose::STANDARD.encode(expected);
                let matches = got
                    .split_once(' ')
                    .is_some_and(|(scheme, token)| scheme.eq_ignore_ascii_case("basic") && token.trim() == encoded);
                if matches {
                    return Ok(());
                }
            }
        } else if let Some(digest) = &scheme.digest {
            let expected = digest::Expected {
                username: digest.username.render(&vars),
                password: digest.password.render(&vars),
                realm: &digest.realm,
                algorithm: digest.algorithm,
            };
            let answer = ctx
                .req
                .header("authorization")
                .filter(|a| a.get(..7).is_some_and(|p| p.eq_ignore_ascii_case("digest ")));
            if let Some(got) = answer {
                presented = true;
                let uri = match ctx.req.query.as_str() {
                    "" => ctx.req.path.clone(),
                    q => format!("{}?{q}", ctx.req.path),
                };
                let method = ctx.req.method.as_str();
                match digest::verify(&expected, got, method, &uri, &shared.lock().digest_nonces) {
                    digest::Verdict::Valid => return Ok(()),
                    digest::Verdict::Stale => stale = true,
                    digest::Verdict::Invalid => {}
                }
            }
        }
    }
    let mut failure = if presented {
        Failure::new(ErrorKind::Unauthorized, ErrorKind::Unauthorized.default_message())
    } else {
        Failure::new(
            ErrorKind::MissingCredentials,
            ErrorKind::MissingCredentials.default_message(),
        )
    };
    // Every digest scheme challenges, each with a fresh nonce.
    failure.challenges = schemes
        .iter()
        .filter_map(|s| s.digest.as_ref())
        .map(|digest| {
            let nonce = shared.lock().digest_nonces.issue();
            digest::challenge(&digest.realm, digest.algorithm, &nonce, stale)
        })
        .collect();
    Err(failure)
}

/// A route that answers only for a signed-in user refuses an application's own token (the
/// `client_credentials` grant's), as Graph's `/me` does.
pub(super) fn check_delegated(shared: &Shared, ctx: &Ctx<'_>, message: &str) -> Result<(), Failure> {
    let app_only = ctx.spec.file.auth.iter().any(|scheme| {
        let (Some(header), Some(prefix)) = (&scheme.header, &scheme.oauth) else {
            return false;
        };
        ctx.req
            .header(header)
            .and_then(|got| got.strip_prefix(prefix.as_str()))
            .is_some_and(|token| shared.lock().oauth.app_only(token))
    });
    if app_only {
        return Err(Failure::new(ErrorKind::BadRequest, message));
    }
    Ok(())
}
