//! The AVX2 builds (with the value width fixed at compile time where it is specialised) perform
//! the generic build's operations in the same order: bit-identical results, so CPU runs do not
//! depend on the machine's vector unit.

use super::*;

/// Pseudo-random values in [-1, 1) away from zero (a fixed LCG: no test dependency needed).
fn values(seed: u64, n: usize) -> Vec<f32> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let v = ((x >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0;
            if v.abs() < 1e-3 {
                0.5
            } else {
                v
            }
        })
        .collect()
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn dispatched_builds_give_the_generic_bits() {
    for (dv, readout) in [(16, 1), (32, 2), (64, 1), (7, 3)] {
        let d = DeltaDims {
            batch: 1,
            heads: 1,
            len: 12,
            dk: 5,
            dv,
        };
        let (nk, nv, nq) = (d.len * d.dk, d.len * d.dv, d.len / readout * d.dk);
        let (q, k, v, a, b) = (
            values(1, nq),
            values(2, nk),
            values(3, nv),
            values(4, nk),
            values(5, nk).iter().map(|x| x * 0.5).collect::<Vec<_>>(),
        );
        let w: Vec<f32> = values(6, nk).iter().map(|x| 0.75 + 0.25 * x).collect();
        let x = Inputs {
            readout,
            q: &q,
            k: &k,
            v: &v,
            a: &a,
            b: &b,
            w: Some(&w),
        };
        let s0 = values(7, d.dk * d.dv);
        let reads = d.len / readout;
        let (mut s_fast, mut s_plain) = (s0.clone(), s0.clone());
        let (mut o_fast, mut o_plain) = (vec![0.0; reads * dv], vec![0.0; reads * dv]);
        forward_seq(&d, &x, &mut s_fast, &mut o_fast);
        forward_seq_body(&d, &x, &mut s_plain, &mut o_plain);
        assert_eq!(bits(&o_fast), bits(&o_plain), "forward o, dv {dv}");
        assert_eq!(bits(&s_fast), bits(&s_plain), "forward S, dv {dv}");

        let (d_o, d_last) = (values(8, reads * dv), values(9, d.dk * d.dv));
        let grads = || {
            (
                vec![0.0f32; nq],
                vec![0.0f32; nk],
                vec![0.0f32; nv],
                vec![0.0f32; nk],
                vec![0.0f32; nk],
                vec![0.0f32; nk],
                vec![0.0f32; d.dk * d.dv],
            )
        };
        let mut fast = grads();
        let mut plain = grads();
        macro_rules! seq_grads {
            ($g:expr) => {
                SeqGradsMut {
                    q: &mut $g.0,
                    k: &mut $g.1,
                    v: &mut $g.2,
                    a: &mut $g.3,
                    b: &mut $g.4,
                    w: &mut $g.5,
                    s0: &mut $g.6,
                }
            };
        }
        backward_seq(&d, &x, Some(&s0), &d_o, &d_last, seq_grads!(fast));
        {
            let _ftz = FlushDenormals::new();
            backward_seq_body(&d, &x, Some(&s0), &d_o, &d_last, seq_grads!(plain));
        }
        assert_eq!(bits(&fast.0), bits(&plain.0), "dq, dv {dv}");
        assert_eq!(bits(&fast.1), bits(&plain.1), "dk, dv {dv}");
        assert_eq!(bits(&fast.2), bits(&plain.2), "dv, dv {dv}");
        assert_eq!(bits(&fast.3), bits(&plain.3), "da, dv {dv}");
        assert_eq!(bits(&fast.4), bits(&plain.4), "db, dv {dv}");
        assert_eq!(bits(&fast.5), bits(&plain.5), "dw, dv {dv}");
        assert_eq!(bits(&fast.6), bits(&plain.6), "dS0, dv {dv}");
    }
}
