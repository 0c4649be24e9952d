//! Protocol: REGBENCH accuracy / TVD against each problem's DFA and greedy-generation
//! acceptance (Akyürek et al. 2024).

use burn::prelude::*;
use kleene_langs::regbench::RegbenchProblem;
use kleene_langs::{Example, Target, Task};
use kleene_zoo::SequenceModel;
use serde::{Deserialize, Serialize};

use crate::metrics::regbench::{
    generation_accepted, GenerationCounts, NextTokenOracle, RegbenchCounts, TaskOracle,
};
use crate::metrics::{argmax, row};
use crate::EvalError;

use super::runner::*;
use super::EvalOptions;

/// Which positions REGBENCH accuracy and TVD score.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegbenchPositions {
    /// Every input position (the paper's figures, `get_greedy_dfa_accuracy`).
    #[default]
    All,
    /// Only positions the masked target scores (training-time `dfa_accuracy`, which skips
    /// positions whose true next token is the separator).
    TargetMask,
}

/// REGBENCH accuracy and TVD of `model` on `examples`, with the allowed next symbols
/// from `task.next_symbol_sets` (a task with one fixed language). For the real REGBENCH
/// task, whose problems each carry a DFA, use [`regbench_problems`].
pub fn regbench_metrics<B, M>(
    model: &M,
    task: &dyn Task,
    examples: &[Example],
    positions: RegbenchPositions,
    opts: &EvalOptions,
    device: &B::Device,
) -> Result<RegbenchCounts, EvalError>
where
    B: Backend,
    M: SequenceModel<B>,
{
    regbench_metrics_with(
        model,
        &TaskOracle(task),
        task.name(),
        examples,
        positions,
        opts,
        device,
    )
}

/// REGBENCH accuracy and TVD on problems of `kleene_langs::regbench::Regbench` (each
/// scored against its own DFA). The inputs are `problem.example()`.
pub fn regbench_problems<B, M>(
    model: &M,
    problems: &[RegbenchProblem],
    positions: RegbenchPositions,
    opts: &EvalOptions,
    device: &B::Device,
) -> Result<RegbenchCounts, EvalError>
where
    B: Backend,
    M: SequenceModel<B>,
{
    let examples: Vec<Example> = problems.iter().map(|p| p.example()).collect();
    regbench_metrics_with(
        model, problems, "regbench", &examples, positions, opts, device,
    )
}

/// REGBENCH accuracy and TVD with any [`NextTokenOracle`] (`task_name` only names errors).
pub fn regbench_metrics_with<B, M, O>(
    model: &M,
    oracle: &O,
    task_name: &str,
    examples: &[Example],
    positions: RegbenchPositions,
    opts: &EvalOptions,
    device: &B::Device,
) -> Result<RegbenchCounts, EvalError>
where
    B: Backend,
    M: SequenceModel<B>,
    O: NextTokenOracle + ?Sized,
{
    let dim = model.out_dim();
    let seqs: Vec<&[u32]> = examples.iter().map(|e| e.tokens.as_slice()).collect();
    let mut per_seq: Vec<RegbenchCounts> = vec![RegbenchCounts::default(); examples.len()];
    for_each_output(model, &seqs, opts, device, |i, logits| {
        let ex = &examples[i];
        let sets = oracle
            .allowed(i, &ex.tokens)
            .ok_or_else(|| EvalError::MissingOracle {
                task: task_name.to_string(),
                what: "next-symbol sets (the DFA)".into(),
                metric: "REGBENCH accuracy".into(),
            })?;
        let mask = match (positions, &ex.target) {
            (RegbenchPositions::All, _) => None,
            (RegbenchPositions::TargetMask, Target::Masked { mask, .. }) => Some(mask.as_slice()),
            (RegbenchPositions::TargetMask, t) => {
                return Err(EvalError::WrongTargetKind {
                    metric: "REGBENCH dfa_accuracy (target mask)".into(),
                    task: task_name.to_string(),
                    needs: "masked".into(),
                    got: t.kind(),
                })
            }
        };
        per_seq[i]
            .add_sequence(logits, dim, &sets, mask, i)
            .map_err(|e| e.in_sequence(i))
    })?;
    // Summed in example order: the TVD sum does not depend on batching.
    let mut counts = RegbenchCounts::default();
    for c in &per_seq {
        counts.merge(c);
    }
    Ok(counts)
}

/// Whether every generated symbol is allowed after the prefix and the symbols before it.
/// The oracle is asked about growing prefixes and the check stops at the first symbol it
/// does not allow, so tasks whose oracle is undefined outside the language work too.
fn generated_is_accepted<O: NextTokenOracle + ?Sized>(
    oracle: &O,
    task_name: &str,
    example: usize,
    prefix: &[u32],
    generated: &[u32],
) -> Result<bool, EvalError> {
    let mut full = prefix.to_vec();
    for &g in generated {
        let sets = oracle
            .allowed(example, &full)
            .ok_or_else(|| EvalError::MissingOracle {
                task: task_name.to_string(),
                what: "next-symbol sets (the DFA)".into(),
                metric: "greedy generation acceptance".into(),
            })?;
        let Some(last) = sets.last() else {
            return Err(EvalError::shape(
                format!("sequence {example}: next-symbol sets"),
                full.len(),
                0,
            ));
        };
        if !generation_accepted(&[g], std::slice::from_ref(last))? {
            return Ok(false);
        }
        full.push(g);
    }
    Ok(true)
}

