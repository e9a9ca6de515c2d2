//! An OAuth2 authorization server (RFC 6749) beside an emulated API: the consent page
//! (`authorize_path`), the token endpoint (authorization code with PKCE, refresh token with
//! optional rotation, client credentials) and revocation (RFC 7009).
//!
//! Access tokens it issues are accepted by auth schemes with `oauth: "Bearer "`; they expire
//! after `access_token_ttl_s`. Tests steer it through [`crate::RunningEmulator`]: mint tokens
//! without a browser, expire every access token, revoke every refresh token.
//!
//! Only the endpoints live here: the section of `emulator.yaml` that configures them is
//! [`OAuthSpec`], what they have issued is `crate::tokens::OAuthState` in the state lock.

use std::time::{Duration, Instant};

use base64::Engine as _;
use indexmap::IndexMap;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::exchange::{Incoming, Reply};
use crate::spec::{Grant, OAuthSpec, Pkce};
use crate::state::Shared;
use crate::tokens::Code;

/// Answers the request when it is for one of the OAuth endpoints.
pub(crate) fn handle(shared: &Shared, req: &Incoming) -> Option<Reply> {
    let spec = shared.spec.file.oauth.as_ref()?;
    let credentials = json!({ "credentials": shared.spec.credentials() });
    let method = req.method.as_str();
    if spec.authorize_path.as_deref() == Some(req.path.as_str()) {
        let params = match method {
            "GET" => parse_form(req.query.as_bytes()),
            "POST" => parse_form(&req.body),
            _ => return Some(Reply::json(405, &json!({ "error": "method_not_allowed" }))),
        };
        return Some(authorize(shared, spec, &credentials, method == "POST", &params));
    }
    if req.path == spec.token_path {
        if method != "POST" {
            return Some(Reply::json(405, &json!({ "error": "method_not_allowed" })));
        }
        return Some(token(shared, spec, &credentials, req));
    }
    if spec.revoke_path.as_deref() == Some(req.path.as_str()) {
        let params = body_params(req);
        if let Some(t) = params.get("token") {
            shared.lock().oauth.revoke(t);
        }
        return Some(Reply::json(200, &json!({})));
    }
    None
}

fn parse_form(bytes: &[u8]) -> IndexMap<String, String> {
    url::form_urlencoded::parse(bytes).into_owned().collect()
}

