//! ARCHITECTURE.md's invariants, checked against the source.
//!
//! The "Invariants" section states each module's boundary in the negative, in three forms this test
//! reads and enforces:
//!
//! * "`X` knows nothing about `A`, `B`": nothing under `src/X` names module `A` (`crate::A`) or crate `A`;
//! * "`X` depends on nothing but `A`, `B`" (or "on nothing else in the crate"): every `crate::` path under
//!   `src/X` starts with one of them;
//! * "nothing but `A` uses `P`": no file outside `src/A` (and the module that defines `P`) names `P`.
//!
//! Every module of the library must have a rule of the first or second form, and the modules' imports
//! must have no cycle. A new dependency that breaks a rule fails here; so does a rule the code no longer
//! keeps, or a new module nobody wrote a boundary for.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The library's top-level modules: `src/NAME.rs` or `src/NAME/`, without the binary's `cli`.
fn modules() -> BTreeSet<String> {
    std::fs::read_dir(root().join("src"))
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            let module = name.strip_suffix(".rs").unwrap_or(&name).to_string();
            (!["lib", "main", "cli"].contains(&module.as_str()) && !module.contains('.')).then_some(module)
        })
        .collect()
}

/// Every `.rs` file of a module, with its code: comment lines and trailing comments dropped, so prose
/// that mentions a module is not a dependency.
fn sources(module: &str) -> Vec<(PathBuf, String)> {
    let src = root().join("src");
    let mut out = Vec::new();
    let file = src.join(format!("{module}.rs"));
    if file.exists() {
        out.push(file);
    }
    let mut dirs = vec![src.join(module)];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.into_iter().map(|p| {
        let text = std::fs::read_to_string(&p).unwrap();
        (p, code_only(&text))
    }).collect()
}

fn code_only(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .map(|l| l.find(" // ").map_or(l, |i| &l[..i]))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The crate paths a piece of code names, as written after `crate::` (`spool::Kind`, `transport::uri`),
/// including each name inside `crate::{a, b::c}`.
fn crate_paths(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        // `labeld_crate::` or `$crate::` are not ours.
        let before = rest[..i].chars().last();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = matching_brace(group);
            for item in split_top_level(&group[..end]) {
                out.insert(path_of(item.trim()));
            }
        } else {
            out.insert(path_of(rest));
        }
    }
    out.retain(|p| !p.is_empty());
    out
}

fn matching_brace(s: &str) -> usize {
    let mut depth = 0;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return i,
            '}' => depth -= 1,
            _ => {}
        }
    }
    s.len()
}