/// Settings of greedy generation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GenerationConfig {
    /// Separator id appended to the prefix and ending a sample. Default 19 (REGBENCH `|`).
    pub separator: u32,
    /// Length cap of a sample. Default 12 (the upstream `generate.py`).
    pub max_new_tokens: usize,
    /// Sequences stepped together. Default 64.
    pub batch_size: usize,
}

impl Default for GenerationConfig {
    fn default() -> Self {
        GenerationConfig {
            separator: 19,
            max_new_tokens: 12,
            batch_size: 64,
        }
    }
}

/// Greedy generation: for every example, feed its tokens plus one separator through
/// `step`, then decode greedily (argmax) until the separator or `max_new_tokens`; the
/// sample is accepted iff every generated symbol is in the task's allowed set where it
/// was generated. A predicted id outside the input vocabulary ends the sample as rejected.
pub fn greedy_generation<B, M>(
    model: &M,
    task: &dyn Task,
    examples: &[Example],
    cfg: &GenerationConfig,
    device: &B::Device,
) -> Result<GenerationCounts, EvalError>
where
    B: Backend,
    M: SequenceModel<B>,
{
    greedy_generation_with(
        model,
        &TaskOracle(task),
        task.name(),
        task.vocab().len(),
        examples,
        cfg,
        device,
    )
}

/// [`greedy_generation`] on REGBENCH problems (each checked against its own DFA), with
/// the REGBENCH separator whatever `cfg.separator` says.
pub fn regbench_generation<B, M>(
    model: &M,
    problems: &[RegbenchProblem],
    cfg: &GenerationConfig,
    device: &B::Device,
) -> Result<GenerationCounts, EvalError>
where
    B: Backend,
    M: SequenceModel<B>,
{
    let examples: Vec<Example> = problems.iter().map(|p| p.example()).collect();
    let cfg = GenerationConfig {
        separator: kleene_langs::regbench::SEPARATOR,
        ..cfg.clone()
    };
    greedy_generation_with(
        model,
        problems,
        "regbench",
        kleene_langs::regbench::VOCAB_SIZE,
        &examples,
        &cfg,
        device,
    )
}

/// Greedy generation with any [`NextTokenOracle`]; ids `>= vocab_size` are rejections.
pub fn greedy_generation_with<B, M, O>(
    model: &M,
    oracle: &O,
    task_name: &str,
    vocab_size: usize,
    examples: &[Example],
    cfg: &GenerationConfig,
    device: &B::Device,
) -> Result<GenerationCounts, EvalError>
where
    B: Backend,
    M: SequenceModel<B>,
    O: NextTokenOracle + ?Sized,
{
    if cfg.batch_size == 0 {
        return Err(EvalError::option("batch_size", "must be at least 1"));
    }
    let dim = model.out_dim();
    let vocab = vocab_size;
    let mut counts = GenerationCounts::default();
    for (k, batch) in examples.chunks(cfg.batch_size).enumerate() {
        let prefixes: Vec<Vec<u32>> = batch
            .iter()
            .map(|e| {
                let mut p = e.tokens.clone();
                p.push(cfg.separator);
                p
            })
            .collect();
        let n = prefixes.len();
        let mut generated: Vec<Vec<u32>> = vec![Vec::new(); n];
        let mut done = vec![false; n];
        let mut invalid = vec![false; n];
        let mut hit_cap = vec![false; n];
        let mut state = model.init_state(n, device);
        let mut ids = vec![0u32; n];
        let mut t = 0;
        while done.iter().any(|d| !d) {
            for b in 0..n {
                let p = &prefixes[b];
                ids[b] = if t < p.len() {
                    p[t]
                } else if !done[b] {
                    *generated[b].last().unwrap_or(&cfg.separator)
                } else {
                    cfg.separator
                };
            }
            let (out, next) = model.step(tokens_1d::<B>(&ids, device), state);
            state = next;
            if prefixes
                .iter()
                .zip(&done)
                .any(|(p, &d)| !d && t + 1 >= p.len())
            {
                let host = to_host(out)?;
                if host.len() != n * dim {
                    return Err(EvalError::shape("model step output", n * dim, host.len()));
                }
                for b in 0..n {
                    if done[b] || t + 1 < prefixes[b].len() {
                        continue;
                    }
                    if generated[b].len() >= cfg.max_new_tokens {
                        done[b] = true;
                        hit_cap[b] = true;
                        continue;
                    }
                    let g = argmax(row(&host, dim, b)) as u32;
                    if g == cfg.separator {
                        done[b] = true;
                    } else if g as usize >= vocab {
                        done[b] = true;
                        invalid[b] = true;
                    } else {
                        generated[b].push(g);
                        if generated[b].len() == cfg.max_new_tokens {
                            done[b] = true;
                            hit_cap[b] = true;
                        }
                    }
                }
            }
            t += 1;
        }
        for b in 0..n {
            let accepted = !invalid[b]
                && generated_is_accepted(
                    oracle,
                    task_name,
                    k * cfg.batch_size + b,
                    &prefixes[b],
                    &generated[b],
                )?;
            counts.samples += 1;
            counts.accepted += u64::from(accepted);
            counts.hit_cap += u64::from(hit_cap[b]);
            counts.generated_tokens += generated[b].len() as u64;
        }
    }
    Ok(counts)
}
