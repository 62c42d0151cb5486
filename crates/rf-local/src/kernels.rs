//! f32 kernels for the BERT encoder ([`crate::bert`]).
//!
//! **Matrix product.** The right-hand matrix is packed once (weights at
//! load) into panels of 16 columns: for each panel, one 64-byte line of 16
//! values per index along the shared dimension, the order a tile of
//! 6 rows × 16 columns reads them in (two vectors, six broadcasts, twelve
//! fused multiply-adds per index). The shared dimension is cut into pieces
//! of [`KC`]; for each piece, a block's rows are first copied tile by tile
//! into runs of four indices, six rows side by side, so that the tile reads
//! all its rows from one address at fixed offsets (reading six separate
//! rows kept their addresses on the stack, a load each per index; copying
//! each index's six values side by side was a scalar store per value). A
//! block of rows is split into near-equal tiles
//! (19 rows: 5+5+5+4, not 6+6+6+1), so that small batches keep the tiles
//! full. Then:
//! - many rows: the columns are cut into groups of [`NC`]; a tile's piece
//!   stays in L1 while it passes over every panel of the group, and the
//!   group stays in L2 while every tile of the block passes over it;
//! - few rows (a query): the weights come from memory once, so every tile
//!   passes over each panel in turn while reading ahead into the next one,
//!   to keep memory busy while the tiles compute.
//!
//! Every order adds each value's products in the same sequence, so a row's
//! result does not depend on the rows computed with it. The order and sizes
//! were chosen by measurement on this project's 2-core AMD box
//! (BENCHMARKS.md).
//!
//! **Element-wise passes.** GELU (exact, erf form), softmax and layer norm
//! are single passes with polynomial `exp` and `erf`, written as plain loops
//! the compiler vectorises, with fused multiply-adds where the CPU has them
//! (the polynomials' chains of dependent steps bound these passes).
//!
//! On x86-64 with AVX2 and FMA (detected at run time) everything runs with
//! those instructions enabled, through `pulp`'s safe dispatch; the tile uses
//! explicit 8-wide vectors. Elsewhere the same loops run as portable code
//! vectorised for the target's baseline (SSE2 on x86-64, NEON on Apple
//! silicon).

use rayon::prelude::*;

/// Columns per panel (one cache line of f32).
const NR: usize = 16;
/// Rows per tile.
const MR: usize = 6;
/// Piece of the shared dimension per pass: a 6-row tile's piece is 9 KiB
/// (L1).
const KC: usize = 384;
/// A tile's rows over one piece of the shared dimension, in runs of four
/// indices: `[c][r][i]` is row `r`'s value at index `4c + i`. The tile
/// reads every row from one address, at fixed offsets.
type RowPiece = [[[f32; RUN]; MR]; KC / RUN];

/// Rows per block (a job when threaded).
const MC: usize = 96;
/// Columns per group (a multiple of [`NR`]): the group's panel pieces,
/// 288 KiB, stay in L2 while every tile of the block passes over them.
const NC: usize = 192;

/// 16 values of one panel at one index of the shared dimension.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[repr(C, align(64))]
struct Line([f32; NR]);

/// A `k × n` right-hand matrix packed for [`matmul`].
#[derive(Debug, Clone)]
pub(crate) struct Packed {
    k: usize,
    n: usize,
    /// `[panel][p]`, the last panel padded with zeros.
    lines: Vec<Line>,
}

impl Packed {
    /// A `k × n` matrix of zeros, to be filled by [`Packed::set_column`]
    /// and [`Packed::set_row`].
    pub(crate) fn zeroed(k: usize, n: usize) -> Self {
        Self { k, n, lines: vec![Line::default(); n.div_ceil(NR) * k] }
    }

    /// Packs the `n` columns of length `k` laid end to end in `columns`: a
    /// linear layer's `[out][in]` weights.
    pub(crate) fn from_columns(k: usize, n: usize, columns: &[f32]) -> Self {
        let mut packed = Self::zeroed(k, n);
        for (j, column) in columns.chunks_exact(k.max(1)).take(n).enumerate() {
            packed.set_column(j, column);
        }
        packed
    }

