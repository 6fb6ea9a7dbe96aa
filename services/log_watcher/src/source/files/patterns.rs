//! `[log_sources] extra_files`: paths or globs over whole paths (`/logs/*.log`,
//! `/logs/*/app.log`, `/logs/**/*.log`), in `globset`'s syntax: `*` and `?` stay within one
//! folder, `**` crosses folders, `[abc]` and `{a,b}` are allowed. A pattern without any of
//! `* ? [ {` is a plain path, followed whether or not the file exists yet.
//!
//! A glob is expanded by walking from its longest leading part without wildcards, no deeper
//! than the pattern reaches (unless it has `**`), and skipping folders a wildcard component
//! rules out. The expansion runs at every discovery, so files (and folders) that appear
//! later are found. Rotated and compressed files (`app.log.1`, `app.log.gz`) are left out:
//! their lines are read through the file they were rotated from.

use std::path::{Component, Path, PathBuf};

use globset::{Glob, GlobBuilder, GlobMatcher};

/// One configured file pattern and the service its files belong to.
#[derive(Debug, Clone)]
pub struct FilePattern {
    /// The path or glob as configured.
    pattern: PathBuf,
    /// Service name; `None` means each file's stem.
    service: Option<String>,
    /// How to expand it, when it is a glob.
    glob: Option<GlobWalk>,
}

/// A compiled glob: where the walk starts and what the rest of a path must match.
#[derive(Debug, Clone)]
struct GlobWalk {
    /// The leading folders without wildcards (`.` when there are none).
    base: PathBuf,
    /// The rest of the pattern, matched against paths relative to `base`.
    rest: GlobMatcher,
    /// How many components the rest has; `None` with `**` (any depth).
    depth: Option<usize>,
    /// For each folder level the walk descends through, what a folder name there must
    /// match (empty when the components cannot be told apart, as with `**` or braces).
    folders: Vec<GlobMatcher>,
}

impl FilePattern {
    /// The pattern `pattern`, whose files belong to `service` (their stems when `None`).
    /// Fails when `pattern` is not a valid glob.
    pub fn new(pattern: &str, service: Option<String>) -> Result<FilePattern, globset::Error> {
        let path = PathBuf::from(pattern);
        let components: Vec<Component<'_>> = path.components().collect();
        let glob = match components.iter().position(|c| is_glob(c.as_os_str())) {
            None => None,
            Some(first) => {
                let base: PathBuf = components[..first].iter().collect();
                let rest: Vec<String> = components[first..]
                    .iter()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                Some(GlobWalk::new(base, &rest)?)
            }
        };
        Ok(FilePattern {
            pattern: path,
            service,
            glob,
        })
    }

    /// The pattern as configured.
    pub fn pattern(&self) -> &Path {
        &self.pattern
    }

    /// The service the lines of `path` (one of [`files`](Self::files)) belong to.
    pub fn service_of(&self, path: &Path) -> String {
        self.service.clone().unwrap_or_else(|| file_stem(path))
    }

    /// The folder to watch for new files: a plain path's folder, or where a glob's walk
    /// starts.
    pub fn folder(&self) -> Option<&Path> {
        match &self.glob {
            Some(glob) => Some(&glob.base),
            None => self.pattern.parent(),
        }
    }

    /// The files the pattern names now, sorted: the path itself for a plain path, else
    /// every regular file the glob matches (rotated and compressed ones left out).
    pub fn files(&self) -> Vec<PathBuf> {
        let Some(glob) = &self.glob else {
            return vec![self.pattern.clone()];
        };
        let mut found = Vec::new();
        glob.walk(&glob.base, &mut PathBuf::new(), 0, &mut found);
        found.sort();
        found
    }
}

impl GlobWalk {
    fn new(base: PathBuf, rest: &[String]) -> Result<GlobWalk, globset::Error> {
        let compile = |text: &str| {
            GlobBuilder::new(text)
                .literal_separator(true)
                .build()
                .map(|g: Glob| g.compile_matcher())
        };
        let matcher = compile(&rest.join("/"))?;
        let any_depth = rest.iter().any(|c| c.contains("**"));
        let depth = (!any_depth).then_some(rest.len());
        // A component with a brace may belong to an alternative spanning folders
        // (`{a/b,c}`): then folders are not ruled out one by one.
        let folders = if any_depth || rest.iter().any(|c| c.contains(['{', '}'])) {
            Vec::new()
        } else {
            rest[..rest.len() - 1]
                .iter()
                .map(|c| compile(c))
                .collect::<Result<Vec<_>, _>>()
                .unwrap_or_default()
        };
        let base = if base.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            base
        };
        Ok(GlobWalk {
            base,
            rest: matcher,
            depth,
            folders,
        })
    }

    /// Collects the matching files under `dir` (which is `base` joined with `relative`, at
    /// `level` folders below `base`).
    fn walk(&self, dir: &Path, relative: &mut PathBuf, level: usize, found: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            // Symbolic links are not followed (as before: a folder linking to its parent
            // would never end).
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let name = entry.file_name();
            relative.push(&name);
            if kind.is_file() {
                let rotated = name.to_str().is_some_and(looks_rotated);
                if !rotated && self.rest.is_match(&*relative) {
                    found.push(entry.path());
                }
            } else if kind.is_dir() && self.descends(level, &name) {
                self.walk(&entry.path(), relative, level + 1, found);
            }
            relative.pop();
        }
    }

    /// Whether the walk goes into folder `name` at `level`.
    fn descends(&self, level: usize, name: &std::ffi::OsStr) -> bool {
        match self.depth {
            None => true,
            Some(depth) if level + 1 >= depth => false,
            Some(_) => self.folders.get(level).is_none_or(|m| m.is_match(name)),
        }
    }
}

