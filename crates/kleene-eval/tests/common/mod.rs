//! Test-only tasks and models for the driver tests.
#![allow(dead_code)]

use burn::prelude::*;
use burn::tensor::{Distribution, TensorData};
use kleene_langs::{Example, LangError, SplitSpec, Target, TargetKind, Task};
use kleene_zoo::SequenceModel;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

pub type B = burn_ndarray::NdArray<f32>;

pub fn device() -> burn_ndarray::NdArrayDevice {
    Default::default()
}

fn random_bits(len: usize, rng: &mut ChaCha8Rng) -> Vec<u32> {
    (0..len).map(|_| rng.random_range(0..2u32)).collect()
}

fn prefix_parities(tokens: &[u32]) -> Vec<u32> {
    let mut p = 0;
    tokens
        .iter()
        .map(|&t| {
            p ^= t;
            p
        })
        .collect()
}

fn pick_len(min_len: usize, max_len: usize, rng: &mut ChaCha8Rng) -> usize {
    rng.random_range(min_len..=max_len)
}

/// How the test tasks shape their targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParityShape {
    /// SD-SSM style: one class, the parity of the whole string.
    Final,
    /// Bhattamishra style: the parity of every prefix.
    PerPosition,
    /// Prefix parity scored only at positions `t % 3 == 2`.
    Masked,
}

/// Bit strings with parity targets; `odd_lengths_only` makes even lengths unsampleable.
pub struct ParityTask {
    pub shape: ParityShape,
    pub odd_lengths_only: bool,
}

impl ParityTask {
    pub fn new(shape: ParityShape) -> Self {
        ParityTask {
            shape,
            odd_lengths_only: false,
        }
    }
}

impl Task for ParityTask {
    fn name(&self) -> &str {
        "test-parity"
    }
    fn description(&self) -> &str {
        "parity of a random bit string (test task)"
    }
    fn vocab(&self) -> Vec<String> {
        vec!["0".into(), "1".into()]
    }
    fn classes(&self) -> Vec<String> {
        vec!["even".into(), "odd".into()]
    }
    fn target_kind(&self) -> TargetKind {
        match self.shape {
            ParityShape::Final => TargetKind::Final,
            ParityShape::PerPosition => TargetKind::PerPosition,
            ParityShape::Masked => TargetKind::Masked,
        }
    }
    fn sample(
        &self,
        min_len: usize,
        max_len: usize,
        rng: &mut ChaCha8Rng,
    ) -> Result<Example, LangError> {
        let mut len = pick_len(min_len, max_len, rng);
        if self.odd_lengths_only && len.is_multiple_of(2) {
            if len < max_len {
                len += 1;
            } else if len > min_len {
                len -= 1;
            } else {
                return Err(LangError::InvalidConfig {
                    task: self.name().into(),
                    field: "length".into(),
                    reason: format!("no odd length in {min_len}..={max_len}"),
                });
            }
        }
        let tokens = random_bits(len, rng);
        let par = prefix_parities(&tokens);
        let target = match self.shape {
            ParityShape::Final => Target::Final(*par.last().unwrap_or(&0)),
            ParityShape::PerPosition => Target::PerPosition(par),
            ParityShape::Masked => Target::Masked {
                mask: (0..len).map(|t| t % 3 == 2).collect(),
                classes: par,
            },
        };
        Ok(Example { tokens, target })
    }
    fn splits(&self) -> Vec<SplitSpec> {
        vec![
            SplitSpec {
                name: "train".into(),
                min_len: 1,
                max_len: 8,
                size: 30,
            },
            SplitSpec {
                name: "bin0".into(),
                min_len: 1,
                max_len: 10,
                size: 37,
            },
            SplitSpec {
                name: "bin1".into(),
                min_len: 11,
                max_len: 20,
                size: 23,
            },
        ]
    }
    /// Multi-label view: after each prefix, the "set" {even} or {odd} as two bits.
    fn next_symbol_sets(&self, tokens: &[u32]) -> Option<Vec<Vec<bool>>> {
        Some(
            prefix_parities(tokens)
                .into_iter()
                .map(|p| vec![p == 0, p == 1])
                .collect(),
        )
    }
}

/// A host-side recurrent oracle: its state after each token decides the output row.
pub trait Oracle: Clone {
    type S: Clone;
    fn init(&self) -> Self::S;
    fn step(&self, s: &mut Self::S, token: u32) -> Vec<f32>;
    fn dim(&self) -> usize;
}

