//! Output directories and atomic file writes.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Why an output directory or file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The directory exists and contains entries, and overwriting was not allowed.
    #[error("the output directory {} is not empty; choose another with --out, or pass --overwrite to replace its files", .0.display())]
    NotEmpty(PathBuf),
    /// The path exists but is not a directory.
    #[error("the output path {} exists and is not a directory; choose another with --out", .0.display())]
    NotADirectory(PathBuf),
    /// The directory could not be created.
    #[error("cannot create the output directory {}: {source}", path.display())]
    CreateDirectory { path: PathBuf, source: io::Error },
    /// A file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
}

/// Prepares `path` as an output directory: creates it with its parents when missing,
/// and rejects an existing directory with entries unless `overwrite` is set.
pub fn prepare_directory(path: &Path, overwrite: bool) -> Result<PathBuf, OutputError> {
    match fs::read_dir(path) {
        Ok(mut entries) => {
            if entries.next().is_some() && !overwrite {
                return Err(OutputError::NotEmpty(path.to_path_buf()));
            }
            Ok(path.to_path_buf())
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(path).map_err(|source| OutputError::CreateDirectory {
                path: path.to_path_buf(),
                source,
            })?;
            Ok(path.to_path_buf())
        }
        Err(_) if path.exists() => Err(OutputError::NotADirectory(path.to_path_buf())),
        Err(source) => Err(OutputError::CreateDirectory {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Creates a new directory `parent/run-N` with the lowest N above every existing
/// run, so that a run never writes into an earlier run's directory.
pub fn create_numbered_directory(parent: &Path) -> Result<PathBuf, OutputError> {
    let create_error = |source| OutputError::CreateDirectory {
        path: parent.to_path_buf(),
        source,
    };
    fs::create_dir_all(parent).map_err(create_error)?;

    let highest = fs::read_dir(parent)
        .map_err(create_error)?
        .filter_map(|entry| {
            entry
                .ok()?
                .file_name()
                .to_str()?
                .strip_prefix("run-")?
                .parse::<u64>()
                .ok()
        })
        .max()
        .unwrap_or(0);

    // Creating a directory fails if it exists, so two runs started at once still get
    // different directories.
    for number in highest + 1.. {
        let path = parent.join(format!("run-{number:03}"));
        match fs::create_dir(&path) {
            Ok(()) => return Ok(path),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(source) => return Err(OutputError::CreateDirectory { path, source }),
        }
    }
    unreachable!("the loop returns before the run numbers run out")
}

/// Writes `contents` to `path` atomically: into a temporary file in the same
/// directory, synced to disk, then renamed over `path`. A crash leaves either the old
/// file or the new one, never a partial file.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), OutputError> {
    let write_error = |source| OutputError::Write {
        path: path.to_path_buf(),
        source,
    };

    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut file = temporary_file_in(directory).map_err(write_error)?;
    file.write_all(contents).map_err(write_error)?;
    file.as_file().sync_all().map_err(write_error)?;
    file.persist(path)
        .map_err(|error| write_error(error.error))?;
    Ok(())
}

/// Creates a temporary file readable by others, like a file made with `fs::write`
/// under the usual umask. Tempfile's default mode, 0600, would hide results from them.
fn temporary_file_in(directory: &Path) -> io::Result<tempfile::NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(".outrange-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(fs::Permissions::from_mode(0o644));
    }
    builder.tempfile_in(directory)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_directories_never_repeat() {
        let parent = tempfile::tempdir().unwrap();
        let first = create_numbered_directory(parent.path()).unwrap();
        let second = create_numbered_directory(parent.path()).unwrap();
        assert_eq!(first.file_name().unwrap(), "run-001");
        assert_eq!(second.file_name().unwrap(), "run-002");
    }

    #[test]
    fn non_empty_directory_needs_overwrite() {
        let directory = tempfile::tempdir().unwrap();
        write_atomic(&directory.path().join("a.txt"), b"x").unwrap();
        let error = prepare_directory(directory.path(), false).unwrap_err();
        assert!(error.to_string().contains("--overwrite"), "{error}");
        assert!(prepare_directory(directory.path(), true).is_ok());
    }

    #[test]
    fn missing_directory_is_created() {
        let parent = tempfile::tempdir().unwrap();
        let path = parent.path().join("a/b");
        prepare_directory(&path, false).unwrap();
        assert!(path.is_dir());
    }

    #[test]
    fn write_atomic_replaces_contents() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("metrics.json");
        write_atomic(&path, b"old").unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert_eq!(fs::read_dir(directory.path()).unwrap().count(), 1);
    }
}
