//! The layering of ARCHITECTURE.md, checked on the source: no import cycle between switchboard's
//! top-level modules, every import pointing down its layers, none of the edges it forbids, and
//! metric producers recording by name constants.
//!
//! The module graph is read from `crates/switchboard/src`: every path through `crate::`, `super::`
//! or `self::` (in `use` declarations and in code, test modules included) that leaves the module it
//! is written in is an edge to the top-level module it reaches. Comments and string literals are
//! skipped, so a doc link is not a dependency.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::path::{Path, PathBuf};

use crate::harness::repo_root;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn architecture_md() -> String {
    let path = repo_root().join("ARCHITECTURE.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

// ---- a lexer that knows just enough Rust to find paths ---------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    PathSep,
    Open,
    Close,
    Comma,
    Other,
}

/// The tokens of `src` with their 1-based lines; comments, strings and char literals are dropped.
fn tokens(src: &str) -> Vec<(Tok, usize)> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\n' => {
                line += 1;
                i += 1;
            }
            c if c.is_whitespace() => i += 1,
            '/' if at(i + 1) == '/' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if at(i + 1) == '*' => {
                let mut depth = 0;
                loop {
                    if i >= chars.len() {
                        break;
                    } else if chars[i] == '/' && at(i + 1) == '*' {
                        depth += 1;
                        i += 2;
                    } else if chars[i] == '*' && at(i + 1) == '/' {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        line += usize::from(chars[i] == '\n');
                        i += 1;
                    }
                }
            }
            '"' => i = skip_string(&chars, i + 1, 0, &mut line),
            '\'' => {
                // A char literal ('a', '\n', '\u{1F600}') or a lifetime ('a), which is skipped.
                if at(i + 1) == '\\' {
                    i += 2;
                    while i < chars.len() && chars[i] != '\'' {
                        i += 1;
                    }
                    i += 1;
                } else if at(i + 2) == '\'' {
                    i += 3;
                } else {
                    i += 1;
                }
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let prefix = matches!(word.as_str(), "r" | "b" | "br" | "c" | "cr");
                if prefix
                    && (at(i) == '"'
                        || (word.ends_with('r') && at(i) == '#' && matches!(at(i + 1), '#' | '"')))
                {
                    // A (raw) byte or C string: r"…", r#"…"#, b"…", br#"…"#.
                    let mut hashes = 0;
                    while at(i) == '#' {
                        hashes += 1;
                        i += 1;
                    }
                    i = skip_string(
                        &chars,
                        i + 1,
                        if word.ends_with('r') { hashes + 1 } else { 0 },
                        &mut line,
                    );
                } else if word == "r" && at(i) == '#' {
                    i += 1; // a raw identifier: r#type
                } else {
                    out.push((Tok::Ident(word), line));
                }
            }
            c if c.is_ascii_digit() => {
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                out.push((Tok::Other, line));
            }
            ':' if at(i + 1) == ':' => {
                out.push((Tok::PathSep, line));
                i += 2;
            }
            '{' | '}' | ',' => {
                out.push((
                    match c {
                        '{' => Tok::Open,
                        '}' => Tok::Close,
                        _ => Tok::Comma,
                    },
                    line,
                ));
                i += 1;
            }
            _ => {
                out.push((Tok::Other, line));
                i += 1;
            }
        }
    }
    out
}

/// Skips a string body from `i` (just after the opening quote); `raw` is 0 for an escaped string,
/// else one more than the number of `#` that close it. Returns the index after the closing quote.
fn skip_string(chars: &[char], mut i: usize, raw: usize, line: &mut usize) -> usize {
    while i < chars.len() {
        match chars[i] {
            '\\' if raw == 0 => i += 2,
            '"' => {
                let hashes = raw.saturating_sub(1);
                if (1..=hashes).all(|k| chars.get(i + k) == Some(&'#')) {
                    return i + 1 + hashes;
                }
                i += 1;
            }
            c => {
                *line += usize::from(c == '\n');
                i += 1;
            }
        }
    }
    i
}