/// Wraps an [`Oracle`] as a [`SequenceModel`] for any backend (computed on the host).
#[derive(Clone)]
pub struct HostModel<O>(pub O);

fn host_ids<Bk: Backend, const D: usize>(t: Tensor<Bk, D, Int>) -> (Vec<u32>, [usize; D]) {
    let dims = t.dims();
    let v = t.into_data().convert::<i64>().into_vec::<i64>().unwrap();
    (v.into_iter().map(|x| x as u32).collect(), dims)
}

impl<Bk: Backend, O: Oracle> SequenceModel<Bk> for HostModel<O> {
    type State = Vec<O::S>;

    fn forward(&self, tokens: Tensor<Bk, 2, Int>) -> Tensor<Bk, 3> {
        let device = tokens.device();
        let (ids, [b, l]) = host_ids(tokens);
        let d = self.0.dim();
        let mut out = Vec::with_capacity(b * l * d);
        for r in 0..b {
            let mut s = self.0.init();
            for t in 0..l {
                out.extend(self.0.step(&mut s, ids[r * l + t]));
            }
        }
        Tensor::<Bk, 3>::from_data(TensorData::new(out, [b, l, d]), &device)
    }

    fn init_state(&self, batch: usize, _device: &Bk::Device) -> Self::State {
        vec![self.0.init(); batch]
    }

    fn step(
        &self,
        tokens: Tensor<Bk, 1, Int>,
        mut state: Self::State,
    ) -> (Tensor<Bk, 2>, Self::State) {
        let device = tokens.device();
        let (ids, [b]) = host_ids(tokens);
        let d = self.0.dim();
        let mut out = Vec::with_capacity(b * d);
        for (s, &id) in state.iter_mut().zip(&ids) {
            out.extend(self.0.step(s, id));
        }
        (
            Tensor::<Bk, 2>::from_data(TensorData::new(out, [b, d]), &device),
            state,
        )
    }

    fn out_dim(&self) -> usize {
        self.0.dim()
    }
}

/// One-hot-ish logits with a peak at `class`.
pub fn peak(class: usize, dim: usize) -> Vec<f32> {
    let mut v = vec![-1.0; dim];
    v[class] = 4.0;
    v
}

/// Parity oracle. `wrong_if_first_is_one`: after a leading 1 it answers the opposite
/// parity at every position (a deliberately wrong model with a countable error pattern).
#[derive(Clone)]
pub struct ParityOracle {
    pub wrong_if_first_is_one: bool,
    /// Answer the opposite parity at positions `t % 4 == 3`.
    pub wrong_every_fourth: bool,
}

impl ParityOracle {
    pub fn exact() -> Self {
        ParityOracle {
            wrong_if_first_is_one: false,
            wrong_every_fourth: false,
        }
    }
}

/// (parity, position, first token)
pub type ParityState = (u32, usize, Option<u32>);

impl Oracle for ParityOracle {
    type S = ParityState;
    fn init(&self) -> Self::S {
        (0, 0, None)
    }
    fn step(&self, s: &mut Self::S, token: u32) -> Vec<f32> {
        s.0 ^= token;
        if s.2.is_none() {
            s.2 = Some(token);
        }
        let t = s.1;
        s.1 += 1;
        let mut ans = s.0;
        if self.wrong_if_first_is_one && s.2 == Some(1) {
            ans ^= 1;
        }
        if self.wrong_every_fourth && t % 4 == 3 {
            ans ^= 1;
        }
        peak(ans as usize, 2)
    }
    fn dim(&self) -> usize {
        2
    }
}

/// Multi-label parity oracle: logit +3 for the legal "symbol", −3 otherwise; with
/// `flip_last_symbol` it always predicts symbol 1 as legal (wrong whenever parity is even).
#[derive(Clone)]
pub struct MultiLabelOracle {
    pub always_claim_odd: bool,
}

impl Oracle for MultiLabelOracle {
    type S = u32;
    fn init(&self) -> u32 {
        0
    }
    fn step(&self, s: &mut u32, token: u32) -> Vec<f32> {
        *s ^= token;
        let odd = *s == 1 || self.always_claim_odd;
        vec![
            if *s == 0 { 3.0 } else { -3.0 },
            if odd { 3.0 } else { -3.0 },
        ]
    }
    fn dim(&self) -> usize {
        2
    }
}

