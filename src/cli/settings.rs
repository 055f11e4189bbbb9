//! Settings and output directories shared by the commands that train.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;

use outrange::config::{ExperimentConfig, PartialConfig};
use outrange::output;

use super::args::{OutputArgs, SettingsArgs};

/// Where runs go when `--out` is not given.
const DEFAULT_RUNS_DIRECTORY: &str = "runs";

/// Merges the config file (if any) with the flags, flags winning, and checks the result.
pub fn resolve_config(args: &SettingsArgs) -> anyhow::Result<ExperimentConfig> {
    Ok(partial_settings(args)?.resolve()?)
}

/// Merges the config file (if any) with the flags, flags winning, without checking.
pub fn partial_settings(args: &SettingsArgs) -> anyhow::Result<PartialConfig> {
    let from_file = match &args.config {
        Some(path) => read_config_file(path)?,
        None => PartialConfig::default(),
    };
    Ok(from_file.merge(args.partial_config()))
}

pub fn read_config_file(path: &Path) -> anyhow::Result<PartialConfig> {
    let text = fs::read_to_string(path)
        .with_context(|| format!("cannot read the config file {}", path.display()))?;
    let is_json = path
        .extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("json"));
    if is_json {
        serde_json::from_str(&text)
            .with_context(|| format!("invalid config file {}", path.display()))
    } else {
        toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
    }
}

pub fn output_directory(args: &OutputArgs) -> anyhow::Result<PathBuf> {
    Ok(match &args.out {
        Some(path) => output::prepare_directory(path, args.overwrite)?,
        None => output::create_numbered_directory(Path::new(DEFAULT_RUNS_DIRECTORY))?,
    })
}
