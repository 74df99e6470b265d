//! Reading a `Procfile`: `name: command` lines, `#` comments. Every node gets the defaults.

use super::error::ManifestError;
use super::runnable::{NodePlaces, Place, Places};
use super::spec::{DEFAULT_PROBE_INTERVAL_MS, Manifest, NodeSpec};
use std::collections::BTreeMap;
use std::path::Path;

/// Also returns where each node's command is written, for the checks made before a run.
pub(super) fn parse_procfile(
    file: &Path,
    source: &str,
    default_name: &str,
) -> Result<(Manifest, Places), ManifestError> {
    let mut nodes: Vec<NodeSpec> = Vec::new();
    let mut places = Places::new();
    let mut offset = 0;
    for raw_line in source.split_inclusive('\n') {
        let line_start = offset;
        offset += raw_line.len();
        let line = raw_line.trim_end_matches(['\n', '\r']);
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indent = line.len() - trimmed.len();
        let start = line_start + indent;
        let Some((name, command)) = trimmed.split_once(':') else {
            return Err(ManifestError::at(
                file,
                source,
                Some(start..start + trimmed.len()),
                "",
                "expected `name: command`",
            ));
        };
        let name = name.trim();
        if !super::valid_name(name) {
            return Err(ManifestError::at(
                file,
                source,
                Some(start..start + name.len().max(1)),
                name,
                format!("bad node name {name:?}: use letters, digits, '-', '_' and '.'"),
            ));
        }
        let cmd_start = start + trimmed.find(':').map_or(0, |i| i + 1);
        if nodes.iter().any(|n| n.name == name) {
            return Err(ManifestError::at(
                file,
                source,
                Some(start..start + name.len()),
                name,
                format!("duplicate node name {name:?}"),
            ));
        }
        let argv = shell_words::split(command.trim()).map_err(|e| {
            ManifestError::at(
                file,
                source,
                Some(cmd_start..cmd_start + command.len()),
                name,
                format!("cannot split the command like a shell would: {e}"),
            )
        })?;
        if argv.is_empty() {
            return Err(ManifestError::at(file, source, Some(cmd_start..cmd_start + 1), name, "empty command"));
        }
        // The command's first word, after the spaces following the colon.
        let words_at = cmd_start + (command.len() - command.trim_start().len());
        let span = words_at..words_at + command.trim().len();
        places.insert(name.to_string(), NodePlaces { cmd: Place { span, key: name.to_string() }, cwd: None });
        nodes.push(NodeSpec::with_defaults(name, argv));
    }
    if nodes.is_empty() {
        return Err(ManifestError::whole(file, "no processes: expected lines of `name: command`"));
    }
    let manifest = Manifest {
        name: default_name.to_string(),
        path: Some(file.to_path_buf()),
        nodes,
        hazards: BTreeMap::new(),
        probe_interval_ms: DEFAULT_PROBE_INTERVAL_MS,
        watch_stop_signal: None,
    };
    Ok((manifest, places))
}
