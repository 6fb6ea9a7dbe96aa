//! Docker Engine fixtures for tests that run real containers, with no registry: whether an
//! engine answers (required under `CI=true`, see [`require_component`]), Debian's static
//! busybox, stand-in images made with `docker import` from a minimal root filesystem, and
//! the removal of everything one test run made.
//!
//! Every image and container of a run carries the label [`RUN_LABEL`] with the run's unique
//! id as value (imported images get it with `--change LABEL`, and containers inherit their
//! image's labels), so cleanup removes exactly what the run made, even when an assertion
//! failed half-way: hold a [`RunCleanup`] (or a [`BusyboxImage`], which holds one).
//!
//! The image tests (each service's `tests/it/container.rs`) also share here: their turn on
//! the machine ([`take_image_test_turn`]), docker-compose ([`require_compose`]), the stand-in
//! base images for a Dockerfile's `RUST_IMAGE`/`RUNTIME_IMAGE` ([`StandInBases`]),
//! and plain HTTP to a published port ([`published_get`], [`eventually`]).

use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::require_component;

/// The label whose value is the id of the test run that made an image or container.
pub const RUN_LABEL: &str = "org.sidecars.test-run";

/// The default PATH of Debian images, which imported images lack.
pub const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Where Debian's `busybox-static` installs busybox.
const BUSYBOX: &str = "/bin/busybox";

/// The lock file through which image tests take turns (see [`take_image_test_turn`]).
const IMAGE_TEST_LOCK: &str = "/tmp/sidecars-image-tests.lock";

/// Where the services' Dockerfiles run `cargo build --release` (their builder `WORKDIR`,
/// relative to `/`), so where the stand-in builder leaves the prebuilt binary.
const BUILDER_RELEASE_DIR: &str = "usr/src/sidecars/target/release";

/// True when a Docker Engine answers `docker info`. Otherwise it skips loudly, or panics
/// under `CI=true`; `why` says what the test needs it for.
pub fn require_engine(why: &str) -> bool {
    let engine = Command::new("docker")
        .arg("info")
        .output()
        .is_ok_and(|out| out.status.success());
    require_component("Docker Engine", engine, why)
}

/// The static busybox of Debian's `busybox-static` (scripts/install-test-deps installs it),
/// installed here with apt-get when missing and allowed; `None` (after a loud skip, or a
/// panic under `CI=true`) when it cannot be had.
pub fn busybox() -> Option<PathBuf> {
    let path = PathBuf::from(BUSYBOX);
    if !path.exists() {
        let install = || {
            Command::new("apt-get")
                .args(["install", "-y", "-qq", "--no-install-recommends"])
                .arg("busybox-static")
                .env("DEBIAN_FRONTEND", "noninteractive")
                .output()
                .is_ok_and(|out| out.status.success())
        };
        if !install() {
            let _ = Command::new("apt-get").args(["update", "-qq"]).output();
            install();
        }
    }
    require_component(
        "busybox-static",
        path.exists(),
        "busybox is the shell of the stand-in images (apt-get install busybox-static)",
    )
    .then_some(path)
}

/// An id no other run on this machine uses: process id, time and a counter.
pub fn unique_run_id() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{}-{nanos}-{n}", std::process::id())
}

/// Fills `root` with a minimal root filesystem: busybox as shell and tools, the shared
/// libraries of `binaries` (and of busybox, should it be the dynamic build), minimal user
/// databases and `/tmp`.
pub fn busybox_rootfs(root: &Path, busybox: &Path, binaries: &[&Path]) {
    let bin = root.join("bin");
    fs::create_dir_all(&bin).unwrap();
    fs::copy(busybox, bin.join("busybox")).unwrap();
    // Relative links: `busybox --install -s` would point them at the host's path.
    let applets = run(Command::new(busybox).arg("--list"));
    for applet in applets.lines().filter(|a| !a.is_empty() && *a != "busybox") {
        symlink("busybox", bin.join(applet)).unwrap();
    }
    let mut executables = binaries.to_vec();
    executables.push(busybox);
    for library in shared_libraries(&executables) {
        let target = root.join(library.strip_prefix("/").unwrap());
        fs::create_dir_all(target.parent().unwrap()).unwrap();
        fs::copy(&library, &target).unwrap();
    }
    let etc = root.join("etc");
    fs::create_dir_all(&etc).unwrap();
    fs::write(etc.join("passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    fs::write(etc.join("group"), "root:x:0:\n").unwrap();
    let tmp = root.join("tmp");
    fs::create_dir_all(&tmp).unwrap();
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o1777)).unwrap();
}