    /// Sets column `j`: its values along the shared dimension.
    pub(crate) fn set_column(&mut self, j: usize, values: &[f32]) {
        let (panel, c) = (j / NR, j % NR);
        for (line, v) in self.lines[panel * self.k..(panel + 1) * self.k].iter_mut().zip(values) {
            line.0[c] = *v;
        }
    }

    /// Sets row `p`: one value per column.
    pub(crate) fn set_row(&mut self, p: usize, values: &[f32]) {
        for (panel, chunk) in values.chunks(NR).enumerate() {
            self.lines[panel * self.k + p].0[..chunk.len()].copy_from_slice(chunk);
        }
    }

    pub(crate) fn rows(&self) -> usize {
        self.k
    }

    #[cfg(test)]
    fn cols(&self) -> usize {
        self.n
    }
}

/// A pass run by [`dispatch`]. `run` must be `#[inline(always)]`, as must
/// everything it calls, so that the whole pass is compiled inside the
/// function that enables AVX2 and FMA: a closure would not do, because a
/// closure cannot be marked so and the intrinsics it calls would then stay
/// out-of-line function calls (measured: 40x slower).
///
/// `FMA` says whether a fused multiply-add is one instruction where the
/// pass runs ([`madd`]).
trait Pass {
    type Output;
    fn run<const FMA: bool>(self) -> Self::Output;
}

struct Vectorized<P>(P);

impl<P: Pass> pulp::NullaryFnOnce for Vectorized<P> {
    type Output = P::Output;

    #[inline(always)]
    fn call(self) -> P::Output {
        self.0.run::<true>()
    }
}

/// Runs `pass` with AVX2 and FMA enabled where the CPU has them.
#[inline(always)]
fn dispatch<P: Pass>(pass: P) -> P::Output {
    #[cfg(target_arch = "x86_64")]
    if let Some(simd) = pulp::x86::V3::try_new() {
        return simd.vectorize(Vectorized(pass));
    }
    pass.run::<NATIVE_FMA>()
}

/// Whether the target's baseline has a fused multiply-add instruction
/// (Apple silicon does; x86-64 without AVX2 does not).
const NATIVE_FMA: bool = cfg!(any(target_arch = "aarch64", target_feature = "fma"));

/// `a · b + c`: fused where `FMA` says it is one instruction (one rounding,
/// and half the latency of a multiply then an add), else the two
/// operations (a fused one would be a slow library call).
#[inline(always)]
fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA { a.mul_add(b, c) } else { a * b + c }
}

/// `out[i][j] += Σ_p x[i][p] · b[p][j]` for `i < m`, `j < b.cols()`, where
/// row `i` of `x` starts at `x[i * ldx]` and of `out` at `out[i * ldo]`.
/// Blocks of rows run as jobs on the current rayon pool when `threads > 1`.
pub(crate) fn matmul(x: &[f32], ldx: usize, m: usize, b: &Packed, out: &mut [f32], ldo: usize, threads: usize) {
    if m == 0 || b.n == 0 {
        return;
    }
    assert!(ldx >= b.k && ldo >= b.n, "row strides {ldx}/{ldo} are shorter than the rows {}/{}", b.k, b.n);
    assert!(x.len() >= (m - 1) * ldx + b.k && out.len() >= (m - 1) * ldo + b.n, "matmul operands are shorter than {m} rows");
    let block = MC.min(m.div_ceil(threads.max(1)));
    if threads > 1 && m > block {
        out.par_chunks_mut(block * ldo).enumerate().for_each(|(i, out)| {
            let m = block.min(m - i * block);
            PACKED_ROWS.with_borrow_mut(|packed_rows| dispatch(Matmul { x: &x[i * block * ldx..], ldx, m, b, out, ldo, block, packed_rows }));
        });
    } else {
        PACKED_ROWS.with_borrow_mut(|packed_rows| dispatch(Matmul { x, ldx, m, b, out, ldo, block, packed_rows }));
    }
}

thread_local! {
    /// Each thread's buffer for [`matmul_block`]'s packed rows (up to
    /// 144 KiB, kept rather than allocated per product).
    static PACKED_ROWS: std::cell::RefCell<Vec<RowPiece>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// [`matmul`] over `m` rows, in blocks of `block` rows.
struct Matmul<'a> {
    x: &'a [f32],
    ldx: usize,
    m: usize,
    b: &'a Packed,
    out: &'a mut [f32],
    ldo: usize,
    block: usize,
    packed_rows: &'a mut Vec<RowPiece>,
}

