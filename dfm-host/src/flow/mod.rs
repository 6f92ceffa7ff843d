//! Flow files: the subset of the original's format that `dfm run` runs.
//!
//! ```yaml
//! package:
//!   name: demo
//!   with: {seed: {type: int, value: 1}}
//!   tasks:
//!   - name: build
//!     run: make
//!   - root: test          # `root: NAME` is `name: NAME` + `scope: root`
//!     needs: [build]
//!     run: ./sim --seed ${{ seed }}
//!     tags: [{std.ResourceTag: {resource_class: large}}]
//! ```
//!
//! Loading checks everything before anything runs: unknown keys, unknown
//! tasks in `needs`, cycles, bad expressions. Errors name the file and line.

pub mod expr;
mod graph;
mod loader;
mod model;
pub mod original;
mod resolve;
mod yaml;

use std::path::{Path, PathBuf};

pub use self::graph::UnknownTask;
pub use self::model::{Action, Context, Flow, FlowError, Resources, Task, ROOT_FILES};

/// Finds the root flow file, searching up from `start`.
pub fn find_root_file(start: &Path) -> Option<PathBuf> {
    let mut dir = Some(start);
    while let Some(d) = dir {
        for name in ROOT_FILES {
            let candidate = d.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
        dir = d.parent();
    }
    None
}

pub fn load(file: &Path, context: &Context<'_>) -> Result<Flow, FlowError> {
    let text = std::fs::read_to_string(file).map_err(|e| FlowError {
        file: file.to_path_buf(),
        line: None,
        message: format!("cannot read: {e}"),
        theirs: None,
    })?;
    parse(file, &text, context)
}

pub fn parse(file: &Path, text: &str, context: &Context<'_>) -> Result<Flow, FlowError> {
    loader::Loader { file, context }.flow(text)
}

#[cfg(test)]
mod tests;
