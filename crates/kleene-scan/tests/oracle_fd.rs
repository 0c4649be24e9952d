//! The f64 oracle's hand-derived backward agrees with central finite differences of its forward.
//! (Every backend's gradients are then checked against the oracle's backward.)

mod common;

use common::oracle::{self, SsProblem};
use common::{random_ss, rng, uniform, SsShape};

const EPS: f64 = 1e-6;
const TOL: f64 = 1e-6;

/// Central difference of `loss` w.r.t. `x[i]`.
fn fd<T>(state: &mut T, get: impl Fn(&mut T) -> &mut f64, loss: impl Fn(&T) -> f64) -> f64 {
    let orig = *get(state);
    *get(state) = orig + EPS;
    let lp = loss(state);
    *get(state) = orig - EPS;
    let lm = loss(state);
    *get(state) = orig;
    (lp - lm) / (2.0 * EPS)
}

fn check(name: &str, analytic: f64, numeric: f64) {
    let err = (analytic - numeric).abs() / numeric.abs().max(1e-3);
    assert!(
        err < TOL,
        "{name}: analytic {analytic:.9e} vs finite difference {numeric:.9e} (rel {err:.2e})"
    );
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn selective_scan_oracle_backward_matches_finite_differences() {
    // The last two: the [-1, 1] transition `2 exp(Δ A) - 1` (its slope `2 exp(Δ A)` in dΔ, dA).
    for (k, shape) in [
        SsShape::full(2, 4, 7, 3, 2),
        SsShape::bare(1, 2, 5, 4, 1),
        SsShape::full(2, 4, 7, 3, 2).neg(),
        SsShape::bare(1, 2, 5, 4, 1).neg(),
    ]
    .into_iter()
    .enumerate()
    {
        let mut p = random_ss(shape, 10 + k as u64);
        let mut r = rng(3);
        let w = uniform(&mut r, p.batch * p.d * p.len, -1.0, 1.0);
        let v = uniform(&mut r, p.batch * p.d * p.n, -1.0, 1.0);
        let g = p.backward(&w, &v);
        let loss = |p: &SsProblem| {
            let (o, l) = p.forward();
            dot(&o, &w) + dot(&l, &v)
        };
        // A few coordinates of every input (first, middle, last).
        let picks = |len: usize| [0, len / 2, len - 1];
        for i in picks(p.u.len()) {
            check("du", g.u[i], fd(&mut p, |p| &mut p.u[i], loss));
            check("ddelta", g.delta[i], fd(&mut p, |p| &mut p.delta[i], loss));
        }
        for i in picks(p.a.len()) {
            check("dA", g.a[i], fd(&mut p, |p| &mut p.a[i], loss));
        }
        for i in picks(p.b.len()) {
            check("dB", g.b[i], fd(&mut p, |p| &mut p.b[i], loss));
            check("dC", g.c[i], fd(&mut p, |p| &mut p.c[i], loss));
        }
        if p.z.is_some() {
            for i in picks(p.u.len()) {
                check(
                    "dz",
                    g.z[i],
                    fd(&mut p, |p| &mut p.z.as_mut().unwrap()[i], loss),
                );
            }
            for i in picks(p.d) {
                check(
                    "dD",
                    g.d_skip[i],
                    fd(&mut p, |p| &mut p.d_skip.as_mut().unwrap()[i], loss),
                );
                check(
                    "ddelta_bias",
                    g.delta_bias[i],
                    fd(&mut p, |p| &mut p.delta_bias.as_mut().unwrap()[i], loss),
                );
            }
            for i in picks(p.batch * p.d * p.n) {
                check(
                    "dh0",
                    g.h0[i],
                    fd(&mut p, |p| &mut p.h0.as_mut().unwrap()[i], loss),
                );
            }
        }
    }
}

#[test]
fn diagonal_oracles_backward_match_finite_differences() {
    let (nb, nl, nd) = (2, 6, 3);
    let mut r = rng(4);
    let x = nb * nl * nd;
    let mut a = uniform(&mut r, x, -0.9, 0.9);
    let mut ai = uniform(&mut r, x, -0.9, 0.9);
    let mut b = uniform(&mut r, x, -1.0, 1.0);
    let mut bi = uniform(&mut r, x, -1.0, 1.0);
    let mut h0 = uniform(&mut r, nb * nd, -1.0, 1.0);
    let mut h0i = uniform(&mut r, nb * nd, -1.0, 1.0);
    let w = uniform(&mut r, x, -1.0, 1.0);
    let wi = uniform(&mut r, x, -1.0, 1.0);
    let (da, db, dh0) = oracle::diag_backward(nb, nl, nd, &a, &b, Some(&h0), &w);
    let cg = oracle::cdiag_backward(nb, nl, nd, &a, &ai, &b, &bi, Some((&h0, &h0i)), &w, &wi);
    for i in [0, x / 2, x - 1] {
        type S = (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>);
        let mut s: S = (
            a.clone(),
            b.clone(),
            h0.clone(),
            ai.clone(),
            bi.clone(),
            h0i.clone(),
        );
        let real = |s: &S| {
            dot(
                &oracle::diag_forward(nb, nl, nd, &s.0, &s.1, Some(&s.2)),
                &w,
            )
        };
        let cplx = |s: &S| {
            let (hr, hi) =
                oracle::cdiag_forward(nb, nl, nd, &s.0, &s.3, &s.1, &s.4, Some((&s.2, &s.5)));
            dot(&hr, &w) + dot(&hi, &wi)
        };
        check("diag da", da[i], fd(&mut s, |s| &mut s.0[i], real));
        check("diag db", db[i], fd(&mut s, |s| &mut s.1[i], real));
        check("complex da_re", cg.ar[i], fd(&mut s, |s| &mut s.0[i], cplx));
        check("complex da_im", cg.ai[i], fd(&mut s, |s| &mut s.3[i], cplx));
        check("complex db_re", cg.br[i], fd(&mut s, |s| &mut s.1[i], cplx));
        check("complex db_im", cg.bi[i], fd(&mut s, |s| &mut s.4[i], cplx));
        let j = i % (nb * nd);
        check("diag dh0", dh0[j], fd(&mut s, |s| &mut s.2[j], real));
        check(
            "complex dh0_re",
            cg.h0r[j],
            fd(&mut s, |s| &mut s.2[j], cplx),
        );
        check(
            "complex dh0_im",
            cg.h0i[j],
            fd(&mut s, |s| &mut s.5[j], cplx),
        );
    }
    // silence unused-mut lints on the originals
    let _ = (&mut a, &mut ai, &mut b, &mut bi, &mut h0, &mut h0i);
}

#[test]
fn dense_oracle_backward_matches_finite_differences() {
    let p = common::checks::random_dense(3, 4, 2, 6, true, 8);
    let mut r = rng(9);
    let w = uniform(&mut r, p.batch * p.len * p.n, -1.0, 1.0);
    let (dm, db, dh0) = oracle::dense_backward(
        p.n,
        p.vocab,
        &p.m,
        &p.bias,
        &p.tokens,
        p.batch,
        p.len,
        p.h0.as_deref(),
        &w,
    );
    type S = (Vec<f64>, Vec<f64>, Vec<f64>);
    let mut s: S = (p.m.clone(), p.bias.clone(), p.h0.clone().unwrap());
    let loss = |s: &S| {
        dot(
            &oracle::dense_forward(p.n, &s.0, &s.1, &p.tokens, p.batch, p.len, Some(&s.2)),
            &w,
        )
    };
    for i in [0, dm.len() / 2, dm.len() - 1] {
        check("dense dM", dm[i], fd(&mut s, |s| &mut s.0[i], loss));
    }
    for i in [0, db.len() / 2, db.len() - 1] {
        check("dense dbias", db[i], fd(&mut s, |s| &mut s.1[i], loss));
    }
    for i in [0, dh0.len() - 1] {
        check("dense dh0", dh0[i], fd(&mut s, |s| &mut s.2[i], loss));
    }
}
