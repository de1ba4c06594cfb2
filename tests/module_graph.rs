//! The module graph has no cycle: among the crate's top-level modules, and
//! among the submodules of `actors` (run actor → queue → account →
//! directory; children report up through recipients, never through their
//! parent's `Addr`). Edges are read from the `crate::…` and `super::…`
//! paths of every file under `src/` (the binaries under `src/bin/` are
//! left out: nothing imports them; so are unit tests, from a file's
//! `#[cfg(test)]` line on). On failure it prints each cycle with the
//! files that make its edges.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One edge and the files that make it.
type Graph = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

#[test]
fn top_level_modules_have_no_cycle() {
    let (top, _) = graphs();
    let cycles = cycles(&top);
    assert!(cycles.is_empty(), "{}", report(&top, &cycles));
}

#[test]
fn actor_modules_have_no_cycle() {
    let (_, actors) = graphs();
    assert!(
        actors.contains_key("run") && actors.contains_key("queue"),
        "the scan found the actor modules: {:?}",
        actors.keys().collect::<Vec<_>>()
    );
    let cycles = cycles(&actors);
    assert!(cycles.is_empty(), "{}", report(&actors, &cycles));
}

#[test]
fn the_scanner_resolves_crate_super_and_grouped_paths() {
    let text = "use super::{Phase, ScriptQueue};\n\
                use crate::actors::{process, run::Outlet};\n\
                use super::super::monitor::Push; // crate::http in a comment\n\
                let x = crate::run::flatten(y);";
    let module = ["actors", "queue", "requests"].map(String::from);
    let mut found = paths(text, &module);
    found.sort();
    let want: Vec<Vec<String>> = vec![
        vec!["actors", "monitor", "Push"],
        vec!["actors", "process"],
        vec!["actors", "queue", "Phase"],
        vec!["actors", "queue", "ScriptQueue"],
        vec!["actors", "run", "Outlet"],
        vec!["run", "flatten"],
    ]
    .into_iter()
    .map(|p| p.into_iter().map(String::from).collect())
    .collect();
    assert_eq!(found, want);
}

/// The top-level graph and the graph among `actors::*`.
fn graphs() -> (Graph, Graph) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let top_modules: BTreeSet<String> = children(&src);
    let actor_modules: BTreeSet<String> = children(&src.join("actors"));
    let (mut top, mut actors) = (Graph::new(), Graph::new());
    for file in files {
        let rel = file.strip_prefix(&src).expect("under src");
        let module = module_of(rel);
        let Some(first) = module.first() else {
            continue; // lib.rs, main.rs
        };
        if first == "bin" {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("readable source");
        let shown = rel.display().to_string();
        for target in paths(&text, &module) {
            let Some(to) = target.first() else { continue };
            if to != first && top_modules.contains(to) {
                add(&mut top, first, to, &shown);
            }
            if first == "actors" && to == "actors" && module.len() > 1 && target.len() > 1 {
                let (from, to) = (&module[1], &target[1]);
                if from != to && actor_modules.contains(to) {
                    add(&mut actors, from, to, &shown);
                }
            }
        }
        if first == "actors" && module.len() > 1 {
            actors.entry(module[1].clone()).or_default();
        }
    }
    (top, actors)
}

fn add(graph: &mut Graph, from: &str, to: &str, file: &str) {
    graph
        .entry(from.to_owned())
        .or_default()
        .entry(to.to_owned())
        .or_default()
        .insert(file.to_owned());
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The modules a folder declares: its `x.rs` files and `x/` folders.
fn children(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .expect("readable dir")
        .filter_map(|e| {
            let path = e.ok()?.path();
            let stem = path.file_stem()?.to_str()?.to_owned();
            (path.is_dir() || path.extension().is_some_and(|e| e == "rs")).then_some(stem)
        })
        .filter(|name| !matches!(name.as_str(), "lib" | "main" | "mod"))
        .collect()
}

/// `a/b.rs` and `a/b/mod.rs` are module `a::b`.
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    if parts.len() == 1 && matches!(parts[0].as_str(), "lib" | "main") {
        parts.clear();
    }
    parts
}

