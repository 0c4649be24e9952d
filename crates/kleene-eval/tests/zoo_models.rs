//! Every model of the zoo (random weights) through the drivers: the padded, batched
//! parallel path and the recurrent path give the same outputs and the same counts.

mod common;

use burn::prelude::*;
use burn::tensor::TensorData;
use common::*;
use kleene_eval::*;
use kleene_langs::{task_by_name, Example, Task};
use kleene_zoo::{ModelConfig, SequenceModel};

fn examples(task: &dyn Task, seed: u64) -> Vec<Example> {
    // Mixed lengths so the parallel path pads.
    let mut rng = length_rng(seed, 0);
    (0..10)
        .map(|i| task.sample(6 + i, 6 + i, &mut rng).unwrap())
        .collect()
}

#[test]
fn every_zoo_model_agrees_between_forward_and_step() {
    let dev = device();
    for task_name in ["parity-check", "tomita-3"] {
        let task = task_by_name(task_name).unwrap();
        let ex = examples(task.as_ref(), 1);
        for kind in ModelConfig::KINDS {
            B::seed(&dev, 7);
            let model = ModelConfig::default_for(kind)
                .unwrap()
                .init::<B>(task.vocab().len(), task.classes().len(), &dev)
                .unwrap();
            let opts = EvalOptions {
                batch_size: 4,
                ..Default::default()
            };
            // Raw outputs: padded batched forward vs one sequence at a time via step.
            let seqs: Vec<&[u32]> = ex.iter().map(|e| e.tokens.as_slice()).collect();
            let dim = model.out_dim();
            let mut fwd = vec![Vec::new(); seqs.len()];
            for_each_output::<B, _, _>(&model, &seqs, &opts, &dev, |i, l| {
                fwd[i] = l.to_vec();
                Ok(())
            })
            .unwrap();
            for (i, s) in seqs.iter().enumerate().take(3) {
                let mut state = model.init_state(1, &dev);
                for (t, &tok) in s.iter().enumerate() {
                    let x = Tensor::<B, 1, Int>::from_data(
                        TensorData::new(vec![tok as i64], [1]),
                        &dev,
                    );
                    let (y, next) = model.step(x, state);
                    state = next;
                    let y = y.into_data().convert::<f32>().into_vec::<f32>().unwrap();
                    for (a, b) in y.iter().zip(&fwd[i][t * dim..(t + 1) * dim]) {
                        assert!(
                            (a - b).abs() < 1e-4,
                            "{kind} on {task_name}: seq {i} t {t}: {a} vs {b}"
                        );
                    }
                }
            }
            let f =
                evaluate_examples::<B, _>(&model, task.as_ref(), "x", &ex, &opts, &dev).unwrap();
            let r =
                evaluate_examples_recurrent::<B, _>(&model, task.as_ref(), "x", &ex, &opts, &dev)
                    .unwrap();
            assert_eq!(f.counts, r.counts, "{kind} on {task_name}");
        }
    }
}
