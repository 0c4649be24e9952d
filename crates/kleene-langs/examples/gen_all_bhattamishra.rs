//! Generates every split of all 27 Bhattamishra languages (the published release) and
//! prints sizes, length ranges and the time taken.
//!
//! `cargo run --release -p kleene-langs --example gen_all_bhattamishra [seed] [out_dir]`
//! With `out_dir`, also writes the files in the published layout (`<out_dir>/<Folder>/`).

use std::time::Instant;

use kleene_langs::bhattamishra::{Fidelity, SuiteLanguage, SuiteTask};
use kleene_langs::Task;

fn main() {
    let mut args = std::env::args().skip(1);
    let seed: u64 = args.next().map(|s| s.parse().expect("seed")).unwrap_or(0);
    let out_dir = args.next().map(std::path::PathBuf::from);
    let all = Instant::now();
    let mut total_strings = 0usize;
    let mut total_symbols = 0usize;
    for lang in SuiteLanguage::ALL {
        let task = SuiteTask::new(lang, Fidelity::Faithful);
        let t = Instant::now();
        let splits = task.generate_all_splits(seed).expect("generation");
        let secs = t.elapsed().as_secs_f64();
        let mut line = format!("{:<32}", lang.folder());
        for (spec, examples) in &splits {
            let lens: Vec<usize> = examples.iter().map(|e| e.tokens.len()).collect();
            let n = lens.len();
            let sum: usize = lens.iter().sum();
            total_strings += n;
            total_symbols += sum;
            line.push_str(&format!(
                " {}:{}[{},{}]μ{:.0}",
                spec.name,
                n,
                lens.iter().min().unwrap_or(&0),
                lens.iter().max().unwrap_or(&0),
                sum as f64 / n.max(1) as f64
            ));
            if let Some(dir) = &out_dir {
                kleene_langs::io::write_published_split(
                    &task,
                    &dir.join(task.folder()),
                    &spec.name,
                    examples,
                )
                .expect("write");
            }
        }
        println!("{line}  {:.3}s", secs);
    }
    let secs = all.elapsed().as_secs_f64();
    println!(
        "all 27 languages: {total_strings} strings, {total_symbols} symbols in {secs:.2}s ({:.1}M symbols/s)",
        total_symbols as f64 / secs / 1e6
    );
}