// ---- the module graph ----------------------------------------------------------------------------

/// Where an edge was first seen: a file (relative to `src/`) and a line.
type Site = (String, usize);

/// Top-level modules reached from one file whose module path is `module` (e.g. `["alerts", "tap"]`),
/// each with the first line that reaches it. Edges inside the file's own top-level module are dropped.
fn references(src: &str, module: &[String]) -> BTreeMap<String, usize> {
    let toks = tokens(src);
    let ident = |i: usize| match toks.get(i) {
        Some((Tok::Ident(word), _)) => Some(word.as_str()),
        _ => None,
    };
    let is = |i: usize, t: Tok| toks.get(i).is_some_and(|(tok, _)| *tok == t);
    let mut found: BTreeMap<String, usize> = BTreeMap::new();
    let mut add = |name: &str, line: usize| {
        if module.first().map(String::as_str) != Some(name) {
            found.entry(name.to_owned()).or_insert(line);
        }
    };
    // Inline modules (`mod tests { … }`) deepen the path that `super::` and `self::` start from.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0;
    for i in 0..toks.len() {
        match &toks[i].0 {
            Tok::Open => {
                depth += 1;
                if i >= 2
                    && ident(i - 2) == Some("mod")
                    && let Some(name) = ident(i - 1)
                {
                    inline.push((name.to_owned(), depth));
                }
            }
            Tok::Close => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth -= 1;
            }
            Tok::Ident(word)
                if matches!(word.as_str(), "crate" | "super" | "self")
                    && is(i + 1, Tok::PathSep)
                    && !(i > 0 && is(i - 1, Tok::PathSep)) =>
            {
                let line = toks[i].1;
                let mut path: Vec<String> = match word.as_str() {
                    "crate" => Vec::new(),
                    _ => module.iter().cloned().chain(inline.iter().map(|(m, _)| m.clone())).collect(),
                };
                if word == "super" {
                    path.pop();
                }
                let mut j = i + 2;
                while ident(j) == Some("super") && is(j + 1, Tok::PathSep) {
                    path.pop();
                    j += 2;
                }
                if let Some(top) = path.first() {
                    add(&top.clone(), line);
                } else if let Some(name) = ident(j) {
                    add(name, line);
                } else if is(j, Tok::Open) {
                    // `use crate::{a::X, b, c::{self, Y}}`: the first name of each item at the group's top.
                    let (mut k, mut nested, mut item_start) = (j + 1, 0, true);
                    while k < toks.len() {
                        match &toks[k].0 {
                            Tok::Open => nested += 1,
                            Tok::Close if nested == 0 => break,
                            Tok::Close => nested -= 1,
                            Tok::Comma if nested == 0 => item_start = true,
                            Tok::Ident(name) if item_start => {
                                add(name, toks[k].1);
                                item_start = false;
                            }
                            _ => {}
                        }
                        k += 1;
                    }
                }
            }
            _ => {}
        }
    }
    found
}

/// The module path of a file under `src/`: `alerts/tap.rs` → `["alerts", "tap"]`, `alerts/mod.rs` →
/// `["alerts"]`.
fn module_path(relative: &Path) -> Vec<String> {
    let mut path: Vec<String> = relative
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if path.last().is_some_and(|p| p == "mod") {
        path.pop();
    }
    path
}

