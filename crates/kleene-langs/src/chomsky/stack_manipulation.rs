//! Stack manipulation (DCF): DM's `tasks/dcf/stack_manipulation.py`.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::transduction::{uniform_between, uniform_symbols, Level, Transduction};

/// Input symbol: pop the top of the stack (ignored on an empty stack).
pub const POP: u32 = 2;
/// Input symbol: push a 0.
pub const PUSH_0: u32 = 3;
/// Input symbol: push a 1.
pub const PUSH_1: u32 = 4;
/// Output class: the end of the final stack.
pub const TERMINATION: u32 = 2;

/// `stack_manipulation`: an initial stack of bits (bottom to top), then stack actions;
/// the output is the final stack top to bottom, the termination class, then zeros.
///
/// - input symbols `0`, `1` (stack bits), `POP` = 2, `PUSH0` = 3, `PUSH1` = 4;
/// - classes `0`, `1`, `END` (`TERMINATION` = 2);
/// - output length `n + 1`; DM's accuracy mask stops after the termination class
///   ([`crate::Task::accuracy_mask`]);
/// - length unit: DM's input length `n` (`sample_batch(length = n)`), bits and actions
///   together;
/// - sampling (`n >= 2`): `k ~ U{1..n-1}` uniform bits, then `n - k` actions uniform over
///   the three; `n = 1` is one bit and no action.
///
/// Example: `[0,1,1,0,4,2,2] -> [1,1,0,2,0,0,0,0]` (stack 0110, PUSH 1, POP, POP).
#[derive(Clone, Copy, Debug, Default)]
pub struct StackManipulation;

/// Runs the actions on the stack; returns the output (top to bottom, termination, zeros).
fn final_stack_output(stack: &[u32], actions: &[u32], output_len: usize) -> Vec<u32> {
    let mut current = stack.to_vec();
    for &action in actions {
        match action {
            POP => {
                current.pop();
            }
            PUSH_0 => current.push(0),
            _ => current.push(1),
        }
    }
    let mut out: Vec<u32> = current.into_iter().rev().collect();
    out.push(TERMINATION);
    out.resize(output_len, 0);
    out
}

impl Transduction for StackManipulation {
    fn name(&self) -> String {
        "stack-manipulation".into()
    }
    fn description(&self) -> String {
        "a bit stack (bottom to top) then POP/PUSH 0/PUSH 1 actions; the final stack top to bottom, END, zeros"
            .into()
    }
    fn level(&self) -> Level {
        Level::Dcf
    }
    fn symbols(&self) -> Vec<String> {
        ["0", "1", "POP", "PUSH0", "PUSH1"]
            .map(String::from)
            .to_vec()
    }
    fn classes(&self) -> Vec<String> {
        ["0", "1", "END"].map(String::from).to_vec()
    }
    fn output_length(&self, len: usize) -> usize {
        len + 1
    }
    fn termination_class(&self) -> Option<u32> {
        Some(TERMINATION)
    }
    fn sample(&self, len: usize, rng: &mut ChaCha8Rng) -> (Vec<u32>, Vec<u32>) {
        if len == 1 {
            let bit = rng.random_range(0..2u32);
            return (vec![bit], vec![bit, TERMINATION]);
        }
        let stack_len = uniform_between(1, len - 1, rng);
        let mut input = uniform_symbols(2, stack_len, rng);
        input.extend((stack_len..len).map(|_| rng.random_range(POP..=PUSH_1)));
        let output = final_stack_output(&input[..stack_len], &input[stack_len..], len + 1);
        (input, output)
    }
    fn solve(&self, input: &[u32]) -> Result<Vec<u32>, String> {
        let n = input.len();
        let stack_len = input.iter().position(|&t| t > 1).unwrap_or(n);
        if stack_len == 0 {
            return Err("the input must start with at least one stack bit".into());
        }
        if n >= 2 && stack_len == n {
            return Err(format!(
                "an input of length {n} holds at least one action (DM draws 1..{} stack bits)",
                n - 1
            ));
        }
        if let Some(p) = (stack_len..n).find(|&p| !(POP..=PUSH_1).contains(&input[p])) {
            return Err(format!(
                "token {} at position {p}: only actions ({POP}, {PUSH_0}, {PUSH_1}) follow the first action",
                input[p]
            ));
        }
        Ok(final_stack_output(
            &input[..stack_len],
            &input[stack_len..],
            n + 1,
        ))
    }
}
