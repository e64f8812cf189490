//! `serve`: a patching CPAN mirror over HTTP. The answers come from
//! `patchkit::mirror::Mirror` (the library); this file owns the sockets,
//! the worker threads, the refresh timer and the access log, the parts
//! that belong to the binary (docs/ARCHITECTURE.md: the library opens no
//! listener, reads no clock and writes no log line).
//!
//! Every response is built whole before its first byte is sent, with its
//! `Content-Length`: a client never receives a short tarball, whatever
//! upstream does.

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use serde::Serialize;

use super::{load_catalog, output, Context, RepoArgs};
use patchkit::catalog::{Catalog, Origin};
use patchkit::client::{self, store};
use patchkit::error::Error;
use patchkit::mirror::{self, Mirror, OnFailure, Outcome, Patches};
use patchkit::patch::Fuzz;
use patchkit::state::Home;
use patchkit::tuf::http::{upstream_for, Timeouts};
use patchkit::tuf::metadata::tuf_time;

/// `--on-failure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OnFailureArg {
    /// Answer with an error (HTTP 502): the build stops.
    Error,
    /// Serve the original tarball, logged as such.
    Original,
}

impl From<OnFailureArg> for OnFailure {
    fn from(a: OnFailureArg) -> Self {
        match a {
            OnFailureArg::Error => OnFailure::Error,
            OnFailureArg::Original => OnFailure::Original,
        }
    }
}

/// How the mirror patches: shared by `serve` and `mirror`.
#[derive(Debug, Args)]
pub(crate) struct MirrorOptions {
    /// Repository options.
    #[command(flatten)]
    pub(crate) repo: RepoArgs,

    /// Cache of patched tarballs (content-addressed; several processes may
    /// share it). Default: HOME/mirror-cache.
    #[arg(long, value_name = "DIR")]
    pub(crate) cache: Option<PathBuf>,

    /// When a tarball matches verified patches that cannot be applied
    /// (hunk failure, hostile archive): answer with an error (default), or
    /// serve the original unpatched, logged.
    #[arg(long, value_enum, default_value_t = OnFailureArg::Error)]
    pub(crate) on_failure: OnFailureArg,

    /// Allow up to N context lines to be ignored at each end of a hunk.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub(crate) fuzz: usize,
}

impl MirrorOptions {
    pub(crate) fn cache_dir(&self, home: &Home) -> PathBuf {
        self.cache
            .clone()
            .unwrap_or_else(|| home.root().join("mirror-cache"))
    }

    pub(crate) fn options(&self, config: &patchkit::config::Config) -> mirror::Options {
        mirror::Options {
            fuzz: match self.fuzz {
                0 => Fuzz::None,
                n => Fuzz::Lines(n),
            },
            on_failure: self.on_failure.into(),
            limits: mirror::Limits {
                archive: config.archive.clone(),
                ..mirror::Limits::default()
            },
        }
    }
}

/// Arguments of `serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// How to patch, and with what.
    #[command(flatten)]
    pub(crate) mirror: MirrorOptions,

    /// The upstream CPAN mirror: an http(s):// URL or a directory laid out
    /// as a CPAN mirror (e.g. a minicpan).
    #[arg(long, value_name = "URL|DIR")]
    pub(crate) upstream: String,

    /// Address to listen on (port 0 picks a free port; the address is
    /// printed).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8080")]
    pub(crate) listen: String,

    /// Re-open the patch repository this often (e.g. 30s, 5m, 1h; 0 never).
    /// When it cannot be reached the last verified state is kept; once that
    /// state expires, tarballs and CHECKSUMS are refused (HTTP 503).
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub(crate) refresh: Duration,

    /// How long upstream may take to connect or to start answering (a
    /// whole download may take four times as long); past it: HTTP 504.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub(crate) upstream_timeout: Duration,

    /// Requests handled at the same time.
    #[arg(long, value_name = "N", default_value_t = 32)]
    pub(crate) workers: usize,
}

/// `30s`, `5m`, `1h`, `250ms`, or a number of seconds.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (e.g. 30s, 5m, 1h)"))?;
    let secs = match unit {
        "ms" => return Ok(Duration::from_millis(n)),
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (ms, s, m or h)")),
    };
    Ok(Duration::from_secs(secs))
}