impl Pass for Matmul<'_> {
    type Output = ();

    #[inline(always)]
    fn run<const FMA: bool>(self) {
        let Self { x, ldx, m, b, out, ldo, block, packed_rows } = self;
        for i in (0..m).step_by(block) {
            matmul_block(&x[i * ldx..], ldx, block.min(m - i), b, &mut out[i * ldo..], ldo, packed_rows);
        }
    }
}

/// One block of at most [`MC`] rows.
#[inline(always)]
fn matmul_block(x: &[f32], ldx: usize, m: usize, b: &Packed, out: &mut [f32], ldo: usize, packed_rows: &mut Vec<RowPiece>) {
    let tiles = m.div_ceil(MR);
    let (base, extra) = (m / tiles, m % tiles);
    let rows_of = |t: usize| base + usize::from(t < extra);
    for k0 in (0..b.k).step_by(KC) {
        let kc = KC.min(b.k - k0);
        // This piece of the block's rows, copied tile by tile at a fixed
        // stride: a tile then reads all its rows from one address.
        if packed_rows.len() < tiles {
            packed_rows.resize(tiles, [[[0.0; RUN]; MR]; KC / RUN]);
        }
        let mut row = 0;
        for (t, piece) in packed_rows[..tiles].iter_mut().enumerate() {
            for r in 0..rows_of(t) {
                let (runs, rest) = x[(row + r) * ldx + k0..][..kc].as_chunks::<RUN>();
                piece.iter_mut().zip(runs).for_each(|(run, values)| run[r] = *values);
                if let Some(last) = piece.get_mut(runs.len()) {
                    last[r][..rest.len()].copy_from_slice(rest);
                }
            }
            row += rows_of(t);
        }
        let rows = packed_rows[..tiles].iter().enumerate().map(|(t, a)| (a, rows_of(t)));
        if tiles <= STREAM_TILES {
            stream_panels(rows, b, k0, kc, out, ldo);
        } else {
            group_panels(rows, b, k0, kc, out, ldo);
        }
    }
}

/// Few rows: the weights are read once, from memory, and the product is
/// bound by how fast they arrive. Every tile passes over a panel in turn
/// (it stays in L1), and each also prefetches its share of the next
/// panel, spread over its indices: the memory traffic then runs alongside
/// the arithmetic instead of stalling the first tile of each panel.
#[inline(always)]
fn stream_panels<'a>(rows: impl Iterator<Item = (&'a RowPiece, usize)> + Clone, b: &Packed, k0: usize, kc: usize, out: &mut [f32], ldo: usize) {
    let panels = b.n.div_ceil(NR);
    let tiles = rows.clone().count();
    for panel in 0..panels {
        let lines = &b.lines[panel * b.k + k0..][..kc];
        // The next panel of this piece, else the first of the next piece.
        let next = if panel + 1 < panels { &b.lines[(panel + 1) * b.k + k0..][..kc] } else { &b.lines[k0 + kc..][..KC.min(b.k - (k0 + kc))] };
        let share = next.len().div_ceil(tiles);
        let (col, mut row) = (panel * NR, 0);
        let cols = NR.min(b.n - col);
        for (t, (a, rows)) in rows.clone().enumerate() {
            let ahead = next.get(t * share..).unwrap_or(&[]);
            tile(rows, a, lines, &mut out[row * ldo + col..], ldo, cols, &ahead[..share.min(ahead.len())]);
            row += rows;
        }
    }
}

/// Many rows: each tile (in L1) passes over every panel of a group of
/// [`NC`] columns (in L2), so that a tile's rows are read once per group,
/// not once per panel, and the group once per tile from L2.
#[inline(always)]
fn group_panels<'a>(rows: impl Iterator<Item = (&'a RowPiece, usize)> + Clone, b: &Packed, k0: usize, kc: usize, out: &mut [f32], ldo: usize) {
    let panels = b.n.div_ceil(NR);
    for first in (0..panels).step_by(NC / NR) {
        let mut row = 0;
        for (a, rows) in rows.clone() {
            for panel in first..panels.min(first + NC / NR) {
                let lines = &b.lines[panel * b.k + k0..][..kc];
                let col = panel * NR;
                tile(rows, a, lines, &mut out[row * ldo + col..], ldo, NR.min(b.n - col), &[]);
            }
            row += rows;
        }
    }
}