/// Token requests are form-encoded per RFC 6749; Auth0 also takes JSON.
fn body_params(req: &Incoming) -> IndexMap<String, String> {
    if let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(&req.body) {
        return m
            .into_iter()
            .map(|(k, v)| match v {
                Value::String(s) => (k, s),
                other => (k, other.to_string()),
            })
            .collect();
    }
    parse_form(&req.body)
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn html(status: u16, title: &str, body: &str) -> Reply {
    Reply {
        status,
        headers: Vec::new(),
        content_type: Some("text/html; charset=utf-8".into()),
        body: format!(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title></head><body>{body}</body></html>\n",
            t = html_escape(title)
        )
        .into_bytes(),
    }
}

fn redirect(to: &url::Url) -> Reply {
    Reply {
        status: 302,
        headers: vec![("location".into(), to.to_string())],
        content_type: None,
        body: Vec::new(),
    }
}

fn authorize(
    shared: &Shared,
    spec: &OAuthSpec,
    credentials: &Value,
    answered: bool,
    params: &IndexMap<String, String>,
) -> Reply {
    let get = |k: &str| params.get(k).map(String::as_str).unwrap_or_default();
    if get("client_id") != spec.client_id.render(credentials) {
        return html(
            400,
            "Error",
            "<h1>Unknown client</h1><p>The client_id is not registered.</p>",
        );
    }
    let Ok(mut back) = url::Url::parse(get("redirect_uri")) else {
        return html(400, "Error", "<h1>Invalid redirect_uri</h1>");
    };
    if get("response_type") != "code" {
        return html(400, "Error", "<h1>Unsupported response_type</h1>");
    }
    let challenge = match (params.get("code_challenge"), get("code_challenge_method")) {
        (Some(c), "S256") => Some((c.clone(), "S256".to_string())),
        (Some(_), other) => {
            return html(
                400,
                "Error",
                &format!("<h1>Unsupported code_challenge_method {}</h1>", html_escape(other)),
            )
        }
        (None, _) if spec.pkce == Pkce::Required => {
            return html(400, "Error", "<h1>PKCE required</h1><p>Send a code_challenge.</p>")
        }
        (None, _) => None,
    };
    if !answered {
        let hidden: String = params
            .iter()
            .map(|(k, v)| {
                format!(
                    "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                    html_escape(k),
                    html_escape(v)
                )
            })
            .collect();
        let app = spec.app_name.as_deref().unwrap_or("An application");
        let action = spec.authorize_path.as_deref().unwrap_or_default();
        let body = format!(
            "<h1>Authorize {app}</h1><p>{app} asks for: <code id=\"scope\">{scope}</code></p>\
             <form method=\"post\" action=\"{action}\">{hidden}\
             <button type=\"submit\" name=\"decision\" value=\"allow\" id=\"allow\">Authorize</button> \
             <button type=\"submit\" name=\"decision\" value=\"deny\" id=\"deny\">Cancel</button></form>",
            app = html_escape(app),
            scope = html_escape(get("scope")),
            action = html_escape(action),
        );
        return html(200, "Authorize", &body);
    }
    {
        let mut pairs = back.query_pairs_mut();
        if get("decision") == "allow" {
            let code = shared.lock().oauth.grant_code(Code {
                client_id: get("client_id").to_string(),
                redirect_uri: get("redirect_uri").to_string(),
                challenge,
                scope: get("scope").to_string(),
                expires: Instant::now() + Duration::from_secs(600),
            });
            pairs.append_pair("code", &code);
        } else {
            pairs.append_pair("error", "access_denied");
        }
        if let Some(state) = params.get("state") {
            pairs.append_pair("state", state);
        }
    }
    redirect(&back)
}

fn token_error(spec: &OAuthSpec, status: u16, error: &str, description: &str) -> Reply {
    let status = if status == 401 { 401 } else { spec.error_status };
    let mut reply = Reply::json(status, &json!({ "error": error, "error_description": description }));
    reply.headers.push(("cache-control".into(), "no-store".into()));
    reply
}

fn token(shared: &Shared, spec: &OAuthSpec, credentials: &Value, req: &Incoming) -> Reply {
    let params = body_params(req);
    let basic = req
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b.trim()).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.split_once(':').map(|(u, p)| (u.to_string(), p.to_string())));
    let (client_id, client_secret) = match basic {
        Some(pair) => pair,
        None => (
            params.get("client_id").cloned().unwrap_or_default(),
            params.get("client_secret").cloned().unwrap_or_default(),
        ),
    };
    if client_id != spec.client_id.render(credentials) || client_secret != spec.client_secret.render(credentials) {
        return token_error(spec, 401, "invalid_client", "Client authentication failed.");
    }
    for (name, expected) in &spec.required_params {
        if params.get(name).map(String::as_str) != Some(expected.render(credentials).as_str()) {
            return token_error(spec, 400, "invalid_request", &format!("`{name}` is missing or wrong."));
        }
    }
    let grant = match params.get("grant_type").map(String::as_str) {
        Some("authorization_code") => Grant::AuthorizationCode,
        Some("refresh_token") => Grant::RefreshToken,
        Some("client_credentials") => Grant::ClientCredentials,
        _ => return token_error(spec, 400, "unsupported_grant_type", "Unsupported grant_type."),
    };
    if !spec.grants.contains(&grant) {
        return token_error(spec, 400, "unauthorized_client", "This grant type is not enabled.");
    }
    let mut state = shared.lock();
    let oauth = &mut state.oauth;
    let (tokens, scope) = match grant {
        Grant::AuthorizationCode => {
            let code = params.get("code").map(String::as_str).unwrap_or_default();
            let Some(c) = oauth.take_code(code) else {
                return token_error(spec, 400, &spec.invalid_grant_error, "The code is invalid or was used.");
            };
            let redirect_ok = params.get("redirect_uri").is_none_or(|r| *r == c.redirect_uri);
            if c.expires < Instant::now() || c.client_id != client_id || !redirect_ok {
                return token_error(spec, 400, &spec.invalid_grant_error, "The code is invalid or expired.");
            }
            if let Some((challenge, _)) = &c.challenge {
                let verifier = params.get("code_verifier").map(String::as_str).unwrap_or_default();
                let digest = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier));
                if digest != *challenge {
                    return token_error(spec, 400, &spec.invalid_grant_error, "PKCE verification failed.");
                }
            }
            (oauth.issue(spec, spec.refresh_tokens), c.scope)
        }
        Grant::RefreshToken => {
            let presented = params.get("refresh_token").map(String::as_str).unwrap_or_default();
            if !oauth.refresh_live(presented) {
                return token_error(
                    spec,
                    400,
                    &spec.invalid_grant_error,
                    "The refresh token is invalid, expired or revoked.",
                );
            }
            if spec.rotate_refresh_tokens {
                oauth.retire_refresh_token(presented);
                (oauth.issue(spec, true), String::new())
            } else {
                let mut t = oauth.issue(spec, false);
                t.refresh_token = None;
                (t, String::new())
            }
        }
        Grant::ClientCredentials => {
            let tokens = oauth.issue(spec, false);
            oauth.mark_app_only(&tokens.access_token);
            (tokens, String::new())
        }
    };
    let mut body = Map::new();
    body.insert("access_token".into(), json!(tokens.access_token));
    body.insert("token_type".into(), json!("Bearer"));
    if let Some(e) = tokens.expires_in {
        body.insert("expires_in".into(), json!(e));
    }
    if let Some(r) = tokens.refresh_token {
        body.insert("refresh_token".into(), json!(r));
    }
    if !scope.is_empty() {
        body.insert("scope".into(), json!(scope));
    }
    let mut reply = Reply::json(200, &Value::Object(body));
    reply.headers.push(("cache-control".into(), "no-store".into()));
    reply
}
