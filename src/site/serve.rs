//! `mdz serve`: build, serve the result on 127.0.0.1, rebuild when `content/`, `templates/` or
//! `config.toml` change, and reload open tabs. The reload hook is added to HTML as it is served,
//! so it never reaches `public/`. A failed rebuild keeps serving the last good build and shows
//! the problems on every page until an edit fixes them.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::Frame;
use hyper::{Request, Response, StatusCode, header};
use hyper_util::rt::TokioIo;
use tokio::sync::watch;

use super::html::escape;
use super::{Output, Site, Update};

/// Quiet time after the last file event before rebuilding: editors save in bursts (write,
/// rename, chmod), and one rebuild per save is enough.
const DEBOUNCE: Duration = Duration::from_millis(30);
const EVENTS_PATH: &str = "/__mdz/events";

/// What is being served: the last good output, and the problems of the latest attempt.
struct State {
    output: Arc<Output>,
    generation: u64,
    error: Option<String>,
}

pub struct Options {
    pub root: PathBuf,
    pub out: PathBuf,
    pub addr: SocketAddr,
}

/// Runs until the process is stopped. Prints the URL once listening.
pub fn serve(opts: Options) -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run(opts))
}

async fn run(opts: Options) -> Result<(), Box<dyn std::error::Error>> {
    let mut rebuilder = Rebuilder {
        root: opts.root.clone(),
        site: None,
    };
    // The first build is on disk before anything is served.
    let first = rebuilder.rebuild(None).and_then(|o| {
        let o = o.unwrap_or_default();
        o.write_atomically(&opts.out)
            .map(|()| o)
            .map_err(|e| e.to_string())
    });
    let state = State {
        output: Arc::new(first.as_ref().ok().cloned().unwrap_or_default()),
        generation: 1,
        error: first.as_ref().err().cloned(),
    };
    if let Err(e) = &first {
        eprintln!("{e}");
    }
    let state = Arc::new(RwLock::new(state));
    let (notify_tx, notify_rx) = watch::channel(1u64);

    let listener = tokio::net::TcpListener::bind(opts.addr)
        .await
        .map_err(|e| {
            crate::ports::listen_error(
                &opts.addr.to_string(),
                &e,
                "choose another port with --port N (0 picks a free one)",
            )
        })?;
    println!(
        "serving http://{}/ (Ctrl-C to stop)",
        listener.local_addr()?
    );
    let publisher = Publisher::start(opts.out.clone(), state.clone(), notify_tx.clone());
    watch_and_rebuild(rebuilder, publisher.clone(), state.clone(), notify_tx)?;

    tokio::select! {
        r = accept(listener, state, notify_rx) => r,
        () = stopped() => {
            // Let a write of the output folder that is under way finish, so no staging
            // folder is left behind.
            publisher.close(Duration::from_secs(30));
            Ok(())
        }
    }
}

/// Ctrl-C or SIGTERM.
async fn stopped() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

