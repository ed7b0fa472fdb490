/*
 * avr_harness.h - test and benchmark harness for ATmega328P firmware.
 *
 * Works the same on a real 16 MHz board and under simavr:
 *
 *   #include "avr_harness.h"
 *
 *   int main(void)
 *   {
 *       harness_init();                       // UART0 -> stdout, Timer1 calibrated
 *       printf("answer=%d\n", 42);            // one line per '\n'
 *
 *       harness_stack_paint();                // peak stack of one call ...
 *       model_predict(x);
 *       printf("stack=%u\n", harness_stack_used());
 *
 *       harness_cycles_start();               // ... and its cycle count
 *       model_predict(x);
 *       printf("cycles=%lu\n", (unsigned long)harness_cycles_stop());
 *
 *       harness_exit();                       // simavr quits here
 *   }
 *
 * Output: printf goes to UART0, 8N1, HARNESS_BAUD (default 1000000: exact at
 * 16 MHz, and fast in simavr, which slows down while firmware polls the
 * UART). simavr shows a line only when '\n' arrives, turns other control
 * characters (so also '\r') into '.', and splits lines longer than 255
 * characters: print short lines of printable ASCII ending in '\n'.
 *
 * Floats: avr-libc's default printf has no %f. Print the exact IEEE-754 bits
 * instead, printf("%08lx\n", (unsigned long)harness_f32_bits(y)), and decode
 * them on the host; no rounding, and no 1.5 KB float printf.
 *
 * Link avr_harness.c into the firmware and define F_CPU (microml's avr
 * target passes -DF_CPU=16000000UL). Valid C99 and C++11.
 */
#ifndef MICROML_AVR_HARNESS_H
#define MICROML_AVR_HARNESS_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <avr/io.h>

#ifndef HARNESS_BAUD
#define HARNESS_BAUD 1000000UL
#endif

/* Value painted over free RAM; any other value there was written by the stack. */
#define HARNESS_STACK_PATTERN 0xC5

#ifdef __cplusplus
extern "C" {
#endif

/* Set up UART0 as stdout, calibrate the cycle counter and enable interrupts. */
void harness_init(void);

/* Stop the program: sleep with interrupts off (the UART still finishes),
 * which ends a simavr run. Returning from main() ends up here too. */
void harness_exit(void) __attribute__((noreturn));

/* Count CPU cycles between start and stop with Timer1 (prescaler 1) plus an
 * overflow interrupt, so up to 2^32 cycles (268 s at 16 MHz). The cost of the
 * start/stop calls themselves is subtracted: an empty pair returns 0. Each
 * overflow interrupt (every 65536 cycles) adds its own ~40 cycles (0.06%).
 * Needs interrupts enabled; start enables them. */
void harness_cycles_start(void);
uint32_t harness_cycles_stop(void);

/* Exact bits of a float, for printing with "%08lx". */
static inline uint32_t harness_f32_bits(float x)
{
    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    return bits;
}

/*
 * Peak stack measurement by painting: harness_stack_paint() fills the free
 * RAM between the end of .bss/heap and the stack pointer with
 * HARNESS_STACK_PATTERN; after the call under test, harness_stack_used()
 * finds the deepest byte that changed and returns how many bytes below the
 * painting point were used, return address included.
 *
 * Both are always inlined so they measure from the caller's own stack
 * pointer: call paint, the function under test and used from one function,
 * with no other call in between. Interrupts that fire meanwhile count too,
 * so do not measure stack and cycles in the same call.
 */
extern uint8_t *harness_paint_bottom;
extern uint8_t *harness_paint_top;
extern char __heap_start;                    /* end of .bss, from the linker */
extern char *__brkval __attribute__((weak)); /* heap top; only if malloc is linked */

static inline __attribute__((always_inline)) void harness_stack_paint(void)
{
    uint8_t sreg = SREG;
    volatile uint8_t *p, *top;               /* volatile: must not become a memset() call */

    __asm__ __volatile__("cli" ::: "memory");
    p = (uint8_t *)((&__brkval != 0 && __brkval != 0) ? __brkval : &__heap_start);
    top = (uint8_t *)SP;                     /* SP points at the next free byte */
    harness_paint_bottom = (uint8_t *)p;
    harness_paint_top = (uint8_t *)top;
    while (p <= top)
        *p++ = HARNESS_STACK_PATTERN;
    SREG = sreg;
}

static inline __attribute__((always_inline)) uint16_t harness_stack_used(void)
{
    const volatile uint8_t *p = harness_paint_bottom;
    const uint8_t *top = harness_paint_top;

    while (p <= top && *p == HARNESS_STACK_PATTERN)
        p++;
    return (uint16_t)(top + 1 - p);
}

#ifdef __cplusplus
}
#endif

#endif /* MICROML_AVR_HARNESS_H */
