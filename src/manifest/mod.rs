//! The manifest: which nodes to run and how to stop them.
//!
//! `gracewatch.toml` (`[defaults]`, `[nodes.NAME]`, `[hazards]`) or a `Procfile`. Every error
//! names the file, line, column and key, and says what was expected.

mod duration;
mod error;
pub(crate) mod order;
mod procfile;
pub(crate) mod runnable;
mod spec;
mod toml_file;

pub use duration::{DurationError, parse_duration_ms};
pub(crate) use error::{ManifestError, ManifestErrors};
pub use spec::*;

use std::path::{Path, PathBuf};

/// The manifest `up` reads when none is named.
pub(crate) const DEFAULT_MANIFEST: &str = "gracewatch.toml";

/// Reads, parses and validates a manifest file.
pub(crate) fn load(path: &Path) -> Result<Manifest, ManifestError> {
    let source = read(path)?;
    let default_name = session_name_for(path);
    parse(path, &source, &default_name)
}

/// Reads a manifest to run it: what [`load`] checks, then that every node's working directory
/// exists and its command is found and executable ([`runnable`]), so that a mistake starts
/// nothing. Every such problem is reported, not only the first.
pub(crate) fn load_to_run(path: &Path) -> Result<Manifest, ManifestErrors> {
    let source = read(path)?;
    let default_name = session_name_for(path);
    let (manifest, places) = parse_with_places(path, &source, &default_name)?;
    let errors = runnable::check(&manifest, &places, path, &source, &runnable::World::current());
    if errors.is_empty() { Ok(manifest) } else { Err(ManifestErrors(errors)) }
}

fn read(path: &Path) -> Result<String, ManifestError> {
    std::fs::read_to_string(path).map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::NotFound && path == Path::new(DEFAULT_MANIFEST) {
            " (no manifest named: write a gracewatch.toml here, or pass its path, or try `gracewatch demo`)"
        } else {
            ""
        };
        ManifestError::whole(path, format!("cannot read manifest: {e}{hint}"))
    })
}

/// Parses manifest text; the format is chosen by the file name (`Procfile*` or TOML).
pub(crate) fn parse(path: &Path, source: &str, default_name: &str) -> Result<Manifest, ManifestError> {
    parse_with_places(path, source, default_name).map(|(m, _)| m)
}

fn parse_with_places(
    path: &Path,
    source: &str,
    default_name: &str,
) -> Result<(Manifest, runnable::Places), ManifestError> {
    let file_name = path.file_name().and_then(|f| f.to_str()).unwrap_or_default();
    let (mut manifest, places) = if file_name.starts_with("Procfile") {
        procfile::parse_procfile(path, source, default_name)?
    } else {
        toml_file::parse_toml(path, source, default_name)?
    };
    manifest.path = Some(absolute(path));
    Ok((manifest, places))
}

/// Session name from a manifest's directory: `/srv/robot/gracewatch.toml` → `robot`.
pub(crate) fn session_name_for(path: &Path) -> String {
    let dir = absolute(path).parent().map(Path::to_path_buf).unwrap_or_default();
    let raw = dir.file_name().and_then(|f| f.to_str()).unwrap_or("gracewatch");
    sanitize_name(raw)
}

/// Keeps letters, digits, `-`, `_`, `.`; anything else becomes `_`.
pub(crate) fn sanitize_name(raw: &str) -> String {
    let s: String =
        raw.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' }).collect();
    if s.is_empty() || s.starts_with('.') { format!("gw{s}") } else { s }
}

pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Manifest, ManifestError> {
        parse(Path::new("gracewatch.toml"), text, "test")
    }

    #[test]
    fn reads_a_full_manifest() {
        let m = parse_str(
            r#"
name = "robot"
[defaults]
grace = "5s"
env = { A = "1" }
[nodes.broker]
cmd = "python3 -u broker.py --port 5000"
[nodes.camera]
cmd = ["python3", "camera.py"]
stop_signal = "SIGINT"
escalate = ["SIGTERM:1s", "QUIT:500ms"]
depends_on = ["broker"]
group = false
drain_extension = "3s"
env = { B = "2" }
[hazards]
fork-without-exec-threaded = "allow"
"#,
        )
        .unwrap();
        assert_eq!(m.name, "robot");
        assert_eq!(m.nodes[0].cmd, vec!["python3", "-u", "broker.py", "--port", "5000"]);
        assert_eq!(m.nodes[0].grace_ms, 5000);
        let cam = &m.nodes[1];
        assert_eq!(cam.stop_signal, crate::signal::Signal::INT);
        assert_eq!(cam.escalate.len(), 2);
        assert_eq!(cam.escalate[1].after_ms, 500);
        assert!(!cam.group);
        assert_eq!(cam.drain_extension_ms, 3000);
        assert_eq!(cam.env.get("A").map(String::as_str), Some("1"));
        assert_eq!(cam.env.get("B").map(String::as_str), Some("2"));
        assert_eq!(m.hazard_level("fork-without-exec-threaded"), HazardLevel::Allow);
    }

    fn err(text: &str) -> ManifestError {
        parse_str(text).unwrap_err()
    }

    #[test]
    fn unknown_key_names_line_column_and_key() {
        let e = err("[nodes.a]\ncmd = \"true\"\ngrase = \"1s\"\n");
        assert_eq!((e.line, e.column), (3, 1));
        assert!(e.message.contains("unknown field `grase`"), "{e}");
        assert_eq!(e.key, "nodes.a.grase");
    }

    #[test]
    fn bad_duration_and_signal_point_at_the_value() {
        let e = err("[nodes.a]\ncmd = \"true\"\ngrace = \"10 parsecs\"\n");
        assert_eq!((e.line, e.column, e.key.as_str()), (3, 9, "nodes.a.grace"));
        assert!(e.message.contains("bad duration"), "{e}");
        let e = err("[nodes.a]\ncmd = \"true\"\nstop_signal = \"SIGFOO\"\n");
        assert_eq!((e.line, e.key.as_str()), (3, "nodes.a.stop_signal"));
        assert!(e.message.contains("unknown signal"), "{e}");
    }

    #[test]
    fn dependency_errors() {
        let e = err("[nodes.a]\ncmd = \"true\"\ndepends_on = [\"ghost\"]\n");
        assert!(e.message.contains("unknown node \"ghost\""), "{e}");
        assert_eq!((e.line, e.key.as_str()), (3, "nodes.a.depends_on"));
        let e =
            err("[nodes.a]\ncmd = \"true\"\ndepends_on = [\"b\"]\n[nodes.b]\ncmd = \"true\"\ndepends_on = [\"a\"]\n");
        assert!(e.message.contains("dependency cycle: a → b → a"), "{e}");
    }

    #[test]
    fn duplicate_names() {
        let e = err("[nodes.a]\ncmd = \"true\"\n[nodes.a]\ncmd = \"false\"\n");
        assert_eq!(e.line, 3, "{e}");
        let e = parse(Path::new("Procfile"), "web: sleep 1\nweb: sleep 2\n", "p").unwrap_err();
        assert_eq!((e.line, e.column), (2, 1));
        assert!(e.message.contains("duplicate node name"), "{e}");
    }

    #[test]
    fn escalation_must_fit_in_grace() {
        let e = err("[nodes.a]\ncmd = \"true\"\ngrace = \"2s\"\nescalate = [\"INT:1s\", \"QUIT:1s\"]\n");
        assert!(e.message.contains("must fit"), "{e}");
    }

    #[test]
    fn procfile_lines() {
        let m =
            parse(Path::new("Procfile"), "# web\nweb: python3 -m http.server 8000\nworker:  sleep 100\n", "p").unwrap();
        assert_eq!(m.nodes.len(), 2);
        assert_eq!(m.nodes[1].cmd, vec!["sleep", "100"]);
        let e = parse(Path::new("Procfile"), "web python3\n", "p").unwrap_err();
        assert!(e.message.contains("name: command"));
    }

    #[test]
    fn error_display_has_a_caret() {
        let e = err("[nodes.a]\ncmd = \"true\"\ngrace = \"soon\"\n");
        let text = e.to_string();
        assert!(text.starts_with("gracewatch.toml:3:9: `nodes.a.grace`: bad duration"), "{text}");
        assert!(text.contains("^^^^^^"), "{text}");
    }
}