/// Blocks of at most this many tiles run [`stream_panels`].
const STREAM_TILES: usize = 12;
/// Indices per run in [`RowPiece`].
const RUN: usize = 4;
const _: () = assert!(KC.is_multiple_of(RUN), "a piece is whole runs");

/// `rows` (at most [`MR`]) × 16 columns over one piece of the shared
/// dimension (as long as `lines`), added into `out`; `a` holds the rows
/// ([`RowPiece`]). Also prefetches the `ahead` lines, spread over the
/// piece (into L2 where the CPU tells the levels apart: the next panel
/// and the one being read would not both fit in L1).
#[inline(always)]
fn tile(rows: usize, a: &RowPiece, lines: &[Line], out: &mut [f32], ldo: usize, cols: usize, ahead: &[Line]) {
    match rows {
        1 => tile_rows::<1>(a, lines, out, ldo, cols, ahead),
        2 => tile_rows::<2>(a, lines, out, ldo, cols, ahead),
        3 => tile_rows::<3>(a, lines, out, ldo, cols, ahead),
        4 => tile_rows::<4>(a, lines, out, ldo, cols, ahead),
        5 => tile_rows::<5>(a, lines, out, ldo, cols, ahead),
        _ => tile_rows::<MR>(a, lines, out, ldo, cols, ahead),
    }
}

#[inline(always)]
fn tile_rows<const R: usize>(a: &RowPiece, lines: &[Line], out: &mut [f32], ldo: usize, cols: usize, ahead: &[Line]) {
    #[cfg(target_arch = "x86_64")]
    if let Some(simd) = pulp::x86::V3::try_new() {
        return tile_avx2::<R>(simd, a, lines, out, ldo, cols, ahead);
    }
    let _ = ahead;
    tile_portable::<R>(a, lines, out, ldo, cols);
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn tile_avx2<const R: usize>(simd: pulp::x86::V3, a: &RowPiece, lines: &[Line], out: &mut [f32], ldo: usize, cols: usize, ahead: &[Line]) {
    let zero = simd.splat_f32x8(0.0);
    let mut acc: [[pulp::f32x8; 2]; R] = [[zero; 2]; R];
    let (runs, rest) = lines.as_chunks::<RUN>();
    // The prefetches go with the first runs, a few per run; the other runs
    // loop without them.
    let per = ahead.len().div_ceil(runs.len().max(1)).max(1);
    let prefetching = ahead.len().div_ceil(per).min(runs.len());
    for ((a, run), ahead) in a.iter().zip(&runs[..prefetching]).zip(ahead.chunks(per)) {
        for line in ahead {
            // A prefetch retires at once, unlike a load, so many can be in
            // flight while the tile computes.
            simd.sse._mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T1 }>(std::ptr::from_ref(line).cast());
        }
        for (i, line) in run.iter().enumerate() {
            fma_line::<R>(simd, &mut acc, a, i, line);
        }
    }
    for (a, run) in a[prefetching..].iter().zip(&runs[prefetching..]) {
        for (i, line) in run.iter().enumerate() {
            fma_line::<R>(simd, &mut acc, a, i, line);
        }
    }
    if let Some(a) = a.get(runs.len()) {
        for (i, line) in rest.iter().enumerate() {
            fma_line::<R>(simd, &mut acc, a, i, line);
        }
    }
    for (r, acc) in acc.into_iter().enumerate() {
        let sums: [f32; NR] = pulp::cast(acc);
        out[r * ldo..r * ldo + cols].iter_mut().zip(sums).for_each(|(o, s)| *o += s);
    }
}

/// One index of the shared dimension: `acc[r] += a[r] · line`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn fma_line<const R: usize>(simd: pulp::x86::V3, acc: &mut [[pulp::f32x8; 2]; R], a: &[[f32; RUN]; MR], i: usize, line: &Line) {
    let [b0, b1]: [pulp::f32x8; 2] = pulp::cast(line.0);
    for r in 0..R {
        let a = simd.splat_f32x8(a[r][i]);
        acc[r][0] = simd.mul_add_f32x8(a, b0, acc[r][0]);
        acc[r][1] = simd.mul_add_f32x8(a, b1, acc[r][1]);
    }
}

