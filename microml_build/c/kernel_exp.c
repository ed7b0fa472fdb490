/* microml_kernel_exp(d, scale, shift) = exp(-c d) for a distance d >= 0 and c = scale 2^(shift - 31) (scale in
 * [2^31, 2^32)): the RBF kernel's exp(-gamma |x - sv|^2) with c = gamma log2(e) folded into one 32-bit constant, so
 * no float multiply precedes it. Integer arithmetic on the float's bits only: on an FPU-less chip a soft-float
 * operation costs 70-150 cycles and a polynomial exp a dozen of them; the planner picks this helper where the exp
 * weighs most (few features per support vector) and microml_exp_neg, a third of its flash, elsewhere. Every target
 * runs the same integer steps and gets the same bits. Measured on the ATmega328P: ~1,300 cycles a call against
 * ~2,540 for microml_exp_neg plus the multiply by gamma; ~820 B of code and a 128 B table.
 *
 * exp(-c d) = 2^-y with y = c d:
 * - y at 2^24 from d's 24-bit mantissa m: m * scale (56 bits, four 16 x 16-bit products, the low 24 bits dropped
 *   exactly, the rest floored) shifted right by 157 - (d's exponent + shift). y >= 128 gives 0, y < 2^-24 gives 1.
 * - y = n + i/32 + g: 2^(-i/32) from a 32-entry table at 2^31; 2^-g = e^-a, a = g ln 2 < 0.0217, from
 *   1 - a + a^2/2 - a^3/6 (truncation below 9.2e-9) in 32-bit fixed point; their product at 2^30, rounded to a
 *   24-bit mantissa, and n into the exponent field. Below FLT_MIN (y > 126) it returns 0, never a subnormal.
 * Error against exp() in double over every float32 d in [0, 126 / c] (checked exhaustively for c = log2(e), i.e.
 * exp(-d)): at most 1.08e-7 relative plus the rounding of c to 32 bits (2^-32 relative, times y), and the result
 * never increases as d grows. NaN and +inf give 0. Under -ffast-math it calls expf(), as the rest of such a build
 * trusts the library.
 */
/* 2^(-i/32) at 2^31, i = 0 .. 31: round(2^(31 - i/32)). */
static const uint32_t microml_exp2_table[32] MICROML_FLASH = {
    0x80000000UL,  /* 2^(-0/32) */
    0x7D41D96EUL,  /* 2^(-1/32) */
    0x7A92BE8BUL,  /* 2^(-2/32) */
    0x77F25CCEUL,  /* 2^(-3/32) */
    0x75606374UL,  /* 2^(-4/32) */
    0x72DC8374UL,  /* 2^(-5/32) */
    0x70666F76UL,  /* 2^(-6/32) */
    0x6DFDDBCCUL,  /* 2^(-7/32) */
    0x6BA27E65UL,  /* 2^(-8/32) */
    0x69540EC9UL,  /* 2^(-9/32) */
    0x6712460BUL,  /* 2^(-10/32) */
    0x64DCDEC3UL,  /* 2^(-11/32) */
    0x62B39509UL,  /* 2^(-12/32) */
    0x60962665UL,  /* 2^(-13/32) */
    0x5E8451D0UL,  /* 2^(-14/32) */
    0x5C7DD7A4UL,  /* 2^(-15/32) */
    0x5A82799AUL,  /* 2^(-16/32) */
    0x5891FAC1UL,  /* 2^(-17/32) */
    0x56AC1F75UL,  /* 2^(-18/32) */
    0x54D0AD5AUL,  /* 2^(-19/32) */
    0x52FF6B55UL,  /* 2^(-20/32) */
    0x51382182UL,  /* 2^(-21/32) */
    0x4F7A9930UL,  /* 2^(-22/32) */
    0x4DC69CDDUL,  /* 2^(-23/32) */
    0x4C1BF829UL,  /* 2^(-24/32) */
    0x4A7A77D4UL,  /* 2^(-25/32) */
    0x48E1E9BAUL,  /* 2^(-26/32) */
    0x47521CC6UL,  /* 2^(-27/32) */
    0x45CAE0F2UL,  /* 2^(-28/32) */
    0x444C0740UL,  /* 2^(-29/32) */
    0x42D561B4UL,  /* 2^(-30/32) */
    0x4166C34CUL,  /* 2^(-31/32) */
};

