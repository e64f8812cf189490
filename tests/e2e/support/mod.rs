//! Test support: a temporary home, builders for distributions and patch
//! source trees, and a runner for the binary.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What one run of the binary did.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Parse stdout as the one JSON document `--json` promises.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", self.stdout))
    }
}

/// A scratch directory with a `--home` inside it; everything a test makes
/// goes below `dir`.
pub struct TestEnv {
    pub tmp: tempfile::TempDir,
}

impl TestEnv {
    pub fn new() -> TestEnv {
        TestEnv {
            tmp: tempfile::tempdir().unwrap(),
        }
    }

    pub fn dir(&self) -> &Path {
        self.tmp.path()
    }

    pub fn home(&self) -> PathBuf {
        self.dir().join("home")
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir().join(rel)
    }

    /// Run `patchkit --home HOME ARGS…` in the scratch directory.
    pub fn run(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(bin());
        cmd.arg("--home").arg(self.home()).args(args);
        run_cmd(cmd, self.dir())
    }

    /// Run and require exit status `code`.
    pub fn run_ok(&self, args: &[&str]) -> Output {
        self.run_code(args, 0)
    }

    pub fn run_code(&self, args: &[&str], code: i32) -> Output {
        let out = self.run(args);
        assert_eq!(
            out.code, code,
            "patchkit {args:?} exited {} (wanted {code})\nstdout:\n{}\nstderr:\n{}",
            out.code, out.stdout, out.stderr
        );
        out
    }
}

/// The binary under test: `CARGO_BIN_EXE_patchkit`, or the one named by
/// `PATCHKIT_E2E_BIN` (to show that a test fails on an older build:
/// `PATCHKIT_E2E_BIN=/tmp/patchkit-old cargo test --test e2e NAME`).
pub fn bin() -> PathBuf {
    std::env::var_os("PATCHKIT_E2E_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_patchkit")))
}

/// Runs the binary with `args` (split on spaces) and `--home` of `env`
/// inside a pseudo-terminal (`script`), for what is drawn only on a
/// terminal (progress bars): asserts it exits 0, returns what the terminal
/// showed (stdout and stderr together).
pub fn run_in_terminal(env: &TestEnv, args: &str) -> String {
    let line = format!("{} --home {} {args}", bin().display(), env.home().display());
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &line, "/dev/null"]);
    let out = run_cmd(cmd, env.dir());
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    out.stdout
}

pub fn run_cmd(mut cmd: Command, cwd: &Path) -> Output {
    let out = cmd
        .current_dir(cwd)
        .env_remove("PATCHKIT_HOME")
        .stdin(Stdio::null())
        .output()
        .expect("run command");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A distribution built in code: files below a top directory
/// `Name-Version/`, with fixed metadata so that tarballs are reproducible.
#[derive(Clone)]
pub struct DistBuilder {
    pub name: String,
    pub version: String,
    pub files: BTreeMap<String, (Vec<u8>, u32)>,
    pub meta_json: bool,
    pub meta_yml: bool,
}

impl DistBuilder {
    pub fn new(name: &str, version: &str) -> DistBuilder {
        DistBuilder {
            name: name.into(),
            version: version.into(),
            files: BTreeMap::new(),
            meta_json: true,
            meta_yml: true,
        }
    }

    pub fn file(mut self, path: &str, content: &str) -> Self {
        self.files
            .insert(path.into(), (content.as_bytes().to_vec(), 0o644));
        self
    }

    pub fn bytes(mut self, path: &str, content: &[u8], mode: u32) -> Self {
        self.files.insert(path.into(), (content.to_vec(), mode));
        self
    }

    pub fn no_meta(mut self) -> Self {
        self.meta_json = false;
        self.meta_yml = false;
        self
    }

    pub fn top(&self) -> String {
        format!("{}-{}", self.name, self.version)
    }

    /// All files, META included, as (path below top, content, mode).
    pub fn all_files(&self) -> BTreeMap<String, (Vec<u8>, u32)> {
        let mut files = self.files.clone();
        if self.meta_json && !files.contains_key("META.json") {
            let meta = format!(
                "{{\n   \"abstract\" : \"test dist\",\n   \"license\" : [\n      \"perl_5\"\n   ],\n   \"meta-spec\" : {{\n      \"version\" : 2\n   }},\n   \"name\" : \"{}\",\n   \"version\" : \"{}\"\n}}\n",
                self.name, self.version
            );
            files.insert("META.json".into(), (meta.into_bytes(), 0o644));
        }
        if self.meta_yml && !files.contains_key("META.yml") {
            let meta = format!(
                "---\nabstract: 'test dist'\nlicense: perl\nmeta-spec:\n  version: '1.4'\nname: {}\nversion: '{}'\n",
                self.name, self.version
            );
            files.insert("META.yml".into(), (meta.into_bytes(), 0o644));
        }
        files
    }

    /// Write `DIR/Name-Version.tar.gz` and return its path.
    pub fn tarball(&self, dir: &Path) -> PathBuf {
        let path = dir.join(format!("{}.tar.gz", self.top()));
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(&path, self.tarball_bytes()).unwrap();
        path
    }

    pub fn tarball_bytes(&self) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        let top = self.top();
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_mtime(1_700_000_000);
        h.set_size(0);
        h.set_uid(1000);
        h.set_gid(1000);
        builder
            .append_data(&mut h, format!("{top}/"), &[][..])
            .unwrap();
        for (path, (data, mode)) in self.all_files() {
            let mut h = tar::Header::new_ustar();
            h.set_entry_type(tar::EntryType::Regular);
            h.set_mode(mode);
            h.set_mtime(1_700_000_000);
            h.set_size(data.len() as u64);
            h.set_uid(1000);
            h.set_gid(1000);
            builder
                .append_data(&mut h, format!("{top}/{path}"), &data[..])
                .unwrap();
        }
        let tar = builder.into_inner().unwrap();
        gzip(&tar)
    }

    /// Write the unpacked distribution below `dir` and return its top dir.
    pub fn unpack(&self, dir: &Path) -> PathBuf {
        let top = dir.join(self.top());
        for (path, (data, mode)) in self.all_files() {
            let p = top.join(&path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, data).unwrap();
            set_mode(&p, mode);
        }
        top
    }
}

