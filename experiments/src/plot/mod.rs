//! Pictures, as PNG and SVG: a run's timeline, and a sweep's metrics against its knobs. Text
//! uses the embedded DejaVu Sans, so no system fonts are needed.

pub mod sweep;
pub mod timeline;

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

pub use timeline::{Timeline, write_timeline};

static FONT: Once = Once::new();

/// Registers DejaVu Sans as `sans-serif` (once per process).
fn register_embedded_font() {
    FONT.call_once(|| {
        if register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular()).is_err() {
            unreachable!("the embedded DejaVu Sans is a valid font");
        }
    });
}

/// Draws a PNG of `size` with `draw` into `path`, through a temporary file renamed into place.
fn write_png(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(DrawingArea<BitMapBackend, Shift>) -> Result<(), String>,
) -> Result<(), String> {
    // The bitmap backend picks its encoder from the extension: the temporary file ends in .png.
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("plot.png");
    let temporary = path.with_file_name(format!(".{name}.tmp.png"));
    draw(BitMapBackend::new(&temporary, size).into_drawing_area())?;
    std::fs::rename(&temporary, path).map_err(|e| format!("{}: cannot rename into place: {e}", path.display()))
}