/// A small causal Burn model with random weights: embedding, diagonal linear
/// recurrence `h_t = a ⊙ h_{t−1} + e(x_t)`, tanh, linear readout. `forward` loops over time
/// with tensor ops, `step` does one update, so both must agree.
pub struct TinyRecurrent<Bk: Backend> {
    pub emb: Tensor<Bk, 2>,
    pub decay: Tensor<Bk, 1>,
    pub w: Tensor<Bk, 2>,
    pub d: usize,
    pub out: usize,
}

impl<Bk: Backend> TinyRecurrent<Bk> {
    pub fn new(vocab: usize, d: usize, out: usize, device: &Bk::Device) -> Self {
        Bk::seed(device, 42);
        TinyRecurrent {
            emb: Tensor::random([vocab, d], Distribution::Uniform(-1.0, 1.0), device),
            decay: Tensor::random([d], Distribution::Uniform(0.3, 0.95), device),
            w: Tensor::random([d, out], Distribution::Uniform(-1.0, 1.0), device),
            d,
            out,
        }
    }

    fn readout(&self, h: Tensor<Bk, 2>) -> Tensor<Bk, 2> {
        h.tanh().matmul(self.w.clone())
    }
}

impl<Bk: Backend> SequenceModel<Bk> for TinyRecurrent<Bk> {
    type State = Tensor<Bk, 2>;

    fn forward(&self, tokens: Tensor<Bk, 2, Int>) -> Tensor<Bk, 3> {
        let [b, l] = tokens.dims();
        let e = self
            .emb
            .clone()
            .select(0, tokens.reshape([b * l]))
            .reshape([b, l, self.d]);
        let mut h = Tensor::<Bk, 2>::zeros([b, self.d], &e.device());
        let mut outs = Vec::with_capacity(l);
        for t in 0..l {
            let x_t = e
                .clone()
                .slice([0..b, t..t + 1, 0..self.d])
                .reshape([b, self.d]);
            h = h * self.decay.clone().unsqueeze::<2>() + x_t;
            outs.push(self.readout(h.clone()).unsqueeze_dim::<3>(1));
        }
        Tensor::cat(outs, 1)
    }

    fn init_state(&self, batch: usize, device: &Bk::Device) -> Self::State {
        Tensor::zeros([batch, self.d], device)
    }

    fn step(&self, tokens: Tensor<Bk, 1, Int>, state: Self::State) -> (Tensor<Bk, 2>, Self::State) {
        let x = self.emb.clone().select(0, tokens);
        let h = state * self.decay.clone().unsqueeze::<2>() + x;
        (self.readout(h.clone()), h)
    }

    fn out_dim(&self) -> usize {
        self.out
    }
}

/// Tiny REGBENCH-like task: vocab `.`=0, `a`=1, `b`=2, `|`=3. DFA: state 0 --a--> 1,
/// 0 --b--> 0, 1 --b--> 0 (state 1 has no `a`). Strings are separated by `|`; each
/// string restarts at state 0.
pub struct TinyDfaTask;

pub const SEP: u32 = 3;

/// Next state, or `None` when the symbol is not allowed.
pub fn dfa_next(state: u8, sym: u32) -> Option<u8> {
    match (state, sym) {
        (0, 1) => Some(1),
        (0, 2) => Some(0),
        (1, 2) => Some(0),
        _ => None,
    }
}

pub fn dfa_allowed(state: u8) -> Vec<bool> {
    (0..4).map(|s| dfa_next(state, s).is_some()).collect()
}

