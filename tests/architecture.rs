//! The shape of the code, checked: no import cycle between the gateway's top-level modules,
//! and no function longer than 80 lines outside tests (see docs/architecture.md).
//!
//! The sources are parsed as Rust (`syn`): every function and method of every file is seen;
//! only items under `#[cfg(test)]` and the files of test modules (`#[cfg(test)] mod tests;`)
//! are left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::{self, Visit};

const MAX_FUNCTION_LINES: usize = 80;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`, but the files of test modules.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable source directory") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let tests: BTreeSet<PathBuf> = files.iter().flat_map(|f| test_module_files(f)).collect();
    files.retain(|f| !tests.contains(f));
    files.sort();
    files
}

fn parse(path: &Path) -> syn::File {
    let text = std::fs::read_to_string(path).expect("readable source");
    syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Whether `attrs` hold `#[cfg(test)]`.
fn is_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && matches!(&a.meta, syn::Meta::List(l) if l.tokens.to_string() == "test")
    })
}

/// The files `file` declares as test modules (`#[cfg(test)] mod tests;`): `dir/tests.rs` or
/// `dir/tests/mod.rs`, `dir` being the directory of `file`'s own submodules.
fn test_module_files(file: &Path) -> Vec<PathBuf> {
    let parent = file.parent().expect("a directory");
    let stem = file.file_stem().expect("a file name").to_string_lossy();
    let dir = match stem.as_ref() {
        "mod" | "lib" | "main" => parent.to_path_buf(),
        _ => parent.join(stem.as_ref()),
    };
    parse(file)
        .items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Mod(m) if m.content.is_none() && is_test(&m.attrs) => Some(&m.ident),
            _ => None,
        })
        .flat_map(|name| {
            [
                dir.join(format!("{name}.rs")),
                dir.join(name.to_string()).join("mod.rs"),
            ]
        })
        .collect()
}

/// What a visit of one file's production code found: its functions with their first and last
/// lines, and the names that follow `crate::`.
#[derive(Default)]
struct FileReading {
    functions: Vec<(String, usize, usize)>,
    crate_names: BTreeSet<String>,
}

impl FileReading {
    fn of(path: &Path) -> Self {
        let mut reading = Self::default();
        reading.visit_file(&parse(path));
        reading
    }

    fn function(&mut self, sig: &syn::Signature, block: &syn::Block) {
        use syn::spanned::Spanned;
        let first = sig.span().start().line;
        let last = block.brace_token.span.close().end().line;
        self.functions.push((sig.ident.to_string(), first, last));
    }

    /// `crate :: name` in the tokens of a macro call (`format!`, `matches!`, ...).
    fn crate_names_in(&mut self, tokens: proc_macro2::TokenStream) {
        let tokens: Vec<proc_macro2::TokenTree> = tokens.into_iter().collect();
        for (i, token) in tokens.iter().enumerate() {
            match token {
                proc_macro2::TokenTree::Group(g) => self.crate_names_in(g.stream()),
                proc_macro2::TokenTree::Ident(id) if id == "crate" => {
                    if let Some(proc_macro2::TokenTree::Ident(name)) = tokens.get(i + 3) {
                        self.crate_names.insert(name.to_string());
                    }
                }
                _ => {}
            }
        }
    }

    /// The first names of a `use crate::...` tree.
    fn use_names(&mut self, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                self.crate_names.insert(p.ident.to_string());
            }
            syn::UseTree::Name(n) => {
                self.crate_names.insert(n.ident.to_string());
            }
            syn::UseTree::Rename(r) => {
                self.crate_names.insert(r.ident.to_string());
            }
            syn::UseTree::Group(g) => g.items.iter().for_each(|t| self.use_names(t)),
            syn::UseTree::Glob(_) => {}
        }
    }
}

impl<'ast> Visit<'ast> for FileReading {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        let attrs = match item {
            syn::Item::Fn(i) => &i.attrs,
            syn::Item::Impl(i) => &i.attrs,
            syn::Item::Mod(i) => &i.attrs,
            syn::Item::Trait(i) => &i.attrs,
            syn::Item::Use(i) => &i.attrs,
            syn::Item::Const(i) => &i.attrs,
            syn::Item::Static(i) => &i.attrs,
            syn::Item::Struct(i) => &i.attrs,
            syn::Item::Enum(i) => &i.attrs,
            syn::Item::Macro(i) => &i.attrs,
            _ => return visit::visit_item(self, item),
        };
        if !is_test(attrs) {
            visit::visit_item(self, item);
        }
    }

    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        self.function(&f.sig, &f.block);
        visit::visit_item_fn(self, f);
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        if !is_test(&f.attrs) {
            self.function(&f.sig, &f.block);
            visit::visit_impl_item_fn(self, f);
        }
    }

    fn visit_trait_item_fn(&mut self, f: &'ast syn::TraitItemFn) {
        if let Some(block) = &f.default {
            self.function(&f.sig, block);
        }
        visit::visit_trait_item_fn(self, f);
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        if let syn::UseTree::Path(p) = &u.tree {
            if p.ident == "crate" {
                self.use_names(&p.tree);
            }
        }
        visit::visit_item_use(self, u);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let mut segments = path.segments.iter();
        if let (Some(first), Some(second)) = (segments.next(), segments.next()) {
            if first.ident == "crate" {
                self.crate_names.insert(second.ident.to_string());
            }
        }
        visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        self.crate_names_in(m.tokens.clone());
        visit::visit_macro(self, m);
    }
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
        let uses = edges.entry(from.clone()).or_default();
        for name in FileReading::of(&file).crate_names {
            if modules.contains(&name) && name != from {
                uses.insert(name);
            }
        }
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
    FileReading::of(file)
        .functions
        .into_iter()
        .filter(|(_, first, last)| last - first + 1 > MAX_FUNCTION_LINES)
        .map(|(name, first, last)| {
            let count = last - first + 1;
            format!("{}:{first} {name} ({count} lines)", file.display())
        })
        .collect()
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

/// tests/fixtures/long_fn.rs: after a `mod tests;` line (where the old line-based guard
/// stopped reading), a function of 81 lines, one of 80, and an 81-line one under
/// `#[cfg(test)]`.
#[test]
fn a_long_function_is_found_wherever_it_is() {
    let fixture = root().join("tests/fixtures/long_fn.rs");
    let long = long_functions(&fixture);
    assert_eq!(long.len(), 2, "{long:?}");
    assert!(long[0].ends_with(" too_long (81 lines)"), "{long:?}");
    assert!(long[1].ends_with(" method_too_long (81 lines)"), "{long:?}");
}

#[test]
fn the_files_of_test_modules_are_left_out() {
    let files = sources(&root().join("src"));
    assert!(files.contains(&root().join("src/audit/mod.rs")));
    assert!(
        !files.contains(&root().join("src/audit/tests.rs")),
        "{files:?}"
    );
    assert!(
        !files.contains(&root().join("src/resilience/tests.rs")),
        "{files:?}"
    );
}
