//! A static file server on 127.0.0.1 for the signed-repository tests, and
//! a published repository built through the real `patchkit publish`, with
//! helpers that tamper with it the way an attacker or a broken mirror
//! would (re-signing with keys the test holds).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use patchkit_signing::{canonical_json, sign, SigningKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{udiff, DistBuilder, SourceBuilder, TestEnv};

/// Serves the files below a directory that the test may switch at any
/// time; paths in `endless` answer with an endless stream instead.
pub struct Server {
    pub url: String,
    root: Arc<Mutex<PathBuf>>,
    endless: Arc<Mutex<BTreeSet<String>>>,
    slow: Arc<Mutex<BTreeMap<String, (usize, u64)>>>,
    log: Arc<Mutex<Vec<String>>>,
    server: Arc<tiny_http::Server>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// How much an "endless" response sends at most (the client must stop
/// long before).
const ENDLESS_BYTES: u64 = 256 * 1024 * 1024;

impl Server {
    pub fn serve(dir: &Path) -> Server {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let port = server.server_addr().to_ip().unwrap().port();
        let root = Arc::new(Mutex::new(dir.to_path_buf()));
        let endless = Arc::new(Mutex::new(BTreeSet::new()));
        let slow = Arc::new(Mutex::new(BTreeMap::new()));
        let log = Arc::new(Mutex::new(Vec::new()));
        let (s, r, e, w) = (server.clone(), root.clone(), endless.clone(), slow.clone());
        let l = log.clone();
        let thread = std::thread::spawn(move || {
            for req in s.incoming_requests() {
                let path = req.url().trim_start_matches('/').to_string();
                l.lock().unwrap().push(path.clone());
                let plan = w.lock().unwrap().get(&path).copied();
                if let (Some((parts, pause)), Ok(bytes)) =
                    (plan, std::fs::read(r.lock().unwrap().join(&path)))
                {
                    // Its own thread (never joined: it ends after the
                    // pauses, bounded), so that other requests go on.
                    std::thread::spawn(move || send_slowly(req, &bytes, parts, pause));
                    continue;
                }
                if e.lock().unwrap().contains(&path) {
                    let body = std::io::repeat(b' ').take(ENDLESS_BYTES);
                    let resp = tiny_http::Response::new(200.into(), vec![], body, None, None);
                    let _ = req.respond(resp);
                    continue;
                }
                let file = r.lock().unwrap().join(&path);
                match (path.contains(".."), std::fs::read(&file)) {
                    (false, Ok(bytes)) => {
                        let _ = req.respond(tiny_http::Response::from_data(bytes));
                    }
                    _ => {
                        let _ = req.respond(tiny_http::Response::empty(404));
                    }
                }
            }
        });
        Server {
            url: format!("http://127.0.0.1:{port}"),
            root,
            endless,
            slow,
            log,
            server,
            thread: Some(thread),
        }
    }

    /// The paths requested since the last call, in order; clears the log.
    pub fn requests(&self) -> Vec<String> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }

    /// Serve another directory from now on (a mirror that changed).
    pub fn switch(&self, dir: &Path) {
        *self.root.lock().unwrap() = dir.to_path_buf();
    }

    /// Answer `path` (a file served) in `parts` parts, the status line and
    /// headers with the first, then `pause` seconds before each other one.
    pub fn slowly(&self, path: &str, parts: usize, pause: u64) {
        self.slow
            .lock()
            .unwrap()
            .insert(path.to_string(), (parts, pause));
    }

    /// Answer `path` with an endless stream.
    pub fn endless(&self, path: &str) {
        self.endless.lock().unwrap().insert(path.to_string());
    }
}