impl Task for TinyDfaTask {
    fn name(&self) -> &str {
        "test-dfa"
    }
    fn description(&self) -> &str {
        "two-state DFA in context (test task)"
    }
    fn vocab(&self) -> Vec<String> {
        [".", "a", "b", "|"].iter().map(|s| s.to_string()).collect()
    }
    fn classes(&self) -> Vec<String> {
        self.vocab()
    }
    fn target_kind(&self) -> TargetKind {
        TargetKind::Masked
    }
    fn sample(
        &self,
        min_len: usize,
        max_len: usize,
        rng: &mut ChaCha8Rng,
    ) -> Result<Example, LangError> {
        let len = pick_len(min_len.max(2), max_len.max(2), rng);
        // Build len+1 tokens: random walk strings joined by separators, then shift.
        let mut seq = Vec::with_capacity(len + 1);
        let mut state = 0u8;
        while seq.len() < len + 1 {
            if !seq.is_empty() && *seq.last().unwrap() != SEP && rng.random_range(0..5) == 0 {
                seq.push(SEP);
                state = 0;
                continue;
            }
            let allowed: Vec<u32> = (1..3).filter(|&s| dfa_next(state, s).is_some()).collect();
            let sym = allowed[rng.random_range(0..allowed.len())];
            state = dfa_next(state, sym).unwrap();
            seq.push(sym);
        }
        let tokens = seq[..len].to_vec();
        let classes = seq[1..].to_vec();
        let mask = classes.iter().map(|&c| c != SEP).collect();
        Ok(Example {
            tokens,
            target: Target::Masked { classes, mask },
        })
    }
    fn splits(&self) -> Vec<SplitSpec> {
        vec![SplitSpec {
            name: "test".into(),
            min_len: 5,
            max_len: 30,
            size: 20,
        }]
    }
    fn next_symbol_sets(&self, tokens: &[u32]) -> Option<Vec<Vec<bool>>> {
        let mut state = 0u8;
        let mut out = Vec::with_capacity(tokens.len());
        for &t in tokens {
            if t == SEP {
                state = 0;
            } else {
                state = dfa_next(state, t)?;
            }
            out.push(dfa_allowed(state));
        }
        Some(out)
    }
}

/// Follows the DFA; outputs log-uniform logits over the allowed set (−30 elsewhere).
#[derive(Clone)]
pub struct DfaOracle;

impl Oracle for DfaOracle {
    type S = u8;
    fn init(&self) -> u8 {
        0
    }
    fn step(&self, s: &mut u8, token: u32) -> Vec<f32> {
        *s = if token == SEP {
            0
        } else {
            dfa_next(*s, token).unwrap_or(0)
        };
        dfa_allowed(*s)
            .into_iter()
            .map(|a| if a { 0.0 } else { -30.0 })
            .collect()
    }
    fn dim(&self) -> usize {
        4
    }
}

/// Always outputs the same logits.
#[derive(Clone)]
pub struct ConstantOracle(pub Vec<f32>);

impl Oracle for ConstantOracle {
    type S = ();
    fn init(&self) {}
    fn step(&self, _s: &mut (), _token: u32) -> Vec<f32> {
        self.0.clone()
    }
    fn dim(&self) -> usize {
        self.0.len()
    }
}

/// Bounded-Dyck oracle for the Sarrof layout with k bracket types (opens 0..k, closes
/// k..2k, START 2k): puts logit 5 on the bracket closing the top of the stack (or, with
/// `always_type0`, always on the close of type 0).
#[derive(Clone)]
pub struct DyckOracle {
    pub k: u32,
    pub always_type0: bool,
}

impl Oracle for DyckOracle {
    type S = Vec<u32>;
    fn init(&self) -> Vec<u32> {
        Vec::new()
    }
    fn step(&self, s: &mut Vec<u32>, token: u32) -> Vec<f32> {
        if token < self.k {
            s.push(token);
        } else if token < 2 * self.k {
            s.pop();
        }
        let mut v = vec![0.0; (2 * self.k + 2) as usize];
        let target = if self.always_type0 {
            Some(0)
        } else {
            s.last().copied()
        };
        if let Some(top) = target {
            v[(self.k + top) as usize] = 5.0;
        }
        v
    }
    fn dim(&self) -> usize {
        (2 * self.k + 2) as usize
    }
}

/// An exact oracle for targets that are a function of the prefix (Bhattamishra classes,
/// associative recall answers): a trie over the examples' tokens holding the class after
/// each prefix. Unknown prefixes get all-zero logits. With `wrong_every = Some(k)` the
/// class at positions `t % k == k − 1` is shifted by one (a countable error pattern).
#[derive(Clone)]
pub struct TrieOracle {
    children: std::sync::Arc<std::collections::HashMap<(usize, u32), usize>>,
    class: std::sync::Arc<Vec<Option<u32>>>,
    dim: usize,
    pub wrong_every: Option<usize>,
}

impl TrieOracle {
    pub fn new(examples: &[Example], dim: usize) -> Self {
        Self::build(examples, dim, false)
    }

    /// Only the last position's class is recorded (next-token targets whose earlier
    /// positions are random, e.g. associative recall).
    pub fn last_only(examples: &[Example], dim: usize) -> Self {
        Self::build(examples, dim, true)
    }

