//! Before anything starts: every node's working directory exists and its command can be run.
//!
//! The command is looked up the way the spawner will run it (`execvp` in the node's working
//! directory, with the node's environment): a name without a slash is searched in `PATH` (the
//! node's own `env.PATH` if the manifest sets one, else gracewatch's), an empty `PATH` entry
//! meaning the working directory; a name with a slash is taken relative to the working
//! directory. The working directory is relative to the manifest's directory.

use super::error::ManifestError;
use super::spec::{Manifest, NodeSpec};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Where a value is written in the manifest: its byte range and its dotted key.
#[derive(Debug, Clone)]
pub(crate) struct Place {
    pub span: std::ops::Range<usize>,
    pub key: String,
}

/// Where a node's `cmd` and `cwd` are written (`cwd` absent when the node uses the
/// manifest's directory).
#[derive(Debug, Clone)]
pub(crate) struct NodePlaces {
    pub cmd: Place,
    pub cwd: Option<Place>,
}

/// Per node name.
pub(crate) type Places = BTreeMap<String, NodePlaces>;

/// `PATH` when the environment has none: what `execvp` searches then.
const DEFAULT_PATH: &str = "/bin:/usr/bin";

/// What the check needs of the world gracewatch runs in.
pub(crate) struct World {
    /// gracewatch's own `PATH` (nodes inherit it unless their `env` sets one).
    pub path: Option<OsString>,
    /// What `{gracewatch}` in a command stands for.
    pub exe: Option<PathBuf>,
}

impl World {
    /// This process's environment.
    pub(crate) fn current() -> World {
        World { path: std::env::var_os("PATH"), exe: std::env::current_exe().ok() }
    }
}

/// Every problem found, in declaration order (an inherited `[defaults] cwd` that is missing is
/// said once).
pub(crate) fn check(
    manifest: &Manifest,
    places: &Places,
    file: &Path,
    source: &str,
    world: &World,
) -> Vec<ManifestError> {
    let base = manifest.path.as_deref().and_then(Path::parent).map(Path::to_path_buf).unwrap_or_default();
    let mut errors: Vec<ManifestError> = Vec::new();
    // Many nodes run the same program from the same place: look each up once (a search of a
    // long PATH is a stat per entry).
    let mut looked_up: std::collections::HashMap<(PathBuf, String, Option<String>), Result<PathBuf, CommandError>> =
        std::collections::HashMap::new();
    for node in &manifest.nodes {
        let Some(place) = places.get(&node.name) else { continue };
        let err =
            |at: &Place, message: String| ManifestError::at(file, source, Some(at.span.clone()), &at.key, message);
        let cwd = node.cwd.as_ref().map_or_else(|| base.clone(), |c| base.join(c));
        if let Some(problem) = cwd_problem(node, &cwd) {
            let at = place.cwd.as_ref().unwrap_or(&place.cmd);
            let e = err(at, problem);
            if !errors.iter().any(|o| (o.line, o.column, &o.message) == (e.line, e.column, &e.message)) {
                errors.push(e);
            }
            // Where the command would be looked for does not exist: nothing more to say.
            continue;
        }
        let key = (cwd.clone(), node.cmd.first().cloned().unwrap_or_default(), node.env.get("PATH").cloned());
        if let Err(problem) = looked_up.entry(key).or_insert_with(|| resolve(node, &cwd, world)) {
            errors.push(err(&place.cmd, problem.to_string()));
        }
    }
    errors
}

