//! Reading `gracewatch.toml`: raw, span-carrying structures, then validation into [`Manifest`].

use super::duration::parse_duration_ms;
use super::error::ManifestError;
use super::runnable::{Place, Places};
use super::spec::{
    DEFAULT_COOPERATIVE_MS, DEFAULT_GRACE_MS, DEFAULT_PROBE_INTERVAL_MS, Escalation, HazardLevel, Manifest, NodeSpec,
};
use crate::signal::Signal;
use indexmap::IndexMap;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    name: Option<Spanned<String>>,
    probe_interval: Option<Spanned<String>>,
    #[serde(default)]
    defaults: RawNode,
    #[serde(default)]
    nodes: IndexMap<String, Spanned<RawNode>>,
    #[serde(default)]
    hazards: IndexMap<String, Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawNode {
    cmd: Option<Spanned<toml::Value>>,
    cwd: Option<Spanned<String>>,
    env: Option<BTreeMap<String, String>>,
    stop_signal: Option<Spanned<String>>,
    grace: Option<Spanned<String>>,
    escalate: Option<Vec<Spanned<String>>>,
    depends_on: Option<Vec<Spanned<String>>>,
    group: Option<bool>,
    cooperative: Option<Spanned<String>>,
    drain_extension: Option<Spanned<String>>,
}

/// Where the parser is, for errors.
struct Ctx<'a> {
    file: &'a Path,
    source: &'a str,
}

impl Ctx<'_> {
    fn err<T>(&self, span: std::ops::Range<usize>, key: &str, message: impl Into<String>) -> Result<T, ManifestError> {
        Err(ManifestError::at(self.file, self.source, Some(span), key, message))
    }

    fn duration(&self, value: &Spanned<String>, key: &str) -> Result<u64, ManifestError> {
        parse_duration_ms(value.get_ref()).or_else(|e| self.err(value.span(), key, e.to_string()))
    }

    fn signal(&self, value: &Spanned<String>, key: &str) -> Result<Signal, ManifestError> {
        value.get_ref().parse::<Signal>().or_else(|e| self.err(value.span(), key, e.to_string()))
    }
}