/// Whether a path component has glob syntax.
fn is_glob(component: &std::ffi::OsStr) -> bool {
    component
        .to_str()
        .is_some_and(|c| c.contains(['*', '?', '[', '{']))
}

/// The file stem: `/logs/web.log` is service `web`.
pub fn file_stem(path: &Path) -> String {
    path.file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("unknown")
        .to_string()
}

/// `app.log.1`, `app.log.gz`, `app.log.old`: what rotation leaves beside a log.
fn looks_rotated(name: &str) -> bool {
    let last = name.rsplit('.').next().unwrap_or("");
    let numbered =
        !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()) && name.contains('.');
    numbered
        || [".gz", ".bz2", ".xz", ".zst", ".old"]
            .iter()
            .any(|ext| name.ends_with(ext))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "").unwrap();
    }

    fn files(pattern: &Path) -> Vec<PathBuf> {
        FilePattern::new(pattern.to_str().unwrap(), None)
            .unwrap()
            .files()
    }

    #[test]
    fn wildcards_match_file_names() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["web.log", "web.txt", "api-1.log", "api-12.log", "web.log.1"] {
            touch(&dir.path().join(name));
        }
        assert_eq!(
            files(&dir.path().join("*.log")),
            vec![
                dir.path().join("api-1.log"),
                dir.path().join("api-12.log"),
                dir.path().join("web.log")
            ]
        );
        assert_eq!(
            files(&dir.path().join("api-?.log")),
            vec![dir.path().join("api-1.log")]
        );
        assert!(looks_rotated("web.log.1"));
        assert!(looks_rotated("web.log.gz"));
        assert!(!looks_rotated("web.log"));
    }

    #[test]
    fn a_glob_spans_folders_and_finds_files_that_appear_later() {
        let dir = tempfile::tempdir().unwrap();
        let pattern =
            FilePattern::new(&format!("{}/*/app.log", dir.path().display()), None).unwrap();
        touch(&dir.path().join("api/app.log"));
        touch(&dir.path().join("api/other.log"));
        touch(&dir.path().join("api/deeper/app.log"));
        touch(&dir.path().join("app.log"));
        assert_eq!(pattern.files(), vec![dir.path().join("api/app.log")]);
        assert_eq!(pattern.folder(), Some(dir.path()));
        // A folder and its file created after the first expansion.
        touch(&dir.path().join("web/app.log"));
        assert_eq!(
            pattern.files(),
            vec![
                dir.path().join("api/app.log"),
                dir.path().join("web/app.log")
            ]
        );
        assert_eq!(pattern.service_of(&dir.path().join("web/app.log")), "app");
    }

    #[test]
    fn double_stars_reach_any_depth_and_folders_are_ruled_out_by_their_own_component() {
        let dir = tempfile::tempdir().unwrap();
        touch(&dir.path().join("a/x.log"));
        touch(&dir.path().join("a/b/c/y.log"));
        touch(&dir.path().join("skip/z.log"));
        let all = files(&dir.path().join("**/*.log"));
        assert_eq!(all.len(), 3, "{all:?}");
        assert_eq!(
            files(&dir.path().join("a*/*.log")),
            vec![dir.path().join("a/x.log")]
        );
    }

    #[test]
    fn a_plain_path_is_itself_whether_or_not_it_exists_and_names_its_service() {
        let pattern = FilePattern::new("/logs/web.log", Some("frontend".to_string())).unwrap();
        assert_eq!(pattern.files(), vec![PathBuf::from("/logs/web.log")]);
        assert_eq!(pattern.folder(), Some(Path::new("/logs")));
        assert_eq!(pattern.service_of(Path::new("/logs/web.log")), "frontend");
        assert!(FilePattern::new("/logs/[web.log", None).is_err());
    }
}
