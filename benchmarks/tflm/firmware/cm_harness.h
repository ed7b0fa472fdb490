/*
 * cm_harness.h - what avr_harness.h does for the ATmega328P, for Cortex-M firmware under
 * qemu-system-arm (machines mps2-an385 / mps2-an386, -semihosting-config enable=on):
 * text output and exit through Arm semihosting, and peak stack by painting.
 *
 * Semihosting: `bkpt 0xAB` with the operation in r0 and its argument in r1 (Arm's "Semihosting
 * for AArch32 and AArch64", SYS_WRITE0 = 0x04, SYS_EXIT = 0x18). On a chip without a debugger
 * attached the bkpt faults: this header is for the simulated runs only.
 *
 * Stack painting, as harness_stack_paint()/harness_stack_used() on AVR: cm_stack_paint() fills
 * the RAM between the end of .bss and the stack pointer with CM_STACK_PATTERN, and after the
 * call under test cm_stack_used() returns how many bytes below the painting point were written.
 * Both are always inlined: call paint, the function under test and used from one function.
 */
#ifndef CM_HARNESS_H
#define CM_HARNESS_H

#include <stdint.h>

#define CM_STACK_PATTERN 0xC5C5C5C5u

extern uint32_t _ebss;               /* end of .bss, from cortex_m.ld */
static uint32_t *cm_paint_bottom, *cm_paint_top;

static inline uint32_t cm_semihost(uint32_t op, const void *arg)
{
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

static inline void cm_print(const char *text)
{
    cm_semihost(0x04u, text);        /* SYS_WRITE0: a NUL-terminated string to the console */
}

static inline void __attribute__((noreturn)) cm_exit(void)
{
    /* SYS_EXIT, reason ADP_Stopped_ApplicationExit: qemu exits with status 0. */
    cm_semihost(0x18u, (const void *)(uintptr_t)0x20026u);
    for (;;) {
    }
}

/* Writes the 8 hex digits of `bits` at out[0..7]; returns out + 8. */
static inline char *cm_hex32(char *out, uint32_t bits)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = "0123456789abcdef"[bits & 0xFu];
        bits >>= 4;
    }
    return out + 8;
}

static inline __attribute__((always_inline)) void cm_stack_paint(void)
{
    uint32_t sp;
    volatile uint32_t *p = &_ebss;   /* volatile: must not become a memset() call */
    uint32_t *top;

    __asm__ volatile("mov %0, sp" : "=r"(sp));
    top = (uint32_t *)(sp & ~3u) - 1; /* the word the next push writes */
    cm_paint_bottom = (uint32_t *)p;
    cm_paint_top = top;
    while (p <= top)
        *p++ = CM_STACK_PATTERN;
}

static inline __attribute__((always_inline)) uint32_t cm_stack_used(void)
{
    const volatile uint32_t *p = cm_paint_bottom;

    while (p <= cm_paint_top && *p == CM_STACK_PATTERN)
        p++;
    return (uint32_t)((const uint8_t *)(cm_paint_top + 1) - (const volatile uint8_t *)p);
}

#endif /* CM_HARNESS_H */
