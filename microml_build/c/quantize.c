/* round(x * 2^e) - offset, rounded half away from zero and saturated to +-32767; NaN gives -32768.
 * Integer operations on the float's bits only, no floating point: a soft-float multiply and
 * conversion would cost the FPU-less chip several times as much. x = m * 2^(ex - 150) with the
 * 24-bit mantissa m, so x * 2^e is m shifted right by s = 150 - ex - e (left when s < 0). Every
 * |x * 2^e| >= 2^30 saturates; the build keeps |offset| <= 2^29, so nothing here overflows.
 */
static inline int16_t microml_quantize(float x, int8_t e, int32_t offset) {
    union {
        float f;
        uint32_t u;
    } bits;
    uint32_t m;
    int32_t r;
    int16_t s;
    uint8_t negative;
    bits.f = x;
    negative = (uint8_t)(bits.u >> 24) & 0x80;
    /* the exponent field ex, from the float's top two bytes */
    s = (int16_t)(uint8_t)(((uint8_t)(bits.u >> 24) << 1) | ((uint8_t)(bits.u >> 16) >> 7));
    if (s == 0xFF) {                     /* inf saturates, NaN is "missing" */
        if (bits.u & 0x7FFFFFUL) {
            return (int16_t)(-32767 - 1);
        }
        return negative ? -32767 : 32767;
    }
    if (s == 0) {                        /* zero and subnormals */
        r = 0;
    }
    else {
        s = (int16_t)(150 - s - e);
        if (s < -6) {                    /* m << 7 or more: |x * 2^e| >= 2^30 */
            return negative ? -32767 : 32767;
        }
        m = (bits.u & 0x7FFFFFUL) | 0x800000UL;   /* the 24-bit mantissa, its leading 1 restored */
        if (s > 25) {                    /* m >> 26 or more: |x * 2^e| < 1/4, rounds to 0 */
            m = 0;
        }
        else if (s <= 0) {
            m <<= (uint8_t)-s;
        }
        else {                           /* (m >> (s - 1) + 1) >> 1 rounds half up; bytes first */
            uint8_t k = (uint8_t)(s - 1);
            if (k & 16) {
                m >>= 16;
            }
            if (k & 8) {
                m >>= 8;
            }
            m >>= (k & 7);
            m = (m + 1) >> 1;
        }
        r = negative ? -(int32_t)m : (int32_t)m;
    }
    r -= offset;
    return r > 32767 ? 32767 : (r < -32767 ? -32767 : (int16_t)r);   /* saturated to +-Q_MAX */
}
