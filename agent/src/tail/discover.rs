//! Glob evaluation: which regular files currently match a source's include globs and none of
//! its exclude globs. Each include glob is walked from its longest literal directory prefix,
//! only as deep as the pattern can match, so `/var/log/*.log` reads one directory.

use std::path::{Component, Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher, GlobSet, GlobSetBuilder};

/// Deepest directory level walked under a `**`, against symlink loops and runaway trees.
const MAX_DEPTH: usize = 32;
/// Directory entries visited per evaluation, so a huge tree cannot stall the source.
const MAX_ENTRIES: usize = 200_000;

/// Compiled include and exclude globs.
#[derive(Debug)]
pub(crate) struct Discovery {
    roots: Vec<Root>,
    exclude: GlobSet,
}

#[derive(Debug)]
struct Root {
    /// Literal directory the pattern starts in.
    base: PathBuf,
    /// Levels below `base` a match can be at; `None` for patterns with `**`.
    max_depth: Option<usize>,
    matcher: GlobMatcher,
}

impl Discovery {
    /// Compiles the globs (validated by the config already).
    pub(crate) fn new(include: &[String], exclude: &[String]) -> Result<Self, globset::Error> {
        let roots = include
            .iter()
            .map(|pattern| {
                let (base, max_depth) = split_pattern(pattern);
                Ok(Root {
                    base,
                    max_depth,
                    matcher: glob(pattern)?.compile_matcher(),
                })
            })
            .collect::<Result<Vec<_>, globset::Error>>()?;
        let mut builder = GlobSetBuilder::new();
        for pattern in exclude {
            builder.add(glob(pattern)?);
        }
        Ok(Self {
            roots,
            exclude: builder.build()?,
        })
    }

    /// Paths of regular files (symlinks followed) matching now, sorted, without duplicates.
    pub(crate) fn scan(&self) -> Vec<PathBuf> {
        let mut found = Vec::new();
        let mut budget = MAX_ENTRIES;
        for root in &self.roots {
            let depth = root.max_depth.unwrap_or(MAX_DEPTH);
            walk(&root.base, depth, &mut budget, &mut |path| {
                if root.matcher.is_match(path) && !self.exclude.is_match(path) {
                    found.push(path.to_path_buf());
                }
            });
        }
        found.sort();
        found.dedup();
        found
    }
}

fn glob(pattern: &str) -> Result<globset::Glob, globset::Error> {
    // `*` stays within one path component, as in shells and Vector; `**` crosses them.
    GlobBuilder::new(pattern).literal_separator(true).build()
}

/// The literal directory prefix of a pattern and how many levels below it a match can be.
fn split_pattern(pattern: &str) -> (PathBuf, Option<usize>) {
    let mut base = PathBuf::new();
    let mut rest = Vec::new();
    for component in Path::new(pattern).components() {
        let text = component.as_os_str().to_string_lossy();
        let is_literal = !text.contains(['*', '?', '[', '{']);
        if rest.is_empty() && is_literal {
            base.push(component);
        } else if !matches!(component, Component::RootDir) {
            rest.push(text.into_owned());
        }
    }
    if rest.is_empty() {
        // A plain path: its parent directory holds it.
        let parent = base.parent().map(Path::to_path_buf).unwrap_or_default();
        return (parent, Some(1));
    }
    let max_depth = if rest.iter().any(|part| part.contains("**")) {
        None
    } else {
        Some(rest.len())
    };
    (base, max_depth)
}

fn walk(dir: &Path, depth: usize, budget: &mut usize, visit: &mut dyn FnMut(&Path)) {
    if depth == 0 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        // Missing or unreadable directories are normal (not created yet); try again next scan.
        return;
    };
    for entry in entries.flatten() {
        if *budget == 0 {
            return;
        }
        *budget -= 1;
        let path = entry.path();
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        if file_type.is_dir() {
            walk(&path, depth - 1, budget, visit);
        } else if file_type.is_file() {
            visit(&path);
        } else if file_type.is_symlink() {
            // Follow links to files, never to directories (loops).
            if std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
                visit(&path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_split_into_base_and_depth() {
        assert_eq!(
            split_pattern("/var/log/*.log"),
            (PathBuf::from("/var/log"), Some(1))
        );
        assert_eq!(
            split_pattern("/var/log/**/*.log"),
            (PathBuf::from("/var/log"), None)
        );
        assert_eq!(
            split_pattern("/a/*/b/*.txt"),
            (PathBuf::from("/a"), Some(3))
        );
        assert_eq!(split_pattern("/a/b.log"), (PathBuf::from("/a"), Some(1)));
    }

    #[test]
    fn scan_honours_include_exclude_and_double_star() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for path in ["a.log", "b.txt", "x/c.log", "x/y/d.log", "x/y/skip.log"] {
            let full = root.join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, "line\n").unwrap();
        }
        let r = root.display();
        let flat = Discovery::new(&[format!("{r}/*.log")], &[]).unwrap();
        assert_eq!(flat.scan(), vec![root.join("a.log")]);
        let deep =
            Discovery::new(&[format!("{r}/**/*.log")], &[format!("{r}/**/skip.log")]).unwrap();
        assert_eq!(
            deep.scan(),
            vec![
                root.join("a.log"),
                root.join("x/c.log"),
                root.join("x/y/d.log")
            ]
        );
    }
}
