//! Solve equation (DCF): DM's `tasks/dcf/solve_equation.py`.

use rand_chacha::ChaCha8Rng;

use super::modular_arithmetic_brackets::{
    checked_modulus, evaluate_expression, generate_expression, Symbol,
};
use super::transduction::{numbered, uniform_between, Level, Transduction};
use crate::LangError;

/// `solve_equation`: `E' = v`, where `E'` is an expression of modular arithmetic with
/// brackets **without `*`** (so the solution is unique) in which one digit was replaced
/// by the unknown `x`, and `v` is the value of the original expression; the output is the
/// replaced digit.
///
/// - input symbols (`m + 6`): digits `0..m`, then `+`, `-`, `(`, `)`, `x`, `=` (numbered
///   differently from modular arithmetic with brackets, which has `*` at `m + 2`);
///   classes `0..m` (the paper uses `m = 5`);
/// - output length 1;
/// - length unit: DM's input length `n` (`sample_batch(length = n)`), `E'`, `=` and `v`
///   together (`|E'| = n - 2`);
/// - sampling (`n >= 3`): `E` of length `n - 2` from DM's grammar with `mult = False`;
///   a uniform position of `E`, moved forward cyclically to the first digit, becomes `x`;
/// - `n < 3` is DM's degenerate case: `n` copies of the digit 0, output 0.
///
/// Example (`m = 5`): `[7,3,5,9,8,10,1]` ("(3+x)=1") `-> 3`.
#[derive(Clone, Copy, Debug)]
pub struct SolveEquation {
    modulus: u32,
}

impl SolveEquation {
    /// The paper's modulus.
    pub const PAPER_MODULUS: u32 = 5;

    /// Modulus `m` in `2..=10`.
    pub fn new(modulus: u32) -> Result<Self, LangError> {
        Ok(SolveEquation {
            modulus: checked_modulus("solve-equation", modulus)?,
        })
    }

    fn equals(&self) -> u32 {
        self.modulus + 5
    }

    fn token(&self, symbol: Symbol) -> u32 {
        let m = self.modulus;
        match symbol {
            Symbol::Digit(d) => d,
            Symbol::Plus => m,
            Symbol::Minus => m + 1,
            Symbol::Open => m + 2,
            Symbol::Close => m + 3,
            Symbol::Unknown => m + 4,
            Symbol::Times => unreachable!("solve equation samples without `*`"),
        }
    }

    fn symbol(&self, position: usize, token: u32) -> Result<Symbol, String> {
        let m = self.modulus;
        Ok(match token {
            d if d < m => Symbol::Digit(d),
            t if t == m => Symbol::Plus,
            t if t == m + 1 => Symbol::Minus,
            t if t == m + 2 => Symbol::Open,
            t if t == m + 3 => Symbol::Close,
            t if t == m + 4 => Symbol::Unknown,
            t => {
                return Err(format!(
                    "token {t} at position {position} cannot occur left of the final `=`"
                ))
            }
        })
    }
}

impl Default for SolveEquation {
    fn default() -> Self {
        SolveEquation {
            modulus: Self::PAPER_MODULUS,
        }
    }
}

impl Transduction for SolveEquation {
    fn name(&self) -> String {
        if self.modulus == Self::PAPER_MODULUS {
            "solve-equation".into()
        } else {
            format!("solve-equation-{}", self.modulus)
        }
    }
    fn description(&self) -> String {
        format!(
            "a bracketed + - expression with one digit replaced by x, `= value` (mod {}); the digit x stands for",
            self.modulus
        )
    }
    fn level(&self) -> Level {
        Level::Dcf
    }
    fn symbols(&self) -> Vec<String> {
        let mut v = numbered(self.modulus);
        v.extend(["+", "-", "(", ")", "x", "="].map(String::from));
        v
    }
    fn classes(&self) -> Vec<String> {
        numbered(self.modulus)
    }
    fn output_length(&self, _len: usize) -> usize {
        1
    }
    fn sample(&self, len: usize, rng: &mut ChaCha8Rng) -> (Vec<u32>, Vec<u32>) {
        if len < 3 {
            return (vec![0; len], vec![0]);
        }
        let expr_len = len - 2;
        let mut symbols = Vec::with_capacity(len);
        let value = generate_expression(self.modulus, expr_len, false, rng, &mut symbols);
        // DM: a uniform index, then forward (cyclically) to the first digit. Every
        // expression holds a digit, so the scan ends.
        let mut index = uniform_between(0, expr_len - 1, rng);
        let solution = loop {
            if let Symbol::Digit(d) = symbols[index] {
                break d;
            }
            index = (index + 1) % expr_len;
        };
        symbols[index] = Symbol::Unknown;
        let mut input: Vec<u32> = symbols.into_iter().map(|s| self.token(s)).collect();
        input.extend([self.equals(), value]);
        (input, vec![solution])
    }
    fn solve(&self, input: &[u32]) -> Result<Vec<u32>, String> {
        let n = input.len();
        if n < 3 {
            return match input.iter().position(|&t| t != 0) {
                Some(p) => Err(format!(
                    "DM's inputs of length {n} are all 0, found {} at position {p}",
                    input[p]
                )),
                None => Ok(vec![0]),
            };
        }
        let (expr, tail) = input.split_at(n - 2);
        if tail[0] != self.equals() {
            return Err(format!(
                "position {} holds {}, not `=` ({})",
                n - 2,
                tail[0],
                self.equals()
            ));
        }
        let value = tail[1];
        if value >= self.modulus {
            return Err(format!(
                "position {} holds {value}, not a digit (the right-hand side)",
                n - 1
            ));
        }
        let symbols = expr
            .iter()
            .enumerate()
            .map(|(p, &t)| self.symbol(p, t))
            .collect::<Result<Vec<_>, _>>()?;
        let unknowns = symbols.iter().filter(|&&s| s == Symbol::Unknown).count();
        if unknowns != 1 {
            return Err(format!("exactly one x is needed, found {unknowns}"));
        }
        let lhs = evaluate_expression(&symbols, self.modulus)?;
        // Without `*` the unknown's coefficient is +1 or -1, its own inverse mod m.
        let m = self.modulus;
        if lhs.coef != 1 && lhs.coef != m - 1 {
            return Err(format!("x has coefficient {} (not ±1)", lhs.coef));
        }
        Ok(vec![lhs.coef * ((value + m - lhs.constant) % m) % m])
    }
}