async fn accept(
    listener: tokio::net::TcpListener,
    state: Arc<RwLock<State>>,
    notify_rx: watch::Receiver<u64>,
) -> Result<(), Box<dyn std::error::Error>> {
    loop {
        let (stream, _) = listener.accept().await?;
        let state = state.clone();
        let rx = notify_rx.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let state = state.clone();
                let rx = rx.clone();
                async move { Ok::<_, Infallible>(respond(req, &state, rx)) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

/// The site kept between saves, so a save re-renders only the pages it touched.
struct Rebuilder {
    root: PathBuf,
    site: Option<Site>,
}

impl Rebuilder {
    /// Rebuilds into memory after `changed` (paths relative to the root; `None`: anything may
    /// have changed). Only what [`Site::update`] cannot take in alone loads everything again.
    /// `Ok(None)`: the change touched no page, so there is nothing new to serve.
    fn rebuild(&mut self, changed: Option<&BTreeSet<PathBuf>>) -> Result<Option<Output>, String> {
        let started = Instant::now();
        let update = match (self.site.as_mut(), changed) {
            (Some(site), Some(paths)) => site.update(paths.iter().map(PathBuf::as_path)),
            _ => Update::Full,
        };
        if update == Update::Pages(0) {
            // Only files that are not pages changed (an editor's swap or backup file below
            // content/): nothing to rebuild, and open tabs must not reload.
            return Ok(None);
        }
        if update == Update::Full {
            self.site = None;
            self.site = Some(Site::load(&self.root).map_err(|p| p.to_string())?);
        }
        let Some(site) = &self.site else {
            return Err("no build".into());
        };
        let result = site.output().map_err(|p| p.to_string());
        let what = match update {
            Update::Full => "all".to_string(),
            Update::Pages(n) => format!("{n} of"),
        };
        eprintln!(
            "rebuilt {what} {} pages in {:.1} ms{}",
            site.page_count(),
            started.elapsed().as_secs_f64() * 1000.0,
            if result.is_ok() {
                ""
            } else {
                " (with problems)"
            }
        );
        result.map(Some)
    }
}

/// Root-relative paths of `event` that can change the site, or `None` when the watcher lost
/// track of what changed. The output folder, the spare tree and staging folders beside it, and
/// every other file in the root are not the site's input and never start a rebuild (they
/// change on every rebuild: a rebuild they started would start the next one).
fn relevant(root: &Path, event: &notify::Result<notify::Event>) -> Option<Vec<PathBuf>> {
    let event = match event {
        Ok(e) if !e.need_rescan() && !e.paths.is_empty() => e,
        _ => return None,
    };
    Some(
        event
            .paths
            .iter()
            .filter_map(|p| p.strip_prefix(root).ok())
            .filter(|rel| {
                rel.starts_with("content")
                    || rel.starts_with("templates")
                    || *rel == Path::new("config.toml")
            })
            .map(Path::to_path_buf)
            .collect(),
    )
}

fn watch_and_rebuild(
    mut rebuilder: Rebuilder,
    publisher: Publisher,
    state: Arc<RwLock<State>>,
    notify_tx: watch::Sender<u64>,
) -> notify::Result<()> {
    use notify::{RecursiveMode, Watcher};
    // Events name paths below what was watched; watching the canonical root lets them be
    // turned back into root-relative paths whatever --root looked like.
    let root = rebuilder
        .root
        .canonicalize()
        .unwrap_or_else(|_| rebuilder.root.clone());
    let (tx, rx) = std::sync::mpsc::channel::<Option<Vec<PathBuf>>>();
    let event_root = root.clone();
    let mut watcher = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
        if matches!(&ev, Ok(e) if e.kind.is_access()) {
            return;
        }
        match relevant(&event_root, &ev) {
            Some(paths) if paths.is_empty() => {}
            other => {
                let _ = tx.send(other);
            }
        }
    })?;
    watcher.watch(&root.join("content"), RecursiveMode::Recursive)?;
    watcher.watch(&root.join("templates"), RecursiveMode::Recursive)?;
    // The config file is watched through its folder: editors replace files by renaming, and a
    // watch on the old inode would go quiet.
    watcher.watch(&root, RecursiveMode::NonRecursive)?;
    std::thread::spawn(move || {
        let _watcher = watcher;
        while let Ok(first) = rx.recv() {
            // `None` in the batch: rebuild everything.
            let mut changed = Some(BTreeSet::new());
            let mut add = |paths: Option<Vec<PathBuf>>| match (&mut changed, paths) {
                (Some(set), Some(paths)) => set.extend(paths),
                _ => changed = None,
            };
            add(first);
            while let Ok(more) = rx.recv_timeout(DEBOUNCE) {
                add(more);
            }
            let result = match rebuilder.rebuild(changed.as_ref()) {
                Ok(None) => continue,
                Ok(Some(output)) => Ok(output),
                Err(e) => Err(e),
            };
            let generation = {
                let mut s = state.write().unwrap_or_else(|e| e.into_inner());
                match &result {
                    Ok(output) => {
                        s.output = Arc::new(output.clone());
                        s.error = None;
                    }
                    Err(e) => {
                        eprintln!("{e}");
                        s.error = Some(e.clone());
                    }
                }
                s.generation += 1;
                s.generation
            };
            let _ = notify_tx.send(generation);
            if let Ok(output) = result {
                publisher.publish(output, generation);
            }
        }
    });
    Ok(())
}

/// Keeps the output folder in step with what is served, on its own thread: the browser
/// reloads from memory as soon as a rebuild is done and never waits for the disk. Outputs that
/// arrive while one is being written are coalesced; only the latest is written.
#[derive(Clone)]
struct Publisher {
    slot: Arc<(std::sync::Mutex<Slot>, std::sync::Condvar)>,
}

#[derive(Default)]
struct Slot {
    /// The next output to write and the generation it was served as.
    next: Option<(Output, u64)>,
    writing: bool,
    closed: bool,
}

impl Publisher {
    fn start(out: PathBuf, state: Arc<RwLock<State>>, notify_tx: watch::Sender<u64>) -> Self {
        let publisher = Publisher {
            slot: Arc::new(Default::default()),
        };
        let slot = publisher.slot.clone();
        std::thread::spawn(move || {
            let (lock, changed) = &*slot;
            loop {
                let (output, generation) = {
                    let mut s = lock.lock().unwrap_or_else(|e| e.into_inner());
                    loop {
                        if let Some(n) = s.next.take() {
                            s.writing = true;
                            break n;
                        }
                        s = changed.wait(s).unwrap_or_else(|e| e.into_inner());
                    }
                };
                let started = Instant::now();
                match output.write_atomically(&out) {
                    Ok(()) => eprintln!(
                        "wrote {} in {:.1} ms",
                        out.display(),
                        started.elapsed().as_secs_f64() * 1000.0
                    ),
                    Err(e) => {
                        let message = format!("error: {e}");
                        eprintln!("{message}");
                        let mut s = state.write().unwrap_or_else(|e| e.into_inner());
                        // Only if nothing newer has been served since.
                        if s.generation == generation {
                            s.error = Some(message);
                            s.generation += 1;
                            let _ = notify_tx.send(s.generation);
                        }
                    }
                }
                lock.lock().unwrap_or_else(|e| e.into_inner()).writing = false;
                changed.notify_all();
            }
        });
        publisher
    }

    fn publish(&self, output: Output, generation: u64) {
        let (lock, changed) = &*self.slot;
        let mut s = lock.lock().unwrap_or_else(|e| e.into_inner());
        if !s.closed {
            s.next = Some((output, generation));
            changed.notify_all();
        }
    }

    /// Takes no more outputs and waits (at most `limit`) until what was handed over is written.
    fn close(&self, limit: Duration) {
        let (lock, changed) = &*self.slot;
        let deadline = Instant::now() + limit;
        let mut s = lock.lock().unwrap_or_else(|e| e.into_inner());
        s.closed = true;
        while s.next.is_some() || s.writing {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            s = changed
                .wait_timeout(s, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

type Body = BoxBody<Bytes, Infallible>;

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

fn respond(
    req: Request<hyper::body::Incoming>,
    state: &RwLock<State>,
    rx: watch::Receiver<u64>,
) -> Response<Body> {
    let path = req.uri().path().to_string();
    if path == EVENTS_PATH {
        return events(rx, state);
    }
    let (output, error, generation) = {
        let s = state.read().unwrap_or_else(|e| e.into_inner());
        (s.output.clone(), s.error.clone(), s.generation)
    };
    // Every leading `/` (and `\`, which browsers read as `/`) goes: `//privacy` is the page
    // `privacy`, and the folder redirect below starts with exactly one `/`. Kept, `//privacy`
    // would be answered `Location: //privacy/`, which a browser reads as the host `privacy`.
    let rel = path.trim_start_matches(['/', '\\']);
    let candidates = if rel.is_empty() || rel.ends_with('/') {
        vec![format!("{rel}index.html")]
    } else {
        vec![rel.to_string()]
    };
    if let Some((name, bytes)) = candidates
        .iter()
        .find_map(|c| output.get(c).map(|b| (c, b)))
    {
        return file(StatusCode::OK, name, bytes, error.as_deref(), generation);
    }
    if output.get(&format!("{rel}/index.html")).is_some() {
        return Response::builder()
            .status(StatusCode::MOVED_PERMANENTLY)
            .header(header::LOCATION, format!("/{rel}/"))
            .body(full(""))
            .unwrap_or_default();
    }
    match output.get("404.html") {
        Some(bytes) => file(
            StatusCode::NOT_FOUND,
            "404.html",
            bytes,
            error.as_deref(),
            generation,
        ),
        None => {
            let mut r = Response::new(full(page_for_error(error.as_deref(), generation)));
            *r.status_mut() = StatusCode::NOT_FOUND;
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("text/html; charset=utf-8"),
            );
            r
        }
    }
}

fn file(
    status: StatusCode,
    name: &str,
    bytes: &[u8],
    error: Option<&str>,
    generation: u64,
) -> Response<Body> {
    let body = if name.ends_with(".html") {
        inject(bytes, error, generation)
    } else {
        bytes.to_vec()
    };
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, crate::media_type::of(name))
        .header(header::CACHE_CONTROL, "no-store")
        .body(full(body))
        .unwrap_or_default()
}

/// The reload hook (and, while the latest edit is broken, its problems) before `</body>`.
fn inject(html: &[u8], error: Option<&str>, generation: u64) -> Vec<u8> {
    let snippet = reload_snippet(error, generation);
    let text = String::from_utf8_lossy(html);
    let at = text.rfind("</body>").unwrap_or(text.len());
    let mut out = String::with_capacity(text.len() + snippet.len());
    out.push_str(&text[..at]);
    out.push_str(&snippet);
    out.push_str(&text[at..]);
    out.into_bytes()
}

fn error_block(error: Option<&str>) -> String {
    match error {
        // A <details> the editor can fold (no script needed) to read the page under it, and at
        // most a third of a phone's screen when open.
        Some(e) => format!(
            "<details id=mdz-error open role=alert style=\"position:fixed;left:0;right:0;bottom:0;max-height:33vh;overflow:auto;margin:0;background:#3b0000;color:#fff;font:14px/1.45 monospace;z-index:9\"><summary style=\"padding:.5rem 1rem;cursor:pointer\">mdz: the last edit does not build; this is the last good build (fold this to read the page)</summary><pre style=\"margin:0;padding:0 1rem 1rem;white-space:pre-wrap;font:inherit;color:inherit;background:none;border:0\">{}</pre></details>",
            escape(e)
        ),
        None => String::new(),
    }
}

fn reload_snippet(error: Option<&str>, generation: u64) -> String {
    format!(
        "{}<script>(()=>{{const g={generation};const es=new EventSource('{EVENTS_PATH}');es.onmessage=e=>{{if(Number(e.data)>g)location.reload()}}}})();</script>",
        error_block(error)
    )
}

fn page_for_error(error: Option<&str>, generation: u64) -> String {
    format!(
        "<!doctype html><html lang=en><meta charset=utf-8><title>mdz serve</title><p>Nothing built yet.</p>{}",
        reload_snippet(error, generation)
    )
}

/// Server-sent events: the generation number after every rebuild, good or bad; pages reload
/// when it passes the one they were served with.
fn events(rx: watch::Receiver<u64>, state: &RwLock<State>) -> Response<Body> {
    let current = state.read().unwrap_or_else(|e| e.into_inner()).generation;
    let first = Bytes::from(format!("retry: 500\ndata: {current}\n\n"));
    let updates = stream::unfold((rx, Some(first)), |(mut rx, first)| async move {
        if let Some(f) = first {
            return Some((Ok::<_, Infallible>(Frame::data(f)), (rx, None)));
        }
        rx.changed().await.ok()?;
        let g = *rx.borrow_and_update();
        Some((
            Ok(Frame::data(Bytes::from(format!("data: {g}\n\n")))),
            (rx, None),
        ))
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-store")
        .body(BodyExt::boxed(StreamBody::new(updates)))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_sites_input_starts_a_rebuild() {
        let root = Path::new("/site");
        let event = |p: &str| Ok(notify::Event::new(notify::EventKind::Any).add_path(root.join(p)));
        // What every rebuild itself changes: rebuilding on it would never stop.
        for p in [
            "public",
            "public/terms/index.html",
            ".public.mdz-spare",
            ".public.staging-x1y2/terms/index.html",
            "README.md",
        ] {
            assert_eq!(relevant(root, &event(p)), Some(vec![]), "{p}");
        }
        for p in [
            "content",
            "content/terms.md",
            "templates/page.html",
            "config.toml",
        ] {
            assert_eq!(
                relevant(root, &event(p)),
                Some(vec![PathBuf::from(p)]),
                "{p}"
            );
        }
        let rescan = notify::Event::new(notify::EventKind::Other)
            .set_flag(notify::event::Flag::Rescan)
            .add_path(root.join("content/terms.md"));
        assert_eq!(relevant(root, &Ok(rescan)), None, "lost track: all");
        let failed = Err(notify::Error::generic("queue overflow"));
        assert_eq!(relevant(root, &failed), None);
    }
}
