//! The demo's manifest and Python nodes, carried inside the binary and unpacked on demand.

use std::path::{Path, PathBuf};

/// `assets/demo.toml`.
pub(crate) const MANIFEST: &str = include_str!("../../assets/demo.toml");

/// The Python nodes, by their path relative to the manifest.
pub(crate) const NODES: [(&str, &str); 5] = [
    ("demo/import_time_handlers.py", include_str!("../../assets/demo/import_time_handlers.py")),
    ("demo/no_signal_runtime.py", include_str!("../../assets/demo/no_signal_runtime.py")),
    ("demo/slow_receiver.py", include_str!("../../assets/demo/slow_receiver.py")),
    ("demo/main_thread_only.py", include_str!("../../assets/demo/main_thread_only.py")),
    ("demo/well_behaved.py", include_str!("../../assets/demo/well_behaved.py")),
];

/// Where `gracewatch demo` unpacks itself: a directory of this user's own.
pub(crate) fn default_dir() -> PathBuf {
    std::env::temp_dir().join(format!("gracewatch-demo-{}", rustix::process::getuid().as_raw()))
}

/// Writes the manifest and its nodes into `dir` (overwriting an older unpacking) and returns
/// the manifest's path.
pub(crate) fn unpack(dir: &Path) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir.join("demo"))?;
    // A shared temporary directory: refuse one someone else planted for us.
    if std::fs::metadata(dir)?.uid() != rustix::process::getuid().as_raw() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!("{} belongs to another user", dir.display()),
        ));
    }
    for (path, text) in NODES {
        std::fs::write(dir.join(path), text)?;
    }
    let manifest = dir.join("gracewatch.toml");
    std::fs::write(&manifest, MANIFEST)?;
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_python_node_of_the_manifest_is_carried() {
        let manifest = crate::manifest::parse(Path::new("demo.toml"), MANIFEST, "demo").unwrap();
        for node in &manifest.nodes {
            if let Some(script) = node.cmd.iter().find(|a| Path::new(a).extension().is_some_and(|x| x == "py")) {
                assert!(NODES.iter().any(|(p, _)| p == script), "{} runs {script}, which is not carried", node.name);
            }
        }
        assert_eq!(manifest.nodes.len(), 7);
    }
}