/// Every absolute path that `crate::…` and `super::…` name in `text`
/// (comments and the `#[cfg(test)]` part at its end left out), resolved
/// from `module`; a group `{a, b::c}` gives one path per member.
fn paths(text: &str, module: &[String]) -> Vec<Vec<String>> {
    let code: String = text
        .lines()
        .take_while(|line| line.trim() != "#[cfg(test)]")
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let bytes = code.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !code.is_char_boundary(i) {
            i += 1;
            continue;
        }
        let at_word = i == 0 || !is_ident(bytes[i - 1]) && bytes[i - 1] != b':';
        let rest = &code[i..];
        let (base, len) = if at_word && rest.starts_with("crate::") {
            (Vec::new(), "crate::".len())
        } else if at_word && rest.starts_with("super::") {
            let mut up = 0;
            let mut len = 0;
            while code[i + len..].starts_with("super::") {
                up += 1;
                len += "super::".len();
            }
            let keep = module.len().saturating_sub(up);
            (module[..keep].to_vec(), len)
        } else {
            i += 1;
            continue;
        };
        i += len;
        let (tails, used) = tails(&code[i..]);
        for tail in tails {
            let mut path = base.clone();
            path.extend(tail);
            found.push(path);
        }
        i += used.max(1);
    }
    found
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The path segments at the start of `text` (`a::b::{c, d::e}`), and how
/// many bytes they take.
fn tails(text: &str) -> (Vec<Vec<String>>, usize) {
    let bytes = text.as_bytes();
    let mut segments = Vec::new();
    let mut i = 0;
    loop {
        let start = i;
        while i < bytes.len() && is_ident(bytes[i]) {
            i += 1;
        }
        if i > start {
            segments.push(text[start..i].to_owned());
        }
        if text[i..].starts_with("::{") && i > start {
            i += 3;
            let close = matching_brace(&text[i..]);
            let mut out = Vec::new();
            for member in split_top(&text[i..i + close]) {
                let member = member.trim();
                if member.is_empty() || member == "self" || member == "*" {
                    out.push(segments.clone());
                    continue;
                }
                for mut tail in tails(member).0 {
                    let mut path = segments.clone();
                    path.append(&mut tail);
                    out.push(path);
                }
            }
            return (out, i + close + 1);
        }
        if text[i..].starts_with("::") && i > start {
            i += 2;
            continue;
        }
        if text[i..].starts_with('{') && i == start {
            i += 1;
            let close = matching_brace(&text[i..]);
            let out = split_top(&text[i..i + close])
                .into_iter()
                .flat_map(|m| tails(m.trim()).0)
                .collect();
            return (out, i + close + 1);
        }
        let paths = if segments.is_empty() {
            Vec::new()
        } else {
            vec![segments]
        };
        return (paths, i);
    }
}

fn matching_brace(text: &str) -> usize {
    let mut depth = 0;
    for (i, b) in text.bytes().enumerate() {
        match b {
            b'{' => depth += 1,
            b'}' if depth == 0 => return i,
            b'}' => depth -= 1,
            _ => {}
        }
    }
    text.len()
}

fn split_top(text: &str) -> Vec<&str> {
    let (mut out, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, b) in text.bytes().enumerate() {
        match b {
            b'{' => depth += 1,
            b'}' => depth -= 1,
            b',' if depth == 0 => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&text[start..]);
    out
}

/// The cycles of `graph`: its strongly connected components of more
/// than one module (Tarjan), each in a stable order.
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    struct Tarjan<'a> {
        graph: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<Vec<String>>,
    }
    impl<'a> Tarjan<'a> {
        fn visit(&mut self, node: &'a str) {
            let n = self.index.len();
            self.index.insert(node, n);
            self.low.insert(node, n);
            self.stack.push(node);
            self.on_stack.insert(node);
            let graph = self.graph;
            for next in graph.get(node).into_iter().flat_map(|e| e.keys()) {
                let next = next.as_str();
                if !self.index.contains_key(next) {
                    self.visit(next);
                    let low = self.low[node].min(self.low[next]);
                    self.low.insert(node, low);
                } else if self.on_stack.contains(next) {
                    let low = self.low[node].min(self.index[next]);
                    self.low.insert(node, low);
                }
            }
            if self.low[node] == self.index[node] {
                let mut component = Vec::new();
                while let Some(top) = self.stack.pop() {
                    self.on_stack.remove(top);
                    component.push(top.to_owned());
                    if top == node {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut tarjan = Tarjan {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for node in graph.keys() {
        if !tarjan.index.contains_key(node.as_str()) {
            tarjan.visit(node);
        }
    }
    tarjan.found
}

/// Each cycle with the edges inside it and the files that make them.
fn report(graph: &Graph, cycles: &[Vec<String>]) -> String {
    let mut out = String::from("import cycles found:\n");
    for cycle in cycles {
        out.push_str(&format!("  cycle among {}:\n", cycle.join(", ")));
        for from in cycle {
            for (to, files) in graph.get(from).into_iter().flatten() {
                if cycle.contains(to) {
                    let files: Vec<_> = files.iter().map(String::as_str).collect();
                    out.push_str(&format!("    {from} -> {to}  ({})\n", files.join(", ")));
                }
            }
        }
    }
    out
}