/// What `ldd` resolves for `executables`, the dynamic loader included; nothing for static ones.
pub fn shared_libraries(executables: &[&Path]) -> Vec<PathBuf> {
    let mut libraries = Vec::new();
    for executable in executables {
        let out = Command::new("ldd")
            .arg(executable)
            .output()
            .expect("ldd is needed to find the shared libraries of a binary");
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let path = match line.split_once("=>") {
                Some((_, resolved)) => resolved.split_whitespace().next(),
                None => line.split_whitespace().next(),
            };
            if let Some(path) = path.filter(|p| p.starts_with('/')) {
                let path = PathBuf::from(path);
                if !libraries.contains(&path) {
                    libraries.push(path);
                }
            }
        }
    }
    libraries
}

/// Imports `rootfs` as image `tag` (tarred with root ownership), with [`PATH_ENV`] and the
/// run's [`RUN_LABEL`].
pub fn import_image(rootfs: &Path, tag: &str, run_id: &str) {
    let tarball = rootfs.with_extension("tar");
    run(Command::new("tar")
        .args(["--owner=0", "--group=0", "--numeric-owner", "-C"])
        .arg(rootfs)
        .arg("-cf")
        .arg(&tarball)
        .arg("."));
    docker(&[
        "import",
        "--change",
        &format!("ENV {PATH_ENV}"),
        "--change",
        &format!("LABEL {RUN_LABEL}={run_id}"),
        tarball.to_str().expect("temporary paths are UTF-8"),
        tag,
    ]);
    let _ = fs::remove_file(&tarball);
}

/// Removes the containers and images labelled with run `run_id`; errors are ignored (this
/// runs during cleanup, possibly while a test panics).
pub fn remove_run(run_id: &str) {
    let filter = format!("label={RUN_LABEL}={run_id}");
    if let Ok(out) = Command::new("docker")
        .args(["ps", "--all", "--quiet", "--filter", &filter])
        .output()
    {
        let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(str::to_string)
            .collect();
        if !ids.is_empty() {
            let _ = Command::new("docker")
                .args(["rm", "--force", "--volumes"])
                .args(&ids)
                .output();
        }
    }
    let _ = Command::new("docker")
        .args(["image", "prune", "--all", "--force", "--filter", &filter])
        .output();
}

/// Removes what one run made when dropped (see [`remove_run`]).
#[derive(Debug)]
pub struct RunCleanup {
    /// The run's id, the value of [`RUN_LABEL`].
    pub run_id: String,
}

impl Drop for RunCleanup {
    fn drop(&mut self) {
        remove_run(&self.run_id);
    }
}

/// A busybox image imported for one test run; dropping it removes the run's containers and
/// images.
#[derive(Debug)]
pub struct BusyboxImage {
    /// The image's tag, for `docker run`.
    pub tag: String,
    /// Removes the run's containers and images on drop.
    pub cleanup: RunCleanup,
}

impl BusyboxImage {
    /// Imports busybox as `sidecars-test/NAME:RUN` for a new run. `None` (after a loud skip)
    /// when the engine or busybox is missing and `CI` is not `true`; `why` says what the
    /// test needs the engine for.
    pub fn import(name: &str, why: &str) -> Option<BusyboxImage> {
        if !require_engine(why) {
            return None;
        }
        let busybox = busybox()?;
        let run_id = unique_run_id();
        let cleanup = RunCleanup { run_id };
        let rootfs = std::env::temp_dir().join(format!("sidecars-rootfs-{}", cleanup.run_id));
        busybox_rootfs(&rootfs, &busybox, &[]);
        let tag = format!("sidecars-test/{name}:{}", cleanup.run_id);
        import_image(&rootfs, &tag, &cleanup.run_id);
        let _ = fs::remove_dir_all(&rootfs);
        Some(BusyboxImage { tag, cleanup })
    }

    /// The run's id (the value of [`RUN_LABEL`] on its images and containers).
    pub fn run_id(&self) -> &str {
        &self.cleanup.run_id
    }
}

/// True when `docker-compose` (the Compose tool of the test machines) answers. Otherwise it
/// skips loudly, or panics under `CI=true`; `why` says what the test needs it for.
pub fn require_compose(why: &str) -> bool {
    let compose = Command::new("docker-compose")
        .arg("version")
        .output()
        .is_ok_and(|out| out.status.success());
    require_component("docker-compose", compose, why)
}

