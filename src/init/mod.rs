//! `preflight init`.

use std::path::Path;

pub fn run(_file: &Path, _force: bool) -> Result<(), String> {
    Err("not yet".into())
}
