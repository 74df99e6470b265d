//! The Python client (`assets/python/gracewatch_node.py`), carried inside the binary.
//!
//! Every session writes it into its own directory (`SESSION.py/` next to its sockets) and puts
//! that directory first on the `PYTHONPATH` of every node, so `import gracewatch_node` works
//! with no set-up; `gracewatch python-client` prints it for any other use.

use std::collections::BTreeMap;
use std::path::Path;

/// The client's source.
pub(crate) const SOURCE: &str = include_str!("../../assets/python/gracewatch_node.py");
/// The module's file name.
pub(crate) const FILE_NAME: &str = "gracewatch_node.py";

/// Writes the client into `dir` (created 0700), replacing any older copy atomically.
pub(crate) fn install(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let tmp = dir.join(format!(".{FILE_NAME}.{}", std::process::id()));
    std::fs::write(&tmp, SOURCE)?;
    std::fs::rename(&tmp, dir.join(FILE_NAME))
}

/// Puts `dir` first on the `PYTHONPATH` of a node's environment: the node's own setting if the
/// manifest gives one, else the one gracewatch inherited.
pub(crate) fn prepend_path(env: &mut BTreeMap<String, String>, dir: &Path) {
    let inherited = env.get("PYTHONPATH").cloned().or_else(|| std::env::var("PYTHONPATH").ok());
    let value = match inherited.filter(|p| !p.is_empty()) {
        Some(rest) => format!("{}:{rest}", dir.display()),
        None => dir.display().to_string(),
    };
    env.insert("PYTHONPATH".into(), value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_goes_first_and_keeps_what_was_there() {
        let mut env = BTreeMap::from([("PYTHONPATH".to_string(), "/opt/lib".to_string())]);
        prepend_path(&mut env, Path::new("/run/gw/s.py"));
        assert_eq!(env["PYTHONPATH"], "/run/gw/s.py:/opt/lib");
    }

    #[test]
    fn installed_client_is_the_asset() {
        let dir = std::env::temp_dir().join(format!("gw-pyclient-{}", std::process::id()));
        install(&dir).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join(FILE_NAME)).unwrap(), SOURCE);
        install(&dir).unwrap(); // twice is fine
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