static inline float microml_kernel_exp(float d, uint32_t scale, int8_t shift) {
#ifdef __FAST_MATH__
    return expf(-(float)scale * ldexpf(1.0f, shift - 31) * d * 0.693147181f);
#else
    uint32_t bits, y, a, p, r;
    uint16_t ml, gl, b, sq, th, tl, ph, pl, sh, sl;
    uint8_t mh, gh, e;
    int16_t k, exponent;
    memcpy(&bits, &d, sizeof bits);
    mh = (uint8_t)(bits >> 16);                            /* bytes, not 32-bit shifts: a shift is a loop on AVR */
    e = (uint8_t)((uint8_t)((uint8_t)(bits >> 24) << 1) | (uint8_t)(mh >> 7));   /* the biased exponent */
    if (e == 0) {                                          /* d = 0 (or subnormal): exp(-c d) rounds to 1 */
        return 1.0f;
    }
    k = (int16_t)(133 - (int16_t)e - shift);               /* y at 2^24 = (m scale >> 24) >> k */
    if (k < 0) {                                           /* y >= 128 (also d = inf or NaN): below FLT_MIN */
        return 0.0f;
    }
    if (k > 31) {                                          /* y < 2^-24: exp(-y) rounds to 1 */
        return 1.0f;
    }
    mh = (uint8_t)(mh | 0x80u);                            /* the 24-bit mantissa m = mh 2^16 + ml */
    ml = (uint16_t)bits;
    sh = (uint16_t)(scale >> 16);
    sl = (uint16_t)scale;
    y = ((uint32_t)mh * sl + (uint32_t)ml * sh + (uint16_t)(((uint32_t)ml * sl) >> 16)) >> 8;
    y += ((uint32_t)mh * sh) << 8;                         /* m scale >> 24, exact but for the final floor */
    if (k & 16) {                                          /* bytes first */
        y >>= 16;
    }
    if (k & 8) {
        y >>= 8;
    }
    y >>= (k & 7);
    /* a = g ln 2 at 2^29 for the 19 bits g of y below 2^-5: g * round(ln 2 2^21) >> 16, 22 2^16 + 11843 */
    gh = (uint8_t)((uint8_t)(y >> 16) & 7u);
    gl = (uint16_t)y;
    a = ((uint32_t)(uint16_t)(gh * 22u) << 16) + (uint32_t)gh * 11843u + (uint32_t)gl * 22u
        + (uint16_t)(((uint32_t)gl * 11843u) >> 16);
    b = (uint16_t)(a >> 8);                                /* a at 2^21, < 2^16 */
    r = (uint32_t)b * b;                                   /* a^2 at 2^42 */
    sq = (uint16_t)(r >> 16);                              /* a^2 at 2^26 */
    /* e^-a = 1 - a + a^2 / 2 - a^3 / 6 at 2^31; a^3 / 6 = (a^2 2^26) (a 2^21) >> 16 at 2^31, * 2^16 / 6 >> 16 */
    p = (uint32_t)0x80000000UL - (a << 2) + ((uint32_t)sq << 4)
        - (uint16_t)(((uint32_t)(uint16_t)(((uint32_t)sq * b) >> 16) * 10923u) >> 16);
    r = MICROML_READ_U32(&microml_exp2_table[(uint8_t)(y >> 16) >> 3 & 31u]);   /* 2^(-i/32), i: y's bits 19-23 */
    th = (uint16_t)(r >> 16);                              /* r p >> 32 from 16-bit halves: the value at 2^30 */
    tl = (uint16_t)r;
    ph = (uint16_t)(p >> 16);
    pl = (uint16_t)p;
    r = (uint32_t)th * ph + (((uint32_t)th * pl + (uint32_t)tl * ph) >> 16);   /* tl pl adds < 1 at 2^30 */
    exponent = (int16_t)(126 - (uint8_t)(y >> 24));       /* r / 2^30 in (0.489, 1], times 2^-n */
    if (r < 0x20000000UL) {
        r <<= 1;
        exponent--;
    }
    r = (r + 0x20u) >> 6;                                  /* the 24-bit mantissa, rounded half up */
    if (r >> 24) {
        r >>= 1;
        exponent++;
    }
    if (exponent <= 0) {                                   /* below FLT_MIN */
        return 0.0f;
    }
    bits = ((uint32_t)exponent << 23) | (r & 0x7FFFFFUL);
    memcpy(&d, &bits, sizeof d);
    return d;
#endif
}
