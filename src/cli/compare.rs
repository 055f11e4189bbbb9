//! `outrange compare`: train several variants over several seeds and compare how they
//! extrapolate.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use outrange::compare::{Comparison, RunStatus, Variant, VariantSummary, summarize};
use outrange::config::PartialConfig;
use outrange::data::ExperimentData;
use outrange::{compare_files, run_files};

use super::args::{CompareArgs, Verbosity};
use super::{EXIT_INTERRUPTED, Failure, settings};

/// Activations compared when neither `--models` nor `--plan` is given.
const DEFAULT_MODELS: [&str; 4] = ["relu", "tanh", "sin", "snake"];

/// Seeds per variant when `--seeds` is not given.
const DEFAULT_SEEDS: u64 = 5;

/// Runs the comparison that `args` describe.
pub fn compare(args: &CompareArgs) -> Result<(), Failure> {
    let comparison = build_comparison(args).map_err(Failure::invalid)?;
    for variant in &comparison.variants {
        ExperimentData::load(&variant.config)
            .with_context(|| format!("variant {}", variant.name))
            .map_err(Failure::invalid)?;
    }
    let threads = thread_count(args.threads).map_err(Failure::invalid)?;
    let directory = settings::output_directory(&args.output).map_err(Failure::invalid)?;

    let stop = Arc::new(AtomicBool::new(false));
    let handler_stop = Arc::clone(&stop);
    // Without a handler Ctrl-C still ends the program, only without a summary.
    let _ = ctrlc::set_handler(move || handler_stop.store(true, Ordering::Relaxed));

    println!(
        "Comparing {} variants over {} seeds: {} runs on {threads} threads",
        comparison.variants.len(),
        comparison.seeds.len(),
        comparison.len()
    );
    let progress = CompareProgress::new(
        args.output.verbose.unwrap_or(Verbosity::Bar),
        comparison.len(),
    );
    let write_errors = Mutex::new(Vec::new());
    let statuses = comparison.run(threads, &stop, &|index, status| {
        let (variant, seed) = comparison.job(index);
        if let RunStatus::Finished(run) = status
            && let Err(error) = compare_files::write_run(&directory, &variant.name, run)
        {
            write_errors
                .lock()
                .expect("no writer panics")
                .push(error.to_string());
        }
        progress.finished(&variant.name, seed, status);
    });
    progress.done();

    report(
        &comparison,
        &statuses,
        &directory,
        stop.load(Ordering::Relaxed),
        write_errors.into_inner().unwrap_or_default(),
    )
}

/// Builds the variants from `--plan` or `--models`, over the flags and `--config`.
fn build_comparison(args: &CompareArgs) -> anyhow::Result<Comparison> {
    let base = settings::partial_settings(&args.settings)?;
    let variants = match (&args.plan, &args.models) {
        (Some(path), _) => read_plan(path, &base)?,
        (None, models) => {
            let names: Vec<String> = models
                .clone()
                .unwrap_or_else(|| DEFAULT_MODELS.map(String::from).to_vec());
            activation_variants(&names, &base)?
        }
    };

    let count = args.seeds.unwrap_or(DEFAULT_SEEDS);
    if count == 0 {
        bail!("invalid seeds 0: compare needs at least 1 seed per variant, such as --seeds 5");
    }
    let first = variants[0].config.seed;
    let seeds = (0..count)
        .map(|offset| first.wrapping_add(offset))
        .collect();
    Ok(Comparison { variants, seeds })
}

fn activation_variants(names: &[String], base: &PartialConfig) -> anyhow::Result<Vec<Variant>> {
    if names.is_empty() {
        bail!("--models lists no activation; give some, such as --models relu,tanh");
    }
    names
        .iter()
        .map(|name| {
            let settings = PartialConfig {
                activation: Some(name.trim().to_string()),
                ..PartialConfig::default()
            };
            let config = base.clone().merge(settings).resolve()?;
            Ok(Variant {
                name: name.trim().to_string(),
                config,
            })
        })
        .collect()
}

