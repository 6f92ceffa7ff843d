//! `dfm plugins`: the runner plugins a `--runner NAME` can find, in search
//! order, with the reason for any that cannot be loaded.

use anyhow::Result;

use crate::plugin::{self, Plugin};

/// Prints every plugin on the search path; exits 0 even when some fail to
/// load, since the listing is what was asked for.
pub fn list() -> Result<i32> {
    let mut seen = std::collections::BTreeSet::new();
    for dir in plugin::search_dirs() {
        let names = plugin::plugins_in(&dir);
        println!("{}:", dir.display());
        if names.is_empty() {
            println!("  (no plugins)");
        }
        for name in names {
            let path = dir.join(plugin::file_name(&name));
            // An earlier folder's plugin of the same name wins.
            let shadowed = if seen.insert(name.clone()) {
                ""
            } else {
                " (shadowed by an earlier folder)"
            };
            match Plugin::load(&path) {
                Ok(plugin) => println!(
                    "  {:<12} api {:<8} {}{shadowed}",
                    plugin.name,
                    plugin.api_version,
                    path.display()
                ),
                Err(error) => println!("  {name:<12} FAILS TO LOAD: {error}{shadowed}"),
            }
        }
    }
    println!(
        "Plugins are searched in $DFM_PLUGIN_PATH, then beside dfm, then in <dfm dir>/../lib/dfm/plugins."
    );
    Ok(0)
}
