//! The HTTP side: one hyper connection task per client, a router for the design's routes, and
//! the limits and headers that apply to every request.

mod auth;
mod conns;
mod guard;
mod headers;
mod limits;
mod operator;
mod request;
mod routes;
mod signin;
#[cfg(feature = "demo")]
pub mod site_files;
mod tiktok_page;
mod time;
mod uploads;
mod webhook;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{ALLOW, CONTENT_TYPE, HeaderValue, LOCATION, RETRY_AFTER, SET_COOKIE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

pub use headers::{SESSION_COOKIE, STATE_COOKIE, Standard as StandardHeaders, csp};
pub use limits::{Limiter, RECORDED_REFUSALS_PER_MINUTE};
pub use request::{
    BodyError, MAX_FORM, MAX_QUERY, QueryError, client_addr, cookie_value, form_body, is_form,
    parse_form,
};
pub(crate) use uploads::ready_to_send;

use crate::App;
use crate::pages::Page;
use crate::store::SecurityEvent;
use conns::Conns;
use request::Ctx;
pub use routes::Route;
pub use time::utc_minute;

pub type Resp = Response<Full<Bytes>>;

/// hyper's smallest allowed read buffer is 8 KiB; twice that holds any honest request head.
const MAX_HEAD: usize = 16 * 1024;
/// Connections open at once. When all are taken, a new connection takes the place of the oldest
/// idle one (see [`conns`]); only when every one is inside a request do new ones wait in the
/// kernel's accept queue.
pub const MAX_CONNECTIONS: usize = 256;

/// Serves `app` on `listener` until `shutdown` completes, then lets open requests finish (at
/// most a few seconds).
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(app.options.header_read_timeout)
        .max_buf_size(MAX_HEAD);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let conns = Conns::new(MAX_CONNECTIONS);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: pause instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let admitted = loop {
            if let Some(a) = conns.admit() {
                break Some(a);
            }
            tokio::select! {
                () = conns.freed() => {}
                () = &mut shutdown => break None,
            }
        };
        let Some(admitted) = admitted else { break };
        let id = admitted.id();
        let app = app.clone();
        let service = service_fn(move |req| {
            let app = app.clone();
            let busy = admitted.busy();
            async move {
                let resp = handle(app, req, peer).await;
                drop(busy);
                Ok::<_, Infallible>(resp)
            }
        });
        let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        // Evicting the connection (see `conns`) cancels this task, which closes it.
        let task = tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
        conns.attach(id, task.abort_handle());
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(std::time::Duration::from_secs(5)) => {
            tracing::warn!("open connections did not finish in time");
        }
    }
    Ok(())
}

/// One request: limits, routing, then the headers every response carries.
pub async fn handle(app: Arc<App>, req: Request<Incoming>, peer: SocketAddr) -> Resp {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let ctx = Ctx::new(parts, peer, app.config.callback.real_ip_header.as_deref());
    let mut resp = route(&app, &ctx, body).await;
    app.standard_headers.apply(&mut resp);
    let (status, ms) = (resp.status().as_u16(), started.elapsed().as_millis() as u64);
    // Path only: the query string carries authorization codes. A health check that succeeds
    // is logged at debug: a monitor polling it would otherwise fill the log, and formatting a
    // line per probe cost a fifth of `/healthz`'s throughput (BENCHMARKS.md).
    if ctx.path() == "/healthz" && status == 200 {
        tracing::debug!(method = %ctx.method, path = %ctx.path(), status, ms, "request");
    } else {
        tracing::info!(method = %ctx.method, path = %ctx.path(), status, ms, "request");
    }
    resp
}