/// Reads a plan file: `[[variant]]` tables, each with a `name` and any settings of `run`.
fn read_plan(path: &Path, base: &PartialConfig) -> anyhow::Result<Vec<Variant>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the plan file {}", path.display()))?;
    let mut plan: toml::Table =
        toml::from_str(&text).with_context(|| format!("invalid plan file {}", path.display()))?;
    let Some(toml::Value::Array(tables)) = plan.remove("variant") else {
        bail!(
            "invalid plan file {}: it needs [[variant]] tables, each with a name and settings",
            path.display()
        );
    };
    if let Some(key) = plan.keys().next() {
        bail!(
            "invalid plan file {}: unknown key {key:?}; only [[variant]] tables are allowed",
            path.display()
        );
    }

    let mut variants: Vec<Variant> = Vec::new();
    for (index, table) in tables.into_iter().enumerate() {
        let toml::Value::Table(mut table) = table else {
            bail!(
                "invalid plan file {}: variant {} is not a table",
                path.display(),
                index + 1
            );
        };
        let name = match table.remove("name") {
            Some(toml::Value::String(name)) if !name.trim().is_empty() => name,
            _ => bail!(
                "invalid plan file {}: variant {} needs a name, such as name = \"relu\"",
                path.display(),
                index + 1
            ),
        };
        if variants.iter().any(|variant| variant.name == name) {
            bail!(
                "invalid plan file {}: the name {name:?} is used twice",
                path.display()
            );
        }

        let settings: PartialConfig = toml::Value::Table(table)
            .try_into()
            .with_context(|| format!("invalid plan file {}, variant {name:?}", path.display()))?;
        let config = base
            .clone()
            .merge(settings)
            .resolve()
            .with_context(|| format!("variant {name:?} of {}", path.display()))?;
        variants.push(Variant { name, config });
    }
    if variants.is_empty() {
        bail!("invalid plan file {}: it lists no variant", path.display());
    }
    Ok(variants)
}

fn thread_count(requested: Option<usize>) -> anyhow::Result<usize> {
    match requested {
        Some(0) => {
            bail!("invalid threads 0: use at least 1, or leave --threads out to use every core")
        }
        Some(threads) => Ok(threads),
        None => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
    }
}

