//! The CPU ops (the scans, the PD-SSM scan and the causal conv) are bit-deterministic: forward outputs and every gradient are identical, bit for
//! bit, across repeated runs and across rayon pools of 1, 2 and 3 threads (kleene-train's resume
//! test needs a resumed run to equal an uninterrupted one exactly).

mod common;

use burn::backend::Autodiff;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::Tensor;
use burn_ndarray::NdArray;
use common::checks::{channels_last, random_dense, random_diag, require_grad};
use common::{int_tensor, random_ss, rng, ss_input, tensor, uniform, SsShape};
use kleene_scan::ScanLayout;

type AD = Autodiff<NdArray<f32>>;

fn bits<const D: usize>(t: Tensor<AD, D>) -> Vec<u32> {
    t.into_data()
        .convert::<f32>()
        .into_vec::<f32>()
        .unwrap()
        .iter()
        .map(|x| x.to_bits())
        .collect()
}

fn grad_bits<const D: usize>(
    t: &Tensor<AD, D>,
    g: &<AD as AutodiffBackend>::Gradients,
) -> Vec<u32> {
    bits(Tensor::from_inner(t.grad(g).expect("missing gradient")))
}

/// Outputs and all gradients of the four ops on fixed random problems, as bit patterns.
fn everything() -> Vec<Vec<u32>> {
    let dev = Default::default();
    let mut out = Vec::new();
    // Selective scan: d = 40 per group spans several backward tasks (16 channels each).
    let p = random_ss(SsShape::full(2, 80, 37, 16, 2), 21);
    let q = random_ss(SsShape::full(3, 20, 29, 5, 1), 22);
    // Channels-last kernel: 160 channels = one task of 16 blocks and one of 4 per batch row.
    let cl = random_ss(SsShape::full(2, 160, 23, 16, 1), 27);
    for (p, layout) in [
        (&p, ScanLayout::ChannelsFirst),
        (&q, ScanLayout::ChannelsFirst),
        (&cl, ScanLayout::ChannelsLast),
    ] {
        let mut r = rng(23);
        let w = uniform(&mut r, p.batch * p.d * p.len, -1.0, 1.0);
        let v = uniform(&mut r, p.batch * p.d * p.n, -1.0, 1.0);
        let inp = require_grad(ss_input::<AD>(p, &dev));
        let k = inp.clone();
        let (y, last) = match layout {
            ScanLayout::ChannelsFirst => kleene_scan::selective_scan(inp),
            ScanLayout::ChannelsLast => channels_last(inp),
        };
        out.push(bits(y.clone()));
        out.push(bits(last.clone()));
        let loss = (y * tensor::<AD, 3>(&w, [p.batch, p.d, p.len], &dev)).sum()
            + (last * tensor::<AD, 3>(&v, [p.batch, p.d, p.n], &dev)).sum();
        let g = loss.backward();
        out.extend([
            grad_bits(&k.u, &g),
            grad_bits(&k.delta, &g),
            grad_bits(&k.a, &g),
            grad_bits(&k.b, &g),
            grad_bits(&k.c, &g),
            grad_bits(k.d_skip.as_ref().unwrap(), &g),
            grad_bits(k.z.as_ref().unwrap(), &g),
            grad_bits(k.delta_bias.as_ref().unwrap(), &g),
            grad_bits(k.initial_state.as_ref().unwrap(), &g),
        ]);
    }
    // Diagonal recurrences (real and complex).
    let p = random_diag(5, 23, 7, true, 24);
    let sh = [p.batch, p.len, p.dim];
    let t3 = |v: &[f64]| tensor::<AD, 3>(v, sh, &dev).require_grad();
    let t2 = |v: &[f64]| tensor::<AD, 2>(v, [p.batch, p.dim], &dev).require_grad();
    let (a, b, h0) = (t3(&p.a), t3(&p.b), t2(p.h0.as_ref().unwrap()));
    let h = kleene_scan::diagonal_recurrence(a.clone(), b.clone(), Some(h0.clone()));
    out.push(bits(h.clone()));
    let g = (h.clone() * h).sum().backward();
    out.extend([grad_bits(&a, &g), grad_bits(&b, &g), grad_bits(&h0, &g)]);
    let (ai, bi, h0i) = (t3(&p.a_im), t3(&p.b_im), t2(p.h0_im.as_ref().unwrap()));
    let (hr, hi) = kleene_scan::complex_diagonal_recurrence(
        a.clone(),
        ai.clone(),
        b.clone(),
        bi.clone(),
        Some((h0.clone(), h0i.clone())),
    );
    let g = (hr.clone() * hr + hi.clone() * 0.5).sum().backward();
    for t in [&a, &ai, &b, &bi] {
        out.push(grad_bits(t, &g));
    }
    out.extend([grad_bits(&h0, &g), grad_bits(&h0i, &g)]);
    // Dense recurrence: batch 9 spans several backward tasks.
    let q = random_dense(3, 6, 9, 11, true, 25);
    let m = tensor::<AD, 3>(&q.m, [q.vocab, q.n, q.n], &dev).require_grad();
    let bias = tensor::<AD, 2>(&q.bias, [q.vocab, q.n], &dev).require_grad();
    let h0 = tensor::<AD, 2>(q.h0.as_ref().unwrap(), [q.batch, q.n], &dev).require_grad();
    let toks = int_tensor::<AD, 2>(&q.tokens, [q.batch, q.len], &dev);
    let h = kleene_scan::dense_recurrence(m.clone(), bias.clone(), toks, Some(h0.clone()));
    out.push(bits(h.clone()));
    let g = (h.clone() * h).sum().backward();
    out.extend([grad_bits(&m, &g), grad_bits(&bias, &g), grad_bits(&h0, &g)]);
    // Causal depthwise conv (+SiLU): 3 x 70 = 210 rows span several 64-row blocks.
    let mut r = rng(26);
    let (cb, cl, cc, ck) = (3, 70, 7, 4);
    let x = tensor::<AD, 3>(
        &uniform(&mut r, cb * cl * cc, -1.0, 1.0),
        [cb, cl, cc],
        &dev,
    )
    .require_grad();
    let w = tensor::<AD, 2>(&uniform(&mut r, cc * ck, -1.0, 1.0), [cc, ck], &dev).require_grad();
    let cbias = tensor::<AD, 1>(&uniform(&mut r, cc, -1.0, 1.0), [cc], &dev).require_grad();
    let y = kleene_scan::causal_conv1d(x.clone(), w.clone(), cbias.clone(), true);
    out.push(bits(y.clone()));
    let g = (y.clone() * y).sum().backward();
    out.extend([grad_bits(&x, &g), grad_bits(&w, &g), grad_bits(&cbias, &g)]);
    // PD-SSM scan, both forms, softmax-logit surrogate: batch 5 spans several tasks.
    for form in [kleene_scan::PdForm::Scatter, kleene_scan::PdForm::Gather] {
        let p = common::pd::PdProblem::random(&mut rng(27), common::pd::dims(5, 23, 6), form, true);
        let mut r = rng(28);
        let x = p.input::<AD>(&dev);
        let logits = tensor::<AD, 4>(
            &uniform(&mut r, 5 * 23 * 36, -1.0, 1.0),
            [5, 23, 6, 6],
            &dev,
        )
        .require_grad();
        let (d_re, b_im) = (x.d_re.clone().require_grad(), x.b_im.clone().require_grad());
        let (hr, hi) = kleene_scan::pd_scan(kleene_scan::PdScanInput {
            d_re: d_re.clone(),
            b_im: b_im.clone(),
            transition_surrogate: Some(logits.clone()),
            surrogate: kleene_scan::PdSurrogate::SoftmaxLogits,
            ..x
        });
        out.extend([bits(hr.clone()), bits(hi.clone())]);
        let g = (hr.clone() * hr + hi).sum().backward();
        out.extend([
            grad_bits(&d_re, &g),
            grad_bits(&b_im, &g),
            grad_bits(&logits, &g),
        ]);
    }
    out
}

#[test]
fn cpu_ops_are_bit_deterministic_across_runs_and_thread_counts() {
    let pool = |n| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap()
    };
    let first = pool(1).install(everything);
    assert!(first.iter().all(|v| !v.is_empty()));
    // The values are not trivial (a constant output would pass the comparison vacuously).
    assert!(first.iter().all(|v| v.iter().any(|&x| x != v[0])));
    for threads in [1, 2, 3] {
        let again = pool(threads).install(everything);
        for (i, (x, y)) in first.iter().zip(&again).enumerate() {
            assert!(
                x == y,
                "tensor #{i} differs between 1 and {threads} threads"
            );
        }
    }
}