/// The earliest expiry of the verified metadata the catalog came from
/// (signed repositories only: a bundle is verified as of its making, an
/// unsigned tree has none).
pub(crate) fn expiry_of(
    home: &Home,
    repo: &RepoArgs,
    catalog: &Catalog,
) -> Option<chrono::DateTime<chrono::Utc>> {
    if repo.bundle.is_some() {
        return None;
    }
    let names: Vec<&String> = catalog
        .origins()
        .into_iter()
        .filter_map(|o| match o {
            Origin::Signed { name, .. } => Some(name),
            Origin::Unsigned { .. } => None,
        })
        .collect();
    // Layered repositories: the earliest of their expiries.
    store::list(home, chrono::Utc::now())
        .ok()?
        .into_iter()
        .filter(|r| names.contains(&&r.name))
        .filter_map(|r| r.expires.and_then(|e| tuf_time::parse(&e)))
        .min()
}

/// What `serve` prints once it listens.
#[derive(Debug, Serialize)]
struct Listening {
    listening: String,
    url: String,
    upstream: String,
    repository: Origin,
    cache: String,
}

impl output::Report for Listening {
    fn render(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "serving {} (upstream {}, patches from {}, cache {})",
            self.url, self.upstream, self.repository, self.cache
        )
    }
}