fn cwd_problem(node: &NodeSpec, cwd: &Path) -> Option<String> {
    // `work` is /srv/robot/work (relative to the manifest's directory), which …
    let what = match &node.cwd {
        Some(c) if c.is_relative() => {
            format!(
                "working directory `{}` is {} (relative to the manifest's directory), which",
                c.display(),
                cwd.display()
            )
        }
        _ => format!("working directory {}", cwd.display()),
    };
    match std::fs::metadata(cwd) {
        Ok(m) if m.is_dir() => None,
        Ok(_) => Some(format!("{what} is not a directory")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(format!("{what} does not exist")),
        Err(e) => Some(format!("{what} cannot be used: {e}")),
    }
}

/// Why a node's command would not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CommandError {
    #[error("empty command")]
    Empty,
    /// A path (with a `/`) that names nothing.
    #[error("command `{program}` not found: there is no {}{}", path.display(), relative_to(cwd.as_deref()))]
    NoSuchPath { program: String, path: PathBuf, cwd: Option<PathBuf> },
    /// A path (with a `/`) that names something `execve` will not run.
    #[error("command `{program}` cannot be run: {}{} {why}", path.display(), relative_to(cwd.as_deref()))]
    NotRunnable { program: String, path: PathBuf, why: &'static str, cwd: Option<PathBuf> },
    /// A name that no entry of the search path holds.
    #[error("command `{program}` not found in {from} ({search})")]
    NotInPath { program: String, from: &'static str, search: String },
    /// A name that the search path holds only as something `execve` will not run.
    #[error("command `{program}` cannot be run: {} {why}, and no other `{program}` is in {from} ({search})", path.display())]
    NoRunnableInPath { program: String, path: PathBuf, why: &'static str, from: &'static str, search: String },
}

/// ` (relative to the working directory W)` for a relative program path.
fn relative_to(cwd: Option<&Path>) -> String {
    cwd.map_or_else(String::new, |cwd| format!(" (relative to the working directory {})", cwd.display()))
}

/// The program a node's command runs, found as the spawner will find it; else why not.
pub(crate) fn resolve(node: &NodeSpec, cwd: &Path, world: &World) -> Result<PathBuf, CommandError> {
    let Some(first) = node.cmd.first() else { return Err(CommandError::Empty) };
    let program = match &world.exe {
        Some(exe) if first.contains("{gracewatch}") => first.replace("{gracewatch}", &exe.display().to_string()),
        _ => first.clone(),
    };
    if program.contains('/') {
        let path = cwd.join(&program);
        let relative = Path::new(&program).is_relative().then(|| cwd.to_path_buf());
        return match runnable(&path) {
            Found::Yes => Ok(path),
            Found::No => Err(CommandError::NoSuchPath { program, path, cwd: relative }),
            Found::NotRunnable(why) => Err(CommandError::NotRunnable { program, path, why, cwd: relative }),
        };
    }
    let (search, from) = match node.env.get("PATH") {
        Some(p) => (OsString::from(p), "the node's env.PATH"),
        None => match &world.path {
            Some(p) => (p.clone(), "PATH"),
            None => (OsString::from(DEFAULT_PATH), "the default PATH (none is set)"),
        },
    };
    let mut not_runnable: Option<(PathBuf, &'static str)> = None;
    for dir in std::env::split_paths(&search) {
        // An empty entry is the working directory.
        let dir = if dir.as_os_str().is_empty() { cwd.to_path_buf() } else { cwd.join(dir) };
        let candidate = dir.join(&program);
        match runnable(&candidate) {
            Found::Yes => return Ok(candidate),
            Found::No => {}
            Found::NotRunnable(why) => {
                not_runnable.get_or_insert((candidate, why));
            }
        }
    }
    let search = search.to_string_lossy().into_owned();
    Err(match not_runnable {
        Some((path, why)) => CommandError::NoRunnableInPath { program, path, why, from, search },
        None => CommandError::NotInPath { program, from, search },
    })
}

enum Found {
    Yes,
    No,
    NotRunnable(&'static str),
}

/// Would `execve` run this path? A regular file (through symlinks) that this user may execute.
fn runnable(path: &Path) -> Found {
    match std::fs::metadata(path) {
        Err(_) => Found::No,
        Ok(m) if m.is_dir() => Found::NotRunnable("is a directory"),
        Ok(m) if !m.is_file() => Found::NotRunnable("is not a regular file"),
        Ok(_) => match rustix::fs::access(path, rustix::fs::Access::EXEC_OK) {
            Ok(()) => Found::Yes,
            Err(_) => Found::NotRunnable("is not executable (no execute permission for this user)"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn node(cmd: &[&str]) -> NodeSpec {
        NodeSpec::with_defaults("n", cmd.iter().map(|s| (*s).to_string()).collect())
    }

    fn world(path: &str) -> World {
        World { path: Some(path.into()), exe: Some("/opt/gw/gracewatch".into()) }
    }

    #[test]
    fn finds_programs_the_way_execvp_does() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let tool = bin.join("tool");
        std::fs::write(&tool, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        let plain = bin.join("plain");
        std::fs::write(&plain, "data").unwrap();
        std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();
        let w = world(&format!("/nonexistent:{}", bin.display()));

        assert_eq!(resolve(&node(&["tool"]), dir.path(), &w).unwrap(), tool);
        // A relative PATH entry and a path with a slash are relative to the working directory.
        assert_eq!(resolve(&node(&["tool"]), dir.path(), &world("bin")).unwrap(), tool);
        assert_eq!(resolve(&node(&["bin/tool"]), dir.path(), &world("")).unwrap(), tool);
        // The node's own PATH wins.
        let mut n = node(&["tool"]);
        n.env.insert("PATH".into(), "/nonexistent".into());
        let e = resolve(&n, dir.path(), &w).unwrap_err().to_string();
        assert!(e.contains("not found in the node's env.PATH (/nonexistent)"), "{e}");

        let e = resolve(&node(&["nope-such-command"]), dir.path(), &w).unwrap_err().to_string();
        assert!(e.starts_with("command `nope-such-command` not found in PATH (/nonexistent:"), "{e}");
        let e = resolve(&node(&["plain"]), dir.path(), &w).unwrap_err().to_string();
        assert!(e.contains("is not executable"), "{e}");
        assert!(e.contains(&plain.display().to_string()), "{e}");
        let e = resolve(&node(&["./bin"]), dir.path(), &w).unwrap_err().to_string();
        assert!(e.contains("is a directory"), "{e}");
        let e = resolve(&node(&["./missing.sh"]), dir.path(), &w).unwrap_err().to_string();
        assert!(e.contains("relative to the working directory"), "{e}");
        // `{gracewatch}` is gracewatch itself.
        let e = resolve(&node(&["{gracewatch}"]), dir.path(), &w).unwrap_err().to_string();
        assert!(e.contains("/opt/gw/gracewatch"), "{e}");
    }
}