/// The top-level modules of the library (files and folders of `src/` but `lib.rs` and the binary's
/// `main.rs`) and, for each, the modules it uses with where it first does.
fn module_graph() -> BTreeMap<String, BTreeMap<String, Site>> {
    let src = crate_dir().join("src");
    let mut graph: BTreeMap<String, BTreeMap<String, Site>> = BTreeMap::new();
    let files = rust_files(&src);
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        if relative == Path::new("lib.rs") || relative == Path::new("main.rs") {
            continue;
        }
        graph.entry(module_path(relative)[0].clone()).or_default();
    }
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let module = module_path(relative);
        if !graph.contains_key(&module[0]) {
            continue; // lib.rs and main.rs
        }
        let text = std::fs::read_to_string(file).unwrap();
        for (target, line) in references(&text, &module) {
            // Paths to items of the crate root (none today) are not modules.
            if graph.contains_key(&target) {
                let name = relative.to_string_lossy().replace('\\', "/");
                graph.get_mut(&module[0]).unwrap().entry(target).or_insert((name, line));
            }
        }
    }
    graph
}

/// A cycle, as its modules in order (the first repeated at the end), if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeMap<String, Site>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeMap<String, Site>>,
        done: &mut BTreeSet<String>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flat_map(BTreeMap::keys) {
            if let Some(cycle) = visit(next, graph, done, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|node| visit(node, graph, &mut done, &mut Vec::new()))
}

fn render(graph: &BTreeMap<String, BTreeMap<String, Site>>) -> String {
    let mut out = String::new();
    for (module, edges) in graph {
        let targets: Vec<&str> = edges.keys().map(String::as_str).collect();
        let _ = writeln!(
            out,
            "  {module} → {}",
            if targets.is_empty() { "-".into() } else { targets.join(", ") }
        );
    }
    out
}

// ---- the checks ------------------------------------------------------------------------------------

#[test]
fn there_is_no_import_cycle_between_top_level_modules() {
    let graph = module_graph();
    // The extractor must see the graph, or every check below passes vacuously.
    assert!(
        graph["startup"].contains_key("webhooks") && graph["startup"].contains_key("delivery"),
        "{}",
        render(&graph)
    );
    if let Some(cycle) = find_cycle(&graph) {
        let sites: Vec<String> = cycle
            .windows(2)
            .map(|pair| {
                let (file, line) = &graph[&pair[0]][&pair[1]];
                format!("  {} → {}: src/{file}:{line}", pair[0], pair[1])
            })
            .collect();
        panic!(
            "import cycle between modules: {}\n{}\nsee ARCHITECTURE.md for the direction data flows; the graph:\n{}",
            cycle.join(" → "),
            sites.join("\n"),
            render(&graph)
        );
    }
}

/// The rules of ARCHITECTURE.md: list items like ``- `telemetry ↛ alerts`: why``, `*` for any module.
fn forbidden_edges(doc: &str) -> Vec<(String, String)> {
    doc.lines()
        .filter_map(|line| line.trim_start().strip_prefix("- `"))
        .filter_map(|rest| rest.split('`').next())
        .filter_map(|rule| rule.split_once('↛'))
        .map(|(from, to)| (from.trim().to_owned(), to.trim().to_owned()))
        .collect()
}

#[test]
fn no_module_uses_what_architecture_md_forbids() {
    let graph = module_graph();
    let rules = forbidden_edges(&architecture_md());
    assert!(rules.len() >= 3, "ARCHITECTURE.md lists its rules as - `from ↛ to`: …; found {rules:?}");
    let mut broken = Vec::new();
    for (from, to) in &rules {
        assert!(
            graph.contains_key(to),
            "ARCHITECTURE.md forbids `{from} ↛ {to}`, but there is no module {to}"
        );
        assert!(
            from == "*" || graph.contains_key(from),
            "ARCHITECTURE.md forbids `{from} ↛ {to}`, but there is no module {from}"
        );
        for (module, edges) in &graph {
            if (from == "*" || from == module)
                && let Some((file, line)) = edges.get(to)
            {
                broken.push(format!("  {module} → {to} (rule `{from} ↛ {to}`): src/{file}:{line}"));
            }
        }
    }
    assert!(broken.is_empty(), "edges ARCHITECTURE.md forbids:\n{}", broken.join("\n"));
}

