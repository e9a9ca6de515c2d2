//! `/unified/{category}/{resource}[/{id}]`, and the unified `get`'s direct path past the
//! router ([`Gets`]).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures::future::Either;

use super::parse_call;
use crate::auth::Env;
use crate::catalog::types::UnifiedMethod;
use crate::error::ApiError;
use crate::state::AppState;
use crate::unified::{handle, UnifiedRequest};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/unified/{category}/{resource}", get(list).post(create))
        .route(
            "/unified/{category}/{resource}/{id}",
            get(get_one).patch(update).put(update).delete(delete).post(custom),
        )
}

/// The unified `get` (`GET /unified/{category}/{resource}/{id}`), the most frequent call,
/// answered without going through the router: axum's routing of it copied the three path
/// parameters into a list of shared strings on every call, matched the route and set its
/// `MatchedPath` (about 5,000 instructions a `get`, bench/ANALYSIS.md, twenty-second pass),
/// for a path read here with two splits. The answer is the routed one's: the same request-log
/// middleware, then `Env`, then the handler. Anything else goes to the router: another
/// method, another shape of path, a path with an escape (`%`, which the router's `Path`
/// decodes and checks), and every call while traces are on (their layer names the route
/// the router matched). `routes` is the router under the layers only routed calls need (the
/// request body's limit, the rewriting of axum's plain-text rejections: a direct `get`
/// reads no body and answers only Unigate's own JSON).
#[derive(Clone)]
pub struct Gets<S> {
    state: AppState,
    routes: S,
    /// Off: every call to the router.
    direct: bool,
}

impl<S> Gets<S> {
    pub fn new(state: AppState, routes: S, direct: bool) -> Self {
        Gets { state, routes, direct }
    }
}

/// `(category, resource, id)` of a unified `get` the direct path answers.
fn direct_get(request: &Request) -> Option<(String, String, String)> {
    if request.method() != Method::GET {
        return None;
    }
    let rest = request.uri().path().strip_prefix("/unified/")?;
    if rest.contains('%') {
        return None;
    }
    let mut parts = rest.split('/');
    let (category, resource, id) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || category.is_empty() || resource.is_empty() || id.is_empty() {
        return None;
    }
    Some((category.to_owned(), resource.to_owned(), id.to_owned()))
}

impl<S> tower::Service<Request> for Gets<S>
where
    S: tower::Service<Request, Response = Response, Error = std::convert::Infallible>,
{
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = Either<futures::future::BoxFuture<'static, Result<Response, std::convert::Infallible>>, S::Future>;

    /// Always ready: the router is, and the layers under `Gets` ask only it.
    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        match self.direct.then(|| direct_get(&request)).flatten() {
            Some(path) => {
                let state = self.state.clone();
                Either::Left(Box::pin(async move { Ok(get_direct(state, request, path).await) }))
            }
            None => Either::Right(self.routes.call(request)),
        }
    }
}

async fn get_direct(state: AppState, request: Request, (c, r, id): (String, String, String)) -> Response {
    let handler_state = state.clone();
    super::request_log::logged(&state, request, move |request, env| {
        let query = request.uri().query().map(str::to_owned);
        async move {
            let env = match env {
                Ok(env) => env,
                Err(e) => return e.into_response(),
            };
            // Boxed, as the router boxes a handler's future: the call's state is kilobytes,
            // and the middleware's future would otherwise carry it, copied as it is moved.
            Box::pin(run(
                handler_state,
                env,
                (c, r, Some(id)),
                UnifiedMethod::Get,
                query,
                None,
            ))
            .await
            .into_response()
        }
    })
    .await
}

async fn run(
    state: AppState,
    env: Env,
    (category, resource, id): (String, String, Option<String>),
    method: UnifiedMethod,
    query: Option<String>,
    body: Option<Result<Bytes, BytesRejection>>,
) -> Result<Response, ApiError> {
    let (query, body) = parse_call(query, body)?;
    let req = UnifiedRequest {
        category,
        resource,
        method,
        custom: None,
        id,
        query,
        body,
    };
    handle(&state, &env.id, req).await
}

async fn list(
    State(s): State<AppState>,
    env: Env,
    Path((c, r)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    run(s, env, (c, r, None), UnifiedMethod::List, q, None).await
}

async fn create(
    State(s): State<AppState>,
    env: Env,
    Path((c, r)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    run(s, env, (c, r, None), UnifiedMethod::Create, q, Some(body)).await
}

async fn get_one(
    State(s): State<AppState>,
    env: Env,
    Path((c, r, id)): Path<(String, String, String)>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    run(s, env, (c, r, Some(id)), UnifiedMethod::Get, q, None).await
}

async fn update(
    State(s): State<AppState>,
    env: Env,
    Path((c, r, id)): Path<(String, String, String)>,
    RawQuery(q): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    run(s, env, (c, r, Some(id)), UnifiedMethod::Update, q, Some(body)).await
}

async fn delete(
    State(s): State<AppState>,
    env: Env,
    Path((c, r, id)): Path<(String, String, String)>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    run(s, env, (c, r, Some(id)), UnifiedMethod::Delete, q, None).await
}

/// `POST /unified/{category}/{resource}/{method}`: a custom method (a group's `add-user`).
async fn custom(
    State(s): State<AppState>,
    env: Env,
    Path((category, resource, name)): Path<(String, String, String)>,
    RawQuery(q): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (query, body) = parse_call(q, Some(body))?;
    let req = UnifiedRequest {
        category,
        resource,
        method: UnifiedMethod::Create,
        custom: Some(name),
        id: None,
        query,
        body,
    };
    handle(&s, &env.id, req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, uri: &str) -> Request {
        let mut r = Request::new(axum::body::Body::empty());
        *r.method_mut() = method;
        *r.uri_mut() = uri.parse().unwrap_or_else(|e| panic!("{uri}: {e}"));
        r
    }

    #[test]
    fn only_a_plain_unified_get_takes_the_direct_path() {
        let taken = direct_get(&request(
            Method::GET,
            "/unified/user-directory/users/42?integrated_account_id=a",
        ));
        assert_eq!(taken, Some(("user-directory".into(), "users".into(), "42".into())));
        for (method, uri) in [
            (Method::HEAD, "/unified/user-directory/users/42"),
            (Method::PATCH, "/unified/user-directory/users/42"),
            (Method::POST, "/unified/user-directory/users/42"),
            (Method::GET, "/unified/user-directory/users"),
            (Method::GET, "/unified/user-directory/users/"),
            (Method::GET, "/unified/user-directory/users/42/"),
            (Method::GET, "/unified/user-directory//42"),
            (Method::GET, "/unified//users/42"),
            (Method::GET, "/unified/user-directory/users/42/meta"),
            (Method::GET, "/unified/user-directory/users/a%2Fb"),
            (Method::GET, "/unified-model/user-directory/users/42"),
            (Method::GET, "/proxy/users/42/x"),
        ] {
            assert_eq!(direct_get(&request(method.clone(), uri)), None, "{method} {uri}");
        }
    }
}
