/*
 * Probe firmware: peak stack of one inference (painted), then the model's output on the
 * 2,001-point grid x_i = i * GRID_STEP, i = 0..2000, over [0, 2π]. Each grid line carries
 * the exact float bits of x and of the model's output (and on AVR the cycles of that one
 * call, Timer1 under simavr), so the host computes the error against sin(x) from what the
 * firmware itself computed. Runs under simavr (avr_harness) or qemu-system-arm (cm_harness).
 *
 * Output, one line each:   stack <bytes>
 *                          <x bits> <y bits> [<cycles>]     (2,001 lines)
 *                          end
 */
#include <stdint.h>
#include <string.h>
#include MODEL_HEADER

#ifdef __AVR__
#include "avr_harness.h"
#define PAINT() harness_stack_paint()
#define USED() harness_stack_used()
#else
#include "cm_harness.h"
#define PAINT() cm_stack_paint()
#define USED() cm_stack_used()
#endif

#ifndef GRID_POINTS                 /* the test suite builds a coarser grid */
#define GRID_POINTS 2001
#define GRID_STEP 0.0031415927f      /* 2π / 2000 rounded to float */
#endif

/* Not inlined: the painted stack is this call's frame plus whatever it calls (expf, the
 * soft-float library on AVR and Cortex-M3). */
static float __attribute__((noinline)) run_model(const float *x)
{
    return MODEL_PREDICT(x);
}

static uint32_t f32_bits(float value)
{
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    return bits;
}

#ifndef __AVR__
/* "<label> <count>\n" on the semihosting console. */
static void print_count(const char *label, uint32_t count)
{
    char line[32];
    char *end = line;
    char digits[12];
    int n = 0;
    while (*label)
        *end++ = *label++;
    *end++ = ' ';
    do {
        digits[n++] = (char)('0' + count % 10u);
        count /= 10u;
    } while (count);
    while (n)
        *end++ = digits[--n];
    *end++ = '\n';
    *end = '\0';
    cm_print(line);
}
#endif

int main(void)
{
    static const float probes[3] = {0.5f, 3.0f, 5.5f};
    volatile float sink;
    uint32_t stack = 0;
    float x;

#ifdef __AVR__
    harness_init();
#endif
    for (int k = 0; k < 3; k++) {    /* the deepest of three inputs (trees take different paths) */
        uint32_t used;
        x = probes[k];
        PAINT();
        sink = run_model(&x);
        used = USED();
        if (used > stack)
            stack = used;
    }
    (void)sink;

#ifdef __AVR__
    printf("stack %lu\n", (unsigned long)stack);
    for (uint16_t i = 0; i < GRID_POINTS; i++) {
        float y;
        uint32_t cycles;
        x = (float)i * GRID_STEP;
        harness_cycles_start();
        y = run_model(&x);
        cycles = harness_cycles_stop();
        printf("%08lx %08lx %lu\n", (unsigned long)f32_bits(x), (unsigned long)f32_bits(y),
               (unsigned long)cycles);
    }
    printf("end\n");
    harness_exit();
#else
    print_count("stack", stack);
    for (int i = 0; i < GRID_POINTS; i++) {
        char line[20];
        char *end;
        x = (float)i * GRID_STEP;
        end = cm_hex32(line, f32_bits(x));
        *end++ = ' ';
        end = cm_hex32(end, f32_bits(run_model(&x)));
        *end++ = '\n';
        *end = '\0';
        cm_print(line);
    }
    cm_print("end\n");
    cm_exit();
#endif
}