fn split_top_level(s: &str) -> Vec<&str> {
    let (mut out, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// `spool::{Kind, X}` → `spool`; `transport::uri::Uri` → `transport::uri::Uri`.
fn path_of(s: &str) -> String {
    s.chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':').collect::<String>().trim_end_matches(':').to_string()
}

fn names_module(paths: &BTreeSet<String>, module: &str) -> bool {
    paths.iter().any(|p| p == module || p.starts_with(&format!("{module}::")))
}

/// Whether code names an outside crate: `axum::…` or `use axum`.
fn names_crate(code: &str, krate: &str) -> bool {
    code.match_indices(krate).any(|(i, _)| {
        let before = code[..i].chars().last();
        let after = &code[i + krate.len()..];
        !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') && (after.starts_with("::") || (code[..i].ends_with("use ") && after.starts_with([';', ' '])))
    })
}

#[derive(Debug)]
enum Rule {
    KnowsNothingAbout { module: String, names: Vec<String> },
    DependsOnlyOn { module: String, allowed: Vec<String> },
    OnlyUses { users: Vec<String>, path: String },
}

fn ticked(s: &str) -> Vec<String> {
    s.split('`').skip(1).step_by(2).map(str::to_string).collect()
}

/// The rules in ARCHITECTURE.md's "Invariants" section, with the line each came from.
fn rules() -> Vec<(String, Rule)> {
    let doc = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let section = doc.split("\n## Invariants").nth(1).expect("ARCHITECTURE.md has an Invariants section");
    let section = section.split("\n## ").next().unwrap();
    let mut out = Vec::new();
    // A bullet may wrap over several lines.
    for bullet in section.split("\n* ").skip(1) {
        let text = bullet.split("\n\n").next().unwrap().split_whitespace().collect::<Vec<_>>().join(" ");
        let sentence = text.split(". ").next().unwrap().split(": ").next().unwrap();
        let rule = if let Some((head, tail)) = sentence.split_once(" knows nothing about ") {
            Rule::KnowsNothingAbout { module: ticked(head).remove(0), names: ticked(tail) }
        } else if let Some((head, tail)) = sentence.split_once(" depends on nothing but ") {
            Rule::DependsOnlyOn { module: ticked(head).remove(0), allowed: ticked(tail) }
        } else if let Some(head) = sentence.strip_suffix(" depends on nothing else in the crate") {
            Rule::DependsOnlyOn { module: ticked(head).remove(0), allowed: vec![] }
        } else if let Some((head, tail)) = sentence.strip_prefix("nothing but ").and_then(|s| s.split_once(" uses ")) {
            Rule::OnlyUses { users: ticked(head), path: ticked(tail).remove(0) }
        } else {
            continue;
        };
        out.push((text.trim().to_string(), rule));
    }
    out
}

fn show(p: &Path) -> String {
    p.strip_prefix(root()).unwrap_or(p).display().to_string()
}

#[test]
fn every_invariant_in_architecture_md_holds() {
    let modules = modules();
    let rules = rules();
    assert!(rules.len() >= modules.len(), "only {} rules were read from ARCHITECTURE.md", rules.len());
    let mut broken = Vec::new();
    for (line, rule) in &rules {
        match rule {
            Rule::KnowsNothingAbout { module, names } => {
                assert!(modules.contains(module), "no module `{module}` (rule: {line})");
                assert!(!names.is_empty(), "a rule names nothing: {line}");
                for (file, code) in sources(module) {
                    let paths = crate_paths(&code);
                    for name in names {
                        let hit = if modules.contains(name) { names_module(&paths, name) } else { names_crate(&code, name) };
                        if hit {
                            broken.push(format!("{} names `{name}`, but: {line}", show(&file)));
                        }
                    }
                }
            }
            Rule::DependsOnlyOn { module, allowed } => {
                assert!(modules.contains(module), "no module `{module}` (rule: {line})");
                for (file, code) in sources(module) {
                    for path in crate_paths(&code) {
                        let own = path == *module || path.starts_with(&format!("{module}::"));
                        let ok = allowed.iter().any(|a| path == *a || path.starts_with(&format!("{a}::")) || a.starts_with(&format!("{path}::")) && path.contains("::"));
                        if !own && !ok {
                            broken.push(format!("{} names `crate::{path}`, but: {line}", show(&file)));
                        }
                    }
                }
            }
            Rule::OnlyUses { users, path } => {
                let owner = path.split("::").next().unwrap().to_string();
                for module in &modules {
                    if users.contains(module) || *module == owner {
                        continue;
                    }
                    for (file, code) in sources(module) {
                        let paths = crate_paths(&code);
                        if paths.iter().any(|p| p == path || p.starts_with(&format!("{path}::")) || (path.contains("::") && code.contains(path.as_str()))) {
                            broken.push(format!("{} names `{path}`, but: {line}", show(&file)));
                        }
                    }
                }
            }
        }
    }
    assert!(broken.is_empty(), "ARCHITECTURE.md's invariants are broken:\n  {}", broken.join("\n  "));
}

#[test]
fn every_module_states_its_boundary() {
    let covered: BTreeSet<String> = rules()
        .into_iter()
        .filter_map(|(_, r)| match r {
            Rule::KnowsNothingAbout { module, .. } | Rule::DependsOnlyOn { module, .. } => Some(module),
            Rule::OnlyUses { .. } => None,
        })
        .collect();
    let missing: Vec<_> = modules().difference(&covered).cloned().collect();
    assert!(missing.is_empty(), "modules with no \"knows nothing about\" or \"depends on nothing but\" line in ARCHITECTURE.md's Invariants: {missing:?}");
}

/// No two modules import each other, directly or around a loop.
#[test]
fn modules_import_no_cycle() {
    let modules = modules();
    let graph: BTreeMap<String, BTreeSet<String>> = modules
        .iter()
        .map(|m| {
            let paths: BTreeSet<String> = sources(m).iter().flat_map(|(_, code)| crate_paths(code)).collect();
            let uses = modules.iter().filter(|o| *o != m && names_module(&paths, o)).cloned().collect();
            (m.clone(), uses)
        })
        .collect();
    // Depth-first search; a grey node met again closes a cycle.
    fn visit<'a>(m: &'a str, graph: &'a BTreeMap<String, BTreeSet<String>>, state: &mut BTreeMap<&'a str, bool>, path: &mut Vec<&'a str>) -> Option<Vec<String>> {
        match state.get(m) {
            Some(true) => return None,
            Some(false) => {
                let start = path.iter().position(|p| *p == m).unwrap();
                let mut cycle: Vec<String> = path[start..].iter().map(|s| s.to_string()).collect();
                cycle.push(m.to_string());
                return Some(cycle);
            }
            None => {}
        }
        state.insert(m, false);
        path.push(m);
        for next in &graph[m] {
            if let Some(c) = visit(next, graph, state, path) {
                return Some(c);
            }
        }
        path.pop();
        state.insert(m, true);
        None
    }
    let mut state = BTreeMap::new();
    for m in graph.keys() {
        if let Some(cycle) = visit(m, &graph, &mut state, &mut Vec::new()) {
            panic!("an import cycle between modules: {}", cycle.join(" → "));
        }
    }
}

/// The reader this test relies on, on the forms the source uses.
#[test]
fn crate_paths_are_read_from_every_form_of_use() {
    let code = "use crate::spool::{Kind, State};\nuse crate::{bins::BinPattern, events::{Event, EventBus}};\nlet x = crate::transport::uri::Uri::parse(s);\nmacro_rules! m { () => { $crate::order::Order } }";
    let paths = crate_paths(code);
    assert_eq!(paths, ["bins::BinPattern", "events", "spool", "transport::uri::Uri::parse"].into_iter().map(String::from).collect());
    assert!(names_crate("use axum::Router;", "axum") && names_crate("use axum;", "axum") && !names_crate("use maxum::Router;", "axum"));
    assert_eq!(code_only("let a = 1; // crate::spool\n// crate::feed\nlet b = 2;"), "let a = 1;\nlet b = 2;");
}