pub fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// Read every regular file of a tarball: path (with top dir) → (bytes, mode).
pub fn tarball_files(path: &Path) -> BTreeMap<String, (Vec<u8>, u32)> {
    let data = std::fs::read(path).unwrap();
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(&data[..]));
    let mut out = BTreeMap::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        if e.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let p = e.path().unwrap().to_string_lossy().into_owned();
        let mode = e.header().mode().unwrap();
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut buf).unwrap();
        out.insert(p, (buf, mode));
    }
    out
}

/// Every member of a tarball in order: (path, raw 512-byte header).
pub fn tarball_headers(path: &Path) -> Vec<(String, Vec<u8>)> {
    let data = std::fs::read(path).unwrap();
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(&data[..]));
    ar.entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.path().unwrap().to_string_lossy().into_owned(),
                e.header().as_bytes().to_vec(),
            )
        })
        .collect()
}

/// A patch source tree (`patches/`) built in code.
pub struct SourceBuilder {
    pub root: PathBuf,
}

/// One record to write.
pub struct RecordSpec<'a> {
    pub id: &'a str,
    pub dist: &'a str,
    pub versions: &'a str,
    pub patch: &'a str,
    pub extra: &'a str,
}

impl SourceBuilder {
    pub fn new(root: PathBuf) -> SourceBuilder {
        std::fs::create_dir_all(&root).unwrap();
        SourceBuilder { root }
    }

    /// Add a record with its diff; `extra` is appended to the TOML.
    pub fn record(&self, spec: RecordSpec<'_>) -> &Self {
        let dir = self.root.join(spec.dist);
        std::fs::create_dir_all(&dir).unwrap();
        let toml = format!(
            "id = \"{id}\"\ndist = \"{dist}\"\nversions = \"{versions}\"\npatch = \"{id}.patch\"\ntitle = \"Fix for {id}\"\naliases = [\"CVE-2025-0001\"]\n{extra}",
            id = spec.id,
            dist = spec.dist,
            versions = spec.versions,
            extra = spec.extra
        );
        std::fs::write(dir.join(format!("{}.toml", spec.id)), toml).unwrap();
        std::fs::write(dir.join(format!("{}.patch", spec.id)), spec.patch).unwrap();
        self
    }

    pub fn add(&self, id: &str, dist: &str, versions: &str, patch: &str) -> &Self {
        self.record(RecordSpec {
            id,
            dist,
            versions,
            patch,
            extra: "",
        })
    }
}

/// A listing of every file below `dir` with its bytes, for "nothing
/// changed" assertions.
pub fn snapshot_dir(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    if !dir.exists() {
        return out;
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                stack.push(p);
            } else if ft.is_file() {
                out.insert(
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

/// A unified diff of one file between two contents, made with GNU diff so
/// that test patches are real tool output.
pub fn udiff(path: &str, old: &str, new: &str) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    std::fs::create_dir_all(a.join(Path::new(path).parent().unwrap())).unwrap();
    std::fs::create_dir_all(b.join(Path::new(path).parent().unwrap())).unwrap();
    std::fs::write(a.join(path), old).unwrap();
    std::fs::write(b.join(path), new).unwrap();
    let out = Command::new("diff")
        .args([
            "-u",
            "--label",
            &format!("a/{path}"),
            "--label",
            &format!("b/{path}"),
        ])
        .arg(a.join(path))
        .arg(b.join(path))
        .output()
        .expect("GNU diff");
    assert_eq!(out.status.code(), Some(1), "diff found no difference");
    String::from_utf8(out.stdout).unwrap()
}
pub mod cpan;
pub mod server;
