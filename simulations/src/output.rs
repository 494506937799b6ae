//! Where a run's results go: one directory holding CSV files, PNG charts
//! and `report.md`. Numbers are formatted with fixed precision so the same
//! run writes the same bytes.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::chart::{self, Chart};
use crate::error::SimulationError;

/// A table written as CSV: a header and rows of already formatted cells.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|cell| (*cell).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn push(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }

    /// The CSV text (cells holding commas or quotes are quoted).
    pub fn to_csv(&self) -> String {
        let mut text = String::new();
        for row in std::iter::once(&self.header).chain(&self.rows) {
            let cells: Vec<String> = row.iter().map(|cell| quote(cell)).collect();
            text.push_str(&cells.join(","));
            text.push('\n');
        }
        text
    }

    /// A markdown table of the same cells.
    pub fn to_markdown(&self) -> String {
        let mut text = String::new();
        let _ = writeln!(text, "| {} |", self.header.join(" | "));
        let _ = writeln!(
            text,
            "|{}",
            self.header.iter().map(|_| "---|").collect::<String>()
        );
        for row in &self.rows {
            let _ = writeln!(text, "| {} |", row.join(" | "));
        }
        text
    }
}

fn quote(cell: &str) -> String {
    if cell.contains([',', '"', '\n']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_owned()
    }
}

/// A number with `decimals` digits after the point.
pub fn fixed(value: f64, decimals: usize) -> String {
    if value.is_finite() {
        format!("{value:.decimals$}")
    } else {
        "nan".to_owned()
    }
}

/// The output directory of one run, and the report being written.
pub struct Outputs {
    dir: PathBuf,
    report: String,
}

impl Outputs {
    /// Creates `dir` (and parents) and starts a report titled `title`.
    pub fn create(dir: &Path, title: &str) -> Result<Outputs, SimulationError> {
        std::fs::create_dir_all(dir).map_err(|source| io_error(dir, source))?;
        Ok(Outputs {
            dir: dir.to_path_buf(),
            report: format!("# {title}\n\n"),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends markdown to the report.
    pub fn text(&mut self, markdown: &str) {
        self.report.push_str(markdown);
        if !markdown.ends_with('\n') {
            self.report.push('\n');
        }
        self.report.push('\n');
    }

    /// Writes `name.csv` and links it from the report.
    pub fn csv(&mut self, name: &str, table: &Table) -> Result<(), SimulationError> {
        let file = format!("{name}.csv");
        let path = self.dir.join(&file);
        std::fs::write(&path, table.to_csv()).map_err(|source| io_error(&path, source))?;
        self.text(&format!("Data: [`{file}`]({file})."));
        Ok(())
    }

    /// Draws `name.png` and embeds it in the report with `caption`.
    pub fn chart(
        &mut self,
        name: &str,
        chart: &Chart,
        caption: &str,
    ) -> Result<(), SimulationError> {
        let file = format!("{name}.png");
        chart::draw(&self.dir.join(&file), chart)?;
        self.text(&format!("![{caption}]({file})\n\n*{caption}*"));
        Ok(())
    }

    /// Writes `report.md`; returns its path.
    pub fn finish(self) -> Result<PathBuf, SimulationError> {
        let path = self.dir.join("report.md");
        std::fs::write(&path, &self.report).map_err(|source| io_error(&path, source))?;
        Ok(path)
    }
}

pub fn io_error(path: &Path, source: std::io::Error) -> SimulationError {
    SimulationError::Io {
        path: path.display().to_string(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_cells_that_need_it() {
        let mut table = Table::new(&["a", "b"]);
        table.push(vec!["1,5".to_owned(), "say \"x\"".to_owned()]);
        assert_eq!(table.to_csv(), "a,b\n\"1,5\",\"say \"\"x\"\"\"\n");
        assert_eq!(fixed(1.0 / 3.0, 3), "0.333");
        assert_eq!(fixed(f64::NAN, 3), "nan");
    }
}