async fn route(app: &Arc<App>, ctx: &Ctx, body: Incoming) -> Resp {
    if let Err(e) = request::check_host(ctx.version, &ctx.headers) {
        if app.limiter.note_refusal(ctx.client) {
            app.event(ctx, crate::events::BAD_REQUEST, 400, &e.to_string())
                .await;
        }
        return app.page(Page::Error {
            status: StatusCode::BAD_REQUEST,
            heading: "Bad request",
            message: format!("This request could not be read: {e}."),
            action: None,
        });
    }
    if ctx.query().len() > MAX_QUERY {
        if app.limiter.note_refusal(ctx.client) {
            app.event(
                ctx,
                crate::events::BAD_REQUEST,
                414,
                "query string too long",
            )
            .await;
        }
        return app.page(Page::Error {
            status: StatusCode::URI_TOO_LONG,
            heading: "Address too long",
            message: "The address of this request is longer than this service accepts.".into(),
            action: None,
        });
    }
    if routes::rate_limited(ctx.path()) {
        if let Err(wait) = app.limiter.check(ctx.client) {
            let secs = limits::retry_after_secs(wait);
            if app.limiter.note_refusal(ctx.client) {
                app.event(
                    ctx,
                    crate::events::RATE_LIMITED,
                    429,
                    &format!("retry after {secs} s"),
                )
                .await;
            } else {
                tracing::info!(client = %ctx.client, "rate limited (not recorded: flood)");
            }
            let mut resp = app.page(Page::RateLimited { retry_after: secs });
            resp.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs));
            return resp;
        }
    }
    if declared_length(ctx).is_some_and(|n| n > body_limit(ctx.path()) as u64) {
        return app.page(request::too_large());
    }
    let Some(route) = Route::find(ctx.path()) else {
        #[cfg(feature = "demo")]
        if let Some(resp) = demo_site_file(app, ctx).await {
            return resp;
        }
        return app.page(Page::NotFound);
    };
    if !route.methods().contains(&ctx.method) {
        let mut resp = app.page(Page::Error {
            status: StatusCode::METHOD_NOT_ALLOWED,
            heading: "Method not allowed",
            message: format!("This address does not accept {} requests.", ctx.method),
            action: None,
        });
        if let Ok(v) = HeaderValue::from_str(&route.allow()) {
            resp.headers_mut().insert(ALLOW, v);
        }
        return resp;
    }
    match route {
        Route::Health => text(StatusCode::OK, "ok\n"),
        Route::SignInStart => auth::start(app).await,
        Route::SignInCallback => auth::callback(app, ctx).await,
        Route::Operator => operator::show(app, ctx).await,
        Route::Disconnect if ctx.method == hyper::Method::GET => {
            operator::confirm_disconnect(app, ctx).await
        }
        Route::Disconnect => operator::disconnect(app, ctx, body).await,
        Route::UploadCreate => uploads::create(app, ctx, body).await,
        Route::UploadStatus => uploads::show(app, ctx).await,
        Route::Webhook => webhook::receive(app, ctx, body).await,
    }
}

/// In `demo`, a page of the built site, when the path names one.
#[cfg(feature = "demo")]
async fn demo_site_file(app: &App, ctx: &Ctx) -> Option<Resp> {
    let site = app.demo.as_ref()?.site.as_ref()?;
    if ctx.method != hyper::Method::GET && ctx.method != hyper::Method::HEAD {
        return None;
    }
    site.serve(ctx.path(), &app.style_source).await
}

/// The largest body a path takes: a form everywhere, a TikTok event on the webhook.
fn body_limit(path: &str) -> usize {
    match Route::find(path) {
        Some(Route::Webhook) => crate::webhook::MAX_BODY,
        _ => MAX_FORM,
    }
}

/// A body announced larger than any form this service takes is refused before routing, so
/// nobody can make it read one.
fn declared_length(ctx: &Ctx) -> Option<u64> {
    ctx.header("content-length")
        .and_then(|v| v.trim().parse().ok())
}

/// This service failed (its records, most likely); nothing was changed.
fn server_error() -> Page {
    Page::Error {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        heading: "Something went wrong",
        message: "The service could not complete the request. Nothing was changed; please try again in a moment.".into(),
        action: Some(("/auth/tiktok/start", "Start a new sign-in")),
    }
}

pub fn text(status: StatusCode, body: &'static str) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

pub fn redirect(status: StatusCode, location: &str) -> Resp {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(LOCATION, v);
    }
    r
}

pub fn add_cookie(resp: &mut Resp, cookie: &str) {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        resp.headers_mut().append(SET_COOKIE, v);
    }
}

impl App {
    /// The page as a response, with a CSP that allows an image origin only when the page shows
    /// an avatar.
    pub(crate) fn page(&self, page: Page) -> Resp {
        self.page_with_image(page, None)
    }

    pub(crate) fn page_with_image(&self, page: Page, img_origin: Option<&str>) -> Resp {
        let html = self.pages.render(&page);
        #[cfg(feature = "demo")]
        let html = match &self.demo {
            Some(_) => site_files::with_banner(&html),
            None => html,
        };
        let mut r = Response::new(Full::new(Bytes::from(html)));
        *r.status_mut() = page.status();
        r.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        if let Ok(v) = HeaderValue::from_str(&headers::csp(&self.style_source, img_origin)) {
            r.headers_mut()
                .insert(hyper::header::CONTENT_SECURITY_POLICY, v);
        }
        r
    }

    /// Records a security event. A failure to record is logged, never shown to the client.
    pub(crate) async fn event(&self, ctx: &Ctx, kind: &'static str, status: u16, detail: &str) {
        let e = SecurityEvent {
            kind,
            method: ctx.method.to_string(),
            path: ctx.path().chars().take(512).collect(),
            status,
            client: ctx.client.to_string(),
            user_agent: ctx.user_agent(),
            detail: detail.to_string(),
        };
        tracing::info!(kind, status, detail, "security event");
        if let Err(e) = self.store.record_event(crate::now_ms(), e).await {
            tracing::error!(error = %e, "could not record a security event");
        }
    }
}
