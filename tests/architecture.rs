//! The shape of the code, checked: no import cycle between the gateway's top-level modules,
//! and no function longer than 80 lines outside tests (see docs/architecture.md).
//!
//! A light reading of the sources, not a Rust parser: comment lines and `#[cfg(test)] mod
//! tests` are skipped, string literals are blanked before braces are counted.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_FUNCTION_LINES: usize = 80;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`, but test files.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable source directory") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs")
                && path.file_name().is_some_and(|n| n != "tests.rs")
            {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The code of a file without its test module and without comment lines.
fn code(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("readable source");
    let lines: Vec<&str> = text.lines().collect();
    let end = lines
        .windows(2)
        .position(|w| w[0].trim() == "#[cfg(test)]" && w[1].trim_start().starts_with("mod tests"))
        .unwrap_or(lines.len());
    lines[..end]
        .iter()
        .map(|l| match l.trim_start().starts_with("//") {
            true => String::new(),
            false => blank_strings(l),
        })
        .collect()
}

/// `line` with the contents of string and char literals replaced by spaces (a literal that
/// spans lines is rare in this code base and kept as is).
fn blank_strings(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        match (in_string, c) {
            (false, '"') => {
                in_string = true;
                out.push(c);
            }
            (false, '/') if chars.peek() == Some(&'/') => break,
            (false, '\'') => {
                // A char literal ('{', '\'') or a lifetime ('a).
                let rest: String = chars.clone().take(3).collect();
                let len = if rest.starts_with('\\') { 3 } else { 2 };
                if rest.chars().nth(len - 1) == Some('\'') {
                    chars.nth(len - 1);
                    out.push_str("' '");
                } else {
                    out.push(c);
                }
            }
            (true, '\\') => {
                chars.next();
                out.push_str("  ");
            }
            (true, '"') => {
                in_string = false;
                out.push(c);
            }
            (true, _) => out.push(' '),
            (false, _) => out.push(c),
        }
    }
    out
}

/// The top-level module a file of `src/` belongs to.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("under src");
    let first = rel.components().next().expect("a component");
    let name = first.as_os_str().to_string_lossy();
    name.trim_end_matches(".rs").to_owned()
}

/// The crate's modules each top-level module names (`crate::x`, `use crate::{x, y}`).
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = root().join("src");
    let modules: BTreeSet<String> = std::fs::read_dir(&src)
        .expect("src")
        .map(|e| {
            e.expect("entry")
                .file_name()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_owned()
        })
        .filter(|m| m != "lib" && m != "main")
        .collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in sources(&src) {
        let from = module_of(&src, &file);
        if !modules.contains(&from) {
            continue;
        }
        let code = code(&file).join("\n");
        for (i, _) in code.match_indices("crate::") {
            let rest = &code[i + "crate::".len()..];
            let names: Vec<&str> = match rest.strip_prefix('{') {
                Some(group) => group[..group.find('}').unwrap_or(group.len())]
                    .split(',')
                    .map(|n| n.trim().split("::").next().unwrap_or_default())
                    .collect(),
                None => vec![rest
                    .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .next()
                    .unwrap_or_default()],
            };
            for name in names {
                if modules.contains(name) && name != from {
                    edges
                        .entry(from.clone())
                        .or_default()
                        .insert(name.to_owned());
                }
            }
        }
        edges.entry(from).or_default();
    }
    edges
}

/// A cycle in `edges`, if there is one (depth-first search).
fn cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|node| visit(node, edges, &mut Vec::new(), &mut done))
}

#[test]
fn the_modules_import_each_other_without_a_cycle() {
    let edges = imports();
    for (module, uses) in &edges {
        let uses: Vec<&str> = uses.iter().map(String::as_str).collect();
        println!("{module:<11} -> {}", uses.join(", "));
    }
    assert!(edges.len() > 10, "the modules of src/ were read: {edges:?}");
    assert!(
        edges["server"].contains("api"),
        "edges are found: {edges:?}"
    );
    if let Some(cycle) = cycle(&edges) {
        panic!("import cycle: {}", cycle.join(" -> "));
    }
}

#[test]
fn the_cycle_check_finds_a_cycle() {
    let edge = |a: &str, b: &[&str]| (a.to_owned(), b.iter().map(|s| s.to_string()).collect());
    let edges = BTreeMap::from([edge("a", &["b"]), edge("b", &["c"]), edge("c", &["a"])]);
    assert_eq!(
        cycle(&edges),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    let edges = BTreeMap::from([edge("a", &["b", "c"]), edge("b", &["c"]), edge("c", &[])]);
    assert_eq!(cycle(&edges), None);
}

/// Functions of `file` longer than the limit, as `path:line name (n lines)`.
fn long_functions(file: &Path) -> Vec<String> {
    let lines = code(file);
    let mut long = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(name) = fn_name(&lines[i]) else {
            i += 1;
            continue;
        };
        let (mut depth, mut opened, mut end) = (0i32, false, None);
        for (j, line) in lines.iter().enumerate().skip(i) {
            for c in line.chars() {
                match c {
                    '{' => (depth, opened) = (depth + 1, true),
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            if (opened && depth == 0) || (!opened && line.trim_end().ends_with(';')) {
                end = Some(j);
                break;
            }
        }
        let end = end.unwrap_or(lines.len() - 1);
        let count = end - i + 1;
        if opened && count > MAX_FUNCTION_LINES {
            long.push(format!(
                "{}:{} {name} ({count} lines)",
                file.display(),
                i + 1
            ));
        }
        // Functions nested in this one are counted within it.
        i = if opened { end + 1 } else { i + 1 };
    }
    long
}

/// The name of the function a line declares, if it does.
fn fn_name(line: &str) -> Option<&str> {
    let mut words = line.split_whitespace().peekable();
    while let Some(word) = words.next() {
        match word {
            "pub" | "async" | "const" | "unsafe" | "extern" => continue,
            w if w.starts_with("pub(") => continue,
            "fn" => {
                let name = words.next()?;
                return name.split(['(', '<']).next();
            }
            _ => return None,
        }
    }
    None
}

#[test]
fn no_function_is_longer_than_80_lines() {
    let mut long = Vec::new();
    for dir in ["src", "vocab/src", "mocks/src", "wss/src"] {
        for file in sources(&root().join(dir)) {
            long.extend(long_functions(&file));
        }
    }
    assert!(
        long.is_empty(),
        "functions over {MAX_FUNCTION_LINES} lines:\n{}",
        long.join("\n")
    );
}

#[test]
fn a_long_function_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f.rs");
    let body = "    let x = \"}\";\n".repeat(MAX_FUNCTION_LINES);
    std::fs::write(
        &file,
        format!("fn short() {{\n}}\n\npub async fn long() {{\n{body}}}\n"),
    )
    .unwrap();
    let long = long_functions(&file);
    assert_eq!(long.len(), 1, "{long:?}");
    assert!(
        long[0].ends_with(&format!(":4 long ({} lines)", MAX_FUNCTION_LINES + 2)),
        "{long:?}"
    );
}
