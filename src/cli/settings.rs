//! Settings and output directories shared by the commands that train.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;

use outrange::config::{ExperimentConfig, PartialConfig};
use outrange::{compare_files, output, run_files};

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
    let Some(path) = &args.out else {
        return Ok(output::create_numbered_directory(Path::new(
            DEFAULT_RUNS_DIRECTORY,
        ))?);
    };

    let directory = output::prepare_directory(path, args.overwrite)?;
    if args.overwrite {
        remove_earlier_outputs(&directory)?;
    }
    Ok(directory)
}

/// Removes the files an earlier run or comparison wrote, so that none of them is taken
/// for the new run's. Other files are left alone.
fn remove_earlier_outputs(directory: &Path) -> anyhow::Result<()> {
    let names = run_files::OUTPUT_FILES
        .iter()
        .chain(&compare_files::OUTPUT_FILES);
    for name in names {
        let path = directory.join(name);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                return Err(error).with_context(|| {
                    format!("cannot remove {} from an earlier run", path.display())
                });
            }
        }
    }
    Ok(())
}
