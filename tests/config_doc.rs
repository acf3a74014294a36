//! docs/configuration.md agrees with the code: its list of every key and default is exactly
//! what `registry-gateway config-defaults` prints, and its example file names only known keys,
//! each at its default unless its comment says "default" (what it is instead).

use std::collections::BTreeMap;
use std::process::Command;

use registry_gateway::registry::Registry;

const DOC: &str = include_str!("../docs/configuration.md");
const BEGIN: &str =
    "<!-- config-defaults: begin (the output of `registry-gateway config-defaults`) -->\n```text\n";
const END: &str = "```\n<!-- config-defaults: end -->";

fn printed() -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_registry-gateway"))
        .arg("config-defaults")
        .env_clear()
        .output()
        .expect("run registry-gateway config-defaults");
    assert!(out.status.success(), "config-defaults failed: {out:?}");
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// key → default, from the command's lines `key = default  # help`.
fn reference(printed: &str) -> BTreeMap<String, String> {
    printed
        .lines()
        .map(|line| {
            let (key, rest) = line.split_once(" = ").expect("key = default");
            let (default, help) = rest.rsplit_once("  # ").expect("default  # help");
            assert!(!help.trim().is_empty(), "no help for {key}");
            (key.to_owned(), default.to_owned())
        })
        .collect()
}

#[test]
fn the_list_of_keys_is_the_commands_output() {
    let printed = printed();
    let start = DOC
        .find(BEGIN)
        .expect("docs/configuration.md has the config-defaults section")
        + BEGIN.len();
    let len = DOC[start..].find(END).expect("the section's end marker");
    let documented = &DOC[start..start + len];
    if documented != printed {
        let diff: Vec<String> = diff_lines(documented, &printed);
        panic!(
            "docs/configuration.md disagrees with `registry-gateway config-defaults` \
             (regenerate the section from its output):\n{}",
            diff.join("\n")
        );
    }
}

fn diff_lines(documented: &str, printed: &str) -> Vec<String> {
    let doc: Vec<&str> = documented.lines().collect();
    let code: Vec<&str> = printed.lines().collect();
    let mut out: Vec<String> = doc
        .iter()
        .filter(|l| !code.contains(l))
        .map(|l| format!("- doc:  {l}"))
        .collect();
    out.extend(
        code.iter()
            .filter(|l| !doc.contains(l))
            .map(|l| format!("+ code: {l}")),
    );
    out
}

/// `key = value  # comment` lines of the page's TOML blocks, with their table, dotted.
fn example_lines() -> Vec<(String, String, String)> {
    let mut lines = Vec::new();
    let mut table = String::new();
    let mut in_toml = false;
    for line in DOC.lines() {
        if line.starts_with("```") {
            in_toml = line == "```toml";
            table.clear();
            continue;
        }
        let line = line.trim();
        if !in_toml || line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with('[') {
            table = line.trim_matches(|c| c == '[' || c == ']').to_owned();
            table = table.split(']').next().unwrap_or_default().to_owned();
            continue;
        }
        let (code, comment) = line.split_once(" #").unwrap_or((line, ""));
        let Some((key, value)) = code.split_once('=') else {
            continue;
        };
        let key = key.trim();
        let dotted = if table.is_empty() {
            key.to_owned()
        } else {
            format!("{table}.{key}")
        };
        lines.push((
            generic(&dotted),
            value.trim().to_owned(),
            comment.to_owned(),
        ));
    }
    lines
}

/// `registries.gbd_fl.url` → `registries.<registry>.url`, as the reference names it.
fn generic(key: &str) -> String {
    let mut key = key.to_owned();
    for name in Registry::ALL.map(Registry::key) {
        for table in ["registries.", "shep.signing.registries.", "resilience."] {
            key = key.replace(&format!("{table}{name}"), &format!("{table}<registry>"));
        }
    }
    key
}

#[test]
fn the_example_names_known_keys_at_their_defaults() {
    let reference = reference(&printed());
    let mut wrong = Vec::new();
    for (key, value, comment) in example_lines() {
        // The key itself, a table of keys (an inline table), or a key inside a value's table.
        let known = reference.get(&key).cloned().or_else(|| {
            reference
                .iter()
                .find(|(k, _)| {
                    key.starts_with(&format!("{k}.")) || k.starts_with(&format!("{key}."))
                })
                .map(|_| "…".to_owned())
        });
        match known {
            None => wrong.push(format!("{key}: no such key")),
            Some(default)
                if is_value(&default) && default != value && !comment.contains("default") =>
            {
                wrong.push(format!(
                    "{key} = {value}: the default is {default}; say so in its comment"
                ))
            }
            Some(_) => {}
        }
    }
    assert!(
        wrong.is_empty(),
        "docs/configuration.md's example:\n{}",
        wrong.join("\n")
    );
}

/// A default a value can be compared with (not a table, unset or required).
fn is_value(default: &str) -> bool {
    !matches!(default, "unset" | "(required)" | "…") && !default.starts_with('{')
}