/// Writes and prints the summary of what finished, then sets the exit code.
fn report(
    comparison: &Comparison,
    statuses: &[RunStatus],
    directory: &Path,
    interrupted: bool,
    write_errors: Vec<String>,
) -> Result<(), Failure> {
    let summaries = summarize(comparison, statuses);
    let mut files = compare_files::write_summary(directory, &summaries).map_err(Failure::failed)?;
    let mut overlay_missing = false;
    match compare_files::overlay_plot(comparison, statuses) {
        Some(plot) => files.extend(
            run_files::write_plot(
                directory,
                &plot,
                compare_files::COMPARISON_PNG,
                compare_files::COMPARISON_SVG,
            )
            .map_err(Failure::failed)?,
        ),
        None => overlay_missing = true,
    }
    if let Some(plot) = compare_files::error_by_distance_plot(&summaries) {
        files.extend(
            run_files::write_plot(
                directory,
                &plot,
                compare_files::ERROR_BY_DISTANCE_PNG,
                compare_files::ERROR_BY_DISTANCE_SVG,
            )
            .map_err(Failure::failed)?,
        );
    }

    // The files come first, so that they exist even when printing fails.
    print_summary(&summaries);
    if overlay_missing {
        println!(
            "No overlay plot: it needs finished runs with one input and the same evaluation rows."
        );
    }
    let names: Vec<String> = files
        .iter()
        .filter_map(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .collect();
    println!(
        "Wrote {} and one directory per run to {}",
        names.join(", "),
        directory.display()
    );

    let mut failed = Vec::new();
    let mut missing = Vec::new();
    for (index, status) in statuses.iter().enumerate() {
        let (variant, seed) = comparison.job(index);
        match status {
            RunStatus::Failed(error) => {
                failed.push(format!("{} seed {seed}: {error}", variant.name))
            }
            RunStatus::Missing => missing.push(format!("{} seed {seed}", variant.name)),
            RunStatus::Finished(_) => {}
        }
    }

    if !write_errors.is_empty() {
        return Err(Failure::failed(anyhow::anyhow!(
            "{}",
            write_errors.join("; ")
        )));
    }
    if interrupted {
        eprintln!(
            "Interrupted: {} of {} runs finished; missing: {}",
            comparison.len() - missing.len() - failed.len(),
            comparison.len(),
            missing.join(", ")
        );
        return Err(Failure {
            code: EXIT_INTERRUPTED,
            error: anyhow::anyhow!("interrupted; the summary covers the finished runs"),
        });
    }
    if !failed.is_empty() {
        return Err(Failure::failed(anyhow::anyhow!(
            "{} runs failed: {}",
            failed.len(),
            failed.join("; ")
        )));
    }
    Ok(())
}

fn print_summary(summaries: &[VariantSummary]) {
    let spread = |value: Option<outrange::compare::Spread>| {
        value.map_or_else(
            || "n/a".to_string(),
            |s| format!("{:.3e} ± {:.1e}", s.mean, s.std),
        )
    };
    let number = |value: Option<f64>, precision: usize| {
        value.map_or_else(|| "n/a".to_string(), |v| format!("{v:.precision$}"))
    };

    println!();
    println!(
        "{:<16} {:>5}  {:>22}  {:>22}  {:>13}  {:>10}  {:>9}",
        "variant",
        "runs",
        "MSE in range",
        "MSE out of range",
        "linearity_r2",
        "RMSE ratio",
        "fit (ms)"
    );
    for summary in summaries {
        println!(
            "{:<16} {:>5}  {:>22}  {:>22}  {:>13}  {:>10}  {:>9}",
            summary.name,
            summary.runs,
            spread(summary.mse_in_range),
            spread(summary.mse_out_of_range),
            number(summary.linearity_r2, 4),
            number(summary.rmse_ratio, 1),
            number(summary.fit_seconds.map(|s| s * 1e3), 1),
        );
    }
    println!();
}

/// Progress over the whole comparison: runs finished of total and the time left.
struct CompareProgress {
    bar: Option<ProgressBar>,
    lines: bool,
    total: usize,
    state: Mutex<(usize, Instant)>,
}

impl CompareProgress {
    fn new(verbosity: Verbosity, total: usize) -> Self {
        let terminal = std::io::stderr().is_terminal();
        let bar = (verbosity == Verbosity::Bar && terminal).then(|| {
            let bar =
                ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{pos:>4}/{len} runs {wide_bar} {elapsed}, about {eta} left",
                )
                .expect("the template is valid")
                .progress_chars("━━─"),
            );
            bar
        });
        CompareProgress {
            lines: verbosity != Verbosity::Silent && bar.is_none(),
            bar,
            total,
            state: Mutex::new((0, Instant::now())),
        }
    }

    fn finished(&self, variant: &str, seed: u64, status: &RunStatus) {
        let mut state = self.state.lock().expect("no reporter panics");
        state.0 += 1;
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        if !self.lines {
            return;
        }

        let (done, started) = *state;
        let left = started.elapsed().as_secs_f64() / done as f64 * (self.total - done) as f64;
        let outcome = match status {
            RunStatus::Finished(_) => "finished",
            RunStatus::Failed(_) => "failed",
            RunStatus::Missing => "stopped",
        };
        eprintln!(
            "run {done}/{} {outcome}: {variant} seed {seed}; about {left:.1}s left",
            self.total
        );
    }

    fn done(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}