#[inline(always)]
fn tile_portable<const R: usize>(a: &RowPiece, lines: &[Line], out: &mut [f32], ldo: usize, cols: usize) {
    let mut acc = [[0f32; NR]; R];
    for (p, line) in lines.iter().enumerate() {
        for r in 0..R {
            let a = a[p / RUN][r][p % RUN];
            acc[r].iter_mut().zip(&line.0).for_each(|(c, b)| *c += a * b);
        }
    }
    for (r, sums) in acc.into_iter().enumerate() {
        out[r * ldo..r * ldo + cols].iter_mut().zip(sums).for_each(|(o, s)| *o += s);
    }
}

const LOG2E: f32 = std::f32::consts::LOG2_E;
const LN2_HI: f32 = 0.693_145_75;
const LN2_LO: f32 = 1.428_606_8e-6;
/// 1.5 · 2^23: adding it rounds a float of magnitude below 2^22 to an
/// integer, which then sits in the low bits of the sum.
const MAGIC: f32 = 12_582_912.0;

/// e^x with a relative error below 2e-7 for x in [-87, 88]; tiny below.
#[inline(always)]
fn exp<const FMA: bool>(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    // n = round(x / ln 2), through the float mantissa: adding 1.5 · 2^23
    // leaves n in the low bits of `shifted`. (f32::round and `as i32`
    // would not vectorise: the conversion stayed one scalar instruction
    // per value.)
    let shifted = madd::<FMA>(x, LOG2E, MAGIC);
    let n = shifted - MAGIC;
    let r = madd::<FMA>(-n, LN2_LO, madd::<FMA>(-n, LN2_HI, x));
    // Horner's rule: with fused steps the chain is half as long, and the
    // passes built on it were bound by its latency.
    let p = [1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0].into_iter().fold(1.0 / 5040.0, |p, c| madd::<FMA>(p, r, c));
    // 2^n: the exponent field n + 127, from the same bits.
    p * f32::from_bits(shifted.to_bits().wrapping_sub(MAGIC.to_bits() - 127) << 23)
}

/// erf(x), Abramowitz and Stegun 7.1.26: absolute error 1.5e-7 in exact
/// arithmetic, below 1e-6 in f32.
#[inline(always)]
fn erf<const FMA: bool>(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / madd::<FMA>(0.327_591_1, a, 1.0);
    let poly = t * [-1.453_152_1, 1.421_413_7, -0.284_496_74, 0.254_829_6].into_iter().fold(1.061_405_4, |p, c| madd::<FMA>(p, t, c));
    madd::<FMA>(-poly, exp::<FMA>(-a * a), 1.0).copysign(x)
}

/// Sum with eight partial sums, so that it vectorises.
#[inline(always)]
fn sum8(xs: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut acc = [0f32; 8];
    let chunks = xs.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().map(|v| f(*v)).sum();
    for c in chunks {
        for i in 0..8 {
            acc[i] += f(c[i]);
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Maximum with eight partial maxima, so that it vectorises (a plain
/// `fold(f32::max)` is a chain of scalar dependent steps).
#[inline(always)]
fn max8(xs: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; 8];
    let chunks = xs.chunks_exact(8);
    let tail = chunks.remainder().iter().copied().fold(f32::NEG_INFINITY, f32::max);
    for c in chunks {
        for i in 0..8 {
            acc[i] = if c[i] > acc[i] { c[i] } else { acc[i] };
        }
    }
    acc.into_iter().fold(tail, f32::max)
}

/// softmax(row · scale) in place (`scale` > 0).
#[inline(always)]
fn softmax_slice<const FMA: bool>(row: &mut [f32], scale: f32) {
    let max = max8(row) * scale;
    row.iter_mut().for_each(|v| *v = exp::<FMA>(madd::<FMA>(*v, scale, -max)));
    let inv = 1.0 / sum8(row, |v| v);
    row.iter_mut().for_each(|v| *v *= inv);
}

/// `x = norm(x + residual) · gamma + beta` for one row.
#[inline(always)]
fn layer_norm_slice(x: &mut [f32], residual: Option<&[f32]>, gamma: &[f32], beta: &[f32], eps: f32) {
    if let Some(res) = residual {
        x.iter_mut().zip(res).for_each(|(a, b)| *a += b);
    }
    let n = x.len() as f32;
    let mean = sum8(x, |v| v) / n;
    let var = sum8(x, |v| (v - mean) * (v - mean)) / n;
    let inv = 1.0 / (var + eps).sqrt();
    for ((v, g), b) in x.iter_mut().zip(gamma).zip(beta) {
        *v = (*v - mean) * inv * g + b;
    }
}

/// Work below this many values runs on the calling thread.
const PARALLEL_MIN: usize = 1 << 14;

struct Gelu<'a>(&'a mut [f32]);

impl Pass for Gelu<'_> {
    type Output = ();

    #[inline(always)]
    fn run<const FMA: bool>(self) {
        for x in self.0 {
            let half = 0.5 * *x;
            *x = madd::<FMA>(half, erf::<FMA>(*x * std::f32::consts::FRAC_1_SQRT_2), half);
        }
    }
}

/// GELU (exact, erf form) over `xs`.
pub(crate) fn gelu(xs: &mut [f32], threads: usize) {
    if threads > 1 && xs.len() >= PARALLEL_MIN {
        xs.par_chunks_mut(1 << 13).for_each(|xs| dispatch(Gelu(xs)));
    } else {
        dispatch(Gelu(xs));
    }
}

struct SoftmaxRows<'a> {
    scores: &'a mut [f32],
    stride: usize,
    len: usize,
    scale: f32,
}

