//! The training progress bar.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The training progress bar: elapsed time, bar, steps, time left (ETA), the metrics message.
/// On resume it starts at the checkpoint's step, and the ETA counts only the steps of this
/// process (the jump to `start` is not taken for progress made in no time).
pub fn step_bar(steps: u64, start: u64, target: ProgressDrawTarget) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(Some(steps), target);
    pb.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{bar:30}] {pos}/{len} steps  ETA {eta}  {msg}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    pb.set_position(start);
    pb.reset_eta();
    pb
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A terminal that keeps what is drawn on it.
    #[derive(Debug, Clone, Default)]
    struct Screen(Arc<Mutex<String>>);

    impl indicatif::TermLike for Screen {
        fn width(&self) -> u16 {
            120
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            self.write_str(s)
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            self.0.lock().unwrap().push_str(s);
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Issue 17: the progress bar had no time left. A resumed bar starts at its step and
    /// estimates the rest from the steps it sees.
    #[test]
    fn the_progress_bar_shows_the_time_left() {
        let screen = Screen::default();
        let bar = step_bar(
            1000,
            400,
            ProgressDrawTarget::term_like(Box::new(screen.clone())),
        );
        for _ in 0..20 {
            std::thread::sleep(std::time::Duration::from_millis(5));
            bar.inc(10);
        }
        bar.tick();
        let drawn = screen.0.lock().unwrap().clone();
        assert!(drawn.contains("/1000 steps  ETA "), "{drawn}");
        assert!(drawn.contains("600/1000"), "{drawn}");
    }
}