/// Writes an HTTP response of `bytes` by hand, flushed part by part.
fn send_slowly(req: tiny_http::Request, bytes: &[u8], parts: usize, pause: u64) {
    use std::io::Write;
    let mut w = req.into_writer();
    let size = bytes.len().div_ceil(parts.max(1)).max(1);
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        bytes.len()
    );
    if w.write_all(head.as_bytes()).is_err() {
        return;
    }
    for (i, part) in bytes.chunks(size).enumerate() {
        if i > 0 {
            std::thread::sleep(std::time::Duration::from_secs(pause));
        }
        if w.write_all(part).and_then(|()| w.flush()).is_err() {
            return;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub const ROLES: [&str; 4] = ["root", "targets", "snapshot", "timestamp"];

/// A published repository in `ENV/pub`, from `ENV/patches`, with keys in
/// `ENV/keys` made by `patchkit key generate`.
pub struct PubRepo<'e> {
    pub env: &'e TestEnv,
}

pub const OLD: &str = "sub f { 1 }\n";

impl<'e> PubRepo<'e> {
    /// Keys, one record for `Foo` 1.x, published once with `extra` args.
    pub fn new(env: &'e TestEnv, extra: &[&str]) -> PubRepo<'e> {
        for role in ROLES {
            env.run_ok(&["key", "generate", &format!("keys/{role}")]);
        }
        std::fs::write(
            env.path("keys/keys.toml"),
            "[root]\nkeys = [\"root.pem\"]\n[targets]\nkeys = [\"targets.pem\"]\n\
             [snapshot]\nkeys = [\"snapshot.pem\"]\n[timestamp]\nkeys = [\"timestamp.pem\"]\n",
        )
        .unwrap();
        SourceBuilder::new(env.path("patches")).add(
            "PK-1",
            "Foo",
            ">= 1",
            &udiff("lib/Foo.pm", OLD, "sub f { 2 }\n"),
        );
        let repo = PubRepo { env };
        repo.publish(extra);
        repo
    }

    pub fn out(&self) -> PathBuf {
        self.env.path("pub")
    }

    pub fn meta(&self, file: &str) -> PathBuf {
        self.out().join("metadata").join(file)
    }

    pub fn root1(&self) -> String {
        self.meta("1.root.json").to_str().unwrap().to_string()
    }

    pub fn publish(&self, extra: &[&str]) -> super::Output {
        let mut args = vec![
            "publish",
            "--source",
            "patches",
            "--out",
            "pub",
            "--keys",
            "keys/keys.toml",
        ];
        args.extend_from_slice(extra);
        self.env.run_ok(&args)
    }

    /// Adds a second record, so that every role gets a new version.
    pub fn add_record(&self, id: &str) {
        SourceBuilder::new(self.env.path("patches")).add(
            id,
            "Foo",
            ">= 1",
            &udiff(&format!("lib/{id}.pm"), "a\n", "b\n"),
        );
    }

    pub fn key(&self, role: &str) -> SigningKey {
        SigningKey::load_pem(&self.env.path(&format!("keys/{role}.pem"))).unwrap()
    }

    /// Copy of the published repository as it is now.
    pub fn copy_to(&self, rel: &str) -> PathBuf {
        let dest = self.env.path(rel);
        copy_dir(&self.out(), &dest);
        dest
    }

    /// The current version of a role (`timestamp.json` or `V.role.json`).
    pub fn version(&self, role: &str) -> u64 {
        if role == "timestamp" {
            return read_json(&self.meta("timestamp.json"))["signed"]["version"]
                .as_u64()
                .unwrap();
        }
        let mut best = 0;
        for e in std::fs::read_dir(self.out().join("metadata")).unwrap() {
            let n = e.unwrap().file_name().to_string_lossy().into_owned();
            if let Some(v) = n.strip_suffix(&format!(".{role}.json")) {
                best = best.max(v.parse().unwrap());
            }
        }
        best
    }

    /// A `patchkit` dist tarball the record matches.
    pub fn dist(&self) -> PathBuf {
        DistBuilder::new("Foo", "1.0")
            .file("lib/Foo.pm", OLD)
            .tarball(&self.env.path("in"))
    }

    /// Writes a new snapshot (version `snap_version`) listing targets file
    /// `targets_file` as version `targets_version`, and a new timestamp
    /// (version `ts_version`) listing it, both properly signed.
    pub fn rechain(
        &self,
        targets_file: &str,
        targets_version: u64,
        snap_version: u64,
        ts_version: u64,
    ) {
        let targets_bytes = std::fs::read(self.meta(targets_file)).unwrap();
        let mut snap =
            read_json(&self.meta(&format!("{}.snapshot.json", self.version("snapshot"))));
        snap["signed"]["version"] = json!(snap_version);
        snap["signed"]["meta"]["targets.json"] = meta_entry(targets_version, &targets_bytes);
        let snap_bytes = signed_bytes(&mut snap, &[&self.key("snapshot")]);
        std::fs::write(
            self.meta(&format!("{snap_version}.snapshot.json")),
            &snap_bytes,
        )
        .unwrap();
        self.write_timestamp(
            snap_version,
            &snap_bytes,
            ts_version,
            &[&self.key("timestamp")],
        );
    }

    /// Writes a timestamp (version `ts_version`) listing `snap_bytes` as
    /// snapshot version `snap_version`, signed by `keys`.
    pub fn write_timestamp(
        &self,
        snap_version: u64,
        snap_bytes: &[u8],
        ts_version: u64,
        keys: &[&SigningKey],
    ) {
        let mut ts = read_json(&self.meta("timestamp.json"));
        ts["signed"]["version"] = json!(ts_version);
        ts["signed"]["meta"]["snapshot.json"] = meta_entry(snap_version, snap_bytes);
        let bytes = signed_bytes(&mut ts, keys);
        std::fs::write(self.meta("timestamp.json"), bytes).unwrap();
    }
}

pub fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

pub fn meta_entry(version: u64, bytes: &[u8]) -> Value {
    json!({
        "version": version,
        "length": bytes.len(),
        "hashes": {"sha256": hex::encode(Sha256::digest(bytes))},
    })
}

/// Replaces the signatures of `env` with ones by `keys` over its `signed`
/// part, and returns the file bytes.
pub fn signed_bytes(env: &mut Value, keys: &[&SigningKey]) -> Vec<u8> {
    let canonical = canonical_json(&env["signed"]).unwrap();
    let sigs: Vec<Value> = keys
        .iter()
        .map(|k| serde_json::to_value(sign(k, &canonical)).unwrap())
        .collect();
    env["signatures"] = Value::Array(sigs);
    serde_json::to_vec_pretty(env).unwrap()
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}