pub(super) fn run(ctx: &Context, args: &ServeArgs) -> Result<i32, Error> {
    let catalog = load_catalog(ctx, &args.mirror.repo)?;
    let expires = expiry_of(&ctx.home, &args.mirror.repo, &catalog);
    let timeouts = Timeouts {
        connect: args.upstream_timeout,
        stall: args.upstream_timeout,
        call: args.upstream_timeout * 4,
        total: None,
    };
    let upstream = upstream_for(&args.upstream, &timeouts)
        .map_err(|e| Error::Usage(format!("--upstream {e}")))?;
    let cache = args.mirror.cache_dir(&ctx.home);
    let origin = catalog.origin.clone();
    let mirror = Arc::new(Mirror::new(
        upstream,
        cache.clone(),
        Patches::new(catalog, expires),
        args.mirror.options(&ctx.config),
    ));
    let server = listen(&args.listen)
        .map_err(|e| Error::Usage(format!("cannot listen on {}: {e}", args.listen)))?;
    let addr = server
        .server_addr()
        .to_ip()
        .map_or_else(|| args.listen.clone(), |a| a.to_string());
    output::emit(
        ctx,
        &Listening {
            url: format!("http://{addr}"),
            listening: addr,
            upstream: args.upstream.clone(),
            repository: origin,
            cache: cache.display().to_string(),
        },
    )?;

    if !args.refresh.is_zero() {
        spawn_refresh(ctx, args, mirror.clone());
    }
    let server = Arc::new(server);
    let workers: Vec<_> = (0..args.workers.max(1))
        .map(|_| {
            let (server, mirror) = (server.clone(), mirror.clone());
            std::thread::spawn(move || {
                while let Ok(request) = server.recv() {
                    handle(&mirror, request);
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
    Ok(0)
}

/// The listening socket: address reuse, and TCP_NODELAY, which accepted
/// connections inherit on Linux. tiny_http writes the head and the body of
/// an answer separately; with Nagle's algorithm the last short segment
/// would wait for the client's delayed ACK (40 ms) on every request.
fn listen(addr: &str) -> Result<tiny_http::Server, Box<dyn std::error::Error + Send + Sync>> {
    use std::net::ToSocketAddrs;
    let addr = addr
        .to_socket_addrs()?
        .next()
        .ok_or("the address resolves to nothing")?;
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.set_tcp_nodelay(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    tiny_http::Server::from_listener(std::net::TcpListener::from(socket), None)
}

/// Re-open the catalog every `--refresh`; keep the last verified state on
/// failure, and say so.
fn spawn_refresh(ctx: &Context, args: &ServeArgs, mirror: Arc<Mirror>) {
    let home = Home::at(ctx.home.root());
    let config = ctx.config.clone();
    let repo_args = RepoArgs {
        source: args.mirror.repo.source.clone(),
        repo: args.mirror.repo.repo.clone(),
        offline: args.mirror.repo.offline,
        bundle: args.mirror.repo.bundle.clone(),
        root: args.mirror.repo.root.clone(),
    };
    let every = args.refresh;
    std::thread::spawn(move || loop {
        std::thread::sleep(every);
        // Checked once at start-up: `serve` would not be running otherwise.
        let Ok(patch_source) = super::patch_source(&repo_args) else {
            return;
        };
        let now = chrono::Utc::now();
        match client::open(&home, &config, patch_source, now, &client::Silent) {
            Ok(opened) => {
                let expires = expiry_of(&home, &repo_args, &opened.catalog);
                let before = mirror.patches().origins_text();
                let now_text = opened.catalog.origins_text();
                if before != now_text {
                    output::notice(&format!(
                        "refresh: now patching with {now_text} (was {before})"
                    ));
                }
                mirror.replace_patches(Patches::new(opened.catalog, expires));
            }
            Err(e) => {
                let current = mirror.patches();
                let until = current.expires.map_or("no expiry".to_string(), |e| {
                    format!("it expires at {}", tuf_time::format(&e))
                });
                output::warn(&format!(
                    "refresh failed, still serving {} ({until}): {e}",
                    current.origin()
                ));
            }
        }
    });
}

/// One request: the answer, then one access-log line.
fn handle(mirror: &Mirror, request: tiny_http::Request) {
    let started = Instant::now();
    let method = request.method().clone();
    let url = request.url().to_string();
    let peer = request
        .remote_addr()
        .map_or_else(|| "-".to_string(), ToString::to_string);
    let shown: String = patchkit_text(&url);
    let (status, body, what, ids, error) =
        if !matches!(method, tiny_http::Method::Get | tiny_http::Method::Head) {
            (
                405,
                None,
                "refused",
                String::new(),
                Some("only GET and HEAD".to_string()),
            )
        } else {
            match mirror::request_path(&url)
                .and_then(|p| mirror.get(&p, chrono::Utc::now()).map(|served| (p, served)))
            {
                Ok((path, served)) => {
                    let (what, ids, note) = match &served.outcome {
                        Outcome::Patched { ids, built: true } => ("patched", ids.join(","), None),
                        Outcome::Patched { ids, built: false } => ("cached", ids.join(","), None),
                        Outcome::Original { note: None } => ("original", String::new(), None),
                        Outcome::Original { note: Some(n) } => {
                            ("original-unpatched", String::new(), Some(n.clone()))
                        }
                        Outcome::Checksums { built, .. } => (
                            "checksums",
                            built
                                .iter()
                                .map(|b| format!("built:{b}"))
                                .collect::<Vec<_>>()
                                .join(","),
                            None,
                        ),
                        Outcome::Passed => ("passed", String::new(), None),
                    };
                    (200, Some((path, served.body)), what, ids, note)
                }
                Err(e) => (
                    e.status(),
                    None,
                    "error",
                    String::new(),
                    Some(e.to_string()),
                ),
            }
        };
    let (data, ctype) = match body {
        Some((path, data)) => (data, Some(mirror::Served::content_type(&path))),
        None => (
            Arc::new(format!("{}\n", error.clone().unwrap_or_default()).into_bytes()),
            None,
        ),
    };
    let len = data.len();
    let headers = ctype
        .and_then(|c| tiny_http::Header::from_bytes(&b"Content-Type"[..], c.as_bytes()).ok())
        .into_iter()
        .collect();
    // The body is lent as a slice: `io::copy` then writes it in one call
    // instead of 8 KiB at a time. tiny_http switches to chunked encoding
    // from 32 KiB on; every answer is whole, so it always goes with its
    // Content-Length and a client can tell a short body from a whole one.
    let response =
        tiny_http::Response::new(status.into(), headers, data.as_slice(), Some(len), None)
            .with_chunked_threshold(usize::MAX);
    // The line is written before the body is sent, so that it is in the
    // log by the time a client has its answer; the time is the time to
    // build the answer.
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let ids = if ids.is_empty() { "-".to_string() } else { ids };
    let mut line = format!("{peer} {method} {shown} {status} {len} {what} {ids} {ms:.1}ms");
    if let Some(e) = error {
        line.push_str(&format!(" ({e})"));
    }
    output::line(&line);
    let _ = request.respond(response);
}

/// A request URL as the log shows it: printable ASCII, at most 300
/// characters (it is untrusted input).
fn patchkit_text(url: &str) -> String {
    url.chars()
        .take(300)
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect()
}