/// The layers of ARCHITECTURE.md: the first code block under "## Layering", one line per layer from
/// the top, module names before an optional `# comment`.
fn layers(doc: &str) -> Vec<Vec<String>> {
    let section = doc.split_once("## Layering").map(|(_, rest)| rest).unwrap_or_default();
    section
        .lines()
        .skip_while(|line| !line.starts_with("```"))
        .skip(1)
        .take_while(|line| !line.starts_with("```"))
        .map(|line| {
            line.split('#').next().unwrap_or_default().split_whitespace().map(str::to_owned).collect()
        })
        .collect()
}

#[test]
fn every_import_points_down_the_layers_of_architecture_md() {
    let graph = module_graph();
    let layers = layers(&architecture_md());
    let mut level: BTreeMap<&str, usize> = BTreeMap::new();
    for (n, layer) in layers.iter().enumerate() {
        for module in layer {
            assert!(
                graph.contains_key(module),
                "ARCHITECTURE.md's layers name {module}, which is not a module"
            );
            assert!(level.insert(module, n).is_none(), "ARCHITECTURE.md's layers name {module} twice");
        }
    }
    let missing: Vec<&str> = graph.keys().map(String::as_str).filter(|m| !level.contains_key(m)).collect();
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md's layers do not place {}: add each to the line below every module it uses",
        missing.join(", ")
    );
    let mut upward = Vec::new();
    for (module, edges) in &graph {
        for (target, (file, line)) in edges {
            if level[target.as_str()] <= level[module.as_str()] {
                upward.push(format!("  {module} → {target}: src/{file}:{line}"));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports that do not point down the layers of ARCHITECTURE.md (move the import, or the module's \
         line if the layering itself changes):\n{}",
        upward.join("\n")
    );
}

#[test]
fn metric_producers_record_by_name_constants() {
    // A literal name that drifts from telemetry::names (or intercom_api::telemetry) silently
    // disables the alert that compares against the constant.
    let mut literal = Vec::new();
    for dir in [crate_dir().join("src"), crate_dir().join("../intercom-api/src")] {
        for file in rust_files(&dir) {
            let text = std::fs::read_to_string(&file).unwrap();
            for (n, line) in text.lines().enumerate() {
                for kind in ["counter", "gauge", "histogram"] {
                    if let Some(at) = line.find(&format!("{kind}!("))
                        && line[at + kind.len() + 2..].trim_start().starts_with('"')
                    {
                        literal.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                    }
                }
            }
        }
    }
    assert!(literal.is_empty(), "record metrics by their names constant:\n{}", literal.join("\n"));
}

#[test]
fn the_extractor_sees_every_form_of_path() {
    let src = r##"
        //! Mentions crate::docs_only in a comment.
        use crate::alpha::Thing;
        use crate::{beta::{self, B}, gamma};
        use super::delta;
        /* crate::block_comment */
        fn f() -> &'static str {
            let _ = crate::epsilon::call();
            let _ = 'x';
            let _ = r#"crate::raw_string"#;
            "crate::string \" still string"
        }
        pub(crate) fn g() {}
        mod tests {
            use super::*;
            use super::super::zeta;
        }
    "##;
    // As `src/own/file.rs`, `super::delta` and the tests module's `super::super::zeta` stay in `own`.
    let found = references(src, &["own".to_owned(), "file".to_owned()]);
    let names: Vec<&str> = found.keys().map(String::as_str).collect();
    assert_eq!(names, ["alpha", "beta", "epsilon", "gamma"]);
    assert_eq!(found["epsilon"], 8, "the line of the first use");
    // As `src/own.rs`, the same climb leaves the crate root for `zeta`.
    let top = references("mod tests { use super::super::zeta; }", &["own".to_owned()]);
    assert!(top.contains_key("zeta"), "{top:?}");
    assert_eq!(find_cycle(&BTreeMap::from([("a".into(), BTreeMap::new())])), None);
}