/// Waits for, and returns, this run's turn among the image tests of every service on this
/// machine: an exclusive lock on a well-known file, released when the file is dropped. The
/// services' Compose snippets fix container names and host ports, a log_watcher container
/// reads every container's log on the engine, and another engineer may be running the tests
/// on the same engine: one image test at a time keeps them all exact.
pub fn take_image_test_turn() -> fs::File {
    let path = Path::new(IMAGE_TEST_LOCK);
    let file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .or_else(|_| fs::File::open(path))
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    if file.try_lock().is_err() {
        eprintln!(
            "another image test holds {}; waiting for its turn",
            path.display()
        );
        file.lock().unwrap();
    }
    file
}

/// The two stand-in base images of a service's Dockerfile, as tags.
#[derive(Debug, Clone)]
pub struct StandInBases {
    /// For `RUST_IMAGE`: the runtime base plus no-op `cargo` and `strip`, and the binary this
    /// test run already compiled where the real `cargo build --release` would leave it.
    pub builder: String,
    /// For `RUNTIME_IMAGE`: busybox (for `RUN` lines and `docker exec`) plus exactly the
    /// shared libraries `binary` links against, and nothing else, so that an image built on
    /// it proves it needs no packages.
    pub runtime: String,
}

impl StandInBases {
    /// The tags of run `run_id`'s stand-ins: `sidecars-test/{name}-builder-base:{run_id}`
    /// and `sidecars-test/{name}-runtime-base:{run_id}`.
    pub fn for_run(name: &str, run_id: &str) -> StandInBases {
        StandInBases {
            builder: format!("sidecars-test/{name}-builder-base:{run_id}"),
            runtime: format!("sidecars-test/{name}-runtime-base:{run_id}"),
        }
    }

    /// Imports both images with `docker import` (no registry), labelled with run `run_id`;
    /// their root filesystems are made under `dir`. `binary` keeps its file name in the
    /// builder's `target/release`.
    pub fn import(&self, dir: &Path, busybox: &Path, binary: &Path, run_id: &str) {
        let runtime = dir.join("runtime");
        busybox_rootfs(&runtime, busybox, &[binary]);
        import_image(&runtime, &self.runtime, run_id);

        let builder = dir.join("builder");
        busybox_rootfs(&builder, busybox, &[binary]);
        let tools = builder.join("usr/local/bin");
        fs::create_dir_all(&tools).unwrap();
        for tool in ["cargo", "strip"] {
            let path = tools.join(tool);
            fs::write(&path, "#!/bin/sh\nexit 0\n").unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        }
        // `COPY . .` leaves target/ alone (.dockerignore), so this is what the runtime stage
        // copies. Stripped here because the stand-in `strip` does nothing, which keeps the
        // image as small, and its layers as quick to write, as a real build's.
        let release = builder.join(BUILDER_RELEASE_DIR);
        fs::create_dir_all(&release).unwrap();
        let placed = release.join(binary.file_name().expect("the binary has a file name"));
        let stripped = Command::new("strip")
            .arg("-o")
            .arg(&placed)
            .arg(binary)
            .status()
            .is_ok_and(|status| status.success());
        if !stripped {
            fs::copy(binary, &placed).unwrap();
        }
        import_image(&builder, &self.builder, run_id);
    }
}

/// An HTTP response, as far as the image tests' assertions need it.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The Content-Type header, empty when absent.
    pub content_type: String,
    /// The body as text.
    pub body: String,
}

/// `GET path` on 127.0.0.1:`port` over a fresh HTTP/1.0 connection (so the body ends at
/// EOF); `None` while nothing answers: docker-proxy accepts and drops connections until the
/// service inside the container listens.
pub fn published_get(port: u16, path: &str) -> Option<HttpResponse> {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n"
    )
    .ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let content_type = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        .map(|(_, value)| value.trim().to_string())
        .unwrap_or_default();
    Some(HttpResponse {
        status,
        content_type,
        body: body.to_string(),
    })
}

/// Polls `probe` every 250 ms until it gives a value; panics naming `what` after `secs`.
pub fn eventually<T>(what: &str, secs: u64, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {secs} s waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The engine's data directory (`docker info`'s `DockerRootDir`), whose `containers`
/// folder holds the json-file logs.
pub fn docker_root_dir() -> PathBuf {
    PathBuf::from(docker(&["info", "--format", "{{.DockerRootDir}}"]).trim())
}

/// Runs `docker args`, returning stdout; panics with stderr when it fails.
pub fn docker(args: &[&str]) -> String {
    run(Command::new("docker").args(args))
}

/// Runs `command`, returning stdout; panics with its output when it fails.
pub fn run(command: &mut Command) -> String {
    let Output {
        status,
        stdout,
        stderr,
    } = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    let stdout = String::from_utf8_lossy(&stdout).into_owned();
    assert!(
        status.success(),
        "{command:?} failed ({status}):\n{stdout}{}",
        String::from_utf8_lossy(&stderr)
    );
    stdout
}