/// Parses and validates TOML manifest text. `default_name` is used when there is no `name`.
/// Also returns where each node's `cmd` and `cwd` are written, for the checks made before a run.
pub(super) fn parse_toml(file: &Path, source: &str, default_name: &str) -> Result<(Manifest, Places), ManifestError> {
    let ctx = Ctx { file, source };
    let de = toml::de::Deserializer::parse(source)
        .map_err(|e| ManifestError::at(file, source, e.span(), "", e.message().to_string()))?;
    let raw: RawManifest = serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e
            .path()
            .to_string()
            .replace("$__serde_spanned_private_value.", "")
            .replace(".$__serde_spanned_private_value", "");
        let key = if key == "." { String::new() } else { key };
        let inner = e.into_inner();
        ManifestError::at(file, source, inner.span(), &key, inner.message().to_string())
    })?;

    let name = match &raw.name {
        Some(n) => {
            if !super::valid_name(n.get_ref()) {
                return ctx.err(
                    n.span(),
                    "name",
                    format!("bad session name {:?}: use letters, digits, '-', '_' and '.'", n.get_ref()),
                );
            }
            n.get_ref().clone()
        }
        None => default_name.to_string(),
    };
    let probe_interval_ms = match &raw.probe_interval {
        Some(p) => {
            let ms = ctx.duration(p, "probe_interval")?;
            if ms < 10 {
                return ctx.err(p.span(), "probe_interval", "probe interval must be at least 10ms");
            }
            ms
        }
        None => DEFAULT_PROBE_INTERVAL_MS,
    };

    let mut hazards = BTreeMap::new();
    for (id, level) in &raw.hazards {
        let key = format!("hazards.{id}");
        if !crate::hazard_id::HazardId::ALL.iter().any(|h| h.as_str() == id) {
            let known: Vec<&str> = crate::hazard_id::HazardId::ALL.iter().map(|h| h.as_str()).collect();
            return ctx.err(level.span(), &key, format!("unknown hazard {id:?}; known hazards: {}", known.join(", ")));
        }
        let level = match level.get_ref().as_str() {
            "allow" => HazardLevel::Allow,
            "warn" => HazardLevel::Warn,
            other => {
                return ctx.err(level.span(), &key, format!("unknown level {other:?}: expected \"allow\" or \"warn\""));
            }
        };
        hazards.insert(id.clone(), level);
    }

    if raw.defaults.cmd.is_some() || raw.defaults.depends_on.is_some() {
        let span = raw
            .defaults
            .cmd
            .as_ref()
            .map(Spanned::span)
            .or_else(|| raw.defaults.depends_on.as_ref().and_then(|d| d.first()).map(Spanned::span));
        return ctx.err(span.unwrap_or(0..0), "defaults", "`cmd` and `depends_on` belong to a node, not to [defaults]");
    }

    let mut nodes = Vec::new();
    let mut places = Places::new();
    for (node_name, node) in &raw.nodes {
        let prefix = format!("nodes.{node_name}");
        if !super::valid_name(node_name) {
            return ctx.err(
                node.span(),
                &prefix,
                format!("bad node name {node_name:?}: use letters, digits, '-', '_' and '.'"),
            );
        }
        nodes.push(resolve_node(&ctx, node_name, node, &raw.defaults, &prefix)?);
        places.insert(node_name.clone(), node_places(node.get_ref(), &raw.defaults, &prefix));
    }
    if nodes.is_empty() {
        return Err(ManifestError::whole(file, "no nodes: add at least one [nodes.NAME] table with a `cmd`"));
    }

    // Dependencies: known names, no cycles.
    for (node_name, node) in &raw.nodes {
        for dep in node.get_ref().depends_on.iter().flatten() {
            if !raw.nodes.contains_key(dep.get_ref()) {
                return ctx.err(
                    dep.span(),
                    &format!("nodes.{node_name}.depends_on"),
                    format!("unknown node {:?} in depends_on", dep.get_ref()),
                );
            }
            if dep.get_ref() == node_name {
                return ctx.err(dep.span(), &format!("nodes.{node_name}.depends_on"), "a node cannot depend on itself");
            }
        }
    }
    if let Some(cycle) = super::order::find_cycle(&nodes) {
        let first = &cycle[0];
        let span = raw
            .nodes
            .get(first)
            .and_then(|n| n.get_ref().depends_on.as_ref())
            .and_then(|d| d.iter().find(|d| cycle.contains(d.get_ref())))
            .map_or(0..0, Spanned::span);
        return ctx.err(span, &format!("nodes.{first}.depends_on"), format!("dependency cycle: {}", cycle.join(" → ")));
    }

    Ok((
        Manifest { name, path: Some(file.to_path_buf()), nodes, hazards, probe_interval_ms, watch_stop_signal: None },
        places,
    ))
}

/// Where a node's `cmd` and `cwd` (its own, else the one of `[defaults]`) are written.
fn node_places(n: &RawNode, defaults: &RawNode, prefix: &str) -> super::runnable::NodePlaces {
    let cmd = n.cmd.as_ref().map_or(0..0, Spanned::span);
    let cwd = match (&n.cwd, &defaults.cwd) {
        (Some(c), _) => Some(Place { span: c.span(), key: format!("{prefix}.cwd") }),
        (None, Some(c)) => Some(Place { span: c.span(), key: "defaults.cwd".to_string() }),
        (None, None) => None,
    };
    super::runnable::NodePlaces { cmd: Place { span: cmd, key: format!("{prefix}.cmd") }, cwd }
}

