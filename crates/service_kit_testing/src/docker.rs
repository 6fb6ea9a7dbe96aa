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
//! What the image tests (each service's `tests/it/container.rs`) share is in [`image_test`]
//! and re-exported here: one run of a service's image built from its Dockerfile and started
//! from the spec's Compose snippet ([`ImageTestRun`]), their turn on the machine
//! ([`take_image_test_turn`]), docker-compose ([`require_compose`]), the stand-in base images
//! for a Dockerfile's `RUST_IMAGE`/`RUNTIME_IMAGE` ([`StandInBases`]), and plain HTTP to a
//! published port ([`published_get`], [`eventually`]).

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::require_component;

pub mod image_test;

pub use image_test::{
    eventually, published_get, require_compose, take_image_test_turn, HttpResponse, ImageTestRun,
    ImageUnderTest, StandInBases,
};

/// The label whose value is the id of the test run that made an image or container.
pub const RUN_LABEL: &str = "org.sidecars.test-run";

/// The default PATH of Debian images, which imported images lack.
pub const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Where Debian's `busybox-static` installs busybox.
const BUSYBOX: &str = "/bin/busybox";

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

/// Adds to `root` (a [`busybox_rootfs`]) the programs a Compose deploy runs: this machine's
/// `docker` CLI and its Compose program (`docker-compose`, with the Python it runs on and
/// that Python's libraries, when it is the Python one), with every shared library they
/// load. An image made of it can deploy through the engine's socket with no registry.
pub fn add_docker_cli(root: &Path) {
    let which = |program: &str| {
        let out = run(Command::new("sh").args(["-c", &format!("command -v {program}")]));
        PathBuf::from(out.trim())
    };
    let docker = which("docker");
    let compose = which("docker-compose");
    let mut executables = vec![docker.clone(), compose.clone()];
    copy_into(root, &docker, Some(Path::new("/usr/bin/docker")));
    copy_into(root, &compose, Some(Path::new("/usr/bin/docker-compose")));
    let head = fs::read(&compose).unwrap_or_default();
    if let Some(interpreter) = head
        .strip_prefix(b"#!")
        .and_then(|rest| rest.split(|b| *b == b'\n').next())
        .map(|line| String::from_utf8_lossy(line).trim().to_string())
    {
        let interpreter = PathBuf::from(interpreter.split_whitespace().next().unwrap_or(""));
        let resolved = fs::canonicalize(&interpreter).unwrap_or(interpreter.clone());
        copy_into(root, &resolved, None);
        copy_into(root, &resolved, Some(&interpreter));
        executables.push(resolved.clone());
        let paths = run(Command::new(&resolved).args([
            "-c",
            "import sys; print('\\n'.join(p for p in sys.path if p))",
        ]));
        for dir in paths.lines().map(Path::new).filter(|p| p.is_dir()) {
            run(Command::new("cp")
                .args(["-rL", "--parents"])
                .arg(dir)
                .arg(root));
            let objects = run(Command::new("find")
                .arg(dir)
                .args(["-name", "*.so*", "-type", "f"]));
            executables.extend(objects.lines().map(PathBuf::from));
        }
    }
    let executables: Vec<&Path> = executables.iter().map(PathBuf::as_path).collect();
    for library in shared_libraries(&executables) {
        copy_into(root, &library, None);
    }
}

/// Copies `file` (following links) into `root` at `at`, or at its own path.
fn copy_into(root: &Path, file: &Path, at: Option<&Path>) {
    let at = at.unwrap_or(file);
    let target = root.join(at.strip_prefix("/").unwrap_or(at));
    fs::create_dir_all(target.parent().unwrap()).unwrap();
    if !target.exists() {
        fs::copy(file, &target).unwrap_or_else(|e| panic!("copy {}: {e}", file.display()));
    }
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

/// `docker run` options that give a container 8 MiB of memory and no swap, so that
/// [`EXHAUST_MEMORY`] gets it OOM-killed (exit code 137, `OOMKilled`).
pub const SMALL_MEMORY: [&str; 4] = ["--memory", "8m", "--memory-swap", "8m"];

/// A script that needs 100 MB at once: one buffer that a single `read` fills, so the OOM
/// killer comes within a second (a program that grows step by step can keep the kernel
/// reclaiming its own code pages for many seconds first). It waits a second before: an OOM
/// kill in a container's first milliseconds can come before the engine watches the
/// container's memory, and then the engine never sets `OOMKilled`.
pub const EXHAUST_MEMORY: &str = "sleep 1; dd if=/dev/zero of=/dev/null bs=100M count=1";

impl BusyboxImage {
    /// Starts (detached) container `PROJECT-SERVICE-1` of this image as Compose would for
    /// `service` of `project` (its project and service labels), running `sh -c script`, with
    /// `extra` `docker run` options (more labels, `--memory`, `--health-cmd`, ...). Its log
    /// driver is json-file, whatever the daemon's default.
    pub fn run_compose_service(&self, project: &str, service: &str, extra: &[&str], script: &str) {
        let name = format!("{project}-{service}-1");
        let project_label = format!("com.docker.compose.project={project}");
        let service_label = format!("com.docker.compose.service={service}");
        let mut args = vec![
            "run",
            "--detach",
            "--name",
            &name,
            "--log-driver",
            "json-file",
            "--label",
            &project_label,
            "--label",
            &service_label,
        ];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[&self.tag, "sh", "-c", script]);
        docker(&args);
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