    fn build(examples: &[Example], dim: usize, last_only: bool) -> Self {
        let mut children = std::collections::HashMap::new();
        let mut class: Vec<Option<u32>> = vec![None];
        for e in examples {
            let classes: &[u32] = match &e.target {
                Target::PerPosition(c) => c,
                Target::Masked { classes, .. } => classes,
                Target::Final(_) => panic!("trie oracle needs per-position classes"),
            };
            let mut node = 0;
            for (t, &tok) in e.tokens.iter().enumerate() {
                node = *children.entry((node, tok)).or_insert_with(|| {
                    class.push(None);
                    class.len() - 1
                });
                if last_only && t + 1 != e.tokens.len() {
                    continue;
                }
                let c = classes[t];
                assert!(
                    class[node].is_none_or(|k| k == c),
                    "target not a function of the prefix"
                );
                class[node] = Some(c);
            }
        }
        TrieOracle {
            children: std::sync::Arc::new(children),
            class: std::sync::Arc::new(class),
            dim,
            wrong_every: None,
        }
    }
}

impl Oracle for TrieOracle {
    /// (node, position); node usize::MAX = prefix never seen.
    type S = (usize, usize);
    fn init(&self) -> Self::S {
        (0, 0)
    }
    fn step(&self, s: &mut Self::S, token: u32) -> Vec<f32> {
        let t = s.1;
        s.1 += 1;
        s.0 = if s.0 == usize::MAX {
            usize::MAX
        } else {
            self.children
                .get(&(s.0, token))
                .copied()
                .unwrap_or(usize::MAX)
        };
        match self.class.get(s.0).copied().flatten() {
            None => vec![0.0; self.dim],
            Some(c) => {
                let mut c = c as usize;
                if self.wrong_every.is_some_and(|k| t % k == k - 1) {
                    c = (c + 1) % self.dim;
                }
                peak(c, self.dim)
            }
        }
    }
    fn dim(&self) -> usize {
        self.dim
    }
}

/// Multi-label oracle from a task's own next-symbol sets (+3 legal, −3 not).
#[derive(Clone)]
pub struct SetsOracle {
    pub task: std::sync::Arc<dyn Task>,
    pub dim: usize,
}

impl Oracle for SetsOracle {
    type S = Vec<u32>;
    fn init(&self) -> Vec<u32> {
        Vec::new()
    }
    fn step(&self, s: &mut Vec<u32>, token: u32) -> Vec<f32> {
        s.push(token);
        let sets = self.task.next_symbol_sets(s).expect("sets");
        let mut v: Vec<f32> = sets
            .last()
            .unwrap()
            .iter()
            .map(|&a| if a { 3.0 } else { -3.0 })
            .collect();
        v.resize(self.dim, -3.0);
        v
    }
    fn dim(&self) -> usize {
        self.dim
    }
}

/// Parity with a query token: XOR of the bits (ids 0, 1), other ids ignored.
#[derive(Clone)]
pub struct QueryParityOracle {
    pub wrong_if_first_is_one: bool,
}

impl Oracle for QueryParityOracle {
    type S = (u32, Option<u32>);
    fn init(&self) -> Self::S {
        (0, None)
    }
    fn step(&self, s: &mut Self::S, token: u32) -> Vec<f32> {
        if token < 2 {
            s.0 ^= token;
        }
        if s.1.is_none() {
            s.1 = Some(token);
        }
        let wrong = self.wrong_if_first_is_one && s.1 == Some(1);
        peak((s.0 ^ u32::from(wrong)) as usize, 2)
    }
    fn dim(&self) -> usize {
        2
    }
}

/// Exact flip-flop oracle (Sarrof encoding: `0 1 - r i w` = ids 0..=5, answers masked as
/// `-`): at a masked answer it outputs the last written bit, elsewhere the "none" class 2.
#[derive(Clone)]
pub struct FlipFlopOracle;

impl Oracle for FlipFlopOracle {
    /// (last written bit, previous token)
    type S = (u32, Option<u32>);
    fn init(&self) -> Self::S {
        (0, None)
    }
    fn step(&self, s: &mut Self::S, token: u32) -> Vec<f32> {
        if s.1 == Some(5) && token < 2 {
            s.0 = token;
        }
        s.1 = Some(token);
        peak(if token == 2 { s.0 as usize } else { 2 }, 3)
    }
    fn dim(&self) -> usize {
        3
    }
}
