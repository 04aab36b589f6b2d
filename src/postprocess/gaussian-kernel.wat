;; Hot loops of the separable Gaussian blur (src/postprocess/gaussian.ts), in WebAssembly SIMD.
;;
;; Two float64 lanes: the sums run in float64 in exactly the order of the scalar code (centre tap,
;; then d = 1..r of k[d] * (a[d] + b[d])), so results are bit-identical to it and to
;; scipy.ndimage.gaussian_filter; each lane is an independent pixel. Four pixels per iteration
;; (two accumulators), then one pixel at a time for the remainder.
;; Compiled by scripts/build-wasm.ts into gaussian-kernel.wasm.ts (checked in; a test rebuilds it).
(module
  (memory (export "memory") 1)

  ;; Vertical pass of one output row, pixels x in [x0, x1).
  ;; $offs: 2r+1 int32 byte addresses of source row starts (float32): the centre row, then the rows
  ;; d = 1..r above, then d = 1..r below. $k: r+1 float64 taps, k[0] the centre. $dst: output row start.
  (func (export "vrow")
    (param $dst i32) (param $offs i32) (param $k i32) (param $r i32) (param $x0 i32) (param $x1 i32)
    (local $xb i32) (local $d i32) (local $a i32) (local $b i32) (local $kd v128)
    (local $acc0 v128) (local $acc1 v128) (local $s f64) (local $c i32)
    (local.set $c (i32.load (local.get $offs)))
    (local.set $xb (i32.shl (local.get $x0) (i32.const 2)))
    (block $quad_done
      (loop $quad
        (br_if $quad_done (i32.gt_s (i32.add (local.get $x0) (i32.const 4)) (local.get $x1)))
        (local.set $kd (f64x2.splat (f64.load (local.get $k))))
        (local.set $acc0 (f64x2.mul (local.get $kd)
          (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $c) (local.get $xb))))))
        (local.set $acc1 (f64x2.mul (local.get $kd)
          (f64x2.promote_low_f32x4 (v128.load64_zero offset=8 (i32.add (local.get $c) (local.get $xb))))))
        (local.set $d (i32.const 1))
        (block $taps_done
          (loop $taps
            (br_if $taps_done (i32.gt_s (local.get $d) (local.get $r)))
            (local.set $a (i32.add (local.get $xb)
              (i32.load (i32.add (local.get $offs) (i32.shl (local.get $d) (i32.const 2))))))
            (local.set $b (i32.add (local.get $xb)
              (i32.load (i32.add (local.get $offs) (i32.shl (i32.add (local.get $d) (local.get $r)) (i32.const 2))))))
            (local.set $kd (f64x2.splat
              (f64.load (i32.add (local.get $k) (i32.shl (local.get $d) (i32.const 3))))))
            (local.set $acc0 (f64x2.add (local.get $acc0) (f64x2.mul (local.get $kd)
              (f64x2.add
                (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $a)))
                (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $b)))))))
            (local.set $acc1 (f64x2.add (local.get $acc1) (f64x2.mul (local.get $kd)
              (f64x2.add
                (f64x2.promote_low_f32x4 (v128.load64_zero offset=8 (local.get $a)))
                (f64x2.promote_low_f32x4 (v128.load64_zero offset=8 (local.get $b)))))))
            (local.set $d (i32.add (local.get $d) (i32.const 1)))
            (br $taps)))
        (v128.store64_lane 0 (i32.add (local.get $dst) (local.get $xb))
          (f32x4.demote_f64x2_zero (local.get $acc0)))
        (v128.store64_lane offset=8 0 (i32.add (local.get $dst) (local.get $xb))
          (f32x4.demote_f64x2_zero (local.get $acc1)))
        (local.set $x0 (i32.add (local.get $x0) (i32.const 4)))
        (local.set $xb (i32.add (local.get $xb) (i32.const 16)))
        (br $quad)))
    (block $one_done
      (loop $one
        (br_if $one_done (i32.ge_s (local.get $x0) (local.get $x1)))
        (local.set $s (f64.mul (f64.load (local.get $k))
          (f64.promote_f32 (f32.load (i32.add (local.get $c) (local.get $xb))))))
        (local.set $d (i32.const 1))
        (block $taps_done
          (loop $taps
            (br_if $taps_done (i32.gt_s (local.get $d) (local.get $r)))
            (local.set $a (i32.add (local.get $xb)
              (i32.load (i32.add (local.get $offs) (i32.shl (local.get $d) (i32.const 2))))))
            (local.set $b (i32.add (local.get $xb)
              (i32.load (i32.add (local.get $offs) (i32.shl (i32.add (local.get $d) (local.get $r)) (i32.const 2))))))
            (local.set $s (f64.add (local.get $s) (f64.mul
              (f64.load (i32.add (local.get $k) (i32.shl (local.get $d) (i32.const 3))))
              (f64.add (f64.promote_f32 (f32.load (local.get $a))) (f64.promote_f32 (f32.load (local.get $b)))))))
            (local.set $d (i32.add (local.get $d) (i32.const 1)))
            (br $taps)))
        (f32.store (i32.add (local.get $dst) (local.get $xb)) (f32.demote_f64 (local.get $s)))
        (local.set $x0 (i32.add (local.get $x0) (i32.const 1)))
        (local.set $xb (i32.add (local.get $xb) (i32.const 4)))
        (br $one))))

  ;; Horizontal pass of one row, pixels x in [x0, x1). $line: float32 row with r reflected pixels on
  ;; each side (pixel x at index x + r); $k as above; $dst: output row start.
  (func (export "hrow")
    (param $dst i32) (param $line i32) (param $k i32) (param $r i32) (param $x0 i32) (param $x1 i32)
    (local $cb i32) (local $xb i32) (local $d i32) (local $db i32) (local $kd v128)
    (local $acc0 v128) (local $acc1 v128) (local $s f64)
    (local.set $xb (i32.shl (local.get $x0) (i32.const 2)))
    (block $quad_done
      (loop $quad
        (br_if $quad_done (i32.gt_s (i32.add (local.get $x0) (i32.const 4)) (local.get $x1)))
        ;; byte address of line[x + r]
        (local.set $cb (i32.add (local.get $line)
          (i32.shl (i32.add (local.get $x0) (local.get $r)) (i32.const 2))))
        (local.set $kd (f64x2.splat (f64.load (local.get $k))))
        (local.set $acc0 (f64x2.mul (local.get $kd)
          (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $cb)))))
        (local.set $acc1 (f64x2.mul (local.get $kd)
          (f64x2.promote_low_f32x4 (v128.load64_zero offset=8 (local.get $cb)))))
        (local.set $d (i32.const 1))
        (block $taps_done
          (loop $taps
            (br_if $taps_done (i32.gt_s (local.get $d) (local.get $r)))
            (local.set $db (i32.shl (local.get $d) (i32.const 2)))
            (local.set $kd (f64x2.splat
              (f64.load (i32.add (local.get $k) (i32.shl (local.get $d) (i32.const 3))))))
            (local.set $acc0 (f64x2.add (local.get $acc0) (f64x2.mul (local.get $kd)
              (f64x2.add
                (f64x2.promote_low_f32x4 (v128.load64_zero (i32.sub (local.get $cb) (local.get $db))))
                (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $cb) (local.get $db))))))))
            (local.set $acc1 (f64x2.add (local.get $acc1) (f64x2.mul (local.get $kd)
              (f64x2.add
                (f64x2.promote_low_f32x4 (v128.load64_zero offset=8 (i32.sub (local.get $cb) (local.get $db))))
                (f64x2.promote_low_f32x4 (v128.load64_zero offset=8 (i32.add (local.get $cb) (local.get $db))))))))
            (local.set $d (i32.add (local.get $d) (i32.const 1)))
            (br $taps)))
        (v128.store64_lane 0 (i32.add (local.get $dst) (local.get $xb))
          (f32x4.demote_f64x2_zero (local.get $acc0)))
        (v128.store64_lane offset=8 0 (i32.add (local.get $dst) (local.get $xb))
          (f32x4.demote_f64x2_zero (local.get $acc1)))
        (local.set $x0 (i32.add (local.get $x0) (i32.const 4)))
        (local.set $xb (i32.add (local.get $xb) (i32.const 16)))
        (br $quad)))
    (block $one_done
      (loop $one
        (br_if $one_done (i32.ge_s (local.get $x0) (local.get $x1)))
        (local.set $cb (i32.add (local.get $line)
          (i32.shl (i32.add (local.get $x0) (local.get $r)) (i32.const 2))))
        (local.set $s (f64.mul (f64.load (local.get $k)) (f64.promote_f32 (f32.load (local.get $cb)))))
        (local.set $d (i32.const 1))
        (block $taps_done
          (loop $taps
            (br_if $taps_done (i32.gt_s (local.get $d) (local.get $r)))
            (local.set $db (i32.shl (local.get $d) (i32.const 2)))
            (local.set $s (f64.add (local.get $s) (f64.mul
              (f64.load (i32.add (local.get $k) (i32.shl (local.get $d) (i32.const 3))))
              (f64.add
                (f64.promote_f32 (f32.load (i32.sub (local.get $cb) (local.get $db))))
                (f64.promote_f32 (f32.load (i32.add (local.get $cb) (local.get $db))))))))
            (local.set $d (i32.add (local.get $d) (i32.const 1)))
            (br $taps)))
        (f32.store (i32.add (local.get $dst) (local.get $xb)) (f32.demote_f64 (local.get $s)))
        (local.set $x0 (i32.add (local.get $x0) (i32.const 1)))
        (local.set $xb (i32.add (local.get $xb) (i32.const 4)))
        (br $one))))
)
