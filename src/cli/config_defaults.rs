//! `registry-gateway config-defaults`: every configuration key with its default and one line
//! of help (the reference of docs/configuration.md).

use std::process::ExitCode;

pub(super) fn run() -> ExitCode {
    print!("{}", crate::config_doc::render_all());
    ExitCode::SUCCESS
}