fn resolve_node(
    ctx: &Ctx,
    name: &str,
    node: &Spanned<RawNode>,
    defaults: &RawNode,
    prefix: &str,
) -> Result<NodeSpec, ManifestError> {
    let n = node.get_ref();
    let cmd = match &n.cmd {
        None => {
            return ctx.err(
                node.span(),
                prefix,
                "missing `cmd`: the command to run, as a string or an array of strings",
            );
        }
        Some(cmd) => parse_cmd(ctx, cmd, &format!("{prefix}.cmd"))?,
    };
    let pick = |own: &Option<Spanned<String>>,
                def: &Option<Spanned<String>>,
                key: &str|
     -> (Option<Spanned<String>>, String) {
        match (own, def) {
            (Some(v), _) => (Some(v.clone()), format!("{prefix}.{key}")),
            (None, Some(v)) => (Some(v.clone()), format!("defaults.{key}")),
            (None, None) => (None, String::new()),
        }
    };
    let stop_signal = match pick(&n.stop_signal, &defaults.stop_signal, "stop_signal") {
        (Some(v), key) => ctx.signal(&v, &key)?,
        _ => Signal::TERM,
    };
    let (grace_value, grace_key) = pick(&n.grace, &defaults.grace, "grace");
    let grace_ms = match &grace_value {
        Some(v) => ctx.duration(v, &grace_key)?,
        None => DEFAULT_GRACE_MS,
    };
    if grace_ms == 0 {
        if let Some(v) = &grace_value {
            return ctx.err(
                v.span(),
                &grace_key,
                "grace must be more than 0 (use `gracewatch stop --force` to kill at once)",
            );
        }
    }
    let cooperative_ms = match pick(&n.cooperative, &defaults.cooperative, "cooperative") {
        (Some(v), key) => ctx.duration(&v, &key)?,
        _ => DEFAULT_COOPERATIVE_MS,
    };
    let drain_extension_ms = match pick(&n.drain_extension, &defaults.drain_extension, "drain_extension") {
        (Some(v), key) => ctx.duration(&v, &key)?,
        _ => 0,
    };
    let (escalate_raw, escalate_key) = match (&n.escalate, &defaults.escalate) {
        (Some(e), _) => (e.clone(), format!("{prefix}.escalate")),
        (None, Some(e)) => (e.clone(), "defaults.escalate".to_string()),
        (None, None) => (Vec::new(), String::new()),
    };
    let mut escalate = Vec::new();
    let mut total = 0;
    for stage in &escalate_raw {
        let text = stage.get_ref();
        let Some((sig, dur)) = text.split_once(':') else {
            return ctx.err(
                stage.span(),
                &escalate_key,
                format!("bad stage {text:?}: expected \"SIGNAL:DURATION\", such as \"SIGINT:2s\""),
            );
        };
        let signal = sig.parse::<Signal>().or_else(|e| ctx.err(stage.span(), &escalate_key, e.to_string()))?;
        if signal == Signal::KILL {
            return ctx.err(
                stage.span(),
                &escalate_key,
                "SIGKILL is always the last stage; list only the stages before it",
            );
        }
        let after_ms = parse_duration_ms(dur).or_else(|e| ctx.err(stage.span(), &escalate_key, e.to_string()))?;
        total += after_ms;
        escalate.push(Escalation { signal, after_ms });
    }
    if total >= grace_ms && !escalate.is_empty() {
        let span = escalate_raw.last().map_or(0..0, Spanned::span);
        return ctx.err(
            span,
            &escalate_key,
            format!("escalation stages take {} but grace is {}: every stage must fit before the SIGKILL at the end of grace", crate::util::fmt_ms(total), crate::util::fmt_ms(grace_ms)),
        );
    }
    let mut env = defaults.env.clone().unwrap_or_default();
    env.extend(n.env.clone().unwrap_or_default());
    Ok(NodeSpec {
        name: name.to_string(),
        cmd,
        cwd: n.cwd.as_ref().or(defaults.cwd.as_ref()).map(|c| c.get_ref().into()),
        env,
        stop_signal,
        grace_ms,
        escalate,
        depends_on: n.depends_on.iter().flatten().map(|d| d.get_ref().clone()).collect(),
        group: n.group.or(defaults.group).unwrap_or(true),
        cooperative_ms,
        drain_extension_ms,
    })
}

fn parse_cmd(ctx: &Ctx, cmd: &Spanned<toml::Value>, key: &str) -> Result<Vec<String>, ManifestError> {
    let argv = match cmd.get_ref() {
        toml::Value::String(s) => shell_words::split(s)
            .or_else(|e| ctx.err(cmd.span(), key, format!("cannot split command {s:?} like a shell would: {e}")))?,
        toml::Value::Array(items) => {
            let mut argv = Vec::new();
            for item in items {
                match item {
                    toml::Value::String(s) => argv.push(s.clone()),
                    other => {
                        return ctx.err(
                            cmd.span(),
                            key,
                            format!("expected an array of strings, found a {}", other.type_str()),
                        );
                    }
                }
            }
            argv
        }
        other => {
            return ctx.err(
                cmd.span(),
                key,
                format!("expected a string or an array of strings, found a {}", other.type_str()),
            );
        }
    };
    if argv.is_empty() || argv[0].is_empty() {
        return ctx.err(cmd.span(), key, "empty command");
    }
    Ok(argv)
}
