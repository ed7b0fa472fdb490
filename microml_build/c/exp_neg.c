/* microml_exp_neg(x) = exp(x) for x <= 0: the RBF kernel's exp(-gamma * |x - sv|^2). Used instead of expf()
 * on every target, so every target computes the same bits (avr-libc's soft float included) and the host
 * verification runs the chip's arithmetic. Measured: on the ATmega328P it links ~320 B where avr-libc's exp
 * links ~760 B (exp, ldexp, modf, __fp_powser, __divsf3), at ~2,550 cycles a call against ~2,350; on a
 * Cortex-M4F 148 B against newlib's 668 B + 4 B of RAM; on a PC a few ns slower than glibc's expf, which
 * does not matter there.
 *
 * exp(x) = 2^k * exp(r), k = round(x / ln 2), r = x - k ln 2, |r| <= ln 2 / 2:
 * - k: adding 1.5 * 2^23 rounds x / ln 2 to an integer (round-to-nearest, the default mode) and leaves k
 *   in the low mantissa bits: no int <-> float conversion, a library call on AVR.
 * - r: ln 2 = 0.693145751953125 + 1.42860677e-6 (Cody & Waite): the first part has 15 significant bits, so
 *   k times it is exact (|k| <= 126), and so is x minus that (Sterbenz). One float ln 2 instead would lose
 *   up to 4e-6 of relative accuracy near x = -87.
 * - exp(r) ~= 1 + r + r^2 (c2 + c3 r + c4 r^2 + c5 r^3), 1 + r fixed so that exp(0) is exactly 1:
 *   minimax relative error 1.05e-7 on [-ln2/2, ln2/2] (Remez exchange in float64, coefficients rounded
 *   to float32; tests/e2e/test_svm_exp.py derives them again).
 * - 2^k: k << 23 added to the result's bits, i.e. k to its exponent field (on the high half: k << 7).
 * Error over every float32 x in [-87.33654, 0]: at most 1.81e-7 relative (2.25 ulp), 94.9% correctly
 * rounded, and never increasing as x grows more negative. Below -87.33654 (exp(x) < FLT_MIN) and for -inf
 * it returns 0, never a subnormal. NaN is outside its domain (scikit-learn's SVMs reject NaN inputs): the
 * quiet NaN 0x7FC00000 gives NaN, a NaN with the sign bit set 0, other payloads an arbitrary value.
 * Under -ffast-math, which may fold (t + 1.5 * 2^23) - 1.5 * 2^23 into t, it calls expf() instead.
 */
static inline float microml_exp_neg(float x) {
#ifdef __FAST_MATH__
    return expf(x);
#else
    float k, r, q;
    uint32_t bits;
    uint16_t exponent;
    memcpy(&bits, &x, sizeof bits);
    if (bits > 0xC2AEAC4Fu) {                          /* x < -87.33654f, tested on the bits */
        return 0.0f;
    }
    k = x * 1.44269504f + 12582912.0f;                 /* 1.5 * 2^23 + k */
    memcpy(&bits, &k, sizeof bits);
    exponent = (uint16_t)((uint16_t)bits << 7);       /* k << 7: k in place in the high half's exponent */
    k -= 12582912.0f;
    r = (x - k * 0.693145751953125f) - k * 1.42860677e-6f;
    q = ((0.008312525f * r + 0.041890115f) * r + 0.16667114f) * r + 0.4999923f;
    q = 1.0f + (r + r * r * q);
    memcpy(&bits, &q, sizeof bits);
    bits += (uint32_t)exponent << 16;                  /* times 2^k */
    memcpy(&q, &bits, sizeof q);
    return q;
#endif
}