impl Pass for SoftmaxRows<'_> {
    type Output = ();

    #[inline(always)]
    fn run<const FMA: bool>(self) {
        for row in self.scores.chunks_mut(self.stride) {
            softmax_slice::<FMA>(&mut row[..self.len], self.scale);
        }
    }
}

/// softmax(row · scale) over the first `len` values of every `stride`-long
/// row of `scores`.
pub(crate) fn softmax_rows(scores: &mut [f32], stride: usize, len: usize, scale: f32) {
    dispatch(SoftmaxRows { scores, stride, len, scale });
}

struct LayerNormRows<'a> {
    x: &'a mut [f32],
    residual: Option<&'a [f32]>,
    gamma: &'a [f32],
    beta: &'a [f32],
    eps: f32,
}

impl Pass for LayerNormRows<'_> {
    type Output = ();

    #[inline(always)]
    fn run<const FMA: bool>(self) {
        let width = self.gamma.len();
        for (n, row) in self.x.chunks_exact_mut(width).enumerate() {
            layer_norm_slice(row, self.residual.map(|r| &r[n * width..(n + 1) * width]), self.gamma, self.beta, self.eps);
        }
    }
}

/// Layer norm of every row of `x` (rows as long as `gamma`), after adding
/// the same row of `residual` if given.
pub(crate) fn layer_norm_rows(x: &mut [f32], residual: Option<&[f32]>, gamma: &[f32], beta: &[f32], eps: f32, threads: usize) {
    let width = gamma.len();
    let rows_per_job = (PARALLEL_MIN / 2 / width.max(1)).max(1);
    if threads > 1 && x.len() >= PARALLEL_MIN {
        x.par_chunks_mut(rows_per_job * width).enumerate().for_each(|(job, x)| {
            let residual = residual.map(|r| &r[job * rows_per_job * width..]);
            dispatch(LayerNormRows { x, residual, gamma, beta, eps });
        });
    } else {
        dispatch(LayerNormRows { x, residual, gamma, beta, eps });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator, for test matrices.
    fn values(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(2_654_435_761).max(1);
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s % 2001) as f32 / 1000.0 - 1.0
            })
            .collect()
    }

    /// The product in f64, the plain way.
    fn reference(x: &[f32], w: &[f32], m: usize, k: usize, n: usize) -> Vec<f64> {
        let mut out = vec![0f64; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k).map(|p| f64::from(x[i * k + p]) * f64::from(w[j * k + p])).sum();
            }
        }
        out
    }

    #[test]
    fn matmul_matches_the_plain_product_for_every_edge_shape() {
        // Rows around the tile and block sizes, shared dimensions around
        // the piece size, columns off the panel width.
        for &(m, k, n) in &[(1, 1, 1), (5, 3, 17), (7, 32, 16), (19, 384, 40), (24, 800, 50), (72, 385, 64), (96, 257, 33), (97, 512, 16), (200, 300, 31)] {
            let (x, w) = (values(m * k, 1 + m as u32), values(n * k, 7 + n as u32));
            let packed = Packed::from_columns(k, n, &w);
            assert_eq!((packed.rows(), packed.cols()), (k, n));
            let want = reference(&x, &w, m, k, n);
            for threads in [1, 2] {
                // Start from a non-zero output: the product is added.
                let mut out = vec![0.5f32; m * n];
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                pool.install(|| matmul(&x, k, m, &packed, &mut out, n, threads));
                for (i, (got, want)) in out.iter().zip(&want).enumerate() {
                    let err = (f64::from(*got) - 0.5 - want).abs();
                    assert!(err < 1e-4 * (k as f64).sqrt(), "{m}x{k}x{n}, {threads} threads: element {i} is {got}, want {}", want + 0.5);
                }
            }
        }
    }

    /// The portable tile (what runs without AVX2, e.g. on Apple silicon)
    /// gives the vector tile's sums.
    #[test]
    fn portable_and_vector_tiles_agree() {
        let (kc, ldx) = (37, 40);
        let x = values(5 * ldx, 11);
        let mut a: RowPiece = [[[f32::NAN; RUN]; MR]; KC / RUN];
        for r in 0..5 {
            for p in 0..kc {
                a[p / RUN][r][p % RUN] = x[r * ldx + p];
            }
        }
        let lines: Vec<Line> = values(NR * kc, 12).chunks_exact(NR).map(|c| Line(c.try_into().unwrap())).collect();
        let mut portable = vec![1.0f32; 5 * NR];
        tile_portable::<5>(&a, &lines, &mut portable, NR, NR);
        for r in 0..5 {
            for c in 0..NR {
                let want: f32 = 1.0 + (0..kc).map(|p| x[r * ldx + p] * lines[p].0[c]).sum::<f32>();
                assert!((portable[r * NR + c] - want).abs() < 1e-4, "row {r} column {c}");
            }
        }
        #[cfg(target_arch = "x86_64")]
        if let Some(simd) = pulp::x86::V3::try_new() {
            let mut vector = vec![1.0f32; 5 * NR];
            simd.vectorize(|| tile_avx2::<5>(simd, &a, &lines, &mut vector, NR, NR, &[]));
            for (p, v) in portable.iter().zip(&vector) {
                assert!((p - v).abs() < 1e-4, "{p} vs {v}");
            }
        }
    }

    /// A row's products have the same bits whichever order computes them:
    /// alone (few rows: streamed) or among many (grouped), at any thread
    /// count. The embedder relies on it (batching does not change a vector).
    #[test]
    fn a_rows_product_does_not_depend_on_the_other_rows() {
        for &(k, n) in &[(384, 1152), (1536, 40), (37, 70)] {
            let m = 130;
            let (x, w) = (values(m * k, 21), values(n * k, 22));
            let packed = Packed::from_columns(k, n, &w);
            // At 1 thread the first 96 rows run grouped and the other 34
            // streamed; at 2 threads, blocks of 65 rows run streamed.
            for threads in [1, 2] {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                let mut all = vec![0f32; m * n];
                pool.install(|| matmul(&x, k, m, &packed, &mut all, n, threads));
                for (first, count) in [(0, 1), (3, 5), (17, 19), (60, 48), (100, 30)] {
                    let mut some = vec![0f32; count * n];
                    matmul(&x[first * k..], k, count, &packed, &mut some, n, 1);
                    let same = some.iter().zip(&all[first * n..]).all(|(a, b)| a.to_bits() == b.to_bits());
                    assert!(same, "{k}x{n}, {threads} threads: rows {first}..{} alone differ from the same rows among {m}", first + count);
                }
            }
        }
    }

    #[test]
    fn matmul_reads_and_writes_only_its_strided_rows() {
        // Rows of 10 values of which the product reads 4, into rows of 9 of
        // which it writes 5: the rest must stay untouched.
        let (m, k, n, ldx, ldo) = (8, 4, 5, 10, 9);
        let x = values(m * ldx, 3);
        let w = values(n * k, 4);
        let packed = Packed::from_columns(k, n, &w);
        let mut out = vec![f32::NAN; m * ldo];
        for row in out.chunks_mut(ldo) {
            row[..n].fill(0.0);
        }
        matmul(&x, ldx, m, &packed, &mut out, ldo, 1);
        for i in 0..m {
            for j in 0..ldo {
                let got = out[i * ldo + j];
                if j < n {
                    let want: f32 = (0..k).map(|p| x[i * ldx + p] * w[j * k + p]).sum();
                    assert!((got - want).abs() < 1e-5, "row {i} column {j}: {got} vs {want}");
                } else {
                    assert!(got.is_nan(), "row {i} column {j} beyond the product was written");
                }
            }
        }
    }

    #[test]
    fn exp_and_erf_are_accurate() {
        let mut worst_exp = 0f64;
        let mut worst_erf = 0f64;
        // Both forms: fused steps (what runs with FMA) and separate ones.
        for (e, f) in [(exp::<true> as fn(f32) -> f32, erf::<true> as fn(f32) -> f32), (exp::<false>, erf::<false>)] {
            for i in -20_000..=20_000 {
                let x = i as f32 / 1000.0;
                let got = f64::from(e(x));
                worst_exp = worst_exp.max(((got - f64::from(x).exp()) / f64::from(x).exp()).abs());
                worst_erf = worst_erf.max((f64::from(f(x)) - erf_series(f64::from(x))).abs());
            }
            assert!((0.0..1e-37).contains(&e(-200.0)), "far below the range it is tiny, not garbage");
        }
        assert!(worst_exp < 2e-7, "exp relative error {worst_exp}");
        assert!(worst_erf < 1e-6, "erf absolute error {worst_erf}");
    }

    /// erf by its Taylor series in f64 (Abramowitz and Stegun 7.1.5), which
    /// converges for |x| ≤ 3.5; beyond, erf is ±1 to within 1e-6.
    fn erf_series(x: f64) -> f64 {
        if x.abs() > 3.5 {
            return x.signum();
        }
        let (mut sum, mut term, mut n) = (0.0, x, 0.0);
        while term.abs() > 1e-17 {
            sum += term / (2.0 * n + 1.0);
            n += 1.0;
            term *= -x * x / n;
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    }

    #[test]
    fn gelu_softmax_and_layer_norm_match_their_definitions() {
        let mut xs: Vec<f32> = (-40..40).map(|i| i as f32 / 8.0).collect();
        let inputs = xs.clone();
        gelu(&mut xs, 1);
        for (got, x) in xs.iter().zip(inputs) {
            let want = 0.5 * f64::from(x) * (1.0 + erf_series(f64::from(x) / std::f64::consts::SQRT_2));
            assert!((f64::from(*got) - want).abs() < 1e-5, "gelu({x}) = {got}, want {want}");
        }

        // Two rows of stride 6, softmax over the first 4 with scale 0.5;
        // the padding after them is left alone.
        let mut rows = vec![1.0f32, 2.0, 3.0, -1.0, 9.0, 9.0, 0.0, 0.0, 0.0, 0.0, 9.0, 9.0];
        softmax_rows(&mut rows, 6, 4, 0.5);
        let z: f64 = [1.0f64, 2.0, 3.0, -1.0].iter().map(|v| (v * 0.5).exp()).sum();
        for (got, v) in rows.iter().zip([1.0f64, 2.0, 3.0, -1.0]) {
            assert!((f64::from(*got) - (v * 0.5).exp() / z).abs() < 1e-6);
        }
        assert_eq!(&rows[4..6], &[9.0, 9.0]);
        assert!(rows[6..10].iter().all(|p| (p - 0.25).abs() < 1e-6), "equal scores share equally: {:?}", &rows[6..10]);

        let mut x: Vec<f32> = (0..13).map(|i| i as f32 * 0.5).collect();
        let res = vec![1.0f32; 13];
        layer_norm_rows(&mut x, Some(&res), &[2.0; 13], &[0.5; 13], 1e-12, 1);
        let mean: f32 = x.iter().sum::<f32>() / 13.0;
        assert!((mean - 0.5).abs() < 1e-5, "mean after affine is beta: {mean}");
        let var: f32 = x.iter().map(|v| (v - 0.5) * (v - 0.5)).sum::<f32>() / 13.0;
        assert!((var - 4.0).abs() < 1e-4, "variance after affine is gamma²: {var}");
    }
}
